//! Who the caller is on a project: loads membership and applies [`crate::domain::authz`].
//!
//! A command locks its project here, before any other row of it ([`project_for`], or
//! [`row_for`] for a command given one of the project's rows): commands on one project then
//! queue at the project on PostgreSQL, and none holds a row that another waits for.

use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition, LockType, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, JoinType, QueryFilter,
    QuerySelect, QueryTrait, RelationTrait, SelectTwo, Statement,
};
use steerco_entity::{project, project_member};
use uuid::Uuid;

use super::rows::JoinedRows;
use super::sql_once::SqlOnce;
use super::{Actor, ServiceError, ServiceResult, backend_of};
use crate::domain::Refusal;
use crate::domain::authz::{ProjectOperation, Subject, permits};
use crate::domain::role::RoleSet;

/// The ids of the projects `user_id` is a member of, as a subquery.
pub fn projects_of_member(user_id: Uuid) -> SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(project_member::Column::ProjectId)
        .from(project_member::Entity)
        .and_where(project_member::Column::UserId.eq(user_id))
        .to_owned()
}

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
    let statement = project_with_membership_statement(actor, project_id, backend_of(conn));
    // One row at most: the statement's LIMIT 1.
    let standing = read_standings(conn, actor, statement).await?.pop();
    admitted(standing, field, "project", operation)
}

/// The caller's standing on a command's project, when they may perform `operation` there: a
/// project they may not see is reported as `what` not found, as one that does not exist.
fn admitted(
    standing: Option<Standing>,
    field: &[&str],
    what: &str,
    operation: ProjectOperation,
) -> ServiceResult<(project::Model, Subject)> {
    let Some(Standing { project, subject }) =
        standing.filter(|standing| standing.subject.can_see_project())
    else {
        return Err(Refusal::not_found(field, what).into());
    };
    if !permits(&subject, operation) {
        return Err(ServiceError::Forbidden);
    }
    Ok((project, subject))
}

/// A table whose rows each belong to one project, never moved to another: a command on such a
/// row finds the project through it ([`project_of_row_for`]).
pub(crate) trait ProjectRow: EntityTrait {
    /// The row's primary key.
    const ID: Self::Column;
    /// The row's project.
    const PROJECT_ID: Self::Column;
    /// The text of [`project_of_row_statement`] for this table.
    fn kept() -> &'static SqlOnce;
}

macro_rules! project_rows {
    ($($entity:ident),* $(,)?) => {$(
        impl ProjectRow for steerco_entity::$entity::Entity {
            const ID: Self::Column = steerco_entity::$entity::Column::Id;
            const PROJECT_ID: Self::Column = steerco_entity::$entity::Column::ProjectId;
            fn kept() -> &'static SqlOnce {
                static KEPT: SqlOnce = SqlOnce::new();
                &KEPT
            }
        }
    )*};
}

project_rows!(
    change_request,
    decision,
    defect,
    go_live_plan,
    milestone,
    milestone_dependency,
    phase,
    project_member,
    raci_activity,
    scope_version,
    test_cycle,
);

/// Loads the project of the row `row_id` of `E` for a command on that row, and checks the
/// caller may perform `operation` on it, as [`project_for`] does. A row that does not exist
/// and one in a project the caller may not see are both reported as `what` not found.
///
/// The project's row is locked (on PostgreSQL) before the command reads and locks its own
/// row: every command on a project locks the project first, so two commands on one project
/// queue at the project and neither can hold a row the other waits for. Reading the row
/// first to learn its project, then locking the project, would let a milestone's edit hold
/// the milestone while a transition that holds the project waits for it: a deadlock.
async fn project_of_row_for<E: ProjectRow>(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    row: (Uuid, &str),
    field: &[&str],
    operation: ProjectOperation,
) -> ServiceResult<(project::Model, Subject)> {
    let (row_id, what) = row;
    let statement = project_of_row_statement::<E>(actor, row_id, backend_of(conn));
    // One row at most: the statement's LIMIT 1.
    let standing = read_standings(conn, actor, statement).await?.pop();
    admitted(standing, field, what, operation)
}

