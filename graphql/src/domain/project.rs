//! Projects: identity values and the project lifecycle (DOMAIN §12.1).
//!
//! ```text
//! PROPOSED ─initiate─▶ INITIATED ─startExecution─▶ IN_EXECUTION ─goLive─▶ LIVE_HYPERCARE
//!     ─startOptimization─▶ OPTIMIZATION ─close─▶ CLOSED
//! any open state ─hold─▶ ON_HOLD ─resume─▶ the state it was held in
//! any open state or ON_HOLD ─cancel─▶ CANCELLED
//! ```

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use thiserror::Error;

use super::error::Refusal;
use super::event::DomainEvent;
use super::text::{TextError, required_multi_line, single_line};

/// A project's short unique code, such as `CRM-2027`: upper-case letters, digits and dashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectCode(String);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("must be 2 to 32 characters: a letter, then letters, digits or dashes (e.g. CRM-2027)")]
pub struct ProjectCodeError;

impl ProjectCode {
    /// Upper-cases the input, then checks its shape.
    pub fn parse(raw: &str) -> Result<Self, ProjectCodeError> {
        let code = raw.trim().to_ascii_uppercase();
        let mut chars = code.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_uppercase());
        let rest_ok = chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
        if starts_with_letter && rest_ok && (2..=32).contains(&code.len()) && !code.ends_with('-') {
            Ok(Self(code))
        } else {
            Err(ProjectCodeError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A project's name: one line, 1 to 200 characters.
pub fn parse_name(raw: &str) -> Result<String, TextError> {
    single_line(raw, 200)
}

/// A project's description: up to 10,000 characters, may be empty.
pub fn parse_description(raw: &str) -> Result<String, TextError> {
    super::text::multi_line(raw, 10_000)
}

/// A reason given for holding or cancelling: required, up to 2,000 characters.
pub fn parse_reason(raw: &str) -> Result<String, TextError> {
    required_multi_line(raw, 2_000)
}

/// An IANA time zone name such as `Europe/Berlin` or `Asia/Shanghai`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(chrono_tz::Tz);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("must be an IANA time zone name such as Europe/Berlin or Asia/Shanghai")]
pub struct TimeZoneError;

impl TimeZone {
    pub fn parse(raw: &str) -> Result<Self, TimeZoneError> {
        raw.trim()
            .parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| TimeZoneError)
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }
}

/// The planned start must not come after the target go-live.
pub fn check_schedule(
    planned_start: Option<NaiveDate>,
    target_go_live: Option<NaiveDate>,
) -> Result<(), Refusal> {
    match (planned_start, target_go_live) {
        (Some(start), Some(go_live)) if go_live < start => Err(Refusal::bad_input(
            &["targetGoLive"],
            format!("the target go-live {go_live} is before the planned start {start}"),
        )),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

impl ProjectStatus {
    pub const ALL: [ProjectStatus; 8] = [
        Self::Proposed,
        Self::Initiated,
        Self::InExecution,
        Self::LiveHypercare,
        Self::Optimization,
        Self::Closed,
        Self::OnHold,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Proposed => "PROPOSED",
            Self::Initiated => "INITIATED",
            Self::InExecution => "IN_EXECUTION",
            Self::LiveHypercare => "LIVE_HYPERCARE",
            Self::Optimization => "OPTIMIZATION",
            Self::Closed => "CLOSED",
            Self::OnHold => "ON_HOLD",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// Closed and cancelled projects are read-only.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Closed | Self::Cancelled)
    }

    /// The states a project can be put on hold from (and resumed to).
    fn can_be_held(self) -> bool {
        matches!(
            self,
            Self::Proposed
                | Self::Initiated
                | Self::InExecution
                | Self::LiveHypercare
                | Self::Optimization
        )
    }
}

impl fmt::Display for ProjectStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown project status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for ProjectStatus {
    type Err = UnknownStatus;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == code)
            .ok_or_else(|| UnknownStatus(code.to_owned()))
    }
}

/// The commands of the project lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProjectAction {
    Initiate,
    StartExecution,
    GoLive,
    StartOptimization,
    Close,
    Hold,
    Resume,
    Cancel,
}

impl ProjectAction {
    pub const ALL: [ProjectAction; 8] = [
        Self::Initiate,
        Self::StartExecution,
        Self::GoLive,
        Self::StartOptimization,
        Self::Close,
        Self::Hold,
        Self::Resume,
        Self::Cancel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initiate => "INITIATE",
            Self::StartExecution => "START_EXECUTION",
            Self::GoLive => "GO_LIVE",
            Self::StartOptimization => "START_OPTIMIZATION",
            Self::Close => "CLOSE",
            Self::Hold => "HOLD",
            Self::Resume => "RESUME",
            Self::Cancel => "CANCEL",
        }
    }

