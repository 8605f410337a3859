//! Change requests: the object with its impact and ballot, queries, and mutations.

use super::serial::SerialObject;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use steerco_entity::{change_request, change_request_comment, cost_baseline, vote_delegation};

use super::context::{actor, caller, state};
use super::date::Date;
use super::decision::Decision;
use super::error::{payload, respond, to_top_level};
use super::id::{GlobalId, Kind, decode, encode};
use super::idempotency::IdempotencyKeyArg;
use super::user::User;
use crate::domain::change_request::{
    self as rules, CostImpact, CrAction as DomainAction, EffortImpact, Impact, MilestoneShift,
    RiskImpact, ScheduleImpact, ScopeAddition, ScopeImpact,
};
use crate::domain::{Refusal, Refusals};
use crate::service::change_request::{CrFields, Links};
use crate::service::{self, ServiceError};

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::change_request::CrStatus")]
pub enum ChangeRequestStatus {
    Draft,
    Submitted,
    UnderAssessment,
    InfoRequested,
    AwaitingDecision,
    Approved,
    Rejected,
    Deferred,
    InImplementation,
    Implemented,
    Closed,
    Withdrawn,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::change_request::CrAction")]
pub enum ChangeRequestAction {
    /// DRAFT → SUBMITTED (requester).
    Submit,
    /// SUBMITTED → UNDER_ASSESSMENT (PM).
    StartAssessment,
    /// UNDER_ASSESSMENT or AWAITING_DECISION → INFO_REQUESTED (PM; `note` says what is needed).
    RequestInfo,
    /// INFO_REQUESTED → UNDER_ASSESSMENT (requester).
    ProvideInfo,
    /// UNDER_ASSESSMENT → AWAITING_DECISION (PM; all four impact dimensions assessed). Above
    /// the red line this opens the committee ballot.
    RequestDecision,
    /// AWAITING_DECISION → APPROVED: the PM, below the red line only.
    Approve,
    /// AWAITING_DECISION → REJECTED: the PM, below the red line only; needs a note.
    Reject,
    /// AWAITING_DECISION → DEFERRED: the PM, below the red line only.
    Defer,
    /// DEFERRED → SUBMITTED (requester or PM).
    Resubmit,
    /// APPROVED → IN_IMPLEMENTATION (PM).
    StartImplementation,
    /// IN_IMPLEMENTATION → IMPLEMENTED (PM).
    CompleteImplementation,
    /// IMPLEMENTED or REJECTED → CLOSED (PM).
    Close,
    /// Any state before the decision → WITHDRAWN (requester or PM).
    Withdraw,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::change_request::CrCategory")]
pub enum ChangeRequestCategory {
    Scope,
    Schedule,
    Budget,
    Resource,
    Technical,
    Data,
    Integration,
    Process,
}

/// MoSCoW priority.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::change_request::CrPriority")]
pub enum ChangeRequestPriority {
    Must,
    Should,
    Could,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::change_request::RiskLevel")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::scope::ItemCategory")]
pub enum ImpactItemCategory {
    Department,
    Process,
    Module,
    Integration,
    DataObject,
    Report,
}

#[derive(SimpleObject, Clone)]
pub struct MilestoneShiftView {
    pub milestone_id: ID,
    pub days: i32,
}

#[derive(SimpleObject, Clone)]
pub struct ScheduleImpactView {
    /// Overall schedule impact, in days.
    pub days: i32,
    pub milestone_shifts: Vec<MilestoneShiftView>,
}

#[derive(SimpleObject, Clone)]
pub struct CostImpactView {
    /// Negative for a saving.
    pub amount: Decimal,
    pub currency: String,
    pub budget_line: String,
}

#[derive(SimpleObject, Clone)]
pub struct EffortImpactView {
    pub person_days: Decimal,
    pub roles: Vec<String>,
}

#[derive(SimpleObject, Clone)]
pub struct RiskImpactView {
    pub level: RiskLevel,
    pub description: String,
}

#[derive(SimpleObject, Clone)]
pub struct ScopeAdditionView {
    pub category: ImpactItemCategory,
    pub text: String,
}

#[derive(SimpleObject, Clone)]
pub struct ScopeImpactView {
    pub add: Vec<ScopeAdditionView>,
    /// Ids of in-scope items of the baseline to remove.
    pub remove: Vec<ID>,
}

/// The impact assessment; a dimension is null until assessed.
#[derive(SimpleObject, Clone)]
pub struct ImpactView {
    pub schedule: Option<ScheduleImpactView>,
    pub cost: Option<CostImpactView>,
    pub effort: Option<EffortImpactView>,
    pub risk: Option<RiskImpactView>,
    pub scope: Option<ScopeImpactView>,
}

impl From<Impact> for ImpactView {
    fn from(impact: Impact) -> Self {
        Self {
            schedule: impact.schedule.map(|s| ScheduleImpactView {
                days: s.days,
                milestone_shifts: s
                    .milestone_shifts
                    .into_iter()
                    .map(|m| MilestoneShiftView {
                        milestone_id: encode(Kind::Milestone, m.milestone_id),
                        days: m.days,
                    })
                    .collect(),
            }),
            cost: impact.cost.map(|c| CostImpactView {
                amount: c.amount,
                currency: c.currency,
                budget_line: c.budget_line,
            }),
            effort: impact.effort.map(|e| EffortImpactView {
                person_days: e.person_days,
                roles: e.roles,
            }),
            risk: impact.risk.map(|r| RiskImpactView {
                level: r.level.into(),
                description: r.description,
            }),
            scope: impact.scope.map(|s| ScopeImpactView {
                add: s
                    .add
                    .into_iter()
                    .map(|a| ScopeAdditionView {
                        category: a.category.into(),
                        text: a.text,
                    })
                    .collect(),
                remove: s.remove.into_iter().map(|id| ID(id.to_string())).collect(),
            }),
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct ChangeRequestLinks {
    /// Ids of scope items (stable across scope versions).
    pub scope_item_ids: Vec<ID>,
    pub milestone_ids: Vec<ID>,
    pub phase_id: Option<ID>,
}

/// The committee ballot of a change request, with who is recused.
pub struct ChangeRequestBallot {
    decision: steerco_entity::decision::Model,
    recused: Vec<uuid::Uuid>,
}

#[Object(serial)]
impl ChangeRequestBallot {
    /// The current round: policy, eligible voters, votes, status and outcome.
    async fn decision(&self) -> SerialObject<Decision> {
        SerialObject(Decision(self.decision.clone()))
    }
    /// The requester and the last assessor: they do not vote (separation of duties).
    async fn recused(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<User>> {
        let users = super::loader::users(ctx, self.recused.iter().copied()).await?;
        Ok(users.into_iter().map(User).collect())
    }
    /// Votes so far on this round: (approve, reject, abstain).
    async fn tally(&self, ctx: &Context<'_>) -> async_graphql::Result<BallotTally> {
        let votes =
            super::loader::children::<super::loader::VotesLoader>(ctx, self.decision.id).await?;
        let count = |choice: &str| votes.iter().filter(|v| v.choice == choice).count() as i32;
        Ok(BallotTally {
            approve: count("APPROVE"),
            reject: count("REJECT"),
            abstain: count("ABSTAIN"),
        })
    }
}

#[derive(SimpleObject)]
pub struct BallotTally {
    pub approve: i32,
    pub reject: i32,
    pub abstain: i32,
}

pub struct ChangeRequestComment(change_request_comment::Model);

#[Object]
impl ChangeRequestComment {
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

/// A numbered version of the project's approved budget.
#[derive(Clone)]
pub struct CostBaseline(pub cost_baseline::Model);

#[Object]
impl CostBaseline {
    async fn number(&self) -> i32 {
        self.0.number
    }
    async fn amount(&self) -> Option<Decimal> {
        self.0.amount.parse().ok()
    }
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// INITIAL or CHANGE_REQUEST.
    async fn cause(&self) -> &str {
        &self.0.cause_kind
    }
    /// The approved change request that made it.
    async fn caused_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ChangeRequest>> {
        caused_by(ctx, self.0.project_id, self.0.cause_id).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// The change request `id` behind a baseline version of `project_id`. The version is shown
/// only to those who see its project, and so is a change of the same project.
pub async fn caused_by(
    ctx: &Context<'_>,
    project_id: uuid::Uuid,
    id: Option<uuid::Uuid>,
) -> async_graphql::Result<Option<ChangeRequest>> {
    let Some(id) = id else { return Ok(None) };
    let found = super::loader::by_id::<change_request::Model>(ctx, id).await?;
    Ok(found
        .filter(|change| change.project_id == project_id)
        .map(ChangeRequest))
}

/// A proposed change to the baselined scope, schedule or budget.
#[derive(Clone, Debug)]
pub struct ChangeRequest(pub change_request::Model);

#[Object(serial)]
impl ChangeRequest {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::ChangeRequest, self.0.id)
    }
    /// CR-001, CR-002, ... per project.
    async fn code(&self) -> String {
        service::change_request::code_of(&self.0)
    }
    async fn project_id(&self) -> GlobalId {
        GlobalId(Kind::Project, self.0.project_id)
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn justification(&self) -> &str {
        &self.0.justification
    }
    async fn category(&self) -> Option<ChangeRequestCategory> {
        self.0
            .category
            .parse::<rules::CrCategory>()
            .ok()
            .map(Into::into)
    }
    async fn priority(&self) -> Option<ChangeRequestPriority> {
        self.0
            .priority
            .parse::<rules::CrPriority>()
            .ok()
            .map(Into::into)
    }
    async fn requester(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(super::loader::user(ctx, self.0.requester_id)
            .await?
            .map(User))
    }
    async fn status(&self) -> Option<ChangeRequestStatus> {
        self.0
            .status
            .parse::<rules::CrStatus>()
            .ok()
            .map(Into::into)
    }
    async fn links(&self) -> ChangeRequestLinks {
        let links = service::change_request::links_of(&self.0).unwrap_or_default();
        ChangeRequestLinks {
            scope_item_ids: links
                .scope_item_ids
                .into_iter()
                .map(|id| ID(id.to_string()))
                .collect(),
            milestone_ids: links
                .milestone_ids
                .into_iter()
                .map(|id| encode(Kind::Milestone, id))
                .collect(),
            phase_id: links.phase_id.map(|id| encode(Kind::Phase, id)),
        }
    }
    async fn impact(&self) -> ImpactView {
        service::change_request::impact_of(&self.0)
            .unwrap_or_default()
            .into()
    }
    /// Impact dimensions still to assess before a decision (schedule, cost, effort, risk).
    async fn missing_impact(&self) -> Vec<String> {
        let impact = service::change_request::impact_of(&self.0).unwrap_or_default();
        rules::missing_dimensions(&impact)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }
    /// True when the change is strictly below every red-line threshold and changes no scope.
    /// The PM decides such a change alone only if it never went to the committee: once a
    /// ballot was opened on it (see `ballotHistory`), the committee decides it.
    async fn within_red_line(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let standing = super::loader::project(ctx, self.0.project_id).await?;
        let project = &standing.project;
        let impact = service::change_request::impact_of(&self.0).unwrap_or_default();
        Ok(rules::within_red_line(
            &impact,
            &service::change_request::red_line_of(project),
        ))
    }
    async fn impact_assessed_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.impact_edited_by else {
            return Ok(None);
        };
        Ok(super::loader::user(ctx, id).await?.map(User))
    }
    /// What the PM asked, while INFO_REQUESTED.
    async fn info_request(&self) -> Option<&str> {
        self.0.info_request.as_deref()
    }
    /// The current committee ballot (the latest round), if the change went to the committee.
    async fn ballot(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<SerialObject<ChangeRequestBallot>>> {
        let Some(latest) = self.ballots(ctx).await?.pop() else {
            return Ok(None);
        };
        Ok(Some(SerialObject(ChangeRequestBallot {
            decision: latest,
            recused: service::change_request::recused_of(&self.0)
                .into_iter()
                .collect(),
        })))
    }
    /// Every round, oldest first; earlier ones were superseded by material edits.
    async fn ballot_history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Decision>> {
        Ok(self.ballots(ctx).await?.into_iter().map(Decision).collect())
    }
    /// COMMITTEE or PROJECT_MANAGER, once decided.
    async fn decided_by(&self) -> Option<&str> {
        self.0.decided_by.as_deref()
    }
    async fn decision_note(&self) -> Option<&str> {
        self.0.decision_note.as_deref()
    }
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }
    /// The schedule baseline version the approval produced.
    async fn schedule_baseline(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<super::milestone::ScheduleBaseline>> {
        let Some(id) = self.0.schedule_baseline_id else {
            return Ok(None);
        };
        // Of the change's own project, which whoever sees the change sees.
        let baselines = super::loader::children::<super::loader::ScheduleBaselinesLoader>(
            ctx,
            self.0.project_id,
        )
        .await?;
        Ok(baselines
            .into_iter()
            .find(|baseline| baseline.id == id)
            .map(super::milestone::ScheduleBaseline))
    }
    /// The scope version the approval baselined.
    async fn scope_version(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<super::scope::ScopeVersion>> {
        let Some(id) = self.0.scope_version_id else {
            return Ok(None);
        };
        let versions =
            super::loader::children::<super::loader::ScopeVersionsLoader>(ctx, self.0.project_id)
                .await?;
        Ok(versions
            .into_iter()
            .find(|version| version.id == id)
            .map(super::scope::ScopeVersion))
    }
    /// The cost baseline version the approval produced.
    async fn cost_baseline(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<CostBaseline>> {
        let Some(id) = self.0.cost_baseline_id else {
            return Ok(None);
        };
        let versions =
            super::loader::children::<super::loader::CostBaselinesLoader>(ctx, self.0.project_id)
                .await?;
        Ok(versions.into_iter().find(|v| v.id == id).map(CostBaseline))
    }
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn comments(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ChangeRequestComment>> {
        let comments =
            super::loader::children::<super::loader::ChangeRequestCommentsLoader>(ctx, self.0.id)
                .await?;
        Ok(comments.into_iter().map(ChangeRequestComment).collect())
    }
    async fn allowed_actions(&self) -> Vec<ChangeRequestAction> {
        self.0
            .status
            .parse::<rules::CrStatus>()
            .map(|s| {
                rules::allowed_actions(s)
                    .into_iter()
                    .map(Into::into)
                    .collect()
            })
            .unwrap_or_default()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn version(&self) -> i64 {
        self.0.version
    }
}

#[derive(InputObject, Default)]
pub struct ChangeRequestFilterInput {
    #[graphql(default)]
    pub status: Vec<ChangeRequestStatus>,
    #[graphql(default)]
    pub category: Vec<ChangeRequestCategory>,
    pub requester_id: Option<ID>,
    /// Only those whose open ballot waits for the signed-in user's vote.
    #[graphql(default)]
    pub awaiting_my_vote: bool,
}

/// Approved changes in one category.
#[derive(SimpleObject)]
pub struct CategoryTotals {
    pub category: String,
    pub count: u32,
    pub schedule_days: i64,
    pub cost: Decimal,
    pub effort_person_days: Decimal,
}

#[derive(SimpleObject)]
pub struct StatusCount {
    pub status: String,
    pub count: u32,
}

/// What change control has done to the project.
#[derive(SimpleObject)]
pub struct ChangeSummary {
    pub by_status: Vec<StatusCount>,
    pub approved_schedule_days: i64,
    pub approved_cost: Decimal,
    pub approved_effort_person_days: Decimal,
    pub by_category: Vec<CategoryTotals>,
    /// The largest move of a milestone's baseline date between the first and the current
    /// schedule baseline, in days.
    pub schedule_drift_days: i64,
    /// Current budget baseline minus the first one.
    pub cost_drift: Option<Decimal>,
    pub cost_currency: Option<String>,
    /// In-scope items added and removed since the first scope baseline.
    pub scope_items_added: u32,
    pub scope_items_removed: u32,
}

impl From<service::change_request::ChangeSummary> for ChangeSummary {
    fn from(s: service::change_request::ChangeSummary) -> Self {
        Self {
            by_status: s
                .by_status
                .into_iter()
                .map(|(status, count)| StatusCount {
                    status: status.to_owned(),
                    count,
                })
                .collect(),
            approved_schedule_days: s.approved_schedule_days,
            approved_cost: s.approved_cost,
            approved_effort_person_days: s.approved_effort,
            by_category: s
                .by_category
                .into_iter()
                .map(
                    |(category, (count, schedule_days, cost, effort))| CategoryTotals {
                        category,
                        count,
                        schedule_days,
                        cost,
                        effort_person_days: effort,
                    },
                )
                .collect(),
            schedule_drift_days: s.schedule_drift_days,
            cost_drift: s.cost_drift,
            cost_currency: s.cost_currency,
            scope_items_added: s.scope_items_added,
            scope_items_removed: s.scope_items_removed,
        }
    }
}

/// The red line below which the PM decides changes alone.
#[derive(SimpleObject)]
pub struct RedLineView {
    pub schedule_days: i32,
    pub cost: Decimal,
    pub risk: RiskLevel,
}

#[derive(InputObject)]
pub struct ChangeRequestLinksInput {
    #[graphql(default)]
    pub scope_item_ids: Vec<ID>,
    #[graphql(default)]
    pub milestone_ids: Vec<ID>,
    pub phase_id: Option<ID>,
}

#[derive(InputObject)]
pub struct ChangeRequestCreateInput {
    pub project_id: ID,
    pub title: String,
    pub description: Option<String>,
    pub justification: String,
    pub category: ChangeRequestCategory,
    pub priority: ChangeRequestPriority,
    pub links: Option<ChangeRequestLinksInput>,
}

payload!(ChangeRequestPayload {
    change_request: ChangeRequest
});

/// Left-out fields are kept. New links while awaiting the decision restart the ballot.
#[derive(InputObject)]
pub struct ChangeRequestUpdateInput {
    pub id: ID,
    pub expected_version: i64,
    pub title: Option<String>,
    pub description: Option<String>,
    pub justification: Option<String>,
    pub category: Option<ChangeRequestCategory>,
    pub priority: Option<ChangeRequestPriority>,
    pub links: Option<ChangeRequestLinksInput>,
}

#[derive(InputObject)]
pub struct MilestoneShiftInput {
    pub milestone_id: ID,
    pub days: i32,
}

#[derive(InputObject)]
pub struct ScheduleImpactInput {
    pub days: i32,
    #[graphql(default)]
    pub milestone_shifts: Vec<MilestoneShiftInput>,
}

#[derive(InputObject)]
pub struct CostImpactInput {
    pub amount: Decimal,
    /// The project's budget currency.
    pub currency: String,
    pub budget_line: String,
}

#[derive(InputObject)]
pub struct EffortImpactInput {
    pub person_days: Decimal,
    #[graphql(default)]
    pub roles: Vec<String>,
}

#[derive(InputObject)]
pub struct RiskImpactInput {
    pub level: RiskLevel,
    pub description: String,
}

#[derive(InputObject)]
pub struct ScopeAdditionInput {
    pub category: ImpactItemCategory,
    pub text: String,
}

#[derive(InputObject)]
pub struct ScopeImpactInput {
    #[graphql(default)]
    pub add: Vec<ScopeAdditionInput>,
    /// Ids of in-scope items of the current scope baseline.
    #[graphql(default)]
    pub remove: Vec<ID>,
}

/// The whole assessment, replacing the previous one.
#[derive(InputObject)]
pub struct ChangeRequestAssessInput {
    pub id: ID,
    pub expected_version: i64,
    pub schedule: Option<ScheduleImpactInput>,
    pub cost: Option<CostImpactInput>,
    pub effort: Option<EffortImpactInput>,
    pub risk: Option<RiskImpactInput>,
    pub scope: Option<ScopeImpactInput>,
}

#[derive(InputObject)]
pub struct ChangeRequestTransitionInput {
    pub id: ID,
    pub action: ChangeRequestAction,
    /// The question with REQUEST_INFO, the reason with REJECT; optional otherwise.
    pub note: Option<String>,
}

#[derive(InputObject)]
pub struct ChangeRequestCommentInput {
    pub id: ID,
    pub body: String,
}

payload!(ChangeRequestCommentPayload {
    change_request: ChangeRequest
});

#[derive(InputObject)]
pub struct VoteDelegationCreateInput {
    pub project_id: ID,
    /// A project member who votes in the caller's seat meanwhile.
    pub delegate_id: ID,
    pub starts_on: Date,
    pub ends_on: Date,
}

/// A committee member's vote lent to someone for a period.
#[derive(SimpleObject)]
pub struct VoteDelegation {
    pub delegator_id: ID,
    pub delegate_id: ID,
    pub starts_on: Date,
    pub ends_on: Date,
}

impl From<vote_delegation::Model> for VoteDelegation {
    fn from(d: vote_delegation::Model) -> Self {
        Self {
            delegator_id: encode(Kind::User, d.delegator_id),
            delegate_id: encode(Kind::User, d.delegate_id),
            starts_on: Date(d.starts_on),
            ends_on: Date(d.ends_on),
        }
    }
}

payload!(VoteDelegationCreatePayload {
    delegation: VoteDelegation
});

fn refused<T>(refusals: Refusals) -> Result<T, ServiceError> {
    Err(ServiceError::Refused(
        refusals
            .finish()
            .err()
            .unwrap_or_else(|| vec![Refusal::bad_input(&[], "bad id")]),
    ))
}

fn decode_links(refusals: &mut Refusals, input: ChangeRequestLinksInput) -> Links {
    let scope_item_ids = input
        .scope_item_ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| {
            uuid::Uuid::try_parse(id)
                .map_err(|_| {
                    refusals.push(Refusal::bad_input(
                        &["links", "scopeItemIds", &i.to_string()],
                        "not an item id",
                    ))
                })
                .ok()
        })
        .collect();
    let milestone_ids = input
        .milestone_ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| {
            decode(
                id,
                Kind::Milestone,
                &["links", "milestoneIds", &i.to_string()],
            )
            .map_err(|r| refusals.push(r))
            .ok()
        })
        .collect();
    let phase_id = input.phase_id.and_then(|id| {
        decode(&id, Kind::Phase, &["links", "phaseId"])
            .map_err(|r| refusals.push(r))
            .ok()
    });
    Links {
        scope_item_ids,
        milestone_ids,
        phase_id,
    }
}

fn decode_impact(refusals: &mut Refusals, input: ChangeRequestAssessInput) -> Impact {
    let schedule = input.schedule.map(|s| ScheduleImpact {
        days: s.days,
        milestone_shifts: s
            .milestone_shifts
            .into_iter()
            .enumerate()
            .filter_map(|(i, shift)| {
                let path = ["schedule", "milestoneShifts", &i.to_string(), "milestoneId"]
                    .map(str::to_owned);
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                decode(&shift.milestone_id, Kind::Milestone, &path)
                    .map_err(|r| refusals.push(r))
                    .ok()
                    .map(|milestone_id| MilestoneShift {
                        milestone_id,
                        days: shift.days,
                    })
            })
            .collect(),
    });
    let scope = input.scope.map(|s| ScopeImpact {
        add: s
            .add
            .into_iter()
            .map(|a| ScopeAddition {
                category: a.category.into(),
                text: a.text,
            })
            .collect(),
        remove: s
            .remove
            .iter()
            .enumerate()
            .filter_map(|(i, id)| {
                uuid::Uuid::try_parse(id)
                    .map_err(|_| {
                        refusals.push(Refusal::bad_input(
                            &["scope", "remove", &i.to_string()],
                            "not an item id",
                        ))
                    })
                    .ok()
            })
            .collect(),
    });
    Impact {
        schedule,
        cost: input.cost.map(|c| CostImpact {
            amount: c.amount,
            currency: c.currency,
            budget_line: c.budget_line,
        }),
        effort: input.effort.map(|e| EffortImpact {
            person_days: e.person_days,
            roles: e.roles,
        }),
        risk: input.risk.map(|r| RiskImpact {
            level: r.level.into(),
            description: r.description,
        }),
        scope,
    }
}

#[derive(Default)]
pub struct ChangeRequestQuery;

#[Object]
impl ChangeRequestQuery {
    /// Open ballots of every kind that wait for the signed-in user's vote.
    async fn pending_votes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Decision>> {
        let viewer = actor(ctx)?;
        let pending = service::change_request::pending_decisions(state(ctx), viewer.user_id)
            .await
            .map_err(|e| to_top_level(ctx, e))?;
        Ok(pending.into_iter().map(Decision).collect())
    }
}

#[derive(Default)]
pub struct ChangeRequestMutation;

#[Object]
impl ChangeRequestMutation {
    /// Raises a change request (DRAFT). Any member but a mere VIEWER.
    async fn change_request_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ChangeRequestCreateInput,
    ) -> async_graphql::Result<ChangeRequestPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let project_id = decode(&input.project_id, Kind::Project, &["projectId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let links = input.links.map(|l| decode_links(&mut refusals, l));
        let fields = CrFields {
            title: Some(input.title),
            description: input.description,
            justification: Some(input.justification),
            category: Some(input.category.into()),
            priority: Some(input.priority.into()),
            links,
        };
        let result = match project_id.filter(|_| refusals.is_empty()) {
            Some(id) => service::change_request::create(state(ctx), &caller, id, fields).await,
            None => refused(refusals),
        };
        respond(ctx, result.map(|c| ChangeRequest(c.change_request)))
    }

    /// Edits a change request: the requester while DRAFT or INFO_REQUESTED, the PM until the
    /// decision.
    async fn change_request_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ChangeRequestUpdateInput,
    ) -> async_graphql::Result<ChangeRequestPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let id = decode(&input.id, Kind::ChangeRequest, &["id"])
            .map_err(|r| refusals.push(r))
            .ok();
        let links = input.links.map(|l| decode_links(&mut refusals, l));
        let fields = CrFields {
            title: input.title,
            description: input.description,
            justification: input.justification,
            category: input.category.map(Into::into),
            priority: input.priority.map(Into::into),
            links,
        };
        let result = match id.filter(|_| refusals.is_empty()) {
            Some(id) => {
                service::change_request::update(
                    state(ctx),
                    &caller,
                    id,
                    input.expected_version,
                    fields,
                )
                .await
            }
            None => refused(refusals),
        };
        respond(ctx, result.map(|c| ChangeRequest(c.change_request)))
    }

    /// Records the impact assessment. PROJECT_MANAGER, while UNDER_ASSESSMENT or
    /// AWAITING_DECISION (where it supersedes the votes cast and restarts the ballot).
    async fn change_request_assess(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ChangeRequestAssessInput,
    ) -> async_graphql::Result<ChangeRequestPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let id = decode(&input.id, Kind::ChangeRequest, &["id"])
            .map_err(|r| refusals.push(r))
            .ok();
        let version = input.expected_version;
        let impact = decode_impact(&mut refusals, input);
        let result = match id.filter(|_| refusals.is_empty()) {
            Some(id) => {
                service::change_request::assess(state(ctx), &caller, id, version, impact).await
            }
            None => refused(refusals),
        };
        respond(ctx, result.map(|c| ChangeRequest(c.change_request)))
    }

    /// Moves a change request through its lifecycle (see ChangeRequestAction for who may).
    async fn change_request_transition(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ChangeRequestTransitionInput,
    ) -> async_graphql::Result<ChangeRequestPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::ChangeRequest, &["id"]) {
            Ok(id) => {
                let action: DomainAction = input.action.into();
                service::change_request::transition(
                    state(ctx),
                    &caller,
                    id,
                    action,
                    input.note.as_deref(),
                )
                .await
            }
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(|c| ChangeRequest(c.change_request)))
    }

    /// Comments on a change request. Any member but a mere VIEWER.
    async fn change_request_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ChangeRequestCommentInput,
    ) -> async_graphql::Result<ChangeRequestCommentPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::ChangeRequest, &["id"]) {
            Ok(id) => match service::change_request::comment(state(ctx), &caller, id, &input.body)
                .await
            {
                Ok(_) => service::change_request::visible(state(ctx), &caller.actor, id)
                    .await
                    .and_then(|cr| {
                        cr.ok_or_else(|| ServiceError::Internal("commented change vanished".into()))
                    }),
                Err(error) => Err(error),
            },
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(ChangeRequest))
    }