/// A row of `E` for a command, with its project and the caller's standing there: the project
/// locked first ([`project_of_row_for`]), then the row, locked too on PostgreSQL.
pub(crate) async fn row_for<E: ProjectRow>(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    row: (Uuid, &str),
    field: &[&str],
    operation: ProjectOperation,
) -> ServiceResult<(E::Model, project::Model, Subject)> {
    let (project, subject) = project_of_row_for::<E>(conn, actor, row, field, operation).await?;
    let (row_id, what) = row;
    let found = super::for_update(E::find().filter(E::ID.eq(row_id)), backend_of(conn))
        .one(conn)
        .await?
        .ok_or_else(|| Refusal::not_found(field, what))?;
    Ok((found, project, subject))
}

/// [`one_project_locked_with_membership`] for the project of the row `row_id` of `E`, found by
/// a subquery in the same statement; its text built once per table and backend.
fn project_of_row_statement<E: ProjectRow>(
    actor: &Actor,
    row_id: Uuid,
    backend: DbBackend,
) -> Statement {
    E::kept().statement(
        backend,
        || JoinedRows::statement(project_of_row_query::<E>(actor, row_id, backend), backend),
        vec![actor.user_id.into(), row_id.into(), 1u64.into()],
    )
}

fn project_of_row_query<E: ProjectRow>(
    actor: &Actor,
    row_id: Uuid,
    backend: DbBackend,
) -> SelectStatement {
    let owner = sea_orm::sea_query::Query::select()
        .column(E::PROJECT_ID)
        .from(E::default())
        .and_where(E::ID.eq(row_id))
        .to_owned();
    one_project_locked_with_membership(actor, project::Column::Id.in_subquery(owner), backend)
}

/// [`project_locked_with_membership_query`] as a statement for [`JoinedRows`], its text built
/// once per backend.
fn project_with_membership_statement(
    actor: &Actor,
    project_id: Uuid,
    backend: DbBackend,
) -> Statement {
    static KEPT: SqlOnce = SqlOnce::new();
    KEPT.statement(
        backend,
        || {
            JoinedRows::statement(
                project_locked_with_membership_query(actor, project_id, backend),
                backend,
            )
        },
        vec![actor.user_id.into(), project_id.into(), 1u64.into()],
    )
}

/// The project `project_id` for a command, as [`one_project_locked_with_membership`] reads it.
fn project_locked_with_membership_query(
    actor: &Actor,
    project_id: Uuid,
    backend: DbBackend,
) -> SelectStatement {
    one_project_locked_with_membership(actor, project::Column::Id.eq(project_id), backend)
}

/// The project `which` selects with the caller's membership row, one row in one statement; on
/// PostgreSQL the project's row is locked until the transaction ends (`OF project`:
/// PostgreSQL locks no row on the nullable side of an outer join).
fn one_project_locked_with_membership(
    actor: &Actor,
    which: impl IntoCondition,
    backend: DbBackend,
) -> SelectStatement {
    let mut select = with_membership_of(actor).filter(which);
    if backend == DbBackend::Postgres {
        QueryTrait::query(&mut select).lock_with_tables(LockType::Update, [project::Entity]);
    }
    select.limit(1).into_query()
}

/// A project and who the caller is on it.
#[derive(Debug, Clone)]
pub struct Standing {
    pub project: project::Model,
    pub subject: Subject,
}

impl Standing {
    /// The project, when the caller may see it.
    pub fn visible(self) -> Option<project::Model> {
        self.subject.can_see_project().then_some(self.project)
    }
}

/// Projects joined with the caller's own membership row, so that a project and the right to
/// see it cost one statement.
fn with_membership_of(actor: &Actor) -> SelectTwo<project::Entity, project_member::Entity> {
    let user_id = actor.user_id;
    project::Entity::find()
        .join(
            JoinType::LeftJoin,
            project::Relation::ProjectMember
                .def()
                .on_condition(move |_, member| {
                    Expr::col((member, project_member::Column::UserId))
                        .eq(user_id)
                        .into_condition()
                }),
        )
        .select_also(project_member::Entity)
}

