//! User acceptance testing (DOMAIN §6, §12.8, §12.9): test scenarios and the built-in scenario
//! library, the acceptance cycle lifecycle and its sign-off, the defect lifecycle with who may
//! move a defect and when, and the metrics that say whether UAT may exit: pass rates, defect
//! ageing, reopen rate, go-live bug rate and the readiness verdict ("core business processes
//! run 100% smoothly").
//!
//! ```text
//! Cycle:  PLANNED ─start─▶ RUNNING ─complete─▶ COMPLETED ─signOff─▶ SIGNED_OFF
//!                          RUNNING or COMPLETED ─fail─▶ FAILED
//!
//! Defect: NEW ─triage─▶ TRIAGED ─assign─▶ ASSIGNED ─startFix─▶ IN_FIX ─markReadyForRetest─▶
//!         READY_FOR_RETEST ─verify─▶ VERIFIED ─close─▶ CLOSED
//!         READY_FOR_RETEST ─reopen─▶ REOPENED ─assign─▶ ASSIGNED
//!         TRIAGED ─defer─▶ DEFERRED ─triage─▶ TRIAGED
//!         TRIAGED ─reject─▶ REJECTED
//! ```

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use uuid::Uuid;

use super::coded::coded_enum;
use super::error::{Refusal, RefusalCode, Refusals};
use super::project::ProjectStatus;
use super::role::{ProjectRole, RoleSet};
use super::text::{TextError, multi_line, required_multi_line, single_line};

/// Longest scenario name.
pub const MAX_SCENARIO_NAME_CHARS: usize = 200;
/// Most steps in one scenario: an end-to-end flow longer than this should be split.
pub const MAX_STEPS: usize = 50;
/// Longest step action or expected result.
pub const MAX_STEP_TEXT_CHARS: usize = 1000;
/// Longest reason given to reopen, defer or reject a defect.
pub const MAX_REASON_CHARS: usize = 2000;

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

coded_enum! {
    /// The business area a scenario exercises (DOMAIN §6.3).
    ProcessArea, "process area" {
        Sales => "SALES",
        Marketing => "MARKETING",
        Service => "SERVICE",
        Data => "DATA",
        Permissions => "PERMISSIONS",
        Integration => "INTEGRATION",
    }
}

coded_enum! {
    /// Testing covers typical scenarios and exception flows [S4].
    ScenarioType, "scenario type" {
        Typical => "TYPICAL",
        Exception => "EXCEPTION",
    }
}

/// One step of a scenario as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepDraft {
    pub action: String,
    pub expected_result: String,
}

/// A scenario as typed (from GraphQL or a CSV file), before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioDraft {
    pub name: String,
    pub area: ProcessArea,
    pub is_core: bool,
    pub scenario_type: ScenarioType,
    pub steps: Vec<StepDraft>,
}

/// Checks a scenario, every problem at once, and returns it trimmed: name 1..=200 characters on
/// one line; 1..=50 steps; each action and expected result 1..=1000 characters. Field paths are
/// relative to the scenario input: `["name"]`, `["steps"]`, `["steps", "3", "expectedResult"]`.
pub fn check_scenario(draft: &ScenarioDraft) -> Result<ScenarioDraft, Vec<Refusal>> {
    let mut refusals = Refusals::default();
    let name = refusals.field(&["name"], single_line(&draft.name, MAX_SCENARIO_NAME_CHARS));
    if draft.steps.is_empty() {
        refusals.push(Refusal::bad_input(
            &["steps"],
            "a scenario needs at least one step",
        ));
    }
    if draft.steps.len() > MAX_STEPS {
        refusals.push(Refusal::bad_input(
            &["steps"],
            format!("a scenario has at most {MAX_STEPS} steps; split longer flows"),
        ));
    }
    let mut steps = Vec::with_capacity(draft.steps.len());
    for (position, step) in draft.steps.iter().enumerate() {
        let index = position.to_string();
        let action = refusals.field(
            &["steps", &index, "action"],
            required_multi_line(&step.action, MAX_STEP_TEXT_CHARS),
        );
        let expected_result = refusals.field(
            &["steps", &index, "expectedResult"],
            required_multi_line(&step.expected_result, MAX_STEP_TEXT_CHARS),
        );
        if let (Some(action), Some(expected_result)) = (action, expected_result) {
            steps.push(StepDraft {
                action,
                expected_result,
            });
        }
    }
    match (name, refusals.finish()) {
        (Some(name), Ok(())) => Ok(ScenarioDraft {
            name,
            area: draft.area,
            is_core: draft.is_core,
            scenario_type: draft.scenario_type,
            steps,
        }),
        (_, Err(refusals)) => Err(refusals),
        // A missing name always leaves a refusal behind; this arm only satisfies the types.
        (None, Ok(())) => Err(vec![Refusal::bad_input(
            &["name"],
            TextError::Empty.to_string(),
        )]),
    }
}

fn scenario(
    name: &str,
    area: ProcessArea,
    is_core: bool,
    scenario_type: ScenarioType,
    steps: &[(&str, &str)],
) -> ScenarioDraft {
    ScenarioDraft {
        name: name.to_owned(),
        area,
        is_core,
        scenario_type,
        steps: steps
            .iter()
            .map(|(action, expected_result)| StepDraft {
                action: (*action).to_owned(),
                expected_result: (*expected_result).to_owned(),
            })
            .collect(),
    }
}

