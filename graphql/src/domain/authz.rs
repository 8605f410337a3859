//! Who may do what on a project: one pure policy, the source of the README permission table.
//!
//! The service layer first hides a project from non-members (they get `NOT_FOUND`), then asks
//! [`permits`] whether a member's roles allow the operation (`FORBIDDEN` when not).

use super::project::ProjectAction;
use super::role::{ProjectRole, RoleSet};

/// Operations on one project's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectOperation {
    /// See the project, its members and its audit trail.
    Read,
    /// Edit the project's attributes.
    Update,
    /// Move the project through its lifecycle.
    Transition(ProjectAction),
    /// Add, change or remove members.
    ManageMembers,
    /// Edit the plan: phases, exit criteria, deliverables, milestones, dependencies,
    /// baselines, and requests for gate and skip decisions.
    ManagePlan,
    /// Raise a change request or comment on one: any member but a mere VIEWER.
    RaiseChange,
    /// Manage test scenarios and cycles and record executions: PM, QA, business
    /// representatives and super users (the people who run UAT).
    ManageTests,
}

/// The caller as the policy sees them on one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub admin: bool,
    pub roles: RoleSet,
}

impl Subject {
    pub fn is_member(&self) -> bool {
        !self.roles.is_empty()
    }

    /// Admins see every project; anyone else only the projects they are a member of.
    pub fn can_see_project(&self) -> bool {
        self.admin || self.is_member()
    }
}

/// Whether `subject` may perform `operation`.
pub fn permits(subject: &Subject, operation: ProjectOperation) -> bool {
    if subject.admin {
        return true;
    }
    let has = |role| subject.roles.contains(role);
    match operation {
        ProjectOperation::Read => subject.is_member(),
        ProjectOperation::Update
        | ProjectOperation::ManageMembers
        | ProjectOperation::ManagePlan => has(ProjectRole::ProjectManager),
        ProjectOperation::RaiseChange => {
            subject.roles.iter().any(|role| role != ProjectRole::Viewer)
        }
        ProjectOperation::ManageTests => {
            has(ProjectRole::ProjectManager)
                || has(ProjectRole::Qa)
                || has(ProjectRole::BusinessRep)
                || has(ProjectRole::SuperUser)
        }
        ProjectOperation::Transition(action) => {
            has(ProjectRole::ProjectManager) || (has(ProjectRole::Sponsor) && sponsor_may(action))
        }
    }
}

/// The sponsor approves initiation and may pause, resume, cancel or close the project
/// (DOMAIN §12.1); the day-to-day moves are the project manager's. GO_LIVE and
/// START_OPTIMIZATION are refused to everyone who passes here (the go-live plan makes those
/// moves), so who may ask for them only decides between FORBIDDEN and that refusal.
fn sponsor_may(action: ProjectAction) -> bool {
    match action {
        ProjectAction::Initiate
        | ProjectAction::Hold
        | ProjectAction::Resume
        | ProjectAction::Cancel
        | ProjectAction::Close => true,
        ProjectAction::StartExecution
        | ProjectAction::GoLive
        | ProjectAction::StartOptimization => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(roles: &[ProjectRole]) -> Subject {
        Subject {
            admin: false,
            roles: RoleSet::from_input(roles).unwrap(),
        }
    }

    #[test]
    fn non_members_may_do_nothing() {
        let stranger = Subject {
            admin: false,
            roles: RoleSet::none(),
        };
        assert!(!stranger.can_see_project());
        assert!(!permits(&stranger, ProjectOperation::Read));
    }

    #[test]
    fn admins_may_do_everything() {
        let admin = Subject {
            admin: true,
            roles: RoleSet::none(),
        };
        assert!(admin.can_see_project());
        for action in ProjectAction::ALL {
            assert!(permits(&admin, ProjectOperation::Transition(action)));
        }
        assert!(permits(&admin, ProjectOperation::ManageMembers));
    }

    #[test]
    fn only_the_project_manager_edits_and_manages_members() {
        for role in ProjectRole::ALL {
            let subject = member(&[role]);
            assert!(permits(&subject, ProjectOperation::Read), "{role:?}");
            let manages = role == ProjectRole::ProjectManager;
            assert_eq!(
                permits(&subject, ProjectOperation::Update),
                manages,
                "{role:?}"
            );
            assert_eq!(
                permits(&subject, ProjectOperation::ManageMembers),
                manages,
                "{role:?}"
            );
        }
    }

    #[test]
    fn the_sponsor_approves_initiation_but_does_not_run_the_plan() {
        let sponsor = member(&[ProjectRole::Sponsor]);
        assert!(permits(
            &sponsor,
            ProjectOperation::Transition(ProjectAction::Initiate)
        ));
        assert!(permits(
            &sponsor,
            ProjectOperation::Transition(ProjectAction::Cancel)
        ));
        assert!(!permits(
            &sponsor,
            ProjectOperation::Transition(ProjectAction::StartExecution)
        ));
        let committee = member(&[ProjectRole::SteeringCommittee]);
        assert!(!permits(
            &committee,
            ProjectOperation::Transition(ProjectAction::Initiate)
        ));
    }
}
