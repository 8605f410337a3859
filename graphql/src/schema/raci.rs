//! The RACI matrix: activities, assignments, violations, and a person's assignments.

use std::sync::Arc;

use super::serial::{SerialList, SerialObject};
use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use steerco_entity::{raci_activity, raci_assignment, user};
use uuid::Uuid;

use super::context::{actor, caller, state};
use super::error::{payload, respond, to_top_level};
use super::id::{GlobalId, Kind, decode, encode};
use super::idempotency::IdempotencyKeyArg;
use super::user::User;
use crate::domain::raci::RaciLetter as DomainLetter;
use crate::domain::{Refusal, Refusals};
use crate::service::IdMap;
use crate::service::raci::ActivityRow;
use crate::service::{self, ServiceError};

/// Responsible, Accountable, Consulted or Informed.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::raci::RaciLetter")]
pub enum RaciLetter {
    /// Does the work.
    Responsible,
    /// Answers for it; exactly one per activity.
    Accountable,
    /// Asked before a decision.
    Consulted,
    /// Told after a decision.
    Informed,
}

/// The people a matrix was read with, by id: its assignees who are active members. A
/// matrix names each of them several times; its assignments find them here rather than ask
/// the user loader once each (80 loads on the bench dashboard). Anyone else is loaded.
#[derive(Clone, Debug, Default)]
struct People(Arc<IdMap<Arc<user::Model>>>);

