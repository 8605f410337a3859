//! Decoding the raw rows of one statement into models: a parent joined with its children
//! (`select_also`, `find_also_related`), a third table joined beside the children, and the
//! rows of one entity.
//!
//! Every row of such a join repeats its parent's columns. sea-orm's own decoding builds the
//! parent again from each row; here it is built from the first row that names it, and the
//! rest of its rows give only their child. On a dashboard the repeats were most of the
//! decoding: 2,500 milestone rows for 500 phases, 80 assignment rows for 20 activities. A
//! third table's rows (the person of each RACI assignment) are likewise decoded once per id.
//!
//! The children's columns are selected under their own names, not sea-orm's `B_` aliases: a
//! prefixed column is looked up by a name sea-orm formats anew for every column of every row,
//! which was most of the time a dashboard spent decoding its milestones.
//!
//! Columns are read by position ([`ByPosition`]) once the first row shows them where
//! `select_also` puts them. sea-orm's derived decoding finds each column by its name, which
//! sqlx hashes twice per column (once to check its type, once to decode it), and a prefixed
//! name is formatted first: some 800 instructions a column, a fifth of all the server's
//! instructions for a dashboard's 1,800 columns. Rows laid out any other way are read by
//! name as before.
//!
//! On PostgreSQL a column read by position is decoded without sqlx's check of the column's
//! type against the field's ([`column`]): that check compares the column's type with every
//! type the field's could be read from (five for a string), and was half of what a dashboard
//! spent decoding. The models' types are those of the migrated columns; an end-to-end test
//! (`seed::the_models_read_by_position_read_as_sea_orm_reads_them_by_name`, run on
//! PostgreSQL by the suite's second pass) gives every column a value in some row, reads every
//! row of each of these models both ways and compares them.

use std::collections::hash_map::Entry;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sqlx::error::BoxDynError;
use sea_orm::sqlx::postgres::{PgValueFormat, PgValueRef};
use sea_orm::sqlx::{self, Postgres, Row as _, ValueRef as _};
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, IdenStatic, QueryResult,
    QueryTrait, Select, SelectA, SelectB, Statement, TryGetable,
    sea_query::{DynIden, SelectStatement},
};
use steerco_entity::{
    api_token, change_request, decision, decision_vote, milestone, phase, project, project_member,
    raci_activity, raci_assignment, user,
};
use uuid::Uuid;

use super::IdMap;

/// A model that can be read from the positions of its columns in a row, as well as by their
/// names.
pub trait ByPosition: FromQueryResult {
    /// The model's columns, in the order sea-orm selects them (the entity's column order).
    const COLUMNS: &'static [&'static str];

    /// Reads the model from the row's columns `first..first + COLUMNS.len()`.
    fn from_position(row: &QueryResult, first: usize) -> Result<Self, DbErr>;
}

/// Implements [`ByPosition`] for entity models from their fields in declaration order; a
/// test holds each list to the entity's columns, and the compiler to the model's fields.
macro_rules! by_position {
    ($($entity:ident { $($field:ident),+ $(,)? })+) => {$(
        impl ByPosition for $entity::Model {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];

            fn from_position(row: &QueryResult, first: usize) -> Result<Self, DbErr> {
                let mut position = first;
                let mut next = || {
                    position += 1;
                    position - 1
                };
                // A struct expression evaluates its fields in the order written.
                Ok(Self { $($field: column(row, next())?),+ })
            }
        }
    )+};
}

/// The value at `index` of `row`: on PostgreSQL decoded as the field's type without checking
/// the column's (see the module's documentation), elsewhere as sea-orm reads it.
fn column<T: Column>(row: &QueryResult, index: usize) -> Result<T, DbErr> {
    match row.try_as_pg_row() {
        Some(row) => row
            .try_get_raw(index)
            .and_then(|value| T::from_pg(value).map_err(sqlx::Error::Decode))
            .map_err(|error| DbErr::Type(format!("column {index}: {error}"))),
        None => row.try_get_by_index(index),
    }
}

