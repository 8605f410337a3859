//! Transactional services: the only code that knows both the entities and the domain.
//!
//! Each command opens one write transaction ([`begin_write`]), loads and locks what it
//! changes (its project first: [`access`]), asks the domain to decide, then writes the new
//! state and its audit event before committing. Refusals roll everything back.

pub mod access;
pub mod audit;
pub mod baseline;
pub mod change_request;
pub mod db;
pub mod decision;
pub mod go_live;
pub mod idempotency;
pub mod member;
pub mod milestone;
pub mod notify;
pub mod numbering;
pub mod outbox;
pub mod page;
pub mod phase;
pub mod project;
pub mod raci;
pub mod rows;
pub mod scope;
pub mod sign_in;
mod sql_once;
pub mod token;
pub mod token_memory;
pub mod uat;
pub mod user;
pub mod whole_row;
pub mod writer;

use std::collections::HashMap;
use std::sync::Arc;

pub use db::Db;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, IntoActiveModel, Iterable, PrimaryKeyToColumn, QueryFilter, QuerySelect, Select,
};
use thiserror::Error;
use uuid::Uuid;

use crate::domain::clock::Clock;
use crate::domain::event::DomainEvent;
use crate::domain::{Refusal, RefusalCode};
use audit::Origin;
use chrono::{DateTime, Utc};
use notify::{Concerning, MailSettings, Occurrence, commit_writing, outbox_rows_in_txn};
pub use token_memory::TokenMemory;
use tokio::sync::{Notify, broadcast};
pub use writer::{WriteTxn, Writer, begin_write};

/// What every service call needs: the database, the clock, the mail settings, and the
/// channels that tell this process's worker and subscribers that something happened.
#[derive(Clone)]
pub struct AppState {
    /// Where reads go: the pool, or the one connection a query holds
    /// ([`AppState::holding_one_connection`]).
    pub db: Db,
    /// Where write transactions begin ([`begin_write`]): the same pool as `db`, or, on
    /// SQLite, a queue for one connection of its own where waiting commands commit together
    /// (see [`writer`] and `steerco::db::connect_writer`).
    pub writer: Writer,
    pub clock: Arc<dyn Clock>,
    pub mail: Arc<MailSettings>,
    /// Committed domain events, for `projectEvents` subscribers of this server.
    pub events: broadcast::Sender<ProjectEvent>,
    /// Woken when a commit wrote to the outbox, so the worker sends without waiting to poll.
    pub outbox_written: Arc<Notify>,
    /// Tokens checked lately; remembers nothing until a server says for how long.
    pub tokens: Arc<TokenMemory>,
    /// Password sign-ins left to each email address ([`sign_in`]).
    pub sign_ins: Arc<sign_in::SignInAttempts>,
    /// How long one operation may run before the server serving it cuts it off; `None`
    /// where no server does. It tells when a request holding an idempotency key has surely
    /// ended ([`idempotency::begin`]).
    pub operation_time_limit: Option<std::time::Duration>,
}

impl AppState {
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self {
            writer: Writer::Pool(db.clone()),
            db: db.into(),
            clock,
            mail: Arc::new(MailSettings::local()),
            events: broadcast::channel(1_024).0,
            outbox_written: Arc::new(Notify::new()),
            tokens: Arc::default(),
            sign_ins: Arc::default(),
            operation_time_limit: None,
        }
    }

    /// Queues write transactions for `writer`, a pool of one SQLite connection, instead of
    /// beginning them on the pool that reads ([`Writer::queue`]: needs a Tokio runtime).
    pub fn with_writer(mut self, writer: DatabaseConnection) -> Self {
        self.writer = Writer::queue(writer);
        self
    }

    /// This state for a request of queries: its reads share one connection ([`Db`]).
    pub fn holding_one_connection(&self) -> Self {
        Self {
            db: self.db.holding_one_connection(),
            ..self.clone()
        }
    }

    pub fn with_mail(mut self, mail: MailSettings) -> Self {
        self.mail = Arc::new(mail);
        self
    }
}

