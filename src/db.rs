//! The SQLite library's process-wide settings, connecting to SQLite or PostgreSQL, and applying
//! migrations.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::sqlx;
use sea_orm::sqlx::sqlite::{SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
    TransactionTrait,
};
use steerco_migration::{Migrator, MigratorTrait};

/// How long a SQLite writer waits for the write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings of each pooled reading connection. `cache_size` is SQLite's page cache per
/// connection, in KiB when negative: each connection keeps its own copy of the pages it read,
/// on top of the operating system's file cache, and eight connections at SQLite's default of
/// 2 MB held 16 MB of duplicate pages under the dashboard workload.
const SQLITE_READER_PRAGMAS: &[(&str, &str)] = &[("cache_size", "-256")];

/// Settings of SQLite's one writing connection. Its page cache is SQLite's default of 2 MB:
/// every write transaction holds the write lock while it reads the pages it changes (an
/// index's path, a table's last leaf), and with the readers' 256 KiB it read most of them from
/// the file again. It never checkpoints: left to SQLite, the commit that finds the WAL past
/// 1,000 pages copies it into the database and waits for the disk twice, with the write lock
/// held and every writer queued behind it (the p99 of logging defects at one client was 23 ms
/// for a median of 1.7 ms). [`checkpoint_in_background`] does it instead. Its temporary
/// files stay in memory: each command of a group runs in a savepoint, whose journal keeps the
/// pages the command changes, and past 64 KiB SQLite wrote that journal to a temporary file,
/// a tenth of the writer's time when 32 commands logged defects together.
const SQLITE_WRITER_PRAGMAS: &[(&str, &str)] = &[
    ("cache_size", "-2000"),
    ("wal_autocheckpoint", "0"),
    ("temp_store", "memory"),
];

/// Makes an insert that replaces a row (`INSERT OR REPLACE`, `REPLACE`) fire the delete
/// triggers of the row it replaces, as SQLite does only with recursive triggers on: the audit
/// trail's guard against deletes then refuses a replacement too, where it let one rewrite an
/// event. No other table of Steerco's has triggers.
const APPEND_ONLY_GUARD: (&str, &str) = ("recursive_triggers", "ON");

/// How often the background checkpointer copies the WAL into the database. At a few hundred
/// write transactions a second of about ten pages each, that is near SQLite's own threshold of
/// 1,000 pages, and an idle database costs one cheap statement per tick.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// A pooled connection idle this long is pinged before it is handed out, in case the server
/// (or something between) dropped it. A connection in steady use is not: pinging on every
/// checkout, sqlx's default, cost a round trip per statement outside a transaction.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// Connections of the SQLite pool that reads.
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
    refuse_in_memory(url)?;
    let max_connections = if is_sqlite(url) {
        SQLITE_READERS
    } else {
        POSTGRES_CONNECTIONS
    };
    Database::connect(options(url, max_connections, SQLITE_READER_PRAGMAS)).await
}

/// The connection write transactions run on ([`AppState::writer`]): on SQLite, a pool of one
/// connection of its own, which `AppState::with_writer` puts behind a queue, so that this
/// process's writers are handed it in turn and those that wait together commit together
/// (`steerco_graphql::service::writer`). Left to SQLite, a writer waiting for the lock polls
/// it with sleeps that grow to 100 ms: eight clients logging defects had a p99 of half a
/// second. PostgreSQL has row locks and needs no such queue: `None`, write on the shared pool.
///
/// The writer leaves checkpoints to a task of its own, spawned here on the current runtime,
/// which runs for as long as the runtime does.
///
/// [`AppState::writer`]: steerco_graphql::service::AppState::writer
pub async fn connect_writer(url: &str) -> Result<Option<DatabaseConnection>, DbErr> {
    if !is_sqlite(url) {
        return Ok(None);
    }
    let writer = Database::connect(options(url, 1, SQLITE_WRITER_PRAGMAS)).await?;
    let checkpointer = Database::connect(options(url, 1, SQLITE_READER_PRAGMAS)).await?;
    tokio::spawn(checkpoint_in_background(checkpointer));
    Ok(Some(writer))
}

