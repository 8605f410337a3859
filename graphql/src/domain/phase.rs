//! Phases and their gates (DOMAIN §1.4, §12.2).
//!
//! ```text
//! NOT_STARTED ─start─▶ IN_PROGRESS ─requestGate─▶ AWAITING_GATE_REVIEW
//!     AWAITING_GATE_REVIEW ─GO / GO_WITH_CONDITIONS─▶ COMPLETED (the next phase starts)
//!     AWAITING_GATE_REVIEW ─NO_GO or deadlock─▶ IN_PROGRESS
//! NOT_STARTED or IN_PROGRESS ─skip (committee)─▶ SKIPPED
//! ```
//!
//! A gate may be requested only when nothing is open: every exit criterion met or waived,
//! every deliverable approved, every milestone of the phase achieved, and every condition
//! set by the previous gate closed. The refusal lists every open item at once.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use super::decision::{DecisionChoice, UnknownCode};
use super::error::Refusal;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhaseStatus {
    NotStarted,
    InProgress,
    AwaitingGateReview,
    Completed,
    Skipped,
}

impl PhaseStatus {
    pub const ALL: [PhaseStatus; 5] = [
        Self::NotStarted,
        Self::InProgress,
        Self::AwaitingGateReview,
        Self::Completed,
        Self::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "NOT_STARTED",
            Self::InProgress => "IN_PROGRESS",
            Self::AwaitingGateReview => "AWAITING_GATE_REVIEW",
            Self::Completed => "COMPLETED",
            Self::Skipped => "SKIPPED",
        }
    }

    /// Completed or skipped: the next phase may start.
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Completed | Self::Skipped)
    }

    /// Under way or awaiting its gate: the project's current phase.
    pub fn is_current(self) -> bool {
        matches!(self, Self::InProgress | Self::AwaitingGateReview)
    }
}

impl fmt::Display for PhaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PhaseStatus {
    type Err = UnknownCode;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == code)
            .ok_or_else(|| UnknownCode(code.to_owned()))
    }
}

/// The commands of the phase lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhaseCommand {
    Start,
    RequestGate,
    /// The committee's gate decision: GO, NO_GO or GO_WITH_CONDITIONS.
    DecideGate(DecisionChoice),
    /// The committee could not reach its rule.
    GateDeadlocked,
    /// The committee approved skipping the phase.
    Skip,
}

impl PhaseCommand {
    pub fn name(self) -> &'static str {
        match self {
            Self::Start => "START",
            Self::RequestGate => "REQUEST_GATE",
            Self::DecideGate(_) => "DECIDE_GATE",
            Self::GateDeadlocked => "GATE_DEADLOCKED",
            Self::Skip => "SKIP",
        }
    }
}

/// The next status, or `None` when the lifecycle has no such edge.
pub fn target(from: PhaseStatus, command: PhaseCommand) -> Option<PhaseStatus> {
    use PhaseCommand as C;
    use PhaseStatus as S;
    match (from, command) {
        (S::NotStarted, C::Start) => Some(S::InProgress),
        (S::InProgress, C::RequestGate) => Some(S::AwaitingGateReview),
        (
            S::AwaitingGateReview,
            C::DecideGate(DecisionChoice::Go | DecisionChoice::GoWithConditions),
        ) => Some(S::Completed),
        (S::AwaitingGateReview, C::DecideGate(DecisionChoice::NoGo) | C::GateDeadlocked) => {
            Some(S::InProgress)
        }
        (S::NotStarted | S::InProgress, C::Skip) => Some(S::Skipped),
        (
            S::AwaitingGateReview,
            C::DecideGate(DecisionChoice::Approve | DecisionChoice::Reject),
        ) => None,
        (S::NotStarted, C::RequestGate | C::DecideGate(_) | C::GateDeadlocked)
        | (S::InProgress, C::Start | C::DecideGate(_) | C::GateDeadlocked)
        | (S::AwaitingGateReview, C::Start | C::RequestGate | C::Skip)
        | (S::Completed | S::Skipped, _) => None,
    }
}

