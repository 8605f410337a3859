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
    fn saying_no_needs_a_comment() {
        assert!(DecisionChoice::NoGo.needs_comment());
        assert!(DecisionChoice::Reject.needs_comment());
        assert!(!DecisionChoice::Go.needs_comment());
        assert!(!DecisionChoice::GoWithConditions.needs_comment());
    }
}
