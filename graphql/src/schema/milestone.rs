//! Milestones, their links, schedule health and schedule baselines.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use steerco_entity::{milestone, milestone_dependency, schedule_baseline};

use super::context::{actor, caller, state};
use super::date::Date;
use super::decision::Decision;
use super::error::{Payload, UserError, respond, to_top_level};
use super::id::{GlobalId, Kind, decode, encode};
use super::idempotency::IdempotencyKeyArg;
use super::phase::Phase;
use super::user::User;
use crate::domain::schedule::{self as rules, MilestoneStatus as DomainStatus};
use crate::domain::{Refusal, Refusals};
use crate::service::milestone::{MilestoneChange, MilestoneChanges, NewMilestone, dates_of};
use crate::service::{self, ServiceError};

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::schedule::MilestoneStatus")]
pub enum MilestoneStatus {
    Planned,
    InProgress,
    Achieved,
    Missed,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::schedule::MilestoneAction")]
pub enum MilestoneAction {
    /// PLANNED → IN_PROGRESS.
    Start,
    /// → ACHIEVED, recording the actual date.
    Achieve,
    /// PLANNED or IN_PROGRESS → MISSED.
    Miss,
}

/// GREEN, AMBER or RED: see the README for the rules.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::schedule::Health")]
pub enum Health {
    Green,
    Amber,
    Red,
}

/// A dated checkpoint of a phase, tracked against its baseline.
#[derive(Clone, Debug)]
pub struct Milestone(pub milestone::Model);

impl Milestone {
    async fn dates_and_today(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<(rules::MilestoneDates, NaiveDate, rules::HealthThresholds)> {
        let dates = dates_of(&self.0).map_err(|e| to_top_level(ctx, e))?;
        let (today, thresholds) = super::loader::calendar(ctx, self.0.project_id).await?;
        Ok((dates, today, thresholds))
    }
}

#[Object(serial)]
impl Milestone {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::Milestone, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn phase_id(&self) -> GlobalId {
        GlobalId(Kind::Phase, self.0.phase_id)
    }
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.owner_id else {
            return Ok(None);
        };
        Ok(super::loader::user(ctx, id).await?.map(User))
    }
    /// A key milestone's achievement is announced to every member of the project.
    async fn key(&self) -> bool {
        self.0.is_key
    }
    /// Set by schedule baselines; null until the first one (or as planned before it).
    async fn baseline_date(&self) -> Option<Date> {
        self.0.baseline_date.map(Date)
    }
    async fn forecast_date(&self) -> Date {
        Date(self.0.forecast_date)
    }
    async fn actual_date(&self) -> Option<Date> {
        self.0.actual_date.map(Date)
    }
    async fn status(&self) -> Option<MilestoneStatus> {
        self.0.status.parse::<DomainStatus>().ok().map(Into::into)
    }
    /// Forecast minus baseline, in days (0 without a baseline).
    async fn slip_days(&self) -> async_graphql::Result<i64> {
        Ok(rules::slip_days(
            &dates_of(&self.0).map_err(|e| async_graphql::Error::new(e.to_string()))?,
        ))
    }
    /// Not achieved and forecast before today (in the project's time zone).
    async fn overdue(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let (dates, today, _) = self.dates_and_today(ctx).await?;
        Ok(rules::is_overdue(&dates, today))
    }
    async fn health(&self, ctx: &Context<'_>) -> async_graphql::Result<Health> {
        let (dates, today, thresholds) = self.dates_and_today(ctx).await?;
        Ok(rules::health(&dates, today, thresholds).into())
    }
    async fn allowed_actions(&self) -> Vec<MilestoneAction> {
        self.0
            .status
            .parse::<DomainStatus>()
            .map(|s| {
                rules::milestone_allowed_actions(s)
                    .into_iter()
                    .map(Into::into)
                    .collect()
            })
            .unwrap_or_default()
    }
    async fn version(&self) -> i64 {
        self.0.version
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A finish-to-start link: the successor may not be forecast before the predecessor + lag.
#[derive(Clone, Debug)]
pub struct MilestoneDependency(pub milestone_dependency::Model);

#[Object]
impl MilestoneDependency {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::MilestoneDependency, self.0.id)
    }
    async fn predecessor_id(&self) -> GlobalId {
        GlobalId(Kind::Milestone, self.0.predecessor_id)
    }
    async fn successor_id(&self) -> GlobalId {
        GlobalId(Kind::Milestone, self.0.successor_id)
    }
    async fn lag_days(&self) -> i32 {
        self.0.lag_days
    }
}

/// A milestone whose forecast moved.
#[derive(SimpleObject)]
pub struct MilestoneShift {
    pub milestone: Milestone,
    pub from: Date,
    pub to: Date,
}

fn shifts(moved: Vec<service::milestone::Moved>) -> Vec<MilestoneShift> {
    moved
        .into_iter()
        .map(|m| MilestoneShift {
            milestone: Milestone(m.milestone),
            from: Date(m.from),
            to: Date(m.to),
        })
        .collect()
}

/// The schedule at a glance.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ScheduleHealth {
    #[graphql(skip)]
    pub project_id: uuid::Uuid,
    pub green: u32,
    pub amber: u32,
    pub red: u32,
    pub overdue: u32,
    /// Sum of the positive slips of open milestones, in days.
    pub total_slip_days: i64,
    /// The open milestone forecast soonest.
    pub next_milestone: Option<Milestone>,
}

