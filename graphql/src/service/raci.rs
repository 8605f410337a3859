//! The RACI matrix: activities, who holds which letter, and the rules' violations.

use chrono::Utc;
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, JoinType, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IdenStatic, Iterable, QueryFilter,
    QueryOrder, QueryTrait, Statement,
};
use serde_json::json;
use steerco_entity::{phase, project_member, raci_activity, raci_assignment, user};
use uuid::Uuid;

use super::access::{self, stored_roles};
use super::audit::{AuditEntry, Origin, append_all_in_txn, append_in_txn};
use super::member::ensure_open;
use super::rows::JoinedRows;
use super::sql_once::SqlOnce;
use super::whole_row;
use super::{
    AppState, Caller, IdMap, IdSet, ServiceError, ServiceResult, active_models, begin_write,
    commit, insert_in_batches,
};
use crate::domain::Refusal;
use crate::domain::authz::ProjectOperation;
use crate::domain::raci::{self as rules, AssignRefusal, Assignment, RaciLetter, Violation};
use crate::domain::text::single_line;

/// An activity with its assignments and what is wrong with them.
#[derive(Debug, Clone)]
pub struct ActivityRow {
    pub activity: raci_activity::Model,
    pub assignments: Vec<raci_assignment::Model>,
    pub violations: Vec<Violation>,
}

fn letter_of(row: &raci_assignment::Model) -> ServiceResult<RaciLetter> {
    row.letter
        .parse()
        .map_err(|e| ServiceError::Internal(format!("stored RACI letter: {e:?}")))
}

/// The users who are active members of a project.
async fn active_members(conn: &impl ConnectionTrait, project_id: Uuid) -> ServiceResult<IdSet> {
    let members = project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(project_id))
        .find_also_related(user::Entity)
        .all(conn)
        .await?;
    Ok(members
        .into_iter()
        .filter(|(_, person)| person.as_ref().is_some_and(|u| u.active))
        .map(|(member, _)| member.user_id)
        .collect())
}

fn as_rule_rows(
    assignments: &[raci_assignment::Model],
    active: &IdSet,
) -> ServiceResult<Vec<Assignment>> {
    assignments
        .iter()
        .map(|a| {
            Ok(Assignment {
                user_id: a.user_id,
                letter: letter_of(a)?,
                active_member: active.contains(&a.user_id),
            })
        })
        .collect()
}

/// A project's matrix and the people it names who are active members.
#[derive(Debug, Clone, Default)]
pub struct Matrix {
    pub rows: Vec<ActivityRow>,
    /// The assignees who are active members of the project, by id (others are not here).
    pub active_members: IdMap<user::Model>,
}

/// The whole matrix of a project, activities in order, with violations.
pub async fn matrix(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
) -> ServiceResult<Vec<ActivityRow>> {
    Ok(matrix_with_people(conn, project_id).await?.rows)
}

/// Prefix of the assignee's columns in [`matrix_with_people`]'s rows, after sea-orm's own
/// `A_` (activity) and `B_` (assignment).
const ASSIGNEE: &str = "C_";

/// The whole matrix of a project with its active members, in one statement: each activity
/// joined with its assignments, and each assignment with its person when that person is an
/// active member of the project, which is what the rules ask of an assignee.
pub async fn matrix_with_people(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
) -> ServiceResult<Matrix> {
    let statement = matrix_statement(project_id, conn.get_database_backend());
    let joined = JoinedRows::fetch_statement(conn, statement).await?;
    let grouped = joined.parents_with_children(raci_activity::Column::Id)?;
    // A row repeats its person for every assignment they hold: each is decoded once.
    let people = joined
        .third_by_id::<raci_activity::Model, raci_assignment::Model, user::Model>(ASSIGNEE)?;
    let mut rows: Vec<ActivityRow> = grouped
        .into_iter()
        .map(|(activity, assignments)| ActivityRow {
            activity,
            assignments,
            violations: Vec::new(),
        })
        .collect();
    let active: IdSet = people.keys().copied().collect();
    for row in &mut rows {
        row.violations = rules::violations(&as_rule_rows(&row.assignments, &active)?);
    }
    Ok(Matrix {
        rows,
        active_members: people,
    })
}

