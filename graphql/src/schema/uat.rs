//! UAT: scenarios, cycles, executions, defects, metrics and readiness.

use super::serial::SerialList;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use steerco_entity::{defect, defect_comment, test_cycle, test_execution, test_scenario};

use super::context::{actor, caller, state};
use super::date::Date;
use super::error::{Payload, UserError, payload, respond, to_top_level};
use super::id::{GlobalId, Kind, decode, encode};
use super::idempotency::IdempotencyKeyArg;
use super::user::User;
use crate::domain::uat::{self as rules, DefectCommand};
use crate::domain::{Refusal, Refusals};
use crate::service::uat::NewDefect;
use crate::service::{self, ServiceError};

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::uat::ProcessArea")]
pub enum ProcessArea {
    Sales,
    Marketing,
    Service,
    Data,
    Permissions,
    Integration,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::uat::ScenarioType")]
pub enum ScenarioType {
    Typical,
    Exception,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::uat::AcceptanceStage")]
pub enum AcceptanceStage {
    Requirements,
    Functional,
    Integration,
    UserTrial,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::uat::CycleStatus")]
pub enum TestCycleStatus {
    Planned,
    Running,
    Completed,
    SignedOff,
    Failed,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::uat::CycleAction")]
pub enum TestCycleAction {
    Start,
    Complete,
    /// By a BUSINESS_REP.
    SignOff,
    Fail,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::uat::ExecutionResult")]
pub enum ExecutionResult {
    NotRun,
    Passed,
    Failed,
    Blocked,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::uat::DefectCategory")]
pub enum DefectCategory {
    LogicDeviation,
    DataFlow,
    Ux,
    Permission,
    Performance,
    Other,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::uat::Severity")]
pub enum Severity {
    Critical,
    Major,
    Minor,
    Trivial,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::uat::Priority")]
pub enum Priority {
    P1,
    P2,
    P3,
    P4,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::uat::DefectStatus")]
pub enum DefectStatus {
    New,
    Triaged,
    Assigned,
    InFix,
    ReadyForRetest,
    Verified,
    Closed,
    Reopened,
    Deferred,
    Rejected,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::uat::RejectReason")]
pub enum RejectReason {
    NotADefect,
    /// Needs `duplicateOf`.
    Duplicate,
    WorksAsDesigned,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::uat::DefectAction")]
pub enum DefectAction {
    /// NEW or DEFERRED → TRIAGED (PM or QA; severity and priority set).
    Triage,
    /// TRIAGED or REOPENED → ASSIGNED (PM or QA; `assigneeId`).
    Assign,
    /// ASSIGNED → IN_FIX (the assignee).
    StartFix,
    /// IN_FIX → READY_FOR_RETEST (the assignee).
    MarkReadyForRetest,
    /// READY_FOR_RETEST → VERIFIED (reporter, QA or business rep).
    Verify,
    /// VERIFIED → CLOSED (PM or QA).
    Close,
    /// READY_FOR_RETEST → REOPENED (reporter, QA or business rep; `reason`).
    Reopen,
    /// TRIAGED → DEFERRED (PM or QA; CRITICAL and MAJOR: PM only, `reason`).
    Defer,
    /// TRIAGED → REJECTED (PM or QA; `rejectReason`, `duplicateOf` for DUPLICATE).
    Reject,
}

#[derive(SimpleObject, Clone)]
pub struct ScenarioStep {
    pub number: i32,
    pub action: String,
    pub expected_result: String,
}

/// An end-to-end business scenario.
#[derive(Clone)]
pub struct TestScenario(pub test_scenario::Model);

#[Object]
impl TestScenario {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::TestScenario, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn area(&self) -> Option<ProcessArea> {
        self.0
            .area
            .parse::<rules::ProcessArea>()
            .ok()
            .map(Into::into)
    }
    async fn is_core(&self) -> bool {
        self.0.is_core
    }
    async fn scenario_type(&self) -> Option<ScenarioType> {
        self.0
            .scenario_type
            .parse::<rules::ScenarioType>()
            .ok()
            .map(Into::into)
    }
    async fn steps(&self) -> Vec<ScenarioStep> {
        service::uat::steps_of(&self.0)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, s)| ScenarioStep {
                number: i as i32 + 1,
                action: s.action,
                expected_result: s.expected_result,
            })
            .collect()
    }
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.owner_id else {
            return Ok(None);
        };
        Ok(super::loader::user(ctx, id).await?.map(User))
    }
}

/// A scenario of the built-in library.
#[derive(SimpleObject)]
pub struct LibraryScenario {
    pub name: String,
    pub area: ProcessArea,
    pub is_core: bool,
    pub scenario_type: ScenarioType,
    pub steps: Vec<ScenarioStep>,
}

#[derive(SimpleObject)]
pub struct PassRate {
    pub passed: u32,
    /// Results other than NOT_RUN.
    pub executed: u32,
    pub total: u32,
    /// passed ÷ total, in percent.
    pub percent: u32,
}

fn pass_rate(rate: rules::PassRate) -> PassRate {
    let percent = (rate.passed * 100).checked_div(rate.total).unwrap_or(0);
    PassRate {
        passed: rate.passed,
        executed: rate.executed,
        total: rate.total,
        percent,
    }
}

/// A round of acceptance testing.
#[derive(Clone)]
pub struct TestCycle(pub test_cycle::Model);

impl TestCycle {
    /// Every scenario of the project with its worst result in this cycle, from the scenarios
    /// and executions the request's loaders read for every cycle shown.
    async fn rows(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<rules::ExecutionRow>> {
        let (scenarios, executions) = futures_util::future::try_join(
            super::loader::children::<super::loader::ScenariosLoader>(ctx, self.0.project_id),
            super::loader::children::<super::loader::ExecutionsLoader>(ctx, self.0.id),
        )
        .await?;
        service::uat::execution_rows_from(&scenarios, &executions).map_err(|e| to_top_level(ctx, e))
    }
}

#[Object]
impl TestCycle {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::TestCycle, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn stage(&self) -> Option<AcceptanceStage> {
        self.0
            .stage
            .parse::<rules::AcceptanceStage>()
            .ok()
            .map(Into::into)
    }
    async fn environment(&self) -> &str {
        &self.0.environment
    }
    async fn planned_start(&self) -> Option<Date> {
        self.0.planned_start.map(Date)
    }
    async fn planned_end(&self) -> Option<Date> {
        self.0.planned_end.map(Date)
    }
    async fn status(&self) -> Option<TestCycleStatus> {
        self.0
            .status
            .parse::<rules::CycleStatus>()
            .ok()
            .map(Into::into)
    }
    async fn signed_off_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.signed_off_by else {
            return Ok(None);
        };
        Ok(super::loader::user(ctx, id).await?.map(User))
    }
    async fn signed_off_at(&self) -> Option<DateTime<Utc>> {
        self.0.signed_off_at
    }
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn executions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TestExecution>> {
        let rows =
            super::loader::children::<super::loader::ExecutionsLoader>(ctx, self.0.id).await?;
        Ok(rows.into_iter().map(TestExecution).collect())
    }
    /// Pass rate over every scenario of the project (NOT_RUN counts as not passed).
    async fn pass_rate(&self, ctx: &Context<'_>) -> async_graphql::Result<PassRate> {
        Ok(pass_rate(rules::pass_rate(&self.rows(ctx).await?, false)))
    }
    /// Pass rate over core scenarios only.
    async fn core_pass_rate(&self, ctx: &Context<'_>) -> async_graphql::Result<PassRate> {
        Ok(pass_rate(rules::pass_rate(&self.rows(ctx).await?, true)))
    }
    async fn version(&self) -> i64 {
        self.0.version
    }
}

/// One tester's result for one scenario in one cycle.
#[derive(Clone)]
pub struct TestExecution(pub test_execution::Model);

#[Object]
impl TestExecution {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::TestExecution, self.0.id)
    }
    async fn scenario_id(&self) -> GlobalId {
        GlobalId(Kind::TestScenario, self.0.scenario_id)
    }
    async fn cycle_id(&self) -> GlobalId {
        GlobalId(Kind::TestCycle, self.0.cycle_id)
    }
    async fn tester(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(super::loader::user(ctx, self.0.tester_id).await?.map(User))
    }
    async fn result(&self) -> Option<ExecutionResult> {
        self.0
            .result
            .parse::<rules::ExecutionResult>()
            .ok()
            .map(Into::into)
    }
    async fn notes(&self) -> &str {
        &self.0.notes
    }
    async fn evidence_url(&self) -> Option<&str> {
        self.0.evidence_url.as_deref()
    }
    async fn executed_at(&self) -> DateTime<Utc> {
        self.0.executed_at
    }
}

pub struct DefectComment(defect_comment::Model);

#[Object]
impl DefectComment {
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(super::loader::user(ctx, self.0.author_id).await?.map(User))
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A defect found in testing or after go-live.
#[derive(Clone)]
pub struct Defect(pub defect::Model);

#[Object]
impl Defect {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::Defect, self.0.id)
    }
    /// DEF-1, DEF-2, ... per project.
    async fn key(&self) -> String {
        service::uat::key_of(&self.0)
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn steps_to_reproduce(&self) -> &str {
        &self.0.steps_to_reproduce
    }
    async fn expected_result(&self) -> &str {
        &self.0.expected_result
    }
    async fn actual_result(&self) -> &str {
        &self.0.actual_result
    }
    async fn category(&self) -> Option<DefectCategory> {
        self.0
            .category
            .parse::<rules::DefectCategory>()
            .ok()
            .map(Into::into)
    }
    async fn severity(&self) -> Option<Severity> {
        self.0
            .severity
            .as_deref()
            .and_then(|s| s.parse::<rules::Severity>().ok())
            .map(Into::into)
    }
    async fn priority(&self) -> Option<Priority> {
        self.0
            .priority
            .as_deref()
            .and_then(|p| p.parse::<rules::Priority>().ok())
            .map(Into::into)
    }
    async fn environment(&self) -> &str {
        &self.0.environment
    }
    async fn found_in_cycle_id(&self) -> Option<ID> {
        self.0
            .found_in_cycle_id
            .map(|id| encode(Kind::TestCycle, id))
    }
    async fn scenario_id(&self) -> Option<GlobalId> {
        self.0
            .scenario_id
            .map(|id| GlobalId(Kind::TestScenario, id))
    }
    async fn execution_id(&self) -> Option<ID> {
        self.0
            .execution_id
            .map(|id| encode(Kind::TestExecution, id))
    }
    async fn reporter(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(super::loader::user(ctx, self.0.reporter_id)
            .await?
            .map(User))
    }
    async fn assignee(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.assignee_id else {
            return Ok(None);
        };
        Ok(super::loader::user(ctx, id).await?.map(User))
    }
    async fn found_after_go_live(&self) -> bool {
        self.0.found_after_go_live
    }
    async fn status(&self) -> Option<DefectStatus> {
        self.0
            .status
            .parse::<rules::DefectStatus>()
            .ok()
            .map(Into::into)
    }
    async fn reject_reason(&self) -> Option<RejectReason> {
        self.0
            .reject_reason
            .as_deref()
            .and_then(|r| r.parse::<rules::RejectReason>().ok())
            .map(Into::into)
    }
    async fn duplicate_of(&self) -> Option<GlobalId> {
        self.0.duplicate_of.map(|id| GlobalId(Kind::Defect, id))
    }
    /// Why it was last deferred or reopened.
    async fn status_reason(&self) -> Option<&str> {
        self.0.status_reason.as_deref()
    }
    async fn reopen_count(&self) -> i32 {
        self.0.reopen_count
    }
    async fn allowed_actions(&self) -> Vec<DefectAction> {
        self.0
            .status
            .parse::<rules::DefectStatus>()
            .map(|s| {
                rules::defect_allowed_actions(s)
                    .into_iter()
                    .map(Into::into)
                    .collect()
            })
            .unwrap_or_default()
    }
    async fn comments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DefectComment>> {
        let rows =
            super::loader::children::<super::loader::DefectCommentsLoader>(ctx, self.0.id).await?;
        Ok(rows.into_iter().map(DefectComment).collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn version(&self) -> i64 {
        self.0.version
    }
}

#[derive(SimpleObject)]
pub struct SeverityCount {
    pub severity: Option<Severity>,
    pub count: u32,
}

#[derive(SimpleObject)]
pub struct DefectStatusCount {
    pub status: DefectStatus,
    pub count: u32,
}

/// UAT in figures. Each figure reads what it needs when it is asked for: the open defects by
/// severity are counted by the database, the others share the defects' metric rows, read
/// once per request.
pub struct UatMetrics {
    project: steerco_entity::project::Model,
    rows: tokio::sync::OnceCell<Vec<rules::DefectRow>>,
}

impl UatMetrics {
    /// The metrics of a project's UAT; nothing is read until a figure is asked for.
    pub fn of(project: &steerco_entity::project::Model) -> Self {
        Self {
            project: project.clone(),
            rows: tokio::sync::OnceCell::new(),
        }
    }

    fn today(&self, ctx: &Context<'_>) -> NaiveDate {
        service::project::today_in(&self.project, state(ctx).clock.now())
    }

    async fn rows(&self, ctx: &Context<'_>) -> async_graphql::Result<&[rules::DefectRow]> {
        let rows = self
            .rows
            .get_or_try_init(|| async {
                let stored = super::loader::children::<super::loader::DefectMetricsLoader>(
                    ctx,
                    self.project.id,
                )
                .await?;
                service::uat::defect_rows_from(&self.project, &stored)
                    .map_err(|e| to_top_level(ctx, e))
            })
            .await?;
        Ok(rows)
    }
}

/// UAT in figures.
#[Object]
impl UatMetrics {
    async fn open_defects_by_severity(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<SerialList<SeverityCount>> {
        let counts =
            super::loader::children::<super::loader::OpenDefectCountsLoader>(ctx, self.project.id)
                .await?;
        Ok(service::uat::open_by_severity(&counts)
            .into_iter()
            .map(|(severity, count)| SeverityCount {
                severity: severity.map(Into::into),
                count,
            })
            .collect())
    }
    async fn defects_by_status(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<DefectStatusCount>> {
        let rows = self.rows(ctx).await?;
        Ok(rules::DefectStatus::ALL
            .into_iter()
            .map(|status| DefectStatusCount {
                status: status.into(),
                count: rows.iter().filter(|r| r.status == status).count() as u32,
            })
            .collect())
    }
    /// Days the oldest open defect has been open.
    async fn oldest_open_defect_days(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        Ok(rules::ageing(self.rows(ctx).await?, self.today(ctx)).0)
    }
    async fn average_open_defect_days(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        Ok(rules::ageing(self.rows(ctx).await?, self.today(ctx)).1)
    }
    /// Defects reopened at least once, in percent.
    async fn reopen_rate_percent(&self, ctx: &Context<'_>) -> async_graphql::Result<u32> {
        Ok(rules::reopen_rate(self.rows(ctx).await?))
    }
    /// Defects found after go-live, in percent of all defects.
    async fn go_live_bug_rate_percent(&self, ctx: &Context<'_>) -> async_graphql::Result<u32> {
        Ok(rules::go_live_bug_rate(self.rows(ctx).await?))
    }
}

/// One exit criterion of UAT (DOMAIN §6.2) with its current value.
#[derive(SimpleObject)]
pub struct ReadinessCriterion {
    pub key: String,
    pub description: String,
    pub value: String,
    pub threshold: String,
    pub holds: bool,
}

#[derive(SimpleObject)]
pub struct UatReadiness {
    /// True only when every criterion holds.
    pub ready: bool,
    pub criteria: Vec<ReadinessCriterion>,
}

#[derive(InputObject, Default)]
pub struct DefectFilterInput {
    #[graphql(default)]
    pub status: Vec<DefectStatus>,
    #[graphql(default)]
    pub severity: Vec<Severity>,
    pub assignee_id: Option<ID>,
    /// Only open defects (not verified, closed, deferred or rejected).
    pub open: Option<bool>,
}

#[derive(Default)]
pub struct UatQuery;

fn steps(list: Vec<rules::StepDraft>) -> Vec<ScenarioStep> {
    list.into_iter()
        .enumerate()
        .map(|(i, s)| ScenarioStep {
            number: i as i32 + 1,
            action: s.action,
            expected_result: s.expected_result,
        })
        .collect()
}

#[Object]
impl UatQuery {
    /// The built-in scenario library a project can import.
    async fn scenario_library(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<LibraryScenario>> {
        actor(ctx)?;
        Ok(rules::library()
            .into_iter()
            .map(|d| LibraryScenario {
                name: d.name,
                area: d.area.into(),
                is_core: d.is_core,
                scenario_type: d.scenario_type.into(),
                steps: steps(d.steps),
            })
            .collect())
    }

    /// UAT exit criteria (DOMAIN §6.2) computed from live data. Null when the project is not
    /// visible.
    async fn uat_readiness(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
    ) -> async_graphql::Result<Option<UatReadiness>> {
        actor(ctx)?;
        let Ok(project_id) = decode(&project_id, Kind::Project, &["projectId"]) else {
            return Ok(None);
        };
        let app = state(ctx);
        let Some(project) =
            super::loader::visible_project(ctx, super::loader::ProjectKey::Id(project_id)).await?
        else {
            return Ok(None);
        };
        let readiness = service::uat::readiness(app, &project)
            .await
            .map_err(|e| to_top_level(ctx, e))?;
        Ok(Some(UatReadiness {
            ready: readiness.ready,
            criteria: readiness
                .criteria
                .into_iter()
                .map(|c| ReadinessCriterion {
                    key: c.key.to_owned(),
                    description: c.description.to_owned(),
                    value: c.value,
                    threshold: c.threshold,
                    holds: c.holds,
                })
                .collect(),
        }))
    }
}

/// The project-level UAT fields, resolved for `Project`.
pub async fn project_scenarios(
    ctx: &Context<'_>,
    project_id: uuid::Uuid,
) -> async_graphql::Result<Vec<TestScenario>> {
    let rows = super::loader::children::<super::loader::ScenariosLoader>(ctx, project_id).await?;
    Ok(rows.into_iter().map(TestScenario).collect())
}

pub async fn project_cycles(
    ctx: &Context<'_>,
    project_id: uuid::Uuid,
) -> async_graphql::Result<Vec<TestCycle>> {
    let rows = super::loader::children::<super::loader::CyclesLoader>(ctx, project_id).await?;
    Ok(rows.into_iter().map(TestCycle).collect())
}

/// Those of a project's defects that pass `filter`, in their order.
pub fn filtered_defects(rows: &[defect::Model], filter: DefectFilterInput) -> Vec<&defect::Model> {
    let statuses: Vec<rules::DefectStatus> = filter.status.into_iter().map(Into::into).collect();
    let severities: Vec<rules::Severity> = filter.severity.into_iter().map(Into::into).collect();
    let assignee = filter
        .assignee_id
        .map(|id| decode(&id, Kind::User, &["assigneeId"]).unwrap_or_default());
    rows.iter()
        .filter(|d| {
            let status = d.status.parse::<rules::DefectStatus>().ok();
            let severity = d
                .severity
                .as_deref()
                .and_then(|s| s.parse::<rules::Severity>().ok());
            (statuses.is_empty() || status.is_some_and(|s| statuses.contains(&s)))
                && (severities.is_empty() || severity.is_some_and(|s| severities.contains(&s)))
                && assignee.is_none_or(|a| d.assignee_id == Some(a))
                && filter
                    .open
                    .is_none_or(|open| status.is_some_and(|s| rules::is_open(s) == open))
        })
        .collect()
}

#[derive(InputObject)]
pub struct ScenarioStepInput {
    pub action: String,
    pub expected_result: String,
}

#[derive(InputObject)]
pub struct TestScenarioCreateInput {
    pub project_id: ID,
    pub name: String,
    pub area: ProcessArea,
    #[graphql(default)]
    pub is_core: bool,
    pub scenario_type: ScenarioType,
    pub steps: Vec<ScenarioStepInput>,
    pub owner_id: Option<ID>,
}

payload!(TestScenarioCreatePayload {
    scenario: TestScenario
});

#[derive(InputObject)]
pub struct ProjectIdInput {
    pub project_id: ID,
}

/// The scenarios created.
#[derive(SimpleObject)]
pub struct TestScenariosPayload {
    pub scenarios: Option<Vec<TestScenario>>,
    pub user_errors: Vec<UserError>,
}

impl Payload for TestScenariosPayload {
    type Value = Vec<test_scenario::Model>;
    fn ok(rows: Self::Value) -> Self {
        Self {
            scenarios: Some(rows.into_iter().map(TestScenario).collect()),
            user_errors: Vec::new(),
        }
    }
    fn refused(user_errors: Vec<UserError>) -> Self {
        Self {
            scenarios: None,
            user_errors,
        }
    }
}

#[derive(InputObject)]
pub struct TestScenarioCsvImportInput {
    pub project_id: ID,
    /// The file's text: header `scenario,area,core,type,step,action,expected_result`, one row
    /// per step. Every bad row is reported (`field: ["input", "csv", line, column]`) and
    /// nothing is imported.
    pub csv: String,
}

#[derive(InputObject)]
pub struct TestCycleCreateInput {
    pub project_id: ID,
    pub name: String,
    pub stage: AcceptanceStage,
    pub environment: String,
    pub planned_start: Option<Date>,
    pub planned_end: Option<Date>,
}

payload!(TestCyclePayload { cycle: TestCycle });

#[derive(InputObject)]
pub struct TestCycleTransitionInput {
    pub id: ID,
    pub action: TestCycleAction,
}

#[derive(InputObject)]
pub struct DefectInput {
    pub title: String,
    pub steps_to_reproduce: String,
    #[graphql(default)]
    pub expected_result: String,
    pub actual_result: String,
    pub category: Option<DefectCategory>,
    pub severity: Option<Severity>,
    pub priority: Option<Priority>,
    #[graphql(default)]
    pub environment: String,
    /// Whether it was found in production; left out, whether the project is live
    /// (LIVE_HYPERCARE or OPTIMIZATION) when it is logged.
    pub found_after_go_live: Option<bool>,
}

impl DefectInput {
    fn into_new(self) -> NewDefect {
        NewDefect {
            title: self.title,
            steps_to_reproduce: self.steps_to_reproduce,
            expected_result: self.expected_result,
            actual_result: self.actual_result,
            category: self.category.map(Into::into),
            severity: self.severity.map(Into::into),
            priority: self.priority.map(Into::into),
            environment: self.environment,
            found_in_cycle_id: None,
            scenario_id: None,
            found_after_go_live: self.found_after_go_live,
        }
    }
}

#[derive(InputObject)]
pub struct TestExecutionRecordInput {
    pub cycle_id: ID,
    pub scenario_id: ID,
    pub result: ExecutionResult,
    pub notes: Option<String>,
    pub evidence_url: Option<String>,
    /// With FAILED: a defect to log, linked to this execution, in the same transaction.
    pub defect: Option<DefectInput>,
}

/// The execution, and the defect it raised.
#[derive(SimpleObject)]
pub struct TestExecutionRecordPayload {
    pub execution: Option<TestExecution>,
    pub defect: Option<Defect>,
    pub user_errors: Vec<UserError>,
}

impl Payload for TestExecutionRecordPayload {
    type Value = (test_execution::Model, Option<defect::Model>);
    fn ok((execution, defect): Self::Value) -> Self {
        Self {
            execution: Some(TestExecution(execution)),
            defect: defect.map(Defect),
            user_errors: Vec::new(),
        }
    }
    fn refused(user_errors: Vec<UserError>) -> Self {
        Self {
            execution: None,
            defect: None,
            user_errors,
        }
    }
}

#[derive(InputObject)]
pub struct DefectCreateInput {
    pub project_id: ID,
    pub defect: DefectInput,
    pub found_in_cycle_id: Option<ID>,
    pub scenario_id: Option<ID>,
}

payload!(DefectPayload { defect: Defect });

#[derive(InputObject)]
pub struct DefectGradeInput {
    pub id: ID,
    pub expected_version: i64,
    pub severity: Option<Severity>,
    pub priority: Option<Priority>,
    pub category: Option<DefectCategory>,
}

#[derive(InputObject)]
pub struct DefectTransitionInput {
    pub id: ID,
    pub action: DefectAction,
    /// With ASSIGN.
    pub assignee_id: Option<ID>,
    /// With REOPEN and DEFER.
    pub reason: Option<String>,
    /// With REJECT.
    pub reject_reason: Option<RejectReason>,
    /// With REJECT as DUPLICATE.
    pub duplicate_of: Option<ID>,
}

#[derive(InputObject)]
pub struct DefectCommentInput {
    pub id: ID,
    pub body: String,
}

fn refused<T>(refusals: Refusals) -> Result<T, ServiceError> {
    Err(ServiceError::Refused(
        refusals
            .finish()
            .err()
            .unwrap_or_else(|| vec![Refusal::bad_input(&[], "bad id")]),
    ))
}

fn command(
    input: &DefectTransitionInput,
    defect_id: uuid::Uuid,
    refusals: &mut Refusals,
) -> Option<DefectCommand> {
    let reason = || input.reason.clone().unwrap_or_default();
    Some(match input.action {
        DefectAction::Triage => DefectCommand::Triage,
        DefectAction::Assign => {
            let Some(id) = &input.assignee_id else {
                refusals.push(Refusal::bad_input(
                    &["assigneeId"],
                    "ASSIGN needs an assignee",
                ));
                return None;
            };
            DefectCommand::Assign {
                assignee: decode(id, Kind::User, &["assigneeId"])
                    .map_err(|r| refusals.push(r))
                    .ok()?,
            }
        }
        DefectAction::StartFix => DefectCommand::StartFix,
        DefectAction::MarkReadyForRetest => DefectCommand::MarkReadyForRetest,
        DefectAction::Verify => DefectCommand::Verify,
        DefectAction::Close => DefectCommand::Close,
        DefectAction::Reopen => DefectCommand::Reopen { reason: reason() },
        DefectAction::Defer => DefectCommand::Defer { reason: reason() },
        DefectAction::Reject => {
            let Some(why) = input.reject_reason else {
                refusals.push(Refusal::bad_input(
                    &["rejectReason"],
                    "REJECT needs a reason",
                ));
                return None;
            };
            let duplicate_of = match &input.duplicate_of {
                Some(id) => Some(
                    decode(id, Kind::Defect, &["duplicateOf"])
                        .map_err(|r| refusals.push(r))
                        .ok()?,
                ),
                None => None,
            };
            DefectCommand::Reject {
                reason: why.into(),
                duplicate_of,
                defect_id,
            }
        }
    })
}

#[derive(Default)]
pub struct UatMutation;

#[Object]
impl UatMutation {
    /// Adds a scenario. PM, QA, business representatives and super users.
    async fn test_scenario_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: TestScenarioCreateInput,
    ) -> async_graphql::Result<TestScenarioCreatePayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let project_id = decode(&input.project_id, Kind::Project, &["projectId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let owner = input.owner_id.as_ref().and_then(|id| {
            decode(id, Kind::User, &["ownerId"])
                .map_err(|r| refusals.push(r))
                .ok()
        });
        let draft = rules::ScenarioDraft {
            name: input.name,
            area: input.area.into(),
            is_core: input.is_core,
            scenario_type: input.scenario_type.into(),
            steps: input
                .steps
                .into_iter()
                .map(|s| rules::StepDraft {
                    action: s.action,
                    expected_result: s.expected_result,
                })
                .collect(),
        };
        let result = match project_id.filter(|_| refusals.is_empty()) {
            Some(id) => service::uat::scenario_create(state(ctx), &caller, id, draft, owner).await,
            None => refused(refusals),
        };
        respond(ctx, result.map(TestScenario))
    }

    /// Imports the built-in scenario library (names the project already has are skipped).
    async fn test_scenario_library_import(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ProjectIdInput,
    ) -> async_graphql::Result<TestScenariosPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.project_id, Kind::Project, &["projectId"]) {
            Ok(id) => service::uat::library_import(state(ctx), &caller, id).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result)
    }

    /// Imports scenarios from CSV: all or nothing.
    async fn test_scenario_csv_import(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: TestScenarioCsvImportInput,
    ) -> async_graphql::Result<TestScenariosPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.project_id, Kind::Project, &["projectId"]) {
            Ok(id) => service::uat::csv_import(state(ctx), &caller, id, &input.csv).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result)
    }

