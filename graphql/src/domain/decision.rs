//! What committees decide on, and the choices each kind of decision offers. The counting
//! itself is [`super::committee`].

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// What a ballot is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecisionSubject {
    /// Pass a phase's gate: GO, NO_GO or GO_WITH_CONDITIONS.
    PhaseGate,
    /// Skip a phase that has not completed.
    PhaseSkip,
    /// Take the current forecasts as a new schedule baseline.
    ScheduleRebaseline,
    /// Approve or reject a change request above the red line.
    ChangeRequest,
    /// GO or NO_GO for a go-live plan, on the frozen evaluation of its criteria.
    GoLive,
}

impl DecisionSubject {
    pub const ALL: [DecisionSubject; 5] = [
        Self::PhaseGate,
        Self::PhaseSkip,
        Self::ScheduleRebaseline,
        Self::ChangeRequest,
        Self::GoLive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PhaseGate => "PHASE_GATE",
            Self::PhaseSkip => "PHASE_SKIP",
            Self::ScheduleRebaseline => "SCHEDULE_REBASELINE",
            Self::ChangeRequest => "CHANGE_REQUEST",
            Self::GoLive => "GO_LIVE",
        }
    }

    /// The choices voters pick from (besides abstaining).
    pub fn choices(self) -> &'static [DecisionChoice] {
        match self {
            Self::PhaseGate => &[
                DecisionChoice::Go,
                DecisionChoice::NoGo,
                DecisionChoice::GoWithConditions,
            ],
            Self::GoLive => &[DecisionChoice::Go, DecisionChoice::NoGo],
            Self::PhaseSkip | Self::ScheduleRebaseline | Self::ChangeRequest => {
                &[DecisionChoice::Approve, DecisionChoice::Reject]
            }
        }
    }
}

impl FromStr for DecisionSubject {
    type Err = UnknownCode;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == code)
            .ok_or_else(|| UnknownCode(code.to_owned()))
    }
}

/// A choice on a ballot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DecisionChoice {
    Go,
    NoGo,
    GoWithConditions,
    Approve,
    Reject,
}

impl DecisionChoice {
    pub const ALL: [DecisionChoice; 5] = [
        Self::Go,
        Self::NoGo,
        Self::GoWithConditions,
        Self::Approve,
        Self::Reject,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Go => "GO",
            Self::NoGo => "NO_GO",
            Self::GoWithConditions => "GO_WITH_CONDITIONS",
            Self::Approve => "APPROVE",
            Self::Reject => "REJECT",
        }
    }

    /// Saying no must be explained.
    pub fn needs_comment(self) -> bool {
        matches!(self, Self::NoGo | Self::Reject)
    }
}

impl fmt::Display for DecisionChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DecisionChoice {
    type Err = UnknownCode;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == code)
            .ok_or_else(|| UnknownCode(code.to_owned()))
    }
}

/// What a GO_WITH_CONDITIONS condition lacks to be followed up, as (input field, message): an
/// owner, who answers for closing it, and a due date, by which it is closed. An open condition
/// blocks the next gate, so one without either would block it with nobody to chase.
pub fn condition_gaps(has_owner: bool, has_due_date: bool) -> Vec<(&'static str, &'static str)> {
    [
        (!has_owner).then_some(("ownerId", "a condition needs an owner, a project member")),
        (!has_due_date).then_some(("dueDate", "a condition needs a due date")),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown code {0:?}")]
pub struct UnknownCode(pub String);

/// Where a ballot stands, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecisionStatus {
    Open,
    Decided,
    Deadlocked,
    /// Replaced by a new round after a material edit; its votes no longer count.
    Superseded,
}

impl DecisionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::Decided => "DECIDED",
            Self::Deadlocked => "DEADLOCKED",
            Self::Superseded => "SUPERSEDED",
        }
    }
}

impl FromStr for DecisionStatus {
    type Err = UnknownCode;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        [
            Self::Open,
            Self::Decided,
            Self::Deadlocked,
            Self::Superseded,
        ]
        .into_iter()
        .find(|s| s.as_str() == code)
        .ok_or_else(|| UnknownCode(code.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for subject in DecisionSubject::ALL {
            assert_eq!(subject.as_str().parse::<DecisionSubject>(), Ok(subject));
            assert!(!subject.choices().is_empty());
        }
        for choice in DecisionChoice::ALL {
            assert_eq!(choice.as_str().parse::<DecisionChoice>(), Ok(choice));
        }
        assert!("MAYBE".parse::<DecisionChoice>().is_err());
    }

    #[test]
    fn a_condition_needs_an_owner_and_a_due_date() {
        let fields = |has_owner, has_due_date| -> Vec<&str> {
            condition_gaps(has_owner, has_due_date)
                .into_iter()
                .map(|(field, _)| field)
                .collect()
        };
        assert_eq!(fields(true, true), Vec::<&str>::new());
        assert_eq!(fields(false, true), ["ownerId"]);
        assert_eq!(fields(true, false), ["dueDate"]);
        assert_eq!(fields(false, false), ["ownerId", "dueDate"]);
    }

    #[test]
    fn saying_no_needs_a_comment() {
        assert!(DecisionChoice::NoGo.needs_comment());
        assert!(DecisionChoice::Reject.needs_comment());
        assert!(!DecisionChoice::Go.needs_comment());
        assert!(!DecisionChoice::GoWithConditions.needs_comment());
    }
}

#[cfg(test)]
mod properties {
    //! Ballots of every subject voted to their end with arbitrary votes among the subject's
    //! choices, checking that whatever the committee ends up with is something the subject's
    //! lifecycle can act on.

    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use uuid::Uuid;