/// A type a model's field has, as [`column`] decodes it from PostgreSQL.
trait Column: TryGetable + Sized {
    fn from_pg(value: PgValueRef<'_>) -> Result<Self, BoxDynError>;
}

/// The types sqlx decodes by itself.
macro_rules! column_as_sqlx_decodes {
    ($($ty:ty),+) => {$(
        impl Column for $ty {
            fn from_pg(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
                <$ty as sqlx::Decode<Postgres>>::decode(value)
            }
        }
    )+};
}

column_as_sqlx_decodes!(Uuid, String, bool, i32, i64);

/// sqlx decodes a date as its epoch plus a duration, and a timestamp with a time zone as one
/// without, through a fixed offset and back to UTC, each step checked: about 300 instructions
/// a value, a tenth of what a dashboard spent decoding (it reads some 440 of them). The binary
/// format, which sqlx asks for, is counted from PostgreSQL's epoch; the text format is left to
/// sqlx.
impl Column for NaiveDate {
    fn from_pg(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        if value.format() != PgValueFormat::Binary {
            return <NaiveDate as sqlx::Decode<Postgres>>::decode(value);
        }
        let days = <i32 as sqlx::Decode<Postgres>>::decode(value)?;
        date_from_pg_days(days)
            .ok_or_else(|| format!("date out of range: {days} days from 2000-01-01").into())
    }
}

impl Column for DateTime<Utc> {
    fn from_pg(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        if value.format() != PgValueFormat::Binary {
            return <DateTime<Utc> as sqlx::Decode<Postgres>>::decode(value);
        }
        let micros = <i64 as sqlx::Decode<Postgres>>::decode(value)?;
        time_from_pg_micros(micros).ok_or_else(|| {
            format!("timestamp out of range: {micros} µs from 2000-01-01 00:00 UTC").into()
        })
    }
}

impl<T: Column> Column for Option<T> {
    fn from_pg(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        if value.is_null() {
            Ok(None)
        } else {
            T::from_pg(value).map(Some)
        }
    }
}

/// PostgreSQL's epoch, 1 January 2000, as chrono numbers days from the common era (1 January of
/// year 1 is day 1).
const PG_EPOCH_DAYS_FROM_CE: i32 = 730_120;
/// Microseconds from the Unix epoch to PostgreSQL's.
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

/// The date `days` after PostgreSQL's epoch (`None` beyond chrono's range, `infinity` among
/// them).
fn date_from_pg_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(PG_EPOCH_DAYS_FROM_CE)?)
}

/// The instant `micros` after PostgreSQL's epoch (`None` beyond chrono's range).
fn time_from_pg_micros(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros.checked_add(PG_EPOCH_UNIX_MICROS)?)
}

by_position! {
    phase {
        id, project_id, position, name, owner_id, planned_start, planned_end, actual_start,
        actual_end, status, status_reason, created_at, updated_at, version,
    }
    milestone {
        id, project_id, phase_id, name, owner_id, baseline_date, forecast_date, actual_date,
        status, last_health, created_at, updated_at, version, is_key,
    }
    raci_activity { id, project_id, phase_id, position, name, updated_at, version }
    raci_assignment { id, activity_id, project_id, user_id, letter, assigned_at }
    decision {
        id, project_id, subject_type, subject_id, choices, rule, quorum, eligible_voters,
        status, outcome, note, opened_by, opened_at, decided_at, version,
    }
    decision_vote { id, decision_id, voter_id, choice, comment, detail, cast_at, cast_by }
    user {
        id, email, name, locale, active, admin, password_hash, created_at, updated_at, version,
    }
    project {
        id, code, name, description, time_zone, planned_start, target_go_live, budget_amount,
        budget_currency, status, status_reason, status_before_hold, decision_rule,
        decision_quorum, amber_slip_days, red_slip_days, red_line_schedule_days, red_line_cost,
        red_line_risk, created_at, updated_at, version,
    }
    project_member { id, project_id, user_id, roles, created_at, updated_at, version }
    api_token {
        id, user_id, name, kind, token_hash, display_prefix, created_at, expires_at, revoked_at,
        last_used_at,
    }
    change_request {
        id, project_id, number, title, description, justification, category, priority,
        requester_id, status, links, impact, impact_edited_by, info_request, decided_by,
        decision_note, schedule_baseline_id, scope_version_id, cost_baseline_id, created_at,
        updated_at, decided_at, version, approved_at,
    }
}

