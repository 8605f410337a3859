//! What one SQLite statement costs on this machine through sqlx, whose SQLite connections each
//! run on a thread of their own, against the same statement run by SQLite on the caller's
//! thread; and what a bare round trip between a Tokio task and a thread costs, which is most
//! of the difference. W3 at one client waits for such a round trip at every statement of a
//! defect's turn and at its commit, one after another.
//!
//! `cargo bench --bench handoff`; `BENCH_HANDOFF_ROUNDS` sets how many times each line runs
//! (default 20,000). SQLite runs in a temporary folder. Through sqlx, the statements run as the
//! server runs them, from tasks on the runtime's workers, allocating with the server's
//! allocator: reads on the reading pool (`steerco::db::connect`), inserts in a transaction on
//! the writer's connection (`steerco::db::connect_writer`, whose checkpoint every 200 ms runs
//! meanwhile). On the caller's thread they run through the SQLite library sqlx links, opened
//! as sqlx opens it (no mutex of SQLite's own), in WAL mode with `synchronous=NORMAL`; the
//! server's other settings do not bear on these statements. Every operation is timed alone,
//! so the lines of a microsecond or less include the clock's own cost, some tens of
//! nanoseconds.

use std::ffi::{CStr, CString, c_int};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use std::{ptr, slice};

use libsqlite3_sys as ffi;
use percentiles::Percentiles;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};

// The workloads bench's percentiles, of which this one prints the median and the 99th.
#[allow(dead_code)]
#[path = "workloads/percentiles.rs"]
mod percentiles;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// sqlx and Tokio allocate as in `steerco` (`src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Rows of the table the reads pick from.
const ROWS: i64 = 1_000;

const CREATE: &str = "CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)";
const READ: &str = "SELECT body FROM note WHERE id = ?";
const INSERT: &str = "INSERT INTO note (body) VALUES (?)";
const BODY: &str = "The quote total ignores the discount";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    // SAFETY: nothing has opened a database yet; as `steerco` does (`src/main.rs`).
    unsafe { steerco::db::configure_sqlite_library() }?;
    let rounds = match std::env::var("BENCH_HANDOFF_ROUNDS") {
        Err(_) => 20_000,
        Ok(text) => text
            .parse::<usize>()
            .ok()
            .filter(|&rounds| rounds > 0)
            .ok_or_else(|| format!("BENCH_HANDOFF_ROUNDS={text}: a count of rounds, at least 1"))?,
    };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("handoff.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let writer = steerco::db::connect_writer(&url)
        .await?
        .ok_or("a SQLite URL has a writer")?;
    writer.execute_unprepared(CREATE).await?;
    let txn = writer.begin().await?;
    for _ in 0..ROWS {
        txn.execute_raw(insert_statement()).await?;
    }
    txn.commit().await?;
    let readers = steerco::db::connect(&url).await?;

    println!(
        "{:<56} {:>9} {:>9} {:>9}",
        "µs per operation", "mean", "p50", "p99"
    );
    let direct = Direct::open(&path)?;
    let mut point_read = direct.prepare(READ)?;
    report(
        "point read, SQLite on the caller's thread",
        time(rounds, |i| point_read.read(note_id(i)))?,
    );
    drop(point_read);
    report(
        "point read on the reading pool, through sqlx (sea-orm)",
        on_worker(async move { time_async(rounds, |i| read_through(&readers, note_id(i))).await })
            .await?,
    );

    let mut insert = direct.prepare(INSERT)?;
    direct.execute("BEGIN IMMEDIATE")?;
    let inserted = time(rounds, |_| insert.insert(BODY));
    direct.execute("COMMIT")?;
    report(
        "insert in a transaction, SQLite on the caller's thread",
        inserted?,
    );
    drop(insert);
    drop(direct);
    report(
        "insert in a transaction on the writer, through sqlx",
        on_worker(async move {
            let txn = writer.begin().await?;
            let inserted = time_async(rounds, |_| async {
                txn.execute_raw(insert_statement())
                    .await
                    .map(drop)
                    .map_err(Error::from)
            })
            .await?;
            txn.commit().await?;
            Ok(inserted)
        })
        .await?,
    );

    report(
        "round trip, Tokio task to a thread and back",
        on_worker(task_to_thread(rounds)).await?,
    );
    report(
        "round trip, thread to thread and back",
        thread_to_thread(rounds)?,
    );
    Ok(())
}