impl People {
    async fn user(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<User>> {
        Ok(match self.0.get(&id) {
            Some(person) => Some(Arc::clone(person)),
            None => super::loader::user(ctx, id).await?,
        }
        .map(User))
    }
}

/// One person's letter on an activity.
#[derive(Clone, Debug)]
pub struct RaciAssignment {
    assignment: raci_assignment::Model,
    people: People,
}

#[Object(serial)]
impl RaciAssignment {
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<SerialObject<User>>> {
        Ok(self
            .people
            .user(ctx, self.assignment.user_id)
            .await?
            .map(SerialObject))
    }
    async fn letter(&self) -> Option<RaciLetter> {
        self.assignment
            .letter
            .parse::<DomainLetter>()
            .ok()
            .map(Into::into)
    }
}

/// A rule an activity breaks.
#[derive(SimpleObject, Clone, Debug)]
pub struct RaciViolation {
    pub activity_id: ID,
    pub activity_name: String,
    /// NO_ACCOUNTABLE, SEVERAL_ACCOUNTABLE, NO_RESPONSIBLE or INACTIVE_HOLDER.
    pub rule: String,
    pub message: String,
}

fn violations(row: &ActivityRow) -> Vec<RaciViolation> {
    row.violations
        .iter()
        .map(|v| RaciViolation {
            activity_id: encode(Kind::RaciActivity, row.activity.id),
            activity_name: row.activity.name.clone(),
            rule: v.code().to_owned(),
            message: v.describe(),
        })
        .collect()
}

/// An activity of the matrix with who is R, A, C and I on it.
#[derive(Clone, Debug)]
pub struct RaciActivity {
    row: ActivityRow,
    people: People,
}

impl From<ActivityRow> for RaciActivity {
    /// An activity read on its own: its people are loaded as they are asked for.
    fn from(row: ActivityRow) -> Self {
        Self {
            row,
            people: People::default(),
        }
    }
}

impl RaciActivity {
    async fn users(
        &self,
        ctx: &Context<'_>,
        letter: DomainLetter,
    ) -> async_graphql::Result<Vec<User>> {
        let mut users = Vec::new();
        for assignment in &self.row.assignments {
            if assignment.letter == letter.as_str()
                && let Some(user) = self.people.user(ctx, assignment.user_id).await?
            {
                users.push(user);
            }
        }
        Ok(users)
    }
}

#[Object(serial)]
impl RaciActivity {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::RaciActivity, self.row.activity.id)
    }
    async fn name(&self) -> &str {
        &self.row.activity.name
    }
    async fn position(&self) -> i32 {
        self.row.activity.position
    }
    /// The phase the activity belongs to, if any.
    async fn phase_id(&self) -> Option<GlobalId> {
        self.row
            .activity
            .phase_id
            .map(|id| GlobalId(Kind::Phase, id))
    }
    async fn version(&self) -> i64 {
        self.row.activity.version
    }
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn assignments(&self) -> SerialList<RaciAssignment> {
        self.row
            .assignments
            .iter()
            .map(|assignment| RaciAssignment {
                assignment: assignment.clone(),
                people: self.people.clone(),
            })
            .collect()
    }
    async fn responsible(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<User>> {
        self.users(ctx, DomainLetter::Responsible).await
    }
    async fn accountable(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(self
            .users(ctx, DomainLetter::Accountable)
            .await?
            .into_iter()
            .next())
    }
    async fn consulted(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<User>> {
        self.users(ctx, DomainLetter::Consulted).await
    }
    async fn informed(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<User>> {
        self.users(ctx, DomainLetter::Informed).await
    }
    /// The rules this activity breaks; empty when valid.
    async fn violations(&self) -> Vec<RaciViolation> {
        violations(&self.row)
    }
}

/// A project's whole matrix.
pub struct RaciMatrix {
    rows: Vec<ActivityRow>,
    people: People,
}

#[Object]
impl RaciMatrix {
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn activities(&self) -> SerialList<RaciActivity> {
        self.rows
            .iter()
            .map(|row| RaciActivity {
                row: row.clone(),
                people: self.people.clone(),
            })
            .collect()
    }
    /// Every rule broken, activity by activity. A matrix may be incomplete while drafted, but a
    /// phase gate does not pass while activities of that phase break a rule.
    async fn violations(&self) -> Vec<RaciViolation> {
        self.rows.iter().flat_map(violations).collect()
    }
    /// True when no activity breaks a rule.
    async fn valid(&self) -> bool {
        self.rows.iter().all(|row| row.violations.is_empty())
    }
}

/// A person's letter on an activity of some project.
pub struct MyRaciAssignment {
    pub assignment: raci_assignment::Model,
    pub activity: raci_activity::Model,
}

#[Object]
impl MyRaciAssignment {
    async fn project_id(&self) -> GlobalId {
        GlobalId(Kind::Project, self.activity.project_id)
    }
    async fn activity_id(&self) -> GlobalId {
        GlobalId(Kind::RaciActivity, self.activity.id)
    }
    async fn activity_name(&self) -> &str {
        &self.activity.name
    }
    async fn letter(&self) -> Option<RaciLetter> {
        self.assignment
            .letter
            .parse::<DomainLetter>()
            .ok()
            .map(Into::into)
    }
}

#[derive(Default)]
pub struct RaciQuery;

#[Object]
impl RaciQuery {
    /// A project's RACI matrix with its violations. Null when the project is not visible.
    async fn raci_matrix(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
    ) -> async_graphql::Result<Option<RaciMatrix>> {
        actor(ctx)?;
        let Ok(project_id) = decode(&project_id, Kind::Project, &["projectId"]) else {
            return Ok(None);
        };
        let app = state(ctx);
        if super::loader::visible_project(ctx, super::loader::ProjectKey::Id(project_id))
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let matrix = service::raci::matrix_with_people(&app.db, project_id)
            .await
            .map_err(|e| to_top_level(ctx, e))?;
        Ok(Some(RaciMatrix {
            rows: matrix.rows,
            people: People(Arc::new(
                matrix
                    .active_members
                    .into_iter()
                    .map(|(id, person)| (id, Arc::new(person)))
                    .collect(),
            )),
        }))
    }

    /// One activity: who is responsible, accountable, consulted and informed.
    async fn raci(
        &self,
        ctx: &Context<'_>,
        activity_id: ID,
    ) -> async_graphql::Result<Option<RaciActivity>> {
        let viewer = actor(ctx)?;
        let Ok(id) = decode(&activity_id, Kind::RaciActivity, &["activityId"]) else {
            return Ok(None);
        };
        let row = service::raci::visible_activity(state(ctx), viewer, id)
            .await
            .map_err(|e| to_top_level(ctx, e))?;
        Ok(row.map(RaciActivity::from))
    }
}

#[derive(InputObject)]
pub struct RaciSeedInput {
    pub project_id: ID,
}

/// The matrix after the change.
#[derive(SimpleObject)]
pub struct RaciSeedPayload {
    pub activities: Option<Vec<RaciActivity>>,
    pub user_errors: Vec<super::error::UserError>,
}

impl super::error::Payload for RaciSeedPayload {
    type Value = Vec<ActivityRow>;
    fn ok(rows: Self::Value) -> Self {
        Self {
            activities: Some(rows.into_iter().map(RaciActivity::from).collect()),
            user_errors: Vec::new(),
        }
    }
    fn refused(user_errors: Vec<super::error::UserError>) -> Self {
        Self {
            activities: None,
            user_errors,
        }
    }
}

#[derive(InputObject)]
pub struct RaciActivityAddInput {
    pub project_id: ID,
    pub name: String,
    pub phase_id: Option<ID>,
}

payload!(RaciActivityPayload {
    activity: RaciActivity
});

#[derive(InputObject)]
pub struct RaciActivityUpdateInput {
    pub id: ID,
    pub expected_version: i64,
    pub name: Option<String>,
    /// `null` unties the activity from its phase.
    pub phase_id: MaybeUndefined<ID>,
}

#[derive(InputObject)]
pub struct RaciActivityRemoveInput {
    pub id: ID,
}

#[derive(InputObject)]
pub struct RaciAssignInput {
    pub activity_id: ID,
    pub user_id: ID,
    /// Replaces the person's letter on this activity, if they had one.
    pub letter: RaciLetter,
}

#[derive(InputObject)]
pub struct RaciUnassignInput {
    pub activity_id: ID,
    pub user_id: ID,
}

fn refused<T>(refusals: Refusals) -> Result<T, ServiceError> {
    Err(ServiceError::Refused(
        refusals
            .finish()
            .err()
            .unwrap_or_else(|| vec![Refusal::bad_input(&[], "bad id")]),
    ))
}

/// Loads the activity's row after an edit that returned only the activity.
async fn row_of(
    ctx: &Context<'_>,
    activity: raci_activity::Model,
) -> Result<ActivityRow, ServiceError> {
    let rows = service::raci::matrix(&state(ctx).db, activity.project_id).await?;
    rows.into_iter()
        .find(|row| row.activity.id == activity.id)
        .ok_or_else(|| ServiceError::Internal("activity vanished".into()))
}

#[derive(Default)]
pub struct RaciMutation;

#[Object]
impl RaciMutation {
    /// Fills an empty matrix from the standard CRM template (DOMAIN §2.2), giving each member
    /// the letters their project roles earn. PROJECT_MANAGER.
    async fn raci_seed(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: RaciSeedInput,
    ) -> async_graphql::Result<RaciSeedPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.project_id, Kind::Project, &["projectId"]) {
            Ok(id) => service::raci::seed(state(ctx), &caller, id).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result)
    }

    /// Adds an activity. PROJECT_MANAGER.
    async fn raci_activity_add(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: RaciActivityAddInput,
    ) -> async_graphql::Result<RaciActivityPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let project_id = decode(&input.project_id, Kind::Project, &["projectId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let phase_id = input.phase_id.as_ref().and_then(|id| {
            decode(id, Kind::Phase, &["phaseId"])
                .map_err(|r| refusals.push(r))
                .ok()
        });
        let result = match project_id.filter(|_| refusals.is_empty()) {
            Some(id) => {
                match service::raci::activity_add(state(ctx), &caller, id, &input.name, phase_id)
                    .await
                {
                    Ok(activity) => row_of(ctx, activity).await,
                    Err(error) => Err(error),
                }
            }
            None => refused(refusals),
        };
        respond(ctx, result.map(RaciActivity::from))
    }

    /// Renames an activity or ties it to a phase. PROJECT_MANAGER.
    async fn raci_activity_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: RaciActivityUpdateInput,
    ) -> async_graphql::Result<RaciActivityPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let id = decode(&input.id, Kind::RaciActivity, &["id"])
            .map_err(|r| refusals.push(r))
            .ok();
        let phase_id = match input.phase_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => decode(&id, Kind::Phase, &["phaseId"])
                .map_err(|r| refusals.push(r))
                .ok()
                .map(Some),
        };
        let result = match id.filter(|_| refusals.is_empty()) {
            Some(id) => {
                match service::raci::activity_update(
                    state(ctx),
                    &caller,
                    id,
                    input.expected_version,
                    input.name.as_deref(),
                    phase_id,
                )
                .await
                {
                    Ok(activity) => row_of(ctx, activity).await,
                    Err(error) => Err(error),
                }
            }
            None => refused(refusals),
        };
        respond(ctx, result.map(RaciActivity::from))
    }

    /// Removes an activity and its assignments. PROJECT_MANAGER.
    async fn raci_activity_remove(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: RaciActivityRemoveInput,
    ) -> async_graphql::Result<RaciActivityPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::RaciActivity, &["id"]) {
            Ok(id) => service::raci::activity_remove(state(ctx), &caller, id)
                .await
                .map(|activity| ActivityRow {
                    activity,
                    assignments: Vec::new(),
                    violations: Vec::new(),
                }),
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(RaciActivity::from))
    }

    /// Gives a member a letter on an activity. A second ACCOUNTABLE is refused with CONFLICT
    /// naming the current one. PROJECT_MANAGER.
    async fn raci_assign(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: RaciAssignInput,
    ) -> async_graphql::Result<RaciActivityPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let activity_id = decode(&input.activity_id, Kind::RaciActivity, &["activityId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let user_id = decode(&input.user_id, Kind::User, &["userId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let result = match (activity_id, user_id) {
            (Some(activity_id), Some(user_id)) if refusals.is_empty() => {
                service::raci::assign(
                    state(ctx),
                    &caller,
                    activity_id,
                    user_id,
                    input.letter.into(),
                )
                .await
            }
            _ => refused(refusals),
        };
        respond(ctx, result.map(RaciActivity::from))
    }

    /// Takes a person's letter off an activity. PROJECT_MANAGER.
    async fn raci_unassign(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: RaciUnassignInput,
    ) -> async_graphql::Result<RaciActivityPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let activity_id = decode(&input.activity_id, Kind::RaciActivity, &["activityId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let user_id = decode(&input.user_id, Kind::User, &["userId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let result = match (activity_id, user_id) {
            (Some(activity_id), Some(user_id)) if refusals.is_empty() => {
                service::raci::unassign(state(ctx), &caller, activity_id, user_id).await
            }
            _ => refused(refusals),
        };
        respond(ctx, result.map(RaciActivity::from))
    }
}