    /// A steering committee member lends their vote to another member for a period; the
    /// delegate then votes with `onBehalfOf`. Delegates cannot delegate further.
    async fn vote_delegation_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: VoteDelegationCreateInput,
    ) -> async_graphql::Result<VoteDelegationCreatePayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let project_id = decode(&input.project_id, Kind::Project, &["projectId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let delegate_id = decode(&input.delegate_id, Kind::User, &["delegateId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let result = match (project_id, delegate_id) {
            (Some(project_id), Some(delegate_id)) if refusals.is_empty() => {
                service::change_request::delegate(
                    state(ctx),
                    &caller,
                    project_id,
                    delegate_id,
                    input.starts_on.0,
                    input.ends_on.0,
                )
                .await
            }
            _ => refused(refusals),
        };
        respond(ctx, result.map(VoteDelegation::from))
    }
}

impl ChangeRequest {
    /// The change's ballots, oldest first, loaded with those of its siblings.
    async fn ballots(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<steerco_entity::decision::Model>> {
        let subject = crate::domain::decision::DecisionSubject::ChangeRequest.as_str();
        let ballots = super::loader::ballots(ctx, self.0.id).await?;
        Ok(ballots
            .into_iter()
            .filter(|ballot| ballot.subject_type == subject)
            .collect())
    }
}
