//! Who hears of what: the routing table from domain events to the parties who must be told,
//! and the resolution of those parties to people. Delivery (outbox, templates, SMTP) builds on
//! these two functions; they read no database.
//!
//! | event | audience | |
//! |---|---|---|
//! | change request SUBMITTED | project managers | |
//! | change request APPROVED / REJECTED / DEFERRED | requester, project managers | |
//! | ballot opened (any subject) | its eligible voters | action required |
//! | vote cast | requester, project managers | |
//! | change-request ballot closed | steering committee, Informed on the affected activities | |
//! | re-baseline or skip ballot closed | project managers, steering committee | |
//! | scope review opened | signatories | action required |
//! | scope rejected | project managers | |
//! | scope baselined | all members | |
//! | gate requested | steering committee | |
//! | gate decided | all members | |
//! | CRITICAL defect logged | project managers, QA | urgent |
//! | defect assigned | the assignee | action required |
//! | defect ready for retest | its reporter | action required |
//! | defect reopened | its assignee, project managers | |
//! | go-live GO | all members | |
//! | go-live NO_GO | project managers, sponsors, steering committee | |
//! | live, rolled back, hypercare closed | all members | |
//! | rollback started | all members, sponsors | urgent, before anything else |
//! | hypercare metric breached | project managers, the War Room | urgent |
//! | milestone AMBER / RED, overdue or missed | its owner, project managers | |
//!
//! Every other event is recorded and streamed but not mailed. Gate and go-live ballots close
//! with their own phase and plan events, so their `DecisionClosed` is not mailed twice.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::change_request::CrStatus;
use super::decision::DecisionSubject;
use super::event::DomainEvent;
use super::go_live::PlanStatus;
use super::role::{ProjectRole, RoleSet};
use super::schedule::Health;

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
    MilestoneOwner,
    /// The plan's War Room roster.
    WarRoom,
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

/// Where an event goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub audiences: Vec<Audience>,
    pub urgency: Urgency,
    /// The recipient must act (vote, sign, fix, retest): such messages cannot be turned off.
    pub action_required: bool,
}

