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
}