/// A committed domain event of one project, as subscribers receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectEvent {
    pub project_id: Uuid,
    pub event: DomainEvent,
    pub occurred_at: DateTime<Utc>,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Uuid,
    pub admin: bool,
    /// The token the request was authenticated with.
    pub token_id: Uuid,
    /// The caller's name, when it was read with their token: the emails that name the caller
    /// as who acted then need not read it again.
    pub name: Option<String>,
}

/// The caller of one request and the request's id, carried into the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub actor: Actor,
    pub request_id: Option<String>,
}

#[derive(Debug, Error)]
pub enum ServiceError {
    /// Expected refusals: returned to the caller as `userErrors`.
    #[error("refused: {0:?}")]
    Refused(Vec<Refusal>),
    /// The caller is a member but their roles do not allow the operation.
    #[error("forbidden")]
    Forbidden,
    /// A failure that is not the caller's doing; logged, never shown.
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("internal: {0}")]
    Internal(String),
    /// Too many attempts of something limited; it may be tried again after the wait.
    #[error("rate limited: {what}")]
    RateLimited {
        what: &'static str,
        retry_after: std::time::Duration,
    },
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl From<Vec<Refusal>> for ServiceError {
    fn from(refusals: Vec<Refusal>) -> Self {
        Self::Refused(refusals)
    }
}

impl From<Refusal> for ServiceError {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(vec![refusal])
    }
}

impl ServiceError {
    /// The refusal codes, for tests and logs.
    pub fn refusal_codes(&self) -> Vec<RefusalCode> {
        match self {
            Self::Refused(refusals) => refusals.iter().map(|r| r.code).collect(),
            _ => Vec::new(),
        }
    }
}

/// Maps a unique-index violation (a race lost to a concurrent insert) to a `CONFLICT`.
pub(crate) fn unique_violation_as(
    field: &[&str],
    message: &str,
) -> impl FnOnce(DbErr) -> ServiceError {
    let refusal = Refusal::conflict(field, message);
    move |error| match error.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => ServiceError::Refused(vec![refusal]),
        _ => ServiceError::Database(error),
    }
}

/// Rows per `INSERT` when a command writes many at once (a committee's ballot or a go-live
/// decision emails every member of a project; a schedule baseline has an entry per milestone):
/// a statement holds a bounded number of values, and a row here has up to about twenty.
const ROWS_PER_INSERT: usize = 500;

/// Where the last statement of [`insert_in_batches`] begins among `rows` rows.
pub(crate) fn last_batch_start(rows: usize) -> usize {
    rows.saturating_sub(1) / ROWS_PER_INSERT * ROWS_PER_INSERT
}

/// Inserts `rows`, [`ROWS_PER_INSERT`] to a statement, each statement with `on_conflict` if
/// given; returns how many rows went in.
pub(crate) async fn insert_in_batches<A: ActiveModelTrait>(
    conn: &impl ConnectionTrait,
    rows: Vec<A>,
    on_conflict: Option<OnConflict>,
) -> Result<u64, DbErr> {
    let mut inserted = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut insert = A::Entity::insert_many(rows.by_ref().take(ROWS_PER_INSERT));
        if let Some(clause) = &on_conflict {
            insert = insert.on_conflict(clause.clone());
        }
        inserted += insert.exec_without_returning(conn).await?;
    }
    Ok(inserted)
}

/// Writes `columns` (at least one) of each of `rows` over its stored row, [`ROWS_PER_INSERT`]
/// rows to a statement: an insert of the whole rows that, meeting each one's primary key,
/// updates only those columns. Every row must exist already, as the rows a command read in its
/// transaction do (one that did not would be inserted), and no two may share a key
/// (PostgreSQL refuses to update a row twice in one statement).
pub(crate) async fn update_in_batches<M, A>(
    conn: &impl ConnectionTrait,
    rows: Vec<M>,
    columns: impl IntoIterator<Item = <A::Entity as EntityTrait>::Column>,
) -> Result<(), DbErr>
where
    M: IntoActiveModel<A>,
    A: ActiveModelTrait,
{
    let key = <A::Entity as EntityTrait>::PrimaryKey::iter().map(PrimaryKeyToColumn::into_column);
    let on_key = OnConflict::columns(key).update_columns(columns).to_owned();
    insert_in_batches(conn, active_models(rows), Some(on_key)).await?;
    Ok(())
}