/// Applies a command, or refuses it naming the state and what it allows.
pub fn transition(from: PhaseStatus, command: PhaseCommand) -> Result<PhaseStatus, Refusal> {
    target(from, command).ok_or_else(|| {
        let allowed = [
            PhaseCommand::Start,
            PhaseCommand::RequestGate,
            PhaseCommand::Skip,
        ]
        .into_iter()
        .filter(|c| target(from, *c).is_some())
        .map(|c| c.name().to_owned());
        Refusal::invalid_transition(&["phaseId"], from.as_str(), command.name(), allowed)
    })
}

/// Something that keeps a phase from its gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenItem {
    CriterionNotMet {
        id: Uuid,
        text: String,
    },
    DeliverableNotApproved {
        id: Uuid,
        name: String,
        status: String,
    },
    MilestoneNotAchieved {
        id: Uuid,
        name: String,
        status: String,
    },
    ConditionOpen {
        id: Uuid,
        text: String,
    },
    /// An activity tied to the phase breaks a RACI rule.
    RaciViolation {
        id: Uuid,
        activity: String,
        problem: String,
    },
}

impl OpenItem {
    pub fn describe(&self) -> String {
        match self {
            Self::CriterionNotMet { text, .. } => {
                format!("exit criterion not met or waived: {text}")
            }
            Self::DeliverableNotApproved { name, status, .. } => {
                format!("deliverable not approved ({status}): {name}")
            }
            Self::MilestoneNotAchieved { name, status, .. } => {
                format!("milestone not achieved ({status}): {name}")
            }
            Self::ConditionOpen { text, .. } => {
                format!("condition of the previous gate still open: {text}")
            }
            Self::RaciViolation {
                activity, problem, ..
            } => {
                format!("RACI of the activity \"{activity}\": {problem}")
            }
        }
    }

    pub fn id(&self) -> Uuid {
        match self {
            Self::CriterionNotMet { id, .. }
            | Self::DeliverableNotApproved { id, .. }
            | Self::MilestoneNotAchieved { id, .. }
            | Self::ConditionOpen { id, .. }
            | Self::RaciViolation { id, .. } => *id,
        }
    }
}

/// What a gate request must check, loaded by the service.
#[derive(Debug, Clone, Default)]
pub struct GateFacts {
    /// (id, text, status code) of each exit criterion.
    pub criteria: Vec<(Uuid, String, String)>,
    /// (id, name, status code) of each required deliverable.
    pub deliverables: Vec<(Uuid, String, String)>,
    /// (id, name, status code) of each milestone of the phase.
    pub milestones: Vec<(Uuid, String, String)>,
    /// (id, text) of each open condition from the previous gate.
    pub open_conditions: Vec<(Uuid, String)>,
    /// (activity id, activity name, problem) for each RACI rule broken by an activity tied to
    /// the phase.
    pub raci_violations: Vec<(Uuid, String, String)>,
}

/// Checks a new order of a project's phases, given as `(id, started)` in that order, where
/// `started` tells a phase that has started (or passed its gate), and `started_order` the
/// phases that have, in their order now: phases run one after another, so a phase that has
/// started keeps its place before every phase that has not, and those that have keep their
/// order among themselves. Phases not started (a phase skipped before it started among them)
/// move freely. A phase moved ahead of one whose gate passed with conditions would escape
/// them, and a phase not started moved ahead of the running one could start beside it.
pub fn check_reorder(order: &[(Uuid, bool)], started_order: &[Uuid]) -> Result<(), Refusal> {
    let started: Vec<Uuid> = order
        .iter()
        .filter(|(_, started)| *started)
        .map(|(id, _)| *id)
        .collect();
    let first_not_started = order
        .iter()
        .position(|(_, started)| !*started)
        .unwrap_or(order.len());
    if started.len() > first_not_started || started != started_order {
        return Err(Refusal::precondition(
            &["phaseIds"],
            "phases that have started keep their order, before every phase that has not; only phases not started yet move",
        ));
    }
    Ok(())
}

