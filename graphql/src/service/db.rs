//! Where services read: the shared pool, or one connection that a query holds from its first
//! statement to its end.
//!
//! Outside a transaction every statement borrows a connection from the pool, and the pool
//! tests each connection it gets back with a round trip to the database (sqlx pings on
//! release): a project dashboard of eight statements, its token lookup included, made sixteen
//! round trips. A request of queries only therefore reads through
//! [`Db::holding_one_connection`]: its first statement takes a connection and begins a
//! transaction on it (sea-orm lends one connection only as a transaction), and every later
//! statement runs on the same connection. The connection goes back when the request's last
//! handle is dropped. A query writes nothing, so its transaction ends by being dropped: that
//! queues its `ROLLBACK`, which the pool sends together with its ping, once the answer is
//! made. The dashboard now makes ten round trips: `BEGIN`, eight statements, `ROLLBACK` with
//! the ping.
//!
//! A request that holds a connection never waits for a second one: were every connection
//! held by such requests, none would come. What it writes on the way (a token's last use) goes
//! to the writer on a task of its own (on PostgreSQL the writer is the same pool), and a
//! request with an `Idempotency-Key`, which records its answer, reads on the pool.
//!
//! What holding costs: a request's statements run one after another, its connection is taken
//! until its answer is made (so no more requests read at once than the pool has connections),
//! and on PostgreSQL a statement that fails (a timeout, say) aborts the transaction, so the
//! rest of that request fails too instead of each statement failing alone.
//!
//! On PostgreSQL the transaction keeps the default isolation (READ COMMITTED: each statement
//! sees what was committed when it began), as the pool did; asking for another level would
//! cost a statement. On SQLite a read transaction sees one snapshot from its first read.

use std::sync::Arc;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement, TransactionTrait,
};
use tokio::sync::OnceCell;

/// The database as services read it. Commands write through [`Writer`](super::Writer), and so
/// do the few writes that are not commands (a token's last use, the outbox's bookkeeping:
/// [`Writer::execute_alone`](super::Writer::execute_alone)).
#[derive(Clone)]
pub struct Db {
    pool: DatabaseConnection,
    /// The connection of one query, begun at its first statement; `None` on the pool.
    held: Option<Arc<OnceCell<DatabaseTransaction>>>,
}

impl Db {
    /// The pool itself: a connection per statement.
    pub fn pool(&self) -> &DatabaseConnection {
        &self.pool
    }

    /// The same database, with every statement of the new handle and its clones on one
    /// connection, taken at the first statement (a handle that holds one already is cloned).
    /// Such a handle only reads: whatever it wrote would be rolled back with it, so it runs
    /// nothing but `SELECT` and `WITH` statements and tells sea-orm it has no `RETURNING`
    /// (which would send an insert or an update down the path of queries).
    pub fn holding_one_connection(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            held: Some(self.held.clone().unwrap_or_default()),
        }
    }

    /// Whether statements run on one held connection.
    pub fn holds_a_connection(&self) -> bool {
        self.held.is_some()
    }

    /// The held connection for `stmt`, begun if this is the first statement; `None` on the
    /// pool.
    async fn held(&self, stmt: &Statement) -> Result<Option<&DatabaseTransaction>, DbErr> {
        let Some(held) = &self.held else {
            return Ok(None);
        };
        if !is_a_query(&stmt.sql) {
            return Err(refused());
        }
        // Given up midway (the request timed out), the `BEGIN` is rolled back by sqlx as the
        // connection goes back to the pool (since sqlx 0.9.1; see the e2e test
        // `a_request_given_up_while_it_begins_leaves_no_transaction_open`).
        held.get_or_try_init(|| self.pool.begin()).await.map(Some)
    }

    fn refuse_write(&self) -> Result<(), DbErr> {
        match self.held {
            Some(_) => Err(refused()),
            None => Ok(()),
        }
    }
}

fn refused() -> DbErr {
    DbErr::Custom("a write through a query's held connection would be rolled back".to_owned())
}

/// Whether `sql` reads only, as far as its first word tells.
fn is_a_query(sql: &str) -> bool {
    let first_word = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next();
    first_word.is_some_and(|word| {
        word.eq_ignore_ascii_case("SELECT") || word.eq_ignore_ascii_case("WITH")
    })
}

impl From<DatabaseConnection> for Db {
    fn from(pool: DatabaseConnection) -> Self {
        Self { pool, held: None }
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.pool.get_database_backend())
            .field("holds_a_connection", &self.holds_a_connection())
            .finish()
    }
}

