//! Who hears of what: the routing table from domain events to the parties who must be told,
//! and the resolution of those parties to people. Delivery (outbox, templates, SMTP) builds on
//! these two functions; they read no database.
//!
//! | event | audience | |
//! |---|---|---|
//! | change request SUBMITTED | project managers | |
//! | change request INFO_REQUESTED | requester | action required |
//! | change request back UNDER_ASSESSMENT with the information asked for | project managers | |
//! | change request AWAITING_DECISION | requester | |
//! | change request APPROVED / REJECTED / DEFERRED (by the PM or the committee's ballot) | requester, project managers, sponsors, steering committee, Informed on the affected activities, finance when it costs, owners of the milestones it moves | |
//! | change request IN_IMPLEMENTATION, IMPLEMENTED | requester, steering committee | |
//! | change request CLOSED once implemented | requester | |
//! | ballot opened (any subject) | its eligible voters | action required |
//! | vote cast | requester, project managers | |
//! | re-baseline or skip ballot closed | project managers, steering committee | |
//! | scope review opened | signatories | action required |
//! | scope rejected | project managers | |
//! | scope baselined | all members | |
//! | gate requested | steering committee, the phase's owner, sponsors | |
//! | gate decided | all members | |
//! | CRITICAL defect logged, or an open one graded CRITICAL | project managers, QA | urgent |
//! | defect assigned | the assignee | action required |
//! | defect ready for retest | its reporter | action required |
//! | defect reopened | its assignee, project managers | |
//! | daily, while a test cycle runs: open defects by severity | project managers, business representatives | |
//! | go-live GO | all members | |
//! | go-live NO_GO | project managers, sponsors, steering committee | |
//! | live, rolled back, hypercare closed | all members | |
//! | rollback started | all members, sponsors | urgent, before anything else |
//! | hypercare metric breached | project managers, the War Room | urgent |
//! | milestone AMBER, or overdue | its owner, project managers | |
//! | milestone RED, or missed | its owner, project managers, sponsors | |
//! | key milestone achieved | all members | |
//! | reminder: milestone due in N days | its owner | |
//! | reminder: vote pending for N hours | the voters who have not voted | action required |
//!
//! Every other event is recorded and streamed but not mailed. Change-request, gate and go-live
//! ballots close with their own change-request, phase and plan events, so their
//! `DecisionClosed` is not mailed twice.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::change_request::CrStatus;
use super::coded::coded_enum;
use super::decision::DecisionSubject;
use super::event::DomainEvent;
use super::go_live::PlanStatus;
use super::project::ProjectStatus;
use super::role::{ProjectRole, RoleSet};
use super::schedule::Health;
use super::uat::CycleStatus;

/// A party to an event, named by the part it plays; [`recipients`] turns it into people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Audience {
    /// Every member holding this project role.
    Role(ProjectRole),
    AllMembers,
    /// The voters eligible on the ballot the event is about.
    EligibleVoters,
    /// Who raised the change request the event is about.
    Requester,
    /// Members Informed (RACI I) on the activities a decision affects.
    Informed,
    /// The signatories of the scope version the event is about.
    Signatories,
    DefectAssignee,
    DefectReporter,
    /// The owner of the phase the event is about.
    PhaseOwner,
    MilestoneOwner,
    /// The plan's War Room roster.
    WarRoom,
    /// The eligible voters who have not voted yet.
    PendingVoters,
    /// The finance representatives, when the change request the event is about moves money.
    FinanceWhenCosted,
    /// The owners of the milestones the change request the event is about moves or names.
    ImpactedMilestoneOwners,
}

/// How soon a message must go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    /// Ahead of everything else in the queue and never held for a digest.
    Critical,
    /// Sent at once, never held for a digest.
    Urgent,
    /// Sent at once or in the recipient's digest, as they prefer.
    Normal,
}

impl Urgency {
    /// The outbox's claim order: lower goes first.
    pub fn priority(self) -> i16 {
        match self {
            Self::Critical => 0,
            Self::Urgent => 1,
            Self::Normal => 2,
        }
    }
}

/// Where an event goes, and as which message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The message kind: names the template and, by its prefix, the [`NotificationClass`].
    pub kind: &'static str,
    pub audiences: Vec<Audience>,
    pub urgency: Urgency,
    /// The recipient must act (vote, sign, fix, retest): such messages cannot be turned off.
    pub action_required: bool,
}

impl Route {
    fn to(kind: &'static str, audiences: &[Audience]) -> Self {
        Self {
            kind,
            audiences: audiences.to_vec(),
            urgency: Urgency::Normal,
            action_required: false,
        }
    }

    /// The preference class the message falls under.
    pub fn class(&self) -> NotificationClass {
        NotificationClass::of_kind(self.kind)
    }

    fn action_required(mut self) -> Self {
        self.action_required = true;
        self
    }

    fn urgency(mut self, urgency: Urgency) -> Self {
        self.urgency = urgency;
        self
    }
}

