//! Domain events: what happened, as facts other parts (audit, notifications, subscriptions)
//! react to. Each accepted lifecycle command emits at least one.

use uuid::Uuid;

use super::decision::{DecisionChoice, DecisionSubject};
use super::project::ProjectStatus;
use super::role::ProjectRole;
use super::schedule::Health;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    ProjectCreated,
    ProjectUpdated,
    ProjectStatusChanged {
        from: ProjectStatus,
        to: ProjectStatus,
        reason: Option<String>,
    },
    MemberAdded {
        user_id: uuid::Uuid,
        roles: Vec<ProjectRole>,
    },
    MemberRolesChanged {
        user_id: uuid::Uuid,
        roles: Vec<ProjectRole>,
    },
    MemberRemoved {
        user_id: uuid::Uuid,
    },
    PhaseStarted {
        phase_id: Uuid,
    },
    /// The PM asked the committee to pass a phase's gate.
    GateRequested {
        phase_id: Uuid,
        decision_id: Uuid,
    },
    /// The committee decided a gate; `None` when it deadlocked.
    GateDecided {
        phase_id: Uuid,
        outcome: Option<DecisionChoice>,
    },
    PhaseCompleted {
        phase_id: Uuid,
    },
    PhaseSkipped {
        phase_id: Uuid,
    },
    /// A ballot opened: its voters are needed.
    DecisionOpened {
        decision_id: Uuid,
        subject: DecisionSubject,
    },
    VoteCast {
        decision_id: Uuid,
        voter_id: Uuid,
    },
    /// A ballot closed, decided (`Some`) or deadlocked (`None`).
    DecisionClosed {
        decision_id: Uuid,
        subject: DecisionSubject,
        outcome: Option<DecisionChoice>,
    },
    /// A milestone achieved; a key one is announced to the whole team.
    MilestoneAchieved {
        milestone_id: Uuid,
        key: bool,
    },
    MilestoneMissed {
        milestone_id: Uuid,
    },
    /// A milestone's health got worse (to AMBER or RED) or recovered.
    MilestoneHealthChanged {
        milestone_id: Uuid,
        from: Health,
        to: Health,
    },
    MilestoneOverdue {
        milestone_id: Uuid,
    },
    /// Reminder: a milestone falls due in a few days.
    MilestoneDueSoon {
        milestone_id: Uuid,
    },
    /// Reminder: a ballot has waited for votes longer than it should.
    VotePending {
        decision_id: Uuid,
    },
    /// A new schedule baseline version exists.
    ScheduleBaselined {
        baseline_id: Uuid,
        number: i32,
    },
    /// A scope version went to its signatories.
    ScopeReviewOpened {
        version_id: Uuid,
    },
    ScopeSigned {
        version_id: Uuid,
        signer_id: Uuid,
    },
    /// A signatory sent the version back to draft.
    ScopeRejected {
        version_id: Uuid,
        by: Uuid,
    },
    /// Every signatory signed: the version is the scope baseline.
    ScopeBaselined {
        version_id: Uuid,
        number: i32,
    },
    /// A baseline was replaced by a newer one.
    ScopeSuperseded {
        version_id: Uuid,
        successor_id: Uuid,
    },
    /// An open version took an approved change's items and is now based on the baseline it
    /// made; one that was in review went back to DRAFT.
    ScopeRebased {
        version_id: Uuid,
        change_request_id: Uuid,
        back_to_draft: bool,
    },
    ChangeRequestStatusChanged {
        change_request_id: Uuid,
        from: super::change_request::CrStatus,
        to: super::change_request::CrStatus,
    },
    ChangeRequestImpactAssessed {
        change_request_id: Uuid,
    },
    /// A material edit while awaiting the decision: the votes cast no longer count and a new
    /// round opened (or the PM now decides alone).
    ChangeRequestVotesSuperseded {
        change_request_id: Uuid,
        decision_id: Uuid,
    },
    /// An approved change moved the baselines it touches.
    ChangeRequestApplied {
        change_request_id: Uuid,
    },
    /// A defect was logged; `critical` says it must reach the PM and QA at once.
    DefectLogged {
        defect_id: Uuid,
        critical: bool,
    },
    /// An open defect was graded CRITICAL after it was logged: it must reach the PM and QA at
    /// once, as one logged CRITICAL does.
    DefectEscalated {
        defect_id: Uuid,
    },
    DefectStatusChanged {
        defect_id: Uuid,
        from: super::uat::DefectStatus,
        to: super::uat::DefectStatus,
    },
    DefectAssigned {
        defect_id: Uuid,
        assignee_id: Uuid,
    },
    DefectReadyForRetest {
        defect_id: Uuid,
    },
    DefectReopened {
        defect_id: Uuid,
    },
    TestCycleStatusChanged {
        cycle_id: Uuid,
        from: super::uat::CycleStatus,
        to: super::uat::CycleStatus,
    },
    TestExecutionRecorded {
        execution_id: Uuid,
    },
    /// The day's report of the open defects, while a test cycle runs (DOMAIN §12.8).
    OpenDefectsReportDue {
        cycle_id: Uuid,
    },
    GoLiveStatusChanged {
        plan_id: Uuid,
        from: super::go_live::PlanStatus,
        to: super::go_live::PlanStatus,
    },
    /// Rolling back to the old system has begun: the most urgent news there is.
    RollbackStarted {
        plan_id: Uuid,
        forced: bool,
    },
    HypercareMetricBreached {
        metric_id: Uuid,
    },
}