/// Runs `statement`, a future of sea-orm's, with no tracing subscriber: sqlx enters the span
/// current when a statement starts at every row it yields, which cost a dashboard some 1.7 %
/// of its instructions (two registry calls a row). Nothing sqlx or sea-orm would log there is
/// lost: the server's pools log no statement (`sqlx_logging(false)`), and what fails comes back
/// as an error, which the caller logs under its request's span.
async fn untraced<F: Future>(statement: F) -> F::Output {
    let none = tracing::Dispatch::none();
    let mut statement = std::pin::pin!(statement);
    std::future::poll_fn(|cx| {
        tracing::dispatcher::with_default(&none, || statement.as_mut().poll(cx))
    })
    .await
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.pool.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.refuse_write()?;
        self.pool.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.refuse_write()?;
        self.pool.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self.held(&stmt).await? {
            Some(held) => untraced(held.query_one_raw(stmt)).await,
            None => untraced(self.pool.query_one_raw(stmt)).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self.held(&stmt).await? {
            Some(held) => untraced(held.query_all_raw(stmt)).await,
            None => untraced(self.pool.query_all_raw(stmt)).await,
        }
    }

    fn support_returning(&self) -> bool {
        self.held.is_none() && self.pool.support_returning()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::{ConnectOptions, Database};

    use super::*;

    /// A SQLite file in WAL mode with one table of notes, behind a pool of `connections`.
    async fn pool(dir: &tempfile::TempDir, connections: u32) -> DatabaseConnection {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("r.db").display());
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(connections)
            .acquire_timeout(Duration::from_secs(5))
            .sqlx_logging(false);
        let pool = Database::connect(options).await.unwrap();
        pool.execute_unprepared(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, text TEXT NOT NULL)",
        )
        .await
        .unwrap();
        pool
    }

    async fn notes(db: &impl ConnectionTrait) -> i64 {
        let statement =
            Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM note");
        let row = db.query_one_raw(statement).await.unwrap().unwrap();
        row.try_get("", "n").unwrap()
    }

    async fn add_note(pool: &DatabaseConnection) {
        pool.execute_unprepared("INSERT INTO note (text) VALUES ('x')")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn statements_run_outside_the_callers_span_and_the_caller_stays_in_it() {
        let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry());
        let request = tracing::info_span!("request");
        let _in_request = request.enter();
        let current = || tracing::Span::current().id();
        assert_eq!(current(), request.id());
        let (inside, after_a_wait) = untraced(async {
            let inside = current();
            tokio::task::yield_now().await;
            (inside, current())
        })
        .await;
        assert_eq!((inside, after_a_wait), (None, None));
        assert_eq!(current(), request.id());
        let dir = tempfile::tempdir().unwrap();
        let db = Db::from(pool(&dir, 1).await);
        assert_eq!(notes(&db.holding_one_connection()).await, 0);
    }

    #[tokio::test]
    async fn a_held_handle_reads_in_one_transaction_from_its_first_statement() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir, 1).await;
        let db = Db::from(pool.clone());
        let held = db.holding_one_connection();
        // Nothing is taken before the first statement: the pool's only connection is free.
        add_note(&pool).await;
        assert_eq!(notes(&held).await, 1);
        drop(held);
        let pool = self::pool(&dir, 4).await;
        let db = Db::from(pool.clone());
        let held = db.holding_one_connection();
        assert_eq!(notes(&held).await, 1);
        add_note(&pool).await;
        // The held handle, its clones and handles held from it read in the transaction its
        // first statement began (on SQLite, one snapshot); the pool reads what is committed.
        assert_eq!(notes(&held).await, 1);
        assert_eq!(notes(&held.clone()).await, 1);
        assert_eq!(notes(&held.holding_one_connection()).await, 1);
        assert_eq!(notes(&db).await, 2);
        assert!(held.holds_a_connection() && !db.holds_a_connection());
    }

    #[tokio::test]
    async fn the_held_connection_goes_back_to_the_pool_with_the_last_handle() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir, 1).await;
        let held = Db::from(pool.clone()).holding_one_connection();
        let clone = held.clone();
        assert_eq!(notes(&held).await, 0);
        drop(held);
        assert_eq!(notes(&clone).await, 0);
        drop(clone);
        // The pool's only connection is free again, out of the transaction the handle began.
        add_note(&pool).await;
        assert_eq!(notes(&pool).await, 1);
        let again = Db::from(pool.clone()).holding_one_connection();
        assert_eq!(notes(&again).await, 1);
    }

    #[tokio::test]
    async fn a_held_handle_refuses_to_execute_and_the_pool_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir, 2).await;
        let db = Db::from(pool.clone());
        let held = db.holding_one_connection();
        let insert = "INSERT INTO note (text) VALUES ('x')";
        let refused = held.execute_unprepared(insert).await.unwrap_err();
        assert!(refused.to_string().contains("rolled back"), "{refused}");
        let statement = Statement::from_string(DbBackend::Sqlite, insert);
        assert!(held.execute_raw(statement.clone()).await.is_err());
        assert_eq!(notes(&pool).await, 0);
        db.execute_raw(statement).await.unwrap();
        assert_eq!(notes(&pool).await, 1);
        // A write that returns rows would come down the path of queries: refused there too,
        // and sea-orm is told not to write that way.
        let returning = Statement::from_string(DbBackend::Sqlite, format!("{insert} RETURNING id"));
        assert!(held.query_one_raw(returning.clone()).await.is_err());
        assert!(held.query_all_raw(returning).await.is_err());
        assert!(!held.support_returning());
        assert_eq!(db.support_returning(), pool.support_returning());
        assert_eq!(notes(&pool).await, 1);
    }

    #[test]
    fn only_selects_read() {
        for sql in [
            "SELECT 1",
            "  select * FROM note",
            "WITH t AS (SELECT 1) SELECT * FROM t",
        ] {
            assert!(is_a_query(sql), "{sql}");
        }
        for sql in [
            "INSERT INTO note (text) VALUES ('x') RETURNING id",
            "UPDATE note SET text = 'y'",
            "DELETE FROM note",
            "SELECTED",
            "(SELECT 1)",
            "",
        ] {
            assert!(!is_a_query(sql), "{sql}");
        }
    }
}