/// The route of an event, or `None` when it is not mailed.
pub fn route(event: &DomainEvent) -> Option<Route> {
    use Audience::*;
    use ProjectRole::{BusinessRep, FinanceRep, ProjectManager, Qa, Sponsor, SteeringCommittee};
    let route = match event {
        DomainEvent::ChangeRequestStatusChanged { from, to, .. } => {
            let decided = [
                Requester,
                Role(ProjectManager),
                Role(Sponsor),
                Role(SteeringCommittee),
                Informed,
                FinanceWhenCosted,
                ImpactedMilestoneOwners,
            ];
            // DOMAIN §12.6: the requester follows their change from assessment to closure;
            // the committee hears, for information, how an approved change is carried out.
            let carried_out = [Requester, Role(SteeringCommittee)];
            match (from, to) {
                (_, CrStatus::Submitted) => {
                    Route::to("change_request.submitted", &[Role(ProjectManager)])
                }
                // Only the requester can answer, and the assessment waits for them.
                (_, CrStatus::InfoRequested) => {
                    Route::to("change_request.info_requested", &[Requester]).action_required()
                }
                (CrStatus::InfoRequested, CrStatus::UnderAssessment) => {
                    Route::to("change_request.info_provided", &[Role(ProjectManager)])
                }
                (_, CrStatus::AwaitingDecision) => {
                    Route::to("change_request.awaiting_decision", &[Requester])
                }
                (_, CrStatus::Approved) => Route::to("change_request.approved", &decided),
                (_, CrStatus::Rejected) => Route::to("change_request.rejected", &decided),
                (_, CrStatus::Deferred) => Route::to("change_request.deferred", &decided),
                (_, CrStatus::InImplementation) => {
                    Route::to("change_request.implementation_started", &carried_out)
                }
                (_, CrStatus::Implemented) => Route::to("change_request.implemented", &carried_out),
                // A rejected change's closing is filing: its requester heard of the rejection.
                (CrStatus::Implemented, CrStatus::Closed) => {
                    Route::to("change_request.closed", &[Requester])
                }
                _ => return None,
            }
        }
        DomainEvent::DecisionOpened { .. } => {
            Route::to("decision.opened", &[EligibleVoters]).action_required()
        }
        DomainEvent::VoteCast { .. } => {
            Route::to("decision.vote_cast", &[Requester, Role(ProjectManager)])
        }
        DomainEvent::DecisionClosed { subject, .. } => match subject {
            DecisionSubject::ScheduleRebaseline | DecisionSubject::PhaseSkip => Route::to(
                "decision.closed",
                &[Role(ProjectManager), Role(SteeringCommittee)],
            ),
            // Announced by the change request's, the phase's or the plan's own event.
            DecisionSubject::ChangeRequest
            | DecisionSubject::PhaseGate
            | DecisionSubject::GoLive => {
                return None;
            }
        },
        DomainEvent::ScopeReviewOpened { .. } => {
            Route::to("scope.review_opened", &[Signatories]).action_required()
        }
        DomainEvent::ScopeRejected { .. } => Route::to("scope.rejected", &[Role(ProjectManager)]),
        DomainEvent::ScopeBaselined { .. } => Route::to("scope.baselined", &[AllMembers]),
        // DOMAIN §12.2: the committee decides the gate; the phase's owner and the sponsors
        // hear it is asked for.
        DomainEvent::GateRequested { .. } => Route::to(
            "phase.gate_requested",
            &[Role(SteeringCommittee), PhaseOwner, Role(Sponsor)],
        ),
        DomainEvent::GateDecided { .. } => Route::to("phase.gate_decided", &[AllMembers]),
        DomainEvent::DefectLogged { critical: true, .. } => {
            Route::to("defect.critical_logged", &[Role(ProjectManager), Role(Qa)])
                .urgency(Urgency::Urgent)
        }
        DomainEvent::DefectEscalated { .. } => {
            Route::to("defect.escalated", &[Role(ProjectManager), Role(Qa)])
                .urgency(Urgency::Urgent)
        }
        DomainEvent::DefectAssigned { .. } => {
            Route::to("defect.assigned", &[DefectAssignee]).action_required()
        }
        DomainEvent::DefectReadyForRetest { .. } => {
            Route::to("defect.ready_for_retest", &[DefectReporter]).action_required()
        }
        DomainEvent::DefectReopened { .. } => {
            Route::to("defect.reopened", &[DefectAssignee, Role(ProjectManager)])
        }
        DomainEvent::GoLiveStatusChanged { from, to, .. } => match to {
            PlanStatus::ApprovedGo => Route::to("go_live.approved_go", &[AllMembers]),
            PlanStatus::Live => Route::to("go_live.live", &[AllMembers]),
            PlanStatus::RolledBack => Route::to("go_live.rolled_back", &[AllMembers]),
            PlanStatus::Closed => Route::to("go_live.closed", &[AllMembers]),
            PlanStatus::NoGo => Route::to("go_live.no_go", &[AllMembers, Role(Sponsor)]),
            // A NO_GO rescheduled, a GO withdrawn, a rollback replanned.
            PlanStatus::Draft
                if matches!(
                    from,
                    PlanStatus::NoGo | PlanStatus::ApprovedGo | PlanStatus::RolledBack
                ) =>
            {
                Route::to("go_live.rescheduled", &[AllMembers, Role(Sponsor)])
            }
            // The rollback has its own, louder event.
            PlanStatus::RollbackInProgress
            | PlanStatus::Draft
            | PlanStatus::ReadyForDecision
            | PlanStatus::CutoverInProgress => return None,
        },
        DomainEvent::ProjectStatusChanged { from, to, .. } => match (from, to) {
            (_, ProjectStatus::OnHold) => {
                Route::to("project.on_hold", &[AllMembers]).urgency(Urgency::Urgent)
            }
            (_, ProjectStatus::Cancelled) => {
                Route::to("project.cancelled", &[AllMembers]).urgency(Urgency::Urgent)
            }
            (ProjectStatus::OnHold, _) => Route::to("project.resumed", &[AllMembers]),
            // DOMAIN §12.1: the team and the committee hear the project is approved and
            // under way; its closing reaches those who answer for its value and its money.
            (ProjectStatus::Proposed, ProjectStatus::Initiated) => {
                Route::to("project.initiated", &[AllMembers])
            }
            (ProjectStatus::Initiated, ProjectStatus::InExecution) => {
                Route::to("project.execution_started", &[AllMembers])
            }
            (_, ProjectStatus::Closed) => Route::to(
                "project.closed",
                &[
                    Role(ProjectManager),
                    Role(Sponsor),
                    Role(SteeringCommittee),
                    Role(FinanceRep),
                ],
            ),
            // Going live, leaving hypercare and a rollback's return to execution are announced
            // by the go-live plan's own events. (A project taken live before plans made that
            // move leaves hypercare by its own command, unannounced.)
            _ => return None,
        },
        DomainEvent::TestCycleStatusChanged { to, .. } => match to {
            // The business representatives are UAT's testers.
            CycleStatus::Running => {
                Route::to("test_cycle.started", &[Role(BusinessRep)]).action_required()
            }
            CycleStatus::SignedOff => Route::to(
                "test_cycle.signed_off",
                &[Role(ProjectManager), Role(Sponsor), Role(SteeringCommittee)],
            ),
            CycleStatus::Planned | CycleStatus::Completed | CycleStatus::Failed => return None,
        },
        // DOMAIN §12.8: while UAT runs, those who steer it and those who test it see once a
        // day (from the digest hour, UTC) where the defects stand.
        DomainEvent::OpenDefectsReportDue { .. } => Route::to(
            "defect.open_report",
            &[Role(ProjectManager), Role(BusinessRep)],
        ),
        DomainEvent::RollbackStarted { .. } => {
            Route::to("go_live.rollback_started", &[AllMembers, Role(Sponsor)])
                .urgency(Urgency::Critical)
        }
        DomainEvent::HypercareMetricBreached { .. } => Route::to(
            "hypercare.metric_breached",
            &[Role(ProjectManager), WarRoom],
        )
        .urgency(Urgency::Urgent),
        // DOMAIN §12.3: the sponsor hears of a milestone at risk (RED) or missed; a slip still
        // within tolerance (AMBER), or a day overdue, stays between its owner and the PMs.
        DomainEvent::MilestoneHealthChanged { to, .. } => match to {
            Health::Amber => Route::to(
                "milestone.health_changed",
                &[MilestoneOwner, Role(ProjectManager)],
            ),
            Health::Red => Route::to(
                "milestone.health_changed",
                &[MilestoneOwner, Role(ProjectManager), Role(Sponsor)],
            ),
            Health::Green => return None,
        },
        // DOMAIN §12.3 (S0's progress bulletins): the whole team hears a key milestone reached.
        DomainEvent::MilestoneAchieved { key: true, .. } => {
            Route::to("milestone.achieved", &[AllMembers])
        }
        DomainEvent::MilestoneOverdue { .. } => {
            Route::to("milestone.overdue", &[MilestoneOwner, Role(ProjectManager)])
        }
        DomainEvent::MilestoneMissed { .. } => Route::to(
            "milestone.missed",
            &[MilestoneOwner, Role(ProjectManager), Role(Sponsor)],
        ),
        DomainEvent::MilestoneDueSoon { .. } => {
            Route::to("reminder.milestone_due", &[MilestoneOwner])
        }
        DomainEvent::VotePending { .. } => {
            Route::to("reminder.vote_pending", &[PendingVoters]).action_required()
        }
        DomainEvent::ProjectCreated
        | DomainEvent::ProjectUpdated
        | DomainEvent::MemberAdded { .. }
        | DomainEvent::MemberRolesChanged { .. }
        | DomainEvent::MemberRemoved { .. }
        | DomainEvent::PhaseStarted { .. }
        | DomainEvent::PhaseCompleted { .. }
        | DomainEvent::PhaseSkipped { .. }
        | DomainEvent::MilestoneAchieved { key: false, .. }
        | DomainEvent::ScheduleBaselined { .. }
        | DomainEvent::ScopeSigned { .. }
        | DomainEvent::ScopeSuperseded { .. }
        | DomainEvent::ScopeRebased { .. }
        | DomainEvent::ChangeRequestImpactAssessed { .. }
        | DomainEvent::ChangeRequestVotesSuperseded { .. }
        | DomainEvent::ChangeRequestApplied { .. }
        | DomainEvent::DefectLogged {
            critical: false, ..
        }
        | DomainEvent::DefectStatusChanged { .. }
        | DomainEvent::TestExecutionRecorded { .. } => return None,
    };
    Some(route)
}

