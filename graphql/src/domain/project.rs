//! Projects: identity values and the project lifecycle (DOMAIN §12.1).
//!
//! ```text
//! PROPOSED ─initiate─▶ INITIATED ─startExecution─▶ IN_EXECUTION ┄go-live plan┄▶ LIVE_HYPERCARE
//!     ┄go-live plan┄▶ OPTIMIZATION ─close─▶ CLOSED
//! any open state ─hold─▶ ON_HOLD ─resume─▶ the state it was held in
//! any open state or ON_HOLD ─cancel─▶ CANCELLED
//! ```
//!
//! Going live and leaving hypercare are not commands of the project: its go-live plan takes
//! it there (goLiveTransition GO_LIVE after the committee's GO and the cutover,
//! CLOSE_HYPERCARE once the hypercare metrics are on target; see [`super::go_live`]), so that
//! no project goes live without a Go decision executed (DOMAIN §12.1). `GO_LIVE` and
//! `START_OPTIMIZATION` stay in the API's enum, and are refused.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use thiserror::Error;

use super::error::Refusal;
use super::event::DomainEvent;
use super::money::Money;
use super::scope::Objective;
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

    /// Whether the project has gone live: in hypercare, or optimising after it.
    pub fn is_live(self) -> bool {
        matches!(self, Self::LiveHypercare | Self::Optimization)
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

    /// For the moves only the go-live plan makes, why the project refuses them and which
    /// command of the plan to send instead; `None` for the project's own commands.
    pub fn made_by_the_go_live_plan(self) -> Option<&'static str> {
        match self {
            Self::GoLive => Some(
                "a project goes live through its go-live plan: goLiveTransition GO_LIVE, once the committee's GO is executed (cutover done)",
            ),
            Self::StartOptimization => Some(
                "a project leaves hypercare through its go-live plan: goLiveTransition CLOSE_HYPERCARE, once the hypercare exit criteria are met",
            ),
            Self::Initiate
            | Self::StartExecution
            | Self::Close
            | Self::Hold
            | Self::Resume
            | Self::Cancel => None,
        }
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
    /// How far the plan has come toward what execution needs.
    pub plan: PlanReadiness,
    /// Whether a go-live plan of the project is LIVE: its hypercare is then the plan's to close.
    pub hypercare_held_by_a_plan: bool,
    /// How far the scope statement has come toward what initiation needs.
    pub scope: ScopeReadiness,
}

/// What the scope statement gives initiation (DOMAIN §12.1: the scope statement signed, and at
/// least one quantifiable objective with its baseline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeReadiness {
    /// No version has been signed off by all its signatories yet.
    Unsigned,
    /// The baseline names no objective with a KPI, a baseline and a target.
    NoMeasurableObjective,
    /// A signed baseline with at least one measurable objective.
    Ready,
}

impl ScopeReadiness {
    /// The readiness given the objectives of the scope baseline, if there is one.
    pub fn of_baseline(objectives: Option<&[Objective]>) -> Self {
        match objectives {
            None => Self::Unsigned,
            Some(objectives) if objectives.iter().any(Objective::is_measurable) => Self::Ready,
            Some(_) => Self::NoMeasurableObjective,
        }
    }
}

/// What the plan gives execution (DOMAIN §12.1: "plan with milestones & owners exists"; §12.3:
/// milestones get their owners at kick-off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanReadiness {
    NoMilestones,
    /// The names of the milestones no member of the project owns: none was named, or the one
    /// named has left the project since.
    Unowned(Vec<String>),
    /// At least one milestone, and a member owns each.
    Ready,
}

impl PlanReadiness {
    /// The readiness of a plan whose milestones are given by name, with whether a member of
    /// the project owns each.
    pub fn of_milestones<'a>(milestones: impl IntoIterator<Item = (&'a str, bool)>) -> Self {
        let mut any = false;
        let mut unowned = Vec::new();
        for (name, owned) in milestones {
            any = true;
            if !owned {
                unowned.push(name.to_owned());
            }
        }
        match (any, unowned.is_empty()) {
            (false, _) => Self::NoMilestones,
            (true, true) => Self::Ready,
            (true, false) => Self::Unowned(unowned),
        }
    }
}