/// Whether a phase has started: it runs, awaits its gate, or is past it. A phase skipped
/// before it ever started has not.
pub fn has_started(status: PhaseStatus, started_on: Option<chrono::NaiveDate>) -> bool {
    match status {
        PhaseStatus::NotStarted => false,
        PhaseStatus::Skipped => started_on.is_some(),
        PhaseStatus::InProgress | PhaseStatus::AwaitingGateReview | PhaseStatus::Completed => true,
    }
}

/// Every item that keeps the phase from its gate; empty when it may be requested.
pub fn open_items(facts: &GateFacts) -> Vec<OpenItem> {
    let criteria = facts
        .criteria
        .iter()
        .filter(|(_, _, status)| !matches!(status.as_str(), "MET" | "WAIVED"))
        .map(|(id, text, _)| OpenItem::CriterionNotMet {
            id: *id,
            text: text.clone(),
        });
    let deliverables = facts
        .deliverables
        .iter()
        .filter(|(_, _, status)| status != "APPROVED")
        .map(|(id, name, status)| OpenItem::DeliverableNotApproved {
            id: *id,
            name: name.clone(),
            status: status.clone(),
        });
    let milestones = facts
        .milestones
        .iter()
        .filter(|(_, _, status)| status != "ACHIEVED")
        .map(|(id, name, status)| OpenItem::MilestoneNotAchieved {
            id: *id,
            name: name.clone(),
            status: status.clone(),
        });
    let conditions = facts
        .open_conditions
        .iter()
        .map(|(id, text)| OpenItem::ConditionOpen {
            id: *id,
            text: text.clone(),
        });
    let raci =
        facts
            .raci_violations
            .iter()
            .map(|(id, activity, problem)| OpenItem::RaciViolation {
                id: *id,
                activity: activity.clone(),
                problem: problem.clone(),
            });
    criteria
        .chain(deliverables)
        .chain(milestones)
        .chain(conditions)
        .chain(raci)
        .collect()
}

/// Exit criterion states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CriterionStatus {
    NotMet,
    Met,
    Waived,
}

impl CriterionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotMet => "NOT_MET",
            Self::Met => "MET",
            Self::Waived => "WAIVED",
        }
    }
}

impl FromStr for CriterionStatus {
    type Err = UnknownCode;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        [Self::NotMet, Self::Met, Self::Waived]
            .into_iter()
            .find(|s| s.as_str() == code)
            .ok_or_else(|| UnknownCode(code.to_owned()))
    }
}

/// Deliverable states: DRAFT → IN_REVIEW → APPROVED; IN_REVIEW → DRAFT when sent back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliverableStatus {
    Draft,
    InReview,
    Approved,
}

impl DeliverableStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::InReview => "IN_REVIEW",
            Self::Approved => "APPROVED",
        }
    }

    /// Whether a deliverable may move from `self` to `to`.
    pub fn may_become(self, to: DeliverableStatus) -> bool {
        matches!(
            (self, to),
            (Self::Draft, Self::InReview)
                | (Self::InReview, Self::Approved)
                | (Self::InReview, Self::Draft)
        )
    }
}