coded_enum! {
    /// The groups of messages a user sets a delivery preference for.
    NotificationClass, "notification class" {
        ChangeRequest => "CHANGE_REQUEST",
        /// Ballots of every subject, and reminders of votes still due.
        Decision => "DECISION",
        Scope => "SCOPE",
        PhaseGate => "PHASE_GATE",
        /// UAT: defects, and test cycles started and signed off.
        Defect => "DEFECT",
        GoLive => "GO_LIVE",
        /// Milestone health, overdue and due-soon reminders.
        Milestone => "MILESTONE",
        /// The project's own lifecycle: initiated, in execution, on hold, resumed, cancelled,
        /// closed.
        Project => "PROJECT",
    }
}

impl NotificationClass {
    /// The class of a message kind, by the kind's prefix.
    pub fn of_kind(kind: &str) -> Self {
        match kind.split('.').next().unwrap_or_default() {
            "change_request" => Self::ChangeRequest,
            "scope" => Self::Scope,
            "phase" => Self::PhaseGate,
            "defect" | "test_cycle" => Self::Defect,
            "project" => Self::Project,
            "go_live" | "hypercare" => Self::GoLive,
            "milestone" => Self::Milestone,
            "reminder" if kind.ends_with("milestone_due") => Self::Milestone,
            _ => Self::Decision,
        }
    }
}

coded_enum! {
    /// How a user wants a class of messages.
    Delivery, "delivery" {
        /// One email per message, as it happens.
        Immediate => "IMMEDIATE",
        /// Held, then sent with the day's others in one email.
        DailyDigest => "DAILY_DIGEST",
        /// Not sent. Messages that ask for action still come, as they come when digested: at
        /// once.
        Off => "OFF",
    }
}

/// How one message reaches one recipient, given their preference for its class: urgent news,
/// and a message that asks the recipient to act (a vote, a signature, a fix, a retest, whose
/// moment may pass within a day), are never held or dropped.
pub fn delivery(route: &Route, preference: Delivery) -> Delivery {
    match route.urgency {
        Urgency::Critical | Urgency::Urgent => Delivery::Immediate,
        Urgency::Normal if route.action_required => Delivery::Immediate,
        Urgency::Normal => preference,
    }
}

coded_enum! {
    /// Where an outbox row stands.
    NotificationStatus, "notification status" {
        /// Waiting for its next attempt.
        Pending => "PENDING",
        /// Claimed by a worker until its lease runs out.
        Sending => "SENDING",
        Sent => "SENT",
        /// Refused for good, or out of attempts: only `notificationRetry` sends it again.
        Dead => "DEAD",
    }
}