/// The outcome of an accepted transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectTransition {
    pub status: ProjectStatus,
    pub held_from: Option<ProjectStatus>,
    pub reason: Option<String>,
    pub events: Vec<DomainEvent>,
}

/// Refuses an edit of the budget once it is baselined: after the first approved change with a
/// cost, the budget is the last cost baseline, and only approved change requests move it
/// (each one baseline further). `budget_before` and `budget_after` are the budget as stored
/// and as the edit leaves it; an edit that leaves it as it is passes.
pub fn check_budget_edit(
    baselined: bool,
    budget_before: Option<&Money>,
    budget_after: Option<&Money>,
) -> Result<(), Refusal> {
    if baselined && budget_before != budget_after {
        return Err(Refusal::precondition(
            &["budget"],
            "the budget is baselined since a change request with a cost was approved: only approved change requests move it",
        ));
    }
    Ok(())
}

/// The target of `action` from `from`, or `None` when the lifecycle has no such edge. GO_LIVE
/// and START_OPTIMIZATION have none: the go-live plan makes those moves.
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
    // A project taken live by its own GO_LIVE, before go-live plans made that move, has no plan
    // to close its hypercare: it leaves hypercare by its own command, or could never close.
    let left_without_a_plan = action == ProjectAction::StartOptimization
        && project.status == ProjectStatus::LiveHypercare
        && !project.hypercare_held_by_a_plan;
    // Refused with the way that does work, rather than as a transition the state happens not
    // to allow; a closed or cancelled project takes no command at all, and says so.
    if let Some(instead) = action.made_by_the_go_live_plan()
        && !project.status.is_terminal()
        && !left_without_a_plan
    {
        return Err(vec![Refusal::precondition(&["action"], instead)]);
    }
    let to = if left_without_a_plan {
        Some(ProjectStatus::Optimization)
    } else {
        target(project.status, project.held_from, action)
    };
    let Some(to) = to else {
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
        match project.scope {
            ScopeReadiness::Ready => {}
            ScopeReadiness::Unsigned => refusals.push(Refusal::precondition(
                &["action"],
                "initiation needs a scope statement signed off by its signatories (scopeSign)",
            )),
            ScopeReadiness::NoMeasurableObjective => refusals.push(Refusal::precondition(
                &["action"],
                "initiation needs an objective in the scope baseline with a KPI, its baseline \
                 and its target",
            )),
        }
    }
    if action == ProjectAction::StartExecution && !project.has_project_manager {
        refusals.push(Refusal::precondition(
            &["action"],
            "execution needs a member with the PROJECT_MANAGER role",
        ));
    }
    if action == ProjectAction::StartExecution {
        match &project.plan {
            PlanReadiness::Ready => {}
            PlanReadiness::NoMilestones => refusals.push(Refusal::precondition(
                &["action"],
                "execution needs a plan with at least one milestone",
            )),
            PlanReadiness::Unowned(names) => refusals.push(Refusal::precondition(
                &["action"],
                format!(
                    "execution needs an owner, a member of the project, for every milestone: \
                     {} {} none (milestoneUpdate ownerId)",
                    names
                        .iter()
                        .map(|name| format!("\"{name}\""))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if names.len() == 1 { "has" } else { "have" }
                ),
            )),
        }
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
            plan: PlanReadiness::Ready,
            hypercare_held_by_a_plan: true,
            scope: ScopeReadiness::Ready,
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
                    None if action.made_by_the_go_live_plan().is_some() && !from.is_terminal() => {
                        let refusals = outcome.expect_err("must be refused");
                        assert_eq!(refusals.len(), 1);
                        assert_eq!(
                            refusals[0].code,
                            RefusalCode::PreconditionFailed,
                            "{from} {action:?}"
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

    /// A project goes live and leaves hypercare only through its go-live plan (DOMAIN §12.1:
    /// "Go decision executed", "hypercare exit criteria met"): the project's own commands are
    /// refused from every open state, name the plan's command instead, and are never offered.
    #[test]
    fn going_live_and_leaving_hypercare_are_the_go_live_plans_moves() {
        for (action, plan_command) in [
            (ProjectAction::GoLive, "goLiveTransition GO_LIVE"),
            (
                ProjectAction::StartOptimization,
                "goLiveTransition CLOSE_HYPERCARE",
            ),
        ] {
            for from in ProjectStatus::ALL.into_iter().filter(|s| !s.is_terminal()) {
                let refusals = decide(&snapshot(from), action, None).unwrap_err();
                assert_eq!(refusals.len(), 1, "{from} {action:?}");
                assert_eq!(refusals[0].code, RefusalCode::PreconditionFailed);
                assert_eq!(refusals[0].field, vec!["action"]);
                assert!(
                    refusals[0].message.contains(plan_command),
                    "{}",
                    refusals[0].message
                );
                assert!(!allowed_actions(from, None).contains(&action), "{from}");
            }
        }
        assert_eq!(
            allowed_actions(ProjectStatus::InExecution, None),
            vec![ProjectAction::Hold, ProjectAction::Cancel]
        );
        assert_eq!(
            allowed_actions(ProjectStatus::LiveHypercare, None),
            vec![ProjectAction::Hold, ProjectAction::Cancel]
        );
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
    fn a_project_live_without_a_plan_leaves_hypercare_by_its_own_command() {
        let legacy = ProjectSnapshot {
            hypercare_held_by_a_plan: false,
            ..snapshot(ProjectStatus::LiveHypercare)
        };
        let left = decide(&legacy, ProjectAction::StartOptimization, None).unwrap();
        assert_eq!(left.status, ProjectStatus::Optimization);
        let refused = decide(
            &snapshot(ProjectStatus::LiveHypercare),
            ProjectAction::StartOptimization,
            None,
        )
        .unwrap_err();
        assert_eq!(refused[0].code, RefusalCode::PreconditionFailed);
        for status in [ProjectStatus::InExecution, ProjectStatus::Optimization] {
            let elsewhere = ProjectSnapshot {
                hypercare_held_by_a_plan: false,
                ..snapshot(status)
            };
            assert!(decide(&elsewhere, ProjectAction::StartOptimization, None).is_err());
            assert!(decide(&elsewhere, ProjectAction::GoLive, None).is_err());
        }
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
    fn initiation_needs_a_signed_scope_with_a_measurable_objective() {
        for (scope, words) in [
            (ScopeReadiness::Unsigned, "signed off"),
            (ScopeReadiness::NoMeasurableObjective, "KPI"),
        ] {
            let short = ProjectSnapshot {
                scope,
                ..snapshot(ProjectStatus::Proposed)
            };
            let refusals = decide(&short, ProjectAction::Initiate, None).unwrap_err();
            assert_eq!(refusals.len(), 1, "{refusals:?}");
            assert_eq!(refusals[0].code, RefusalCode::PreconditionFailed);
            assert!(refusals[0].message.contains(words), "{refusals:?}");
        }
        let ready = snapshot(ProjectStatus::Proposed);
        assert!(decide(&ready, ProjectAction::Initiate, None).is_ok());
        let objective =
            |kpi: Option<&str>, baseline: Option<&str>, target: Option<&str>| Objective {
                id: uuid::Uuid::nil(),
                text: "Raise lead conversion".into(),
                kpi: kpi.map(Into::into),
                baseline: baseline.map(Into::into),
                target: target.map(Into::into),
            };
        // Each lacks one of the three: the KPI, where it starts, where it must get to.
        let vague = [
            objective(None, Some("8%"), Some("12%")),
            objective(Some("rate"), None, Some("12%")),
            objective(Some("rate"), Some("8%"), None),
        ];
        assert_eq!(ScopeReadiness::of_baseline(None), ScopeReadiness::Unsigned);
        assert_eq!(
            ScopeReadiness::of_baseline(Some(&vague)),
            ScopeReadiness::NoMeasurableObjective
        );
        let one_measurable = [
            vague[0].clone(),
            objective(Some("rate"), Some("8%"), Some("12%")),
        ];
        assert_eq!(
            ScopeReadiness::of_baseline(Some(&one_measurable)),
            ScopeReadiness::Ready
        );
        // The scope is initiation's guard alone.
        let unsigned_later = ProjectSnapshot {
            scope: ScopeReadiness::Unsigned,
            ..snapshot(ProjectStatus::Initiated)
        };
        assert!(decide(&unsigned_later, ProjectAction::StartExecution, None).is_ok());
    }

    #[test]
    fn execution_needs_a_plan_with_milestones() {
        let empty = ProjectSnapshot {
            plan: PlanReadiness::NoMilestones,
            ..snapshot(ProjectStatus::Initiated)
        };
        let refusals = decide(&empty, ProjectAction::StartExecution, None).unwrap_err();
        assert_eq!(refusals.len(), 1);
        assert_eq!(refusals[0].code, RefusalCode::PreconditionFailed);
    }

    /// The service reads the scope baseline for INITIATE alone and the plan for
    /// START_EXECUTION alone: no other decision may depend on them.
    #[test]
    fn only_initiation_reads_the_scope_and_only_execution_the_plan() {
        for status in ProjectStatus::ALL {
            for action in ProjectAction::ALL {
                let ready = ProjectSnapshot {
                    held_from: (status == ProjectStatus::OnHold)
                        .then_some(ProjectStatus::Initiated),
                    ..snapshot(status)
                };
                let decided = decide(&ready, action, Some("review"));
                if action != ProjectAction::Initiate {
                    for scope in [
                        ScopeReadiness::Unsigned,
                        ScopeReadiness::NoMeasurableObjective,
                    ] {
                        let other = ProjectSnapshot {
                            scope,
                            ..ready.clone()
                        };
                        assert_eq!(decide(&other, action, Some("review")), decided);
                    }
                }
                if action != ProjectAction::StartExecution {
                    for plan in [
                        PlanReadiness::NoMilestones,
                        PlanReadiness::Unowned(vec!["Go-live".to_owned()]),
                    ] {
                        let other = ProjectSnapshot {
                            plan,
                            ..ready.clone()
                        };
                        assert_eq!(decide(&other, action, Some("review")), decided);
                    }
                }
            }
        }
    }

    #[test]
    fn execution_needs_an_owner_for_every_milestone() {
        assert_eq!(
            PlanReadiness::of_milestones([]),
            PlanReadiness::NoMilestones
        );
        assert_eq!(
            PlanReadiness::of_milestones([("Kick-off", true), ("Go-live", true)]),
            PlanReadiness::Ready
        );
        let unowned =
            PlanReadiness::of_milestones([("Kick-off", true), ("UAT", false), ("Go-live", false)]);
        assert_eq!(
            unowned,
            PlanReadiness::Unowned(vec!["UAT".to_owned(), "Go-live".to_owned()])
        );
        let project = ProjectSnapshot {
            plan: unowned,
            ..snapshot(ProjectStatus::Initiated)
        };
        let refusals = decide(&project, ProjectAction::StartExecution, None).unwrap_err();
        assert_eq!(refusals.len(), 1);
        assert_eq!(refusals[0].code, RefusalCode::PreconditionFailed);
        assert_eq!(refusals[0].field, ["action"]);
        assert!(
            refusals[0]
                .message
                .contains("\"UAT\", \"Go-live\" have none"),
            "{}",
            refusals[0].message
        );
        let one = ProjectSnapshot {
            plan: PlanReadiness::of_milestones([("Go-live", false)]),
            ..snapshot(ProjectStatus::Initiated)
        };
        let refusals = decide(&one, ProjectAction::StartExecution, None).unwrap_err();
        assert!(refusals[0].message.contains("\"Go-live\" has none"));
        // The plan is execution's guard alone.
        assert!(decide(&project, ProjectAction::Hold, Some("budget review")).is_ok());
        let proposed = ProjectSnapshot {
            status: ProjectStatus::Proposed,
            ..project
        };
        assert!(decide(&proposed, ProjectAction::Initiate, None).is_ok());
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

    #[test]
    fn a_baselined_budget_moves_only_with_approved_changes() {
        let money = |amount: &str, currency: &str| Money::from_stored(amount, currency).unwrap();
        let budget = money("1050000", "CNY");
        // Kept as it is, however written.
        let same = money("1050000.00", "CNY");
        assert_eq!(check_budget_edit(true, Some(&budget), Some(&same)), Ok(()));
        for edited in [
            Some(money("2000000", "CNY")),
            Some(money("1050000", "EUR")),
            None,
        ] {
            let refusal = check_budget_edit(true, Some(&budget), edited.as_ref()).unwrap_err();
            assert_eq!(refusal.code, RefusalCode::PreconditionFailed);
            assert_eq!(refusal.field, ["budget"]);
            // Before the first approved cost, the budget is the PM's to set.
            assert_eq!(
                check_budget_edit(false, Some(&budget), edited.as_ref()),
                Ok(())
            );
        }
    }
}

#[cfg(test)]
mod properties {
    //! Arbitrary command sequences driven through the project lifecycle from PROPOSED, with the
    //! lifecycle's invariants checked after every step.

    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;
    use crate::domain::RefusalCode;

    use ProjectAction as A;
    use ProjectStatus as S;

    /// The lifecycle of the module diagram, written out edge by edge and independently of
    /// `target`. RESUME is not listed: it returns to whichever state was held.
    /// GO_LIVE and START_OPTIMIZATION have no edge: the go-live plan makes those moves.
    const EDGES: [(ProjectStatus, ProjectAction, ProjectStatus); 14] = [
        (S::Proposed, A::Initiate, S::Initiated),
        (S::Initiated, A::StartExecution, S::InExecution),
        (S::Optimization, A::Close, S::Closed),
        (S::Proposed, A::Hold, S::OnHold),
        (S::Initiated, A::Hold, S::OnHold),
        (S::InExecution, A::Hold, S::OnHold),
        (S::LiveHypercare, A::Hold, S::OnHold),
        (S::Optimization, A::Hold, S::OnHold),
        (S::Proposed, A::Cancel, S::Cancelled),
        (S::Initiated, A::Cancel, S::Cancelled),
        (S::InExecution, A::Cancel, S::Cancelled),
        (S::LiveHypercare, A::Cancel, S::Cancelled),
        (S::Optimization, A::Cancel, S::Cancelled),
        (S::OnHold, A::Cancel, S::Cancelled),
    ];

    /// Where the lifecycle leads from `from`, per the table above.
    fn expected_target(
        from: ProjectStatus,
        held_from: Option<ProjectStatus>,
        action: ProjectAction,
    ) -> Option<ProjectStatus> {
        if from == S::OnHold && action == A::Resume {
            return held_from;
        }
        EDGES
            .iter()
            .find(|(edge_from, edge_action, _)| *edge_from == from && *edge_action == action)
            .map(|(_, _, to)| *to)
    }

    /// How far along the forward path a status is; ON_HOLD and CANCELLED are off the path.
    fn progress(status: ProjectStatus) -> Option<usize> {
        [
            S::Proposed,
            S::Initiated,
            S::InExecution,
            S::LiveHypercare,
            S::Optimization,
            S::Closed,
        ]
        .iter()
        .position(|on_path| *on_path == status)
    }

    /// One command as a caller sends it, with the facts its guards read at that moment.
    #[derive(Debug, Clone)]
    struct Step {
        action: ProjectAction,
        /// When set, the action is replaced by one the current state allows (if any, CANCEL
        /// aside), so that sequences get deep into the lifecycle instead of being refused at
        /// PROPOSED.
        steer: Option<Index>,
        reason: Option<&'static str>,
        has_sponsor: bool,
        has_project_manager: bool,
        plan: PlanReadiness,
        scope: ScopeReadiness,
    }

    fn action() -> impl Strategy<Value = ProjectAction> {
        prop::sample::select(ProjectAction::ALL.to_vec())
    }

    /// No reason, a blank one or a real one: the three cases the reason rule tells apart.
    fn reason() -> impl Strategy<Value = Option<&'static str>> {
        prop_oneof![Just(None), Just(Some("   ")), Just(Some("budget review"))]
    }

    /// Guards usually hold, so that refusals by a guard stay the exception they are.
    fn usually() -> impl Strategy<Value = bool> {
        prop::bool::weighted(0.85)
    }

    /// Usually a signed scope with a measurable objective, sometimes short of one or the other.
    fn scope() -> impl Strategy<Value = ScopeReadiness> {
        prop_oneof![
            17 => Just(ScopeReadiness::Ready),
            2 => Just(ScopeReadiness::Unsigned),
            1 => Just(ScopeReadiness::NoMeasurableObjective),
        ]
    }

    /// Usually milestones each with an owner, sometimes none, or one nobody owns.
    fn plan() -> impl Strategy<Value = PlanReadiness> {
        prop_oneof![
            17 => Just(PlanReadiness::Ready),
            2 => Just(PlanReadiness::NoMilestones),
            1 => Just(PlanReadiness::Unowned(vec!["Go-live".to_owned()])),
        ]
    }

    fn step() -> impl Strategy<Value = Step> {
        (
            action(),
            prop::option::of(any::<Index>()),
            reason(),
            (usually(), usually()),
            (plan(), scope()),
        )
            .prop_map(
                |(action, steer, reason, (has_sponsor, has_project_manager), (plan, scope))| Step {
                    action,
                    steer,
                    reason,
                    has_sponsor,
                    has_project_manager,
                    plan,
                    scope,
                },
            )
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        prop::collection::vec(step(), 0..40)
    }

    /// One command applied: the state before it, what was asked and what came of it.
    struct Visit {
        before: ProjectSnapshot,
        action: ProjectAction,
        reason: Option<&'static str>,
        outcome: Result<ProjectTransition, Vec<Refusal>>,
    }

    /// Applies the steps from PROPOSED, keeping refused ones out of the state.
    fn replay(steps: &[Step]) -> Vec<Visit> {
        let mut status = S::Proposed;
        let mut held_from = None;
        let mut visits = Vec::with_capacity(steps.len());
        for step in steps {
            // Steering never cancels, or few sequences would get far; arbitrary commands
            // still do.
            let allowed: Vec<ProjectAction> = allowed_actions(status, held_from)
                .into_iter()
                .filter(|action| *action != A::Cancel)
                .collect();
            let action = match step.steer {
                Some(index) if !allowed.is_empty() => allowed[index.index(allowed.len())],
                _ => step.action,
            };
            let before = ProjectSnapshot {
                status,
                held_from,
                has_sponsor: step.has_sponsor,
                has_project_manager: step.has_project_manager,
                plan: step.plan.clone(),
                hypercare_held_by_a_plan: true,
                scope: step.scope,
            };
            let outcome = decide(&before, action, step.reason);
            if let Ok(transition) = &outcome {
                status = transition.status;
                held_from = transition.held_from;
            }
            visits.push(Visit {
                before,
                action,
                reason: step.reason,
                outcome,
            });
        }
        visits
    }

    fn is_invalid_transition(refusals: &[Refusal]) -> bool {
        refusals
            .iter()
            .any(|refusal| refusal.code == RefusalCode::InvalidTransition)
    }

    proptest! {
        /// Every accepted command follows an edge of the lifecycle table, every command the
        /// table has no edge for is refused as an invalid transition, and `allowed_actions`
        /// (what clients offer as buttons) names exactly the actions with an edge. A project
        /// jumping a stage, or a button that always fails, would break this.
        #[test]
        fn accepted_commands_follow_the_lifecycle_table(steps in steps()) {
            for visit in replay(&steps) {
                let from = visit.before.status;
                let expected = expected_target(from, visit.before.held_from, visit.action);
                let offered = allowed_actions(from, visit.before.held_from).contains(&visit.action);
                prop_assert_eq!(offered, expected.is_some(), "{} {:?}", from, visit.action);
                match &visit.outcome {
                    Ok(transition) => prop_assert_eq!(Some(transition.status), expected),
                    // The go-live plan's moves are refused as preconditions, from any state
                    // but CLOSED and CANCELLED, which take no command.
                    Err(refusals) => prop_assert_eq!(
                        is_invalid_transition(refusals),
                        expected.is_none()
                            && (visit.action.made_by_the_go_live_plan().is_none()
                                || from.is_terminal()),
                        "{} {:?}: {:?}", from, visit.action, refusals
                    ),
                }
            }
        }

        /// CLOSED and CANCELLED projects are read-only: once there, every later command is
        /// refused as an invalid transition and no action is offered.
        #[test]
        fn closed_and_cancelled_projects_accept_no_command(steps in steps()) {
            for visit in replay(&steps) {
                let before = &visit.before;
                if before.status.is_terminal() {
                    prop_assert!(allowed_actions(before.status, before.held_from).is_empty());
                    let refused = visit.outcome.as_ref().err();
                    prop_assert!(refused.is_some_and(|r| is_invalid_transition(r)));
                }
            }
        }

        /// A project on hold remembers exactly where it was held, and RESUME takes it back
        /// there and nowhere else; outside ON_HOLD nothing is remembered. Otherwise a hold
        /// could be used to skip (or repeat) a stage.
        #[test]
        fn resume_returns_to_the_state_the_project_was_held_in(steps in steps()) {
            for visit in replay(&steps) {
                let Ok(transition) = &visit.outcome else { continue };
                prop_assert_eq!(transition.held_from.is_some(), transition.status == S::OnHold);
                if transition.status == S::OnHold {
                    prop_assert_eq!(transition.held_from, Some(visit.before.status));
                }
                if visit.action == A::Resume {
                    prop_assert_eq!(Some(transition.status), visit.before.held_from);
                }
            }
        }

        /// The guards hold for every accepted command: initiation needs a sponsor, a PM and a
        /// signed scope with a measurable objective,
        /// execution a PM and a plan with milestones, hold and cancel a non-blank reason. And
        /// they are the only obstacles: an edge of the table whose guards hold is accepted.
        #[test]
        fn guards_decide_whether_an_edge_is_taken(steps in steps()) {
            for visit in replay(&steps) {
                let snapshot = &visit.before;
                let has_reason = visit.reason.is_some_and(|r| !r.trim().is_empty());
                let guards_hold = match visit.action {
                    A::Initiate => {
                        snapshot.has_sponsor
                            && snapshot.has_project_manager
                            && snapshot.scope == ScopeReadiness::Ready
                    }
                    A::StartExecution => {
                        snapshot.has_project_manager && snapshot.plan == PlanReadiness::Ready
                    }
                    A::Hold | A::Cancel => has_reason,
                    A::GoLive | A::StartOptimization | A::Close | A::Resume => true,
                };
                let has_edge =
                    expected_target(snapshot.status, snapshot.held_from, visit.action).is_some();
                prop_assert_eq!(
                    visit.outcome.is_ok(),
                    has_edge && guards_hold,
                    "{} {:?} {:?}", snapshot.status, visit.action, visit.outcome.as_ref().err()
                );
            }
        }

        /// The project only moves forward: the stage it is at (or was held at) never goes
        /// back, and each accepted command emits exactly one status change naming both ends,
        /// which the audit trail and notifications depend on.
        #[test]
        fn the_project_never_moves_back_and_reports_each_move(steps in steps()) {
            for visit in replay(&steps) {
                let Ok(transition) = &visit.outcome else { continue };
                let from = visit.before.status;
                let stage = |status: ProjectStatus, held_from: Option<ProjectStatus>| {
                    progress(held_from.unwrap_or(status))
                };
                if let (Some(before), Some(after)) = (
                    stage(from, visit.before.held_from),
                    stage(transition.status, transition.held_from),
                ) {
                    prop_assert!(before <= after, "{} -> {}", from, transition.status);
                }
                prop_assert_eq!(
                    &transition.events,
                    &vec![DomainEvent::ProjectStatusChanged {
                        from,
                        to: transition.status,
                        reason: transition.reason.clone(),
                    }]
                );
            }
        }
    }
}