/// Runs a statement of projects [`with_membership_of`] the caller, made by
/// [`JoinedRows::statement`], and gives the caller's standing on each. One row per project,
/// with no ORDER BY needed to keep a project's rows together: the join keeps only the caller's
/// membership, unique per project and user (`uq_project_member_project_user`).
async fn read_standings(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    statement: Statement,
) -> ServiceResult<Vec<Standing>> {
    JoinedRows::fetch_statement(conn, statement)
        .await?
        .parents_with_child::<project::Model, project_member::Model>(project::Column::Id)?
        .into_iter()
        .map(|pair| standing_of(actor, pair))
        .collect()
}

fn standing_of(
    actor: &Actor,
    (project, membership): (project::Model, Option<project_member::Model>),
) -> ServiceResult<Standing> {
    let roles = match membership {
        Some(member) => stored_roles(&member.roles)?,
        None => RoleSet::none(),
    };
    Ok(Standing {
        project,
        subject: Subject {
            admin: actor.admin,
            roles,
        },
    })
}

/// The caller's standing on each existing project among `ids` and `codes`, in one statement.
pub async fn standings(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    ids: &[Uuid],
    codes: &[String],
) -> ServiceResult<Vec<Standing>> {
    if ids.is_empty() && codes.is_empty() {
        return Ok(Vec::new());
    }
    let statement = standings_statement(actor, ids, codes, backend_of(conn));
    read_standings(conn, actor, statement).await
}

/// The projects with these ids or codes (not both none), each with the caller's membership.
/// An empty list is left out rather than written as an always false comparison, whose two
/// numbers sea-orm would bind as values.
fn standings_query(actor: &Actor, ids: &[Uuid], codes: &[String]) -> SelectStatement {
    let mut named = Condition::any();
    if !ids.is_empty() {
        named = named.add(project::Column::Id.is_in(ids.iter().copied()));
    }
    if !codes.is_empty() {
        named = named.add(project::Column::Code.is_in(codes.iter().map(String::as_str)));
    }
    with_membership_of(actor).filter(named).into_query()
}

/// [`standings_query`] as a statement. Its text depends on how many ids and codes it names;
/// those of a request's usual batches (a project by id, by code, or both, as on a dashboard)
/// are built once per backend, others each time.
fn standings_statement(
    actor: &Actor,
    ids: &[Uuid],
    codes: &[String],
    backend: DbBackend,
) -> Statement {
    const KEPT_UP_TO: usize = 2;
    static KEPT: [[SqlOnce; KEPT_UP_TO + 1]; KEPT_UP_TO + 1] =
        [const { [const { SqlOnce::new() }; KEPT_UP_TO + 1] }; KEPT_UP_TO + 1];
    let build = || JoinedRows::statement(standings_query(actor, ids, codes), backend);
    match KEPT
        .get(ids.len())
        .and_then(|by_codes| by_codes.get(codes.len()))
    {
        Some(kept) => {
            let values = std::iter::once(actor.user_id.into())
                .chain(ids.iter().map(|id| (*id).into()))
                .chain(codes.iter().map(|code| code.as_str().into()))
                .collect();
            kept.statement(backend, build, values)
        }
        None => build(),
    }
}

