//! Who the caller is on a project: loads membership and applies [`crate::domain::authz`].

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use steerco_entity::{project, project_member};
use uuid::Uuid;

use super::{Actor, ServiceError, ServiceResult, backend_of, for_update};
use crate::domain::Refusal;
use crate::domain::authz::{ProjectOperation, Subject, permits};
use crate::domain::role::RoleSet;

/// The caller's roles on a project (empty when not a member).
pub async fn subject_on(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    project_id: Uuid,
) -> ServiceResult<Subject> {
    let membership = project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(project_id))
        .filter(project_member::Column::UserId.eq(actor.user_id))
        .one(conn)
        .await?;
    let roles = match membership {
        Some(member) => stored_roles(&member.roles)?,
        None => RoleSet::none(),
    };
    Ok(Subject {
        admin: actor.admin,
        roles,
    })
}

/// Parses a stored role list; a bad one is data corruption, not the caller's fault.
pub fn stored_roles(stored: &str) -> ServiceResult<RoleSet> {
    RoleSet::from_stored(stored).map_err(|e| ServiceError::Internal(format!("stored roles: {e}")))
}

/// Loads a project for a command and checks the caller may perform `operation` on it.
///
/// A project the caller may not see is reported exactly like one that does not exist. The row
/// is locked on PostgreSQL until the transaction ends.
pub async fn project_for(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    project_id: Uuid,
    field: &[&str],
    operation: ProjectOperation,
) -> ServiceResult<(project::Model, Subject)> {
    let select = for_update(project::Entity::find_by_id(project_id), backend_of(conn));
    let project = select.one(conn).await?;
    let subject = subject_on(conn, actor, project_id).await?;
    let Some(project) = project.filter(|_| subject.can_see_project()) else {
        return Err(Refusal::not_found(field, "project").into());
    };
    if !permits(&subject, operation) {
        return Err(ServiceError::Forbidden);
    }
    Ok((project, subject))
}

/// Loads a project for reading, or `None` when it does not exist or the caller may not see it.
pub async fn visible_project(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    project_id: Uuid,
) -> ServiceResult<Option<project::Model>> {
    let Some(project) = project::Entity::find_by_id(project_id).one(conn).await? else {
        return Ok(None);
    };
    let subject = subject_on(conn, actor, project_id).await?;
    Ok(subject.can_see_project().then_some(project))
}