fn note_id(round: usize) -> i64 {
    1 + i64::try_from(round).unwrap_or(0) % ROWS
}

fn insert_statement() -> Statement {
    Statement::from_sql_and_values(DbBackend::Sqlite, INSERT, [BODY.into()])
}

/// Runs `work` as a task on one of the runtime's workers, as the server runs its operations,
/// rather than on the thread that waits for the runtime.
async fn on_worker<T: Send + 'static>(
    work: impl Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, Error> {
    tokio::spawn(work).await?
}

async fn read_through(db: &DatabaseConnection, id: i64) -> Result<(), Error> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            READ,
            [id.into()],
        ))
        .await?
        .ok_or("no such note")?;
    let body: String = row.try_get_by_index(0)?;
    assert_eq!(body, BODY);
    Ok(())
}

/// Each of `rounds` runs of `run`, timed.
fn time(
    rounds: usize,
    mut run: impl FnMut(usize) -> Result<(), Error>,
) -> Result<Vec<Duration>, Error> {
    let mut times = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let started = Instant::now();
        run(i)?;
        times.push(started.elapsed());
    }
    Ok(times)
}

async fn time_async<F: Future<Output = Result<(), Error>>>(
    rounds: usize,
    mut run: impl FnMut(usize) -> F,
) -> Result<Vec<Duration>, Error> {
    let mut times = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let started = Instant::now();
        run(i).await?;
        times.push(started.elapsed());
    }
    Ok(times)
}

/// A Tokio task asks a thread blocked on a channel, and awaits its answer: like sqlx, which
/// sends each statement to its connection's thread and awaits the rows it sends back, without
/// SQLite.
async fn task_to_thread(rounds: usize) -> Result<Vec<Duration>, Error> {
    let (asks, asked) = mpsc::sync_channel::<tokio::sync::oneshot::Sender<()>>(1);
    let thread = std::thread::spawn(move || {
        for answer in asked {
            let _ = answer.send(());
        }
    });
    let times = time_async(rounds, |_| async {
        let (answer, answered) = tokio::sync::oneshot::channel();
        asks.send(answer)?;
        answered.await?;
        Ok(())
    })
    .await;
    drop(asks);
    thread.join().map_err(|_| "the answering thread panicked")?;
    times
}

/// Two threads, each blocked on its channel in turn.
fn thread_to_thread(rounds: usize) -> Result<Vec<Duration>, Error> {
    let (asks, asked) = mpsc::sync_channel::<()>(1);
    let (answers, answered) = mpsc::sync_channel::<()>(1);
    let thread = std::thread::spawn(move || {
        for () in asked {
            if answers.send(()).is_err() {
                break;
            }
        }
    });
    let times = time(rounds, |_| {
        asks.send(())?;
        answered.recv()?;
        Ok(())
    });
    drop(asks);
    thread.join().map_err(|_| "the answering thread panicked")?;
    times
}

/// Prints the mean, median and 99th percentile of `times`, which holds at least one.
fn report(what: &str, times: Vec<Duration>) {
    let Some(ranked) = Percentiles::of(&times) else {
        return;
    };
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = times.iter().copied().map(micros).sum::<f64>() / times.len() as f64;
    println!(
        "{what:<56} {mean:>9.1} {:>9.1} {:>9.1}",
        micros(ranked.p50),
        micros(ranked.p99)
    );
}

/// A SQLite connection used on the thread that calls it.
struct Direct(*mut ffi::sqlite3);