/// [`matrix_query`] as [`JoinedRows`] runs it, its text built once per backend: building the
/// three tables' columns and aliases cost a dashboard about as much as decoding its matrix.
fn matrix_statement(project_id: Uuid, backend: DbBackend) -> Statement {
    static KEPT: SqlOnce = SqlOnce::new();
    KEPT.statement(
        backend,
        || JoinedRows::statement(matrix_query(project_id), backend),
        vec![true.into(), 1i32.into(), project_id.into()],
    )
}

/// Each activity of the project with its assignments, and each assignment with its person
/// (under [`ASSIGNEE`]) when that person is an active member of the project.
fn matrix_query(project_id: Uuid) -> SelectStatement {
    let member_of_project = Query::select()
        .expr(Expr::val(1))
        .from(project_member::Entity)
        .and_where(
            Expr::col((project_member::Entity, project_member::Column::ProjectId))
                .equals((raci_assignment::Entity, raci_assignment::Column::ProjectId)),
        )
        .and_where(
            Expr::col((project_member::Entity, project_member::Column::UserId))
                .equals((raci_assignment::Entity, raci_assignment::Column::UserId)),
        )
        .to_owned();
    let mut query = raci_activity::Entity::find()
        .find_also_related(raci_assignment::Entity)
        .filter(raci_activity::Column::ProjectId.eq(project_id))
        .order_by_asc(raci_activity::Column::Position)
        .order_by_asc(raci_activity::Column::Id)
        .order_by_asc(raci_assignment::Column::AssignedAt)
        .order_by_asc(raci_assignment::Column::Id)
        .into_query();
    query.join(
        JoinType::LeftJoin,
        user::Entity,
        Condition::all()
            .add(
                Expr::col((user::Entity, user::Column::Id))
                    .equals((raci_assignment::Entity, raci_assignment::Column::UserId)),
            )
            .add(Expr::col((user::Entity, user::Column::Active)).eq(true))
            .add(Expr::exists(member_of_project)),
    );
    for column in user::Column::iter() {
        query.expr_as(
            Expr::col((user::Entity, column)),
            Alias::new(format!("{ASSIGNEE}{}", column.as_str())),
        );
    }
    query
}

/// The activities of a phase that break the rules, for its gate: (id, name, violation).
pub async fn phase_violations(
    conn: &impl ConnectionTrait,
    phase: &phase::Model,
) -> ServiceResult<Vec<(Uuid, String, Violation)>> {
    Ok(matrix(conn, phase.project_id)
        .await?
        .into_iter()
        .filter(|row| row.activity.phase_id == Some(phase.id))
        .flat_map(|row| {
            let (id, name) = (row.activity.id, row.activity.name.clone());
            row.violations
                .into_iter()
                .map(move |v| (id, name.clone(), v))
        })
        .collect())
}

/// The activities where `user_id` is the only A or the only R, by name.
pub async fn sole_holder_activities(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
    user_id: Uuid,
) -> ServiceResult<Vec<String>> {
    let rows = matrix(conn, project_id).await?;
    let active = active_members(conn, project_id).await?;
    let mut rule_rows = Vec::with_capacity(rows.len());
    for row in &rows {
        rule_rows.push((row.activity.id, as_rule_rows(&row.assignments, &active)?));
    }
    let blocked = rules::sole_holder_of(&rule_rows, user_id);
    Ok(rows
        .into_iter()
        .filter(|row| blocked.contains(&row.activity.id))
        .map(|row| row.activity.name)
        .collect())
}

fn activity_entry<'a>(
    a: &raci_activity::Model,
    action: &'a str,
    before: Option<&raci_activity::Model>,
) -> AuditEntry<'a> {
    let snap = |a: &raci_activity::Model| json!({ "name": a.name, "phaseId": a.phase_id, "position": a.position, "version": a.version });
    AuditEntry {
        project_id: Some(a.project_id),
        entity_type: "RaciActivity",
        entity_id: a.id,
        action,
        before: before.map(snap),
        after: (action != "raci.activity_removed").then(|| snap(a)),
    }
}

async fn insert_activity(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
    phase_id: Option<Uuid>,
    position: i32,
    name: String,
    now: chrono::DateTime<Utc>,
) -> ServiceResult<raci_activity::Model> {
    let row = new_activity(project_id, phase_id, position, name, now);
    whole_row::insert(conn, row.clone()).await?;
    Ok(row)
}