/// Every row `select` finds, read by position once the first row shows the entity's columns
/// in its order under their own names (as sea-orm selects them), by name otherwise.
pub async fn all_by_position<E>(
    conn: &impl ConnectionTrait,
    select: Select<E>,
) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: ByPosition,
{
    let rows = conn.query_all(&select.into_query()).await?;
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let read = if laid_out_after::<E::Model>(first, 0, "") {
        |row: &QueryResult| E::Model::from_position(row, 0)
    } else {
        |row: &QueryResult| E::Model::from_query_result(row, "")
    };
    rows.iter().map(read).collect()
}

/// The rows of a parent joined with its children, read by [`JoinedRows::fetch`].
pub struct JoinedRows(Vec<QueryResult>);

impl JoinedRows {
    /// Runs `query`, a `select_also` or `find_also_related` turned into a statement, with
    /// the child's columns under their own names. The parent's keep sea-orm's `A_` prefix;
    /// any other alias (a third table's) is left as it is.
    pub async fn fetch(conn: &impl ConnectionTrait, query: SelectStatement) -> Result<Self, DbErr> {
        let statement = Self::statement(query, conn.get_database_backend());
        Self::fetch_statement(conn, statement).await
    }

    /// The statement [`Self::fetch`] runs for `query` on `backend`, to keep its text (see
    /// [`SqlOnce`](super::sql_once::SqlOnce)) and run it with [`Self::fetch_statement`].
    pub fn statement(query: SelectStatement, backend: DbBackend) -> Statement {
        backend.build(&children_unprefixed(query))
    }

    /// Runs a statement made by [`Self::statement`].
    pub async fn fetch_statement(
        conn: &impl ConnectionTrait,
        statement: Statement,
    ) -> Result<Self, DbErr> {
        Ok(Self(conn.query_all_raw(statement).await?))
    }

    /// The rows as read.
    #[cfg(test)]
    fn rows(&self) -> &[QueryResult] {
        &self.0
    }

    /// Parents with their children, in the order of the rows, which must keep each parent's
    /// rows together (order by the parent first); `parent_id` is the parent's id column. A
    /// parent without children (a left join's NULL side) gets none.
    pub fn parents_with_children<P, C>(
        &self,
        parent_id: impl IdenStatic,
    ) -> Result<Vec<(P, Vec<C>)>, DbErr>
    where
        P: ByPosition,
        C: ByPosition,
    {
        let Some(first) = self.0.first() else {
            return Ok(Vec::new());
        };
        let parent_id_at = P::COLUMNS.iter().position(|c| *c == parent_id.as_str());
        let child_id_at = C::COLUMNS.iter().position(|c| *c == "id");
        match (parent_id_at, child_id_at) {
            (Some(parent_id_at), Some(child_id_at)) if laid_out_as_selected::<P, C>(first) => {
                let child_id_at = P::COLUMNS.len() + child_id_at;
                self.grouped(
                    |row| column(row, parent_id_at),
                    |row| P::from_position(row, 0),
                    // A left join's missing child: its columns are NULL, its id among them.
                    |row| match column::<Option<Uuid>>(row, child_id_at)? {
                        Some(_) => C::from_position(row, P::COLUMNS.len()).map(Some),
                        None => Ok(None),
                    },
                )
            }
            _ => {
                let parent_id_name = format!("{}{}", SelectA.as_str(), parent_id.as_str());
                self.grouped(
                    |row| row.try_get("", &parent_id_name),
                    |row| P::from_query_result(row, SelectA.as_str()),
                    |row| C::from_query_result_optional(row, ""),
                )
            }
        }
    }