    /// Holding and cancelling need a reason; the others take none.
    pub fn needs_reason(self) -> bool {
        matches!(self, Self::Hold | Self::Cancel)
    }
}

/// What the lifecycle needs to know about the project beyond its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectSnapshot {
    pub status: ProjectStatus,
    /// Set while `ON_HOLD`: where `RESUME` returns to.
    pub held_from: Option<ProjectStatus>,
    pub has_sponsor: bool,
    pub has_project_manager: bool,
    /// Whether the plan holds at least one milestone.
    pub has_milestones: bool,
}

/// The outcome of an accepted transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectTransition {
    pub status: ProjectStatus,
    pub held_from: Option<ProjectStatus>,
    pub reason: Option<String>,
    pub events: Vec<DomainEvent>,
}

/// The target of `action` from `from`, or `None` when the lifecycle has no such edge.
fn target(
    from: ProjectStatus,
    held_from: Option<ProjectStatus>,
    action: ProjectAction,
) -> Option<ProjectStatus> {
    use ProjectAction as A;
    use ProjectStatus as S;
    match (from, action) {
        (S::Proposed, A::Initiate) => Some(S::Initiated),
        (S::Initiated, A::StartExecution) => Some(S::InExecution),
        (S::InExecution, A::GoLive) => Some(S::LiveHypercare),
        (S::LiveHypercare, A::StartOptimization) => Some(S::Optimization),
        (S::Optimization, A::Close) => Some(S::Closed),
        (s, A::Hold) if s.can_be_held() => Some(S::OnHold),
        (S::OnHold, A::Resume) => held_from.filter(|s| s.can_be_held()),
        (s, A::Cancel) if s.can_be_held() || s == S::OnHold => Some(S::Cancelled),
        (
            S::Proposed
            | S::Initiated
            | S::InExecution
            | S::LiveHypercare
            | S::Optimization
            | S::Closed
            | S::OnHold
            | S::Cancelled,
            A::Initiate
            | A::StartExecution
            | A::GoLive
            | A::StartOptimization
            | A::Close
            | A::Hold
            | A::Resume
            | A::Cancel,
        ) => None,
    }
}

/// The actions the lifecycle allows from a state, whatever the guards say.
pub fn allowed_actions(
    from: ProjectStatus,
    held_from: Option<ProjectStatus>,
) -> Vec<ProjectAction> {
    ProjectAction::ALL
        .into_iter()
        .filter(|action| target(from, held_from, *action).is_some())
        .collect()
}