fn new_activity(
    project_id: Uuid,
    phase_id: Option<Uuid>,
    position: i32,
    name: String,
    now: chrono::DateTime<Utc>,
) -> raci_activity::Model {
    raci_activity::Model {
        id: Uuid::now_v7(),
        project_id,
        phase_id,
        position,
        name,
        updated_at: now,
        version: 1,
    }
}

async fn insert_assignment(
    conn: &impl ConnectionTrait,
    activity: &raci_activity::Model,
    user_id: Uuid,
    letter: RaciLetter,
    now: chrono::DateTime<Utc>,
) -> ServiceResult<raci_assignment::Model> {
    let row = new_assignment(activity, user_id, letter, now);
    whole_row::insert(conn, row.clone()).await?;
    Ok(row)
}

fn new_assignment(
    activity: &raci_activity::Model,
    user_id: Uuid,
    letter: RaciLetter,
    now: chrono::DateTime<Utc>,
) -> raci_assignment::Model {
    raci_assignment::Model {
        id: Uuid::now_v7(),
        activity_id: activity.id,
        project_id: activity.project_id,
        user_id,
        letter: letter.as_str().to_owned(),
        assigned_at: now,
    }
}

/// Fills an empty matrix from the DOMAIN §2.2 template, giving each current member the
/// letters their roles earn.
pub async fn seed(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
) -> ServiceResult<Vec<ActivityRow>> {
    let txn = begin_write(&state.writer).await?;
    let (project, _) = access::project_for(
        &txn,
        &caller.actor,
        project_id,
        &["projectId"],
        ProjectOperation::ManagePlan,
    )
    .await?;
    ensure_open(&project, &["projectId"])?;
    let existing = raci_activity::Entity::find()
        .filter(raci_activity::Column::ProjectId.eq(project_id))
        .one(&txn)
        .await?;
    if existing.is_some() {
        return Err(
            Refusal::conflict(&["projectId"], "the project already has a RACI matrix").into(),
        );
    }
    let members = project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(project_id))
        .order_by_asc(project_member::Column::Id)
        .all(&txn)
        .await?;
    let mut people = Vec::with_capacity(members.len());
    for member in &members {
        people.push((member.user_id, stored_roles(&member.roles)?));
    }
    let now = state.clock.now();
    let origin = Origin::from(caller);
    let mut activities = Vec::new();
    let mut assignments = Vec::new();
    let mut created = Vec::new();
    for (position, template) in (1..).zip(rules::template()) {
        let activity = new_activity(project_id, None, position, template.name.to_owned(), now);
        let mut letters = Vec::new();
        for (user_id, letter) in rules::seed_letters(template, &people) {
            assignments.push(new_assignment(&activity, user_id, letter, now));
            letters.push(json!({ "userId": user_id, "letter": letter.as_str() }));
        }
        let mut audit = activity_entry(&activity, "raci.activity_created", None);
        audit.after = Some(
            json!({ "name": activity.name, "position": activity.position, "assignments": letters }),
        );
        created.push(audit);
        activities.push(activity);
    }
    // A statement per table and one append, however many activities and members.
    insert_in_batches(&txn, active_models(activities), None).await?;
    insert_in_batches(&txn, active_models(assignments), None).await?;
    append_all_in_txn(&txn, origin, now, &created).await?;
    let rows = matrix(&txn, project_id).await?;
    commit(txn).await?;
    Ok(rows)
}

/// Checks that a phase belongs to the project.
async fn check_phase(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
    phase_id: Option<Uuid>,
) -> ServiceResult<()> {
    if let Some(phase_id) = phase_id {
        let found = phase::Entity::find_by_id(phase_id).one(conn).await?;
        if found.is_none_or(|p| p.project_id != project_id) {
            return Err(Refusal::not_found(&["phaseId"], "phase").into());
        }
    }
    Ok(())
}

pub async fn activity_add(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    name: &str,
    phase_id: Option<Uuid>,
) -> ServiceResult<raci_activity::Model> {
    let name = single_line(name, 200).map_err(|e| Refusal::bad_input(&["name"], e.to_string()))?;
    let txn = begin_write(&state.writer).await?;
    let (project, _) = access::project_for(
        &txn,
        &caller.actor,
        project_id,
        &["projectId"],
        ProjectOperation::ManagePlan,
    )
    .await?;
    ensure_open(&project, &["projectId"])?;
    check_phase(&txn, project_id, phase_id).await?;
    let existing = raci_activity::Entity::find()
        .filter(raci_activity::Column::ProjectId.eq(project_id))
        .all(&txn)
        .await?;
    refuse_taken_name(&existing, &name, None)?;
    let position = existing.iter().map(|a| a.position).max().unwrap_or(0) + 1;
    let now = state.clock.now();
    let activity = insert_activity(&txn, project_id, phase_id, position, name, now).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        activity_entry(&activity, "raci.activity_created", None),
    )
    .await?;
    commit(txn).await?;
    Ok(activity)
}