/// Copies the WAL into the database every [`CHECKPOINT_EVERY`], on a connection of its own,
/// so that no writer waits for it. A passive checkpoint waits for nobody: it copies what no
/// reader still needs, and the writer goes on appending meanwhile.
async fn checkpoint_in_background(conn: DatabaseConnection) {
    let mut ticks = tokio::time::interval(CHECKPOINT_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = conn
            .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
            .await
        {
            tracing::warn!(%error, "SQLite checkpoint failed; the next tick tries again");
        }
    }
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Refuses an in-memory SQLite database: each connection of the readers' pool, the writer and
/// the checkpointer would open one of its own, and the migrations would reach one of them.
fn refuse_in_memory(url: &str) -> Result<(), DbErr> {
    if is_sqlite(url) && (url.contains(":memory:") || url.contains("mode=memory")) {
        return Err(DbErr::Custom(
            "an in-memory SQLite database cannot be shared by the server's connections; \
             use a file, e.g. sqlite://steerco.db?mode=rwc"
                .to_owned(),
        ));
    }
    Ok(())
}

/// Pool options for `url`; `sqlite_pragmas` are set on each SQLite connection.
fn options(
    url: &str,
    max_connections: u32,
    sqlite_pragmas: &'static [(&'static str, &'static str)],
) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR);
    options.max_connections(max_connections).min_connections(1);
    if is_sqlite(url) {
        options.map_sqlx_sqlite_opts(move |opts| {
            sqlite_pragmas.iter().fold(
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true)
                    .pragma(APPEND_ONLY_GUARD.0, APPEND_ONLY_GUARD.1),
                |opts, &(name, value)| opts.pragma(name, value),
            )
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

/// Sets up the SQLite library for the whole process: it allocates with mimalloc, as the
/// server's Rust code does (`src/main.rs`), and keeps no memory statistics. Fails, changing
/// nothing, once SQLite has been initialised (by opening a database).
///
/// SQLite allocates for every column value it hands sqlx (a copy each), every statement run
/// and every page it reads: a logged defect made some 200 allocations in it. By default each
/// took a process-wide mutex to count the bytes, and glibc's `malloc` served it. Steerco reads
/// no memory statistic, nor sets a soft heap limit, which needs them.
///
/// # Safety
///
/// No other thread may use SQLite meanwhile: `sqlite3_config` is not thread-safe. Call it
/// first thing in `main`, before anything opens a database.
pub unsafe fn configure_sqlite_library() -> Result<(), String> {
    let refused = |setting: &str, status| {
        format!("SQLite refused {setting} (code {status}): it was in use already")
    };
    let off: std::ffi::c_int = 0;
    // SAFETY: the caller guarantees that no thread uses SQLite meanwhile; this option takes
    // one `int`.
    let status =
        unsafe { libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, off) };
    if status != libsqlite3_sys::SQLITE_OK {
        return Err(refused("to drop its memory statistics", status));
    }
    let methods = sqlite_allocator::methods();
    // SAFETY: as above; this option takes a pointer to the methods, which SQLite copies.
    let status = unsafe {
        libsqlite3_sys::sqlite3_config(
            libsqlite3_sys::SQLITE_CONFIG_MALLOC,
            &methods as *const libsqlite3_sys::sqlite3_mem_methods,
        )
    };
    if status != libsqlite3_sys::SQLITE_OK {
        return Err(refused("mimalloc as its allocator", status));
    }
    Ok(())
}

/// SQLite's allocator on mimalloc. SQLite asks for sizes above zero and needs 8-byte
/// alignment, which every block of mimalloc's has.
mod sqlite_allocator {
    use std::ffi::{c_int, c_void};

    use libmimalloc_sys::{mi_free, mi_malloc, mi_realloc, mi_usable_size};
    use libsqlite3_sys::{SQLITE_OK, sqlite3_mem_methods};

    pub(super) fn methods() -> sqlite3_mem_methods {
        sqlite3_mem_methods {
            xMalloc: Some(malloc),
            xFree: Some(free),
            xRealloc: Some(realloc),
            xSize: Some(size),
            xRoundup: Some(roundup),
            xInit: Some(init),
            xShutdown: Some(shutdown),
            pAppData: std::ptr::null_mut(),
        }
    }

    fn bytes(size: c_int) -> usize {
        usize::try_from(size).unwrap_or(0)
    }

    unsafe extern "C" fn malloc(size: c_int) -> *mut c_void {
        // SAFETY: any size may be asked of mimalloc; it answers null when it has none.
        unsafe { mi_malloc(bytes(size)) }
    }

    unsafe extern "C" fn free(block: *mut c_void) {
        // SAFETY: SQLite frees only what `malloc` or `realloc` gave it (never null).
        unsafe { mi_free(block) }
    }

    unsafe extern "C" fn realloc(block: *mut c_void, size: c_int) -> *mut c_void {
        // SAFETY: as for `free`; the block is SQLite's until it is given back.
        unsafe { mi_realloc(block, bytes(size)) }
    }

    unsafe extern "C" fn size(block: *mut c_void) -> c_int {
        // SAFETY: as for `free`.
        let usable = unsafe { mi_usable_size(block) };
        c_int::try_from(usable).unwrap_or(c_int::MAX)
    }

    extern "C" fn roundup(size: c_int) -> c_int {
        size
    }

    extern "C" fn init(_: *mut c_void) -> c_int {
        SQLITE_OK
    }

    extern "C" fn shutdown(_: *mut c_void) {}
}

/// The lock servers starting together on one PostgreSQL take in turn to migrate it, so that
/// the second finds the first's migrations applied rather than applying them again (and
/// failing on a table that now exists). Any fixed number: only migrations take it.
const MIGRATION_LOCK: i64 = 0x0053_7465_6572_636f; // "Steerco" in ASCII

/// Applies every pending migration. On PostgreSQL, servers starting together take turns
/// ([`MIGRATION_LOCK`]); each reads what is pending once its turn has come.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(db, None).await;
    }
    // Held by a transaction of its own, on one connection of the pool, while the migrations
    // run on others; it goes with the transaction, however this ends.
    let turn = db.begin().await?;
    turn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [MIGRATION_LOCK.into()],
    ))
    .await?;
    let applied = Migrator::up(db, None).await;
    turn.rollback().await?;
    applied
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
        self.count_also_apart(db);
    }

    /// Counts the statements of another pool too, and gives a counter of that pool's alone
    /// (what SQLite's commands run in their turn at the writer).
    pub fn count_also_apart(&self, db: &mut DatabaseConnection) -> StatementCounter {
        let apart = Self::default();
        let (total, own) = (self.0.clone(), apart.0.clone());
        db.set_metric_callback(move |_| {
            total.fetch_add(1, Ordering::Relaxed);
            own.fetch_add(1, Ordering::Relaxed);
        });
        apart
    }

    /// Statements run since counting started.
    pub fn total(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new SQLite database file, gone with its folder.
    struct DatabaseFile {
        _folder: tempfile::TempDir,
        path: std::path::PathBuf,
        url: String,
    }

    fn database_file() -> DatabaseFile {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let path = folder.path().join("steerco.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        DatabaseFile {
            _folder: folder,
            path,
            url,
        }
    }

    async fn writer_of(url: &str) -> DatabaseConnection {
        connect_writer(url)
            .await
            .expect("the writer")
            .expect("SQLite has a writer of its own")
    }

    #[tokio::test]
    async fn an_in_memory_database_is_refused_with_a_way_out() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://x.db?mode=memory",
        ] {
            let refused = connect(url).await.expect_err(url).to_string();
            assert!(refused.contains("use a file"), "{url}: {refused}");
        }
    }

    #[tokio::test]
    async fn every_sqlite_connection_keeps_its_query_plans() {
        let file = database_file();
        let readers = connect(&file.url).await.expect("the pool that reads");
        let writer = writer_of(&file.url).await;
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

    /// A setting of `conn`, as `PRAGMA name` reads it back.
    async fn pragma(conn: &DatabaseConnection, name: &str) -> i64 {
        let row = conn
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                format!("PRAGMA {name}"),
            ))
            .await
            .expect("the setting")
            .expect("a row");
        row.try_get("", name).expect("a number")
    }

    #[tokio::test]
    async fn the_writer_keeps_its_savepoint_journals_in_memory() {
        let file = database_file();
        let writer = writer_of(&file.url).await;
        let memory = 2;
        assert_eq!(pragma(&writer, "temp_store").await, memory);
    }

    #[tokio::test]
    async fn the_writer_leaves_checkpoints_to_the_background() {
        let file = database_file();
        let writer = writer_of(&file.url).await;
        assert_eq!(
            pragma(&writer, "wal_autocheckpoint").await,
            0,
            "the writer must not checkpoint in its commits"
        );

        // Two megabytes written through the writer reach the database file only when
        // something else copies them out of the WAL.
        writer
            .execute_unprepared(
                "CREATE TABLE filler (text TEXT NOT NULL);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
                 INSERT INTO filler SELECT printf('%.1000c', 'x') FROM n;",
            )
            .await
            .expect("the rows");
        let copied = async {
            while std::fs::metadata(&file.path)
                .expect("the database file")
                .len()
                < 2_000_000
            {
                tokio::time::sleep(CHECKPOINT_EVERY).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), copied)
            .await
            .expect("the background checkpointer copied the WAL into the database");
    }
}
