//! Change requests (DOMAIN §4, §12.6): the lifecycle that every change beyond the initial scope
//! goes through, the impact assessment on schedule, cost, effort and risk (plus, for scope
//! changes, the items added and removed), the red line that separates the PM's fast path from
//! the steering committee's vote, and who may vote: separation of duties and delegations.
//!
//! ```text
//! DRAFT ─submit─▶ SUBMITTED ─startAssessment─▶ UNDER_ASSESSMENT ─requestDecision─▶ AWAITING_DECISION
//!     UNDER_ASSESSMENT or AWAITING_DECISION ─requestInfo─▶ INFO_REQUESTED ─provideInfo─▶ UNDER_ASSESSMENT
//!     AWAITING_DECISION ─approve─▶ APPROVED ─startImplementation─▶ IN_IMPLEMENTATION
//!         ─completeImplementation─▶ IMPLEMENTED ─close─▶ CLOSED
//!     AWAITING_DECISION ─reject─▶ REJECTED ─close─▶ CLOSED
//!     AWAITING_DECISION ─defer─▶ DEFERRED ─resubmit─▶ SUBMITTED
//! any pre-decision state ─withdraw─▶ WITHDRAWN
//! ```
//!
//! The counting of votes is the generic committee engine ([`super::committee`]); this module
//! only says who sits on a change request's ballot and what its outcome does to the lifecycle.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use super::committee::Tally;
use super::decision::{DecisionChoice, UnknownCode};
use super::error::{Refusal, RefusalCode, Refusals};
use super::money::{CurrencyCode, CurrencyError, Money, MoneyError};
use super::scope::{
    ItemCategory, MAX_TEXT_CHARS as MAX_SCOPE_TEXT_CHARS, ScopeItem, same_item_text,
};
use super::text::{TextError, required_multi_line, single_line};

/// Largest schedule shift, in days either way: ten years is beyond any CRM project.
pub const MAX_SHIFT_DAYS: i32 = 3650;
/// Longest budget line name.
pub const MAX_BUDGET_LINE_CHARS: usize = 200;
/// Longest role name in an effort estimate.
pub const MAX_ROLE_CHARS: usize = 100;
/// Longest risk description.
pub const MAX_RISK_DESCRIPTION_CHARS: usize = 2000;
/// Largest effort estimate, in person-days.
pub const MAX_PERSON_DAYS: i64 = 1_000_000;
/// Effort is estimated to the quarter day at best; two places leave room for that.
pub const PERSON_DAYS_SCALE: u32 = 2;
/// The choices of a change request's ballot (besides abstaining).
pub const BALLOT_CHOICES: [DecisionChoice; 2] = [DecisionChoice::Approve, DecisionChoice::Reject];

/// Money amounts must stay below one quadrillion, like [`Money`].
const MAX_COST_EXCLUSIVE: i64 = 1_000_000_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrStatus {
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

impl CrStatus {
    pub const ALL: [CrStatus; 12] = [
        Self::Draft,
        Self::Submitted,
        Self::UnderAssessment,
        Self::InfoRequested,
        Self::AwaitingDecision,
        Self::Approved,
        Self::Rejected,
        Self::Deferred,
        Self::InImplementation,
        Self::Implemented,
        Self::Closed,
        Self::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Submitted => "SUBMITTED",
            Self::UnderAssessment => "UNDER_ASSESSMENT",
            Self::InfoRequested => "INFO_REQUESTED",
            Self::AwaitingDecision => "AWAITING_DECISION",
            Self::Approved => "APPROVED",
            Self::Rejected => "REJECTED",
            Self::Deferred => "DEFERRED",
            Self::InImplementation => "IN_IMPLEMENTATION",
            Self::Implemented => "IMPLEMENTED",
            Self::Closed => "CLOSED",
            Self::Withdrawn => "WITHDRAWN",
        }
    }

    /// A decision has been taken (and possibly acted upon).
    pub fn is_decided(self) -> bool {
        matches!(
            self,
            Self::Approved
                | Self::Rejected
                | Self::Deferred
                | Self::InImplementation
                | Self::Implemented
                | Self::Closed
        )
    }

    /// Raised and not yet decided: what a portfolio counts as an open change.
    pub fn is_open(self) -> bool {
        self.is_pre_decision() && self != Self::Draft
    }

    /// Still on its way to a decision; the requester may withdraw it.
    pub fn is_pre_decision(self) -> bool {
        matches!(
            self,
            Self::Draft
                | Self::Submitted
                | Self::UnderAssessment
                | Self::InfoRequested
                | Self::AwaitingDecision
        )
    }
}

impl fmt::Display for CrStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CrStatus {
    type Err = UnknownCode;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == code)
            .ok_or_else(|| UnknownCode(code.to_owned()))
    }
}

/// The commands of the change request lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrAction {
    Submit,
    StartAssessment,
    RequestInfo,
    ProvideInfo,
    RequestDecision,
    Approve,
    Reject,
    Defer,
    Resubmit,
    StartImplementation,
    CompleteImplementation,
    Close,
    Withdraw,
}

impl CrAction {
    pub const ALL: [CrAction; 13] = [
        Self::Submit,
        Self::StartAssessment,
        Self::RequestInfo,
        Self::ProvideInfo,
        Self::RequestDecision,
        Self::Approve,
        Self::Reject,
        Self::Defer,
        Self::Resubmit,
        Self::StartImplementation,
        Self::CompleteImplementation,
        Self::Close,
        Self::Withdraw,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "SUBMIT",
            Self::StartAssessment => "START_ASSESSMENT",
            Self::RequestInfo => "REQUEST_INFO",
            Self::ProvideInfo => "PROVIDE_INFO",
            Self::RequestDecision => "REQUEST_DECISION",
            Self::Approve => "APPROVE",
            Self::Reject => "REJECT",
            Self::Defer => "DEFER",
            Self::Resubmit => "RESUBMIT",
            Self::StartImplementation => "START_IMPLEMENTATION",
            Self::CompleteImplementation => "COMPLETE_IMPLEMENTATION",
            Self::Close => "CLOSE",
            Self::Withdraw => "WITHDRAW",
        }
    }
}

impl fmt::Display for CrAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CrAction {
    type Err = UnknownCode;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|action| action.as_str() == code)
            .ok_or_else(|| UnknownCode(code.to_owned()))
    }
}

/// What a change request is about (DOMAIN §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrCategory {
    Scope,
    Schedule,
    Budget,
    Resource,
    Technical,
    Data,
    Integration,
    Process,
}

impl CrCategory {
    pub const ALL: [CrCategory; 8] = [
        Self::Scope,
        Self::Schedule,
        Self::Budget,
        Self::Resource,
        Self::Technical,
        Self::Data,
        Self::Integration,
        Self::Process,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scope => "SCOPE",
            Self::Schedule => "SCHEDULE",
            Self::Budget => "BUDGET",
            Self::Resource => "RESOURCE",
            Self::Technical => "TECHNICAL",
            Self::Data => "DATA",
            Self::Integration => "INTEGRATION",
            Self::Process => "PROCESS",
        }
    }
}

impl fmt::Display for CrCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CrCategory {
    type Err = UnknownCode;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|category| category.as_str() == code)
            .ok_or_else(|| UnknownCode(code.to_owned()))
    }
}

/// MoSCoW priority of a change (DOMAIN §4.2); a change nobody wants is withdrawn, not ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CrPriority {
    Must,
    Should,
    Could,
}

impl CrPriority {
    pub const ALL: [CrPriority; 3] = [Self::Must, Self::Should, Self::Could];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Must => "MUST",
            Self::Should => "SHOULD",
            Self::Could => "COULD",
        }
    }
}

impl fmt::Display for CrPriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CrPriority {
    type Err = UnknownCode;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|priority| priority.as_str() == code)
            .ok_or_else(|| UnknownCode(code.to_owned()))
    }
}

/// Who may take an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrParty {
    Requester,
    ProjectManager,
    /// The committee ballot's outcome, or the PM on the red-line fast path.
    Decider,
}

/// The next status, or `None` when the lifecycle has no such edge.
pub fn target(from: CrStatus, action: CrAction) -> Option<CrStatus> {
    use CrAction as A;
    use CrStatus as S;
    match (from, action) {
        (S::Draft, A::Submit) => Some(S::Submitted),
        (S::Submitted, A::StartAssessment) => Some(S::UnderAssessment),
        (S::UnderAssessment | S::AwaitingDecision, A::RequestInfo) => Some(S::InfoRequested),
        (S::InfoRequested, A::ProvideInfo) => Some(S::UnderAssessment),
        (S::UnderAssessment, A::RequestDecision) => Some(S::AwaitingDecision),
        (S::AwaitingDecision, A::Approve) => Some(S::Approved),
        (S::AwaitingDecision, A::Reject) => Some(S::Rejected),
        (S::AwaitingDecision, A::Defer) => Some(S::Deferred),
        (S::Approved, A::StartImplementation) => Some(S::InImplementation),
        (S::InImplementation, A::CompleteImplementation) => Some(S::Implemented),
        (S::Implemented | S::Rejected, A::Close) => Some(S::Closed),
        (S::Deferred, A::Resubmit) => Some(S::Submitted),
        (
            S::Draft | S::Submitted | S::UnderAssessment | S::InfoRequested | S::AwaitingDecision,
            A::Withdraw,
        ) => Some(S::Withdrawn),
        // Listing every status keeps a new status from silently having no way out.
        (
            S::Draft
            | S::Submitted
            | S::UnderAssessment
            | S::InfoRequested
            | S::AwaitingDecision
            | S::Approved
            | S::Rejected
            | S::Deferred
            | S::InImplementation
            | S::Implemented
            | S::Closed
            | S::Withdrawn,
            _,
        ) => None,
    }
}

