//! Projects: the object, its queries and its mutations.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use steerco_entity::project;

use super::context::{actor, caller, state};
use super::date::Date;
use super::error::{payload, respond, to_top_level};
use super::id::{GlobalId, Kind, decode};
use super::idempotency::IdempotencyKeyArg;
use super::loader::{MembersLoader, ProjectKey};
use super::member::ProjectMember;
use super::page::{Conn, PageArgs, connection};
use crate::domain::authz::{ProjectOperation, Subject, permits};
use crate::domain::change_request::RedLine;
use crate::domain::phase_template::TemplateKey;
use crate::domain::project::{
    self as rules, ProjectAction as DomainAction, ProjectStatus as DomainStatus,
};
use crate::domain::role::RoleSet;
use crate::service::project::{
    MoneyInput as MoneyCommand, NewProject, Patch, ProjectChanges, ProjectFilter,
};
use crate::service::{self, access::stored_roles};

/// The project lifecycle (DOMAIN §12.1).
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::project::ProjectStatus")]
pub enum ProjectStatus {
    Proposed,
    Initiated,
    InExecution,
    LiveHypercare,
    Optimization,
    Closed,
    OnHold,
    Cancelled,
}

/// Commands of the project lifecycle.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::project::ProjectAction")]
pub enum ProjectAction {
    /// PROPOSED → INITIATED; needs a SPONSOR and a PROJECT_MANAGER.
    Initiate,
    /// INITIATED → IN_EXECUTION.
    StartExecution,
    // Kept so that no client's document breaks; refused but for projects live without a plan.
    /// Refused (PRECONDITION_FAILED): the go-live plan takes the project to LIVE_HYPERCARE
    /// (goLiveTransition GO_LIVE).
    GoLive,
    /// Refused (PRECONDITION_FAILED) while a go-live plan is LIVE: it takes the project to
    /// OPTIMIZATION (goLiveTransition CLOSE_HYPERCARE). A project live with no LIVE plan (taken
    /// live before plans made that move) leaves hypercare with it.
    StartOptimization,
    /// OPTIMIZATION → CLOSED.
    Close,
    /// Any open state → ON_HOLD; needs a reason.
    Hold,
    /// ON_HOLD → the state it was held in.
    Resume,
    /// Any open state or ON_HOLD → CANCELLED; needs a reason.
    Cancel,
}

/// An exact amount of money.
#[derive(SimpleObject, Clone, Debug)]
pub struct Money {
    /// Decimal, as a string, e.g. "1250000.00".
    pub amount: Decimal,
    /// ISO 4217 code, e.g. "CNY".
    pub currency: String,
}

#[derive(InputObject, Clone, Debug)]
pub struct MoneyInput {
    pub amount: Decimal,
    pub currency: String,
}

impl From<MoneyInput> for MoneyCommand {
    fn from(input: MoneyInput) -> Self {
        Self {
            amount: input.amount,
            currency: input.currency,
        }
    }
}

/// A CRM implementation project.
#[derive(Clone, Debug)]
pub struct Project(pub project::Model);

