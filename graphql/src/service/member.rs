//! Project membership: who is on a project, with which roles.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use steerco_entity::{project, project_member};
use uuid::Uuid;

use super::access::{self, stored_roles};
use super::audit::{AuditEntry, Origin, append_in_txn};
use super::project::refuse_if_read_only;
use super::whole_row;
use super::{
    AppState, Caller, ServiceError, ServiceResult, begin_write, commit, unique_violation_as,
};
use crate::domain::authz::ProjectOperation;
use crate::domain::event::DomainEvent;
use crate::domain::role::{ProjectRole, RoleSet};
use crate::domain::{Refusal, Refusals};

/// A member and the events their change emitted.
#[derive(Debug, Clone)]
pub struct MemberChange {
    pub member: project_member::Model,
    pub events: Vec<DomainEvent>,
}

/// Inserts a membership inside an open transaction, with its audit event.
pub(crate) async fn insert_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    project_id: Uuid,
    user_id: Uuid,
    roles: &RoleSet,
) -> ServiceResult<project_member::Model> {
    let member = project_member::Model {
        id: Uuid::now_v7(),
        project_id,
        user_id,
        roles: roles.to_stored(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    whole_row::insert(txn, member.clone())
        .await
        .map_err(unique_violation_as(
            &["userId"],
            "this user is already a member of the project",
        ))?;
    append_in_txn(
        txn,
        origin,
        now,
        member_entry(&member, "project.member_added", None),
    )
    .await?;
    Ok(member)
}

fn member_entry<'a>(
    member: &project_member::Model,
    action: &'a str,
    before: Option<&project_member::Model>,
) -> AuditEntry<'a> {
    AuditEntry {
        project_id: Some(member.project_id),
        entity_type: "ProjectMember",
        entity_id: member.id,
        action,
        before: before.map(snapshot),
        after: (action != "project.member_removed").then(|| snapshot(member)),
    }
}

fn snapshot(member: &project_member::Model) -> serde_json::Value {
    json!({ "userId": member.user_id, "roles": member.roles, "version": member.version })
}

fn parse_roles(refusals: &mut Refusals, roles: &[ProjectRole]) -> Option<RoleSet> {
    refusals.field(&["roles"], RoleSet::from_input(roles))
}

/// Refuses to change a closed or cancelled project, at `field`, the input that led to it.
pub(crate) fn ensure_open(project: &project::Model, field: &[&str]) -> ServiceResult<()> {
    refuse_if_read_only(project, field, |status| {
        format!("a {status} project can no longer be changed")
    })
}

/// Adds an active user to a project.
pub async fn add(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    user_id: Uuid,
    roles: &[ProjectRole],
) -> ServiceResult<MemberChange> {
    let mut refusals = Refusals::default();
    let roles = parse_roles(&mut refusals, roles);
    refusals.finish()?;
    let roles =
        roles.ok_or_else(|| ServiceError::Internal("roles parsed without a value".into()))?;

    let txn = begin_write(&state.writer).await?;
    let (project, _) = access::project_for(
        &txn,
        &caller.actor,
        project_id,
        &["projectId"],
        ProjectOperation::ManageMembers,
    )
    .await?;
    ensure_open(&project, &["projectId"])?;
    let user = super::user::find_by_id(&txn, user_id)
        .await?
        .ok_or_else(|| Refusal::not_found(&["userId"], "user"))?;
    if !user.active {
        return Err(Refusal::bad_input(&["userId"], "this user is deactivated").into());
    }
    let existing = project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(project_id))
        .filter(project_member::Column::UserId.eq(user_id))
        .one(&txn)
        .await?;
    if existing.is_some() {
        return Err(
            Refusal::conflict(&["userId"], "this user is already a member of the project").into(),
        );
    }
    let member = insert_in_txn(
        &txn,
        Origin::from(caller),
        state.clock.now(),
        project_id,
        user_id,
        &roles,
    )
    .await?;
    commit(txn).await?;
    Ok(MemberChange {
        events: vec![DomainEvent::MemberAdded {
            user_id,
            roles: roles.iter().collect(),
        }],
        member,
    })
}

/// Loads a membership for a command, checking the caller manages its project.
async fn member_for(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    member_id: Uuid,
) -> ServiceResult<(project_member::Model, project::Model)> {
    let (member, project, _) = access::row_for::<project_member::Entity>(
        conn,
        &caller.actor,
        (member_id, "member"),
        &["id"],
        ProjectOperation::ManageMembers,
    )
    .await?;
    ensure_open(&project, &["id"])?;
    Ok((member, project))
}

/// Refuses a change that would leave the project without a project manager.
async fn ensure_another_manager(
    conn: &impl ConnectionTrait,
    member: &project_member::Model,
) -> ServiceResult<()> {
    let others = project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(member.project_id))
        .filter(project_member::Column::Id.ne(member.id))
        .all(conn)
        .await?;
    for other in &others {
        if stored_roles(&other.roles)?.contains(ProjectRole::ProjectManager) {
            return Ok(());
        }
    }
    Err(Refusal::precondition(
        &["id"],
        "a project keeps at least one PROJECT_MANAGER; name another one first",
    )
    .into())
}