impl Route {
    fn to(audiences: &[Audience]) -> Self {
        Self {
            audiences: audiences.to_vec(),
            urgency: Urgency::Normal,
            action_required: false,
        }
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
    use ProjectRole::{ProjectManager, Qa, Sponsor, SteeringCommittee};
    let route = match event {
        DomainEvent::ChangeRequestStatusChanged { to, .. } => match to {
            CrStatus::Submitted => Route::to(&[Role(ProjectManager)]),
            CrStatus::Approved | CrStatus::Rejected | CrStatus::Deferred => {
                Route::to(&[Requester, Role(ProjectManager)])
            }
            _ => return None,
        },
        DomainEvent::DecisionOpened { .. } => Route::to(&[EligibleVoters]).action_required(),
        DomainEvent::VoteCast { .. } => Route::to(&[Requester, Role(ProjectManager)]),
        DomainEvent::DecisionClosed { subject, .. } => match subject {
            DecisionSubject::ChangeRequest => Route::to(&[Role(SteeringCommittee), Informed]),
            DecisionSubject::ScheduleRebaseline | DecisionSubject::PhaseSkip => {
                Route::to(&[Role(ProjectManager), Role(SteeringCommittee)])
            }
            DecisionSubject::PhaseGate | DecisionSubject::GoLive => return None,
        },
        DomainEvent::ScopeReviewOpened { .. } => Route::to(&[Signatories]).action_required(),
        DomainEvent::ScopeRejected { .. } => Route::to(&[Role(ProjectManager)]),
        DomainEvent::ScopeBaselined { .. } => Route::to(&[AllMembers]),
        DomainEvent::GateRequested { .. } => Route::to(&[Role(SteeringCommittee)]),
        DomainEvent::GateDecided { .. } => Route::to(&[AllMembers]),
        DomainEvent::DefectLogged { critical: true, .. } => {
            Route::to(&[Role(ProjectManager), Role(Qa)]).urgency(Urgency::Urgent)
        }
        DomainEvent::DefectAssigned { .. } => Route::to(&[DefectAssignee]).action_required(),
        DomainEvent::DefectReadyForRetest { .. } => Route::to(&[DefectReporter]).action_required(),
        DomainEvent::DefectReopened { .. } => Route::to(&[DefectAssignee, Role(ProjectManager)]),
        DomainEvent::GoLiveStatusChanged { to, .. } => match to {
            PlanStatus::ApprovedGo
            | PlanStatus::Live
            | PlanStatus::RolledBack
            | PlanStatus::Closed => Route::to(&[AllMembers]),
            PlanStatus::NoGo => {
                Route::to(&[Role(ProjectManager), Role(Sponsor), Role(SteeringCommittee)])
            }
            // The rollback has its own, louder event.
            PlanStatus::RollbackInProgress
            | PlanStatus::Draft
            | PlanStatus::ReadyForDecision
            | PlanStatus::CutoverInProgress => return None,
        },
        DomainEvent::RollbackStarted { .. } => {
            Route::to(&[AllMembers, Role(Sponsor)]).urgency(Urgency::Critical)
        }
        DomainEvent::HypercareMetricBreached { .. } => {
            Route::to(&[Role(ProjectManager), WarRoom]).urgency(Urgency::Urgent)
        }
        DomainEvent::MilestoneHealthChanged { to, .. } => match to {
            Health::Amber | Health::Red => Route::to(&[MilestoneOwner, Role(ProjectManager)]),
            Health::Green => return None,
        },
        DomainEvent::MilestoneOverdue { .. } | DomainEvent::MilestoneMissed { .. } => {
            Route::to(&[MilestoneOwner, Role(ProjectManager)])
        }
        DomainEvent::ProjectCreated
        | DomainEvent::ProjectUpdated
        | DomainEvent::ProjectStatusChanged { .. }
        | DomainEvent::MemberAdded { .. }
        | DomainEvent::MemberRolesChanged { .. }
        | DomainEvent::MemberRemoved { .. }
        | DomainEvent::PhaseStarted { .. }
        | DomainEvent::PhaseCompleted { .. }
        | DomainEvent::PhaseSkipped { .. }
        | DomainEvent::MilestoneAchieved { .. }
        | DomainEvent::ScheduleBaselined { .. }
        | DomainEvent::ScopeSigned { .. }
        | DomainEvent::ScopeSuperseded { .. }
        | DomainEvent::ChangeRequestImpactAssessed { .. }
        | DomainEvent::ChangeRequestVotesSuperseded { .. }
        | DomainEvent::ChangeRequestApplied { .. }
        | DomainEvent::DefectLogged {
            critical: false, ..
        }
        | DomainEvent::DefectStatusChanged { .. }
        | DomainEvent::TestCycleStatusChanged { .. }
        | DomainEvent::TestExecutionRecorded { .. } => return None,
    };
    Some(route)
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
    pub milestone_owner: Option<Uuid>,
    pub war_room: Vec<Uuid>,
    /// Users who may not receive mail: deactivated accounts.
    pub inactive: BTreeSet<Uuid>,
}

/// The people a route reaches: each once, never an inactive user, in a stable order.
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
            Audience::MilestoneOwner => people.extend(parties.milestone_owner),
            Audience::WarRoom => people.extend(&parties.war_room),
        }
    }
    people.retain(|id| !parties.inactive.contains(id));
    people
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
    fn change_requests_reach_the_pm_then_the_requester() {
        let changed = |to| DomainEvent::ChangeRequestStatusChanged {
            change_request_id: id(99),
            from: CrStatus::Draft,
            to,
        };
        assert_eq!(reached(changed(CrStatus::Submitted)), [PM]);
        assert_eq!(reached(changed(CrStatus::Approved)), [PM, QA]);
        assert_eq!(reached(changed(CrStatus::UnderAssessment)), [] as [u128; 0]);
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
        for subject in [DecisionSubject::PhaseGate, DecisionSubject::GoLive] {
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
    fn go_reaches_all_members_and_no_go_the_deciders() {
        let changed = |to| DomainEvent::GoLiveStatusChanged {
            plan_id: id(99),
            from: PlanStatus::ReadyForDecision,
            to,
        };
        assert_eq!(
            reached(changed(PlanStatus::ApprovedGo)),
            [PM, SPONSOR, COMMITTEE, QA, DEVELOPER]
        );
        assert_eq!(reached(changed(PlanStatus::NoGo)), [PM, SPONSOR, COMMITTEE]);
        assert_eq!(
            reached(changed(PlanStatus::RollbackInProgress)),
            [] as [u128; 0]
        );
    }

    #[test]
    fn slipping_milestones_reach_their_owner_and_the_pm() {
        let health = |to| DomainEvent::MilestoneHealthChanged {
            milestone_id: id(99),
            from: Health::Green,
            to,
        };
        assert_eq!(reached(health(Health::Red)), [PM, DEVELOPER]);
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
    fn nobody_hears_twice_and_inactive_users_never() {
        // The requester is also QA and the PM a War Room member: each appears once.
        let route = Route::to(&[
            Audience::Requester,
            Audience::Role(ProjectRole::Qa),
            Audience::WarRoom,
            Audience::Role(ProjectRole::ProjectManager),
            Audience::EligibleVoters,
        ]);
        let people: Vec<u128> = recipients(&route, &parties())
            .iter()
            .map(Uuid::as_u128)
            .collect();
        assert_eq!(people, [PM, SPONSOR, COMMITTEE, QA, DEVELOPER]);
    }
}