impl Project {
    async fn members_of(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<steerco_entity::project_member::Model>> {
        super::loader::children::<MembersLoader>(ctx, self.0.id).await
    }

    async fn subject(&self, ctx: &Context<'_>) -> async_graphql::Result<Subject> {
        let viewer = actor(ctx)?;
        let members = self.members_of(ctx).await?;
        let roles = match members.iter().find(|m| m.user_id == viewer.user_id) {
            Some(member) => stored_roles(&member.roles).map_err(|e| to_top_level(ctx, e))?,
            None => RoleSet::none(),
        };
        Ok(Subject {
            admin: viewer.admin,
            roles,
        })
    }

    fn status_value(&self) -> DomainStatus {
        self.0.status.parse().unwrap_or(DomainStatus::Proposed)
    }
}

#[Object]
impl Project {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::Project, self.0.id)
    }
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// IANA time zone in which the project's dates and deadlines are meant.
    async fn time_zone(&self) -> &str {
        &self.0.time_zone
    }
    async fn planned_start(&self) -> Option<Date> {
        self.0.planned_start.map(Date)
    }
    async fn target_go_live(&self) -> Option<Date> {
        self.0.target_go_live.map(Date)
    }
    async fn budget(&self) -> Option<Money> {
        let (amount, currency) = (
            self.0.budget_amount.as_deref()?,
            self.0.budget_currency.as_deref()?,
        );
        Some(Money {
            amount: amount.parse().ok()?,
            currency: currency.to_owned(),
        })
    }
    async fn status(&self) -> ProjectStatus {
        self.status_value().into()
    }
    /// Why the project is on hold or cancelled, or the note of its last transition.
    async fn status_reason(&self) -> Option<&str> {
        self.0.status_reason.as_deref()
    }
    /// Increases with every change; pass it as `expectedVersion` when editing.
    async fn version(&self) -> i64 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Everyone on the project, in joining order.
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ProjectMember>> {
        Ok(self
            .members_of(ctx)
            .await?
            .into_iter()
            .map(ProjectMember)
            .collect())
    }
    /// The signed-in user's roles on this project.
    async fn my_roles(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::member::ProjectRole>> {
        Ok(self
            .subject(ctx)
            .await?
            .roles
            .iter()
            .map(Into::into)
            .collect())
    }
    /// How the steering committee decides ballots on this project.
    async fn decision_rule(&self) -> super::decision::VotingRuleKind {
        super::decision::VotingRuleKind::from_code(&self.0.decision_rule)
    }
    /// The quorum, with the QUORUM rule.
    async fn decision_quorum(&self) -> Option<i32> {
        self.0.decision_quorum
    }
    async fn health_thresholds(&self) -> HealthThresholds {
        HealthThresholds {
            amber_slip_days: self.0.amber_slip_days,
            red_slip_days: self.0.red_slip_days,
        }
    }
    /// The phases, in order.
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn phases(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<super::serial::SerialList<super::phase::Phase>> {
        Ok(
            super::loader::children::<super::loader::PlanLoader>(ctx, self.0.id)
                .await?
                .phases()
                .cloned()
                .map(super::phase::Phase)
                .collect(),
        )
    }
    /// The project's milestones by forecast date, filtered.
    #[graphql(complexity = "super::page::cost(first, last, child_complexity)")]
    async fn milestones(
        &self,
        ctx: &Context<'_>,
        filter: Option<super::milestone::MilestoneFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<super::milestone::Milestone>> {
        let window = PageArgs {
            first,
            after,
            last,
            before,
        }
        .window::<i64>()?;
        let filter = filter.unwrap_or_default().into_filter();
        // The plan's milestones, which the project's schedule health reads too.
        let plan = super::loader::children::<super::loader::PlanLoader>(ctx, self.0.id).await?;
        let now = state(ctx).clock.now();
        let all = service::milestone::filtered(&self.0, plan.milestones(), &filter, now)
            .map_err(|e| to_top_level(ctx, e))?;
        Ok(connection(
            super::page::in_memory(&all, &window),
            |(position, _)| *position,
            |(_, m)| super::milestone::Milestone(m.clone()),
        ))
    }
    /// Every finish-to-start link between the project's milestones.
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn milestone_dependencies(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::milestone::MilestoneDependency>> {
        let links =
            super::loader::children::<super::loader::MilestoneLinksLoader>(ctx, self.0.id).await?;
        Ok(links
            .into_iter()
            .map(super::milestone::MilestoneDependency)
            .collect())
    }
    /// Counts by health, total slip, the next milestone and the current phase.
    async fn schedule_health(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<super::milestone::ScheduleHealth> {
        let plan = super::loader::children::<super::loader::PlanLoader>(ctx, self.0.id).await?;
        let now = state(ctx).clock.now();
        let summary = service::milestone::schedule_health(&self.0, plan.milestones(), now)
            .map_err(|e| to_top_level(ctx, e))?;
        Ok(super::milestone::ScheduleHealth::of(self.0.id, summary))
    }
    /// The schedule baseline versions, oldest first.
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn schedule_baselines(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::milestone::ScheduleBaseline>> {
        let baselines =
            super::loader::children::<super::loader::ScheduleBaselinesLoader>(ctx, self.0.id)
                .await?;
        Ok(baselines
            .into_iter()
            .map(super::milestone::ScheduleBaseline)
            .collect())
    }
    /// Committee ballots of the project (gates, skips, re-baselines), newest first.
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn decisions(
        &self,
        ctx: &Context<'_>,
        status: Option<super::decision::DecisionStatus>,
    ) -> async_graphql::Result<Vec<super::decision::Decision>> {
        let status = status.map(|s| crate::domain::decision::DecisionStatus::from(s).as_str());
        let decisions =
            super::loader::children::<super::loader::ProjectDecisionsLoader>(ctx, self.0.id)
                .await?;
        Ok(decisions
            .into_iter()
            .filter(|ballot| status.is_none_or(|status| ballot.status == status))
            .map(super::decision::Decision)
            .collect())
    }
    /// The project's change requests by number, filtered.
    #[graphql(complexity = "super::page::cost(first, last, child_complexity)")]
    async fn change_requests(
        &self,
        ctx: &Context<'_>,
        filter: Option<super::change_request::ChangeRequestFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<super::change_request::ChangeRequest>> {
        actor(ctx)?;
        let window = PageArgs {
            first,
            after,
            last,
            before,
        }
        .window::<i64>()?;
        let filter = filter.unwrap_or_default();
        let filter = service::change_request::CrFilter {
            statuses: filter.status.into_iter().map(Into::into).collect(),
            categories: filter.category.into_iter().map(Into::into).collect(),
            requester_id: filter
                .requester_id
                .map(|id| decode(&id, Kind::User, &["requesterId"]).unwrap_or_default()),
            awaiting_my_vote: filter.awaiting_my_vote,
        };
        let all = super::loader::change_requests(ctx, self.0.id, filter).await?;
        Ok(connection(
            super::page::in_memory(&all, &window),
            |(position, _)| *position,
            |(_, cr)| super::change_request::ChangeRequest(cr),
        ))
    }
    /// Change requests raised and not yet decided (submitted, under assessment, waiting for
    /// information or for the decision).
    async fn open_change_request_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        super::loader::children::<super::loader::OpenChangeRequestCountLoader>(ctx, self.0.id).await
    }
    /// Counts by state, approved totals, and how far the baselines drifted from the first.
    async fn change_summary(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<super::change_request::ChangeSummary> {
        let summary =
            super::loader::children::<super::loader::ChangeSummaryLoader>(ctx, self.0.id).await?;
        Ok(summary.as_ref().clone().into())
    }
    /// The budget's baseline versions, oldest first (the first records the budget before any
    /// approved change).
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn cost_baselines(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::change_request::CostBaseline>> {
        let versions =
            super::loader::children::<super::loader::CostBaselinesLoader>(ctx, self.0.id).await?;
        Ok(versions
            .into_iter()
            .map(super::change_request::CostBaseline)
            .collect())
    }
    /// Below this line the PM decides change requests alone.
    async fn red_line(&self) -> super::change_request::RedLineView {
        let (schedule_days, cost, risk) = service::change_request::red_line(&self.0);
        super::change_request::RedLineView {
            schedule_days,
            cost,
            risk: risk.into(),
        }
    }
    /// Go-live plans, oldest first; the last is the current one.
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn go_live_plans(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::go_live::GoLivePlan>> {
        let plans =
            super::loader::children::<super::loader::GoLivePlansLoader>(ctx, self.0.id).await?;
        Ok(plans.into_iter().map(super::go_live::GoLivePlan).collect())
    }
    /// The project's UAT scenarios.
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn test_scenarios(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::uat::TestScenario>> {
        super::uat::project_scenarios(ctx, self.0.id).await
    }
    /// The project's scenarios as CSV (the import format).
    async fn test_scenarios_csv(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let scenarios =
            super::loader::children::<super::loader::ScenariosLoader>(ctx, self.0.id).await?;
        service::uat::csv_of(&scenarios).map_err(|e| to_top_level(ctx, e))
    }
    /// Test cycles, oldest first.
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn test_cycles(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::uat::TestCycle>> {
        super::uat::project_cycles(ctx, self.0.id).await
    }
    /// Defects by key, filtered.
    #[graphql(complexity = "super::page::cost(first, last, child_complexity)")]
    async fn defects(
        &self,
        ctx: &Context<'_>,
        filter: Option<super::uat::DefectFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<super::uat::Defect>> {
        let window = PageArgs {
            first,
            after,
            last,
            before,
        }
        .window::<i64>()?;
        let all = super::loader::children::<super::loader::DefectsLoader>(ctx, self.0.id).await?;
        let matching = super::uat::filtered_defects(&all, filter.unwrap_or_default());
        Ok(connection(
            super::page::in_memory(&matching, &window),
            |(position, _)| *position,
            |(_, d)| super::uat::Defect(d.clone()),
        ))
    }
    /// UAT in figures: open defects by severity and status, ageing, reopen and go-live bug rates.
    async fn uat_metrics(&self) -> super::uat::UatMetrics {
        super::uat::UatMetrics::of(&self.0)
    }
    /// The current scope baseline, if the scope has been signed off.
    async fn scope(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<super::scope::ScopeVersion>> {
        let versions =
            super::loader::children::<super::loader::ScopeVersionsLoader>(ctx, self.0.id).await?;
        let baselined = crate::domain::scope::ScopeStatus::Baselined.as_str();
        Ok(versions
            .into_iter()
            .rfind(|version| version.status == baselined)
            .map(super::scope::ScopeVersion))
    }
    /// Every scope version, oldest first.
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn scope_versions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::scope::ScopeVersion>> {
        let versions =
            super::loader::children::<super::loader::ScopeVersionsLoader>(ctx, self.0.id).await?;
        Ok(versions
            .into_iter()
            .map(super::scope::ScopeVersion)
            .collect())
    }
    /// The lifecycle actions the signed-in user may take now (guards aside).
    async fn allowed_actions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ProjectAction>> {
        let subject = self.subject(ctx).await?;
        let held_from = self
            .0
            .status_before_hold
            .as_deref()
            .and_then(|s| s.parse().ok());
        Ok(rules::allowed_actions(self.status_value(), held_from)
            .into_iter()
            .filter(|action| permits(&subject, ProjectOperation::Transition(*action)))
            .map(Into::into)
            .collect())
    }
}

#[derive(InputObject, Default)]
pub struct ProjectFilterInput {
    /// Only projects in one of these states.
    #[graphql(default)]
    pub status: Vec<ProjectStatus>,
    /// Part of the code or name, case-insensitive.
    pub search: Option<String>,
}

#[derive(Default)]
pub struct ProjectQuery;

#[Object]
impl ProjectQuery {
    /// A project by id or code (exactly one of them). Null when it does not exist or the
    /// signed-in user is not a member.
    async fn project(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        code: Option<String>,
    ) -> async_graphql::Result<Option<Project>> {
        actor(ctx)?;
        let key = match (id, code) {
            (Some(id), None) => decode(&id, Kind::Project, &["id"]).ok().map(ProjectKey::Id),
            (None, Some(code)) => service::project::stored_code(&code).map(ProjectKey::Code),
            _ => {
                return Err(super::error::top_level(
                    super::error::codes::BAD_REQUEST,
                    "pass exactly one of id and code",
                ));
            }
        };
        let Some(key) = key else {
            return Ok(None);
        };
        Ok(super::loader::visible_project(ctx, key).await?.map(Project))
    }

    /// The projects the signed-in user is a member of (admins: all), oldest first.
    #[graphql(complexity = "super::page::cost(first, last, child_complexity)")]
    async fn projects(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProjectFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<Project>> {
        let viewer = actor(ctx)?;
        let window = PageArgs {
            first,
            after,
            last,
            before,
        }
        .window()?;
        let filter = filter.unwrap_or_default();
        let filter = ProjectFilter {
            statuses: filter.status.into_iter().map(Into::into).collect(),
            search: filter.search,
        };
        let page = service::project::list(state(ctx), viewer, &filter, &window)
            .await
            .map_err(|e| to_top_level(ctx, e))?;
        Ok(connection(page, |p| p.id, Project))
    }
}

#[derive(InputObject)]
pub struct ProjectCreateInput {
    /// Unique short code, e.g. "CRM-2027"; upper-cased.
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    /// IANA time zone; defaults to "UTC".
    pub time_zone: Option<String>,
    pub planned_start: Option<Date>,
    pub target_go_live: Option<Date>,
    pub budget: Option<MoneyInput>,
    /// The phases to start from: EIGHT_STAGE when left out, none when null.
    pub template: MaybeUndefined<super::phase::PhaseTemplateKey>,
}

payload!(ProjectCreatePayload { project: Project });

/// Fields left out keep their value; `null` clears an optional one.
#[derive(InputObject)]
pub struct ProjectUpdateInput {
    pub id: ID,
    /// The `version` read before editing; a stale one is refused with `CONFLICT`.
    pub expected_version: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub time_zone: Option<String>,
    pub planned_start: MaybeUndefined<Date>,
    pub target_go_live: MaybeUndefined<Date>,
    pub budget: MaybeUndefined<MoneyInput>,
    /// How the steering committee decides gates and other ballots.
    pub decision_rule: Option<super::decision::VotingRuleKind>,
    /// Required with `decisionRule: QUORUM`.
    pub decision_quorum: Option<i32>,
    /// Milestone slip thresholds.
    pub health_thresholds: Option<HealthThresholdsInput>,
    /// The red line below which the PM decides change requests alone.
    pub red_line: Option<RedLineInput>,
}

/// Change requests strictly below every threshold are decided by the PM.
#[derive(InputObject, Clone, Debug)]
pub struct RedLineInput {
    pub schedule_days: i32,
    pub cost: Decimal,
    pub risk: super::change_request::RiskLevel,
}

/// Slip, in days, from which a milestone turns AMBER and RED (0 ≤ amber ≤ red ≤ 3650).
#[derive(InputObject, Clone, Copy, Debug)]
pub struct HealthThresholdsInput {
    pub amber_slip_days: i32,
    pub red_slip_days: i32,
}

/// Slip, in days, from which a milestone turns AMBER and RED.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct HealthThresholds {
    pub amber_slip_days: i32,
    pub red_slip_days: i32,
}

payload!(ProjectUpdatePayload { project: Project });

#[derive(InputObject)]
pub struct ProjectTransitionInput {
    pub id: ID,
    pub action: ProjectAction,
    /// Required for HOLD and CANCEL.
    pub reason: Option<String>,
    /// When given, the transition is refused with `CONFLICT` if the project changed since.
    pub expected_version: Option<i64>,
}

payload!(ProjectTransitionPayload { project: Project });

fn patch<T, U>(value: MaybeUndefined<T>, map: impl FnOnce(T) -> U) -> Patch<U> {
    match value {
        MaybeUndefined::Undefined => Patch::Keep,
        MaybeUndefined::Null => Patch::Clear,
        MaybeUndefined::Value(value) => Patch::Set(map(value)),
    }
}

#[derive(Default)]
pub struct ProjectMutation;

#[Object]
impl ProjectMutation {
    /// Proposes a project; the caller becomes its PROJECT_MANAGER.
    async fn project_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ProjectCreateInput,
    ) -> async_graphql::Result<ProjectCreatePayload> {
        let caller = caller(ctx)?;
        let command = NewProject {
            code: input.code,
            name: input.name,
            description: input.description,
            time_zone: input.time_zone,
            planned_start: input.planned_start.map(Into::into),
            target_go_live: input.target_go_live.map(Into::into),
            budget: input.budget.map(Into::into),
            template: match input.template {
                MaybeUndefined::Undefined => Some(TemplateKey::default()),
                MaybeUndefined::Null => None,
                MaybeUndefined::Value(key) => Some(key.into()),
            },
        };
        let result = service::project::create(state(ctx), &caller, command).await;
        respond(ctx, result.map(|change| Project(change.project)))
    }

    /// Edits a project's attributes. PROJECT_MANAGER or admin.
    async fn project_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ProjectUpdateInput,
    ) -> async_graphql::Result<ProjectUpdatePayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::Project, &["id"]) {
            Ok(id) => {
                let changes = ProjectChanges {
                    name: input.name,
                    description: input.description,
                    time_zone: input.time_zone,
                    planned_start: patch(input.planned_start, Into::into),
                    target_go_live: patch(input.target_go_live, Into::into),
                    budget: patch(input.budget, Into::into),
                    decision_rule: input
                        .decision_rule
                        .map(|rule| (rule.code().to_owned(), input.decision_quorum)),
                    health_thresholds: input
                        .health_thresholds
                        .map(|t| (t.amber_slip_days, t.red_slip_days)),
                    red_line: input.red_line.map(|r| RedLine {
                        schedule_days: r.schedule_days,
                        cost: r.cost,
                        risk: r.risk.into(),
                    }),
                };
                service::project::update(state(ctx), &caller, id, input.expected_version, changes)
                    .await
            }
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(|change| Project(change.project)))
    }

    /// Moves a project through its lifecycle. PROJECT_MANAGER or admin; the SPONSOR may
    /// initiate, hold, resume, cancel and close.
    async fn project_transition(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ProjectTransitionInput,
    ) -> async_graphql::Result<ProjectTransitionPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::Project, &["id"]) {
            Ok(id) => {
                let action: DomainAction = input.action.into();
                service::project::transition(
                    state(ctx),
                    &caller,
                    id,
                    action,
                    input.reason.as_deref(),
                    input.expected_version,
                )
                .await
            }
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(|change| Project(change.project)))
    }
}