impl Direct {
    fn open(path: &Path) -> Result<Self, Error> {
        let path = CString::new(path.to_str().ok_or("a path that is not UTF-8")?)?;
        let mut db = ptr::null_mut();
        // SAFETY: `path` is a NUL-terminated string and `db` a place for the handle. Used by
        // one thread only, the connection needs no mutex of SQLite's (sqlx opens its own so).
        let status = unsafe {
            ffi::sqlite3_open_v2(
                path.as_ptr(),
                &mut db,
                ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX,
                ptr::null(),
            )
        };
        let direct = Direct(db);
        direct.check(status)?;
        direct.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL")?;
        Ok(direct)
    }

    fn execute(&self, sql: &str) -> Result<(), Error> {
        let sql = CString::new(sql)?;
        // SAFETY: an open handle and a NUL-terminated statement; no callback.
        let status = unsafe {
            ffi::sqlite3_exec(self.0, sql.as_ptr(), None, ptr::null_mut(), ptr::null_mut())
        };
        self.check(status)
    }

    fn prepare(&self, sql: &str) -> Result<Prepared<'_>, Error> {
        let sql = CString::new(sql)?;
        let mut statement = ptr::null_mut();
        // SAFETY: an open handle, a NUL-terminated statement and a place for the statement.
        let status = unsafe {
            ffi::sqlite3_prepare_v2(self.0, sql.as_ptr(), -1, &mut statement, ptr::null_mut())
        };
        self.check(status)?;
        Ok(Prepared {
            db: self,
            statement,
        })
    }

    fn check(&self, status: c_int) -> Result<(), Error> {
        if status == ffi::SQLITE_OK {
            return Ok(());
        }
        // SAFETY: the handle, even one whose opening failed, keeps its last error's message.
        let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.0)) };
        Err(format!("SQLite {status}: {}", message.to_string_lossy()).into())
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        // SAFETY: every statement borrowed the connection, and was finalized before this.
        let status = unsafe { ffi::sqlite3_close(self.0) };
        debug_assert_eq!(status, ffi::SQLITE_OK, "a statement was left unfinalized");
    }
}

/// A statement prepared once and run again and again, as sqlx keeps its statements.
struct Prepared<'db> {
    db: &'db Direct,
    statement: *mut ffi::sqlite3_stmt,
}

impl Prepared<'_> {
    /// Reads the body of note `id`, and checks it.
    fn read(&mut self, id: i64) -> Result<(), Error> {
        // SAFETY: a prepared statement with one parameter, stepped, read and reset here only;
        // the text is compared before the reset frees it.
        unsafe {
            self.db
                .check(ffi::sqlite3_bind_int64(self.statement, 1, id))?;
            let stepped = ffi::sqlite3_step(self.statement);
            let found = stepped == ffi::SQLITE_ROW && {
                let text = ffi::sqlite3_column_text(self.statement, 0);
                let length = ffi::sqlite3_column_bytes(self.statement, 0);
                !text.is_null()
                    && slice::from_raw_parts(text, usize::try_from(length)?) == BODY.as_bytes()
            };
            self.db.check(ffi::sqlite3_reset(self.statement))?;
            if !found {
                return Err(format!("note {id} was not read back (step gave {stepped})").into());
            }
        }
        Ok(())
    }

    fn insert(&mut self, body: &str) -> Result<(), Error> {
        let length = c_int::try_from(body.len())?;
        // SAFETY: a prepared statement with one parameter; SQLite copies the text it is bound
        // (SQLITE_TRANSIENT) before this returns.
        unsafe {
            self.db.check(ffi::sqlite3_bind_text(
                self.statement,
                1,
                body.as_ptr().cast(),
                length,
                ffi::SQLITE_TRANSIENT(),
            ))?;
            let stepped = ffi::sqlite3_step(self.statement);
            self.db.check(ffi::sqlite3_reset(self.statement))?;
            if stepped != ffi::SQLITE_DONE {
                return Err(format!("insert stepped to {stepped}").into());
            }
        }
        Ok(())
    }
}

impl Drop for Prepared<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement is finalized once, here.
        unsafe { ffi::sqlite3_finalize(self.statement) };
    }
}
