//! Domain events: what happened, as facts other parts (audit, notifications, subscriptions)
//! react to. Each accepted lifecycle command emits at least one.

use super::project::ProjectStatus;
use super::role::ProjectRole;

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
        }
    }
}