/// Who may take `action`.
pub fn parties(action: CrAction) -> &'static [CrParty] {
    use CrAction as A;
    match action {
        A::Submit | A::ProvideInfo => &[CrParty::Requester],
        A::StartAssessment
        | A::RequestInfo
        | A::RequestDecision
        | A::StartImplementation
        | A::CompleteImplementation
        | A::Close => &[CrParty::ProjectManager],
        A::Approve | A::Reject | A::Defer => &[CrParty::Decider],
        A::Resubmit | A::Withdraw => &[CrParty::Requester, CrParty::ProjectManager],
    }
}

/// The actions `from` allows, in [`CrAction::ALL`] order.
pub fn allowed_actions(from: CrStatus) -> Vec<CrAction> {
    CrAction::ALL
        .into_iter()
        .filter(|&action| target(from, action).is_some())
        .collect()
}

/// Applies an action, or refuses it naming the state and the actions it allows.
pub fn transition(from: CrStatus, action: CrAction) -> Result<CrStatus, Refusal> {
    target(from, action).ok_or_else(|| {
        let allowed = allowed_actions(from)
            .into_iter()
            .map(|action| action.as_str().to_owned());
        Refusal::invalid_transition(&["action"], from.as_str(), action.as_str(), allowed)
    })
}

/// The lifecycle action a ballot's tally calls for, if any. A deadlocked committee defers the
/// change: nobody decided it, and deferring lets it be re-raised instead of hanging forever.
pub fn outcome_action(tally: &Tally<DecisionChoice>) -> Option<CrAction> {
    match tally {
        Tally::Decided(DecisionChoice::Approve) => Some(CrAction::Approve),
        Tally::Decided(DecisionChoice::Reject) => Some(CrAction::Reject),
        Tally::Deadlocked => Some(CrAction::Defer),
        // Other choices are not on a change request's ballot (see `BALLOT_CHOICES`).
        Tally::Decided(_) | Tally::Open => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

impl RiskLevel {
    pub const ALL: [RiskLevel; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "LOW",
            Self::Medium => "MEDIUM",
            Self::High => "HIGH",
            Self::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RiskLevel {
    type Err = UnknownCode;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str() == code)
            .ok_or_else(|| UnknownCode(code.to_owned()))
    }
}

/// The impact assessment, stored as JSON. Each dimension is None until assessed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
// A dimension added later must not make older stored assessments unreadable.
#[serde(rename_all = "camelCase", default)]
pub struct Impact {
    pub schedule: Option<ScheduleImpact>,
    pub cost: Option<CostImpact>,
    pub effort: Option<EffortImpact>,
    pub risk: Option<RiskImpact>,
    /// Only for scope changes: items to add to and remove from the in-scope list.
    pub scope: Option<ScopeImpact>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleImpact {
    /// Overall delay (negative: the project finishes earlier).
    pub days: i32,
    pub milestone_shifts: Vec<MilestoneShift>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MilestoneShift {
    pub milestone_id: Uuid,
    pub days: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CostImpact {
    /// May be negative: a saving.
    pub amount: Decimal,
    pub currency: String,
    pub budget_line: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EffortImpact {
    pub person_days: Decimal,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskImpact {
    pub level: RiskLevel,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeImpact {
    pub add: Vec<ScopeAddition>,
    /// Ids of in-scope items.
    pub remove: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeAddition {
    pub category: ItemCategory,
    pub text: String,
}

/// Checks an impact as typed, every problem at once (field paths relative to the input, e.g.
/// `["schedule","milestoneShifts","1","days"]`): days within −3650..=3650 and the same
/// milestone not shifted twice; cost currency must equal `project_currency` when the project
/// has a budget currency (else any ISO code: three upper-case letters) and |amount| < 10^15
/// with ≤ 4 decimals; budget line 1..=200 chars; effort person_days ≥ 0 and ≤ 1_000_000 with
/// ≤ 2 decimals, roles each 1..=100 chars; risk description 1..=2000 chars; scope texts
/// 1..=500 chars, no duplicate removal ids, and no addition of an item `in_scope` (the in-scope
/// items of the current scope baseline) already holds, unless the change removes it, nor of
/// the same text twice: approving either would list an item twice in scope.
pub fn check_impact(
    impact: &Impact,
    project_currency: Option<&str>,
    in_scope: &[ScopeItem],
) -> Result<(), Vec<Refusal>> {
    let mut refusals = Refusals::default();
    if let Some(schedule) = &impact.schedule {
        check_schedule(schedule, &mut refusals);
    }
    if let Some(cost) = &impact.cost {
        check_cost(cost, project_currency, &mut refusals);
    }
    if let Some(effort) = &impact.effort {
        check_effort(effort, &mut refusals);
    }
    if let Some(risk) = &impact.risk {
        check_text(
            &mut refusals,
            &["risk", "description"],
            required_multi_line(&risk.description, MAX_RISK_DESCRIPTION_CHARS),
        );
    }
    if let Some(scope) = &impact.scope {
        check_scope(scope, in_scope, &mut refusals);
    }
    refusals.finish()
}

fn check_schedule(schedule: &ScheduleImpact, refusals: &mut Refusals) {
    check_days(refusals, &["schedule", "days"], schedule.days);
    let mut shifted = HashSet::new();
    for (position, shift) in schedule.milestone_shifts.iter().enumerate() {
        let index = position.to_string();
        if !shifted.insert(shift.milestone_id) {
            refusals.push(Refusal::bad_input(
                &["schedule", "milestoneShifts", &index, "milestoneId"],
                "this milestone is already shifted earlier in the list",
            ));
        }
        check_days(
            refusals,
            &["schedule", "milestoneShifts", &index, "days"],
            shift.days,
        );
    }
}

fn check_days(refusals: &mut Refusals, field: &[&str], days: i32) {
    if !(-MAX_SHIFT_DAYS..=MAX_SHIFT_DAYS).contains(&days) {
        refusals.push(Refusal::bad_input(
            field,
            format!("must be between -{MAX_SHIFT_DAYS} and {MAX_SHIFT_DAYS} days"),
        ));
    }
}

fn check_cost(cost: &CostImpact, project_currency: Option<&str>, refusals: &mut Refusals) {
    let currency_field = ["cost", "currency"];
    match project_currency {
        // Amounts in another currency could not be added to the budget they change.
        Some(budget_currency) if cost.currency != budget_currency => {
            refusals.push(Refusal::bad_input(
                &currency_field,
                format!("must be {budget_currency}, the currency of the project's budget"),
            ));
        }
        Some(_) => {}
        None => {
            // Exact, not trimmed: the stored code must compare equal to later budgets.
            let well_formed = CurrencyCode::parse(&cost.currency)
                .is_ok_and(|code| code.as_str() == cost.currency);
            if !well_formed {
                refusals.push(Refusal::bad_input(
                    &currency_field,
                    CurrencyError.to_string(),
                ));
            }
        }
    }
    let amount_field = ["cost", "amount"];
    if cost.amount.abs() >= Decimal::from(MAX_COST_EXCLUSIVE) {
        refusals.push(Refusal::bad_input(
            &amount_field,
            MoneyError::TooLarge.to_string(),
        ));
    }
    if decimal_places(cost.amount) > Money::MAX_SCALE {
        let too_precise = MoneyError::TooPrecise {
            max: Money::MAX_SCALE,
        };
        refusals.push(Refusal::bad_input(&amount_field, too_precise.to_string()));
    }
    check_text(
        refusals,
        &["cost", "budgetLine"],
        single_line(&cost.budget_line, MAX_BUDGET_LINE_CHARS),
    );
}

fn check_effort(effort: &EffortImpact, refusals: &mut Refusals) {
    let person_days_field = ["effort", "personDays"];
    if effort.person_days.is_sign_negative() && !effort.person_days.is_zero() {
        refusals.push(Refusal::bad_input(
            &person_days_field,
            "must not be negative",
        ));
    }
    if effort.person_days > Decimal::from(MAX_PERSON_DAYS) {
        refusals.push(Refusal::bad_input(
            &person_days_field,
            format!("must be at most {MAX_PERSON_DAYS} person-days"),
        ));
    }
    if decimal_places(effort.person_days) > PERSON_DAYS_SCALE {
        refusals.push(Refusal::bad_input(
            &person_days_field,
            format!("must have at most {PERSON_DAYS_SCALE} decimal places"),
        ));
    }
    for (position, role) in effort.roles.iter().enumerate() {
        check_text(
            refusals,
            &["effort", "roles", &position.to_string()],
            single_line(role, MAX_ROLE_CHARS),
        );
    }
}

fn check_scope(scope: &ScopeImpact, in_scope: &[ScopeItem], refusals: &mut Refusals) {
    let kept_in_scope: Vec<&ScopeItem> = in_scope
        .iter()
        .filter(|item| !scope.remove.contains(&item.id))
        .collect();
    for (position, addition) in scope.add.iter().enumerate() {
        let field = ["scope", "add", &position.to_string(), "text"];
        check_text(
            refusals,
            &field,
            single_line(&addition.text, MAX_SCOPE_TEXT_CHARS),
        );
        let text = addition.text.trim();
        if scope.add[..position]
            .iter()
            .any(|earlier| same_item_text(earlier.text.trim(), text))
        {
            refusals.push(Refusal::bad_input(
                &field,
                "this item is already added earlier in the list",
            ));
        } else if kept_in_scope
            .iter()
            .any(|held| same_item_text(&held.text, text))
        {
            refusals.push(Refusal::bad_input(
                &field,
                "this item is already in scope in the scope baseline",
            ));
        }
    }
    let mut removed = HashSet::new();
    for (position, item_id) in scope.remove.iter().enumerate() {
        if !removed.insert(*item_id) {
            refusals.push(Refusal::bad_input(
                &["scope", "remove", &position.to_string()],
                "this item is already removed earlier in the list",
            ));
        }
    }
}

fn check_text(refusals: &mut Refusals, field: &[&str], checked: Result<String, TextError>) {
    if let Err(error) = checked {
        refusals.push(Refusal::bad_input(field, error.to_string()));
    }
}

/// Trailing zeros say nothing about precision: `1.50` has one decimal place.
fn decimal_places(value: Decimal) -> u32 {
    value.normalize().scale()
}

/// The dimensions not yet assessed, in the order schedule, cost, effort, risk; a decision
/// needs none missing.
pub fn missing_dimensions(impact: &Impact) -> Vec<&'static str> {
    [
        ("schedule", impact.schedule.is_none()),
        ("cost", impact.cost.is_none()),
        ("effort", impact.effort.is_none()),
        ("risk", impact.risk.is_none()),
    ]
    .into_iter()
    .filter(|(_, missing)| *missing)
    .map(|(dimension, _)| dimension)
    .collect()
}

/// The guard of a decision: the impact on time, cost, resources and risk must all be assessed
/// (DOMAIN §4.3), so that whoever decides sees the price of the change. It holds when the PM
/// requests the decision, and for every assessment recorded while the decision is awaited.
/// One refusal per dimension missing, at that dimension's field under `at`, where the input
/// holds the impact.
pub fn check_assessed(impact: &Impact, at: &[&str]) -> Result<(), Vec<Refusal>> {
    let missing = missing_dimensions(impact);
    if missing.is_empty() {
        return Ok(());
    }
    Err(missing
        .into_iter()
        .map(|dimension| {
            let field: Vec<&str> = at.iter().copied().chain([dimension]).collect();
            Refusal::precondition(&field, format!("the {dimension} impact is not assessed"))
        })
        .collect())
}

/// Below the red line the PM decides alone; at or above it the steering committee votes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedLine {
    pub schedule_days: i32,
    pub cost: Decimal,
    pub risk: RiskLevel,
}

impl Default for RedLine {
    fn default() -> Self {
        Self {
            schedule_days: 5,
            cost: Decimal::from(10_000),
            risk: RiskLevel::Medium,
        }
    }
}

/// True when the change is strictly below every threshold: |schedule days| < schedule_days,
/// |cost| < cost, risk < risk level. A missing dimension is never within the red line, since an
/// unassessed change cannot be shown to be minor. The schedule counts its largest shift, overall
/// or of any milestone, so that a change cannot slip past the committee by moving milestones
/// while reporting no overall delay. A change that adds or removes scope items is never within
/// either, however cheap: any change beyond the initial scope is the committee's to approve
/// (DOMAIN §4.1), and its approval re-baselines the scope without a signature round.
pub fn within_red_line(impact: &Impact, red_line: &RedLine) -> bool {
    let (Some(schedule), Some(cost), Some(_), Some(risk)) =
        (&impact.schedule, &impact.cost, &impact.effort, &impact.risk)
    else {
        return false;
    };
    if changes_scope(impact) {
        return false;
    }
    let largest_shift = schedule
        .milestone_shifts
        .iter()
        .map(|shift| shift.days.unsigned_abs())
        .fold(schedule.days.unsigned_abs(), u32::max);
    i64::from(largest_shift) < i64::from(red_line.schedule_days)
        && cost.amount.abs() < red_line.cost
        && risk.level < red_line.risk
}

/// Whether the steering committee, rather than the PM, decides the change: when it is not within
/// the red line, and always once it has been sent to the committee (`sent_to_committee`: a
/// ballot was ever opened on it). A ballot is never taken back from the committee, whatever
/// happens to the red line or the assessment afterwards; otherwise a PM facing a vote going
/// against a change could raise the red line, re-assess, and approve it alone.
pub fn committee_decides(impact: &Impact, red_line: &RedLine, sent_to_committee: bool) -> bool {
    sent_to_committee || !within_red_line(impact, red_line)
}

/// The cost the change moves, if it moves any: a zero cost changes no budget, so it takes no
/// cost baseline and concerns no finance representative.
pub fn cost_moved(impact: &Impact) -> Option<&CostImpact> {
    impact.cost.as_ref().filter(|cost| !cost.amount.is_zero())
}

/// Whether the change adds or removes any scope item; an empty scope part changes nothing.
pub fn changes_scope(impact: &Impact) -> bool {
    impact
        .scope
        .as_ref()
        .is_some_and(|scope| !scope.add.is_empty() || !scope.remove.is_empty())
}

/// Who may vote on a change request: the committee minus the requester and whoever last edited
/// the impact (separation of duties). Returns (eligible, recused ∩ committee).
pub fn electorate(
    committee: &BTreeSet<Uuid>,
    requester: Uuid,
    impact_editor: Option<Uuid>,
) -> (BTreeSet<Uuid>, BTreeSet<Uuid>) {
    let (recused, eligible) = committee
        .iter()
        .copied()
        .partition(|&member| member == requester || impact_editor == Some(member));
    (eligible, recused)
}

/// A member lends their vote to another user for a date range (inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    pub delegator: Uuid,
    pub delegate: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Delegation {
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }

    /// Whether the two periods share at least one day.
    pub fn overlaps(&self, other: &Delegation) -> bool {
        self.from <= other.to && other.from <= self.to
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DelegationRefusal {
    #[error("one cannot delegate to oneself")]
    ToSelf,
    #[error("the end date is before the start date")]
    Backwards,
    #[error("the delegate holds a delegation for that period and cannot pass votes on")]
    DelegateDelegates,
    #[error(
        "the delegator already receives votes for that period; delegates cannot delegate further"
    )]
    DelegatorIsDelegate,
    #[error("an overlapping delegation from this member exists")]
    Overlapping,
    #[error("no delegation from that member covers today")]
    NotDelegated,
}

/// Checks a new delegation against the existing ones: no self-delegation, from ≤ to, no chains
/// (the delegator must not be a delegate, and the delegate must not have delegated, in an
/// overlapping period), one outgoing delegation per member per period. Chains are refused
/// rather than followed so that every seat has at most one hand casting it, and that hand is
/// known from a single delegation.
pub fn check_delegation(
    new: &Delegation,
    existing: &[Delegation],
) -> Result<(), DelegationRefusal> {
    if new.delegator == new.delegate {
        return Err(DelegationRefusal::ToSelf);
    }
    if new.to < new.from {
        return Err(DelegationRefusal::Backwards);
    }
    let overlapping: Vec<&Delegation> = existing.iter().filter(|d| d.overlaps(new)).collect();
    if overlapping.iter().any(|d| d.delegator == new.delegate) {
        return Err(DelegationRefusal::DelegateDelegates);
    }
    if overlapping.iter().any(|d| d.delegate == new.delegator) {
        return Err(DelegationRefusal::DelegatorIsDelegate);
    }
    if overlapping.iter().any(|d| d.delegator == new.delegator) {
        return Err(DelegationRefusal::Overlapping);
    }
    Ok(())
}

/// The seat a vote counts for: the caller's own, or — voting on behalf of someone — the
/// delegator's, when a delegation from them to the caller covers `today`. Naming oneself as
/// the one represented is just voting. A delegator keeps their own seat too: the ballot takes
/// one vote per seat, whichever hand casts it first.
pub fn seat(
    voter: Uuid,
    on_behalf_of: Option<Uuid>,
    delegations: &[Delegation],
    today: NaiveDate,
) -> Result<Uuid, DelegationRefusal> {
    match on_behalf_of {
        None => Ok(voter),
        Some(delegator) if delegator == voter => Ok(voter),
        Some(delegator) => delegations
            .iter()
            .any(|d| d.delegator == delegator && d.delegate == voter && d.covers(today))
            .then_some(delegator)
            .ok_or(DelegationRefusal::NotDelegated),
    }
}

/// The seat a vote on a change request counts for, with separation of duties applied to the
/// person as well as to the seat: the requester or the impact's last editor may not vote even
/// with a delegation from an eligible member (committee member or not), or they could approve
/// their own change by proxy. A recused seat is refused here too, with a clearer message than
/// the ballot's.
pub fn voting_seat(
    voter: Uuid,
    on_behalf_of: Option<Uuid>,
    delegations: &[Delegation],
    today: NaiveDate,
    requester: Uuid,
    impact_editor: Option<Uuid>,
) -> Result<Uuid, Refusal> {
    let is_recused = |person: Uuid| person == requester || impact_editor == Some(person);
    if is_recused(voter) {
        return Err(Refusal::new(
            RefusalCode::NotEligible,
            &[],
            "the requester and whoever last edited the impact do not vote on this change",
        ));
    }
    let seat = seat(voter, on_behalf_of, delegations, today).map_err(|refusal| {
        Refusal::new(
            RefusalCode::NotEligible,
            &["onBehalfOf"],
            refusal.to_string(),
        )
    })?;
    if is_recused(seat) {
        return Err(Refusal::new(
            RefusalCode::NotEligible,
            &["onBehalfOf"],
            "the requester and whoever last edited the impact do not vote on this change, not even through a delegate",
        ));
    }
    Ok(seat)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::committee::{Ballot, Vote, VotingRule};
    use super::*;

    use CrAction as A;
    use CrStatus as S;

    fn user(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn day(offset: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 15).expect("valid date") + chrono::Duration::days(offset)
    }

    fn dec(text: &str) -> Decimal {
        text.parse().expect("decimal literal")
    }

    /// Every edge of the lifecycle; any other (status, action) pair has none.
    const EDGES: [(CrStatus, CrAction, CrStatus); 19] = [
        (S::Draft, A::Submit, S::Submitted),
        (S::Submitted, A::StartAssessment, S::UnderAssessment),
        (S::UnderAssessment, A::RequestInfo, S::InfoRequested),
        (S::AwaitingDecision, A::RequestInfo, S::InfoRequested),
        (S::InfoRequested, A::ProvideInfo, S::UnderAssessment),
        (S::UnderAssessment, A::RequestDecision, S::AwaitingDecision),
        (S::AwaitingDecision, A::Approve, S::Approved),
        (S::AwaitingDecision, A::Reject, S::Rejected),
        (S::AwaitingDecision, A::Defer, S::Deferred),
        (S::Approved, A::StartImplementation, S::InImplementation),
        (
            S::InImplementation,
            A::CompleteImplementation,
            S::Implemented,
        ),
        (S::Implemented, A::Close, S::Closed),
        (S::Rejected, A::Close, S::Closed),
        (S::Deferred, A::Resubmit, S::Submitted),
        (S::Draft, A::Withdraw, S::Withdrawn),
        (S::Submitted, A::Withdraw, S::Withdrawn),
        (S::UnderAssessment, A::Withdraw, S::Withdrawn),
        (S::InfoRequested, A::Withdraw, S::Withdrawn),
        (S::AwaitingDecision, A::Withdraw, S::Withdrawn),
    ];

    #[test]
    fn every_status_and_action_pair_leads_where_the_table_says() {
        for from in CrStatus::ALL {
            for action in CrAction::ALL {
                let expected = EDGES
                    .iter()
                    .find(|(edge_from, edge_action, _)| {
                        *edge_from == from && *edge_action == action
                    })
                    .map(|(_, _, to)| *to);
                assert_eq!(target(from, action), expected, "{from} {action}");
                match expected {
                    Some(to) => assert_eq!(transition(from, action), Ok(to)),
                    None => {
                        let refusal = transition(from, action).expect_err("no such edge");
                        assert_eq!(refusal.code, RefusalCode::InvalidTransition);
                        assert_eq!(refusal.field, ["action"]);
                        assert_eq!(refusal.current_state.as_deref(), Some(from.as_str()));
                        let allowed: Vec<String> = allowed_actions(from)
                            .iter()
                            .map(|a| a.as_str().to_owned())
                            .collect();
                        assert_eq!(refusal.allowed_actions, allowed);
                        assert!(
                            refusal.message.contains(action.as_str()),
                            "{}",
                            refusal.message
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn allowed_actions_are_the_edges_out_of_a_status() {
        let cases: [(CrStatus, &[CrAction]); 5] = [
            (S::Draft, &[A::Submit, A::Withdraw]),
            (
                S::AwaitingDecision,
                &[A::RequestInfo, A::Approve, A::Reject, A::Defer, A::Withdraw],
            ),
            (S::Deferred, &[A::Resubmit]),
            (S::Closed, &[]),
            (S::Withdrawn, &[]),
        ];
        for (from, expected) in cases {
            assert_eq!(allowed_actions(from), expected, "{from}");
        }
    }

    #[test]
    fn only_pre_decision_states_can_be_withdrawn_and_decided_states_are_the_rest_but_withdrawn() {
        for status in CrStatus::ALL {
            assert_eq!(
                status.is_pre_decision(),
                target(status, A::Withdraw).is_some(),
                "{status}"
            );
            assert!(
                !(status.is_pre_decision() && status.is_decided()),
                "{status}"
            );
            let neither = !status.is_pre_decision() && !status.is_decided();
            assert_eq!(neither, status == S::Withdrawn, "{status}");
        }
    }

    #[test]
    fn codes_round_trip_in_screaming_snake_case() {
        for status in CrStatus::ALL {
            assert_eq!(status.as_str().parse::<CrStatus>(), Ok(status));
        }
        for action in CrAction::ALL {
            assert_eq!(action.as_str().parse::<CrAction>(), Ok(action));
        }
        for level in RiskLevel::ALL {
            assert_eq!(level.as_str().parse::<RiskLevel>(), Ok(level));
        }
        for category in CrCategory::ALL {
            assert_eq!(category.as_str().parse::<CrCategory>(), Ok(category));
        }
        for priority in CrPriority::ALL {
            assert_eq!(priority.as_str().parse::<CrPriority>(), Ok(priority));
        }
        assert_eq!(S::InImplementation.as_str(), "IN_IMPLEMENTATION");
        assert_eq!(A::StartAssessment.as_str(), "START_ASSESSMENT");
        assert!("in_implementation".parse::<CrStatus>().is_err());
        assert!(RiskLevel::Low < RiskLevel::Medium && RiskLevel::High < RiskLevel::Critical);
    }

    #[test]
    fn each_action_names_who_may_take_it() {
        use CrParty::{Decider, ProjectManager, Requester};
        let cases: [(CrAction, &[CrParty]); 13] = [
            (A::Submit, &[Requester]),
            (A::StartAssessment, &[ProjectManager]),
            (A::RequestInfo, &[ProjectManager]),
            (A::ProvideInfo, &[Requester]),
            (A::RequestDecision, &[ProjectManager]),
            (A::Approve, &[Decider]),
            (A::Reject, &[Decider]),
            (A::Defer, &[Decider]),
            (A::Resubmit, &[Requester, ProjectManager]),
            (A::StartImplementation, &[ProjectManager]),
            (A::CompleteImplementation, &[ProjectManager]),
            (A::Close, &[ProjectManager]),
            (A::Withdraw, &[Requester, ProjectManager]),
        ];
        for (action, expected) in cases {
            assert_eq!(parties(action), expected, "{action}");
        }
    }

    #[test]
    fn a_ballot_outcome_maps_to_its_lifecycle_action() {
        let cases = [
            (Tally::Open, None),
            (Tally::Decided(DecisionChoice::Approve), Some(A::Approve)),
            (Tally::Decided(DecisionChoice::Reject), Some(A::Reject)),
            (Tally::Deadlocked, Some(A::Defer)),
            (Tally::Decided(DecisionChoice::Go), None),
        ];
        for (tally, expected) in cases {
            assert_eq!(outcome_action(&tally), expected, "{tally:?}");
        }
    }

    fn full_impact() -> Impact {
        Impact {
            schedule: Some(ScheduleImpact {
                days: 3,
                milestone_shifts: vec![
                    MilestoneShift {
                        milestone_id: user(1),
                        days: 3,
                    },
                    MilestoneShift {
                        milestone_id: user(2),
                        days: -2,
                    },
                ],
            }),
            cost: Some(CostImpact {
                amount: dec("-1250.5"),
                currency: "EUR".to_owned(),
                budget_line: "Licences".to_owned(),
            }),
            effort: Some(EffortImpact {
                person_days: dec("12.25"),
                roles: vec!["Consultant".to_owned(), "Developer".to_owned()],
            }),
            risk: Some(RiskImpact {
                level: RiskLevel::Low,
                description: "Touches the lead form only.".to_owned(),
            }),
            scope: Some(ScopeImpact {
                add: vec![ScopeAddition {
                    category: ItemCategory::Report,
                    text: "Pipeline by region".to_owned(),
                }],
                remove: vec![user(7)],
            }),
        }
    }

    fn refused_fields(impact: &Impact, currency: Option<&str>) -> Vec<String> {
        match check_impact(impact, currency, &[]) {
            Ok(()) => Vec::new(),
            Err(refusals) => refusals
                .into_iter()
                .inspect(|r| assert_eq!(r.code, RefusalCode::BadUserInput))
                .map(|r| r.field.join("."))
                .collect(),
        }
    }

    #[test]
    fn check_impact_names_the_field_path_of_every_problem() {
        type Edit = fn(&mut Impact);
        let cases: [(&str, Option<&str>, Edit, &[&str]); 16] = [
            ("a sound impact", Some("EUR"), |_| {}, &[]),
            ("an empty impact", None, |i| *i = Impact::default(), &[]),
            (
                "negative effort",
                None,
                |i| {
                    if let Some(e) = &mut i.effort {
                        e.person_days = dec("-0.5");
                    }
                },
                &["effort.personDays"],
            ),
            (
                "effort too large and too precise",
                None,
                |i| {
                    if let Some(e) = &mut i.effort {
                        e.person_days = dec("1000000.125");
                    }
                },
                &["effort.personDays", "effort.personDays"],
            ),
            (
                "currency other than the project's",
                Some("CNY"),
                |_| {},
                &["cost.currency"],
            ),
            (
                "malformed currency without a project currency",
                None,
                |i| {
                    if let Some(c) = &mut i.cost {
                        c.currency = "eur".to_owned();
                    }
                },
                &["cost.currency"],
            ),
            (
                "cost of one quadrillion saved",
                None,
                |i| {
                    if let Some(c) = &mut i.cost {
                        c.amount = dec("-1000000000000000");
                    }
                },
                &["cost.amount"],
            ),
            (
                "cost with five decimals",
                None,
                |i| {
                    if let Some(c) = &mut i.cost {
                        c.amount = dec("1.00001");
                    }
                },
                &["cost.amount"],
            ),
            (
                "duplicate milestone shift",
                None,
                |i| {
                    if let Some(s) = &mut i.schedule {
                        s.milestone_shifts.push(MilestoneShift {
                            milestone_id: user(1),
                            days: 1,
                        });
                    }
                },
                &["schedule.milestoneShifts.2.milestoneId"],
            ),
            (
                "shift beyond ten years",
                None,
                |i| {
                    if let Some(s) = &mut i.schedule {
                        s.days = -3651;
                        s.milestone_shifts[1].days = 3651;
                    }
                },
                &["schedule.days", "schedule.milestoneShifts.1.days"],
            ),
            (
                "budget line too long",
                None,
                |i| {
                    if let Some(c) = &mut i.cost {
                        c.budget_line = "b".repeat(201);
                    }
                },
                &["cost.budgetLine"],
            ),
            (
                "role too long and role blank",
                None,
                |i| {
                    if let Some(e) = &mut i.effort {
                        e.roles = vec!["r".repeat(101), "ok".to_owned(), " ".to_owned()];
                    }
                },
                &["effort.roles.0", "effort.roles.2"],
            ),
            (
                "risk description too long",
                None,
                |i| {
                    if let Some(r) = &mut i.risk {
                        r.description = "d".repeat(2001);
                    }
                },
                &["risk.description"],
            ),
            (
                "scope text too long and duplicate removal",
                None,
                |i| {
                    if let Some(s) = &mut i.scope {
                        s.add[0].text = "t".repeat(501);
                        s.remove = vec![user(7), user(8), user(7)];
                    }
                },
                &["scope.add.0.text", "scope.remove.2"],
            ),
            (
                "longest texts are fine",
                None,
                |i| {
                    if let (Some(c), Some(r), Some(s)) = (&mut i.cost, &mut i.risk, &mut i.scope) {
                        c.budget_line = "b".repeat(200);
                        r.description = "d".repeat(2000);
                        s.add[0].text = "t".repeat(500);
                    }
                },
                &[],
            ),
            (
                "several problems at once",
                Some("USD"),
                |i| {
                    if let (Some(s), Some(e), Some(r)) =
                        (&mut i.schedule, &mut i.effort, &mut i.risk)
                    {
                        s.milestone_shifts[1].milestone_id = user(1);
                        e.person_days = dec("-1");
                        r.description = String::new();
                    }
                },
                &[
                    "schedule.milestoneShifts.1.milestoneId",
                    "cost.currency",
                    "effort.personDays",
                    "risk.description",
                ],
            ),
        ];
        for (name, currency, edit, expected) in cases {
            let mut impact = full_impact();
            edit(&mut impact);
            assert_eq!(refused_fields(&impact, currency), expected, "{name}");
        }
    }

    #[test]
    fn only_a_cost_other_than_zero_moves_money() {
        let mut impact = full_impact();
        assert_eq!(
            cost_moved(&impact).map(|cost| cost.amount),
            Some(dec("-1250.5"))
        );
        if let Some(cost) = &mut impact.cost {
            cost.amount = dec("0.00");
        }
        assert!(cost_moved(&impact).is_none());
        impact.cost = None;
        assert!(cost_moved(&impact).is_none());
    }

    #[test]
    fn a_scope_addition_must_not_be_in_scope_already() {
        let held = |n: u128, text: &str| ScopeItem {
            id: user(n),
            category: ItemCategory::Module,
            text: text.to_owned(),
        };
        let in_scope = [held(7, "Leads"), held(8, "Pipeline by region")];
        let adding = |texts: &[&str], remove: &[u128]| Impact {
            scope: Some(ScopeImpact {
                add: texts
                    .iter()
                    .map(|text| ScopeAddition {
                        category: ItemCategory::Report,
                        text: (*text).to_owned(),
                    })
                    .collect(),
                remove: remove.iter().map(|&n| user(n)).collect(),
            }),
            ..Impact::default()
        };
        let refused = |impact: &Impact| match check_impact(impact, None, &in_scope) {
            Ok(()) => Vec::new(),
            Err(refusals) => refusals
                .into_iter()
                .inspect(|r| assert_eq!(r.code, RefusalCode::BadUserInput))
                .map(|r| r.field.join("."))
                .collect(),
        };
        let cases: [(&str, Impact, &[&str]); 5] = [
            ("a new item", adding(&["Service ticketing"], &[]), &[]),
            (
                "an item in scope, whatever its case or padding",
                adding(&["Service ticketing", " pipeline BY region "], &[]),
                &["scope.add.1.text"],
            ),
            (
                "an item the same change removes",
                adding(&["Pipeline by region"], &[8]),
                &[],
            ),
            (
                "the same item twice",
                adding(&["Service ticketing", "service ticketing"], &[]),
                &["scope.add.1.text"],
            ),
            (
                "an item the change removes, added twice",
                adding(&["Leads", "Leads"], &[7]),
                &["scope.add.1.text"],
            ),
        ];
        for (name, impact, expected) in cases {
            assert_eq!(refused(&impact), expected, "{name}");
        }
    }

    #[test]
    fn missing_dimensions_lists_the_unassessed_in_a_fixed_order() {
        type Edit = fn(&mut Impact);
        let cases: [(Edit, &[&str]); 4] = [
            (|_| {}, &[]),
            (
                |i| *i = Impact::default(),
                &["schedule", "cost", "effort", "risk"],
            ),
            (
                |i| {
                    i.cost = None;
                    i.risk = None;
                    i.scope = None;
                },
                &["cost", "risk"],
            ),
            (|i| i.schedule = None, &["schedule"]),
        ];
        for (edit, expected) in cases {
            let mut impact = full_impact();
            edit(&mut impact);
            assert_eq!(missing_dimensions(&impact), expected);
            assert_eq!(check_assessed(&impact, &[]).is_ok(), expected.is_empty());
        }
        let refusals =
            check_assessed(&Impact::default(), &["impact"]).expect_err("nothing assessed");
        let fields: Vec<Vec<String>> = refusals.iter().map(|r| r.field.clone()).collect();
        assert_eq!(
            fields,
            ["schedule", "cost", "effort", "risk"].map(|d| vec!["impact".to_owned(), d.to_owned()])
        );
        assert!(
            refusals
                .iter()
                .all(|r| r.code == RefusalCode::PreconditionFailed)
        );
    }

    #[test]
    fn within_red_line_is_strictly_below_every_threshold() {
        type Edit = fn(&mut Impact);
        let red_line = RedLine::default();
        let cases: [(&str, Edit, bool); 17] = [
            ("the sound impact", |_| {}, true),
            ("four days", |i| set_days(i, 4), true),
            ("five days equals the threshold", |i| set_days(i, 5), false),
            ("five days earlier counts too", |i| set_days(i, -5), false),
            ("four days earlier", |i| set_days(i, -4), true),
            (
                "a milestone shifted five days",
                |i| {
                    if let Some(s) = &mut i.schedule {
                        s.milestone_shifts[0].days = 5;
                    }
                },
                false,
            ),
            ("just below the cost", |i| set_cost(i, "9999.9999"), true),
            ("cost equals the threshold", |i| set_cost(i, "10000"), false),
            (
                "a saving as large as the threshold",
                |i| set_cost(i, "-10000"),
                false,
            ),
            (
                "medium risk equals the threshold",
                |i| set_risk(i, RiskLevel::Medium),
                false,
            ),
            ("critical risk", |i| set_risk(i, RiskLevel::Critical), false),
            ("no schedule assessed", |i| i.schedule = None, false),
            ("no effort assessed", |i| i.effort = None, false),
            ("no scope part is needed", |i| i.scope = None, true),
            (
                "an empty scope part changes no scope",
                |i| {
                    i.scope = Some(ScopeImpact {
                        add: Vec::new(),
                        remove: Vec::new(),
                    })
                },
                true,
            ),
            (
                "adding a scope item is the committee's",
                |i| {
                    i.scope = full_impact().scope.map(|mut scope| {
                        scope.remove.clear();
                        scope
                    })
                },
                false,
            ),
            (
                "removing a scope item is the committee's",
                |i| {
                    i.scope = full_impact().scope.map(|mut scope| {
                        scope.add.clear();
                        scope
                    })
                },
                false,
            ),
        ];
        for (name, edit, expected) in cases {
            // Scope aside, the full impact is minor: each case changes one thing.
            let mut impact = Impact {
                scope: None,
                ..full_impact()
            };
            edit(&mut impact);
            assert_eq!(within_red_line(&impact, &red_line), expected, "{name}");
        }
        assert!(!within_red_line(&Impact::default(), &red_line));
        let nothing_is_minor = RedLine {
            schedule_days: 0,
            cost: Decimal::ZERO,
            risk: RiskLevel::Low,
        };
        assert!(!within_red_line(&full_impact(), &nothing_is_minor));
    }

    #[test]
    fn a_scope_change_is_never_within_the_red_line_however_cheap() {
        let mut free_scope_change = full_impact();
        set_days(&mut free_scope_change, 0);
        set_cost(&mut free_scope_change, "0");
        set_risk(&mut free_scope_change, RiskLevel::Low);
        let generous = RedLine {
            schedule_days: MAX_SHIFT_DAYS,
            cost: Decimal::from(MAX_COST_EXCLUSIVE),
            risk: RiskLevel::Critical,
        };
        assert!(changes_scope(&free_scope_change));
        assert!(!within_red_line(&free_scope_change, &generous));
        free_scope_change.scope = None;
        assert!(within_red_line(&free_scope_change, &generous));
    }

    #[test]
    fn once_sent_to_the_committee_the_committee_decides_whatever_the_red_line() {
        let minor = Impact {
            scope: None,
            ..full_impact()
        };
        let red_line = RedLine::default();
        assert!(within_red_line(&minor, &red_line));
        assert!(!committee_decides(&minor, &red_line, false));
        assert!(committee_decides(&minor, &red_line, true));
        let major = Impact {
            risk: Some(RiskImpact {
                level: RiskLevel::Critical,
                description: "Replaces the ERP interface".to_owned(),
            }),
            ..minor
        };
        assert!(committee_decides(&major, &red_line, false));
        assert!(committee_decides(&major, &red_line, true));
    }

    fn set_days(impact: &mut Impact, days: i32) {
        if let Some(schedule) = &mut impact.schedule {
            schedule.days = days;
            schedule.milestone_shifts.clear();
        }
    }

    fn set_cost(impact: &mut Impact, amount: &str) {
        if let Some(cost) = &mut impact.cost {
            cost.amount = dec(amount);
        }
    }

    fn set_risk(impact: &mut Impact, level: RiskLevel) {
        if let Some(risk) = &mut impact.risk {
            risk.level = level;
        }
    }

    #[test]
    fn the_default_red_line_is_five_days_ten_thousand_and_medium_risk() {
        let red_line = RedLine::default();
        assert_eq!(red_line.schedule_days, 5);
        assert_eq!(red_line.cost, Decimal::from(10_000));
        assert_eq!(red_line.risk, RiskLevel::Medium);
    }

    #[test]
    fn an_impact_round_trips_through_camel_case_json() {
        let impact = full_impact();
        let json = serde_json::to_value(&impact).expect("serializable");
        assert_eq!(json["schedule"]["milestoneShifts"][1]["days"], -2);
        assert_eq!(json["cost"]["budgetLine"], "Licences");
        assert_eq!(json["effort"]["personDays"], "12.25");
        assert_eq!(json["risk"]["level"], "LOW");
        assert_eq!(json["scope"]["add"][0]["category"], "REPORT");
        let back: Impact = serde_json::from_value(json).expect("deserializable");
        assert_eq!(back, impact);
        let partial: Impact =
            serde_json::from_str(r#"{"risk":{"level":"HIGH","description":"x"}}"#)
                .expect("a partial assessment reads back");
        assert_eq!(missing_dimensions(&partial), ["schedule", "cost", "effort"]);
    }

    #[test]
    fn electorate_recuses_the_requester_and_the_impact_editor() {
        let committee: BTreeSet<Uuid> = (1..=4).map(user).collect();
        let ids = |ns: &[u128]| ns.iter().map(|&n| user(n)).collect::<BTreeSet<Uuid>>();
        // (requester, impact editor, eligible, recused)
        type Case = (u128, Option<u128>, &'static [u128], &'static [u128]);
        let cases: [Case; 5] = [
            (9, None, &[1, 2, 3, 4], &[]),
            (1, None, &[2, 3, 4], &[1]),
            (1, Some(2), &[3, 4], &[1, 2]),
            (1, Some(1), &[2, 3, 4], &[1]),
            (9, Some(8), &[1, 2, 3, 4], &[]),
        ];
        for (requester, editor, eligible, recused) in cases {
            let (got_eligible, got_recused) =
                electorate(&committee, user(requester), editor.map(user));
            assert_eq!(got_eligible, ids(eligible), "{requester} {editor:?}");
            assert_eq!(got_recused, ids(recused), "{requester} {editor:?}");
        }
    }

    fn delegation(delegator: u128, delegate: u128, from: i64, to: i64) -> Delegation {
        Delegation {
            delegator: user(delegator),
            delegate: user(delegate),
            from: day(from),
            to: day(to),
        }
    }

    #[test]
    fn check_delegation_refuses_self_backwards_chains_and_overlaps() {
        let existing = [delegation(1, 2, 0, 10)];
        let cases = [
            (
                "to oneself",
                delegation(3, 3, 0, 1),
                Err(DelegationRefusal::ToSelf),
            ),
            (
                "backwards",
                delegation(3, 4, 5, 4),
                Err(DelegationRefusal::Backwards),
            ),
            ("a one-day period", delegation(3, 4, 5, 5), Ok(())),
            (
                "delegate has delegated",
                delegation(3, 1, 10, 12),
                Err(DelegationRefusal::DelegateDelegates),
            ),
            (
                "delegator receives votes",
                delegation(2, 3, -3, 0),
                Err(DelegationRefusal::DelegatorIsDelegate),
            ),
            (
                "back to the delegator",
                delegation(2, 1, 4, 4),
                Err(DelegationRefusal::DelegateDelegates),
            ),
            (
                "second outgoing delegation",
                delegation(1, 3, 5, 20),
                Err(DelegationRefusal::Overlapping),
            ),
            (
                "the same delegation again",
                delegation(1, 2, 0, 10),
                Err(DelegationRefusal::Overlapping),
            ),
            (
                "next period from the same member",
                delegation(1, 3, 11, 20),
                Ok(()),
            ),
            ("chain outside the period", delegation(2, 3, 11, 20), Ok(())),
            (
                "two members to one delegate",
                delegation(3, 2, 0, 10),
                Ok(()),
            ),
        ];
        for (name, new, expected) in cases {
            assert_eq!(check_delegation(&new, &existing), expected, "{name}");
        }
    }

    #[test]
    fn seat_is_the_callers_own_or_a_covering_delegators() {
        let delegations = [delegation(1, 2, -5, 0), delegation(3, 2, 1, 9)];
        let cases = [
            ("own seat", 2, None, Ok(user(2))),
            ("on behalf of oneself", 2, Some(2), Ok(user(2))),
            ("covering, last day", 2, Some(1), Ok(user(1))),
            (
                "not yet started",
                2,
                Some(3),
                Err(DelegationRefusal::NotDelegated),
            ),
            (
                "not delegated to this caller",
                4,
                Some(1),
                Err(DelegationRefusal::NotDelegated),
            ),
            (
                "no delegation at all",
                2,
                Some(5),
                Err(DelegationRefusal::NotDelegated),
            ),
            (
                "the reverse direction",
                1,
                Some(2),
                Err(DelegationRefusal::NotDelegated),
            ),
        ];
        for (name, voter, on_behalf_of, expected) in cases {
            let got = seat(user(voter), on_behalf_of.map(user), &delegations, day(0));
            assert_eq!(got, expected, "{name}");
        }
        assert_eq!(
            seat(user(2), Some(user(1)), &delegations, day(1)),
            Err(DelegationRefusal::NotDelegated),
            "expired"
        );
        assert_eq!(
            DelegationRefusal::NotDelegated.to_string(),
            "no delegation from that member covers today"
        );
    }

    #[test]
    fn voting_seat_keeps_the_requester_and_editor_from_voting_even_by_proxy() {
        let delegations = [delegation(1, 8, 0, 0), delegation(9, 2, 0, 0)];
        let (requester, editor) = (user(8), Some(user(9)));
        let cases = [
            ("an eligible member", 2, None, Some(user(2))),
            ("the requester holding a delegation", 8, Some(1), None),
            ("the editor", 9, None, None),
            ("on behalf of the editor", 2, Some(9), None),
            ("without a delegation", 3, Some(1), None),
        ];
        for (name, voter, on_behalf_of, expected) in cases {
            let got = voting_seat(
                user(voter),
                on_behalf_of.map(user),
                &delegations,
                day(0),
                requester,
                editor,
            );
            assert_eq!(got.as_ref().ok(), expected.as_ref(), "{name}");
            if let Err(refusal) = got {
                assert_eq!(refusal.code, RefusalCode::NotEligible, "{name}");
            }
        }
    }

    /// xorshift64: deterministic, dependency-free randomness for the property test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: usize) -> usize {
            let n = u64::try_from(n).expect("small");
            usize::try_from(self.next() % n).expect("small")
        }

        fn percent(&mut self, chance: usize) -> bool {
            self.below(100) < chance
        }

        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[self.below(items.len())]
        }

        fn between(&mut self, low: i64, high: i64) -> i64 {
            let span = usize::try_from(high - low + 1).expect("ordered");
            low + i64::try_from(self.below(span)).expect("small")
        }
    }

    const OUTSIDER: u128 = 99;
    const OUTSIDE_REQUESTER: u128 = 50;
    const OUTSIDE_EDITOR: u128 = 60;

    #[derive(Debug, Clone, Copy)]
    struct RawVote {
        caller: Uuid,
        on_behalf_of: Option<Uuid>,
        vote: Vote<DecisionChoice>,
    }

    #[derive(Debug, PartialEq, Eq)]
    enum VoteFailure {
        AfterOutcome,
        NoBallot,
        Seat,
        Ballot(super::super::committee::VoteRefusal),
    }

    /// What a service keeps for one change request awaiting its decision.
    struct Service {
        status: CrStatus,
        committee: BTreeSet<Uuid>,
        requester: Uuid,
        editor: Option<Uuid>,
        rule: VotingRule,
        delegations: Vec<Delegation>,
        today: NaiveDate,
        /// None when this round's electorate cannot hold a ballot under the rule.
        ballot: Option<Ballot<DecisionChoice>>,
        /// Who cast each seat's vote in this round.
        hands: BTreeMap<Uuid, Uuid>,
        outcomes: usize,
    }

    impl Service {
        fn open_round(&mut self) {
            let (eligible, _) = electorate(&self.committee, self.requester, self.editor);
            self.ballot = Ballot::open(eligible, self.rule).ok();
            self.hands.clear();
        }

        fn vote(&mut self, raw: RawVote) -> Result<(), VoteFailure> {
            if self.status != S::AwaitingDecision {
                return Err(VoteFailure::AfterOutcome);
            }
            let ballot = self.ballot.as_mut().ok_or(VoteFailure::NoBallot)?;
            let seat = voting_seat(
                raw.caller,
                raw.on_behalf_of,
                &self.delegations,
                self.today,
                self.requester,
                self.editor,
            )
            .map_err(|_| VoteFailure::Seat)?;
            let tally = ballot.cast(seat, raw.vote).map_err(VoteFailure::Ballot)?;
            self.hands.insert(seat, raw.caller);
            if let Some(action) = outcome_action(&tally) {
                self.status = transition(self.status, action).expect("awaiting a decision");
                self.outcomes += 1;
            }
            Ok(())
        }

        /// A material edit of the impact supersedes the round's votes.
        fn edit(&mut self, editor: Uuid) -> bool {
            if !self.status.is_pre_decision() {
                return false;
            }
            self.editor = Some(editor);
            self.open_round();
            true
        }
    }

    /// The votes that count, computed from the raw attempts without the engine or the
    /// functions under test: a recused caller or seat, a proxy without a covering delegation, a
    /// non-member seat and a seat's second vote are all dropped.
    fn counted_votes(
        raw_votes: &[RawVote],
        service: &Service,
    ) -> (usize, Vec<Vote<DecisionChoice>>) {
        let is_recused =
            |person: Uuid| person == service.requester || service.editor == Some(person);
        let eligible_seats = service
            .committee
            .iter()
            .filter(|member| !is_recused(**member))
            .count();
        let mut seats_voted = BTreeSet::new();
        let mut counted = Vec::new();
        for raw in raw_votes {
            if is_recused(raw.caller) {
                continue;
            }
            let seat = match raw.on_behalf_of {
                None => raw.caller,
                Some(member) if member == raw.caller => raw.caller,
                Some(member) => {
                    let delegated = service.delegations.iter().any(|d| {
                        d.delegator == member
                            && d.delegate == raw.caller
                            && d.from <= service.today
                            && service.today <= d.to
                    });
                    if !delegated {
                        continue;
                    }
                    member
                }
            };
            if service.committee.contains(&seat) && !is_recused(seat) && seats_voted.insert(seat) {
                counted.push(raw.vote);
            }
        }
        (eligible_seats, counted)
    }

    /// The choice the rule is met for, from counts alone.
    fn rule_met_for(
        rule: VotingRule,
        electorate_size: usize,
        votes: &[Vote<DecisionChoice>],
    ) -> Option<DecisionChoice> {
        let votes_for = |choice| votes.iter().filter(|v| **v == Vote::For(choice)).count();
        let non_abstaining = votes.iter().filter(|v| **v != Vote::Abstain).count();
        match rule {
            VotingRule::Unanimous => {
                let backed: Vec<DecisionChoice> = BALLOT_CHOICES
                    .into_iter()
                    .filter(|&c| votes_for(c) > 0)
                    .collect();
                (votes.len() == electorate_size && backed.len() == 1).then(|| backed[0])
            }
            VotingRule::Majority => BALLOT_CHOICES
                .into_iter()
                .find(|&c| 2 * votes_for(c) > electorate_size),
            VotingRule::Quorum(quorum) => {
                let quorum = usize::try_from(quorum).expect("small");
                BALLOT_CHOICES
                    .into_iter()
                    .find(|&c| votes.len() >= quorum && 2 * votes_for(c) > non_abstaining)
            }
            VotingRule::AnyOne => votes.iter().find_map(|vote| match vote {
                Vote::For(choice) => Some(*choice),
                Vote::Abstain => None,
            }),
        }
    }

    #[derive(Debug, Default)]
    struct Coverage {
        approved_per_rule: BTreeMap<&'static str, usize>,
        rejected: usize,
        deferred: usize,
        failures: BTreeMap<String, usize>,
        proxy_votes_counted: usize,
        edits_reopening: usize,
    }

    fn random_vote(rng: &mut Rng) -> Vote<DecisionChoice> {
        rng.pick(&[
            Vote::For(DecisionChoice::Approve),
            Vote::For(DecisionChoice::Reject),
            Vote::Abstain,
        ])
    }

    #[test]
    fn a_change_request_is_approved_only_when_the_current_rounds_eligible_votes_meet_the_rule() {
        let mut rng = Rng(0x5EED_C0DE_1234_5678);
        let mut coverage = Coverage::default();
        for sequence in 0..2_000 {
            let committee_size = 1 + rng.below(6);
            let committee: BTreeSet<Uuid> = (1..=u128::try_from(committee_size).expect("small"))
                .map(user)
                .collect();
            let members: Vec<Uuid> = committee.iter().copied().collect();
            let requester = if rng.percent(50) {
                rng.pick(&members)
            } else {
                user(OUTSIDE_REQUESTER)
            };
            let rule = match sequence % 4 {
                0 => VotingRule::Unanimous,
                1 => VotingRule::Majority,
                2 => {
                    VotingRule::Quorum(u32::try_from(1 + rng.below(committee_size)).expect("small"))
                }
                _ => VotingRule::AnyOne,
            };
            let mut people = members.clone();
            people.extend([user(OUTSIDER), user(OUTSIDE_EDITOR)]);
            if !people.contains(&requester) {
                people.push(requester);
            }
            let today = day(0);
            let mut delegations = Vec::new();
            for _ in 0..rng.below(5) {
                let from = today + chrono::Duration::days(rng.between(-10, 3));
                let candidate = Delegation {
                    delegator: rng.pick(&people),
                    delegate: rng.pick(&people),
                    from,
                    to: from + chrono::Duration::days(rng.between(-1, 12)),
                };
                if check_delegation(&candidate, &delegations).is_ok() {
                    delegations.push(candidate);
                }
            }
            let editors = [
                None,
                Some(requester),
                Some(rng.pick(&members)),
                Some(user(OUTSIDE_EDITOR)),
            ];
            let mut service = Service {
                status: S::AwaitingDecision,
                committee,
                requester,
                editor: rng.pick(&editors),
                rule,
                delegations,
                today,
                ballot: None,
                hands: BTreeMap::new(),
                outcomes: 0,
            };
            service.open_round();
            let mut round_votes: Vec<RawVote> = Vec::new();

            for _ in 0..1 + rng.below(12) {
                let status_before = service.status;
                let ballot_before = service.ballot.clone();
                let command = rng.below(100);
                if command < 15 {
                    let editor = rng.pick(&people);
                    let reopened = service.edit(editor);
                    assert_eq!(reopened, status_before.is_pre_decision());
                    if reopened {
                        round_votes.clear();
                        coverage.edits_reopening += 1;
                        let fresh = service.ballot.as_ref().is_none_or(|b| b.votes().is_empty());
                        assert!(fresh, "an edit supersedes the round's votes");
                    } else {
                        assert_eq!(service.ballot, ballot_before);
                    }
                    continue;
                }
                let raw = if command < 40 {
                    // Someone whose own seat is eligible, to drive ballots to an outcome.
                    let (eligible, _) =
                        electorate(&service.committee, service.requester, service.editor);
                    let eligible: Vec<Uuid> = eligible.into_iter().collect();
                    let caller = if eligible.is_empty() {
                        rng.pick(&people)
                    } else {
                        rng.pick(&eligible)
                    };
                    RawVote {
                        caller,
                        on_behalf_of: None,
                        vote: random_vote(&mut rng),
                    }
                } else if command < 55 && !service.delegations.is_empty() {
                    let lent = rng
                        .pick(&service.delegations.iter().collect::<Vec<_>>())
                        .clone();
                    RawVote {
                        caller: lent.delegate,
                        on_behalf_of: Some(lent.delegator),
                        vote: random_vote(&mut rng),
                    }
                } else {
                    let on_behalf_of = rng.percent(25).then(|| rng.pick(&people));
                    RawVote {
                        caller: rng.pick(&people),
                        on_behalf_of,
                        vote: random_vote(&mut rng),
                    }
                };
                let outcome = service.vote(raw);
                if status_before == S::AwaitingDecision {
                    round_votes.push(raw);
                } else {
                    assert_eq!(
                        outcome,
                        Err(VoteFailure::AfterOutcome),
                        "a vote after the outcome"
                    );
                    assert_eq!(service.ballot, ballot_before);
                    assert_eq!(service.status, status_before, "an outcome is final");
                }
                if let Err(failure) = outcome {
                    *coverage.failures.entry(format!("{failure:?}")).or_default() += 1;
                } else if raw.on_behalf_of.is_some_and(|member| member != raw.caller) {
                    coverage.proxy_votes_counted += 1;
                }

                let (electorate_size, counted) = counted_votes(&round_votes, &service);
                let verdict = match service.ballot {
                    Some(_) => rule_met_for(rule, electorate_size, &counted),
                    None => None,
                };
                let context = format!(
                    "sequence {sequence}, {rule:?}, committee {committee_size}, votes {round_votes:?}"
                );
                assert_eq!(
                    service.status == S::Approved,
                    verdict == Some(DecisionChoice::Approve),
                    "{context}"
                );
                assert_eq!(
                    service.status == S::Rejected,
                    verdict == Some(DecisionChoice::Reject),
                    "{context}"
                );
                assert!(service.outcomes <= 1, "{context}");
                if let Some(ballot) = &service.ballot {
                    assert_eq!(ballot.votes().len(), counted.len(), "{context}");
                    for (seat, hand) in &service.hands {
                        assert!(service.committee.contains(seat), "{context}");
                        for person in [seat, hand] {
                            let recused =
                                *person == service.requester || service.editor == Some(*person);
                            assert!(!recused, "a recused person voted: {context}");
                        }
                    }
                }
            }
            match service.status {
                S::Approved => {
                    *coverage.approved_per_rule.entry(rule.as_str()).or_default() += 1;
                }
                S::Rejected => coverage.rejected += 1,
                S::Deferred => coverage.deferred += 1,
                _ => {}
            }
        }
        // The generator must reach every path, or the assertions above prove little.
        assert_eq!(coverage.approved_per_rule.len(), 4, "{coverage:?}");
        assert!(
            coverage.rejected > 0 && coverage.deferred > 0,
            "{coverage:?}"
        );
        assert!(
            coverage.proxy_votes_counted > 0 && coverage.edits_reopening > 0,
            "{coverage:?}"
        );
        for failure in [
            "AfterOutcome",
            "NoBallot",
            "Seat",
            "Ballot(NotEligible)",
            "Ballot(AlreadyVoted)",
        ] {
            assert!(
                coverage.failures.contains_key(failure),
                "{failure} never seen: {coverage:?}"
            );
        }
    }
}

#[cfg(test)]
mod properties {
    //! Arbitrary command sequences driven through the change request lifecycle from DRAFT, and
    //! arbitrary delegations registered one after another, with their invariants checked after
    //! every step.

    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;

    use CrAction as A;
    use CrStatus as S;

    /// The lifecycle of the module diagram, edge by edge, written independently of `target`.
    const EDGES: [(CrStatus, CrAction, CrStatus); 19] = [
        (S::Draft, A::Submit, S::Submitted),
        (S::Submitted, A::StartAssessment, S::UnderAssessment),
        (S::UnderAssessment, A::RequestInfo, S::InfoRequested),
        (S::AwaitingDecision, A::RequestInfo, S::InfoRequested),
        (S::InfoRequested, A::ProvideInfo, S::UnderAssessment),
        (S::UnderAssessment, A::RequestDecision, S::AwaitingDecision),
        (S::AwaitingDecision, A::Approve, S::Approved),
        (S::AwaitingDecision, A::Reject, S::Rejected),
        (S::AwaitingDecision, A::Defer, S::Deferred),
        (S::Approved, A::StartImplementation, S::InImplementation),
        (
            S::InImplementation,
            A::CompleteImplementation,
            S::Implemented,
        ),
        (S::Implemented, A::Close, S::Closed),
        (S::Rejected, A::Close, S::Closed),
        (S::Deferred, A::Resubmit, S::Submitted),
        (S::Draft, A::Withdraw, S::Withdrawn),
        (S::Submitted, A::Withdraw, S::Withdrawn),
        (S::UnderAssessment, A::Withdraw, S::Withdrawn),
        (S::InfoRequested, A::Withdraw, S::Withdrawn),
        (S::AwaitingDecision, A::Withdraw, S::Withdrawn),
    ];

    fn expected_target(from: CrStatus, action: CrAction) -> Option<CrStatus> {
        EDGES
            .iter()
            .find(|(edge_from, edge_action, _)| *edge_from == from && *edge_action == action)
            .map(|(_, _, to)| *to)
    }

    /// An arbitrary action, or (when `steer` is set) one the current state allows other than
    /// WITHDRAW, so that sequences reach implementation and closing rather than dying early.
    fn steps() -> impl Strategy<Value = Vec<(CrAction, Option<Index>)>> {
        let action = prop::sample::select(CrAction::ALL.to_vec());
        prop::collection::vec((action, prop::option::of(any::<Index>())), 0..40)
    }

    /// Each step applied from DRAFT: (before, action, outcome).
    fn replay(
        steps: &[(CrAction, Option<Index>)],
    ) -> Vec<(CrStatus, CrAction, Result<CrStatus, Refusal>)> {
        let mut status = S::Draft;
        steps
            .iter()
            .map(|&(arbitrary, steer)| {
                // Steering never withdraws, or few sequences would get past DRAFT; arbitrary
                // actions still do.
                let allowed: Vec<CrAction> = allowed_actions(status)
                    .into_iter()
                    .filter(|action| *action != A::Withdraw)
                    .collect();
                let action = match steer {
                    Some(index) if !allowed.is_empty() => allowed[index.index(allowed.len())],
                    _ => arbitrary,
                };
                let before = status;
                let outcome = transition(before, action);
                if let Ok(after) = outcome {
                    status = after;
                }
                (before, action, outcome)
            })
            .collect()
    }

    const PEOPLE: u128 = 5;
    const DAYS: i64 = 20;

    fn person() -> impl Strategy<Value = Uuid> {
        (1..=PEOPLE).prop_map(Uuid::from_u128)
    }

    fn day(offset: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 3, 1).expect("valid date") + chrono::Duration::days(offset)
    }

    /// Delegations among a handful of people over a few weeks, so that they often overlap,
    /// and sometimes run backwards or to oneself.
    fn delegation() -> impl Strategy<Value = Delegation> {
        (person(), person(), 0..DAYS, -2..10_i64).prop_map(
            |(delegator, delegate, start, length)| Delegation {
                delegator,
                delegate,
                from: day(start),
                to: day(start + length),
            },
        )
    }

    /// Registers the candidates in order as the service does, keeping those accepted. The
    /// registry only grows and its rules are about pairs of delegations, so what holds for the
    /// final registry held after every step.
    fn register(candidates: &[Delegation]) -> Vec<Delegation> {
        let mut registry: Vec<Delegation> = Vec::new();
        for candidate in candidates {
            if check_delegation(candidate, &registry).is_ok() {
                registry.push(candidate.clone());
            }
        }
        registry
    }

    proptest! {
        /// Every accepted action follows an edge of the lifecycle table; every other action is
        /// refused as an invalid transition that offers exactly the actions with an edge.
        #[test]
        fn accepted_actions_follow_the_lifecycle_table(steps in steps()) {
            for (before, action, outcome) in replay(&steps) {
                match outcome {
                    Ok(after) => prop_assert_eq!(Some(after), expected_target(before, action)),
                    Err(refusal) => {
                        let expected = expected_target(before, action);
                        prop_assert_eq!(expected, None, "{} {}", before, action);
                        prop_assert_eq!(refusal.code, RefusalCode::InvalidTransition);
                        let offered: Vec<String> = CrAction::ALL
                            .into_iter()
                            .filter(|a| expected_target(before, *a).is_some())
                            .map(|a| a.as_str().to_owned())
                            .collect();
                        prop_assert_eq!(refusal.allowed_actions, offered);
                    }
                }
            }
        }

        /// CLOSED and WITHDRAWN are the end: a change request there refuses every action.
        #[test]
        fn closed_and_withdrawn_requests_accept_no_action(steps in steps()) {
            for (before, _, outcome) in replay(&steps) {
                if matches!(before, S::Closed | S::Withdrawn) {
                    prop_assert!(outcome.is_err());
                    prop_assert!(allowed_actions(before).is_empty());
                }
            }
        }

        /// A decision is never undone: once decided, a change request stays decided, except
        /// that a deferred one may be resubmitted for a new decision. Only an undecided change
        /// can be withdrawn, and only an approved one gets implemented, so work never starts
        /// on a change the committee did not approve.
        #[test]
        fn a_decision_is_never_undone(steps in steps()) {
            for (before, action, outcome) in replay(&steps) {
                let Ok(after) = outcome else {
                    prop_assert!(action != A::Withdraw || !before.is_pre_decision());
                    continue;
                };
                if before.is_decided() && !after.is_decided() {
                    let resubmitted = (S::Deferred, A::Resubmit, S::Submitted);
                    prop_assert_eq!((before, action, after), resubmitted);
                }
                if after == S::Withdrawn {
                    prop_assert!(before.is_pre_decision());
                }
                if after == S::InImplementation {
                    prop_assert_eq!(before, S::Approved);
                }
                prop_assert!(!parties(action).is_empty());
                if after.is_decided() && !before.is_decided() {
                    prop_assert_eq!(parties(action), &[CrParty::Decider]);
                }
            }
        }

        /// Delegations never chain and never double up: among the accepted ones, no delegate
        /// passes on a vote it holds for an overlapping period, and no member lends their seat
        /// twice for the same day, so on any day each seat has at most one proxy, found from a
        /// single delegation.
        #[test]
        fn accepted_delegations_give_each_seat_at_most_one_proxy(
            candidates in prop::collection::vec(delegation(), 0..40)
        ) {
            let registry = register(&candidates);
            for (position, one) in registry.iter().enumerate() {
                prop_assert_ne!(one.delegator, one.delegate);
                prop_assert!(one.from <= one.to);
                for other in &registry[position + 1..] {
                    if one.overlaps(other) {
                        prop_assert_ne!(one.delegate, other.delegator);
                        prop_assert_ne!(other.delegate, one.delegator);
                        prop_assert_ne!(one.delegator, other.delegator);
                    }
                }
            }
            for offset in 0..DAYS + 10 {
                for seat_holder in (1..=PEOPLE).map(Uuid::from_u128) {
                    let proxies = (1..=PEOPLE)
                        .map(Uuid::from_u128)
                        .filter(|&voter| voter != seat_holder)
                        .filter(|&voter| {
                            seat(voter, Some(seat_holder), &registry, day(offset)).is_ok()
                        })
                        .count();
                    prop_assert!(proxies <= 1, "{} proxies on day {}", proxies, offset);
                }
            }
        }

        /// Separation of duties survives any set of delegations: the requester and the impact's
        /// last editor never vote on the change, neither in their own seat nor by proxy, and
        /// nobody votes in their seat either; and a proxy vote always rests on a delegation
        /// covering that day.
        #[test]
        fn the_requester_and_the_assessor_never_vote_even_by_proxy(
            candidates in prop::collection::vec(delegation(), 0..20),
            requester in person(),
            impact_editor in prop::option::of(person()),
            offset in 0..DAYS,
        ) {
            let registry = register(&candidates);
            let today = day(offset);
            let is_recused = |person: Uuid| person == requester || impact_editor == Some(person);
            let people = || (1..=PEOPLE).map(Uuid::from_u128);
            for voter in people() {
                for on_behalf_of in std::iter::once(None).chain(people().map(Some)) {
                    let seat = voting_seat(
                        voter,
                        on_behalf_of,
                        &registry,
                        today,
                        requester,
                        impact_editor,
                    );
                    let Ok(seat) = seat else { continue };
                    prop_assert!(!is_recused(voter) && !is_recused(seat));
                    if seat != voter {
                        let lent = registry.iter().any(|d| {
                            d.delegator == seat && d.delegate == voter && d.covers(today)
                        });
                        prop_assert!(lent, "{} votes for {} without a delegation", voter, seat);
                    }
                }
            }
        }
    }
}