/// How a send attempt failed, as the SMTP answer tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    /// 4xx, a timeout, a refused or dropped connection: worth another try.
    Transient,
    /// 5xx: the server will never take this message.
    Permanent,
}

/// What becomes of a row after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AfterFailure {
    RetryIn(std::time::Duration),
    Dead,
}

/// Exponential backoff with jitter, up to a number of attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: i32,
    /// The wait after the first failure; it doubles with each further one.
    pub base: std::time::Duration,
    pub cap: std::time::Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base: std::time::Duration::from_secs(30),
            cap: std::time::Duration::from_secs(3_600),
        }
    }
}

impl RetryPolicy {
    /// The fate of a row whose attempt number `attempts` (1 for the first) failed.
    /// `jitter` in [0, 1) spreads retries of one outage over the back half of the wait, so
    /// that many rows do not hammer a recovering server in the same second.
    pub fn after_failure(&self, attempts: i32, failure: SendFailure, jitter: f64) -> AfterFailure {
        if failure == SendFailure::Permanent || attempts >= self.max_attempts {
            return AfterFailure::Dead;
        }
        let doublings = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        let wait = self.base.saturating_mul(1 << doublings).min(self.cap);
        AfterFailure::RetryIn(wait.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0)))
    }
}

/// When the scheduler reminds people, read from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderPolicy {
    /// A milestone's owner hears this many days before it falls due.
    pub milestone_due_days: i64,
    /// Voters who have not voted hear once a day after a ballot waited this many hours.
    pub vote_pending_hours: i64,
    /// Daily digests go out from this hour (UTC) on.
    pub digest_hour: u32,
}

impl Default for ReminderPolicy {
    fn default() -> Self {
        Self {
            milestone_due_days: 3,
            vote_pending_hours: 48,
            digest_hour: 7,
        }
    }
}

/// A reminder the scheduler owes for an open milestone due on `due`, as of `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MilestoneReminder {
    DueSoon,
    Overdue { days_late: i64 },
}

/// Due-soon exactly `milestone_due_days` before; overdue on the first day late, then weekly,
/// so a slipping milestone nags without flooding.
pub fn milestone_reminder(
    policy: &ReminderPolicy,
    due: chrono::NaiveDate,
    today: chrono::NaiveDate,
) -> Option<MilestoneReminder> {
    let days_left = (due - today).num_days();
    if days_left == policy.milestone_due_days && days_left > 0 {
        return Some(MilestoneReminder::DueSoon);
    }
    let days_late = -days_left;
    (days_late >= 1 && (days_late - 1) % 7 == 0).then_some(MilestoneReminder::Overdue { days_late })
}

/// Whether the voters of a ballot opened at `opened_at` are due a reminder at `now`.
pub fn vote_reminder_due(
    policy: &ReminderPolicy,
    opened_at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    now - opened_at >= chrono::Duration::hours(policy.vote_pending_hours)
}

/// A project member as routing sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: Uuid,
    pub roles: RoleSet,
}

/// The people an event touches, read by the caller for the event at hand. Parties that do not
/// apply to the event stay empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parties {
    pub members: Vec<Member>,
    pub eligible_voters: Vec<Uuid>,
    pub requester: Option<Uuid>,
    pub informed: Vec<Uuid>,
    pub signatories: Vec<Uuid>,
    pub defect_assignee: Option<Uuid>,
    pub defect_reporter: Option<Uuid>,
    pub phase_owner: Option<Uuid>,
    pub milestone_owner: Option<Uuid>,
    pub war_room: Vec<Uuid>,
    pub pending_voters: Vec<Uuid>,
    /// Whether the change request the event is about has a cost impact other than zero.
    pub costed: bool,
    /// The owners of the milestones the change request shifts or links.
    pub impacted_milestone_owners: Vec<Uuid>,
    /// Users who may not receive mail: deactivated accounts.
    pub inactive: BTreeSet<Uuid>,
}

/// The people a route reaches: each once, never an inactive user, in a stable order. Who of
/// them still hears of the project is [`hears_of_project`]'s to say.
pub fn recipients(route: &Route, parties: &Parties) -> BTreeSet<Uuid> {
    let mut people = BTreeSet::new();
    for audience in &route.audiences {
        match audience {
            Audience::Role(role) => people.extend(
                parties
                    .members
                    .iter()
                    .filter(|m| m.roles.contains(*role))
                    .map(|m| m.user_id),
            ),
            Audience::AllMembers => people.extend(parties.members.iter().map(|m| m.user_id)),
            Audience::EligibleVoters => people.extend(&parties.eligible_voters),
            Audience::Requester => people.extend(parties.requester),
            Audience::Informed => people.extend(&parties.informed),
            Audience::Signatories => people.extend(&parties.signatories),
            Audience::DefectAssignee => people.extend(parties.defect_assignee),
            Audience::DefectReporter => people.extend(parties.defect_reporter),
            Audience::PhaseOwner => people.extend(parties.phase_owner),
            Audience::MilestoneOwner => people.extend(parties.milestone_owner),
            Audience::WarRoom => people.extend(&parties.war_room),
            Audience::PendingVoters => people.extend(&parties.pending_voters),
            Audience::FinanceWhenCosted if parties.costed => people.extend(
                parties
                    .members
                    .iter()
                    .filter(|m| m.roles.contains(ProjectRole::FinanceRep))
                    .map(|m| m.user_id),
            ),
            Audience::FinanceWhenCosted => {}
            Audience::ImpactedMilestoneOwners => {
                people.extend(&parties.impacted_milestone_owners);
            }
        }
    }
    people.retain(|id| !parties.inactive.contains(id));
    people
}