/// The built-in scenario library (DOMAIN §6.1): the flows the sources name (lead to contract,
/// issue to closed ticket, business users validating migrated data, the "sales could see
/// finance data" lesson) plus typical and exception flows for every process area.
pub fn library() -> Vec<ScenarioDraft> {
    use ProcessArea as A;
    use ScenarioType as T;
    vec![
        scenario(
            "Lead to contract",
            A::Sales,
            true,
            T::Typical,
            &[
                (
                    "Create a lead with company, contact and source",
                    "The lead is saved and assigned to a sales rep",
                ),
                (
                    "Record a follow-up call on the lead",
                    "The follow-up appears in the lead's activity history",
                ),
                (
                    "Convert the lead into an opportunity",
                    "An opportunity is created, linked to the account and contact",
                ),
                (
                    "Submit a quote for the opportunity",
                    "The quote is generated with the price book's prices and goes to approval",
                ),
                (
                    "Generate a contract from the approved quote",
                    "The contract carries the quote's lines and amounts; the opportunity is won",
                ),
            ],
        ),
        scenario(
            "Duplicate lead merge",
            A::Sales,
            false,
            T::Exception,
            &[
                (
                    "Create a lead whose phone number matches an existing lead",
                    "The system warns that a likely duplicate exists",
                ),
                (
                    "Merge the new lead into the existing one",
                    "One lead remains, keeping the older lead's owner",
                ),
                (
                    "Open the merged lead's activity history",
                    "Follow-ups from both leads are listed; none is lost",
                ),
            ],
        ),
        scenario(
            "Large contract countersign",
            A::Sales,
            false,
            T::Typical,
            &[
                (
                    "Submit a contract above RMB 100,000 for approval",
                    "It is routed to the Sales Director and the Finance Director",
                ),
                (
                    "Approve as the Sales Director only",
                    "The contract stays pending until the Finance Director approves",
                ),
                (
                    "Approve as the Finance Director",
                    "The contract is approved and the sales rep is notified",
                ),
            ],
        ),
        scenario(
            "Campaign to lead handover",
            A::Marketing,
            false,
            T::Typical,
            &[
                (
                    "Create a campaign with a budget and a target segment",
                    "The campaign is saved with its segment members",
                ),
                (
                    "Record a prospect's response to the campaign",
                    "The response is linked to the campaign",
                ),
                (
                    "Qualify the response and hand it over to sales",
                    "A lead is created, assigned to a sales rep, with the campaign as source",
                ),
                (
                    "Open the campaign's report",
                    "The handed-over lead counts towards the campaign's results",
                ),
            ],
        ),
        scenario(
            "Issue to closed ticket",
            A::Service,
            true,
            T::Typical,
            &[
                (
                    "Receive a customer issue by phone",
                    "The agent sees the customer's full interaction history",
                ),
                (
                    "Create a ticket for the issue",
                    "The ticket is saved with the customer, product and category",
                ),
                (
                    "Route the ticket to the technical department",
                    "The technical department's queue shows the ticket",
                ),
                (
                    "Resolve and close the issue",
                    "The ticket is closed and the customer is notified",
                ),
            ],
        ),
        scenario(
            "Ticket escalation on SLA breach",
            A::Service,
            false,
            T::Exception,
            &[
                (
                    "Create a high-priority ticket and leave it unanswered past its SLA",
                    "The ticket is flagged as breaching its SLA",
                ),
                (
                    "Open the service manager's queue",
                    "The ticket is escalated to the service manager, who is notified",
                ),
                (
                    "Answer the escalated ticket",
                    "The escalation is recorded on the ticket's history",
                ),
            ],
        ),
        scenario(
            "Sales cannot see finance data",
            A::Permissions,
            true,
            T::Exception,
            &[
                ("Sign in as a sales rep", "The sales workspace opens"),
                (
                    "Open an account's invoices and payment records",
                    "Access is denied; no finance field is shown",
                ),
                (
                    "Run the receivables report",
                    "The report is not available to the sales role",
                ),
                (
                    "Sign in as a finance user and open the same account",
                    "Invoices and payments are visible",
                ),
            ],
        ),
        scenario(
            "Migrated customer data validated by business users",
            A::Data,
            true,
            T::Typical,
            &[
                (
                    "Compare record counts of customers, contacts and open opportunities with the legacy system",
                    "The counts reconcile",
                ),
                (
                    "Sample customers and compare their fields with the legacy records",
                    "Every sampled field matches",
                ),
                (
                    "Run the key business reports on migrated data",
                    "The figures match the legacy reports",
                ),
                (
                    "Business users review their own accounts",
                    "The business users confirm their data is complete and correct",
                ),
            ],
        ),
        scenario(
            "ERP order sync round trip",
            A::Integration,
            true,
            T::Typical,
            &[
                (
                    "Sign a contract in the CRM",
                    "A sales order is created in the ERP with the contract's lines",
                ),
                (
                    "Ship the order in the ERP",
                    "The shipping status appears on the CRM contract",
                ),
                (
                    "Invoice the order in the ERP",
                    "The invoice status and amount appear in the CRM",
                ),
            ],
        ),
        scenario(
            "ERP unavailable during order sync",
            A::Integration,
            false,
            T::Exception,
            &[
                (
                    "Sign a contract while the ERP is unreachable",
                    "The order is queued and the contract shows a pending sync",
                ),
                (
                    "Bring the ERP back",
                    "The queued order is sent exactly once",
                ),
                (
                    "Open the integration log",
                    "The failed attempts and the successful retry are listed",
                ),
            ],
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Cycles
// ---------------------------------------------------------------------------------------------

coded_enum! {
    /// The acceptance stages, in order: requirements → functional → integration → user trial
    /// [S4 FAQ].
    AcceptanceStage, "acceptance stage" {
        Requirements => "REQUIREMENTS",
        Functional => "FUNCTIONAL",
        Integration => "INTEGRATION",
        UserTrial => "USER_TRIAL",
    }
}

coded_enum! {
    CycleStatus, "cycle status" {
        Planned => "PLANNED",
        Running => "RUNNING",
        Completed => "COMPLETED",
        SignedOff => "SIGNED_OFF",
        Failed => "FAILED",
    }
}

coded_enum! {
    CycleAction, "cycle action" {
        Start => "START",
        Complete => "COMPLETE",
        SignOff => "SIGN_OFF",
        Fail => "FAIL",
    }
}

/// The next cycle status, or `None` when the lifecycle has no such edge.
pub fn cycle_target(from: CycleStatus, action: CycleAction) -> Option<CycleStatus> {
    use CycleAction as A;
    use CycleStatus as S;
    match (from, action) {
        (S::Planned, A::Start) => Some(S::Running),
        (S::Running, A::Complete) => Some(S::Completed),
        (S::Completed, A::SignOff) => Some(S::SignedOff),
        (S::Running | S::Completed, A::Fail) => Some(S::Failed),
        // Listing every status keeps a new status from silently having no way out.
        (S::Planned | S::Running | S::Completed | S::SignedOff | S::Failed, _) => None,
    }
}

/// Applies a cycle action, or refuses it naming the state and the actions it allows.
pub fn cycle_transition(from: CycleStatus, action: CycleAction) -> Result<CycleStatus, Refusal> {
    cycle_target(from, action).ok_or_else(|| {
        let allowed = cycle_allowed_actions(from)
            .into_iter()
            .map(|action| action.as_str().to_owned());
        Refusal::invalid_transition(&["action"], from.as_str(), action.as_str(), allowed)
    })
}

/// The actions `from` allows, in [`CycleAction::ALL`] order.
pub fn cycle_allowed_actions(from: CycleStatus) -> Vec<CycleAction> {
    CycleAction::ALL
        .into_iter()
        .filter(|&action| cycle_target(from, action).is_some())
        .collect()
}

/// UAT is led by the business representatives [S1], so they are the ones who sign a cycle off
/// (admins aside, which the service handles).
pub fn may_sign_off(roles: &RoleSet) -> bool {
    roles.contains(ProjectRole::BusinessRep)
}

coded_enum! {
    /// The outcome of running one scenario in one cycle.
    ExecutionResult, "execution result" {
        NotRun => "NOT_RUN",
        Passed => "PASSED",
        Failed => "FAILED",
        Blocked => "BLOCKED",
    }
}

// ---------------------------------------------------------------------------------------------
// Defects
// ---------------------------------------------------------------------------------------------

coded_enum! {
    /// The three stated focus areas [S1] plus the kinds of problems UAT also turns up.
    DefectCategory, "defect category" {
        LogicDeviation => "LOGIC_DEVIATION",
        DataFlow => "DATA_FLOW",
        Ux => "UX",
        Permission => "PERMISSION",
        Performance => "PERFORMANCE",
        Other => "OTHER",
    }
}

coded_enum! {
    /// Impact of a defect (DOMAIN §6.2). Ordered most severe first, so sorting puts
    /// [`Severity::Critical`] at the top.
    #[derive(PartialOrd, Ord)]
    Severity, "severity" {
        /// Blocks a core end-to-end process, loses or corrupts data, or breaches permissions.
        Critical => "CRITICAL",
        /// Degrades a core process; a workaround exists.
        Major => "MAJOR",
        /// A non-core function or a UX problem.
        Minor => "MINOR",
        /// Cosmetic.
        Trivial => "TRIVIAL",
    }
}

impl Severity {
    /// Open defects this severe on a core scenario block the UAT exit and go-live.
    pub fn blocks_go_live(self) -> bool {
        matches!(self, Self::Critical | Self::Major)
    }
}

coded_enum! {
    /// Urgency of the fix (DOMAIN §6.2). Ordered most urgent first.
    #[derive(PartialOrd, Ord)]
    Priority, "priority" {
        /// Fix before go-live.
        P1 => "P1",
        /// Fix before go-live if possible.
        P2 => "P2",
        /// Post-go-live backlog.
        P3 => "P3",
        /// Whenever convenient.
        P4 => "P4",
    }
}

coded_enum! {
    DefectStatus, "defect status" {
        New => "NEW",
        Triaged => "TRIAGED",
        Assigned => "ASSIGNED",
        InFix => "IN_FIX",
        ReadyForRetest => "READY_FOR_RETEST",
        Verified => "VERIFIED",
        Closed => "CLOSED",
        Reopened => "REOPENED",
        Deferred => "DEFERRED",
        Rejected => "REJECTED",
    }
}

coded_enum! {
    /// Why a triaged defect is rejected (DOMAIN §12.8).
    RejectReason, "reject reason" {
        NotADefect => "NOT_A_DEFECT",
        Duplicate => "DUPLICATE",
        WorksAsDesigned => "WORKS_AS_DESIGNED",
    }
}

coded_enum! {
    DefectAction, "defect action" {
        Triage => "TRIAGE",
        Assign => "ASSIGN",
        StartFix => "START_FIX",
        MarkReadyForRetest => "MARK_READY_FOR_RETEST",
        Verify => "VERIFY",
        Close => "CLOSE",
        Reopen => "REOPEN",
        Defer => "DEFER",
        Reject => "REJECT",
    }
}

/// What the lifecycle needs to know about the defect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefectFacts {
    pub status: DefectStatus,
    pub severity: Option<Severity>,
    pub priority: Option<Priority>,
    pub reporter: Uuid,
    pub assignee: Option<Uuid>,
}

/// Who is asking: their roles on the defect's project, and whether they administer Steerco.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub roles: RoleSet,
    pub admin: bool,
}

impl Caller {
    fn holds_any(&self, roles: &[ProjectRole]) -> bool {
        roles.iter().any(|&role| self.roles.contains(role))
    }
}

/// A defect lifecycle command with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefectCommand {
    Triage,
    Assign {
        assignee: Uuid,
    },
    StartFix,
    MarkReadyForRetest,
    Verify,
    Close,
    Reopen {
        reason: String,
    },
    Defer {
        reason: String,
    },
    Reject {
        reason: RejectReason,
        duplicate_of: Option<Uuid>,
        /// The defect being rejected, so that it cannot be named its own duplicate.
        defect_id: Uuid,
    },
}

impl DefectCommand {
    pub fn action(&self) -> DefectAction {
        match self {
            Self::Triage => DefectAction::Triage,
            Self::Assign { .. } => DefectAction::Assign,
            Self::StartFix => DefectAction::StartFix,
            Self::MarkReadyForRetest => DefectAction::MarkReadyForRetest,
            Self::Verify => DefectAction::Verify,
            Self::Close => DefectAction::Close,
            Self::Reopen { .. } => DefectAction::Reopen,
            Self::Defer { .. } => DefectAction::Defer,
            Self::Reject { .. } => DefectAction::Reject,
        }
    }
}

/// The outcome of an accepted defect command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefectTransition {
    pub status: DefectStatus,
    /// The defect's reopen counter goes up by one.
    pub reopened: bool,
}

/// The next defect status, or `None` when the lifecycle has no such edge.
pub fn defect_target(from: DefectStatus, action: DefectAction) -> Option<DefectStatus> {
    use DefectAction as A;
    use DefectStatus as S;
    match (from, action) {
        (S::New | S::Deferred, A::Triage) => Some(S::Triaged),
        (S::Triaged | S::Reopened, A::Assign) => Some(S::Assigned),
        (S::Assigned, A::StartFix) => Some(S::InFix),
        (S::InFix, A::MarkReadyForRetest) => Some(S::ReadyForRetest),
        (S::ReadyForRetest, A::Verify) => Some(S::Verified),
        (S::ReadyForRetest, A::Reopen) => Some(S::Reopened),
        (S::Verified, A::Close) => Some(S::Closed),
        (S::Triaged, A::Defer) => Some(S::Deferred),
        (S::Triaged, A::Reject) => Some(S::Rejected),
        // Listing every status keeps a new status from silently having no way out.
        (
            S::New
            | S::Triaged
            | S::Assigned
            | S::InFix
            | S::ReadyForRetest
            | S::Verified
            | S::Closed
            | S::Reopened
            | S::Deferred
            | S::Rejected,
            _,
        ) => None,
    }
}

/// The actions `from` allows, in [`DefectAction::ALL`] order.
pub fn defect_allowed_actions(from: DefectStatus) -> Vec<DefectAction> {
    DefectAction::ALL
        .into_iter()
        .filter(|&action| defect_target(from, action).is_some())
        .collect()
}

/// Whether a grading makes an open defect CRITICAL that was not: it then must reach the PM
/// and QA at once, as a defect logged CRITICAL does.
pub fn grading_escalates(
    status: DefectStatus,
    before: Option<Severity>,
    after: Option<Severity>,
) -> bool {
    is_open(status) && after == Some(Severity::Critical) && before != Some(Severity::Critical)
}

/// Only an open defect is graded. A grade is the triage's judgement of a problem still being
/// worked on; regrading a defect after it left the loop would rewrite that judgement behind
/// the rules that used it (a QA may defer a MINOR defect, which a CRITICAL grade afterwards
/// would turn into a severe defect deferred without the PM). A deferred defect is reopened by
/// TRIAGE; a rejected, verified or closed one has no way back. `key` names it in the message.
pub fn check_gradable(key: &str, status: DefectStatus) -> Result<(), Refusal> {
    if is_open(status) {
        return Ok(());
    }
    let reopen = if status == DefectStatus::Deferred {
        "reopen it first: TRIAGE takes it back to TRIAGED, then grade it"
    } else {
        "it cannot be reopened, so log a new defect if the problem is back"
    };
    Err(Refusal::precondition(
        &["id"],
        format!(
            "{key} is {} and no longer open, so it is not graded: {reopen}",
            status.as_str()
        ),
    ))
}

/// Whether a defect is found after go-live: as its reporter says, or, when they leave it out,
/// whether the project was live when it was logged (in hypercare or optimisation, or held
/// there). A defect found in production is what the go-live bug rate counts, and the tester
/// logging it from the War Room should not have to remember to say so.
pub fn found_after_go_live(
    given: Option<bool>,
    project: ProjectStatus,
    held_from: Option<ProjectStatus>,
) -> bool {
    given.unwrap_or_else(|| {
        project.is_live()
            || (project == ProjectStatus::OnHold && held_from.is_some_and(ProjectStatus::is_live))
    })
}

/// Still needs work before UAT can forget it.
pub fn is_open(status: DefectStatus) -> bool {
    use DefectStatus as S;
    match status {
        S::New | S::Triaged | S::Assigned | S::InFix | S::ReadyForRetest | S::Reopened => true,
        S::Verified | S::Closed | S::Deferred | S::Rejected => false,
    }
}