/// Plain models as the active models [`insert_in_batches`] writes, every column as it is.
pub(crate) fn active_models<M, A>(rows: Vec<M>) -> Vec<A>
where
    M: IntoActiveModel<A>,
    A: ActiveModelTrait,
{
    rows.into_iter()
        .map(IntoActiveModel::into_active_model)
        .collect()
}

/// A map keyed by row ids. The ids are UUIDs the server made, never keys a client may pick by
/// the thousand, so these maps hash with foldhash (seeded per process) rather than std's
/// SipHash, whose defence against chosen keys costs several times as much a lookup.
pub type IdMap<V> = HashMap<Uuid, V, foldhash::fast::RandomState>;

/// A set of row ids, hashed as an [`IdMap`]'s keys are.
pub type IdSet = std::collections::HashSet<Uuid, foldhash::fast::RandomState>;

/// Groups rows by a parent key, giving every asked key a (possibly empty) list: what a read
/// for many parents hands back to each.
pub fn group<M>(keys: &[Uuid], rows: Vec<M>, parent: impl Fn(&M) -> Uuid) -> HashMap<Uuid, Vec<M>> {
    let mut grouped: HashMap<Uuid, Vec<M>> = keys.iter().map(|key| (*key, Vec::new())).collect();
    for row in rows {
        grouped.entry(parent(&row)).or_default().push(row);
    }
    grouped
}

/// The rows of `E` whose `parent` column holds one of `parents`, in the order `order` gives:
/// what a loader reads for every parent of a page at once.
pub async fn children_of<E: EntityTrait>(
    state: &AppState,
    parent: E::Column,
    parents: &[Uuid],
    order: impl FnOnce(Select<E>) -> Select<E>,
) -> ServiceResult<Vec<E::Model>> {
    let rows = E::find().filter(parent.is_in(parents.iter().copied()));
    Ok(order(rows).all(&state.db).await?)
}

/// Adds `FOR UPDATE` on PostgreSQL, so that concurrent commands on one row queue up. SQLite
/// needs no row lock: its write transactions are already serialised by [`begin_write`].
pub(crate) fn for_update<E: EntityTrait>(select: Select<E>, backend: DbBackend) -> Select<E> {
    match backend {
        DbBackend::Postgres => select.lock_exclusive(),
        _ => select,
    }
}

/// A row a command read to find its project, as it stands now that the command holds the
/// project's lock ([`access::project_for`]). On PostgreSQL it is read again with `again`, and
/// locked: a command that held the project meanwhile may have changed or removed it. On
/// SQLite the command's write turn has kept every other writer out since that first read.
pub(crate) async fn current_under_project_lock<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    read: E::Model,
    again: Select<E>,
) -> ServiceResult<Option<E::Model>> {
    match backend_of(conn) {
        DbBackend::Postgres => Ok(again.lock_exclusive().one(conn).await?),
        _ => Ok(Some(read)),
    }
}

/// Commits, mapping nothing: the one place a command's transaction ends well.
pub(crate) async fn commit(txn: WriteTxn) -> ServiceResult<()> {
    txn.commit().await.map_err(ServiceError::from)
}

/// Writes the emails `events` call for into the outbox, commits them with the change, then
/// tells this process's worker and subscribers. A rollback leaves no email behind.
pub(crate) async fn commit_with_events(
    state: &AppState,
    txn: WriteTxn,
    origin: Origin<'_>,
    concerning: impl Into<Concerning<'_>>,
    events: &[DomainEvent],
) -> ServiceResult<()> {
    let now = state.clock.now();
    let concerning = concerning.into();
    let project_id = concerning.project.id();
    let outbox = outbox_rows_in_txn(
        &txn,
        &state.mail,
        origin,
        now,
        concerning,
        events,
        Occurrence::Event,
    )
    .await?;
    commit_writing(txn, outbox).await?;
    state.outbox_written.notify_one();
    for event in events {
        // No subscriber is no error.
        let _ = state.events.send(ProjectEvent {
            project_id,
            event: event.clone(),
            occurred_at: now,
        });
    }
    Ok(())
}

/// The database backend of a connection or transaction.
pub(crate) fn backend_of(conn: &impl ConnectionTrait) -> DbBackend {
    conn.get_database_backend()
}
