//! Go-live plans: cutover runbook, go/no-go criteria, rollback, hypercare.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use steerco_entity::{
    cutover_task, go_live_criterion, go_live_plan, hypercare_metric, metric_reading,
};

use super::context::{caller, state};
use super::date::Date;
use super::decision::Decision;
use super::error::{Payload, UserError, payload, respond, to_top_level};
use super::id::{GlobalId, Kind, decode, encode};
use super::idempotency::IdempotencyKeyArg;
use super::user::User;
use crate::domain::go_live::{self as rules, Criterion};
use crate::domain::{Refusal, Refusals};
use crate::service::go_live::{
    OwnedStep, PlanChange, PlanInput, Preparation, RollbackPlan, RollbackTrigger, WarRoomSeat,
};
use crate::service::{self, ServiceError};

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::go_live::Strategy")]
pub enum GoLiveStrategy {
    BigBang,
    Phased,
    PilotThenFull,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::go_live::PlanStatus")]
pub enum GoLiveStatus {
    Draft,
    ReadyForDecision,
    ApprovedGo,
    NoGo,
    CutoverInProgress,
    Live,
    Closed,
    RollbackInProgress,
    RolledBack,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::go_live::PlanAction")]
pub enum GoLiveAction {
    /// Use goLiveDecisionRequest.
    SubmitForDecision,
    /// Taken by the committee's ballot.
    DecideGo,
    /// Taken by the committee's ballot.
    DecideNoGo,
    /// NO_GO → DRAFT, or APPROVED_GO → DRAFT (withdrawing the GO, to change the plan), with
    /// `newGoLive`.
    Reschedule,
    /// APPROVED_GO → CUTOVER_IN_PROGRESS.
    StartCutover,
    /// CUTOVER_IN_PROGRESS → LIVE (every runbook task done or skipped); the project goes to LIVE_HYPERCARE.
    GoLive,
    /// LIVE → CLOSED (every metric read since going live, its latest reading on target); the
    /// project goes to OPTIMIZATION.
    CloseHypercare,
    /// Use rollbackStart.
    StartRollback,
    /// ROLLBACK_IN_PROGRESS → ROLLED_BACK; the project returns to IN_EXECUTION.
    CompleteRollback,
    /// ROLLED_BACK → DRAFT for a new attempt, with `newGoLive`.
    Replan,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::go_live::TaskStatus")]
pub enum CutoverTaskStatus {
    Pending,
    InProgress,
    Done,
    Failed,
    Skipped,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::go_live::Direction")]
pub enum MetricDirection {
    /// The value must stay at or above the target.
    AtLeast,
    /// The value must stay at or below the target.
    AtMost,
}

/// One go/no-go criterion with its value.
#[derive(SimpleObject, Clone)]
pub struct GoLiveCriterionResult {
    pub key: String,
    pub description: String,
    /// Computed from live data (true) or ticked by its owner (false).
    pub automatic: bool,
    pub value: String,
    pub threshold: String,
    pub holds: bool,
}

fn criteria(list: Vec<Criterion>) -> Vec<GoLiveCriterionResult> {
    list.into_iter()
        .map(|c| GoLiveCriterionResult {
            key: c.key,
            description: c.description,
            automatic: c.automatic,
            value: c.value,
            threshold: c.threshold,
            holds: c.holds,
        })
        .collect()
}

#[derive(SimpleObject, Clone)]
pub struct RollbackTriggerView {
    pub condition: String,
    pub metric: Option<String>,
    pub threshold: Option<String>,
}

#[derive(SimpleObject, Clone)]
pub struct OwnedStepView {
    pub text: String,
    pub owner_id: Option<ID>,
}

#[derive(SimpleObject, Clone)]
pub struct RollbackPlanView {
    pub triggers: Vec<RollbackTriggerView>,
    /// Who may start a rollback.
    pub authority_ids: Vec<ID>,
    pub max_minutes: u32,
    pub steps: Vec<OwnedStepView>,
    pub reconciliation_steps: Vec<OwnedStepView>,
    pub rehearsed_on: Option<Date>,
    pub rehearsal_passed: Option<bool>,
    pub approved_by: Option<ID>,
}

fn steps(list: Vec<OwnedStep>) -> Vec<OwnedStepView> {
    list.into_iter()
        .map(|s| OwnedStepView {
            text: s.text,
            owner_id: s.owner_id.map(|id| encode(Kind::User, id)),
        })
        .collect()
}

#[derive(SimpleObject, Clone)]
pub struct WarRoomSeatView {
    pub user_id: ID,
    pub shift: String,
    pub contact: String,
}

pub struct CutoverTask {
    task: cutover_task::Model,
    earliest_start_minutes: Option<u32>,
    critical: bool,
}

#[Object]
impl CutoverTask {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::CutoverTask, self.task.id)
    }
    async fn name(&self) -> &str {
        &self.task.name
    }
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.task.owner_id else {
            return Ok(None);
        };
        Ok(super::loader::user(ctx, id).await?.map(User))
    }
    async fn duration_minutes(&self) -> i32 {
        self.task.duration_minutes
    }
    async fn depends_on(&self) -> Vec<ID> {
        service::go_live::depends_on(&self.task)
            .into_iter()
            .map(|id| encode(Kind::CutoverTask, id))
            .collect()
    }
    /// Minutes after the cutover start at which it can start at the earliest.
    async fn earliest_start_minutes(&self) -> Option<u32> {
        self.earliest_start_minutes
    }
    /// On the critical path: any delay here delays the end of cutover.
    async fn critical(&self) -> bool {
        self.critical
    }
    async fn point_of_no_return(&self) -> bool {
        self.task.point_of_no_return
    }
    async fn status(&self) -> Option<CutoverTaskStatus> {
        self.task
            .status
            .parse::<rules::TaskStatus>()
            .ok()
            .map(Into::into)
    }
    async fn actual_start(&self) -> Option<DateTime<Utc>> {
        self.task.actual_start
    }
    async fn actual_end(&self) -> Option<DateTime<Utc>> {
        self.task.actual_end
    }
}

pub struct ManualCriterion(go_live_criterion::Model);

#[Object]
impl ManualCriterion {
    async fn id(&self) -> GlobalId {
        GlobalId(Kind::ManualCriterion, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.owner_id else {
            return Ok(None);
        };
        Ok(super::loader::user(ctx, id).await?.map(User))
    }
    async fn done(&self) -> bool {
        self.0.done
    }
}

pub struct HypercareMetric(hypercare_metric::Model);

#[derive(SimpleObject)]
pub struct MetricReading {
    pub value: Option<Decimal>,
    pub breached: bool,
    pub taken_at: DateTime<Utc>,
}

impl From<metric_reading::Model> for MetricReading {
    fn from(r: metric_reading::Model) -> Self {
        Self {
            value: r.value.parse().ok(),
            breached: r.breached,
            taken_at: r.taken_at,
        }
    }
}

#[Object]
impl HypercareMetric {
    async fn id(&self) -> GlobalId {
        GlobalId(Kind::HypercareMetric, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn unit(&self) -> &str {
        &self.0.unit
    }
    async fn target(&self) -> Option<Decimal> {
        self.0.target.parse().ok()
    }
    async fn direction(&self) -> Option<MetricDirection> {
        self.0
            .direction
            .parse::<rules::Direction>()
            .ok()
            .map(Into::into)
    }
    async fn readings(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<MetricReading>> {
        let rows =
            super::loader::children::<super::loader::MetricReadingsLoader>(ctx, self.0.id).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

/// How a project goes live.
#[derive(Clone)]
pub struct GoLivePlan(pub go_live_plan::Model);

#[Object]
impl GoLivePlan {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::GoLivePlan, self.0.id)
    }
    async fn status(&self) -> Option<GoLiveStatus> {
        self.0
            .status
            .parse::<rules::PlanStatus>()
            .ok()
            .map(Into::into)
    }
    async fn strategy(&self) -> Option<GoLiveStrategy> {
        self.0
            .strategy
            .parse::<rules::Strategy>()
            .ok()
            .map(Into::into)
    }
    async fn planned_go_live(&self) -> DateTime<Utc> {
        self.0.planned_go_live
    }
    /// The go-live in the project's time zone, e.g. "2027-09-06 08:00 Asia/Shanghai".
    async fn planned_go_live_local(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let standing = super::loader::project(ctx, self.0.project_id).await?;
        let project = &standing.project;
        let zone = crate::domain::project::TimeZone::parse(&project.time_zone)
            .map(|tz| tz.tz())
            .unwrap_or(chrono_tz::UTC);
        Ok(format!(
            "{} {}",
            self.0
                .planned_go_live
                .with_timezone(&zone)
                .format("%Y-%m-%d %H:%M"),
            zone.name()
        ))
    }
    async fn cutover_start(&self) -> DateTime<Utc> {
        self.0.cutover_start
    }
    async fn cutover_end(&self) -> DateTime<Utc> {
        self.0.cutover_end
    }
    async fn freeze_start(&self) -> Option<DateTime<Utc>> {
        self.0.freeze_start
    }
    async fn freeze_end(&self) -> Option<DateTime<Utc>> {
        self.0.freeze_end
    }
    async fn communications(&self) -> &str {
        &self.0.communications
    }
    async fn max_open_critical(&self) -> i32 {
        self.0.max_open_critical
    }
    async fn max_open_major(&self) -> i32 {
        self.0.max_open_major
    }
    /// 1 for the first attempt; a rollback and replan makes 2, ...
    async fn attempt(&self) -> i32 {
        self.0.attempt
    }
    /// Why the last NO_GO or rollback happened.
    async fn status_reason(&self) -> Option<&str> {
        self.0.status_reason.as_deref()
    }
    async fn override_reason(&self) -> Option<&str> {
        self.0.override_reason.as_deref()
    }
    async fn rollback_forced(&self) -> bool {
        self.0.rollback_forced
    }
    /// The runbook with earliest starts and the critical path.
    async fn runbook(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CutoverTask>> {
        let tasks =
            super::loader::children::<super::loader::CutoverTasksLoader>(ctx, self.0.id).await?;
        let planned: Vec<rules::Task> = tasks
            .iter()
            .map(|t| rules::Task {
                id: t.id,
                duration_minutes: u32::try_from(t.duration_minutes).unwrap_or(0),
                depends_on: service::go_live::depends_on(t),
            })
            .collect();
        let schedule = rules::schedule_runbook(&planned).ok();
        Ok(tasks
            .into_iter()
            .map(|task| CutoverTask {
                earliest_start_minutes: schedule
                    .as_ref()
                    .and_then(|s| s.earliest_start.get(&task.id).copied()),
                critical: schedule
                    .as_ref()
                    .is_some_and(|s| s.critical_path.contains(&task.id)),
                task,
            })
            .collect())
    }
    /// When the runbook ends if every task takes its planned time.
    async fn planned_cutover_end(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        let tasks =
            super::loader::children::<super::loader::CutoverTasksLoader>(ctx, self.0.id).await?;
        let planned: Vec<rules::Task> = tasks
            .iter()
            .map(|t| rules::Task {
                id: t.id,
                duration_minutes: u32::try_from(t.duration_minutes).unwrap_or(0),
                depends_on: service::go_live::depends_on(t),
            })
            .collect();
        Ok(rules::schedule_runbook(&planned)
            .ok()
            .map(|s| self.0.cutover_start + chrono::Duration::minutes(i64::from(s.total_minutes))))
    }
    async fn manual_criteria(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ManualCriterion>> {
        let rows =
            super::loader::children::<super::loader::ManualCriteriaLoader>(ctx, self.0.id).await?;
        Ok(rows.into_iter().map(ManualCriterion).collect())
    }
    /// Every go/no-go criterion computed from the project's data now.
    async fn criteria(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<GoLiveCriterionResult>> {
        let (data, manual) = tokio::try_join!(
            super::loader::criteria_data(ctx, self.0.project_id),
            super::loader::children::<super::loader::ManualCriteriaLoader>(ctx, self.0.id),
        )?;
        service::go_live::criteria_from(&self.0, &data, &manual)
            .map(criteria)
            .map_err(|e| to_top_level(ctx, e))
    }
    /// The evaluation frozen when the committee decided.
    async fn decision_snapshot(&self) -> Option<Vec<GoLiveCriterionResult>> {
        let frozen: Vec<Criterion> =
            serde_json::from_str(self.0.decision_snapshot.as_deref()?).ok()?;
        Some(criteria(frozen))
    }
    async fn rollback_plan(&self) -> RollbackPlanView {
        let plan = service::go_live::rollback_of(&self.0);
        RollbackPlanView {
            triggers: plan
                .triggers
                .into_iter()
                .map(|t| RollbackTriggerView {
                    condition: t.condition,
                    metric: t.metric,
                    threshold: t.threshold,
                })
                .collect(),
            authority_ids: plan
                .authority_ids
                .into_iter()
                .map(|id| encode(Kind::User, id))
                .collect(),
            max_minutes: plan.max_minutes,
            steps: steps(plan.steps),
            reconciliation_steps: steps(plan.reconciliation_steps),
            rehearsed_on: plan.rehearsed_on.map(Date),
            rehearsal_passed: plan.rehearsal_passed,
            approved_by: plan.approved_by.map(|id| encode(Kind::User, id)),
        }
    }
    async fn war_room(&self) -> Vec<WarRoomSeatView> {
        service::go_live::war_room_of(&self.0)
            .into_iter()
            .map(|s| WarRoomSeatView {
                user_id: encode(Kind::User, s.user_id),
                shift: s.shift,
                contact: s.contact,
            })
            .collect()
    }
    async fn hypercare_exit(&self) -> Vec<String> {
        service::go_live::hypercare_exit_of(&self.0)
    }
    async fn metrics(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<HypercareMetric>> {
        let rows = super::loader::children::<super::loader::HypercareMetricsLoader>(ctx, self.0.id)
            .await?;
        Ok(rows.into_iter().map(HypercareMetric).collect())
    }
    /// The committee's GO/NO_GO ballots, oldest first.
    async fn decisions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Decision>> {
        Ok(super::loader::ballots(ctx, self.0.id)
            .await?
            .into_iter()
            .map(Decision)
            .collect())
    }
    async fn version(&self) -> i64 {
        self.0.version
    }
}

#[derive(InputObject)]
pub struct GoLivePlanCreateInput {
    pub project_id: ID,
    pub strategy: GoLiveStrategy,
    pub planned_go_live: DateTime<Utc>,
    pub cutover_start: DateTime<Utc>,
    pub cutover_end: DateTime<Utc>,
    pub freeze_start: Option<DateTime<Utc>>,
    pub freeze_end: Option<DateTime<Utc>>,
    #[graphql(default)]
    pub communications: String,
    /// Open CRITICAL (or not yet graded) defects tolerated at go/no-go (default 0).
    #[graphql(default)]
    pub max_open_critical: u32,
    #[graphql(default)]
    pub max_open_major: u32,
}

/// The plan, and the ballot a request opened.
#[derive(SimpleObject)]
pub struct GoLivePlanPayload {
    pub plan: Option<GoLivePlan>,
    pub decision: Option<Decision>,
    pub user_errors: Vec<UserError>,
}

impl Payload for GoLivePlanPayload {
    type Value = PlanChange;
    fn ok(change: PlanChange) -> Self {
        Self {
            plan: Some(GoLivePlan(change.plan)),
            decision: change.decision.map(Decision),
            user_errors: Vec::new(),
        }
    }
    fn refused(user_errors: Vec<UserError>) -> Self {
        Self {
            plan: None,
            decision: None,
            user_errors,
        }
    }
}

#[derive(InputObject)]
pub struct RollbackTriggerInput {
    pub condition: String,
    pub metric: Option<String>,
    pub threshold: Option<String>,
}

#[derive(InputObject)]
pub struct OwnedStepInput {
    pub text: String,
    pub owner_id: Option<ID>,
}

#[derive(InputObject)]
pub struct RollbackPlanInput {
    #[graphql(default)]
    pub triggers: Vec<RollbackTriggerInput>,
    pub authority_ids: Vec<ID>,
    pub max_minutes: u32,
    pub steps: Vec<OwnedStepInput>,
    #[graphql(default)]
    pub reconciliation_steps: Vec<OwnedStepInput>,
    pub rehearsed_on: Option<Date>,
    pub rehearsal_passed: Option<bool>,
}

#[derive(InputObject)]
pub struct WarRoomSeatInput {
    pub user_id: ID,
    pub shift: String,
    #[graphql(default)]
    pub contact: String,
}

/// Each field given replaces what the plan had.
#[derive(InputObject)]
pub struct GoLivePlanPrepareInput {
    pub plan_id: ID,
    pub rollback_plan: Option<RollbackPlanInput>,
    pub war_room: Option<Vec<WarRoomSeatInput>>,
    pub hypercare_exit: Option<Vec<String>>,
    pub communications: Option<String>,
}

#[derive(InputObject)]
pub struct GoLiveRollbackApproveInput {
    pub plan_id: ID,
}

#[derive(InputObject)]
pub struct GoLiveDecisionRequestInput {
    pub plan_id: ID,
}

#[derive(InputObject)]
pub struct CutoverTaskAddInput {
    pub plan_id: ID,
    pub name: String,
    pub owner_id: Option<ID>,
    pub duration_minutes: u32,
    #[graphql(default)]
    pub depends_on: Vec<ID>,
    #[graphql(default)]
    pub point_of_no_return: bool,
}

#[derive(InputObject)]
pub struct CutoverTaskSetStatusInput {
    pub id: ID,
    pub status: CutoverTaskStatus,
}

#[derive(InputObject)]
pub struct GoLiveCriterionAddInput {
    pub plan_id: ID,
    pub name: String,
    pub owner_id: Option<ID>,
}

#[derive(InputObject)]
pub struct GoLiveCriterionSetInput {
    pub id: ID,
    pub done: bool,
}

#[derive(InputObject)]
pub struct GoLiveOverrideInput {
    pub plan_id: ID,
    /// Why GO may proceed although criteria fail; recorded and audited.
    pub reason: String,
}

#[derive(InputObject)]
pub struct GoLiveTransitionInput {
    pub plan_id: ID,
    pub action: GoLiveAction,
    /// With RESCHEDULE and REPLAN: the new go-live (windows move with it).
    pub new_go_live: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct RollbackStartInput {
    pub plan_id: ID,
    pub reason: String,
    /// Needed after the point of no return.
    #[graphql(default)]
    pub force: bool,
}

#[derive(InputObject)]
pub struct HypercareMetricAddInput {
    pub plan_id: ID,
    pub name: String,
    pub unit: String,
    pub target: Decimal,
    pub direction: MetricDirection,
}

#[derive(InputObject)]
pub struct HypercareReadingRecordInput {
    /// The metric's id.
    pub metric_id: ID,
    pub value: Decimal,
}

#[derive(SimpleObject)]
pub struct CutoverTaskPayload {
    pub task_id: Option<ID>,
    pub status: Option<CutoverTaskStatus>,
    pub user_errors: Vec<UserError>,
}

impl Payload for CutoverTaskPayload {
    type Value = cutover_task::Model;
    fn ok(task: Self::Value) -> Self {
        Self {
            task_id: Some(encode(Kind::CutoverTask, task.id)),
            status: task
                .status
                .parse::<rules::TaskStatus>()
                .ok()
                .map(Into::into),
            user_errors: Vec::new(),
        }
    }
    fn refused(user_errors: Vec<UserError>) -> Self {
        Self {
            task_id: None,
            status: None,
            user_errors,
        }
    }
}

payload!(GoLiveCriterionPayload {
    criterion: ManualCriterion
});
payload!(HypercareMetricPayload {
    metric: HypercareMetric
});
payload!(HypercareReadingPayload {
    reading: MetricReading
});

fn refused<T>(refusals: Refusals) -> Result<T, ServiceError> {
    Err(ServiceError::Refused(
        refusals
            .finish()
            .err()
            .unwrap_or_else(|| vec![Refusal::bad_input(&[], "bad id")]),
    ))
}

fn user_ids(refusals: &mut Refusals, ids: &[ID], field: &[&str]) -> Vec<uuid::Uuid> {
    ids.iter()
        .enumerate()
        .filter_map(|(i, id)| {
            let index = i.to_string();
            let path: Vec<&str> = field.iter().copied().chain([index.as_str()]).collect();
            decode(id, Kind::User, &path)
                .map_err(|r| refusals.push(r))
                .ok()
        })
        .collect()
}

fn owned_steps(refusals: &mut Refusals, list: Vec<OwnedStepInput>, field: &str) -> Vec<OwnedStep> {
    list.into_iter()
        .enumerate()
        .map(|(i, s)| OwnedStep {
            owner_id: s.owner_id.and_then(|id| {
                decode(
                    &id,
                    Kind::User,
                    &["rollbackPlan", field, &i.to_string(), "ownerId"],
                )
                .map_err(|r| refusals.push(r))
                .ok()
            }),
            text: s.text,
        })
        .collect()
}

fn plan_id(refusals: &mut Refusals, id: &ID) -> Option<uuid::Uuid> {
    decode(id, Kind::GoLivePlan, &["planId"])
        .map_err(|r| refusals.push(r))
        .ok()
}

#[derive(Default)]
pub struct GoLiveMutation;

#[Object]
impl GoLiveMutation {
    /// Drafts the project's go-live plan. PROJECT_MANAGER.
    async fn go_live_plan_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: GoLivePlanCreateInput,
    ) -> async_graphql::Result<GoLivePlanPayload> {
        let caller = caller(ctx)?;
        let freeze = match (input.freeze_start, input.freeze_end) {
            (Some(start), Some(end)) => Ok(Some((start, end))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(Refusal::bad_input(
                &["freezeEnd"],
                "a change freeze needs both its start and its end",
            )),
            (None, Some(_)) => Err(Refusal::bad_input(
                &["freezeStart"],
                "a change freeze needs both its start and its end",
            )),
        };
        let project = decode(&input.project_id, Kind::Project, &["projectId"]);
        let result = match project.and_then(|id| freeze.map(|freeze| (id, freeze))) {
            Ok((id, freeze)) => {
                let plan = PlanInput {
                    strategy: input.strategy.into(),
                    planned_go_live: input.planned_go_live,
                    cutover: (input.cutover_start, input.cutover_end),
                    freeze,
                    communications: input.communications,
                    max_open_critical: input.max_open_critical,
                    max_open_major: input.max_open_major,
                };
                service::go_live::create(state(ctx), &caller, id, plan).await
            }
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result)
    }

    /// Sets the rollback plan, War Room roster, hypercare exit criteria or communications.
    /// PROJECT_MANAGER, until the committee decides. A changed rollback plan needs approving
    /// again; a change after votes were cast opens a new round of the decision.
    async fn go_live_plan_prepare(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: GoLivePlanPrepareInput,
    ) -> async_graphql::Result<GoLivePlanPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let id = plan_id(&mut refusals, &input.plan_id);
        let rollback = input.rollback_plan.map(|r| RollbackPlan {
            triggers: r
                .triggers
                .into_iter()
                .map(|t| RollbackTrigger {
                    condition: t.condition,
                    metric: t.metric,
                    threshold: t.threshold,
                })
                .collect(),
            authority_ids: user_ids(
                &mut refusals,
                &r.authority_ids,
                &["rollbackPlan", "authorityIds"],
            ),
            max_minutes: r.max_minutes,
            steps: owned_steps(&mut refusals, r.steps, "steps"),
            reconciliation_steps: owned_steps(
                &mut refusals,
                r.reconciliation_steps,
                "reconciliationSteps",
            ),
            rehearsed_on: r.rehearsed_on.map(Into::into),
            rehearsal_passed: r.rehearsal_passed,
            approved_by: None,
        });
        let war_room = input.war_room.map(|seats| {
            seats
                .into_iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let user_id = decode(
                        &s.user_id,
                        Kind::User,
                        &["warRoom", &i.to_string(), "userId"],
                    )
                    .map_err(|r| refusals.push(r))
                    .ok()?;
                    Some(WarRoomSeat {
                        user_id,
                        shift: s.shift,
                        contact: s.contact,
                    })
                })
                .collect()
        });
        let preparation = Preparation {
            rollback,
            war_room,
            hypercare_exit: input.hypercare_exit,
            communications: input.communications,
        };
        let result = match id.filter(|_| refusals.is_empty()) {
            Some(id) => service::go_live::prepare(state(ctx), &caller, id, preparation).await,
            None => refused(refusals),
        };
        respond(ctx, result)
    }

    /// The sponsor approves the rollback plan.
    async fn go_live_rollback_approve(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: GoLiveRollbackApproveInput,
    ) -> async_graphql::Result<GoLivePlanPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.plan_id, Kind::GoLivePlan, &["planId"]) {
            Ok(id) => service::go_live::approve_rollback(state(ctx), &caller, id).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result)
    }

    /// Adds a runbook task; a dependency cycle is refused. PROJECT_MANAGER, until the committee
    /// decides.
    async fn cutover_task_add(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: CutoverTaskAddInput,
    ) -> async_graphql::Result<CutoverTaskPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let id = plan_id(&mut refusals, &input.plan_id);
        let owner = input.owner_id.as_ref().and_then(|id| {
            decode(id, Kind::User, &["ownerId"])
                .map_err(|r| refusals.push(r))
                .ok()
        });
        let depends: Vec<uuid::Uuid> = input
            .depends_on
            .iter()
            .enumerate()
            .filter_map(|(i, id)| {
                decode(id, Kind::CutoverTask, &["dependsOn", &i.to_string()])
                    .map_err(|r| refusals.push(r))
                    .ok()
            })
            .collect();
        let result = match id.filter(|_| refusals.is_empty()) {
            Some(id) => {
                service::go_live::task_add(
                    state(ctx),
                    &caller,
                    id,
                    service::go_live::NewTask {
                        name: input.name,
                        owner_id: owner,
                        duration_minutes: input.duration_minutes,
                        dependencies: depends,
                        point_of_no_return: input.point_of_no_return,
                    },
                )
                .await
            }
            None => refused(refusals),
        };
        respond(ctx, result)
    }

    /// Moves a runbook task during cutover: its owner or the PM.
    async fn cutover_task_set_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: CutoverTaskSetStatusInput,
    ) -> async_graphql::Result<CutoverTaskPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::CutoverTask, &["id"]) {
            Ok(id) => {
                service::go_live::task_set_status(state(ctx), &caller, id, input.status.into())
                    .await
            }
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result)
    }