/// Decides a defect command, reporting every broken rule at once (an impossible transition is
/// reported alone: the other rules are moot then). Role failures are refusals with code
/// [`RefusalCode::NotEligible`] on the empty field, which the service maps.
///
/// - every status past NEW carries a severity and a priority (`["severity"]`, `["priority"]`);
/// - triage, assign, defer, reject, close: PROJECT_MANAGER or QA;
/// - startFix, markReadyForRetest: the assignee or a PROJECT_MANAGER;
/// - verify, reopen: the reporter, a QA or a BUSINESS_REP, but never the assignee on the
///   strength of having reported it;
/// - deferring a CRITICAL or MAJOR defect: PROJECT_MANAGER only, with a reason (`["reason"]`);
/// - reopen needs a reason; a DUPLICATE rejection names another defect in `["duplicateOf"]`,
///   other rejections name none.
///
/// Admins pass every role rule but none of the others.
pub fn defect_decide(
    facts: &DefectFacts,
    caller: &Caller,
    command: &DefectCommand,
) -> Result<DefectTransition, Vec<Refusal>> {
    let action = command.action();
    let Some(status) = defect_target(facts.status, action) else {
        let allowed = defect_allowed_actions(facts.status)
            .into_iter()
            .map(|action| action.as_str().to_owned());
        return Err(vec![Refusal::invalid_transition(
            &["action"],
            facts.status.as_str(),
            action.as_str(),
            allowed,
        )]);
    };

    let mut refusals = Refusals::default();
    if !caller.admin && !is_eligible(facts, caller, action) {
        refusals.push(Refusal::new(
            RefusalCode::NotEligible,
            &[],
            format!(
                "only {} may {} this defect",
                eligible_parties(action, facts.severity),
                action_in_words(action)
            ),
        ));
    }
    // The triage that leaves NEW is where grading happens; every later status relies on it.
    if facts.severity.is_none() {
        refusals.push(Refusal::precondition(
            &["severity"],
            "the defect needs a severity before it can leave NEW",
        ));
    }
    if facts.priority.is_none() {
        refusals.push(Refusal::precondition(
            &["priority"],
            "the defect needs a priority before it can leave NEW",
        ));
    }
    match command {
        DefectCommand::Reopen { reason } => {
            refusals.field(&["reason"], required_multi_line(reason, MAX_REASON_CHARS));
        }
        DefectCommand::Defer { reason } => {
            if defer_needs_project_manager(facts.severity) {
                refusals.field(&["reason"], required_multi_line(reason, MAX_REASON_CHARS));
            } else {
                refusals.field(&["reason"], multi_line(reason, MAX_REASON_CHARS));
            }
        }
        DefectCommand::Reject {
            reason,
            duplicate_of,
            defect_id,
        } => check_rejection(*reason, *duplicate_of, *defect_id, &mut refusals),
        DefectCommand::Triage
        | DefectCommand::Assign { .. }
        | DefectCommand::StartFix
        | DefectCommand::MarkReadyForRetest
        | DefectCommand::Verify
        | DefectCommand::Close => {}
    }
    refusals.finish()?;
    Ok(DefectTransition {
        status,
        reopened: action == DefectAction::Reopen,
    })
}

/// Checks and trims a reason given to reopen or defer a defect.
pub fn defect_reason(raw: &str) -> Result<String, TextError> {
    required_multi_line(raw, MAX_REASON_CHARS)
}

/// A severe defect pushed past go-live is a risk the project accepts; that is the PM's call,
/// not the testers'. A defect not graded yet might be severe, so it is treated as one.
fn defer_needs_project_manager(severity: Option<Severity>) -> bool {
    severity.is_none_or(Severity::blocks_go_live)
}

/// Whether regrading a defect from `before` to `after` is the PM's call: grading a CRITICAL or
/// MAJOR defect below what blocks go-live accepts a risk, as deferring it does, and would
/// otherwise let a QA lower a defect and then defer it alone.
pub fn downgrade_needs_project_manager(before: Option<Severity>, after: Option<Severity>) -> bool {
    before.is_some_and(Severity::blocks_go_live) && after.is_some_and(|s| !s.blocks_go_live())
}

fn is_eligible(facts: &DefectFacts, caller: &Caller, action: DefectAction) -> bool {
    use DefectAction as A;
    use ProjectRole as R;
    let is_assignee = facts.assignee == Some(caller.user_id);
    match action {
        A::Triage | A::Assign | A::Close | A::Reject => {
            caller.holds_any(&[R::ProjectManager, R::Qa])
        }
        A::Defer if defer_needs_project_manager(facts.severity) => {
            caller.holds_any(&[R::ProjectManager])
        }
        A::Defer => caller.holds_any(&[R::ProjectManager, R::Qa]),
        A::StartFix | A::MarkReadyForRetest => {
            is_assignee || caller.holds_any(&[R::ProjectManager])
        }
        // Whoever fixed the defect must not be the only one to judge the fix.
        A::Verify | A::Reopen => {
            caller.holds_any(&[R::Qa, R::BusinessRep])
                || (facts.reporter == caller.user_id && !is_assignee)
        }
    }
}

fn eligible_parties(action: DefectAction, severity: Option<Severity>) -> &'static str {
    use DefectAction as A;
    match action {
        A::Triage | A::Assign | A::Close | A::Reject => "a PROJECT_MANAGER or QA",
        A::Defer if defer_needs_project_manager(severity) => {
            "a PROJECT_MANAGER (the defect is CRITICAL or MAJOR, or not graded yet)"
        }
        A::Defer => "a PROJECT_MANAGER or QA",
        A::StartFix | A::MarkReadyForRetest => "the assignee or a PROJECT_MANAGER",
        A::Verify | A::Reopen => {
            "the reporter (unless they are the assignee), a QA or a BUSINESS_REP"
        }
    }
}

fn action_in_words(action: DefectAction) -> &'static str {
    use DefectAction as A;
    match action {
        A::Triage => "triage",
        A::Assign => "assign",
        A::StartFix => "start fixing",
        A::MarkReadyForRetest => "mark ready for retest",
        A::Verify => "verify",
        A::Close => "close",
        A::Reopen => "reopen",
        A::Defer => "defer",
        A::Reject => "reject",
    }
}

fn check_rejection(
    reason: RejectReason,
    duplicate_of: Option<Uuid>,
    defect_id: Uuid,
    refusals: &mut Refusals,
) {
    match (reason, duplicate_of) {
        (RejectReason::Duplicate, None) => refusals.push(Refusal::bad_input(
            &["duplicateOf"],
            "a duplicate must name the defect it duplicates",
        )),
        (RejectReason::Duplicate, Some(original)) if original == defect_id => refusals.push(
            Refusal::bad_input(&["duplicateOf"], "a defect cannot be a duplicate of itself"),
        ),
        (RejectReason::Duplicate, Some(_)) => {}
        (RejectReason::NotADefect | RejectReason::WorksAsDesigned, Some(_)) => {
            refusals.push(Refusal::bad_input(
                &["duplicateOf"],
                "only a DUPLICATE rejection names another defect",
            ));
        }
        (RejectReason::NotADefect | RejectReason::WorksAsDesigned, None) => {}
    }
}

/// The defect a DUPLICATE rejection names must itself be open: the work on the problem goes on
/// there. A rejected, deferred, verified or closed original would leave the problem tracked
/// nowhere, and once a defect is rejected as a duplicate it is no longer open, so that two
/// defects can never end up duplicates of each other. `original` is its key, for the message.
pub fn check_duplicate_original(original: &str, status: DefectStatus) -> Result<(), Refusal> {
    if is_open(status) {
        return Ok(());
    }
    Err(Refusal::bad_input(
        &["duplicateOf"],
        format!(
            "{original} is {}: a duplicate names an open defect (NEW, TRIAGED, ASSIGNED, IN_FIX, READY_FOR_RETEST or REOPENED)",
            status.as_str()
        ),
    ))
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/// One execution of a scenario in a cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionRow {
    pub scenario_id: Uuid,
    pub is_core: bool,
    pub result: ExecutionResult,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PassRate {
    pub passed: u32,
    /// Executions that ran, whatever their outcome: NOT_RUN is left out.
    pub executed: u32,
    pub total: u32,
}

/// Counts passed, executed and all executions, of core scenarios only when `core_only`.
pub fn pass_rate(rows: &[ExecutionRow], core_only: bool) -> PassRate {
    rows.iter()
        .filter(|row| row.is_core || !core_only)
        .fold(PassRate::default(), |rate, row| PassRate {
            passed: rate.passed + u32::from(row.result == ExecutionResult::Passed),
            executed: rate.executed + u32::from(row.result != ExecutionResult::NotRun),
            total: rate.total + 1,
        })
}

/// A defect as the metrics see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefectRow {
    pub status: DefectStatus,
    pub severity: Option<Severity>,
    pub created_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub reopen_count: u32,
    pub found_after_go_live: bool,
    pub on_core_scenario: bool,
}

/// Open defects by severity, most severe first and the untriaged (no severity) last, every
/// severity listed even at zero. `counts` are counts of open defects by severity, as the
/// database groups them; a severity may come more than once.
pub fn open_by_severity(
    counts: impl IntoIterator<Item = (Option<Severity>, u32)>,
) -> Vec<(Option<Severity>, u32)> {
    let mut breakdown: Vec<(Option<Severity>, u32)> = Severity::ALL
        .into_iter()
        .map(Some)
        .chain([None])
        .map(|severity| (severity, 0))
        .collect();
    for (severity, count) in counts {
        if let Some((_, total)) = breakdown.iter_mut().find(|(s, _)| *s == severity) {
            *total = total.saturating_add(count);
        }
    }
    breakdown
}

/// Days open of the open defects (today − created): the oldest, and the average rounded down.
/// `(0, 0)` with no open defect. A defect dated after `today` counts as zero days old.
pub fn ageing(rows: &[DefectRow], today: NaiveDate) -> (i64, i64) {
    let ages: Vec<i64> = rows
        .iter()
        .filter(|row| is_open(row.status))
        .map(|row| (today - row.created_on).num_days().max(0))
        .collect();
    let Some(&oldest) = ages.iter().max() else {
        return (0, 0);
    };
    // At most one entry per defect, so the count fits; ages are non-negative, so `/` floors.
    let count = i64::try_from(ages.len()).unwrap_or(i64::MAX);
    (oldest, ages.iter().sum::<i64>() / count)
}

/// Share of defects reopened at least once, in percent rounded down (0 with no defects).
pub fn reopen_rate(rows: &[DefectRow]) -> u32 {
    percent(
        rows.iter().filter(|row| row.reopen_count > 0).count(),
        rows.len(),
    )
}

/// Defects found after go-live ÷ all defects, in percent rounded down (0 with no defects).
pub fn go_live_bug_rate(rows: &[DefectRow]) -> u32 {
    percent(
        rows.iter().filter(|row| row.found_after_go_live).count(),
        rows.len(),
    )
}

fn percent(part: usize, whole: usize) -> u32 {
    if whole == 0 {
        return 0;
    }
    // `part <= whole`, so the quotient is at most 100.
    u32::try_from(part.saturating_mul(100) / whole).unwrap_or(100)
}

// ---------------------------------------------------------------------------------------------
// Readiness
// ---------------------------------------------------------------------------------------------

