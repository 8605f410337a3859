//! Project members and their roles.

use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use steerco_entity::project_member;

use super::context::{caller, state};
use super::error::{payload, respond};
use super::id::{GlobalId, Kind, decode};
use super::idempotency::IdempotencyKeyArg;
use super::user::User;
use crate::domain::Refusals;
use crate::domain::role::ProjectRole as DomainRole;
use crate::service::{self, ServiceError};

/// A member's role on a project (DOMAIN §2.1). A member may hold several.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::role::ProjectRole")]
pub enum ProjectRole {
    /// Executive sponsor: accountable for the business outcome; approves initiation.
    Sponsor,
    /// Runs the project day to day; manages the plan and the members.
    ProjectManager,
    /// Votes on change requests, gates and go/no-go.
    SteeringCommittee,
    BusinessRep,
    ItRep,
    FinanceRep,
    /// Tester / quality assurance.
    Qa,
    SuperUser,
    Vendor,
    /// Reads everything, changes nothing.
    Viewer,
}

/// A user on a project, with their roles.
#[derive(Clone, Debug)]
pub struct ProjectMember(pub project_member::Model);

#[Object]
impl ProjectMember {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::ProjectMember, self.0.id)
    }
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(super::loader::user(ctx, self.0.user_id).await?.map(User))
    }
    async fn project_id(&self) -> GlobalId {
        GlobalId(Kind::Project, self.0.project_id)
    }
    async fn roles(&self) -> Vec<ProjectRole> {
        crate::domain::role::RoleSet::from_stored(&self.0.roles)
            .map(|roles| roles.iter().map(Into::into).collect())
            .unwrap_or_default()
    }
    /// Increases with every change; pass it as `expectedVersion` when editing.
    async fn version(&self) -> i64 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(InputObject)]
pub struct ProjectMemberAddInput {
    pub project_id: ID,
    pub user_id: ID,
    /// At least one role.
    pub roles: Vec<ProjectRole>,
}

payload!(ProjectMemberAddPayload {
    member: ProjectMember
});

#[derive(InputObject)]
pub struct ProjectMemberUpdateInput {
    pub id: ID,
    pub expected_version: i64,
    /// The member's new roles, replacing the old ones.
    pub roles: Vec<ProjectRole>,
}

payload!(ProjectMemberUpdatePayload {
    member: ProjectMember
});

#[derive(InputObject)]
pub struct ProjectMemberRemoveInput {
    pub id: ID,
}

payload!(ProjectMemberRemovePayload {
    member: ProjectMember
});

fn roles(input: &[ProjectRole]) -> Vec<DomainRole> {
    input.iter().map(|role| (*role).into()).collect()
}

#[derive(Default)]
pub struct MemberMutation;

#[Object]
impl MemberMutation {
    /// Adds a user to a project. PROJECT_MANAGER or admin.
    async fn project_member_add(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ProjectMemberAddInput,
    ) -> async_graphql::Result<ProjectMemberAddPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let project_id = decode(&input.project_id, Kind::Project, &["projectId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let user_id = decode(&input.user_id, Kind::User, &["userId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let result = match (project_id, user_id) {
            (Some(project_id), Some(user_id)) => {
                service::member::add(
                    state(ctx),
                    &caller,
                    project_id,
                    user_id,
                    &roles(&input.roles),
                )
                .await
            }
            _ => Err(ServiceError::Refused(
                refusals.finish().err().unwrap_or_default(),
            )),
        };
        respond(ctx, result.map(|change| ProjectMember(change.member)))
    }

    /// Replaces a member's roles. PROJECT_MANAGER or admin. A project keeps at least one
    /// PROJECT_MANAGER.
    async fn project_member_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ProjectMemberUpdateInput,
    ) -> async_graphql::Result<ProjectMemberUpdatePayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::ProjectMember, &["id"]) {
            Ok(id) => {
                service::member::update_roles(
                    state(ctx),
                    &caller,
                    id,
                    input.expected_version,
                    &roles(&input.roles),
                )
                .await
            }
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(|change| ProjectMember(change.member)))
    }

    /// Removes a member. PROJECT_MANAGER or admin. The last PROJECT_MANAGER cannot be removed.
    async fn project_member_remove(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ProjectMemberRemoveInput,
    ) -> async_graphql::Result<ProjectMemberRemovePayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::ProjectMember, &["id"]) {
            Ok(id) => service::member::remove(state(ctx), &caller, id).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(|change| ProjectMember(change.member)))
    }
}
