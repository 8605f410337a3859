//! Who the caller is on a project: loads membership and applies [`crate::domain::authz`].

use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QuerySelect,
    RelationTrait, SelectTwo,
};
use steerco_entity::{project, project_member};
use uuid::Uuid;

use super::{Actor, ServiceError, ServiceResult, backend_of, for_update};
use crate::domain::Refusal;
use crate::domain::authz::{ProjectOperation, Subject, permits};
use crate::domain::role::RoleSet;

/// The caller's roles on a project (empty when not a member).
pub async fn subject_on(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    project_id: Uuid,
) -> ServiceResult<Subject> {
    let membership = project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(project_id))
        .filter(project_member::Column::UserId.eq(actor.user_id))
        .one(conn)
        .await?;
    let roles = match membership {
        Some(member) => stored_roles(&member.roles)?,
        None => RoleSet::none(),
    };
    Ok(Subject {
        admin: actor.admin,
        roles,
    })
}

/// Parses a stored role list; a bad one is data corruption, not the caller's fault.
pub fn stored_roles(stored: &str) -> ServiceResult<RoleSet> {
    RoleSet::from_stored(stored).map_err(|e| ServiceError::Internal(format!("stored roles: {e}")))
}

/// Loads a project for a command and checks the caller may perform `operation` on it.
///
/// A project the caller may not see is reported exactly like one that does not exist. The row
/// is locked on PostgreSQL until the transaction ends.
pub async fn project_for(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    project_id: Uuid,
    field: &[&str],
    operation: ProjectOperation,
) -> ServiceResult<(project::Model, Subject)> {
    let select = for_update(project::Entity::find_by_id(project_id), backend_of(conn));
    let project = select.one(conn).await?;
    let subject = subject_on(conn, actor, project_id).await?;
    let Some(project) = project.filter(|_| subject.can_see_project()) else {
        return Err(Refusal::not_found(field, "project").into());
    };
    if !permits(&subject, operation) {
        return Err(ServiceError::Forbidden);
    }
    Ok((project, subject))
}

/// A project and who the caller is on it.
#[derive(Debug, Clone)]
pub struct Standing {
    pub project: project::Model,
    pub subject: Subject,
}

impl Standing {
    /// The project, when the caller may see it.
    pub fn visible(self) -> Option<project::Model> {
        self.subject.can_see_project().then_some(self.project)
    }
}

/// Projects joined with the caller's own membership row, so that a project and the right to
/// see it cost one statement.
fn with_membership_of(actor: &Actor) -> SelectTwo<project::Entity, project_member::Entity> {
    let user_id = actor.user_id;
    project::Entity::find()
        .join(
            JoinType::LeftJoin,
            project::Relation::ProjectMember
                .def()
                .on_condition(move |_, member| {
                    Expr::col((member, project_member::Column::UserId))
                        .eq(user_id)
                        .into_condition()
                }),
        )
        .select_also(project_member::Entity)
}

fn standing_of(
    actor: &Actor,
    (project, membership): (project::Model, Option<project_member::Model>),
) -> ServiceResult<Standing> {
    let roles = match membership {
        Some(member) => stored_roles(&member.roles)?,
        None => RoleSet::none(),
    };
    Ok(Standing {
        project,
        subject: Subject {
            admin: actor.admin,
            roles,
        },
    })
}

/// The caller's standing on each existing project among `ids` and `codes`, in one statement.
pub async fn standings(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    ids: &[Uuid],
    codes: &[String],
) -> ServiceResult<Vec<Standing>> {
    with_membership_of(actor)
        .filter(
            Condition::any()
                .add(project::Column::Id.is_in(ids.iter().copied()))
                .add(project::Column::Code.is_in(codes.iter().map(String::as_str))),
        )
        .all(conn)
        .await?
        .into_iter()
        .map(|row| standing_of(actor, row))
        .collect()
}

/// Loads a project for reading, or `None` when it does not exist or the caller may not see it.
pub async fn visible_project(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    project_id: Uuid,
) -> ServiceResult<Option<project::Model>> {
    Ok(standings(conn, actor, &[project_id], &[])
        .await?
        .into_iter()
        .next()
        .and_then(Standing::visible))
}