    /// Parents with their child, for a join that gives a parent at most one (a left join on a
    /// unique key: a project's membership of one user, a token's user); otherwise as
    /// [`Self::parents_with_children`].
    pub fn parents_with_child<P, C>(
        &self,
        parent_id: impl IdenStatic,
    ) -> Result<Vec<(P, Option<C>)>, DbErr>
    where
        P: ByPosition,
        C: ByPosition,
    {
        Ok(self
            .parents_with_children(parent_id)?
            .into_iter()
            .map(|(parent, mut children)| {
                debug_assert!(
                    children.len() <= 1,
                    "a join of at most one child per parent"
                );
                (parent, children.pop())
            })
            .collect())
    }

    /// The rows of a third table joined beside each child (`T`), its columns selected after
    /// the child's, each under `prefix` and in the entity's order, and NULL where a row has
    /// none: each decoded once, from the first row that names it, by id.
    pub fn third_by_id<P, C, T>(&self, prefix: &str) -> Result<IdMap<T>, DbErr>
    where
        P: ByPosition,
        C: ByPosition,
        T: ByPosition,
    {
        let mut found = IdMap::default();
        let Some(first) = self.0.first() else {
            return Ok(found);
        };
        let first_column = P::COLUMNS.len() + C::COLUMNS.len();
        // Where the parent's and child's columns are does not matter: the third's are checked
        // by name at the positions they are read from.
        let by_position = T::COLUMNS
            .iter()
            .position(|c| *c == "id")
            .filter(|_| laid_out_after::<T>(first, first_column, prefix));
        let id_name = format!("{prefix}id");
        for row in &self.0 {
            let id: Option<Uuid> = match by_position {
                Some(id_at) => column(row, first_column + id_at)?,
                None => row.try_get("", &id_name)?,
            };
            if let Some(id) = id
                && let Entry::Vacant(slot) = found.entry(id)
            {
                slot.insert(match by_position {
                    Some(_) => T::from_position(row, first_column)?,
                    None => T::from_query_result(row, prefix)?,
                });
            }
        }
        Ok(found)
    }

    fn grouped<P, C>(
        &self,
        parent_id: impl Fn(&QueryResult) -> Result<Uuid, DbErr>,
        parent: impl Fn(&QueryResult) -> Result<P, DbErr>,
        child: impl Fn(&QueryResult) -> Result<Option<C>, DbErr>,
    ) -> Result<Vec<(P, Vec<C>)>, DbErr> {
        let mut grouped: Vec<(P, Vec<C>)> = Vec::new();
        let mut current: Option<Uuid> = None;
        for row in &self.0 {
            let id = parent_id(row)?;
            if current != Some(id) {
                grouped.push((parent(row)?, Vec::new()));
                current = Some(id);
            }
            if let (Some((_, children)), Some(child)) = (grouped.last_mut(), child(row)?) {
                children.push(child);
            }
        }
        Ok(grouped)
    }
}

/// `query` with the columns sea-orm aliased `B_…` under their own names.
fn children_unprefixed(mut query: SelectStatement) -> SelectStatement {
    query.exprs_mut_for_each(|select| {
        let unprefixed = select.alias.as_ref().and_then(|alias| {
            alias
                .inner()
                .strip_prefix(SelectB.as_str())
                .map(str::to_owned)
        });
        if let Some(name) = unprefixed {
            select.alias = Some(DynIden::from(name));
        }
    });
    query
}