pub const CORE_SCENARIOS_PASSED: &str = "CORE_SCENARIOS_PASSED";
pub const NO_OPEN_CRITICAL_OR_MAJOR_ON_CORE: &str = "NO_OPEN_CRITICAL_OR_MAJOR_ON_CORE";
pub const LATEST_CYCLE_SIGNED_OFF: &str = "LATEST_CYCLE_SIGNED_OFF";

/// One readiness criterion with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criterion {
    /// One of [`CORE_SCENARIOS_PASSED`], [`NO_OPEN_CRITICAL_OR_MAJOR_ON_CORE`],
    /// [`LATEST_CYCLE_SIGNED_OFF`].
    pub key: &'static str,
    pub description: &'static str,
    /// Where the project stands: `"7/8"`, `"2"`, `"COMPLETED"`.
    pub value: String,
    /// What it must reach: `"8/8"`, `"0"`, `"SIGNED_OFF"`.
    pub threshold: String,
    pub holds: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub ready: bool,
    pub criteria: Vec<Criterion>,
}

/// The UAT exit (DOMAIN §6.2, "core business processes run 100% smoothly"): every core
/// scenario PASSED in the latest cycle, no open CRITICAL or MAJOR defect on a core scenario,
/// and the latest cycle SIGNED_OFF. Ready only when all three hold; with no cycle, none holds.
///
/// Readiness has to be shown, not assumed, so the doubtful cases count against it: a core
/// scenario with no execution in the latest cycle, or with any execution there that did not
/// pass, is not passed; no core scenario at all proves nothing; an open defect on a core
/// scenario that is not graded yet may be critical and blocks.
pub fn readiness(
    core_scenarios: &[Uuid],
    latest_cycle: Option<(CycleStatus, &[ExecutionRow])>,
    defects: &[DefectRow],
) -> Readiness {
    let core: BTreeSet<Uuid> = core_scenarios.iter().copied().collect();
    let executions = latest_cycle.map_or(&[][..], |(_, rows)| rows);
    let mut results: BTreeMap<Uuid, bool> = BTreeMap::new();
    for row in executions
        .iter()
        .filter(|row| core.contains(&row.scenario_id))
    {
        let passed = results.entry(row.scenario_id).or_insert(true);
        *passed = *passed && row.result == ExecutionResult::Passed;
    }
    let passed = results.values().filter(|&&passed| passed).count();
    let has_cycle = latest_cycle.is_some();

    let blocking = defects
        .iter()
        .filter(|defect| {
            is_open(defect.status)
                && defect.on_core_scenario
                && defect.severity.is_none_or(Severity::blocks_go_live)
        })
        .count();

    let cycle_status = latest_cycle.map(|(status, _)| status);

    let criteria = vec![
        Criterion {
            key: CORE_SCENARIOS_PASSED,
            description: "Every core scenario passed in the latest cycle",
            value: format!("{passed}/{}", core.len()),
            threshold: format!("{0}/{0}", core.len()),
            holds: has_cycle && !core.is_empty() && passed == core.len(),
        },
        Criterion {
            key: NO_OPEN_CRITICAL_OR_MAJOR_ON_CORE,
            description: "No open CRITICAL or MAJOR (or ungraded) defect on a core scenario",
            value: blocking.to_string(),
            threshold: "0".to_owned(),
            holds: has_cycle && blocking == 0,
        },
        Criterion {
            key: LATEST_CYCLE_SIGNED_OFF,
            description: "The latest test cycle is signed off by the business",
            value: cycle_status.map_or("NONE", CycleStatus::as_str).to_owned(),
            threshold: CycleStatus::SignedOff.as_str().to_owned(),
            holds: cycle_status == Some(CycleStatus::SignedOff),
        },
    ];
    Readiness {
        ready: criteria.iter().all(|criterion| criterion.holds),
        criteria,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::fmt;
    use std::str::FromStr;

    use super::*;
    use crate::domain::coded::UnknownCode;

    fn roles(roles: &[ProjectRole]) -> RoleSet {
        RoleSet::from_input(roles).unwrap()
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn codes_round_trip<T>(all: &[T])
    where
        T: Copy + fmt::Debug + PartialEq + FromStr<Err = UnknownCode> + fmt::Display,
    {
        for &value in all {
            assert_eq!(value.to_string().parse::<T>(), Ok(value));
        }
        assert!("NOPE".parse::<T>().is_err());
    }

    #[test]
    fn every_code_round_trips_and_unknown_codes_are_refused() {
        codes_round_trip(&ProcessArea::ALL);
        codes_round_trip(&ScenarioType::ALL);
        codes_round_trip(&AcceptanceStage::ALL);
        codes_round_trip(&CycleStatus::ALL);
        codes_round_trip(&CycleAction::ALL);
        codes_round_trip(&ExecutionResult::ALL);
        codes_round_trip(&DefectCategory::ALL);
        codes_round_trip(&Severity::ALL);
        codes_round_trip(&Priority::ALL);
        codes_round_trip(&DefectStatus::ALL);
        codes_round_trip(&RejectReason::ALL);
        codes_round_trip(&DefectAction::ALL);
        assert_eq!(Priority::P1.as_str(), "P1");
        assert_eq!(
            DefectAction::MarkReadyForRetest.as_str(),
            "MARK_READY_FOR_RETEST"
        );
        let error = "sales".parse::<ProcessArea>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "\"sales\" is not a known process area; expected one of \
             SALES, MARKETING, SERVICE, DATA, PERMISSIONS, INTEGRATION"
        );
    }

    #[test]
    fn critical_sorts_first_and_only_critical_and_major_block_go_live() {
        let mut severities = vec![
            Severity::Trivial,
            Severity::Critical,
            Severity::Minor,
            Severity::Major,
        ];
        severities.sort();
        assert_eq!(severities, Severity::ALL);
        let blocking: Vec<_> = Severity::ALL
            .into_iter()
            .filter(|s| s.blocks_go_live())
            .collect();
        assert_eq!(blocking, [Severity::Critical, Severity::Major]);
    }

    // --- scenarios -------------------------------------------------------------------------

    fn step(action: &str, expected_result: &str) -> StepDraft {
        StepDraft {
            action: action.into(),
            expected_result: expected_result.into(),
        }
    }

    fn draft(name: &str, steps: Vec<StepDraft>) -> ScenarioDraft {
        ScenarioDraft {
            name: name.into(),
            area: ProcessArea::Sales,
            is_core: true,
            scenario_type: ScenarioType::Typical,
            steps,
        }
    }

    fn fields(refusals: &[Refusal]) -> Vec<Vec<String>> {
        refusals
            .iter()
            .map(|refusal| refusal.field.clone())
            .collect()
    }

    fn path(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|part| (*part).to_owned()).collect()
    }

    #[test]
    fn check_scenario_trims_a_good_scenario() {
        let checked = check_scenario(&draft(
            "  Lead to contract ",
            vec![step(" Create lead ", "Lead saved\n")],
        ))
        .unwrap();
        assert_eq!(
            checked,
            draft("Lead to contract", vec![step("Create lead", "Lead saved")])
        );
    }

    #[test]
    fn check_scenario_names_each_bad_field_by_its_path() {
        let long_name = "n".repeat(MAX_SCENARIO_NAME_CHARS + 1);
        let long_text = "t".repeat(MAX_STEP_TEXT_CHARS + 1);
        let ok = || step("act", "expect");
        let cases: Vec<(ScenarioDraft, Vec<Vec<String>>)> = vec![
            (draft("   ", vec![ok()]), vec![path(&["name"])]),
            (draft(&long_name, vec![ok()]), vec![path(&["name"])]),
            (draft("two\nlines", vec![ok()]), vec![path(&["name"])]),
            (draft("x", vec![]), vec![path(&["steps"])]),
            (
                draft("x", vec![ok(); MAX_STEPS + 1]),
                vec![path(&["steps"])],
            ),
            (
                draft(
                    "x",
                    vec![ok(), step(" ", "expect"), step("act", &long_text)],
                ),
                vec![
                    path(&["steps", "1", "action"]),
                    path(&["steps", "2", "expectedResult"]),
                ],
            ),
            (
                draft("", vec![step("", "")]),
                vec![
                    path(&["name"]),
                    path(&["steps", "0", "action"]),
                    path(&["steps", "0", "expectedResult"]),
                ],
            ),
        ];
        for (input, expected) in cases {
            let refusals = check_scenario(&input).unwrap_err();
            assert_eq!(fields(&refusals), expected, "{input:?}");
            assert!(refusals.iter().all(|r| r.code == RefusalCode::BadUserInput));
        }
        assert!(check_scenario(&draft("x", vec![ok(); MAX_STEPS])).is_ok());
        assert!(check_scenario(&draft(&"n".repeat(MAX_SCENARIO_NAME_CHARS), vec![ok()])).is_ok());
    }

    #[test]
    fn the_library_covers_every_area_with_unique_valid_scenarios() {
        let library = library();
        assert!(library.len() >= 8);
        for scenario in &library {
            assert_eq!(
                check_scenario(scenario).as_ref(),
                Ok(scenario),
                "{}",
                scenario.name
            );
        }
        let areas: HashSet<_> = library.iter().map(|s| s.area).collect();
        assert_eq!(areas, ProcessArea::ALL.into_iter().collect());
        let names: HashSet<_> = library.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), library.len(), "names are unique");
        let exceptions = library
            .iter()
            .filter(|s| s.scenario_type == ScenarioType::Exception)
            .count();
        assert!(exceptions >= 2);
        assert!(
            library
                .iter()
                .any(|s| s.scenario_type == ScenarioType::Typical)
        );
    }

    #[test]
    fn the_library_holds_the_flows_the_sources_name() {
        let library = library();
        let find = |name: &str| library.iter().find(|s| s.name == name).unwrap();
        let expected = [
            ("Lead to contract", ProcessArea::Sales, true, 5),
            ("Issue to closed ticket", ProcessArea::Service, true, 4),
            (
                "Sales cannot see finance data",
                ProcessArea::Permissions,
                true,
                4,
            ),
            (
                "Campaign to lead handover",
                ProcessArea::Marketing,
                false,
                4,
            ),
            (
                "Migrated customer data validated by business users",
                ProcessArea::Data,
                true,
                4,
            ),
            (
                "ERP order sync round trip",
                ProcessArea::Integration,
                true,
                3,
            ),
            ("Duplicate lead merge", ProcessArea::Sales, false, 3),
            (
                "Ticket escalation on SLA breach",
                ProcessArea::Service,
                false,
                3,
            ),
        ];
        for (name, area, is_core, steps) in expected {
            let scenario = find(name);
            assert_eq!(
                (scenario.area, scenario.is_core, scenario.steps.len()),
                (area, is_core, steps),
                "{name}"
            );
        }
        let lead_to_contract = find("Lead to contract");
        assert!(lead_to_contract.steps[0].action.contains("lead"));
        assert!(lead_to_contract.steps[4].action.contains("contract"));
    }

    // --- cycles ----------------------------------------------------------------------------

    #[test]
    fn every_cycle_status_and_action_pair_follows_the_table() {
        use CycleAction as A;
        use CycleStatus as S;
        let expected = |from: S, action: A| match (from, action) {
            (S::Planned, A::Start) => Some(S::Running),
            (S::Running, A::Complete) => Some(S::Completed),
            (S::Completed, A::SignOff) => Some(S::SignedOff),
            (S::Running | S::Completed, A::Fail) => Some(S::Failed),
            _ => None,
        };
        for from in CycleStatus::ALL {
            for action in CycleAction::ALL {
                match cycle_transition(from, action) {
                    Ok(to) => assert_eq!(Some(to), expected(from, action), "{from} {action}"),
                    Err(refusal) => {
                        assert_eq!(expected(from, action), None, "{from} {action}");
                        assert_eq!(refusal.code, RefusalCode::InvalidTransition);
                        assert_eq!(refusal.field, path(&["action"]));
                        assert_eq!(refusal.current_state.as_deref(), Some(from.as_str()));
                        let allowed: Vec<_> = cycle_allowed_actions(from)
                            .into_iter()
                            .map(|a| a.as_str().to_owned())
                            .collect();
                        assert_eq!(refusal.allowed_actions, allowed);
                    }
                }
            }
        }
        assert_eq!(cycle_allowed_actions(S::Completed), [A::SignOff, A::Fail]);
        assert!(cycle_allowed_actions(S::SignedOff).is_empty());
    }

    #[test]
    fn only_business_reps_sign_off_a_cycle() {
        for role in ProjectRole::ALL {
            assert_eq!(
                may_sign_off(&roles(&[role])),
                role == ProjectRole::BusinessRep,
                "{role:?}"
            );
        }
        assert!(may_sign_off(&roles(&[
            ProjectRole::Qa,
            ProjectRole::BusinessRep
        ])));
        assert!(!may_sign_off(&RoleSet::none()));
    }

    // --- defects ---------------------------------------------------------------------------

    const REPORTER: Uuid = Uuid::from_u128(1);
    const ASSIGNEE: Uuid = Uuid::from_u128(2);
    const DEFECT: Uuid = Uuid::from_u128(100);
    const OTHER_DEFECT: Uuid = Uuid::from_u128(101);

    fn facts(status: DefectStatus, severity: Severity) -> DefectFacts {
        DefectFacts {
            status,
            severity: Some(severity),
            priority: Some(Priority::P2),
            reporter: REPORTER,
            assignee: Some(ASSIGNEE),
        }
    }

    fn member(id: u128, held: &[ProjectRole]) -> Caller {
        Caller {
            user_id: Uuid::from_u128(id),
            roles: if held.is_empty() {
                RoleSet::none()
            } else {
                roles(held)
            },
            admin: false,
        }
    }

    fn admin() -> Caller {
        Caller {
            user_id: Uuid::from_u128(99),
            roles: RoleSet::none(),
            admin: true,
        }
    }

    fn all_commands() -> Vec<DefectCommand> {
        vec![
            DefectCommand::Triage,
            DefectCommand::Assign { assignee: ASSIGNEE },
            DefectCommand::StartFix,
            DefectCommand::MarkReadyForRetest,
            DefectCommand::Verify,
            DefectCommand::Close,
            DefectCommand::Reopen {
                reason: "still fails".into(),
            },
            DefectCommand::Defer {
                reason: "after go-live".into(),
            },
            DefectCommand::Reject {
                reason: RejectReason::NotADefect,
                duplicate_of: None,
                defect_id: DEFECT,
            },
        ]
    }

    fn codes(refusals: &[Refusal]) -> Vec<(RefusalCode, Vec<String>)> {
        refusals.iter().map(|r| (r.code, r.field.clone())).collect()
    }

    #[test]
    fn every_defect_status_and_command_pair_follows_the_table() {
        use DefectAction as A;
        use DefectStatus as S;
        let expected = |from: S, action: A| match (from, action) {
            (S::New, A::Triage) => Some(S::Triaged),
            (S::Triaged, A::Assign) => Some(S::Assigned),
            (S::Assigned, A::StartFix) => Some(S::InFix),
            (S::InFix, A::MarkReadyForRetest) => Some(S::ReadyForRetest),
            (S::ReadyForRetest, A::Verify) => Some(S::Verified),
            (S::Verified, A::Close) => Some(S::Closed),
            (S::ReadyForRetest, A::Reopen) => Some(S::Reopened),
            (S::Reopened, A::Assign) => Some(S::Assigned),
            (S::Triaged, A::Defer) => Some(S::Deferred),
            (S::Triaged, A::Reject) => Some(S::Rejected),
            (S::Deferred, A::Triage) => Some(S::Triaged),
            _ => None,
        };
        for from in DefectStatus::ALL {
            for command in all_commands() {
                let action = command.action();
                match defect_decide(&facts(from, Severity::Critical), &admin(), &command) {
                    Ok(transition) => {
                        assert_eq!(
                            Some(transition.status),
                            expected(from, action),
                            "{from} {action}"
                        );
                        assert_eq!(transition.reopened, action == A::Reopen);
                    }
                    Err(refusals) => {
                        assert_eq!(
                            expected(from, action),
                            None,
                            "{from} {action}: {refusals:?}"
                        );
                        assert_eq!(
                            codes(&refusals),
                            [(RefusalCode::InvalidTransition, path(&["action"]))]
                        );
                        let allowed: Vec<_> = defect_allowed_actions(from)
                            .into_iter()
                            .map(|a| a.as_str().to_owned())
                            .collect();
                        assert_eq!(refusals[0].allowed_actions, allowed);
                    }
                }
            }
        }
        assert_eq!(
            defect_allowed_actions(S::Triaged),
            [A::Assign, A::Defer, A::Reject]
        );
        assert!(defect_allowed_actions(S::Closed).is_empty());
        assert!(defect_allowed_actions(S::Rejected).is_empty());
    }

    #[test]
    fn each_command_is_open_to_its_own_parties_only() {
        use DefectStatus as S;
        use ProjectRole as R;
        let reporter = member(1, &[R::SuperUser]);
        let assignee = member(2, &[R::Vendor]);
        let qa = member(3, &[R::Qa]);
        let business_rep = member(4, &[R::BusinessRep]);
        let pm = member(5, &[R::ProjectManager]);
        let outsider = member(6, &[R::ItRep, R::Sponsor]);
        let callers = [
            &reporter,
            &assignee,
            &qa,
            &business_rep,
            &pm,
            &outsider,
            &admin(),
        ];
        let commands = all_commands();
        const Y: bool = true;
        const N: bool = false;
        // Columns: reporter, assignee, QA, business rep, PM, outsider, admin.
        #[rustfmt::skip]
        let table = [
            (&commands[0], S::New,            [N, N, Y, N, Y, N, Y]), // triage
            (&commands[1], S::Triaged,        [N, N, Y, N, Y, N, Y]), // assign
            (&commands[2], S::Assigned,       [N, Y, N, N, Y, N, Y]), // startFix
            (&commands[3], S::InFix,          [N, Y, N, N, Y, N, Y]), // markReadyForRetest
            (&commands[4], S::ReadyForRetest, [Y, N, Y, Y, N, N, Y]), // verify
            (&commands[5], S::Verified,       [N, N, Y, N, Y, N, Y]), // close
            (&commands[6], S::ReadyForRetest, [Y, N, Y, Y, N, N, Y]), // reopen
            (&commands[7], S::Triaged,        [N, N, Y, N, Y, N, Y]), // defer (MINOR)
            (&commands[8], S::Triaged,        [N, N, Y, N, Y, N, Y]), // reject
        ];
        for (command, from, allowed) in table {
            for (caller, may) in callers.iter().zip(allowed) {
                let decided = defect_decide(&facts(from, Severity::Minor), caller, command);
                match (decided, may) {
                    (Ok(_), true) => {}
                    (Err(refusals), false) => {
                        assert_eq!(
                            codes(&refusals),
                            [(RefusalCode::NotEligible, vec![])],
                            "{command:?}"
                        );
                    }
                    (outcome, _) => panic!("{command:?} by {caller:?}: {outcome:?}"),
                }
            }
        }
    }

    #[test]
    fn an_assignee_judges_their_own_fix_only_through_a_testing_role() {
        let reporting_assignee = DefectFacts {
            assignee: Some(REPORTER),
            ..facts(DefectStatus::ReadyForRetest, Severity::Minor)
        };
        let as_reporter_only = member(1, &[ProjectRole::Vendor]);
        let as_qa_too = member(1, &[ProjectRole::Vendor, ProjectRole::Qa]);
        for command in [
            DefectCommand::Verify,
            DefectCommand::Reopen {
                reason: "no".into(),
            },
        ] {
            let refusals =
                defect_decide(&reporting_assignee, &as_reporter_only, &command).unwrap_err();
            assert_eq!(codes(&refusals), [(RefusalCode::NotEligible, vec![])]);
            assert!(defect_decide(&reporting_assignee, &as_qa_too, &command).is_ok());
        }
        let unassigned = DefectFacts {
            assignee: None,
            ..facts(DefectStatus::Assigned, Severity::Minor)
        };
        assert!(
            defect_decide(
                &unassigned,
                &member(2, &[ProjectRole::Vendor]),
                &DefectCommand::StartFix
            )
            .is_err()
        );
    }

    #[test]
    fn leaving_new_needs_both_severity_and_priority_and_reports_both() {
        let ungraded = DefectFacts {
            severity: None,
            priority: None,
            ..facts(DefectStatus::New, Severity::Minor)
        };
        let refusals = defect_decide(&ungraded, &admin(), &DefectCommand::Triage).unwrap_err();
        assert_eq!(
            codes(&refusals),
            [
                (RefusalCode::PreconditionFailed, path(&["severity"])),
                (RefusalCode::PreconditionFailed, path(&["priority"])),
            ]
        );
        let no_priority = DefectFacts {
            priority: None,
            ..facts(DefectStatus::New, Severity::Minor)
        };
        let refusals = defect_decide(&no_priority, &admin(), &DefectCommand::Triage).unwrap_err();
        assert_eq!(
            codes(&refusals),
            [(RefusalCode::PreconditionFailed, path(&["priority"]))]
        );
    }

    #[test]
    fn deferring_a_severe_defect_takes_a_project_manager_and_a_reason() {
        let qa = member(3, &[ProjectRole::Qa]);
        let pm = member(5, &[ProjectRole::ProjectManager]);
        let with_reason = DefectCommand::Defer {
            reason: "vendor patch due after go-live".into(),
        };
        let without_reason = DefectCommand::Defer {
            reason: "  ".into(),
        };
        let not_eligible = || vec![(RefusalCode::NotEligible, vec![])];
        let no_reason = || vec![(RefusalCode::BadUserInput, path(&["reason"]))];
        let cases = [
            (Severity::Critical, &qa, &with_reason, not_eligible()),
            (Severity::Major, &qa, &with_reason, not_eligible()),
            (Severity::Critical, &pm, &without_reason, no_reason()),
            (Severity::Major, &pm, &without_reason, no_reason()),
            (Severity::Critical, &pm, &with_reason, vec![]),
            (Severity::Minor, &qa, &without_reason, vec![]),
            (Severity::Trivial, &qa, &with_reason, vec![]),
        ];
        for (severity, caller, command, expected) in cases {
            let outcome = defect_decide(&facts(DefectStatus::Triaged, severity), caller, command);
            match outcome {
                Ok(transition) => {
                    assert!(expected.is_empty(), "{severity} {command:?}");
                    assert_eq!(transition.status, DefectStatus::Deferred);
                }
                Err(refusals) => assert_eq!(codes(&refusals), expected, "{severity} {command:?}"),
            }
        }
        let admin_without_reason = defect_decide(
            &facts(DefectStatus::Triaged, Severity::Critical),
            &admin(),
            &without_reason,
        );
        assert_eq!(codes(&admin_without_reason.unwrap_err()), no_reason());
    }

    #[test]
    fn a_rejection_names_a_duplicate_only_when_it_is_one_and_never_itself() {
        let reject = |reason, duplicate_of| DefectCommand::Reject {
            reason,
            duplicate_of,
            defect_id: DEFECT,
        };
        let cases = [
            (RejectReason::Duplicate, Some(OTHER_DEFECT), true),
            (RejectReason::Duplicate, Some(DEFECT), false),
            (RejectReason::Duplicate, None, false),
            (RejectReason::NotADefect, None, true),
            (RejectReason::NotADefect, Some(OTHER_DEFECT), false),
            (RejectReason::WorksAsDesigned, None, true),
            (RejectReason::WorksAsDesigned, Some(OTHER_DEFECT), false),
        ];
        for (reason, duplicate_of, accepted) in cases {
            let outcome = defect_decide(
                &facts(DefectStatus::Triaged, Severity::Minor),
                &admin(),
                &reject(reason, duplicate_of),
            );
            match outcome {
                Ok(transition) => {
                    assert!(accepted, "{reason} {duplicate_of:?}");
                    assert_eq!(transition.status, DefectStatus::Rejected);
                }
                Err(refusals) => {
                    assert!(!accepted, "{reason} {duplicate_of:?}");
                    assert_eq!(
                        codes(&refusals),
                        [(RefusalCode::BadUserInput, path(&["duplicateOf"]))]
                    );
                }
            }
        }
    }

    /// A duplicate points at the defect where the work goes on: an open one. So a defect
    /// rejected as a duplicate (REJECTED, no longer open) can never be named in turn, and two
    /// defects cannot end up duplicates of each other.
    #[test]
    fn a_duplicate_names_an_open_original() {
        for status in DefectStatus::ALL {
            let outcome = check_duplicate_original("DEF-7", status);
            if is_open(status) {
                assert_eq!(outcome, Ok(()), "{status}");
            } else {
                let refusal = outcome.unwrap_err();
                assert_eq!(refusal.code, RefusalCode::BadUserInput, "{status}");
                assert_eq!(refusal.field, path(&["duplicateOf"]));
                assert!(
                    refusal.message.starts_with(&format!("DEF-7 is {status}")),
                    "{}",
                    refusal.message
                );
            }
        }
        // Among them, the original of a duplicate: a defect rejected as one is never named.
        assert!(check_duplicate_original("DEF-7", DefectStatus::Rejected).is_err());
    }

    #[test]
    fn reopening_needs_a_reason_and_counts_as_a_reopen() {
        let retest = facts(DefectStatus::ReadyForRetest, Severity::Major);
        let qa = member(3, &[ProjectRole::Qa]);
        let reopened = defect_decide(
            &retest,
            &qa,
            &DefectCommand::Reopen {
                reason: "still broken".into(),
            },
        );
        assert_eq!(
            reopened,
            Ok(DefectTransition {
                status: DefectStatus::Reopened,
                reopened: true
            })
        );
        let refusals =
            defect_decide(&retest, &qa, &DefectCommand::Reopen { reason: "".into() }).unwrap_err();
        assert_eq!(
            codes(&refusals),
            [(RefusalCode::BadUserInput, path(&["reason"]))]
        );
        let verified = defect_decide(&retest, &qa, &DefectCommand::Verify).unwrap();
        assert!(!verified.reopened);
    }

    #[test]
    fn every_broken_rule_is_reported_at_once() {
        let ungraded = DefectFacts {
            severity: None,
            priority: None,
            ..facts(DefectStatus::Triaged, Severity::Minor)
        };
        let outsider = member(6, &[ProjectRole::Viewer]);
        let command = DefectCommand::Reject {
            reason: RejectReason::Duplicate,
            duplicate_of: Some(DEFECT),
            defect_id: DEFECT,
        };
        let refusals = defect_decide(&ungraded, &outsider, &command).unwrap_err();
        assert_eq!(
            codes(&refusals),
            [
                (RefusalCode::NotEligible, vec![]),
                (RefusalCode::PreconditionFailed, path(&["severity"])),
                (RefusalCode::PreconditionFailed, path(&["priority"])),
                (RefusalCode::BadUserInput, path(&["duplicateOf"])),
            ]
        );
    }

    #[test]
    fn open_defects_are_those_still_needing_work() {
        use DefectStatus as S;
        let open: Vec<_> = DefectStatus::ALL
            .into_iter()
            .filter(|&s| is_open(s))
            .collect();
        assert_eq!(
            open,
            [
                S::New,
                S::Triaged,
                S::Assigned,
                S::InFix,
                S::ReadyForRetest,
                S::Reopened
            ]
        );
    }

    // --- metrics ---------------------------------------------------------------------------

    fn execution(scenario: u128, is_core: bool, result: ExecutionResult) -> ExecutionRow {
        ExecutionRow {
            scenario_id: Uuid::from_u128(scenario),
            is_core,
            result,
        }
    }

    fn defect(status: DefectStatus, severity: Option<Severity>, created_on: &str) -> DefectRow {
        DefectRow {
            status,
            severity,
            created_on: day(created_on),
            closed_on: None,
            reopen_count: 0,
            found_after_go_live: false,
            on_core_scenario: true,
        }
    }

    #[test]
    fn pass_rate_counts_passed_executed_and_total() {
        use ExecutionResult as R;
        let rows = [
            execution(1, true, R::Passed),
            execution(2, true, R::Failed),
            execution(3, true, R::NotRun),
            execution(4, false, R::Passed),
            execution(5, false, R::Blocked),
            execution(6, false, R::NotRun),
        ];
        let cases = [
            (
                false,
                PassRate {
                    passed: 2,
                    executed: 4,
                    total: 6,
                },
            ),
            (
                true,
                PassRate {
                    passed: 1,
                    executed: 2,
                    total: 3,
                },
            ),
        ];
        for (core_only, expected) in cases {
            assert_eq!(
                pass_rate(&rows, core_only),
                expected,
                "core_only {core_only}"
            );
        }
        assert_eq!(pass_rate(&[], false), PassRate::default());
    }

    #[test]
    fn open_by_severity_lists_every_severity_most_severe_first_and_sums_repeats() {
        use Severity as V;
        assert_eq!(
            open_by_severity([]),
            vec![
                (Some(V::Critical), 0),
                (Some(V::Major), 0),
                (Some(V::Minor), 0),
                (Some(V::Trivial), 0),
                (None, 0),
            ]
        );
        assert_eq!(
            open_by_severity([
                (Some(V::Minor), 4),
                (None, 2),
                (Some(V::Critical), 1),
                (Some(V::Minor), 3),
                (Some(V::Trivial), u32::MAX),
                (Some(V::Trivial), 1),
            ]),
            vec![
                (Some(V::Critical), 1),
                (Some(V::Major), 0),
                (Some(V::Minor), 7),
                (Some(V::Trivial), u32::MAX),
                (None, 2),
            ]
        );
    }

    #[test]
    fn ageing_measures_open_defects_only() {
        use DefectStatus as S;
        let today = day("2026-03-31");
        let cases: Vec<(Vec<DefectRow>, (i64, i64))> = vec![
            (vec![], (0, 0)),
            (vec![defect(S::Closed, None, "2026-01-01")], (0, 0)),
            (
                vec![
                    defect(S::New, None, "2026-03-21"),
                    defect(S::InFix, None, "2026-03-30"),
                    defect(S::Reopened, None, "2026-03-31"),
                    defect(S::Verified, None, "2025-01-01"),
                ],
                (10, 3),
            ),
            (vec![defect(S::New, None, "2026-04-02")], (0, 0)),
        ];
        for (rows, expected) in cases {
            assert_eq!(ageing(&rows, today), expected, "{rows:?}");
        }
    }

    #[test]
    fn reopen_and_go_live_bug_rates_are_whole_percentages() {
        let row = |reopen_count, found_after_go_live| DefectRow {
            reopen_count,
            found_after_go_live,
            ..defect(DefectStatus::Closed, Some(Severity::Minor), "2026-01-01")
        };
        let cases: Vec<(Vec<DefectRow>, u32, u32)> = vec![
            (vec![], 0, 0),
            (vec![row(0, false), row(2, true), row(1, false)], 66, 33),
            (vec![row(1, true)], 100, 100),
            (
                vec![row(0, false), row(0, false), row(0, false), row(3, true)],
                25,
                25,
            ),
        ];
        for (rows, reopen, go_live) in cases {
            assert_eq!(reopen_rate(&rows), reopen, "{rows:?}");
            assert_eq!(go_live_bug_rate(&rows), go_live, "{rows:?}");
        }
    }

    // --- readiness -------------------------------------------------------------------------

    fn verdict(readiness: &Readiness) -> Vec<(&'static str, String, String, bool)> {
        readiness
            .criteria
            .iter()
            .map(|c| (c.key, c.value.clone(), c.threshold.clone(), c.holds))
            .collect()
    }

    #[test]
    fn readiness_holds_only_when_all_three_criteria_hold() {
        use DefectStatus as D;
        use ExecutionResult as R;
        let core = [Uuid::from_u128(1), Uuid::from_u128(2)];
        let all_passed = [
            execution(1, true, R::Passed),
            execution(2, true, R::Passed),
            execution(3, false, R::Failed),
        ];
        let one_missing = [
            execution(1, true, R::Passed),
            execution(3, false, R::Passed),
        ];
        let one_failed_retest = [
            execution(1, true, R::Passed),
            execution(2, true, R::Passed),
            execution(2, true, R::Failed),
        ];
        let harmless = [
            defect(D::Closed, Some(Severity::Critical), "2026-01-01"),
            defect(D::Deferred, Some(Severity::Minor), "2026-01-01"),
            DefectRow {
                on_core_scenario: false,
                ..defect(D::InFix, Some(Severity::Critical), "2026-01-01")
            },
            defect(D::Assigned, Some(Severity::Minor), "2026-01-01"),
        ];
        let open_major = [defect(
            D::ReadyForRetest,
            Some(Severity::Major),
            "2026-01-01",
        )];
        let open_ungraded = [defect(D::New, None, "2026-01-01")];

        let s = |text: &str| text.to_owned();
        let passed = |value: &str, holds| (CORE_SCENARIOS_PASSED, s(value), s("2/2"), holds);
        let blocking =
            |value: &str, holds| (NO_OPEN_CRITICAL_OR_MAJOR_ON_CORE, s(value), s("0"), holds);
        let signed =
            |value: &str, holds| (LATEST_CYCLE_SIGNED_OFF, s(value), s("SIGNED_OFF"), holds);

        let signed_off = CycleStatus::SignedOff;
        let cases = [
            (
                "all three hold",
                Some((signed_off, &all_passed[..])),
                &harmless[..],
                [
                    passed("2/2", true),
                    blocking("0", true),
                    signed("SIGNED_OFF", true),
                ],
            ),
            (
                "a core scenario has no execution",
                Some((signed_off, &one_missing[..])),
                &harmless[..],
                [
                    passed("1/2", false),
                    blocking("0", true),
                    signed("SIGNED_OFF", true),
                ],
            ),
            (
                "a core scenario failed one of its executions",
                Some((signed_off, &one_failed_retest[..])),
                &harmless[..],
                [
                    passed("1/2", false),
                    blocking("0", true),
                    signed("SIGNED_OFF", true),
                ],
            ),
            (
                "an open major defect on a core scenario",
                Some((signed_off, &all_passed[..])),
                &open_major[..],
                [
                    passed("2/2", true),
                    blocking("1", false),
                    signed("SIGNED_OFF", true),
                ],
            ),
            (
                "an open ungraded defect on a core scenario",
                Some((signed_off, &all_passed[..])),
                &open_ungraded[..],
                [
                    passed("2/2", true),
                    blocking("1", false),
                    signed("SIGNED_OFF", true),
                ],
            ),
            (
                "the latest cycle is only completed",
                Some((CycleStatus::Completed, &all_passed[..])),
                &harmless[..],
                [
                    passed("2/2", true),
                    blocking("0", true),
                    signed("COMPLETED", false),
                ],
            ),
            (
                "there is no cycle",
                None,
                &[][..],
                [
                    passed("0/2", false),
                    blocking("0", false),
                    signed("NONE", false),
                ],
            ),
        ];
        for (case, latest_cycle, defects, expected) in cases {
            let readiness = readiness(&core, latest_cycle, defects);
            assert_eq!(verdict(&readiness), expected, "{case}");
            assert_eq!(readiness.ready, expected.iter().all(|c| c.3), "{case}");
        }
    }

    #[test]
    fn readiness_needs_at_least_one_core_scenario() {
        let readiness = readiness(&[], Some((CycleStatus::SignedOff, &[])), &[]);
        assert!(!readiness.ready);
        assert_eq!(readiness.criteria[0].value, "0/0");
        assert!(!readiness.criteria[0].holds);
    }

    #[test]
    fn readiness_counts_each_core_scenario_once() {
        let id = Uuid::from_u128(1);
        let rows = [execution(1, true, ExecutionResult::Passed)];
        let readiness = readiness(&[id, id], Some((CycleStatus::SignedOff, &rows)), &[]);
        assert!(readiness.ready);
        assert_eq!(readiness.criteria[0].value, "1/1");
    }

    #[test]
    fn a_grading_escalates_an_open_defect_that_becomes_critical() {
        use DefectStatus as S;
        use Severity::{Critical, Major};
        for status in [
            S::New,
            S::Triaged,
            S::Assigned,
            S::InFix,
            S::ReadyForRetest,
            S::Reopened,
        ] {
            assert!(grading_escalates(status, None, Some(Critical)));
            assert!(grading_escalates(status, Some(Major), Some(Critical)));
            assert!(!grading_escalates(status, Some(Critical), Some(Critical)));
            assert!(!grading_escalates(status, None, Some(Major)));
            assert!(!grading_escalates(status, Some(Critical), Some(Major)));
        }
        for status in [S::Verified, S::Closed, S::Deferred, S::Rejected] {
            assert!(!grading_escalates(status, Some(Major), Some(Critical)));
        }
    }

    #[test]
    fn a_defect_logged_while_the_project_is_live_is_found_after_go_live_unless_said_otherwise() {
        use ProjectStatus as P;
        for status in P::ALL {
            let live = matches!(status, P::LiveHypercare | P::Optimization);
            assert_eq!(found_after_go_live(None, status, None), live, "{status}");
            // What the reporter says stands.
            assert!(found_after_go_live(Some(true), status, None), "{status}");
            assert!(!found_after_go_live(Some(false), status, None), "{status}");
        }
        assert!(found_after_go_live(None, P::OnHold, Some(P::LiveHypercare)));
        assert!(found_after_go_live(None, P::OnHold, Some(P::Optimization)));
        assert!(!found_after_go_live(None, P::OnHold, Some(P::InExecution)));
    }

    /// Only open defects are graded, so a QA's MINOR deferral cannot be turned into a CRITICAL
    /// defect deferred without the PM; a deferred defect is reopened by TRIAGE first, which
    /// the refusal says, and one with no way back says that instead.
    #[test]
    fn lowering_a_defect_below_what_blocks_go_live_is_the_pms_call() {
        use Severity as S;
        for before in [S::Critical, S::Major] {
            for after in [S::Minor, S::Trivial] {
                assert!(downgrade_needs_project_manager(Some(before), Some(after)));
            }
            for after in [S::Critical, S::Major] {
                assert!(!downgrade_needs_project_manager(Some(before), Some(after)));
            }
            assert!(!downgrade_needs_project_manager(Some(before), None));
        }
        for before in [None, Some(S::Minor), Some(S::Trivial)] {
            for after in [S::Critical, S::Major, S::Minor, S::Trivial] {
                assert!(!downgrade_needs_project_manager(before, Some(after)));
            }
        }
    }

    #[test]
    fn only_an_open_defect_is_graded() {
        use DefectStatus as S;
        for status in DefectStatus::ALL {
            let outcome = check_gradable("DEF-4", status);
            if is_open(status) {
                assert_eq!(outcome, Ok(()), "{status}");
                continue;
            }
            let refusal = outcome.unwrap_err();
            assert_eq!(refusal.code, RefusalCode::PreconditionFailed, "{status}");
            assert_eq!(refusal.field, path(&["id"]));
            assert!(
                refusal.message.starts_with(&format!("DEF-4 is {status}")),
                "{}",
                refusal.message
            );
            // The way back named is an edge of the lifecycle, or there is none.
            let reopens = DefectAction::ALL
                .into_iter()
                .filter(|action| defect_target(status, *action).is_some_and(is_open))
                .collect::<Vec<_>>();
            match status {
                S::Deferred => {
                    assert_eq!(reopens, [DefectAction::Triage]);
                    assert!(refusal.message.contains("TRIAGE"), "{}", refusal.message);
                }
                _ => {
                    assert!(reopens.is_empty(), "{status}: {reopens:?}");
                    assert!(refusal.message.contains("cannot be reopened"));
                }
            }
        }
    }
}