impl DomainEvent {
    /// A stable name, used as the audit action and, later, the notification kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ProjectCreated => "project.created",
            Self::ProjectUpdated => "project.updated",
            Self::ProjectStatusChanged { .. } => "project.status_changed",
            Self::MemberAdded { .. } => "project.member_added",
            Self::MemberRolesChanged { .. } => "project.member_roles_changed",
            Self::MemberRemoved { .. } => "project.member_removed",
            Self::PhaseStarted { .. } => "phase.started",
            Self::GateRequested { .. } => "phase.gate_requested",
            Self::GateDecided { .. } => "phase.gate_decided",
            Self::PhaseCompleted { .. } => "phase.completed",
            Self::PhaseSkipped { .. } => "phase.skipped",
            Self::DecisionOpened { .. } => "decision.opened",
            Self::VoteCast { .. } => "decision.vote_cast",
            Self::DecisionClosed { .. } => "decision.closed",
            Self::MilestoneAchieved { .. } => "milestone.achieved",
            Self::MilestoneMissed { .. } => "milestone.missed",
            Self::MilestoneHealthChanged { .. } => "milestone.health_changed",
            Self::MilestoneOverdue { .. } => "milestone.overdue",
            Self::MilestoneDueSoon { .. } => "milestone.due_soon",
            Self::VotePending { .. } => "decision.vote_pending",
            Self::ScheduleBaselined { .. } => "schedule.baselined",
            Self::ScopeReviewOpened { .. } => "scope.review_opened",
            Self::ScopeSigned { .. } => "scope.signed",
            Self::ScopeRejected { .. } => "scope.rejected",
            Self::ScopeBaselined { .. } => "scope.baselined",
            Self::ScopeSuperseded { .. } => "scope.superseded",
            Self::ScopeRebased { .. } => "scope.rebased",
            Self::ChangeRequestStatusChanged { .. } => "change_request.status_changed",
            Self::ChangeRequestImpactAssessed { .. } => "change_request.impact_assessed",
            Self::ChangeRequestVotesSuperseded { .. } => "change_request.votes_superseded",
            Self::ChangeRequestApplied { .. } => "change_request.applied",
            Self::DefectLogged { .. } => "defect.logged",
            Self::DefectEscalated { .. } => "defect.escalated",
            Self::DefectStatusChanged { .. } => "defect.status_changed",
            Self::DefectAssigned { .. } => "defect.assigned",
            Self::DefectReadyForRetest { .. } => "defect.ready_for_retest",
            Self::DefectReopened { .. } => "defect.reopened",
            Self::TestCycleStatusChanged { .. } => "test_cycle.status_changed",
            Self::TestExecutionRecorded { .. } => "test_execution.recorded",
            Self::OpenDefectsReportDue { .. } => "defect.open_report_due",
            Self::GoLiveStatusChanged { .. } => "go_live.status_changed",
            Self::RollbackStarted { .. } => "go_live.rollback_started",
            Self::HypercareMetricBreached { .. } => "go_live.metric_breached",
        }
    }

    /// The object the event is about, as (type, id); `None` for the project itself.
    pub fn aggregate(&self) -> Option<(&'static str, Uuid)> {
        let aggregate = match self {
            Self::ProjectCreated | Self::ProjectUpdated | Self::ProjectStatusChanged { .. } => {
                return None;
            }
            Self::MemberAdded { user_id, .. }
            | Self::MemberRolesChanged { user_id, .. }
            | Self::MemberRemoved { user_id } => ("User", *user_id),
            Self::PhaseStarted { phase_id }
            | Self::GateRequested { phase_id, .. }
            | Self::GateDecided { phase_id, .. }
            | Self::PhaseCompleted { phase_id }
            | Self::PhaseSkipped { phase_id } => ("Phase", *phase_id),
            Self::DecisionOpened { decision_id, .. }
            | Self::VoteCast { decision_id, .. }
            | Self::DecisionClosed { decision_id, .. }
            | Self::VotePending { decision_id } => ("Decision", *decision_id),
            Self::MilestoneAchieved { milestone_id, .. }
            | Self::MilestoneMissed { milestone_id }
            | Self::MilestoneHealthChanged { milestone_id, .. }
            | Self::MilestoneOverdue { milestone_id }
            | Self::MilestoneDueSoon { milestone_id } => ("Milestone", *milestone_id),
            Self::ScheduleBaselined { baseline_id, .. } => ("ScheduleBaseline", *baseline_id),
            Self::ScopeReviewOpened { version_id }
            | Self::ScopeSigned { version_id, .. }
            | Self::ScopeRejected { version_id, .. }
            | Self::ScopeBaselined { version_id, .. }
            | Self::ScopeSuperseded { version_id, .. }
            | Self::ScopeRebased { version_id, .. } => ("ScopeVersion", *version_id),
            Self::ChangeRequestStatusChanged {
                change_request_id, ..
            }
            | Self::ChangeRequestImpactAssessed { change_request_id }
            | Self::ChangeRequestVotesSuperseded {
                change_request_id, ..
            }
            | Self::ChangeRequestApplied { change_request_id } => {
                ("ChangeRequest", *change_request_id)
            }
            Self::DefectLogged { defect_id, .. }
            | Self::DefectEscalated { defect_id }
            | Self::DefectStatusChanged { defect_id, .. }
            | Self::DefectAssigned { defect_id, .. }
            | Self::DefectReadyForRetest { defect_id }
            | Self::DefectReopened { defect_id } => ("Defect", *defect_id),
            Self::TestCycleStatusChanged { cycle_id, .. }
            | Self::OpenDefectsReportDue { cycle_id } => ("TestCycle", *cycle_id),
            Self::TestExecutionRecorded { execution_id } => ("TestExecution", *execution_id),
            Self::GoLiveStatusChanged { plan_id, .. } | Self::RollbackStarted { plan_id, .. } => {
                ("GoLivePlan", *plan_id)
            }
            Self::HypercareMetricBreached { metric_id } => ("HypercareMetric", *metric_id),
        };
        Some(aggregate)
    }
}
