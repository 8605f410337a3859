//! Connecting to SQLite or PostgreSQL and applying migrations.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::sqlx;
use sea_orm::sqlx::sqlite::{SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use steerco_migration::{Migrator, MigratorTrait};

/// How long a SQLite writer waits for the write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// SQLite's page cache per pooled reading connection, in KiB when negative. Each connection
/// keeps its own copy of the pages it read, on top of the operating system's file cache: eight
/// connections at SQLite's default of 2 MB held 16 MB of duplicate pages under the dashboard
/// workload.
const SQLITE_CACHE_SIZE: &str = "-256";

/// The page cache of SQLite's one writing connection: SQLite's default of 2 MB. Every write
/// transaction holds the write lock while it reads the pages it changes (an index's path, a
/// table's last leaf), and with the readers' 256 KiB it read most of them from the file again.
const SQLITE_WRITER_CACHE_SIZE: &str = "-2000";

/// A pooled connection idle this long is pinged before it is handed out, in case the server
/// (or something between) dropped it. A connection in steady use is not: pinging on every
/// checkout, sqlx's default, cost a round trip per statement outside a transaction.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// Connections of the SQLite pool that reads (and runs the few writes outside a transaction).
/// Each is a thread of its own with its own page cache, schema and prepared statements, a
/// megabyte or more apiece: under the bench's dashboard workload, on 2 cores, the server
/// peaked at 59 to 60 MB with four, 62 to 64 MB with six and 65 to 66 MB with eight, for
/// 5 % more dashboards than four.
const SQLITE_READERS: u32 = 4;

/// Connections of the PostgreSQL pool.
const POSTGRES_CONNECTIONS: u32 = 16;

/// The longest one SQL statement may run on PostgreSQL before the server cancels it; a query
/// that slow is a bug or an attack, and must not hold locks other writers wait for.
pub const STATEMENT_TIMEOUT_POSTGRES: &str = "30s";

/// Opens a connection pool for `url` (`sqlite://…` or `postgres://…`).
///
/// SQLite is tuned for a server: WAL (readers never block the writer), `synchronous=NORMAL`
/// (durable at checkpoints, about 300 times the write rate of the default here), foreign keys
/// on, and a busy timeout so that writers queue instead of failing.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let max_connections = if is_sqlite(url) {
        SQLITE_READERS
    } else {
        POSTGRES_CONNECTIONS
    };
    Database::connect(options(url, max_connections, SQLITE_CACHE_SIZE)).await
}

/// The pool write transactions begin on ([`AppState::writer`]): on SQLite, a pool of one
/// connection of its own, so that this process's writers queue for it and each is handed the
/// connection the moment the one before commits. Left to SQLite, a writer waiting for the
/// lock polls it with sleeps that grow to 100 ms: eight clients logging defects had a p99 of
/// half a second. PostgreSQL has row locks and needs no such queue: `None`, write on the
/// shared pool.
///
/// [`AppState::writer`]: steerco_graphql::service::AppState::writer
pub async fn connect_writer(url: &str) -> Result<Option<DatabaseConnection>, DbErr> {
    if !is_sqlite(url) {
        return Ok(None);
    }
    Database::connect(options(url, 1, SQLITE_WRITER_CACHE_SIZE))
        .await
        .map(Some)
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Pool options for `url`; `sqlite_cache_size` is SQLite's `cache_size` for each connection.
fn options(url: &str, max_connections: u32, sqlite_cache_size: &'static str) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR);
    options.max_connections(max_connections).min_connections(1);
    if is_sqlite(url) {
        options.map_sqlx_sqlite_opts(move |opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                .pragma("cache_size", sqlite_cache_size)
        });
        options.map_sqlx_sqlite_pool_opts(|pool| {
            pool.after_connect(|conn, _| Box::pin(stable_query_plans(conn)))
        });
    } else {
        options.map_sqlx_postgres_opts(|opts| {
            opts.options([("statement_timeout", STATEMENT_TIMEOUT_POSTGRES)])
        });
    }
    options
}

/// Turns on SQLite's query planner stability guarantee for a new connection.
///
/// Without it SQLite plans `LIMIT ?` by the value bound to it, and marks the statement to be
/// compiled again whenever that parameter is bound anew. sea-orm binds the `LIMIT 1` of every
/// `.one()`, and sqlx binds each statement's parameters again at each run: every such
/// statement was parsed and planned again each time it ran, 30 % of the SQLite threads' time
/// under the bench's defect logging. With the guarantee a statement keeps its plan; ours
/// never needed a plan that depends on a bound value.
async fn stable_query_plans(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    if query_plan_stability(conn, 1).await? {
        Ok(())
    } else {
        Err(sqlx::Error::Configuration(
            "SQLite kept its query planner stability guarantee off".into(),
        ))
    }
}

/// Sets SQLite's query planner stability guarantee on a connection (1: on, 0: off, -1: leave
/// it) and returns whether it is on.
async fn query_plan_stability(
    conn: &mut SqliteConnection,
    setting: std::ffi::c_int,
) -> Result<bool, sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let mut enabled: std::ffi::c_int = -1;
    // SAFETY: the locked handle is a valid open connection that no other thread uses while it
    // is held; this option takes an `int` and an `int*` that receives the setting in force,
    // and `enabled` outlives the call.
    let status = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            handle.as_raw_handle().as_ptr(),
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            setting,
            &mut enabled as *mut std::ffi::c_int,
        )
    };
    if status == libsqlite3_sys::SQLITE_OK {
        Ok(enabled == 1)
    } else {
        Err(sqlx::Error::Configuration(
            format!("SQLite refused its query planner stability guarantee (code {status})").into(),
        ))
    }
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Counts the SQL statements run through a connection (and its transactions), for the
/// statement budgets of the benchmarks and of the N+1 test.
#[derive(Debug, Clone, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    /// Starts counting every statement `db` runs from now on.
    pub fn attach(db: &mut DatabaseConnection) -> Self {
        let counter = Self::default();
        counter.count_also(db);
        counter
    }

    /// Counts the statements of another pool too (the writer of [`connect_writer`]).
    pub fn count_also(&self, db: &mut DatabaseConnection) {
        let total = self.0.clone();
        db.set_metric_callback(move |_| {
            total.fetch_add(1, Ordering::Relaxed);
        });
    }

    /// Statements run since counting started.
    pub fn total(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_sqlite_connection_keeps_its_query_plans() {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let url = format!(
            "sqlite://{}?mode=rwc",
            folder.path().join("plans.db").display()
        );
        let readers = connect(&url).await.expect("the pool that reads");
        let writer = connect_writer(&url)
            .await
            .expect("the writer")
            .expect("SQLite has a writer of its own");
        for pool in [&readers, &writer] {
            let mut conn = pool
                .get_sqlite_connection_pool()
                .acquire()
                .await
                .expect("a pooled connection");
            let kept = query_plan_stability(&mut conn, -1).await;
            assert!(kept.expect("the setting, read back"));
        }
    }
}