    use super::super::change_request::{self, CrStatus};
    use super::super::committee::{Ballot, Tally, Vote, VotingRule};
    use super::super::go_live::{self, PlanAction, PlanStatus};
    use super::super::phase::{self, PhaseCommand, PhaseStatus};
    use super::*;

    const MAX_ELECTORATE: u32 = 7;

    fn subject() -> impl Strategy<Value = DecisionSubject> {
        prop::sample::select(DecisionSubject::ALL.to_vec())
    }

    fn rule(electorate: u32) -> impl Strategy<Value = VotingRule> {
        prop_oneof![
            Just(VotingRule::Unanimous),
            Just(VotingRule::Majority),
            Just(VotingRule::AnyOne),
            (1..=electorate).prop_map(VotingRule::Quorum),
        ]
    }

    /// A vote as the service takes it: one of the subject's choices, or an abstention.
    fn vote(subject: DecisionSubject) -> impl Strategy<Value = Vote<DecisionChoice>> {
        prop_oneof![
            prop::sample::select(subject.choices().to_vec()).prop_map(Vote::For),
            Just(Vote::Abstain),
        ]
    }

    /// A subject's ballot: its rule and one vote per eligible voter, cast in order.
    fn ballot() -> impl Strategy<Value = (DecisionSubject, VotingRule, Vec<Vote<DecisionChoice>>)> {
        (subject(), 1..=MAX_ELECTORATE).prop_flat_map(|(subject, electorate)| {
            let size = usize::try_from(electorate).expect("small electorate");
            (
                Just(subject),
                rule(electorate),
                prop::collection::vec(vote(subject), size),
            )
        })
    }

    /// Whether the subject's lifecycle accepts what the closed ballot calls for, applied the
    /// way each subject's decision is applied.
    fn lifecycle_accepts(subject: DecisionSubject, tally: &Tally<DecisionChoice>) -> bool {
        let outcome = match tally {
            Tally::Decided(choice) => Some(*choice),
            Tally::Deadlocked => None,
            Tally::Open => return false,
        };
        match subject {
            DecisionSubject::PhaseGate => {
                let command =
                    outcome.map_or(PhaseCommand::GateDeadlocked, PhaseCommand::DecideGate);
                phase::transition(PhaseStatus::AwaitingGateReview, command).is_ok()
            }
            // Only an approval skips; the phase may be waiting to start or running.
            DecisionSubject::PhaseSkip => match outcome {
                Some(DecisionChoice::Approve) => [PhaseStatus::NotStarted, PhaseStatus::InProgress]
                    .into_iter()
                    .all(|from| phase::transition(from, PhaseCommand::Skip).is_ok()),
                _ => true,
            },
            // A rebaseline has no lifecycle: APPROVE takes a baseline, anything else nothing.
            DecisionSubject::ScheduleRebaseline => true,
            DecisionSubject::GoLive => {
                let action = if outcome == Some(DecisionChoice::Go) {
                    PlanAction::DecideGo
                } else {
                    PlanAction::DecideNoGo
                };
                go_live::plan_transition(PlanStatus::ReadyForDecision, action).is_ok()
            }
            DecisionSubject::ChangeRequest => {
                change_request::outcome_action(tally).is_some_and(|action| {
                    change_request::transition(CrStatus::AwaitingDecision, action).is_ok()
                })
            }
        }
    }

    proptest! {
        /// Whatever a subject's ballot ends with is a choice of that subject, and the
        /// subject's lifecycle accepts it from the state it waits in: a decided or deadlocked
        /// ballot that its phase, go-live plan or change request refused would leave the
        /// decision taken but never applied.
        #[test]
        fn every_closed_ballot_can_be_applied_to_its_subject((subject, rule, votes) in ballot()) {
            let eligible: BTreeSet<Uuid> = (1..=votes.len())
                .map(|n| Uuid::from_u128(u128::try_from(n).expect("small")))
                .collect();
            let voters: Vec<Uuid> = eligible.iter().copied().collect();
            let mut ballot = Ballot::open(eligible, rule).expect("a valid ballot");
            for (voter, vote) in voters.into_iter().zip(votes) {
                if ballot.cast(voter, vote).is_err() {
                    break;
                }
            }
            let tally = ballot.tally();
            prop_assert_ne!(&tally, &Tally::Open, "everyone has voted");
            if let Tally::Decided(choice) = tally {
                prop_assert!(subject.choices().contains(&choice));
            }
            prop_assert!(lifecycle_accepts(subject, &tally), "{:?} {:?}", subject, tally);
        }
    }
}