#[cfg(test)]
mod properties {
    //! Arbitrary command sequences driven through the test cycle lifecycle and through the
    //! defect lifecycle (with arbitrary callers, roles and arguments), with the invariants
    //! checked after every step.

    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;

    // --- cycles ----------------------------------------------------------------------------

    /// The cycle lifecycle of the module diagram, written independently of `cycle_target`.
    fn expected_cycle_target(from: CycleStatus, action: CycleAction) -> Option<CycleStatus> {
        use CycleAction as A;
        use CycleStatus as S;
        match (from, action) {
            (S::Planned, A::Start) => Some(S::Running),
            (S::Running, A::Complete) => Some(S::Completed),
            (S::Completed, A::SignOff) => Some(S::SignedOff),
            (S::Running | S::Completed, A::Fail) => Some(S::Failed),
            _ => None,
        }
    }

    fn cycle_actions() -> impl Strategy<Value = Vec<CycleAction>> {
        prop::collection::vec(prop::sample::select(CycleAction::ALL.to_vec()), 0..40)
    }

    // --- defects ---------------------------------------------------------------------------

    const REPORTER: u128 = 1;
    const PEOPLE: u128 = 4;
    const DEFECT: Uuid = Uuid::from_u128(100);
    const OTHER_DEFECT: Uuid = Uuid::from_u128(101);