/// Whether `row` starts with the parent's columns under the `A_` prefix, then the child's
/// under their own names, both in the entities' order: where [`JoinedRows::fetch`] puts
/// them for a `select_also` of the two.
fn laid_out_as_selected<P: ByPosition, C: ByPosition>(row: &QueryResult) -> bool {
    laid_out_after::<P>(row, 0, SelectA.as_str()) && laid_out_after::<C>(row, P::COLUMNS.len(), "")
}

/// Whether `row` has `T`'s columns from position `first` on, each under `prefix`, in the
/// entity's order.
fn laid_out_after<T: ByPosition>(row: &QueryResult, first: usize, prefix: &str) -> bool {
    let names = row.column_names();
    names.len() >= first + T::COLUMNS.len()
        && T::COLUMNS
            .iter()
            .zip(&names[first..])
            .all(|(column, got)| got.strip_prefix(prefix) == Some(*column))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use sea_orm::{
        ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database,
        DatabaseConnection, EntityTrait, IntoActiveModel, Iterable, QueryFilter, QueryOrder,
        QuerySelect, QueryTrait, Schema, Statement,
        sea_query::{Alias, Expr, ExprTrait, JoinType},
    };

    use super::*;

    /// sqlx's way: PostgreSQL's epoch plus the days or microseconds, each step checked.
    fn date_as_sqlx_decodes(days: i32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2000, 1, 1)?
            .checked_add_signed(chrono::TimeDelta::days(days.into()))
    }

    fn time_as_sqlx_decodes(micros: i64) -> Option<DateTime<Utc>> {
        let epoch = NaiveDate::from_ymd_opt(2000, 1, 1)?.and_hms_opt(0, 0, 0)?;
        let naive = epoch.checked_add_signed(chrono::TimeDelta::microseconds(micros))?;
        Some(Utc.from_utc_datetime(&naive))
    }

    #[test]
    fn the_epochs_are_postgresqls() {
        let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
        assert_eq!(date_from_pg_days(0), Some(epoch));
        assert_eq!(
            time_from_pg_micros(0),
            Some(Utc.from_utc_datetime(&epoch.and_hms_opt(0, 0, 0).unwrap()))
        );
        // PostgreSQL's `infinity` and `-infinity`, beyond chrono's range as sqlx finds them.
        for days in [i32::MAX, i32::MIN] {
            assert_eq!(date_from_pg_days(days), None);
            assert_eq!(date_as_sqlx_decodes(days), None);
        }
        for micros in [i64::MAX, i64::MIN] {
            assert_eq!(time_from_pg_micros(micros), None);
            assert_eq!(time_as_sqlx_decodes(micros), None);
        }
    }

    proptest::proptest! {
        #[test]
        fn dates_decode_as_sqlx_decodes_them(days in proptest::prelude::any::<i32>()) {
            proptest::prop_assert_eq!(date_from_pg_days(days), date_as_sqlx_decodes(days));
        }

        #[test]
        fn recent_dates_decode_as_sqlx_decodes_them(days in -800_000i32..800_000) {
            proptest::prop_assert_eq!(date_from_pg_days(days), date_as_sqlx_decodes(days));
        }

        #[test]
        fn instants_decode_as_sqlx_decodes_them(micros in proptest::prelude::any::<i64>()) {
            proptest::prop_assert_eq!(time_from_pg_micros(micros), time_as_sqlx_decodes(micros));
        }

        /// Within some 300 years of 2000, before and after, to the microsecond.
        #[test]
        fn recent_instants_decode_as_sqlx_decodes_them(
            micros in -10_000_000_000_000_000i64..10_000_000_000_000_000
        ) {
            proptest::prop_assert_eq!(time_from_pg_micros(micros), time_as_sqlx_decodes(micros));
        }
    }

    fn names<C: Iterable + IdenStatic>() -> Vec<&'static str> {
        C::iter().map(|column| column.as_str()).collect()
    }

    #[test]
    fn each_models_positions_are_its_entitys_column_order() {
        assert_eq!(phase::Model::COLUMNS, names::<phase::Column>());
        assert_eq!(milestone::Model::COLUMNS, names::<milestone::Column>());
        assert_eq!(
            raci_activity::Model::COLUMNS,
            names::<raci_activity::Column>()
        );
        assert_eq!(
            raci_assignment::Model::COLUMNS,
            names::<raci_assignment::Column>()
        );
        assert_eq!(decision::Model::COLUMNS, names::<decision::Column>());
        assert_eq!(
            decision_vote::Model::COLUMNS,
            names::<decision_vote::Column>()
        );
        assert_eq!(user::Model::COLUMNS, names::<user::Column>());
        assert_eq!(api_token::Model::COLUMNS, names::<api_token::Column>());
        assert_eq!(project::Model::COLUMNS, names::<project::Column>());
        assert_eq!(
            project_member::Model::COLUMNS,
            names::<project_member::Column>()
        );
        assert_eq!(
            change_request::Model::COLUMNS,
            names::<change_request::Column>()
        );
    }

    /// Two phases of one project, the first with two milestones (one with every optional
    /// column empty), the second with none; and a phase of another project.
    async fn plan() -> (DatabaseConnection, Uuid) {
        // One connection: each connection to `sqlite::memory:` has a database of its own.
        // No project or user tables here, so their foreign keys are not enforced.
        let mut options = ConnectOptions::new("sqlite::memory:");
        options
            .max_connections(1)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|sqlite| sqlite.foreign_keys(false));
        let db = Database::connect(options).await.unwrap();
        let schema = Schema::new(db.get_database_backend());
        db.execute(&schema.create_table_from_entity(phase::Entity))
            .await
            .unwrap();
        db.execute(&schema.create_table_from_entity(milestone::Entity))
            .await
            .unwrap();
        let project = Uuid::now_v7();
        let at = Utc.with_ymd_and_hms(2027, 3, 1, 9, 30, 0).unwrap();
        let day = |d: u32| NaiveDate::from_ymd_opt(2027, 4, d).unwrap();
        let phase = |project_id, position, name: &str| phase::Model {
            id: Uuid::now_v7(),
            project_id,
            position,
            name: name.to_owned(),
            owner_id: None,
            planned_start: Some(day(1)),
            planned_end: None,
            actual_start: None,
            actual_end: None,
            status: "ACTIVE".to_owned(),
            status_reason: Some("kick-off".to_owned()),
            created_at: at,
            updated_at: at,
            version: 3,
        };
        let design = phase(project, 1, "Design");
        let build = phase(project, 2, "Build");
        for row in [design.clone(), build, phase(Uuid::now_v7(), 1, "Elsewhere")] {
            row.into_active_model().insert(&db).await.unwrap();
        }
        let milestone = |name: &str, forecast, actual: Option<u32>| milestone::Model {
            id: Uuid::now_v7(),
            project_id: project,
            phase_id: design.id,
            name: name.to_owned(),
            owner_id: actual.map(|_| Uuid::now_v7()),
            baseline_date: actual.map(day),
            forecast_date: day(forecast),
            actual_date: actual.map(day),
            status: "PLANNED".to_owned(),
            last_health: "GREEN".to_owned(),
            created_at: at,
            updated_at: at,
            version: 1,
            is_key: actual.is_some(),
        };
        for row in [
            milestone("Signed off", 9, Some(8)),
            milestone("Reviewed", 20, None),
        ] {
            row.into_active_model().insert(&db).await.unwrap();
        }
        (db, project)
    }

    fn phases_with_milestones(project: Uuid) -> SelectStatement {
        phase::Entity::find()
            .find_also_related(milestone::Entity)
            .filter(phase::Column::ProjectId.eq(project))
            .order_by_asc(phase::Column::Position)
            .order_by_asc(milestone::Column::ForecastDate)
            .into_query()
    }

    /// What sea-orm's own decoding of the same statement gives, grouped by phase.
    async fn as_sea_orm_reads_them(
        db: &DatabaseConnection,
        project: Uuid,
    ) -> Vec<(phase::Model, Vec<milestone::Model>)> {
        let mut grouped: Vec<(phase::Model, Vec<milestone::Model>)> = Vec::new();
        let rows = phase::Entity::find()
            .find_also_related(milestone::Entity)
            .filter(phase::Column::ProjectId.eq(project))
            .order_by_asc(phase::Column::Position)
            .order_by_asc(milestone::Column::ForecastDate)
            .all(db)
            .await
            .unwrap();
        for (phase, milestone) in rows {
            if grouped.last().map(|(p, _)| p.id) != Some(phase.id) {
                grouped.push((phase, Vec::new()));
            }
            if let (Some((_, children)), Some(milestone)) = (grouped.last_mut(), milestone) {
                children.push(milestone);
            }
        }
        grouped
    }

    #[tokio::test]
    async fn rows_laid_out_as_selected_are_read_by_position_as_sea_orm_reads_them() {
        let (db, project) = plan().await;
        let joined = JoinedRows::fetch(&db, phases_with_milestones(project))
            .await
            .unwrap();
        assert!(laid_out_as_selected::<phase::Model, milestone::Model>(
            &joined.rows()[0]
        ));
        let grouped = joined
            .parents_with_children::<phase::Model, milestone::Model>(phase::Column::Id)
            .unwrap();
        let expected = as_sea_orm_reads_them(&db, project).await;
        assert_eq!(grouped, expected);
        assert_eq!(
            grouped
                .iter()
                .map(|(p, m)| (p.name.as_str(), m.len()))
                .collect::<Vec<_>>(),
            [("Design", 2), ("Build", 0)]
        );
    }

    #[tokio::test]
    async fn rows_laid_out_otherwise_are_read_by_name() {
        let (db, project) = plan().await;
        let backend = db.get_database_backend();
        let selected = JoinedRows::statement(phases_with_milestones(project), backend);
        let (id, project_id) = (
            r#""phase"."id" AS "A_id""#,
            r#""phase"."project_id" AS "A_project_id""#,
        );
        let swapped = selected.sql.replacen(
            &format!("{id}, {project_id}"),
            &format!("{project_id}, {id}"),
            1,
        );
        assert_ne!(swapped, selected.sql);
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                swapped,
                selected.values.map(|values| values.0).unwrap_or_default(),
            ))
            .await
            .unwrap();
        let joined = JoinedRows(rows);
        assert!(!laid_out_as_selected::<phase::Model, milestone::Model>(
            &joined.rows()[0]
        ));
        let grouped = joined
            .parents_with_children::<phase::Model, milestone::Model>(phase::Column::Id)
            .unwrap();
        assert_eq!(grouped, as_sea_orm_reads_them(&db, project).await);
    }

    /// The owners of the plan's milestones as users, one of them with every optional column
    /// empty; and phases with milestones with each milestone's owner after its columns,
    /// under `C_`, in `order` (`None`: the entity's).
    async fn owners_beside_milestones(
        db: &DatabaseConnection,
        project: Uuid,
        order: Option<Vec<user::Column>>,
    ) -> (IdMap<user::Model>, JoinedRows) {
        db.execute(&Schema::new(db.get_database_backend()).create_table_from_entity(user::Entity))
            .await
            .unwrap();
        let owners: Vec<Uuid> = milestone::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|m| m.owner_id)
            .collect();
        assert!(!owners.is_empty());
        let at = Utc.with_ymd_and_hms(2027, 3, 2, 8, 0, 0).unwrap();
        let mut expected = IdMap::default();
        for (n, id) in owners.into_iter().enumerate() {
            let owner = user::Model {
                id,
                email: format!("owner{n}@example.test"),
                name: format!("Owner {n}"),
                locale: "en".to_owned(),
                active: true,
                admin: n == 0,
                password_hash: (n > 0).then(|| "$argon2id$hash".to_owned()),
                created_at: at,
                updated_at: at,
                version: 2,
            };
            owner.clone().into_active_model().insert(db).await.unwrap();
            expected.insert(id, owner);
        }
        let mut query = phases_with_milestones(project);
        query.join(
            JoinType::LeftJoin,
            user::Entity,
            Expr::col((user::Entity, user::Column::Id))
                .equals((milestone::Entity, milestone::Column::OwnerId)),
        );
        for column in order.unwrap_or_else(|| user::Column::iter().collect()) {
            query.expr_as(
                Expr::col((user::Entity, column)),
                Alias::new(format!("C_{}", column.as_str())),
            );
        }
        (expected, JoinedRows::fetch(db, query).await.unwrap())
    }

    /// The milestones' owners as stored, as `third_by_id` reads them with their columns in
    /// `order`, and whether the rows showed them where they are read by position.
    async fn owners_read(
        order: Option<Vec<user::Column>>,
    ) -> (IdMap<user::Model>, IdMap<user::Model>, bool) {
        let (db, project) = plan().await;
        let (expected, joined) = owners_beside_milestones(&db, project, order).await;
        let at = phase::Model::COLUMNS.len() + milestone::Model::COLUMNS.len();
        let by_position = laid_out_after::<user::Model>(&joined.rows()[0], at, "C_");
        let owners = joined
            .third_by_id::<phase::Model, milestone::Model, user::Model>("C_")
            .unwrap();
        (expected, owners, by_position)
    }

    #[tokio::test]
    async fn a_third_table_laid_out_as_selected_is_read_by_position_once_per_id() {
        let (expected, owners, by_position) = owners_read(None).await;
        assert!(by_position);
        assert_eq!(owners, expected);
    }

    #[tokio::test]
    async fn a_third_table_laid_out_otherwise_is_read_by_name() {
        let (expected, owners, by_position) =
            owners_read(Some(user::Column::iter().rev().collect())).await;
        assert!(!by_position);
        assert_eq!(owners, expected);
    }

    #[tokio::test]
    async fn rows_of_one_entity_are_read_by_position_as_sea_orm_reads_them() {
        let (db, project) = plan().await;
        let select = || {
            phase::Entity::find()
                .filter(phase::Column::ProjectId.eq(project))
                .order_by_asc(phase::Column::Position)
        };
        let first = db.query_all(&select().into_query()).await.unwrap();
        assert!(laid_out_after::<phase::Model>(&first[0], 0, ""));
        let read = all_by_position(&db, select()).await.unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read, select().all(&db).await.unwrap());
        let none = phase::Entity::find().filter(phase::Column::Id.eq(Uuid::now_v7()));
        assert!(all_by_position(&db, none).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn rows_of_one_entity_laid_out_otherwise_are_read_by_name() {
        let (db, project) = plan().await;
        let reversed = || {
            phase::Entity::find()
                .select_only()
                .columns(phase::Column::iter().rev())
                .filter(phase::Column::ProjectId.eq(project))
                .order_by_asc(phase::Column::Position)
        };
        let first = db.query_all(&reversed().into_query()).await.unwrap();
        assert!(!laid_out_after::<phase::Model>(&first[0], 0, ""));
        let read = all_by_position(&db, reversed()).await.unwrap();
        let expected = phase::Entity::find()
            .filter(phase::Column::ProjectId.eq(project))
            .order_by_asc(phase::Column::Position)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(read, expected);
    }

    #[tokio::test]
    async fn no_rows_give_no_parents() {
        let (db, _) = plan().await;
        let joined = JoinedRows::fetch(&db, phases_with_milestones(Uuid::now_v7()))
            .await
            .unwrap();
        let grouped = joined
            .parents_with_children::<phase::Model, milestone::Model>(phase::Column::Id)
            .unwrap();
        assert!(grouped.is_empty());
    }
}