    /// Plans a test cycle (PLANNED).
    async fn test_cycle_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: TestCycleCreateInput,
    ) -> async_graphql::Result<TestCyclePayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.project_id, Kind::Project, &["projectId"]) {
            Ok(id) => {
                service::uat::cycle_create(
                    state(ctx),
                    &caller,
                    id,
                    service::uat::NewCycle {
                        name: input.name,
                        stage: input.stage.into(),
                        environment: input.environment,
                        planned_start: input.planned_start.map(Into::into),
                        planned_end: input.planned_end.map(Into::into),
                    },
                )
                .await
            }
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(TestCycle))
    }

    /// Starts, completes, fails or signs off (BUSINESS_REP) a cycle.
    async fn test_cycle_transition(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: TestCycleTransitionInput,
    ) -> async_graphql::Result<TestCyclePayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::TestCycle, &["id"]) {
            Ok(id) => service::uat::cycle_transition(state(ctx), &caller, id, input.action.into())
                .await
                .map(|(cycle, _)| cycle),
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(TestCycle))
    }

    /// Records the caller's result for a scenario in a running cycle; with FAILED, may log a
    /// linked defect in the same transaction.
    async fn test_execution_record(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: TestExecutionRecordInput,
    ) -> async_graphql::Result<TestExecutionRecordPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let cycle_id = decode(&input.cycle_id, Kind::TestCycle, &["cycleId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let scenario_id = decode(&input.scenario_id, Kind::TestScenario, &["scenarioId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let result = match (cycle_id, scenario_id) {
            (Some(cycle_id), Some(scenario_id)) if refusals.is_empty() => {
                service::uat::execution_record(
                    state(ctx),
                    &caller,
                    service::uat::ExecutionInput {
                        cycle_id,
                        scenario_id,
                        result: input.result.into(),
                        notes: input.notes,
                        evidence_url: input.evidence_url,
                        defect: input.defect.map(DefectInput::into_new),
                    },
                )
                .await
                .map(|(execution, defect, _)| (execution, defect))
            }
            _ => refused(refusals),
        };
        respond(ctx, result)
    }

    /// Logs a defect (NEW). Any member but a mere VIEWER.
    async fn defect_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: DefectCreateInput,
    ) -> async_graphql::Result<DefectPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let project_id = decode(&input.project_id, Kind::Project, &["projectId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let cycle = input.found_in_cycle_id.as_ref().and_then(|id| {
            decode(id, Kind::TestCycle, &["foundInCycleId"])
                .map_err(|r| refusals.push(r))
                .ok()
        });
        let scenario = input.scenario_id.as_ref().and_then(|id| {
            decode(id, Kind::TestScenario, &["scenarioId"])
                .map_err(|r| refusals.push(r))
                .ok()
        });
        let mut defect = input.defect.into_new();
        defect.found_in_cycle_id = cycle;
        defect.scenario_id = scenario;
        let result = match project_id.filter(|_| refusals.is_empty()) {
            Some(id) => service::uat::defect_create(state(ctx), &caller, id, defect)
                .await
                .map(|(d, _)| d),
            None => refused(refusals),
        };
        respond(ctx, result.map(Defect))
    }

    /// Sets severity, priority or category of an open defect: PM or QA (or the reporter while
    /// NEW).
    async fn defect_grade(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: DefectGradeInput,
    ) -> async_graphql::Result<DefectPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::Defect, &["id"]) {
            Ok(id) => {
                service::uat::defect_grade(
                    state(ctx),
                    &caller,
                    id,
                    input.expected_version,
                    input.severity.map(Into::into),
                    input.priority.map(Into::into),
                    input.category.map(Into::into),
                )
                .await
            }
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(Defect))
    }

    /// Moves a defect through its fix–retest loop (see DefectAction for who may).
    async fn defect_transition(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: DefectTransitionInput,
    ) -> async_graphql::Result<DefectPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let id = decode(&input.id, Kind::Defect, &["id"])
            .map_err(|r| refusals.push(r))
            .ok();
        let command = id.and_then(|id| command(&input, id, &mut refusals));
        let result = match (id, command) {
            (Some(id), Some(command)) if refusals.is_empty() => {
                service::uat::defect_transition(state(ctx), &caller, id, command)
                    .await
                    .map(|(d, _)| d)
            }
            _ => refused(refusals),
        };
        respond(ctx, result.map(Defect))
    }

    /// Comments on a defect.
    async fn defect_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: DefectCommentInput,
    ) -> async_graphql::Result<DefectPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::Defect, &["id"]) {
            Ok(id) => service::uat::defect_comment(state(ctx), &caller, id, &input.body).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(Defect))
    }
}