    /// Adds a manual go/no-go criterion. PROJECT_MANAGER, until the committee decides.
    async fn go_live_criterion_add(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: GoLiveCriterionAddInput,
    ) -> async_graphql::Result<GoLiveCriterionPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let id = plan_id(&mut refusals, &input.plan_id);
        let owner = input.owner_id.as_ref().and_then(|id| {
            decode(id, Kind::User, &["ownerId"])
                .map_err(|r| refusals.push(r))
                .ok()
        });
        let result = match id.filter(|_| refusals.is_empty()) {
            Some(id) => {
                service::go_live::manual_criterion_add(state(ctx), &caller, id, &input.name, owner)
                    .await
            }
            None => refused(refusals),
        };
        respond(ctx, result.map(ManualCriterion))
    }

    /// Ticks a manual criterion: its owner or the PM, until the committee decides.
    async fn go_live_criterion_set(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: GoLiveCriterionSetInput,
    ) -> async_graphql::Result<GoLiveCriterionPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::ManualCriterion, &["id"]) {
            Ok(id) => {
                service::go_live::manual_criterion_set(state(ctx), &caller, id, input.done).await
            }
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(ManualCriterion))
    }

    /// Sends the plan to the steering committee (GO / NO_GO ballot). PROJECT_MANAGER.
    async fn go_live_decision_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: GoLiveDecisionRequestInput,
    ) -> async_graphql::Result<GoLivePlanPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.plan_id, Kind::GoLivePlan, &["planId"]) {
            Ok(id) => service::go_live::request_decision(state(ctx), &caller, id).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result)
    }

    /// Records why a GO may proceed although criteria fail. PM or sponsor, while the decision
    /// is open; without it, a GO with failing criteria is refused.
    async fn go_live_override(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: GoLiveOverrideInput,
    ) -> async_graphql::Result<GoLivePlanPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.plan_id, Kind::GoLivePlan, &["planId"]) {
            Ok(id) => service::go_live::set_override(state(ctx), &caller, id, &input.reason).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result)
    }

    /// Moves the plan (see GoLiveAction for which moves and who).
    async fn go_live_transition(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: GoLiveTransitionInput,
    ) -> async_graphql::Result<GoLivePlanPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.plan_id, Kind::GoLivePlan, &["planId"]) {
            Ok(id) => {
                service::go_live::transition(
                    state(ctx),
                    &caller,
                    id,
                    input.action.into(),
                    input.new_go_live,
                )
                .await
            }
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result)
    }

    /// Starts rolling back to the old system: the rollback plan's decision authority, during
    /// cutover or hypercare; after the point of no return only with `force`.
    async fn rollback_start(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: RollbackStartInput,
    ) -> async_graphql::Result<GoLivePlanPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.plan_id, Kind::GoLivePlan, &["planId"]) {
            Ok(id) => {
                service::go_live::rollback_start(
                    state(ctx),
                    &caller,
                    id,
                    &input.reason,
                    input.force,
                )
                .await
            }
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result)
    }

    /// Adds a metric the War Room watches. PROJECT_MANAGER.
    async fn hypercare_metric_add(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: HypercareMetricAddInput,
    ) -> async_graphql::Result<HypercareMetricPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.plan_id, Kind::GoLivePlan, &["planId"]) {
            Ok(id) => {
                service::go_live::metric_add(
                    state(ctx),
                    &caller,
                    id,
                    &input.name,
                    &input.unit,
                    input.target,
                    input.direction.into(),
                )
                .await
            }
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(HypercareMetric))
    }

    /// Records a reading during hypercare: War Room members or the PM.
    async fn hypercare_reading_record(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: HypercareReadingRecordInput,
    ) -> async_graphql::Result<HypercareReadingPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.metric_id, Kind::HypercareMetric, &["metricId"]) {
            Ok(id) => service::go_live::reading_record(state(ctx), &caller, id, input.value)
                .await
                .map(|(r, _)| MetricReading::from(r)),
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result)
    }
}