#[async_graphql::ComplexObject]
impl ScheduleHealth {
    /// The phase in progress or awaiting its gate.
    async fn current_phase(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Phase>> {
        let plan =
            super::loader::children::<super::loader::PlanLoader>(ctx, self.project_id).await?;
        for phase in plan.phases() {
            let status = service::phase::status_of(phase).map_err(|e| to_top_level(ctx, e))?;
            if status.is_current() {
                return Ok(Some(Phase(phase.clone())));
            }
        }
        Ok(None)
    }
}

impl ScheduleHealth {
    pub fn of(project_id: uuid::Uuid, summary: service::milestone::ScheduleHealth) -> Self {
        Self {
            project_id,
            green: summary.green,
            amber: summary.amber,
            red: summary.red,
            overdue: summary.overdue,
            total_slip_days: summary.total_slip_days,
            next_milestone: summary.next_milestone.map(Milestone),
        }
    }
}

/// An immutable, numbered snapshot of the milestones' baseline dates.
#[derive(Clone, Debug)]
pub struct ScheduleBaseline(pub schedule_baseline::Model);

/// What made a baseline version.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum BaselineCause {
    Initial,
    CommitteeDecision,
    ChangeRequest,
}

#[Object]
impl ScheduleBaseline {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::ScheduleBaseline, self.0.id)
    }
    /// 1, 2, 3, ...
    async fn number(&self) -> i32 {
        self.0.number
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    async fn cause(&self) -> BaselineCause {
        match self.0.cause_kind.as_str() {
            "COMMITTEE_DECISION" => BaselineCause::CommitteeDecision,
            "CHANGE_REQUEST" => BaselineCause::ChangeRequest,
            _ => BaselineCause::Initial,
        }
    }
    /// The decision (or change request) that made it, if any.
    async fn cause_id(&self) -> Option<ID> {
        let id = self.0.cause_id?;
        Some(match self.0.cause_kind.as_str() {
            "COMMITTEE_DECISION" => encode(Kind::Decision, id),
            "CHANGE_REQUEST" => encode(Kind::ChangeRequest, id),
            _ => ID(id.to_string()),
        })
    }
    /// The approved change request that produced this version, if one did.
    async fn caused_by(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<super::change_request::ChangeRequest>> {
        super::change_request::caused_by(
            ctx,
            self.0.project_id,
            self.0
                .cause_id
                .filter(|_| self.0.cause_kind == "CHANGE_REQUEST"),
        )
        .await
    }
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.created_by else {
            return Ok(None);
        };
        Ok(super::loader::user(ctx, id).await?.map(User))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Each milestone's baseline date in this version.
    async fn entries(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<BaselineEntry>> {
        let entries =
            super::loader::children::<super::loader::BaselineEntriesLoader>(ctx, self.0.id).await?;
        Ok(entries
            .into_iter()
            .map(|e| BaselineEntry {
                milestone_id: encode(Kind::Milestone, e.milestone_id),
                milestone_name: e.milestone_name,
                baseline_date: Date(e.baseline_date),
            })
            .collect())
    }
}

#[derive(SimpleObject)]
pub struct BaselineEntry {
    pub milestone_id: ID,
    /// The milestone's name when the baseline was taken.
    pub milestone_name: String,
    pub baseline_date: Date,
}

/// One milestone's baseline date in two versions.
#[derive(SimpleObject)]
pub struct BaselineVariance {
    pub milestone_id: ID,
    pub milestone_name: String,
    pub from_date: Option<Date>,
    pub to_date: Option<Date>,
    /// to − from, in days; null when the milestone is in one version only.
    pub variance_days: Option<i64>,
}

#[derive(InputObject, Default)]
pub struct MilestoneFilterInput {
    #[graphql(default)]
    pub status: Vec<MilestoneStatus>,
    #[graphql(default)]
    pub health: Vec<Health>,
    pub owner_id: Option<ID>,
    /// Forecast on or before this date.
    pub due_before: Option<Date>,
    pub overdue: Option<bool>,
}

impl MilestoneFilterInput {
    pub fn into_filter(self) -> service::milestone::MilestoneFilter {
        service::milestone::MilestoneFilter {
            statuses: self.status.into_iter().map(Into::into).collect(),
            health: self.health.into_iter().map(Into::into).collect(),
            // An id that is not a user's matches nobody.
            owner_id: self
                .owner_id
                .map(|id| decode(&id, Kind::User, &["ownerId"]).unwrap_or_default()),
            due_before: self.due_before.map(Into::into),
            overdue: self.overdue,
        }
    }
}

#[derive(Default)]
pub struct MilestoneQuery;

#[Object]
impl MilestoneQuery {
    /// The variance per milestone between two baseline versions of a project. Null when a
    /// baseline is not visible.
    async fn baseline_compare(
        &self,
        ctx: &Context<'_>,
        from_id: ID,
        to_id: ID,
    ) -> async_graphql::Result<Option<Vec<BaselineVariance>>> {
        let viewer = actor(ctx)?;
        let (Ok(from), Ok(to)) = (
            decode(&from_id, Kind::ScheduleBaseline, &["fromId"]),
            decode(&to_id, Kind::ScheduleBaseline, &["toId"]),
        ) else {
            return Ok(None);
        };
        match service::baseline::compare(state(ctx), viewer, from, to).await {
            Ok(rows) => Ok(Some(
                rows.into_iter()
                    .map(|row| BaselineVariance {
                        milestone_id: encode(Kind::Milestone, row.variance.id),
                        milestone_name: row.name,
                        from_date: row.variance.from.map(Date),
                        to_date: row.variance.to.map(Date),
                        variance_days: row.variance.days,
                    })
                    .collect(),
            )),
            Err(ServiceError::Refused(refusals))
                if refusals
                    .iter()
                    .all(|r| r.code == crate::domain::RefusalCode::NotFound) =>
            {
                Ok(None)
            }
            Err(error) => Err(to_top_level(ctx, error)),
        }
    }
}

#[derive(InputObject)]
pub struct MilestoneCreateInput {
    pub phase_id: ID,
    pub name: String,
    pub owner_id: Option<ID>,
    /// Defaults to `baselineDate`.
    pub forecast_date: Option<Date>,
    /// The planned date; only before the schedule's first baseline.
    pub baseline_date: Option<Date>,
    /// A key milestone's achievement is announced to every member of the project.
    #[graphql(default)]
    pub key: bool,
}

/// A milestone, and every milestone whose forecast moved with it.
#[derive(SimpleObject)]
pub struct MilestoneChangePayload {
    pub milestone: Option<Milestone>,
    /// Every forecast that moved, the edited milestone first, then its dependants.
    pub moved: Vec<MilestoneShift>,
    pub user_errors: Vec<UserError>,
}

impl Payload for MilestoneChangePayload {
    type Value = MilestoneChange;
    fn ok(change: MilestoneChange) -> Self {
        Self {
            milestone: Some(Milestone(change.milestone)),
            moved: shifts(change.moved),
            user_errors: Vec::new(),
        }
    }
    fn refused(user_errors: Vec<UserError>) -> Self {
        Self {
            milestone: None,
            moved: Vec::new(),
            user_errors,
        }
    }
}

/// Left-out fields are kept.
#[derive(InputObject)]
pub struct MilestoneUpdateInput {
    pub id: ID,
    pub expected_version: i64,
    pub name: Option<String>,
    pub owner_id: MaybeUndefined<ID>,
    /// Move to another phase of the same project.
    pub phase_id: Option<ID>,
    /// Dependants that would start early move with it.
    pub forecast_date: Option<Date>,
    /// Only before the first baseline; afterwards baselines set it.
    pub baseline_date: MaybeUndefined<Date>,
    pub key: Option<bool>,
}

#[derive(InputObject)]
pub struct MilestoneTransitionInput {
    pub id: ID,
    pub action: MilestoneAction,
    /// With ACHIEVE: when it was achieved (default today, never in the future).
    pub actual_date: Option<Date>,
}

#[derive(InputObject)]
pub struct MilestoneDependencyAddInput {
    pub predecessor_id: ID,
    pub successor_id: ID,
    #[graphql(default)]
    pub lag_days: i32,
}

/// The new link, and every milestone it pushed.
#[derive(SimpleObject)]
pub struct MilestoneDependencyAddPayload {
    pub dependency: Option<MilestoneDependency>,
    pub moved: Vec<MilestoneShift>,
    pub user_errors: Vec<UserError>,
}

impl Payload for MilestoneDependencyAddPayload {
    type Value = (milestone_dependency::Model, Vec<service::milestone::Moved>);
    fn ok((link, moved): Self::Value) -> Self {
        Self {
            dependency: Some(MilestoneDependency(link)),
            moved: shifts(moved),
            user_errors: Vec::new(),
        }
    }
    fn refused(user_errors: Vec<UserError>) -> Self {
        Self {
            dependency: None,
            moved: Vec::new(),
            user_errors,
        }
    }
}

#[derive(InputObject)]
pub struct MilestoneDependencyRemoveInput {
    pub id: ID,
}

super::error::payload!(MilestoneDependencyRemovePayload {
    dependency: MilestoneDependency
});

#[derive(InputObject)]
pub struct ScheduleBaselineCreateInput {
    pub project_id: ID,
    /// Why the baseline is taken (required).
    pub reason: String,
}

/// The first baseline is taken at once; later ones open a committee ballot.
#[derive(SimpleObject)]
pub struct ScheduleBaselineCreatePayload {
    pub baseline: Option<ScheduleBaseline>,
    /// The ballot deciding on a re-baseline.
    pub decision: Option<Decision>,
    pub user_errors: Vec<UserError>,
}

impl Payload for ScheduleBaselineCreatePayload {
    type Value = service::baseline::BaselineRequest;
    fn ok(request: Self::Value) -> Self {
        Self {
            baseline: request.baseline.map(ScheduleBaseline),
            decision: request.decision.map(Decision),
            user_errors: Vec::new(),
        }
    }
    fn refused(user_errors: Vec<UserError>) -> Self {
        Self {
            baseline: None,
            decision: None,
            user_errors,
        }
    }
}

fn refused<T>(refusals: Refusals) -> Result<T, ServiceError> {
    Err(ServiceError::Refused(
        refusals
            .finish()
            .err()
            .unwrap_or_else(|| vec![Refusal::bad_input(&[], "bad id")]),
    ))
}

#[derive(Default)]
pub struct MilestoneMutation;

#[Object]
impl MilestoneMutation {
    /// Adds a milestone to a phase. PROJECT_MANAGER.
    async fn milestone_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: MilestoneCreateInput,
    ) -> async_graphql::Result<MilestoneChangePayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let phase_id = decode(&input.phase_id, Kind::Phase, &["phaseId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let owner_id = input.owner_id.as_ref().and_then(|id| {
            decode(id, Kind::User, &["ownerId"])
                .map_err(|r| refusals.push(r))
                .ok()
        });
        let result = match phase_id.filter(|_| refusals.is_empty()) {
            Some(phase_id) => {
                let command = NewMilestone {
                    phase_id,
                    name: input.name,
                    owner_id,
                    forecast_date: input.forecast_date.map(Into::into),
                    baseline_date: input.baseline_date.map(Into::into),
                    key: input.key,
                };
                service::milestone::create(state(ctx), &caller, command).await
            }
            None => refused(refusals),
        };
        respond(ctx, result)
    }

    /// Edits a milestone; a new forecast pushes dependants that would start early, and the
    /// payload lists every milestone that moved. PROJECT_MANAGER.
    async fn milestone_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: MilestoneUpdateInput,
    ) -> async_graphql::Result<MilestoneChangePayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let id = decode(&input.id, Kind::Milestone, &["id"])
            .map_err(|r| refusals.push(r))
            .ok();
        let owner_id = match input.owner_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => decode(&id, Kind::User, &["ownerId"])
                .map_err(|r| refusals.push(r))
                .ok()
                .map(Some),
        };
        let phase_id = input.phase_id.as_ref().and_then(|id| {
            decode(id, Kind::Phase, &["phaseId"])
                .map_err(|r| refusals.push(r))
                .ok()
        });
        let result = match id.filter(|_| refusals.is_empty()) {
            Some(id) => {
                let changes = MilestoneChanges {
                    name: input.name,
                    owner_id,
                    phase_id,
                    forecast_date: input.forecast_date.map(Into::into),
                    baseline_date: input.baseline_date.map_value(|date| date.0).into(),
                    key: input.key,
                };
                service::milestone::update(state(ctx), &caller, id, input.expected_version, changes)
                    .await
            }
            None => refused(refusals),
        };
        respond(ctx, result)
    }

    /// Moves a milestone through its lifecycle. PROJECT_MANAGER or the milestone's owner.
    async fn milestone_transition(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: MilestoneTransitionInput,
    ) -> async_graphql::Result<MilestoneChangePayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::Milestone, &["id"]) {
            Ok(id) => {
                service::milestone::transition(
                    state(ctx),
                    &caller,
                    id,
                    input.action.into(),
                    input.actual_date.map(Into::into),
                )
                .await
            }
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result)
    }

    /// Links two milestones finish-to-start. Refused when it would close a cycle (the message
    /// names it). PROJECT_MANAGER.
    async fn milestone_dependency_add(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: MilestoneDependencyAddInput,
    ) -> async_graphql::Result<MilestoneDependencyAddPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let predecessor = decode(&input.predecessor_id, Kind::Milestone, &["predecessorId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let successor = decode(&input.successor_id, Kind::Milestone, &["successorId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let result = match (predecessor, successor) {
            (Some(p), Some(s)) if refusals.is_empty() => {
                service::milestone::link(state(ctx), &caller, p, s, input.lag_days).await
            }
            _ => refused(refusals),
        };
        respond(ctx, result)
    }

    /// Removes a link. PROJECT_MANAGER.
    async fn milestone_dependency_remove(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: MilestoneDependencyRemoveInput,
    ) -> async_graphql::Result<MilestoneDependencyRemovePayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::MilestoneDependency, &["id"]) {
            Ok(id) => service::milestone::unlink(state(ctx), &caller, id).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(MilestoneDependency))
    }

    /// Takes the first schedule baseline (PROJECT_MANAGER), or opens a steering committee
    /// ballot to re-baseline on the current forecasts.
    async fn schedule_baseline_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ScheduleBaselineCreateInput,
    ) -> async_graphql::Result<ScheduleBaselineCreatePayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.project_id, Kind::Project, &["projectId"]) {
            Ok(id) => service::baseline::create(state(ctx), &caller, id, &input.reason).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result)
    }
}