/// Decides a lifecycle command: the new state and its events, or every reason it is refused.
pub fn decide(
    project: &ProjectSnapshot,
    action: ProjectAction,
    reason: Option<&str>,
) -> Result<ProjectTransition, Vec<Refusal>> {
    let Some(to) = target(project.status, project.held_from, action) else {
        return Err(vec![Refusal::invalid_transition(
            &["action"],
            project.status.as_str(),
            action.as_str(),
            allowed_actions(project.status, project.held_from)
                .into_iter()
                .map(|a| a.as_str().to_owned()),
        )]);
    };

    let mut refusals = Vec::new();
    let reason = match (action.needs_reason(), reason) {
        (true, Some(raw)) => match parse_reason(raw) {
            Ok(reason) => Some(reason),
            Err(error) => {
                refusals.push(Refusal::bad_input(&["reason"], format!("reason {error}")));
                None
            }
        },
        (true, None) => {
            refusals.push(Refusal::bad_input(
                &["reason"],
                format!("{} needs a reason", action.as_str()),
            ));
            None
        }
        (false, Some(raw)) if !raw.trim().is_empty() => {
            Some(super::text::multi_line(raw, 2_000).map_err(|error| {
                vec![Refusal::bad_input(&["reason"], format!("reason {error}"))]
            })?)
        }
        (false, _) => None,
    };
    if action == ProjectAction::Initiate {
        if !project.has_sponsor {
            refusals.push(Refusal::precondition(
                &["action"],
                "initiation needs a member with the SPONSOR role",
            ));
        }
        if !project.has_project_manager {
            refusals.push(Refusal::precondition(
                &["action"],
                "initiation needs a member with the PROJECT_MANAGER role",
            ));
        }
    }
    if action == ProjectAction::StartExecution && !project.has_project_manager {
        refusals.push(Refusal::precondition(
            &["action"],
            "execution needs a member with the PROJECT_MANAGER role",
        ));
    }
    if action == ProjectAction::StartExecution && !project.has_milestones {
        refusals.push(Refusal::precondition(
            &["action"],
            "execution needs a plan with at least one milestone",
        ));
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }

    let held_from = (to == ProjectStatus::OnHold).then_some(project.status);
    Ok(ProjectTransition {
        status: to,
        held_from,
        reason: reason.clone(),
        events: vec![DomainEvent::ProjectStatusChanged {
            from: project.status,
            to,
            reason,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RefusalCode;

    fn snapshot(status: ProjectStatus) -> ProjectSnapshot {
        ProjectSnapshot {
            status,
            held_from: (status == ProjectStatus::OnHold).then_some(ProjectStatus::InExecution),
            has_sponsor: true,
            has_project_manager: true,
            has_milestones: true,
        }
    }

    /// The whole lifecycle as a table: every (status, action) pair and its expected target.
    #[test]
    fn every_status_and_action_pair_follows_the_table() {
        use ProjectAction as A;
        use ProjectStatus as S;
        let expected = |from: S, action: A| -> Option<S> {
            match (from, action) {
                (S::Proposed, A::Initiate) => Some(S::Initiated),
                (S::Initiated, A::StartExecution) => Some(S::InExecution),
                (S::InExecution, A::GoLive) => Some(S::LiveHypercare),
                (S::LiveHypercare, A::StartOptimization) => Some(S::Optimization),
                (S::Optimization, A::Close) => Some(S::Closed),
                (
                    S::Proposed
                    | S::Initiated
                    | S::InExecution
                    | S::LiveHypercare
                    | S::Optimization,
                    A::Hold,
                ) => Some(S::OnHold),
                (S::OnHold, A::Resume) => Some(S::InExecution),
                (
                    S::Proposed
                    | S::Initiated
                    | S::InExecution
                    | S::LiveHypercare
                    | S::Optimization
                    | S::OnHold,
                    A::Cancel,
                ) => Some(S::Cancelled),
                _ => None,
            }
        };
        for from in ProjectStatus::ALL {
            for action in ProjectAction::ALL {
                let reason = action.needs_reason().then_some("budget review");
                let outcome = decide(&snapshot(from), action, reason);
                match expected(from, action) {
                    Some(to) => {
                        let transition =
                            outcome.unwrap_or_else(|e| panic!("{from} {action:?}: {e:?}"));
                        assert_eq!(transition.status, to, "{from} {action:?}");
                        assert_eq!(
                            transition.events,
                            vec![DomainEvent::ProjectStatusChanged {
                                from,
                                to,
                                reason: reason.map(str::to_owned)
                            }]
                        );
                    }
                    None => {
                        let refusals = outcome.expect_err("must be refused");
                        assert_eq!(refusals.len(), 1);
                        assert_eq!(
                            refusals[0].code,
                            RefusalCode::InvalidTransition,
                            "{from} {action:?}"
                        );
                        assert_eq!(refusals[0].current_state.as_deref(), Some(from.as_str()));
                        assert!(
                            !refusals[0]
                                .allowed_actions
                                .contains(&action.as_str().to_owned())
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn hold_remembers_the_state_and_resume_returns_to_it() {
        let held = decide(
            &snapshot(ProjectStatus::Initiated),
            ProjectAction::Hold,
            Some("funding"),
        )
        .unwrap();
        assert_eq!(held.status, ProjectStatus::OnHold);
        assert_eq!(held.held_from, Some(ProjectStatus::Initiated));
        let on_hold = ProjectSnapshot {
            status: ProjectStatus::OnHold,
            held_from: held.held_from,
            ..snapshot(ProjectStatus::OnHold)
        };
        let resumed = decide(&on_hold, ProjectAction::Resume, None).unwrap();
        assert_eq!(resumed.status, ProjectStatus::Initiated);
        assert_eq!(resumed.held_from, None);
    }

    #[test]
    fn initiation_lists_every_missing_role_at_once() {
        let bare = ProjectSnapshot {
            has_sponsor: false,
            has_project_manager: false,
            ..snapshot(ProjectStatus::Proposed)
        };
        let refusals = decide(&bare, ProjectAction::Initiate, None).unwrap_err();
        assert_eq!(refusals.len(), 2);
        assert!(
            refusals
                .iter()
                .all(|r| r.code == RefusalCode::PreconditionFailed)
        );
    }

    #[test]
    fn execution_needs_a_plan_with_milestones() {
        let empty = ProjectSnapshot {
            has_milestones: false,
            ..snapshot(ProjectStatus::Initiated)
        };
        let refusals = decide(&empty, ProjectAction::StartExecution, None).unwrap_err();
        assert_eq!(refusals.len(), 1);
        assert_eq!(refusals[0].code, RefusalCode::PreconditionFailed);
    }

    #[test]
    fn hold_and_cancel_need_a_reason() {
        for action in [ProjectAction::Hold, ProjectAction::Cancel] {
            for reason in [None, Some("   ")] {
                let refusals =
                    decide(&snapshot(ProjectStatus::InExecution), action, reason).unwrap_err();
                assert_eq!(refusals[0].code, RefusalCode::BadUserInput);
                assert_eq!(refusals[0].field, vec!["reason"]);
            }
        }
    }

    #[test]
    fn project_codes_are_normalised_and_checked() {
        assert_eq!(
            ProjectCode::parse(" crm-2027 ").unwrap().as_str(),
            "CRM-2027"
        );
        for bad in [
            "",
            "C",
            "1CRM",
            "CRM 2027",
            "CRM_2027",
            "CRM-",
            &"C".repeat(33),
        ] {
            assert_eq!(ProjectCode::parse(bad), Err(ProjectCodeError), "{bad:?}");
        }
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(
            TimeZone::parse("Asia/Shanghai").unwrap().name(),
            "Asia/Shanghai"
        );
        assert!(TimeZone::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn go_live_cannot_precede_the_start() {
        let day = |d| NaiveDate::from_ymd_opt(2027, 1, d).unwrap();
        assert!(check_schedule(Some(day(2)), Some(day(1))).is_err());
        assert!(check_schedule(Some(day(1)), Some(day(1))).is_ok());
        assert!(check_schedule(None, Some(day(1))).is_ok());
    }
}