/// Refuses to take a member off the steering committee (or off the project) while they hold
/// a seat they have not voted in on an open ballot: the ballot counts its seats as they were
/// when it opened, and an empty seat could keep it from ever being decided.
async fn ensure_no_unvoted_seat(
    conn: &impl ConnectionTrait,
    member: &project_member::Model,
) -> ServiceResult<()> {
    let seats = super::decision::unvoted_seats(conn, member.project_id, member.user_id).await?;
    if seats.is_empty() {
        return Ok(());
    }
    Err(Refusal::precondition(
        &["id"],
        format!(
            "this member has not voted on {} open ballot(s) of the project ({}): they vote, or the ballots are decided, first",
            seats.len(),
            seats.join(", ")
        ),
    )
    .into())
}

/// Refuses to take a member off the project while they are a named signatory of a scope
/// version in review who has not signed it: only the named signatories sign or reject it, so
/// without them the version would stay IN_REVIEW for good. Their roles do not matter to the
/// signature, so a role change is no concern here.
async fn ensure_no_pending_signature(
    conn: &impl ConnectionTrait,
    member: &project_member::Model,
) -> ServiceResult<()> {
    let versions = super::scope::unsigned_reviews(conn, member.project_id, member.user_id).await?;
    if versions.is_empty() {
        return Ok(());
    }
    let numbers: Vec<String> = versions.iter().map(i32::to_string).collect();
    Err(Refusal::precondition(
        &["id"],
        format!(
            "this member is a signatory of scope version {} in review and has not signed it: they sign or reject it first",
            numbers.join(", ")
        ),
    )
    .into())
}

/// Replaces a member's roles, if nobody changed them since `expected_version`.
pub async fn update_roles(
    state: &AppState,
    caller: &Caller,
    member_id: Uuid,
    expected_version: i64,
    roles: &[ProjectRole],
) -> ServiceResult<MemberChange> {
    let mut refusals = Refusals::default();
    let roles = parse_roles(&mut refusals, roles);
    refusals.finish()?;
    let roles =
        roles.ok_or_else(|| ServiceError::Internal("roles parsed without a value".into()))?;

    let txn = begin_write(&state.writer).await?;
    let (current, _) = member_for(&txn, caller, member_id).await?;
    if current.version != expected_version {
        return Err(Refusal::stale_version(current.version).into());
    }
    if stored_roles(&current.roles)?.contains(ProjectRole::ProjectManager)
        && !roles.contains(ProjectRole::ProjectManager)
    {
        ensure_another_manager(&txn, &current).await?;
    }
    if !roles.contains(ProjectRole::SteeringCommittee) {
        ensure_no_unvoted_seat(&txn, &current).await?;
    }
    let now = state.clock.now();
    let next = project_member::Model {
        roles: roles.to_stored(),
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    whole_row::update(&txn, next.clone()).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        member_entry(&next, "project.member_roles_changed", Some(&current)),
    )
    .await?;
    commit(txn).await?;
    Ok(MemberChange {
        events: vec![DomainEvent::MemberRolesChanged {
            user_id: next.user_id,
            roles: roles.iter().collect(),
        }],
        member: next,
    })
}

/// Removes a member from a project.
pub async fn remove(
    state: &AppState,
    caller: &Caller,
    member_id: Uuid,
) -> ServiceResult<MemberChange> {
    let txn = begin_write(&state.writer).await?;
    let (member, _) = member_for(&txn, caller, member_id).await?;
    if stored_roles(&member.roles)?.contains(ProjectRole::ProjectManager) {
        ensure_another_manager(&txn, &member).await?;
    }
    ensure_no_unvoted_seat(&txn, &member).await?;
    ensure_no_pending_signature(&txn, &member).await?;
    let sole = super::raci::sole_holder_activities(&txn, member.project_id, member.user_id).await?;
    if !sole.is_empty() {
        return Err(Refusal::precondition(
            &["id"],
            format!(
                "this member is the only accountable or responsible person of: {}; reassign first",
                sole.join(", ")
            ),
        )
        .into());
    }
    // Their consulted and informed letters go with them.
    steerco_entity::raci_assignment::Entity::delete_many()
        .filter(steerco_entity::raci_assignment::Column::ProjectId.eq(member.project_id))
        .filter(steerco_entity::raci_assignment::Column::UserId.eq(member.user_id))
        .exec(&txn)
        .await?;
    project_member::Entity::delete_by_id(member.id)
        .exec(&txn)
        .await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        state.clock.now(),
        member_entry(&member, "project.member_removed", Some(&member)),
    )
    .await?;
    commit(txn).await?;
    Ok(MemberChange {
        events: vec![DomainEvent::MemberRemoved {
            user_id: member.user_id,
        }],
        member,
    })
}

/// Members of several projects at once (for loaders), in joining order.
pub async fn of_projects(
    state: &AppState,
    project_ids: &[Uuid],
) -> ServiceResult<Vec<project_member::Model>> {
    Ok(project_member::Entity::find()
        .filter(project_member::Column::ProjectId.is_in(project_ids.iter().copied()))
        .order_by_asc(project_member::Column::Id)
        .all(&state.db)
        .await?)
}

/// Whether `user_id` is a member of the project.
pub async fn is_member(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
    user_id: Uuid,
) -> ServiceResult<bool> {
    Ok(project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(project_id))
        .filter(project_member::Column::UserId.eq(user_id))
        .one(conn)
        .await?
        .is_some())
}

/// Refuses an owner who is not a member of the project.
pub async fn check_owner(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
    owner_id: Option<Uuid>,
    field: &[&str],
) -> ServiceResult<()> {
    match owner_id {
        Some(owner) if !is_member(conn, project_id, owner).await? => {
            Err(Refusal::bad_input(field, "the owner must be a member of the project").into())
        }
        _ => Ok(()),
    }
}