    fn person() -> impl Strategy<Value = Uuid> {
        (1..=PEOPLE).prop_map(Uuid::from_u128)
    }

    /// A project member with any mix of the roles the defect rules look at, or none; now and
    /// then an administrator.
    fn caller() -> impl Strategy<Value = Caller> {
        let roles = prop::sample::subsequence(
            vec![
                ProjectRole::ProjectManager,
                ProjectRole::Qa,
                ProjectRole::BusinessRep,
                ProjectRole::Vendor,
            ],
            0..=2,
        );
        (person(), roles, prop::bool::weighted(0.1)).prop_map(|(user_id, held, admin)| Caller {
            user_id,
            roles: if held.is_empty() {
                RoleSet::none()
            } else {
                RoleSet::from_input(&held).expect("distinct roles")
            },
            admin,
        })
    }

    /// A blank reason, or a real one.
    fn reason() -> impl Strategy<Value = &'static str> {
        prop_oneof![Just("  "), Just("fails again on the contract screen")]
    }

    /// Everything a command may carry; `command_for` picks what its action needs.
    #[derive(Debug, Clone)]
    struct Arguments {
        assignee: Uuid,
        reason: &'static str,
        reject_reason: RejectReason,
        duplicate_of: Option<Uuid>,
    }

    fn arguments() -> impl Strategy<Value = Arguments> {
        (
            person(),
            reason(),
            prop::sample::select(RejectReason::ALL.to_vec()),
            prop_oneof![Just(None), Just(Some(OTHER_DEFECT)), Just(Some(DEFECT))],
        )
            .prop_map(
                |(assignee, reason, reject_reason, duplicate_of)| Arguments {
                    assignee,
                    reason,
                    reject_reason,
                    duplicate_of,
                },
            )
    }

    fn command_for(action: DefectAction, arguments: &Arguments) -> DefectCommand {
        let reason = arguments.reason.to_owned();
        match action {
            DefectAction::Triage => DefectCommand::Triage,
            DefectAction::Assign => DefectCommand::Assign {
                assignee: arguments.assignee,
            },
            DefectAction::StartFix => DefectCommand::StartFix,
            DefectAction::MarkReadyForRetest => DefectCommand::MarkReadyForRetest,
            DefectAction::Verify => DefectCommand::Verify,
            DefectAction::Close => DefectCommand::Close,
            DefectAction::Reopen => DefectCommand::Reopen { reason },
            DefectAction::Defer => DefectCommand::Defer { reason },
            DefectAction::Reject => DefectCommand::Reject {
                reason: arguments.reject_reason,
                duplicate_of: arguments.duplicate_of,
                defect_id: DEFECT,
            },
        }
    }

    #[derive(Debug, Clone)]
    enum Step {
        /// Someone runs a lifecycle command. When `steer` is set, the action is replaced by
        /// one the current status allows, so that sequences get past triage.
        Command {
            caller: Caller,
            action: DefectAction,
            steer: Option<Index>,
            arguments: Arguments,
        },
        /// The defect is graded (or regraded), which the service allows at any time.
        Grade(Severity, Priority),
    }

    fn step() -> impl Strategy<Value = Step> {
        let command = (
            caller(),
            prop::sample::select(DefectAction::ALL.to_vec()),
            prop::option::weighted(0.7, any::<Index>()),
            arguments(),
        )
            .prop_map(|(caller, action, steer, arguments)| Step::Command {
                caller,
                action,
                steer,
                arguments,
            });
        let grade = (
            prop::sample::select(Severity::ALL.to_vec()),
            prop::sample::select(Priority::ALL.to_vec()),
        )
            .prop_map(|(severity, priority)| Step::Grade(severity, priority));
        prop_oneof![9 => command, 1 => grade]
    }

    /// A new defect from the reporter, graded on creation or not.
    fn new_defect() -> impl Strategy<Value = DefectFacts> {
        (
            prop::option::weighted(0.8, prop::sample::select(Severity::ALL.to_vec())),
            prop::option::weighted(0.8, prop::sample::select(Priority::ALL.to_vec())),
        )
            .prop_map(|(severity, priority)| DefectFacts {
                status: DefectStatus::New,
                severity,
                priority,
                reporter: Uuid::from_u128(REPORTER),
                assignee: None,
            })
    }

    /// One command applied to the defect.
    struct Visit {
        before: DefectFacts,
        caller: Caller,
        command: DefectCommand,
        outcome: Result<DefectTransition, Vec<Refusal>>,
        reopens_before: u32,
        reopens_after: u32,
    }

    /// Applies the steps as the service does: an accepted command sets the new status, an
    /// assignment the assignee, a reopen bumps the counter.
    fn replay(mut facts: DefectFacts, steps: &[Step]) -> Vec<Visit> {
        let mut reopens = 0;
        let mut visits = Vec::new();
        for step in steps {
            let (caller, action, steer, arguments) = match step {
                Step::Grade(severity, priority) => {
                    facts.severity = Some(*severity);
                    facts.priority = Some(*priority);
                    continue;
                }
                Step::Command {
                    caller,
                    action,
                    steer,
                    arguments,
                } => (caller, action, steer, arguments),
            };
            let allowed = defect_allowed_actions(facts.status);
            let action = match steer {
                Some(index) if !allowed.is_empty() => allowed[index.index(allowed.len())],
                _ => *action,
            };
            let command = command_for(action, arguments);
            let outcome = defect_decide(&facts, caller, &command);
            let before = facts.clone();
            let reopens_before = reopens;
            if let Ok(transition) = &outcome {
                facts.status = transition.status;
                if let DefectCommand::Assign { assignee } = &command {
                    facts.assignee = Some(*assignee);
                }
                reopens += u32::from(transition.reopened);
            }
            visits.push(Visit {
                before,
                caller: caller.clone(),
                command,
                outcome,
                reopens_before,
                reopens_after: reopens,
            });
        }
        visits
    }

    fn defect_steps() -> impl Strategy<Value = (DefectFacts, Vec<Step>)> {
        (new_defect(), prop::collection::vec(step(), 0..40))
    }

    /// The defect lifecycle of the module diagram, written independently of `defect_target`.
    fn expected_defect_target(from: DefectStatus, action: DefectAction) -> Option<DefectStatus> {
        use DefectAction as A;
        use DefectStatus as S;
        match (from, action) {
            (S::New | S::Deferred, A::Triage) => Some(S::Triaged),
            (S::Triaged | S::Reopened, A::Assign) => Some(S::Assigned),
            (S::Assigned, A::StartFix) => Some(S::InFix),
            (S::InFix, A::MarkReadyForRetest) => Some(S::ReadyForRetest),
            (S::ReadyForRetest, A::Verify) => Some(S::Verified),
            (S::ReadyForRetest, A::Reopen) => Some(S::Reopened),
            (S::Verified, A::Close) => Some(S::Closed),
            (S::Triaged, A::Defer) => Some(S::Deferred),
            (S::Triaged, A::Reject) => Some(S::Rejected),
            _ => None,
        }
    }

    fn holds(caller: &Caller, role: ProjectRole) -> bool {
        caller.roles.contains(role)
    }

    proptest! {
        /// Every accepted cycle action follows an edge of the lifecycle table; SIGNED_OFF and
        /// FAILED are final, and a cycle is signed off only after it ran and was completed.
        #[test]
        fn cycles_are_signed_off_only_once_completed(actions in cycle_actions()) {
            let mut status = CycleStatus::Planned;
            let mut completed = false;
            for action in actions {
                let outcome = cycle_transition(status, action);
                let expected = expected_cycle_target(status, action);
                prop_assert_eq!(outcome.as_ref().ok().copied(), expected);
                if matches!(status, CycleStatus::SignedOff | CycleStatus::Failed) {
                    prop_assert!(outcome.is_err());
                    prop_assert!(cycle_allowed_actions(status).is_empty());
                }
                if let Ok(after) = outcome {
                    completed |= after == CycleStatus::Completed;
                    if after == CycleStatus::SignedOff {
                        prop_assert!(completed);
                    }
                    status = after;
                }
            }
        }

        /// Every accepted defect command follows an edge of the lifecycle table, whoever asks;
        /// an impossible one is refused alone, as an invalid transition. CLOSED and REJECTED
        /// accept nothing, not even from an administrator, and VERIFIED only CLOSE.
        #[test]
        fn defects_follow_their_lifecycle((defect, steps) in defect_steps()) {
            for visit in replay(defect, &steps) {
                let from = visit.before.status;
                let action = visit.command.action();
                let expected = expected_defect_target(from, action);
                prop_assert_eq!(defect_allowed_actions(from).contains(&action), expected.is_some());
                match &visit.outcome {
                    Ok(transition) => prop_assert_eq!(Some(transition.status), expected),
                    Err(refusals) if expected.is_none() => {
                        prop_assert_eq!(refusals.len(), 1);
                        prop_assert_eq!(refusals[0].code, RefusalCode::InvalidTransition);
                    }
                    Err(refusals) => prop_assert!(
                        refusals.iter().all(|r| r.code != RefusalCode::InvalidTransition)
                    ),
                }
                match from {
                    DefectStatus::Closed | DefectStatus::Rejected => {
                        prop_assert!(defect_allowed_actions(from).is_empty());
                    }
                    DefectStatus::Verified => {
                        prop_assert_eq!(defect_allowed_actions(from), vec![DefectAction::Close]);
                    }
                    _ => {}
                }
            }
        }

        /// Nothing happens to a defect that is not graded: every accepted command found a
        /// severity and a priority, since every later status (and the go-live verdict) relies
        /// on them.
        #[test]
        fn only_graded_defects_move((defect, steps) in defect_steps()) {
            for visit in replay(defect, &steps) {
                if visit.outcome.is_ok() {
                    prop_assert!(visit.before.severity.is_some());
                    prop_assert!(visit.before.priority.is_some());
                }
            }
        }

        /// A CRITICAL or MAJOR defect pushed past go-live is a risk the project accepts: it is
        /// deferred only by a PROJECT_MANAGER (or an administrator), and always with a reason.
        /// A QA may defer only what does not block go-live.
        #[test]
        fn severe_defects_are_deferred_only_by_a_project_manager_with_a_reason(
            (defect, steps) in defect_steps()
        ) {
            for visit in replay(defect, &steps) {
                let DefectCommand::Defer { reason } = &visit.command else { continue };
                if visit.outcome.is_err() {
                    continue;
                }
                let caller = &visit.caller;
                let is_pm = caller.admin || holds(caller, ProjectRole::ProjectManager);
                let severe = visit.before.severity.is_none_or(Severity::blocks_go_live);
                if severe {
                    prop_assert!(is_pm, "{:?}", caller);
                    prop_assert!(!reason.trim().is_empty());
                } else {
                    prop_assert!(is_pm || holds(caller, ProjectRole::Qa), "{:?}", caller);
                }
            }
        }

        /// Each command is taken only by its own parties: triage, assignment, closing and
        /// rejecting by a PM or QA; the fix by the assignee or a PM; the retest verdict by a
        /// tester, a business rep or the reporter, but never by the assignee on the strength
        /// of having reported it, so whoever fixed a defect is not the only judge of the fix.
        /// Administrators pass every role rule.
        #[test]
        fn each_command_is_taken_only_by_its_parties((defect, steps) in defect_steps()) {
            for visit in replay(defect, &steps) {
                if visit.outcome.is_err() || visit.caller.admin {
                    continue;
                }
                let caller = &visit.caller;
                let is_pm = holds(caller, ProjectRole::ProjectManager);
                let is_assignee = visit.before.assignee == Some(caller.user_id);
                let is_reporter = visit.before.reporter == caller.user_id;
                use DefectAction as A;
                let eligible = match visit.command.action() {
                    A::Triage | A::Assign | A::Close | A::Reject | A::Defer => {
                        is_pm || holds(caller, ProjectRole::Qa)
                    }
                    A::StartFix | A::MarkReadyForRetest => is_assignee || is_pm,
                    A::Verify | A::Reopen => {
                        holds(caller, ProjectRole::Qa)
                            || holds(caller, ProjectRole::BusinessRep)
                            || (is_reporter && !is_assignee)
                    }
                };
                prop_assert!(eligible, "{:?} by {:?}", visit.command, caller);
            }
        }

        /// The fix and retest loop: a defect reaches READY_FOR_RETEST only from IN_FIX, a
        /// failed retest (REOPEN) counts exactly one reopen and needs a reason, and a reopened
        /// defect goes back through assignment before anyone fixes it again. Nothing else
        /// touches the reopen counter, which feeds the reopen rate.
        #[test]
        fn a_failed_retest_goes_back_through_assignment_and_counts_once(
            (defect, steps) in defect_steps()
        ) {
            for visit in replay(defect, &steps) {
                let reopened =
                    visit.command.action() == DefectAction::Reopen && visit.outcome.is_ok();
                prop_assert_eq!(visit.reopens_after, visit.reopens_before + u32::from(reopened));
                let Ok(transition) = &visit.outcome else { continue };
                if let DefectCommand::Reopen { reason } = &visit.command {
                    prop_assert!(!reason.trim().is_empty());
                }
                if transition.status == DefectStatus::ReadyForRetest {
                    prop_assert_eq!(visit.before.status, DefectStatus::InFix);
                }
                if visit.before.status == DefectStatus::Reopened {
                    prop_assert_eq!(visit.command.action(), DefectAction::Assign);
                }
            }
        }

        /// A rejection as a duplicate names another defect, never the defect itself, and other
        /// rejections name none: the link between duplicates stays meaningful.
        #[test]
        fn a_duplicate_names_another_defect((defect, steps) in defect_steps()) {
            for visit in replay(defect, &steps) {
                let DefectCommand::Reject {
                    reason,
                    duplicate_of,
                    defect_id,
                } = &visit.command
                else {
                    continue;
                };
                if visit.outcome.is_ok() {
                    match reason {
                        RejectReason::Duplicate => {
                            prop_assert!(duplicate_of.is_some_and(|other| other != *defect_id));
                        }
                        RejectReason::NotADefect | RejectReason::WorksAsDesigned => {
                            prop_assert_eq!(*duplicate_of, None);
                        }
                    }
                }
            }
        }
    }
}