/// Loads an activity for a command, checking the caller manages the plan.
async fn activity_for(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    activity_id: Uuid,
    field: &[&str],
) -> ServiceResult<raci_activity::Model> {
    let (activity, project, _) = access::row_for::<raci_activity::Entity>(
        conn,
        &caller.actor,
        (activity_id, "activity"),
        field,
        ProjectOperation::ManagePlan,
    )
    .await?;
    ensure_open(&project, field)?;
    Ok(activity)
}

/// Refuses `name` when another activity of the matrix (`activities`, but for `renamed`) has
/// it, whatever the case: gate refusals and a member's removal name activities.
fn refuse_taken_name(
    activities: &[raci_activity::Model],
    name: &str,
    renamed: Option<Uuid>,
) -> Result<(), Refusal> {
    let taken = activities
        .iter()
        .any(|a| Some(a.id) != renamed && a.name.eq_ignore_ascii_case(name));
    if taken {
        return Err(Refusal::conflict(
            &["name"],
            "the matrix already has an activity with this name",
        ));
    }
    Ok(())
}

/// Renames an activity and/or ties it to a phase (`Some(None)` unties it).
pub async fn activity_update(
    state: &AppState,
    caller: &Caller,
    activity_id: Uuid,
    expected_version: i64,
    name: Option<&str>,
    phase_id: Option<Option<Uuid>>,
) -> ServiceResult<raci_activity::Model> {
    let name = name
        .map(|raw| single_line(raw, 200).map_err(|e| Refusal::bad_input(&["name"], e.to_string())))
        .transpose()?;
    let txn = begin_write(&state.writer).await?;
    let current = activity_for(&txn, caller, activity_id, &["id"]).await?;
    if current.version != expected_version {
        return Err(Refusal::stale_version(current.version).into());
    }
    let mut next = current.clone();
    if let Some(name) = name {
        let siblings = raci_activity::Entity::find()
            .filter(raci_activity::Column::ProjectId.eq(current.project_id))
            .all(&txn)
            .await?;
        refuse_taken_name(&siblings, &name, Some(current.id))?;
        next.name = name;
    }
    if let Some(phase_id) = phase_id {
        check_phase(&txn, current.project_id, phase_id).await?;
        next.phase_id = phase_id;
    }
    let now = state.clock.now();
    next.updated_at = now;
    next.version += 1;
    whole_row::update(&txn, next.clone()).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        activity_entry(&next, "raci.activity_updated", Some(&current)),
    )
    .await?;
    commit(txn).await?;
    Ok(next)
}

pub async fn activity_remove(
    state: &AppState,
    caller: &Caller,
    activity_id: Uuid,
) -> ServiceResult<raci_activity::Model> {
    let txn = begin_write(&state.writer).await?;
    let current = activity_for(&txn, caller, activity_id, &["id"]).await?;
    raci_activity::Entity::delete_by_id(current.id)
        .exec(&txn)
        .await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        state.clock.now(),
        activity_entry(&current, "raci.activity_removed", Some(&current)),
    )
    .await?;
    commit(txn).await?;
    Ok(current)
}