/// Loads a project for reading, or `None` when it does not exist or the caller may not see it.
pub async fn visible_project(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    project_id: Uuid,
) -> ServiceResult<Option<project::Model>> {
    Ok(standings(conn, actor, &[project_id], &[])
        .await?
        .into_iter()
        .next()
        .and_then(Standing::visible))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor() -> Actor {
        Actor {
            user_id: Uuid::now_v7(),
            admin: false,
            token_id: Uuid::now_v7(),
            name: None,
        }
    }

    #[test]
    fn each_kept_standings_statement_is_the_one_sea_orm_builds_with_each_callers_values() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            // Beyond two ids or codes the text is built each time; the comparison holds too.
            // Neither ids nor codes: no statement runs.
            let shapes = (0..=3).flat_map(|ids| (0..=3).map(move |codes| (ids, codes)));
            for (ids, codes) in shapes.skip(1) {
                for round in 0..3 {
                    let caller = actor();
                    let ids: Vec<_> = (0..ids).map(|_| Uuid::now_v7()).collect();
                    let codes: Vec<_> = (0..codes).map(|n| format!("P{round}-{n}")).collect();
                    let fresh =
                        JoinedRows::statement(standings_query(&caller, &ids, &codes), backend);
                    assert_eq!(
                        standings_statement(&caller, &ids, &codes, backend),
                        fresh,
                        "{backend:?}, {} ids, {} codes",
                        ids.len(),
                        codes.len()
                    );
                }
            }
        }
    }

    #[test]
    fn the_kept_project_statement_is_the_one_sea_orm_builds_with_each_callers_values() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for _ in 0..3 {
                let (caller, project_id) = (actor(), Uuid::now_v7());
                let fresh = JoinedRows::statement(
                    project_locked_with_membership_query(&caller, project_id, backend),
                    backend,
                );
                assert_eq!(
                    project_with_membership_statement(&caller, project_id, backend),
                    fresh
                );
            }
        }
    }

    #[test]
    fn each_kept_project_of_row_statement_is_the_one_sea_orm_builds_with_each_callers_values() {
        fn check<E: ProjectRow>() {
            for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
                for _ in 0..3 {
                    let (caller, row_id) = (actor(), Uuid::now_v7());
                    let fresh = JoinedRows::statement(
                        project_of_row_query::<E>(&caller, row_id, backend),
                        backend,
                    );
                    assert_eq!(
                        project_of_row_statement::<E>(&caller, row_id, backend),
                        fresh
                    );
                }
            }
        }
        use steerco_entity::*;
        check::<change_request::Entity>();
        check::<decision::Entity>();
        check::<defect::Entity>();
        check::<go_live_plan::Entity>();
        check::<milestone::Entity>();
        check::<milestone_dependency::Entity>();
        check::<phase::Entity>();
        check::<project_member::Entity>();
        check::<raci_activity::Entity>();
        check::<scope_version::Entity>();
        check::<test_cycle::Entity>();
    }

    #[test]
    fn a_command_on_a_row_locks_its_project_found_through_the_row() {
        let sql = project_of_row_statement::<steerco_entity::milestone::Entity>(
            &actor(),
            Uuid::now_v7(),
            DbBackend::Postgres,
        )
        .to_string();
        assert!(
            sql.contains(
                "WHERE \"project\".\"id\" IN (SELECT \"project_id\" FROM \"milestone\" \
                 WHERE \"milestone\".\"id\" = "
            ),
            "{sql}"
        );
        assert!(sql.ends_with("LIMIT 1 FOR UPDATE OF \"project\""), "{sql}");
        let sql = project_of_row_statement::<steerco_entity::defect::Entity>(
            &actor(),
            Uuid::now_v7(),
            DbBackend::Sqlite,
        )
        .to_string();
        assert!(sql.contains("FROM \"defect\""), "{sql}");
        assert!(!sql.contains("FOR UPDATE"), "{sql}");
    }

    #[test]
    fn a_command_locks_the_project_row_on_postgres_and_reads_membership_alongside() {
        let sql = project_with_membership_statement(&actor(), Uuid::now_v7(), DbBackend::Postgres)
            .to_string();
        assert!(sql.contains("LEFT JOIN \"project_member\""), "{sql}");
        assert!(sql.ends_with("LIMIT 1 FOR UPDATE OF \"project\""), "{sql}");
        let sql = project_with_membership_statement(&actor(), Uuid::now_v7(), DbBackend::Sqlite)
            .to_string();
        assert!(!sql.contains("FOR UPDATE"), "{sql}");
    }
}