impl FromStr for DeliverableStatus {
    type Err = UnknownCode;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        [Self::Draft, Self::InReview, Self::Approved]
            .into_iter()
            .find(|s| s.as_str() == code)
            .ok_or_else(|| UnknownCode(code.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RefusalCode;

    #[test]
    fn every_status_and_command_pair_follows_the_table() {
        use DecisionChoice as D;
        use PhaseCommand as C;
        use PhaseStatus as S;
        let commands = [
            C::Start,
            C::RequestGate,
            C::DecideGate(D::Go),
            C::DecideGate(D::NoGo),
            C::DecideGate(D::GoWithConditions),
            C::DecideGate(D::Approve),
            C::DecideGate(D::Reject),
            C::GateDeadlocked,
            C::Skip,
        ];
        let expected = |from: S, command: C| match (from, command) {
            (S::NotStarted, C::Start) => Some(S::InProgress),
            (S::InProgress, C::RequestGate) => Some(S::AwaitingGateReview),
            (S::AwaitingGateReview, C::DecideGate(D::Go) | C::DecideGate(D::GoWithConditions)) => {
                Some(S::Completed)
            }
            (S::AwaitingGateReview, C::DecideGate(D::NoGo) | C::GateDeadlocked) => {
                Some(S::InProgress)
            }
            (S::NotStarted | S::InProgress, C::Skip) => Some(S::Skipped),
            _ => None,
        };
        for from in PhaseStatus::ALL {
            for command in commands {
                assert_eq!(
                    target(from, command),
                    expected(from, command),
                    "{from} {command:?}"
                );
                match transition(from, command) {
                    Ok(to) => assert_eq!(Some(to), expected(from, command)),
                    Err(refusal) => {
                        assert_eq!(refusal.code, RefusalCode::InvalidTransition);
                        assert_eq!(refusal.current_state.as_deref(), Some(from.as_str()));
                    }
                }
            }
        }
    }

    #[test]
    fn a_gate_lists_every_open_item_at_once() {
        let id = Uuid::now_v7;
        let facts = GateFacts {
            criteria: vec![
                (id(), "Requirements signed".into(), "NOT_MET".into()),
                (id(), "Budget approved".into(), "WAIVED".into()),
                (id(), "Team staffed".into(), "MET".into()),
            ],
            deliverables: vec![
                (id(), "Spec".into(), "IN_REVIEW".into()),
                (id(), "Plan".into(), "APPROVED".into()),
            ],
            milestones: vec![
                (id(), "Kick-off".into(), "ACHIEVED".into()),
                (id(), "Sign-off".into(), "MISSED".into()),
            ],
            open_conditions: vec![(id(), "Hire a data owner".into())],
            raci_violations: vec![(
                id(),
                "Data migration".into(),
                "no one is accountable".into(),
            )],
        };
        let items = open_items(&facts);
        assert_eq!(items.len(), 5, "{items:?}");
        assert!(matches!(items[0], OpenItem::CriterionNotMet { .. }));
        assert!(matches!(items[1], OpenItem::DeliverableNotApproved { .. }));
        assert!(matches!(items[2], OpenItem::MilestoneNotAchieved { .. }));
        assert!(matches!(items[3], OpenItem::ConditionOpen { .. }));
        assert!(matches!(items[4], OpenItem::RaciViolation { .. }));
        assert!(open_items(&GateFacts::default()).is_empty());
    }

    #[test]
    fn deliverables_go_through_review() {
        use DeliverableStatus as D;
        assert!(D::Draft.may_become(D::InReview));
        assert!(D::InReview.may_become(D::Approved));
        assert!(D::InReview.may_become(D::Draft));
        assert!(!D::Draft.may_become(D::Approved));
        assert!(!D::Approved.may_become(D::Draft));
    }

    #[test]
    fn only_phases_not_started_move_and_none_ahead_of_one_that_has() {
        let id = Uuid::from_u128;
        let (done, running, next, last, skipped) = (id(1), id(2), id(3), id(4), id(5));
        let order = |ids: &[Uuid]| -> Vec<(Uuid, bool)> {
            ids.iter()
                .map(|&phase| (phase, phase == done || phase == running))
                .collect()
        };
        let started = [done, running];
        for allowed in [
            [done, running, next, last, skipped],
            [done, running, last, skipped, next],
            [done, running, skipped, next, last],
        ] {
            assert_eq!(check_reorder(&order(&allowed), &started), Ok(()));
        }
        for refused in [
            [running, done, next, last, skipped],
            [done, next, running, last, skipped],
            [skipped, done, running, next, last],
        ] {
            let refusal = check_reorder(&order(&refused), &started).unwrap_err();
            assert_eq!(refusal.field, ["phaseIds"]);
        }
    }

    #[test]
    fn a_phase_skipped_before_it_started_has_not_started() {
        use PhaseStatus as S;
        let at = chrono::NaiveDate::from_ymd_opt(2027, 3, 1);
        assert!(!has_started(S::NotStarted, None));
        assert!(!has_started(S::Skipped, None));
        assert!(has_started(S::Skipped, at));
        for started in [S::InProgress, S::AwaitingGateReview, S::Completed] {
            assert!(has_started(started, at));
        }
    }
}

#[cfg(test)]
mod properties {
    //! Arbitrary command sequences driven through the phase lifecycle, alone and as a project's
    //! ordered list of phases, with the lifecycle's invariants checked after every step.

    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;

    use PhaseStatus as S;

    /// The lifecycle of the module diagram, written out independently of `target`.
    fn expected_target(from: PhaseStatus, command: PhaseCommand) -> Option<PhaseStatus> {
        use DecisionChoice as D;
        use PhaseCommand as C;
        match (from, command) {
            (S::NotStarted, C::Start) => Some(S::InProgress),
            (S::InProgress, C::RequestGate) => Some(S::AwaitingGateReview),
            (S::AwaitingGateReview, C::DecideGate(D::Go | D::GoWithConditions)) => {
                Some(S::Completed)
            }
            (S::AwaitingGateReview, C::DecideGate(D::NoGo) | C::GateDeadlocked) => {
                Some(S::InProgress)
            }
            (S::NotStarted | S::InProgress, C::Skip) => Some(S::Skipped),
            _ => None,
        }
    }

    fn decision_choice() -> impl Strategy<Value = DecisionChoice> {
        prop::sample::select(DecisionChoice::ALL.to_vec())
    }

    /// Every command, gate decisions with any choice a ballot may carry. Skipping is rarer, so
    /// that sequences also reach the gate.
    fn command() -> impl Strategy<Value = PhaseCommand> {
        prop_oneof![
            3 => Just(PhaseCommand::Start),
            3 => Just(PhaseCommand::RequestGate),
            3 => decision_choice().prop_map(PhaseCommand::DecideGate),
            3 => Just(PhaseCommand::GateDeadlocked),
            1 => Just(PhaseCommand::Skip),
        ]
    }

    fn commands() -> impl Strategy<Value = Vec<PhaseCommand>> {
        prop::collection::vec(command(), 0..40)
    }

    /// Each command applied to one phase from NOT_STARTED: (before, command, outcome).
    fn replay(
        commands: &[PhaseCommand],
    ) -> Vec<(PhaseStatus, PhaseCommand, Result<PhaseStatus, Refusal>)> {
        let mut status = S::NotStarted;
        commands
            .iter()
            .map(|&command| {
                let before = status;
                let outcome = transition(before, command);
                if let Ok(after) = outcome {
                    status = after;
                }
                (before, command, outcome)
            })
            .collect()
    }

    /// The commands people send; gate outcomes come from the committee's ballot.
    const USER_COMMANDS: [PhaseCommand; 3] = [
        PhaseCommand::Start,
        PhaseCommand::RequestGate,
        PhaseCommand::Skip,
    ];

    fn is_active(status: PhaseStatus) -> bool {
        matches!(status, S::InProgress | S::AwaitingGateReview)
    }

    /// A command aimed at one phase of the project's ordered list.
    fn plan_steps() -> impl Strategy<Value = (usize, Vec<(Index, PhaseCommand)>)> {
        (
            1_usize..=5,
            prop::collection::vec((any::<Index>(), command()), 0..40),
        )
    }

    /// Drives a project's phases as the service does: a phase starts only when every earlier
    /// phase is closed (`is_closed`), every other command goes straight to the lifecycle.
    /// Returns the statuses of all phases after each step.
    fn replay_plan(phase_count: usize, steps: &[(Index, PhaseCommand)]) -> Vec<Vec<PhaseStatus>> {
        let mut phases = vec![S::NotStarted; phase_count];
        let mut history = Vec::with_capacity(steps.len());
        for (index, command) in steps {
            let at = index.index(phase_count);
            let earlier_closed = phases[..at].iter().all(|status| status.is_closed());
            let may_try = *command != PhaseCommand::Start || earlier_closed;
            if may_try && let Ok(after) = transition(phases[at], *command) {
                phases[at] = after;
            }
            history.push(phases.clone());
        }
        history
    }

    /// A status code as stored: the ones each rule looks for, their neighbours, and junk.
    fn status_code() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "MET",
            "WAIVED",
            "NOT_MET",
            "APPROVED",
            "IN_REVIEW",
            "DRAFT",
            "ACHIEVED",
            "MISSED",
            "PLANNED",
            "met",
            "",
        ])
        .prop_map(str::to_owned)
    }

    fn entries() -> impl Strategy<Value = Vec<(Uuid, String, String)>> {
        prop::collection::vec(
            (any::<u128>().prop_map(Uuid::from_u128), status_code()),
            0..6,
        )
        .prop_map(|entries| {
            entries
                .into_iter()
                .map(|(id, status)| (id, format!("entry {id}"), status))
                .collect()
        })
    }

    /// The ids of the entries whose status is none of `closed`, in order.
    fn not_in(entries: &[(Uuid, String, String)], closed: &[&str]) -> Vec<Uuid> {
        entries
            .iter()
            .filter(|(_, _, status)| !closed.contains(&status.as_str()))
            .map(|(id, _, _)| *id)
            .collect()
    }

    fn gate_facts() -> impl Strategy<Value = GateFacts> {
        let ids = || prop::collection::vec(any::<u128>().prop_map(Uuid::from_u128), 0..3);
        (entries(), entries(), entries(), ids(), ids()).prop_map(
            |(criteria, deliverables, milestones, conditions, violations)| GateFacts {
                criteria,
                deliverables,
                milestones,
                open_conditions: conditions
                    .into_iter()
                    .map(|id| (id, "condition".to_owned()))
                    .collect(),
                raci_violations: violations
                    .into_iter()
                    .map(|id| {
                        (
                            id,
                            "activity".to_owned(),
                            "no one is accountable".to_owned(),
                        )
                    })
                    .collect(),
            },
        )
    }

    fn deliverable_status() -> impl Strategy<Value = DeliverableStatus> {
        prop::sample::select(vec![
            DeliverableStatus::Draft,
            DeliverableStatus::InReview,
            DeliverableStatus::Approved,
        ])
    }

    proptest! {
        /// Every accepted command follows an edge of the lifecycle table and every other one is
        /// refused as an invalid transition naming the current state; the commands a refusal
        /// offers instead are all accepted from that state. COMPLETED and SKIPPED accept none.
        #[test]
        fn accepted_commands_follow_the_lifecycle_table(commands in commands()) {
            for (before, command, outcome) in replay(&commands) {
                let expected = expected_target(before, command);
                match outcome {
                    Ok(after) => prop_assert_eq!(Some(after), expected),
                    Err(refusal) => {
                        prop_assert_eq!(expected, None, "{} {:?}", before, command);
                        prop_assert_eq!(refusal.current_state.as_deref(), Some(before.as_str()));
                        for offered in &refusal.allowed_actions {
                            let accepted = USER_COMMANDS.into_iter().any(|c| {
                                c.name() == offered && expected_target(before, c).is_some()
                            });
                            prop_assert!(accepted, "{} offers {}", before, offered);
                        }
                    }
                }
                if before.is_closed() {
                    prop_assert_eq!(expected_target(before, command), None);
                }
            }
        }

        /// A phase is completed only by passing its gate: the step into COMPLETED is always a
        /// GO or GO_WITH_CONDITIONS from AWAITING_GATE_REVIEW, and a gate that is not passed
        /// (NO_GO, deadlock) sends the phase back to work rather than closing it. A gate review
        /// cannot be dodged by skipping the phase while it is under review either.
        #[test]
        fn a_phase_completes_only_through_a_passed_gate(commands in commands()) {
            for (before, command, outcome) in replay(&commands) {
                let Ok(after) = outcome else { continue };
                let passed = matches!(
                    command,
                    PhaseCommand::DecideGate(DecisionChoice::Go | DecisionChoice::GoWithConditions)
                );
                let not_passed = matches!(
                    command,
                    PhaseCommand::DecideGate(DecisionChoice::NoGo) | PhaseCommand::GateDeadlocked
                );
                if after == S::Completed {
                    prop_assert_eq!(before, S::AwaitingGateReview);
                    prop_assert!(passed);
                }
                if not_passed {
                    prop_assert_eq!(after, S::InProgress);
                }
                if after == S::Skipped {
                    prop_assert_ne!(before, S::AwaitingGateReview);
                }
            }
        }

        /// Phases are worked in order: whenever a phase has been started (in progress, at its
        /// gate or completed), every earlier phase is completed or skipped, so at most one phase
        /// is under way at a time. This is what `is_closed` guards when a phase starts.
        #[test]
        fn phases_are_passed_in_order((phase_count, steps) in plan_steps()) {
            for phases in replay_plan(phase_count, &steps) {
                for (at, status) in phases.iter().enumerate() {
                    if is_active(*status) || *status == S::Completed {
                        prop_assert!(
                            phases[..at].iter().all(|earlier| earlier.is_closed()),
                            "{:?}", phases
                        );
                    }
                }
                prop_assert!(phases.iter().filter(|status| is_active(**status)).count() <= 1);
            }
        }

        /// The gate may be requested only when nothing is open: `open_items` is empty exactly
        /// when every criterion is MET or WAIVED, every deliverable APPROVED, every milestone
        /// ACHIEVED and no condition or RACI violation remains, and otherwise it names each
        /// open entry once, by its id, so the refusal lists every one at once.
        #[test]
        fn the_gate_opens_only_when_every_item_is_closed(facts in gate_facts()) {
            let mut expected_open = not_in(&facts.criteria, &["MET", "WAIVED"]);
            expected_open.extend(not_in(&facts.deliverables, &["APPROVED"]));
            expected_open.extend(not_in(&facts.milestones, &["ACHIEVED"]));
            expected_open.extend(facts.open_conditions.iter().map(|(id, _)| *id));
            expected_open.extend(facts.raci_violations.iter().map(|(id, _, _)| *id));
            let open: Vec<Uuid> = open_items(&facts).iter().map(OpenItem::id).collect();
            prop_assert_eq!(open, expected_open);
        }

        /// A deliverable is approved only after review, and an approved one stays approved:
        /// arbitrary moves from DRAFT never reach APPROVED without passing IN_REVIEW, and
        /// nothing leaves APPROVED.
        #[test]
        fn deliverables_are_approved_only_through_review(
            targets in prop::collection::vec(deliverable_status(), 0..40)
        ) {
            let mut status = DeliverableStatus::Draft;
            for to in targets {
                let allowed = status.may_become(to);
                if status == DeliverableStatus::Approved {
                    prop_assert!(!allowed);
                }
                if allowed {
                    if to == DeliverableStatus::Approved {
                        prop_assert_eq!(status, DeliverableStatus::InReview);
                    }
                    prop_assert_ne!(status, to);
                    status = to;
                }
            }
        }
    }
}