/// Gives a member a letter on an activity, replacing the letter they had there.
pub async fn assign(
    state: &AppState,
    caller: &Caller,
    activity_id: Uuid,
    user_id: Uuid,
    letter: RaciLetter,
) -> ServiceResult<ActivityRow> {
    let txn = begin_write(&state.writer).await?;
    let activity = activity_for(&txn, caller, activity_id, &["activityId"]).await?;
    let active = active_members(&txn, activity.project_id).await?;
    let current = raci_assignment::Entity::find()
        .filter(raci_assignment::Column::ActivityId.eq(activity.id))
        .all(&txn)
        .await?;
    let checked = rules::check_assignment(
        &as_rule_rows(&current, &active)?,
        user_id,
        letter,
        active.contains(&user_id),
    );
    match checked {
        Ok(()) => {}
        Err(AssignRefusal::SecondAccountable { current }) => {
            let holder = super::user::find_by_id(&txn, current).await?;
            let name = holder.map_or_else(
                || current.to_string(),
                |u| format!("{} <{}>", u.name, u.email),
            );
            return Err(Refusal::conflict(
                &["letter"],
                format!(
                    "{name} is already accountable for this activity; change that assignment first"
                ),
            )
            .into());
        }
        Err(refusal @ AssignRefusal::NotActiveMember) => {
            return Err(Refusal::bad_input(&["userId"], refusal.to_string()).into());
        }
    }
    let now = state.clock.now();
    let before = current.iter().find(|a| a.user_id == user_id).cloned();
    if let Some(previous) = &before {
        raci_assignment::Entity::delete_by_id(previous.id)
            .exec(&txn)
            .await?;
    }
    let row = insert_assignment(&txn, &activity, user_id, letter, now).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        AuditEntry {
            project_id: Some(activity.project_id),
            entity_type: "RaciActivity",
            entity_id: activity.id,
            action: "raci.assigned",
            before: before.map(|b| json!({ "userId": b.user_id, "letter": b.letter })),
            after: Some(json!({ "userId": row.user_id, "letter": row.letter })),
        },
    )
    .await?;
    let result = matrix(&txn, activity.project_id)
        .await?
        .into_iter()
        .find(|r| r.activity.id == activity.id);
    commit(txn).await?;
    result.ok_or_else(|| ServiceError::Internal("assigned activity vanished".into()))
}

/// Takes a person's letter off an activity.
pub async fn unassign(
    state: &AppState,
    caller: &Caller,
    activity_id: Uuid,
    user_id: Uuid,
) -> ServiceResult<ActivityRow> {
    let txn = begin_write(&state.writer).await?;
    let activity = activity_for(&txn, caller, activity_id, &["activityId"]).await?;
    let existing = raci_assignment::Entity::find()
        .filter(raci_assignment::Column::ActivityId.eq(activity.id))
        .filter(raci_assignment::Column::UserId.eq(user_id))
        .one(&txn)
        .await?
        .ok_or_else(|| Refusal::not_found(&["userId"], "assignment of this person"))?;
    raci_assignment::Entity::delete_by_id(existing.id)
        .exec(&txn)
        .await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        state.clock.now(),
        AuditEntry {
            project_id: Some(activity.project_id),
            entity_type: "RaciActivity",
            entity_id: activity.id,
            action: "raci.unassigned",
            before: Some(json!({ "userId": existing.user_id, "letter": existing.letter })),
            after: None,
        },
    )
    .await?;
    let result = matrix(&txn, activity.project_id)
        .await?
        .into_iter()
        .find(|r| r.activity.id == activity.id);
    commit(txn).await?;
    result.ok_or_else(|| ServiceError::Internal("activity vanished".into()))
}

/// An activity with its row, if the viewer may see its project.
pub async fn visible_activity(
    state: &AppState,
    viewer: &super::Actor,
    id: Uuid,
) -> ServiceResult<Option<ActivityRow>> {
    let Some(activity) = raci_activity::Entity::find_by_id(id).one(&state.db).await? else {
        return Ok(None);
    };
    if access::visible_project(&state.db, viewer, activity.project_id)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    Ok(matrix(&state.db, activity.project_id)
        .await?
        .into_iter()
        .find(|row| row.activity.id == id))
}

/// The RACI assignments of each of `user_ids`, with their activities, by project.
pub async fn assignments_of_users(
    state: &AppState,
    user_ids: &[Uuid],
) -> ServiceResult<Vec<(raci_assignment::Model, raci_activity::Model)>> {
    let rows = raci_assignment::Entity::find()
        .filter(raci_assignment::Column::UserId.is_in(user_ids.iter().copied()))
        .find_also_related(raci_activity::Entity)
        .order_by_asc(raci_assignment::Column::ProjectId)
        .all(&state.db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(assignment, activity)| Some((assignment, activity?)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_matrix_statement_is_the_one_sea_orm_builds_for_each_project() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for _ in 0..3 {
                let project_id = Uuid::now_v7();
                assert_eq!(
                    matrix_statement(project_id, backend),
                    JoinedRows::statement(matrix_query(project_id), backend)
                );
            }
        }
    }
}