/// Whether someone a route reaches is still to hear of the project: a member, or an
/// administrator (who may act on any project without being one of its members, and raise a
/// change or log a defect there). Someone who left the project (a requester, a reporter, an
/// owner named before they went) hears no more of it.
pub fn hears_of_project(person: Uuid, members: &[Member], admin: bool) -> bool {
    admin || members.iter().any(|member| member.user_id == person)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::decision::DecisionChoice;
    use crate::domain::uat::DefectStatus;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    const PM: u128 = 1;
    const SPONSOR: u128 = 2;
    const COMMITTEE: u128 = 3;
    const QA: u128 = 4;
    const DEVELOPER: u128 = 5;
    const GONE: u128 = 6;

    fn parties() -> Parties {
        let member = |n: u128, roles: &[ProjectRole]| Member {
            user_id: id(n),
            roles: RoleSet::from_input(roles).unwrap(),
        };
        Parties {
            members: vec![
                member(PM, &[ProjectRole::ProjectManager]),
                member(
                    SPONSOR,
                    &[ProjectRole::Sponsor, ProjectRole::SteeringCommittee],
                ),
                member(COMMITTEE, &[ProjectRole::SteeringCommittee]),
                member(QA, &[ProjectRole::Qa]),
                member(DEVELOPER, &[ProjectRole::Vendor]),
                member(GONE, &[ProjectRole::SteeringCommittee]),
            ],
            eligible_voters: vec![id(SPONSOR), id(COMMITTEE), id(GONE)],
            requester: Some(id(QA)),
            defect_assignee: Some(id(DEVELOPER)),
            defect_reporter: Some(id(QA)),
            milestone_owner: Some(id(DEVELOPER)),
            war_room: vec![id(PM), id(DEVELOPER)],
            inactive: BTreeSet::from([id(GONE)]),
            ..Parties::default()
        }
    }

    fn reached(event: DomainEvent) -> Vec<u128> {
        route(&event)
            .map(|r| {
                recipients(&r, &parties())
                    .iter()
                    .map(Uuid::as_u128)
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn people_who_left_the_project_hear_no_more_of_it() {
        const LEFT: u128 = 7;
        let approved = DomainEvent::ChangeRequestStatusChanged {
            change_request_id: id(99),
            from: CrStatus::AwaitingDecision,
            to: CrStatus::Approved,
        };
        let left = Parties {
            requester: Some(id(LEFT)),
            defect_reporter: Some(id(LEFT)),
            pending_voters: vec![id(LEFT), id(COMMITTEE)],
            ..parties()
        };
        let reached = |event: DomainEvent| -> Vec<u128> {
            let route = route(&event).unwrap();
            recipients(&route, &left)
                .into_iter()
                .filter(|person| hears_of_project(*person, &left.members, false))
                .map(|person| person.as_u128())
                .collect()
        };
        assert_eq!(reached(approved.clone()), [PM, SPONSOR, COMMITTEE]);
        // An administrator who raised the change without being a member hears of it.
        let approved_route = route(&approved).unwrap();
        assert!(recipients(&approved_route, &left).contains(&id(LEFT)));
        assert!(hears_of_project(id(LEFT), &left.members, true));
        assert_eq!(
            reached(DomainEvent::DefectReadyForRetest { defect_id: id(99) }),
            [] as [u128; 0]
        );
        assert_eq!(
            reached(DomainEvent::VotePending {
                decision_id: id(99)
            }),
            [COMMITTEE]
        );
    }

    #[test]
    fn change_requests_reach_the_pm_then_the_requester() {
        let changed = |from, to| DomainEvent::ChangeRequestStatusChanged {
            change_request_id: id(99),
            from,
            to,
        };
        use CrStatus as S;
        let nobody: [u128; 0] = [];
        // QA raised the change.
        assert_eq!(reached(changed(S::Draft, S::Submitted)), [PM]);
        assert_eq!(reached(changed(S::Submitted, S::UnderAssessment)), nobody);
        for from in [S::UnderAssessment, S::AwaitingDecision] {
            let asked = changed(from, S::InfoRequested);
            assert!(route(&asked).unwrap().action_required, "only QA can answer");
            assert_eq!(reached(asked), [QA]);
        }
        assert_eq!(reached(changed(S::InfoRequested, S::UnderAssessment)), [PM]);
        assert_eq!(
            reached(changed(S::UnderAssessment, S::AwaitingDecision)),
            [QA]
        );
        assert_eq!(
            reached(changed(S::AwaitingDecision, S::Approved)),
            [PM, SPONSOR, COMMITTEE, QA]
        );
        for to in [S::InImplementation, S::Implemented] {
            let carried_out = changed(S::Approved, to);
            assert!(!route(&carried_out).unwrap().action_required);
            assert_eq!(reached(carried_out), [SPONSOR, COMMITTEE, QA], "{to:?}");
        }
        assert_eq!(reached(changed(S::Implemented, S::Closed)), [QA]);
        // A rejected change is filed, a withdrawn one was the requester's own doing.
        assert_eq!(reached(changed(S::Rejected, S::Closed)), nobody);
        assert_eq!(reached(changed(S::Submitted, S::Withdrawn)), nobody);
        assert_eq!(
            route(&changed(S::Implemented, S::Closed)).unwrap().class(),
            NotificationClass::ChangeRequest
        );
    }

    #[test]
    fn a_ballot_needs_its_active_voters_and_cannot_be_turned_off() {
        let opened = DomainEvent::DecisionOpened {
            decision_id: id(99),
            subject: DecisionSubject::ChangeRequest,
        };
        assert!(route(&opened).unwrap().action_required);
        assert_eq!(reached(opened), [SPONSOR, COMMITTEE]);
    }

    #[test]
    fn gate_and_go_live_ballots_are_announced_once_by_their_own_events() {
        for subject in [
            DecisionSubject::ChangeRequest,
            DecisionSubject::PhaseGate,
            DecisionSubject::GoLive,
        ] {
            let closed = DomainEvent::DecisionClosed {
                decision_id: id(99),
                subject,
                outcome: Some(DecisionChoice::Go),
            };
            assert_eq!(route(&closed), None);
        }
        let decided = DomainEvent::GateDecided {
            phase_id: id(99),
            outcome: Some(DecisionChoice::Go),
        };
        assert_eq!(reached(decided), [PM, SPONSOR, COMMITTEE, QA, DEVELOPER]);
    }

    #[test]
    fn defects_reach_the_people_of_the_fix_retest_loop() {
        assert_eq!(
            reached(DomainEvent::DefectLogged {
                defect_id: id(99),
                critical: true
            }),
            [PM, QA]
        );
        assert_eq!(
            reached(DomainEvent::DefectLogged {
                defect_id: id(99),
                critical: false
            }),
            [] as [u128; 0]
        );
        assert_eq!(
            reached(DomainEvent::DefectEscalated { defect_id: id(99) }),
            [PM, QA]
        );
        assert_eq!(
            reached(DomainEvent::DefectAssigned {
                defect_id: id(99),
                assignee_id: id(DEVELOPER)
            }),
            [DEVELOPER]
        );
        assert_eq!(
            reached(DomainEvent::DefectReadyForRetest { defect_id: id(99) }),
            [QA]
        );
        assert_eq!(
            reached(DomainEvent::DefectReopened { defect_id: id(99) }),
            [PM, DEVELOPER]
        );
        assert_eq!(
            reached(DomainEvent::DefectStatusChanged {
                defect_id: id(99),
                from: DefectStatus::New,
                to: DefectStatus::Triaged
            }),
            [] as [u128; 0]
        );
    }

    #[test]
    fn a_rollback_reaches_everyone_before_anything_else() {
        let started = DomainEvent::RollbackStarted {
            plan_id: id(99),
            forced: false,
        };
        let route = route(&started).unwrap();
        assert_eq!(route.urgency, Urgency::Critical);
        assert!(
            [Urgency::Urgent, Urgency::Normal]
                .iter()
                .all(|other| route.urgency < *other)
        );
        assert_eq!(reached(started), [PM, SPONSOR, COMMITTEE, QA, DEVELOPER]);
    }

    #[test]
    fn go_no_go_and_a_new_date_reach_the_whole_team() {
        let changed = |from, to| DomainEvent::GoLiveStatusChanged {
            plan_id: id(99),
            from,
            to,
        };
        let everyone = [PM, SPONSOR, COMMITTEE, QA, DEVELOPER];
        for to in [PlanStatus::ApprovedGo, PlanStatus::NoGo] {
            assert_eq!(reached(changed(PlanStatus::ReadyForDecision, to)), everyone);
        }
        for from in [
            PlanStatus::NoGo,
            PlanStatus::ApprovedGo,
            PlanStatus::RolledBack,
        ] {
            let rescheduled = changed(from, PlanStatus::Draft);
            assert_eq!(route(&rescheduled).unwrap().kind, "go_live.rescheduled");
            assert_eq!(reached(rescheduled), everyone);
        }
        assert_eq!(
            reached(changed(
                PlanStatus::CutoverInProgress,
                PlanStatus::RollbackInProgress
            )),
            [] as [u128; 0]
        );
    }

    /// A sponsor who does not sit on the committee, and a business representative (UAT's
    /// tester), beside the usual team.
    const SPONSOR_ONLY: u128 = 8;
    const TESTER: u128 = 9;

    fn reached_with_sponsor_and_tester(event: DomainEvent) -> Vec<u128> {
        let mut parties = parties();
        for (n, role) in [
            (SPONSOR_ONLY, ProjectRole::Sponsor),
            (TESTER, ProjectRole::BusinessRep),
        ] {
            parties.members.push(Member {
                user_id: id(n),
                roles: RoleSet::from_input(&[role]).unwrap(),
            });
        }
        route(&event)
            .map(|r| recipients(&r, &parties).iter().map(Uuid::as_u128).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_change_request_decided_reaches_the_sponsor_off_the_committee_too() {
        let approved = DomainEvent::ChangeRequestStatusChanged {
            change_request_id: id(99),
            from: CrStatus::AwaitingDecision,
            to: CrStatus::Approved,
        };
        assert_eq!(
            reached_with_sponsor_and_tester(approved),
            [PM, SPONSOR, COMMITTEE, QA, SPONSOR_ONLY]
        );
    }

    #[test]
    fn a_gate_requested_reaches_the_committee_the_phase_owner_and_the_sponsors() {
        let requested = DomainEvent::GateRequested {
            phase_id: id(99),
            decision_id: id(98),
        };
        let route = route(&requested).unwrap();
        assert!(
            !route.action_required,
            "the ballot itself asks for the vote"
        );
        assert_eq!(
            reached_with_sponsor_and_tester(requested.clone()),
            [SPONSOR, COMMITTEE, SPONSOR_ONLY],
            "a phase without an owner"
        );
        let owned = Parties {
            phase_owner: Some(id(DEVELOPER)),
            ..parties()
        };
        assert_eq!(
            recipients(&route, &owned)
                .iter()
                .map(Uuid::as_u128)
                .collect::<Vec<_>>(),
            [SPONSOR, COMMITTEE, DEVELOPER]
        );
        let owned_by_someone_gone = Parties {
            phase_owner: Some(id(GONE)),
            ..parties()
        };
        assert!(!recipients(&route, &owned_by_someone_gone).contains(&id(GONE)));
    }

    #[test]
    fn a_change_request_decided_reaches_finance_when_it_costs_and_the_owners_of_what_it_moves() {
        const FINANCE: u128 = 10;
        const OWNER: u128 = 11;
        let decided = |to| DomainEvent::ChangeRequestStatusChanged {
            change_request_id: id(99),
            from: CrStatus::AwaitingDecision,
            to,
        };
        let reached = |event: DomainEvent, costed: bool| -> Vec<u128> {
            let mut parties = parties();
            parties.members.push(Member {
                user_id: id(FINANCE),
                roles: RoleSet::from_input(&[ProjectRole::FinanceRep]).unwrap(),
            });
            parties.costed = costed;
            parties.impacted_milestone_owners = vec![id(OWNER), id(DEVELOPER)];
            route(&event)
                .map(|r| recipients(&r, &parties).iter().map(Uuid::as_u128).collect())
                .unwrap_or_default()
        };
        for to in [CrStatus::Approved, CrStatus::Rejected, CrStatus::Deferred] {
            assert_eq!(
                reached(decided(to), true),
                [PM, SPONSOR, COMMITTEE, QA, DEVELOPER, FINANCE, OWNER]
            );
            assert_eq!(
                reached(decided(to), false),
                [PM, SPONSOR, COMMITTEE, QA, DEVELOPER, OWNER]
            );
        }
        assert_eq!(reached(decided(CrStatus::Submitted), true), [PM]);
    }

    #[test]
    fn a_project_put_on_hold_resumed_or_cancelled_reaches_everyone() {
        use crate::domain::project::ProjectStatus as S;
        let changed = |from, to| DomainEvent::ProjectStatusChanged {
            from,
            to,
            reason: None,
        };
        let everyone = [PM, SPONSOR, COMMITTEE, QA, DEVELOPER, SPONSOR_ONLY, TESTER];
        for (from, to, kind, urgency) in [
            (
                S::InExecution,
                S::OnHold,
                "project.on_hold",
                Urgency::Urgent,
            ),
            (
                S::Initiated,
                S::Cancelled,
                "project.cancelled",
                Urgency::Urgent,
            ),
            (
                S::OnHold,
                S::Cancelled,
                "project.cancelled",
                Urgency::Urgent,
            ),
            (
                S::OnHold,
                S::InExecution,
                "project.resumed",
                Urgency::Normal,
            ),
        ] {
            let event = changed(from, to);
            let route = route(&event).unwrap();
            assert_eq!((route.kind, route.urgency), (kind, urgency));
            assert_eq!(route.class(), NotificationClass::Project);
            assert_eq!(reached_with_sponsor_and_tester(event), everyone);
        }
        for (from, to) in [
            (S::InExecution, S::LiveHypercare),
            (S::LiveHypercare, S::Optimization),
            // A completed rollback: the plan's go_live.rolled_back tells everyone.
            (S::LiveHypercare, S::InExecution),
            (S::Optimization, S::InExecution),
        ] {
            assert_eq!(route(&changed(from, to)), None);
        }
    }

    /// DOMAIN §12.1: initiation and the start of execution reach the whole team (the committee
    /// included); the close reaches the PM, the sponsor, the committee and finance.
    #[test]
    fn a_project_initiated_started_or_closed_reaches_the_people_the_lifecycle_names() {
        use crate::domain::project::ProjectStatus as S;
        const FINANCE: u128 = 10;
        let changed = |from, to| DomainEvent::ProjectStatusChanged {
            from,
            to,
            reason: None,
        };
        let everyone = [PM, SPONSOR, COMMITTEE, QA, DEVELOPER, SPONSOR_ONLY, TESTER];
        for (from, to, kind) in [
            (S::Proposed, S::Initiated, "project.initiated"),
            (S::Initiated, S::InExecution, "project.execution_started"),
        ] {
            let event = changed(from, to);
            let route = route(&event).unwrap();
            assert_eq!((route.kind, route.urgency), (kind, Urgency::Normal));
            assert_eq!(route.class(), NotificationClass::Project);
            assert_eq!(reached_with_sponsor_and_tester(event), everyone);
        }
        let closed = changed(S::Optimization, S::Closed);
        assert_eq!(route(&closed).unwrap().kind, "project.closed");
        let finance = Parties {
            members: vec![Member {
                user_id: id(FINANCE),
                roles: RoleSet::from_input(&[ProjectRole::FinanceRep]).unwrap(),
            }],
            ..parties()
        };
        let reached: Vec<u128> = recipients(&route(&closed).unwrap(), &finance)
            .iter()
            .map(Uuid::as_u128)
            .collect();
        assert_eq!(reached, [FINANCE]);
        assert_eq!(
            reached_with_sponsor_and_tester(closed),
            [PM, SPONSOR, COMMITTEE, SPONSOR_ONLY]
        );
        // A project resumed into execution is resumed, not started again.
        let resumed = route(&changed(S::OnHold, S::InExecution)).unwrap();
        assert_eq!(resumed.kind, "project.resumed");
    }

    #[test]
    fn a_test_cycle_started_asks_the_business_to_test_and_its_sign_off_reaches_the_deciders() {
        use crate::domain::uat::CycleStatus as S;
        let changed = |from, to| DomainEvent::TestCycleStatusChanged {
            cycle_id: id(99),
            from,
            to,
        };
        let started = changed(S::Planned, S::Running);
        let route_of_start = route(&started).unwrap();
        assert!(route_of_start.action_required);
        assert_eq!(route_of_start.class(), NotificationClass::Defect);
        assert_eq!(reached_with_sponsor_and_tester(started), [TESTER]);
        assert_eq!(
            reached_with_sponsor_and_tester(changed(S::Completed, S::SignedOff)),
            [PM, SPONSOR, COMMITTEE, SPONSOR_ONLY]
        );
        for (from, to) in [(S::Running, S::Completed), (S::Running, S::Failed)] {
            assert_eq!(route(&changed(from, to)), None);
        }
    }

    #[test]
    fn slipping_milestones_reach_their_owner_and_the_pm_and_the_sponsor_once_at_risk() {
        let health = |to| DomainEvent::MilestoneHealthChanged {
            milestone_id: id(99),
            from: Health::Green,
            to,
        };
        assert_eq!(
            reached_with_sponsor_and_tester(health(Health::Red)),
            [PM, SPONSOR, DEVELOPER, SPONSOR_ONLY]
        );
        assert_eq!(
            reached_with_sponsor_and_tester(DomainEvent::MilestoneMissed {
                milestone_id: id(99)
            }),
            [PM, SPONSOR, DEVELOPER, SPONSOR_ONLY]
        );
        assert_eq!(reached(health(Health::Amber)), [PM, DEVELOPER]);
        assert_eq!(reached(health(Health::Green)), [] as [u128; 0]);
        assert_eq!(
            reached(DomainEvent::MilestoneOverdue {
                milestone_id: id(99)
            }),
            [PM, DEVELOPER]
        );
    }

    #[test]
    fn a_key_milestone_achieved_reaches_the_whole_team_and_another_nobody() {
        let achieved = |key| DomainEvent::MilestoneAchieved {
            milestone_id: id(99),
            key,
        };
        assert_eq!(
            reached_with_sponsor_and_tester(achieved(true)),
            [PM, SPONSOR, COMMITTEE, QA, DEVELOPER, SPONSOR_ONLY, TESTER]
        );
        let route = route(&achieved(true)).unwrap();
        assert_eq!(route.class(), NotificationClass::Milestone);
        assert!(!route.action_required);
        assert_eq!(reached(achieved(false)), [] as [u128; 0]);
    }

    #[test]
    fn the_daily_open_defects_report_reaches_the_pms_and_the_business() {
        let due = DomainEvent::OpenDefectsReportDue { cycle_id: id(99) };
        assert_eq!(reached_with_sponsor_and_tester(due.clone()), [PM, TESTER]);
        let route = route(&due).unwrap();
        assert_eq!(route.class(), NotificationClass::Defect);
        assert_eq!(route.urgency, Urgency::Normal, "it may wait for a digest");
        assert!(!route.action_required);
    }

    #[test]
    fn nobody_hears_twice_and_inactive_users_never() {
        // The requester is also QA and the PM a War Room member: each appears once.
        let route = Route::to(
            "test",
            &[
                Audience::Requester,
                Audience::Role(ProjectRole::Qa),
                Audience::WarRoom,
                Audience::Role(ProjectRole::ProjectManager),
                Audience::EligibleVoters,
            ],
        );
        let people: Vec<u128> = recipients(&route, &parties())
            .iter()
            .map(Uuid::as_u128)
            .collect();
        assert_eq!(people, [PM, SPONSOR, COMMITTEE, QA, DEVELOPER]);
    }

    #[test]
    fn every_routed_kind_falls_in_the_class_of_its_prefix() {
        use NotificationClass::*;
        let cases = [
            ("change_request.approved", ChangeRequest),
            ("decision.opened", Decision),
            ("reminder.vote_pending", Decision),
            ("reminder.milestone_due", Milestone),
            ("milestone.overdue", Milestone),
            ("scope.baselined", Scope),
            ("phase.gate_decided", PhaseGate),
            ("defect.assigned", Defect),
            ("go_live.rollback_started", GoLive),
            ("hypercare.metric_breached", GoLive),
        ];
        for (kind, class) in cases {
            assert_eq!(NotificationClass::of_kind(kind), class, "{kind}");
        }
    }

    #[test]
    fn preferences_hold_or_drop_only_what_may_wait() {
        let normal = Route::to("scope.baselined", &[]);
        let action = Route::to("decision.opened", &[]).action_required();
        let urgent = Route::to("defect.critical_logged", &[]).urgency(Urgency::Urgent);
        let rollback = Route::to("go_live.rollback_started", &[]).urgency(Urgency::Critical);
        for preference in Delivery::ALL {
            assert_eq!(delivery(&normal, preference), preference);
            assert_eq!(delivery(&urgent, preference), Delivery::Immediate);
            assert_eq!(delivery(&rollback, preference), Delivery::Immediate);
        }
        for preference in Delivery::ALL {
            assert_eq!(delivery(&action, preference), Delivery::Immediate);
        }
    }

    #[test]
    fn retries_back_off_exponentially_then_give_up() {
        use std::time::Duration;
        let policy = RetryPolicy::default();
        let wait =
            |attempts, jitter| match policy.after_failure(attempts, SendFailure::Transient, jitter)
            {
                AfterFailure::RetryIn(wait) => wait,
                AfterFailure::Dead => panic!("dead after {attempts}"),
            };
        assert_eq!(wait(1, 1.0), Duration::from_secs(30));
        assert_eq!(wait(1, 0.0), Duration::from_secs(15));
        assert_eq!(wait(2, 1.0), Duration::from_secs(60));
        assert_eq!(wait(3, 1.0), Duration::from_secs(120));
        assert_eq!(wait(7, 1.0), Duration::from_secs(1_920));
        assert_eq!(
            policy.after_failure(8, SendFailure::Transient, 0.5),
            AfterFailure::Dead
        );
        assert_eq!(
            policy.after_failure(1, SendFailure::Permanent, 0.5),
            AfterFailure::Dead
        );
        let capped = RetryPolicy {
            max_attempts: 100,
            ..policy
        };
        assert_eq!(
            capped.after_failure(40, SendFailure::Transient, 1.0),
            AfterFailure::RetryIn(Duration::from_secs(3_600))
        );
    }

    #[test]
    fn milestones_remind_before_and_nag_weekly_after() {
        let policy = ReminderPolicy::default();
        let due = chrono::NaiveDate::from_ymd_opt(2027, 3, 10).unwrap();
        let on = |day: u32| {
            milestone_reminder(
                &policy,
                due,
                chrono::NaiveDate::from_ymd_opt(2027, 3, day).unwrap(),
            )
        };
        assert_eq!(on(7), Some(MilestoneReminder::DueSoon));
        assert_eq!(on(6), None);
        assert_eq!(on(8), None);
        assert_eq!(on(10), None);
        assert_eq!(on(11), Some(MilestoneReminder::Overdue { days_late: 1 }));
        assert_eq!(on(12), None);
        assert_eq!(on(18), Some(MilestoneReminder::Overdue { days_late: 8 }));
    }

    #[test]
    fn voters_are_reminded_once_the_ballot_has_waited_long_enough() {
        let policy = ReminderPolicy::default();
        let opened = chrono::DateTime::parse_from_rfc3339("2027-03-01T09:00:00Z")
            .unwrap()
            .to_utc();
        assert!(!vote_reminder_due(
            &policy,
            opened,
            opened + chrono::Duration::hours(47)
        ));
        assert!(vote_reminder_due(
            &policy,
            opened,
            opened + chrono::Duration::hours(48)
        ));
    }
}
