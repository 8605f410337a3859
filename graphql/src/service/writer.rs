//! Where write transactions begin, and how SQLite's commands commit together.
//!
//! On PostgreSQL every command begins its own transaction on the shared pool: row locks order
//! the commands that touch the same rows, the others run side by side.
//!
//! SQLite has one writer. Commands queue for it ([`Writer::queue`]) and a task of the queue's
//! own hands the connection to each in turn, with **group commit**: the first command in line
//! that runs a statement begins one transaction (`BEGIN IMMEDIATE`), every command waiting when
//! it is done runs in a savepoint of that transaction, one after another, and the task commits
//! them all at once. The task, not the command, decides what opens each command's work, and
//! the command opens it: the `BEGIN`, or the statement that releases the savepoint before and
//! opens the command's own, travels ahead of the command's first statement, in the same round
//! trip to the connection's thread (each round trip is two hand-overs between threads; a
//! first statement that writes sends a `BEGIN` ahead alone, see [`miscounts`]), and
//! the `COMMIT` releases the last savepoint. The task keeps
//! its connection lent from the writer's pool for good and runs the transactions on it as
//! statements ([`lend_connection`]): sqlx's own `BEGIN` and `COMMIT` each wait for their answer
//! to be acknowledged, and a connection given back to its pool is checked by one more round
//! trip. A command's own refusal or failure rolls back its own work and nothing else; one
//! refused before its first statement leaves the transaction as it was, and its group goes on;
//! one whose first statement, carrying its `BEGIN` or savepoint, did not come back well may run
//! no other statement and cannot commit.
//! A command that begins its group's transaction with nobody waiting behind it is alone in its
//! group, and may end the transaction itself: its last statement, given to
//! [`WriteTxn::commit_with`], carries the `COMMIT` in the same round trip, and the task, told
//! so, commits nothing more; commands that came meanwhile begin the next group. (A command
//! alone that commits with [`WriteTxn::commit`] leaves the commit to the task, and those that
//! came meanwhile join its group.) At one client every command is alone, and a defect's
//! `COMMIT`, carried by its outbox rows, took a tenth off its time.
//! A command hears that it committed only when the whole transaction has: its answer, its
//! emails' wake-up and its subscribers' events all wait for that, and a commit that fails fails
//! every command of the group. So a command still commits atomically with its audit event and
//! its outbox rows, and never reports a write that did not reach the database.
//!
//! What grouping saves is the work SQLite does once per transaction rather than once per
//! change: taking the write lock, and at the commit writing every page the transaction
//! touched to the WAL (the commands of a group mostly touch the same pages: the last leaf of
//! the defect, audit and outbox tables and of their indexes).

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    ExecResult, QueryResult, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

use super::idempotency;

/// Most commands one transaction commits: a bound on how long the first of a group waits for
/// the others, and on how many commands one failed commit fails.
pub const MOST_COMMANDS_PER_COMMIT: usize = 32;

/// How long a command waits for its turn before it fails, as it would waiting for a pooled
/// connection. Only a command that already holds the writer and asks for it again (a bug)
/// or a writer stuck on a lock held by another process waits that long.
const WAIT_FOR_TURN: Duration = Duration::from_secs(30);

/// Commands that may wait to be handed the writer; more wait to queue.
const QUEUE_DEPTH: usize = 256;

/// Where write transactions begin ([`begin_write`]).
#[derive(Clone)]
pub enum Writer {
    /// Each command begins its own transaction on this pool.
    Pool(DatabaseConnection),
    /// Commands queue for one connection and commit in groups (SQLite).
    Queue(WriteQueue),
}

impl Writer {
    /// Queues the commands for `connection`, a pool of one SQLite connection, and spawns the
    /// task that runs them on the current Tokio runtime; it ends when the last clone of the
    /// writer is dropped.
    pub fn queue(connection: DatabaseConnection) -> Self {
        let (requests, waiting) = mpsc::channel(QUEUE_DEPTH);
        let stats = Arc::new(Counters::default());
        let backend = connection.get_database_backend();
        tokio::spawn(run_groups(connection, waiting, Arc::clone(&stats)));
        Writer::Queue(WriteQueue {
            requests,
            stats,
            backend,
        })
    }

    /// The database the writer writes to.
    pub fn backend(&self) -> DbBackend {
        match self {
            Writer::Pool(pool) => pool.get_database_backend(),
            Writer::Queue(queue) => queue.backend,
        }
    }

    /// Runs one statement that writes but is not a command: no audit event, nobody notified,
    /// nothing else to commit with it (a token's last use, an idempotency key's answer, the
    /// outbox's delivery bookkeeping).
    ///
    /// On a pool (PostgreSQL) it runs as a transaction of its own. On a queue (SQLite) it
    /// takes a turn at the writer like any command and commits with its group. Run on a
    /// reading connection instead, it would contend with the writer for SQLite's one write
    /// lock, both sides polling for it with sleeps that grow to 100 ms (SQLite's busy handler),
    /// and under a steady stream of commands it found the lock free only between two groups.
    pub async fn execute_alone(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Writer::Pool(pool) => pool.execute_raw(statement).await,
            Writer::Queue(_) => {
                let txn = begin_write(self).await?;
                let done = txn.execute_raw(statement).await?;
                // No command: nothing of a keyed request's changes, as on a pool.
                txn.commit_unmarked().await?;
                Ok(done)
            }
        }
    }

    /// Transactions committed and commands they committed, for a queued writer.
    pub fn group_stats(&self) -> Option<GroupStats> {
        match self {
            Writer::Pool(_) => None,
            Writer::Queue(queue) => Some(queue.stats.snapshot()),
        }
    }

    /// Of a queued writer's commits, those a command alone in its group sent with its last
    /// statement ([`WriteTxn::commit_with`]).
    pub fn carried_commits(&self) -> Option<u64> {
        match self {
            Writer::Pool(_) => None,
            Writer::Queue(queue) => Some(queue.stats.carried_commits.load(Ordering::Relaxed)),
        }
    }

    /// Whether a command asking for its turn now would wait behind others: the queued writer
    /// has a transaction open or commands in line. A command may then do beforehand, on a
    /// reading connection, what it would otherwise do in its turn. Never on a pool, where
    /// commands do not take turns.
    pub fn is_busy(&self) -> bool {
        match self {
            Writer::Pool(_) => false,
            Writer::Queue(queue) => {
                queue.stats.group_open.load(Ordering::Relaxed)
                    || queue.requests.capacity() < queue.requests.max_capacity()
            }
        }
    }

    /// How long a queued writer has kept its transactions open and its commands their turns.
    pub fn busy_times(&self) -> Option<BusyTimes> {
        match self {
            Writer::Pool(_) => None,
            Writer::Queue(queue) => Some(queue.stats.busy_times()),
        }
    }
}

#[cfg(test)]
impl Writer {
    /// Waits until `count` commands of a queued writer wait in line for their turn.
    pub(crate) async fn until_waiting(&self, count: usize) {
        let Writer::Queue(queue) = self else {
            unreachable!("only a queued writer has a line")
        };
        while QUEUE_DEPTH - queue.requests.capacity() < count {
            tokio::task::yield_now().await;
        }
    }
}

/// The handle of a queued writer: where commands ask for their turn.
#[derive(Clone)]
pub struct WriteQueue {
    requests: mpsc::Sender<TurnRequest>,
    stats: Arc<Counters>,
    backend: DbBackend,
}

/// What a queued writer has committed so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupStats {
    /// Transactions committed.
    pub commits: u64,
    /// Commands those transactions committed.
    pub commands: u64,
}

impl GroupStats {
    /// What was committed between `earlier` and `self`.
    pub fn since(self, earlier: GroupStats) -> GroupStats {
        GroupStats {
            commits: self.commits - earlier.commits,
            commands: self.commands - earlier.commands,
        }
    }
}

/// How long a queued writer has been busy so far: what sets its rate when commands queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BusyTimes {
    /// Transactions ended, committed or rolled back.
    pub transactions: u64,
    /// Their time open, from `BEGIN` to the end of `COMMIT` or `ROLLBACK`.
    pub open: Duration,
    /// Turns commands have ended.
    pub turns: u64,
    /// Their time, from a command being handed the transaction to being done with it.
    pub holding: Duration,
}

impl BusyTimes {
    /// What was spent between `earlier` and `self`.
    pub fn since(self, earlier: BusyTimes) -> BusyTimes {
        BusyTimes {
            transactions: self.transactions - earlier.transactions,
            open: self.open.saturating_sub(earlier.open),
            turns: self.turns - earlier.turns,
            holding: self.holding.saturating_sub(earlier.holding),
        }
    }
}

#[derive(Default)]
struct Counters {
    /// Whether the queue's task has a group's transaction open, from taking its first command
    /// to handing each its outcome.
    group_open: AtomicBool,
    commits: AtomicU64,
    commands: AtomicU64,
    /// Commits a command alone in its group sent with its last statement.
    carried_commits: AtomicU64,
    transactions_ended: AtomicU64,
    open_nanos: AtomicU64,
    turns_ended: AtomicU64,
    holding_nanos: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> GroupStats {
        GroupStats {
            commits: self.commits.load(Ordering::Relaxed),
            commands: self.commands.load(Ordering::Relaxed),
        }
    }

    fn busy_times(&self) -> BusyTimes {
        // The counts last: what they count has its time added already.
        let transactions = self.transactions_ended.load(Ordering::Acquire);
        let turns = self.turns_ended.load(Ordering::Acquire);
        BusyTimes {
            transactions,
            open: Duration::from_nanos(self.open_nanos.load(Ordering::Relaxed)),
            turns,
            holding: Duration::from_nanos(self.holding_nanos.load(Ordering::Relaxed)),
        }
    }

    /// Counts one more transaction or turn (`count`) that took from `since` until now (`time`).
    fn ended(count: &AtomicU64, time: &AtomicU64, since: Instant) {
        let nanos = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        time.fetch_add(nanos, Ordering::Relaxed);
        count.fetch_add(1, Ordering::Release);
    }
}

type TurnRequest = oneshot::Sender<Result<WriteTxn, DbErr>>;

/// One command's write transaction: a transaction of its own, or its turn in its group's.
/// Dropped without [`WriteTxn::commit`], it rolls back.
pub struct WriteTxn {
    // Dropped first: when the group's task hears the command is gone, through `membership`,
    // the transaction is back in its hands alone.
    txn: Arc<DatabaseTransaction>,
    membership: Option<Membership>,
    /// What opens the command's work in its group's transaction (the `BEGIN`, or its
    /// savepoint); it runs ahead of the command's first statement. `None` on a pool.
    prelude: Option<Prelude>,
    /// Set when the command is alone in its group, and raised once its last statement has
    /// carried the `COMMIT` ([`WriteTxn::commit_with`]). `None` on a pool.
    commits_alone: Option<Arc<AtomicBool>>,
}

/// The savepoint names of a group's commands. Two commands in a row never share one: a
/// command whose savepoint statement did not run cannot be rolled back to the savepoint of
/// the command before it, whose work its group's task has counted as done. Rolling back to a
/// savepoint that was never opened fails, and fails the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Savepoint {
    A,
    B,
}

impl Savepoint {
    /// The savepoint the next command opens after `open`, and the statement that releases
    /// `open` and opens it.
    fn next_after(open: Option<Savepoint>) -> (Savepoint, &'static str) {
        match open {
            None => (Savepoint::A, "SAVEPOINT a"),
            Some(Savepoint::A) => (Savepoint::B, "RELEASE SAVEPOINT a; SAVEPOINT b"),
            Some(Savepoint::B) => (Savepoint::A, "RELEASE SAVEPOINT b; SAVEPOINT a"),
        }
    }

    /// The statement that undoes everything since this savepoint opened.
    fn rollback(self) -> &'static str {
        match self {
            Savepoint::A => "ROLLBACK TO SAVEPOINT a",
            Savepoint::B => "ROLLBACK TO SAVEPOINT b",
        }
    }
}

/// What opens a command's work (its group's `BEGIN`, or its savepoint), waiting for the
/// command's first statement to carry it.
struct Prelude {
    sql: &'static str,
    /// Held by the statement that carries `sql` until it has run, so that no other statement
    /// of the command reaches the connection before it.
    carrying: tokio::sync::Mutex<()>,
    /// How far it got, for the command's commit and for the group's task once the turn is over.
    progress: Arc<PreludeProgress>,
}

impl Prelude {
    /// A prelude of `sql`, and its progress for the group's task to read.
    fn new(sql: &'static str) -> (Self, Arc<PreludeProgress>) {
        let progress = Arc::new(PreludeProgress(AtomicU8::new(Carried::Waiting as u8)));
        let prelude = Prelude {
            sql,
            carrying: tokio::sync::Mutex::new(()),
            progress: Arc::clone(&progress),
        };
        (prelude, progress)
    }
}

/// How far a command's prelude got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Carried {
    /// No statement of the command was sent: the transaction is as the command found it.
    Waiting = 0,
    /// A statement carrying it was sent and did not come back well: failed, or dropped on the
    /// way. What of the text ran is unknown, so the command may not commit.
    Taken = 1,
    /// The statement carrying it ran to the end: the group's transaction is begun, or the
    /// command's savepoint open.
    Ran = 2,
}

/// [`Carried`], shared between a command and its group's task.
struct PreludeProgress(AtomicU8);

impl PreludeProgress {
    fn get(&self) -> Carried {
        match self.0.load(Ordering::Acquire) {
            0 => Carried::Waiting,
            2 => Carried::Ran,
            _ => Carried::Taken,
        }
    }

    fn set(&self, carried: Carried) {
        self.0.store(carried as u8, Ordering::Release);
    }
}

/// A grouped command's line to its group's task.
struct Membership {
    /// Sent when the command is done with its turn; dropped when it rolled back or went away.
    done: oneshot::Sender<()>,
    /// How the group's commit went.
    outcome: oneshot::Receiver<Result<(), String>>,
}

impl WriteTxn {
    /// Commits the command; grouped, waits until its group's transaction has committed.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.mark_idempotency_keys().await?;
        self.commit_unmarked().await
    }

    /// Marks the keys of the keyed request this command runs in as written, in the command's
    /// own work, so that the mark commits, or rolls back, with it
    /// ([`idempotency::written_mark`]).
    /// A request another one took over, as abandoned, no longer holds its key: its command
    /// fails rather than commit what the new holder may be writing again.
    async fn mark_idempotency_keys(&self) -> Result<(), DbErr> {
        if let Some(mark) = idempotency::written_mark(self.get_database_backend()) {
            let idempotency::WrittenMark { statement, keys } = mark;
            if self.execute_raw(statement).await?.rows_affected() != keys {
                return Err(DbErr::Custom(
                    "this request's idempotency key was taken over by a later request with the same key, which found it abandoned; nothing of this command was kept"
                        .to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Commits the command's work as it stands, without marking the keys of a keyed request
    /// written: for the idempotency bookkeeping itself, which is none of the request's
    /// changes.
    pub(crate) async fn commit_unmarked(self) -> Result<(), DbErr> {
        if self
            .prelude
            .as_ref()
            .is_some_and(|prelude| prelude.progress.get() == Carried::Taken)
        {
            // Dropped, the command's turn ends as a rollback.
            return Err(prelude_not_run());
        }
        let WriteTxn {
            txn, membership, ..
        } = self;
        let Some(Membership { done, outcome }) = membership else {
            return sole_owner(txn)?.commit().await;
        };
        drop(txn);
        // The task waits for this before it runs anything else: it cannot be gone while the
        // command holds its turn.
        let _ = done.send(());
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(DbErr::Custom(format!(
                "the transaction of this command's group failed to commit: {error}"
            ))),
            Err(_) => Err(DbErr::Custom(
                "the writer stopped before this command's group committed".to_owned(),
            )),
        }
    }
}

impl WriteTxn {
    /// Runs the command's last statement and commits. A command alone in its group sends the
    /// `COMMIT` with that statement, in one round trip; any other runs it, then commits as
    /// [`WriteTxn::commit`] does. When the statement (or the `COMMIT` after it) fails, the
    /// command fails and its work is rolled back, as when any statement of it fails.
    pub async fn commit_with(self, last: Statement) -> Result<(), DbErr> {
        self.mark_idempotency_keys().await?;
        let Some(alone) = self.commits_alone.clone() else {
            self.execute_raw(last).await?;
            return self.commit_unmarked().await;
        };
        let carrying_commit = Statement {
            sql: format!("{}; COMMIT", last.sql),
            ..last
        };
        self.execute_raw(carrying_commit).await?;
        alone.store(true, Ordering::Release);
        self.commit_unmarked().await
    }
}

fn prelude_not_run() -> DbErr {
    DbErr::Custom(
        "the statement that opened this command's work in its group's transaction (the BEGIN, or its savepoint) did not complete; the command cannot go on nor commit"
            .to_owned(),
    )
}

/// The transaction behind `shared`, once nobody else holds it.
fn sole_owner(shared: Arc<DatabaseTransaction>) -> Result<DatabaseTransaction, DbErr> {
    Arc::try_unwrap(shared).map_err(|_| {
        DbErr::Custom("a write transaction was still in use when it had to end".to_owned())
    })
}

/// Begins a command's write transaction. On SQLite it is `BEGIN IMMEDIATE` (or a savepoint of
/// a transaction begun so): a deferred transaction that reads and then writes fails with
/// `SQLITE_BUSY` in WAL mode whatever the busy timeout, while an immediate one waits its turn
/// for the write lock.
pub async fn begin_write(writer: &Writer) -> Result<WriteTxn, DbErr> {
    match writer {
        Writer::Pool(pool) => Ok(WriteTxn {
            txn: Arc::new(begin_alone(pool).await?),
            membership: None,
            prelude: None,
            commits_alone: None,
        }),
        Writer::Queue(queue) => {
            let (request, turn) = oneshot::channel();
            queue
                .requests
                .send(request)
                .await
                .map_err(|_| writer_stopped())?;
            match tokio::time::timeout(WAIT_FOR_TURN, turn).await {
                Ok(Ok(handed)) => handed,
                Ok(Err(_)) => Err(writer_stopped()),
                Err(_) => Err(DbErr::Custom(format!(
                    "waited {} s for the database's writer",
                    WAIT_FOR_TURN.as_secs()
                ))),
            }
        }
    }
}

fn writer_stopped() -> DbErr {
    DbErr::Custom("the database's writer has stopped".to_owned())
}

/// A transaction of its own on `pool`.
async fn begin_alone(pool: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let sqlite_transaction_mode = match pool.get_database_backend() {
        DbBackend::Sqlite => Some(SqliteTransactionMode::Immediate),
        _ => None,
    };
    pool.begin_with_options(TransactionOptions {
        isolation_level: None,
        access_mode: Some(AccessMode::ReadWrite).filter(|_| sqlite_transaction_mode.is_none()),
        sqlite_transaction_mode,
    })
    .await
}

/// The queue's task: a transaction per group of waiting commands, until the queue closes.
///
/// The task keeps one connection of the writer's pool lent for good ([`lend_connection`]) and
/// runs SQLite's transactions on it itself, as statements: a group's `BEGIN IMMEDIATE`
/// travels with the first statement of its first command when that one reads ([`miscounts`]),
/// as a savepoint statement does with the others', and its `COMMIT` is one round trip. Begun
/// and committed through sqlx, each
/// took two hand-overs between threads and back (sqlx waits for the transaction's answer to be
/// acknowledged), and the connection, given back to its pool after each group, took a third
/// round trip for sqlx's check on its return.
async fn run_groups(
    connection: DatabaseConnection,
    mut waiting: mpsc::Receiver<TurnRequest>,
    stats: Arc<Counters>,
) {
    let mut lent: Option<Arc<DatabaseTransaction>> = None;
    while let Some(first) = waiting.recv().await {
        let marked_open = GroupOpen::raise(&stats.group_open);
        let opened = Instant::now();
        let group = match lent.take() {
            Some(group) => group,
            None => match lend_connection(&connection).await {
                Ok(group) => Arc::new(group),
                Err(error) => {
                    drop(marked_open);
                    let _ = first.send(Err(error));
                    continue;
                }
            },
        };
        let mut committed_by_group = Vec::new();
        let mut state = GroupState::default();
        let mut outcome = Ok(());
        let mut next = Some(first);
        // Whether a command alone in the group committed it with its last statement.
        let mut committed_by_command = false;
        // Turns handed: commands that ran no statement count too.
        let mut turns = 0;
        while let Some(request) = next.take() {
            turns += 1;
            let step = state.next_step();
            let (prelude, progress) = Prelude::new(step.sql());
            let alone = (step == Step::Begin && waiting.is_empty())
                .then(|| Arc::new(AtomicBool::new(false)));
            let member = hand_turn(&group, request, prelude, alone.clone(), &stats).await;
            let carried = progress.get();
            committed_by_command = member.is_some()
                && alone.is_some_and(|committed| committed.load(Ordering::Acquire));
            if let Some(member) = member {
                // A command commits only with its prelude waiting or run, never merely taken.
                if carried == Carried::Ran {
                    state.ran(step);
                }
                committed_by_group.push(member);
            } else if carried != Carried::Waiting {
                // The command's work is undone. After a rollback the transaction may not be
                // what the next command expects (SQLite rolls back the whole transaction on
                // some errors): commit now. Unless the command's work could not be undone,
                // which must then not commit with the rest (its savepoint statement may not
                // have run: then this fails too).
                if let Err(error) = state.undo(&group, step).await {
                    outcome = Err(format!(
                        "a refused command's work could not be rolled back: {error}"
                    ));
                }
                break;
            }
            if committed_by_command {
                break;
            }
            // Otherwise the command ran no statement: the transaction is as it was.
            if turns < MOST_COMMANDS_PER_COMMIT {
                next = waiting.try_recv().ok();
            }
        }
        // COMMIT releases the last command's savepoint with the rest.
        let outcome = match outcome {
            Ok(()) if !state.begun || committed_by_command => Ok(()),
            Ok(()) if Arc::strong_count(&group) > 1 => {
                Err("a write transaction was still in use when it had to end".to_owned())
            }
            Ok(()) => group
                .execute_unprepared("COMMIT")
                .await
                .map(drop)
                .map_err(|error| error.to_string()),
            Err(error) => Err(error),
        };
        if outcome.is_err() {
            // Whatever is left of the transaction goes, and so does the connection (below).
            let _ = group.execute_unprepared("ROLLBACK").await;
        }
        if state.began {
            Counters::ended(&stats.transactions_ended, &stats.open_nanos, opened);
        }
        match &outcome {
            Ok(()) if state.begun => {
                stats.commits.fetch_add(1, Ordering::Relaxed);
                if committed_by_command {
                    stats.carried_commits.fetch_add(1, Ordering::Relaxed);
                }
                stats
                    .commands
                    .fetch_add(committed_by_group.len() as u64, Ordering::Relaxed);
            }
            Ok(()) => {}
            Err(error) => {
                tracing::error!(%error, commands = committed_by_group.len(), "group commit failed");
            }
        }
        // A connection whose state is in doubt goes back to its pool, which checks it, and the
        // next group is lent a fresh one.
        if outcome.is_ok() && !state.in_doubt {
            lent = Some(group);
        }
        // Lowered before anyone hears: a command answered next asks a writer that is free.
        drop(marked_open);
        for member in committed_by_group {
            // A command that went away meanwhile committed all the same.
            let _ = member.send(outcome.clone());
        }
    }
}

/// A connection of the writer's pool, lent for as long as the queue's task keeps it. sea-orm
/// lends a connection only as a transaction: this one begins (deferred, taking no lock) and
/// commits at once, so that SQLite is out of any transaction while sea-orm and sqlx hold it
/// as theirs, and the queue's task runs each group's transaction on it as statements. Dropped,
/// it goes back to its pool: sqlx finds SQLite out of any transaction (or rolls back the one
/// left open) and forgets its own.
async fn lend_connection(pool: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let lent = pool
        .begin_with_options(TransactionOptions {
            isolation_level: None,
            access_mode: None,
            sqlite_transaction_mode: Some(SqliteTransactionMode::Deferred),
        })
        .await?;
    lent.execute_unprepared("COMMIT").await?;
    Ok(lent)
}

/// Where a group's transaction stands between two turns.
#[derive(Debug, Default)]
struct GroupState {
    /// Whether a command's statement carried `BEGIN IMMEDIATE` and ran: there is a transaction
    /// to commit.
    begun: bool,
    /// Whether a command's statement carried a `BEGIN` at all, whatever became of it: what
    /// the writer counts as a transaction.
    began: bool,
    /// Whether a `BEGIN` that may not have run could not be rolled back: SQLite may be in a
    /// transaction or not, so the connection is not kept.
    in_doubt: bool,
    /// The savepoint of the last command that opened one, once begun.
    open: Option<Savepoint>,
}

/// What the next command's first statement carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Nothing is begun yet: the command begins the group's transaction and works in it.
    Begin,
    /// The command works in a savepoint of the transaction, opened by `sql`.
    Savepoint {
        savepoint: Savepoint,
        sql: &'static str,
    },
}

impl Step {
    fn sql(self) -> &'static str {
        match self {
            Step::Begin => "BEGIN IMMEDIATE",
            Step::Savepoint { sql, .. } => sql,
        }
    }
}

impl GroupState {
    fn next_step(&self) -> Step {
        if self.begun {
            let (savepoint, sql) = Savepoint::next_after(self.open);
            Step::Savepoint { savepoint, sql }
        } else {
            Step::Begin
        }
    }

    /// Records that the command of `step` ran its first statement and committed.
    fn ran(&mut self, step: Step) {
        match step {
            Step::Begin => (self.begun, self.began) = (true, true),
            Step::Savepoint { savepoint, .. } => self.open = Some(savepoint),
        }
    }

    /// Undoes the work of a command of `step` that rolled back, failed or went away.
    async fn undo(&mut self, group: &DatabaseTransaction, step: Step) -> Result<(), DbErr> {
        match step {
            Step::Begin => {
                // Its `BEGIN` may not have run: SQLite then has nothing to roll back and says
                // so. Nothing of the group is lost either way, as nothing ran before it (a
                // `Begin` step comes only while nothing is begun).
                self.began = true;
                if group.execute_unprepared("ROLLBACK").await.is_err() {
                    self.in_doubt = true;
                }
                Ok(())
            }
            Step::Savepoint { savepoint, .. } => group
                .execute_unprepared(savepoint.rollback())
                .await
                .map(drop),
        }
    }
}

/// Marks a group's transaction open for as long as it lives ([`Writer::is_busy`]).
struct GroupOpen<'a>(&'a AtomicBool);

impl<'a> GroupOpen<'a> {
    fn raise(flag: &'a AtomicBool) -> Self {
        flag.store(true, Ordering::Relaxed);
        Self(flag)
    }
}

impl Drop for GroupOpen<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Hands one command its turn in `group` and waits until it is done with it. Gives the sender
/// on which the command waits for its group's outcome, or nothing when the command rolled
/// back, failed or went away.
async fn hand_turn(
    group: &Arc<DatabaseTransaction>,
    request: TurnRequest,
    prelude: Prelude,
    commits_alone: Option<Arc<AtomicBool>>,
    stats: &Counters,
) -> Option<oneshot::Sender<Result<(), String>>> {
    let (done, finished) = oneshot::channel();
    let (outcome, heard) = oneshot::channel();
    let handed = WriteTxn {
        txn: Arc::clone(group),
        membership: Some(Membership {
            done,
            outcome: heard,
        }),
        prelude: Some(prelude),
        commits_alone,
    };
    let handed_at = Instant::now();
    // A command that stopped waiting drops its turn here, without taking it.
    request.send(Ok(handed)).ok()?;
    let turn = finished.await.ok().map(|()| outcome);
    Counters::ended(&stats.turns_ended, &stats.holding_nanos, handed_at);
    turn
}

/// The command's first statement, carrying its [`Prelude`].
struct Carrying<'a> {
    /// Held until the statement has run.
    _running: tokio::sync::MutexGuard<'a, ()>,
    sql: &'static str,
    progress: &'a PreludeProgress,
}

impl WriteTxn {
    /// The prelude, for the command's first statement to carry; `None` for every later
    /// statement and for a command with no prelude. Refuses every statement after a first one
    /// that did not come back well: its `BEGIN` may not have run, and a statement run then
    /// would commit on its own, outside any transaction.
    async fn carry_prelude(&self) -> Result<Option<Carrying<'_>>, DbErr> {
        let Some(prelude) = self.prelude.as_ref() else {
            return Ok(None);
        };
        let running = prelude.carrying.lock().await;
        match prelude.progress.get() {
            Carried::Ran => Ok(None),
            Carried::Taken => Err(prelude_not_run()),
            Carried::Waiting => {
                prelude.progress.set(Carried::Taken);
                Ok(Some(Carrying {
                    _running: running,
                    sql: prelude.sql,
                    progress: &prelude.progress,
                }))
            }
        }
    }

    /// Runs one statement through `run`, which is given the prelude to run ahead of it when it
    /// is the command's first, and records whether that came back well.
    async fn first_carries<T, Run>(
        &self,
        run: impl FnOnce(Option<&'static str>) -> Run,
    ) -> Result<T, DbErr>
    where
        Run: Future<Output = Result<T, DbErr>>,
    {
        let Some(carrying) = self.carry_prelude().await? else {
            return run(None).await;
        };
        let result = run(Some(carrying.sql)).await;
        if result.is_ok() {
            carrying.progress.set(Carried::Ran);
        }
        result
    }
}

impl WriteTxn {
    /// [`first_carries`](Self::first_carries) for a statement whose count of changed rows is
    /// read: a prelude that would add to it ([`miscounts`]) runs alone first.
    async fn first_carries_counted<Run>(
        &self,
        run: impl FnOnce(Option<&'static str>) -> Run,
    ) -> Result<ExecResult, DbErr>
    where
        Run: Future<Output = Result<ExecResult, DbErr>>,
    {
        self.first_carries(|prelude| async move {
            match prelude {
                Some(begin) if miscounts(begin) => {
                    self.txn.execute_unprepared(begin).await?;
                    run(None).await
                }
                _ => run(prelude).await,
            }
        })
        .await
    }
}

/// `sql` with `prelude`, if any, run ahead of it, in one round trip: SQLite runs the
/// statements of one text in order, binding the values to their parameters in order, and the
/// prelude's statements have none.
fn after<'a>(prelude: Option<&str>, sql: &'a str) -> Cow<'a, str> {
    match prelude {
        Some(prelude) => Cow::Owned(format!("{prelude}; {sql}")),
        None => Cow::Borrowed(sql),
    }
}

/// Whether `prelude` would add rows to the count of changed rows of a statement it travels
/// with. SQLite counts `BEGIN IMMEDIATE`, which takes the write lock, as a change, and reports
/// it as having changed as many rows as the connection's last change did; sqlx adds the
/// statements' counts of one text. A count tells a conditional insert or a mark whether it
/// found its row, so a first statement that writes sends this prelude ahead on its own: one
/// round trip more, for the rare command whose first statement writes (most read first).
/// The savepoints' statements count for nothing, and a query's rows are its own.
fn miscounts(prelude: &str) -> bool {
    prelude == Step::Begin.sql()
}

/// [`after`], for a statement with values.
fn statement_after(prelude: Option<&str>, stmt: Statement) -> Statement {
    match prelude {
        Some(_) => Statement {
            sql: after(prelude, &stmt.sql).into_owned(),
            ..stmt
        },
        None => stmt,
    }
}

/// Commands run their statements on their write transaction as on any connection; the first
/// carries the command's prelude, if it has one.
#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.first_carries_counted(|prelude| self.txn.execute_raw(statement_after(prelude, stmt)))
            .await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.first_carries_counted(|prelude| async move {
            self.txn.execute_unprepared(&after(prelude, sql)).await
        })
        .await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.first_carries(|prelude| self.txn.query_one_raw(statement_after(prelude, stmt)))
            .await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.first_carries(|prelude| self.txn.query_all_raw(statement_after(prelude, stmt)))
            .await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        self.txn.is_mock_connection()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectOptions, Database};

    /// A SQLite file in WAL mode with one table, the queue over a pool of one connection to it
    /// (as `steerco::db::connect_writer` makes), and a reading pool beside it.
    struct Fixture {
        _dir: tempfile::TempDir,
        writer: Writer,
        /// The writer's pool of one connection.
        writer_pool: DatabaseConnection,
        reader: DatabaseConnection,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display());
        let mut options = ConnectOptions::new(url.clone());
        options.max_connections(1).sqlx_logging(false);
        let connection = Database::connect(options).await.unwrap();
        connection
            .execute_unprepared(
                "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;
                 CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT NOT NULL);
                 CREATE TABLE reply (note_id INTEGER NOT NULL
                     REFERENCES note (id) DEFERRABLE INITIALLY DEFERRED)",
            )
            .await
            .unwrap();
        Fixture {
            _dir: dir,
            writer: Writer::queue(connection.clone()),
            writer_pool: connection,
            reader: Database::connect(url).await.unwrap(),
        }
    }

    async fn write(txn: &WriteTxn, text: &str) {
        txn.execute_unprepared(&format!("INSERT INTO note (text) VALUES ('{text}')"))
            .await
            .unwrap();
    }

    /// A command whose first statement writes is told how many rows that statement changed,
    /// not more: its `BEGIN IMMEDIATE` goes ahead of it alone ([`miscounts`]).
    #[tokio::test]
    async fn a_commands_first_statement_counts_its_own_changes() {
        let f = fixture().await;
        let txn = begin_write(&f.writer).await.unwrap();
        let done = txn
            .execute_unprepared("INSERT INTO note (text) VALUES ('a'), ('b'), ('c')")
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 3);
        txn.commit().await.unwrap();

        let txn = begin_write(&f.writer).await.unwrap();
        let nothing = "UPDATE note SET text = 'z' WHERE text = 'none'";
        let done = txn.execute_unprepared(nothing).await.unwrap();
        assert_eq!(done.rows_affected(), 0);
        txn.commit().await.unwrap();

        let txn = begin_write(&f.writer).await.unwrap();
        let one = Statement::from_string(
            DbBackend::Sqlite,
            "UPDATE note SET text = 'd' WHERE text = 'a'",
        );
        assert_eq!(txn.execute_raw(one).await.unwrap().rows_affected(), 1);
        let two = "UPDATE note SET text = text || '.' WHERE text IN ('b', 'c')";
        assert_eq!(
            txn.execute_unprepared(two).await.unwrap().rows_affected(),
            2
        );
        txn.commit().await.unwrap();

        let txn = begin_write(&f.writer).await.unwrap();
        let none = Statement::from_string(DbBackend::Sqlite, nothing);
        assert_eq!(txn.execute_raw(none).await.unwrap().rows_affected(), 0);
        // A command's later statements carry nothing.
        assert_eq!(
            txn.execute_unprepared(nothing)
                .await
                .unwrap()
                .rows_affected(),
            0
        );
        txn.commit().await.unwrap();

        let texts = f
            .reader
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT text FROM note ORDER BY id",
            ))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get_by_index::<String>(0).unwrap())
            .collect::<Vec<_>>();
        assert_eq!(texts, ["d", "b.", "c."]);
    }

    /// A command on another task: it waits for its turn, then `body` works in its
    /// transaction.
    fn spawn_command<F, Fut>(writer: &Writer, body: F) -> tokio::task::JoinHandle<Result<(), DbErr>>
    where
        F: FnOnce(WriteTxn) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), DbErr>> + Send + 'static,
    {
        let writer = writer.clone();
        tokio::spawn(async move { body(begin_write(&writer).await?).await })
    }

    /// A command on another task that writes `text` and commits as soon as it has its turn.
    fn write_and_commit(
        writer: &Writer,
        text: String,
    ) -> tokio::task::JoinHandle<Result<(), DbErr>> {
        spawn_command(writer, |txn| async move {
            write(&txn, &text).await;
            txn.commit().await
        })
    }

    /// A command on another task that writes `text` and rolls back as soon as it has its turn.
    fn write_and_roll_back(
        writer: &Writer,
        text: &'static str,
    ) -> tokio::task::JoinHandle<Result<(), DbErr>> {
        spawn_command(writer, move |txn| async move {
            write(&txn, text).await;
            drop(txn);
            Ok(())
        })
    }

    /// A command on another task that rolls back as soon as it has its turn, having run no
    /// statement.
    fn roll_back_untouched(writer: &Writer) -> tokio::task::JoinHandle<Result<(), DbErr>> {
        spawn_command(writer, |txn| async move {
            drop(txn);
            Ok(())
        })
    }

    /// The notes committed, as another connection reads them.
    async fn committed(reader: &DatabaseConnection) -> Vec<String> {
        let rows = reader
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT text FROM note ORDER BY id",
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|row| row.try_get::<String>("", "text").unwrap())
            .collect()
    }

    /// Yields until `count` commands wait in the queue for their turn.
    /// After a failure that left nothing committed, the next command commits, alone.
    async fn assert_the_writer_goes_on(f: &Fixture) {
        assert_the_writer_goes_on_after(f, &[]).await;
    }

    /// The next command commits, alone, after the notes `before` committed.
    async fn assert_the_writer_goes_on_after(f: &Fixture, before: &[&str]) {
        write_and_commit(&f.writer, "after".to_owned())
            .await
            .unwrap()
            .unwrap();
        let mut expected = before.to_vec();
        expected.push("after");
        assert_eq!(committed(&f.reader).await, expected);
    }

    /// `count` commands writing `"{prefix} {i}"`, queued behind the one holding the writer.
    async fn queued_behind(
        writer: &Writer,
        count: usize,
        prefix: &str,
    ) -> Vec<tokio::task::JoinHandle<Result<(), DbErr>>> {
        let commands = (0..count)
            .map(|i| write_and_commit(writer, format!("{prefix} {i}")))
            .collect();
        writer.until_waiting(count).await;
        commands
    }

    fn stats(writer: &Writer) -> GroupStats {
        writer.group_stats().expect("a queued writer")
    }

    #[tokio::test]
    async fn commands_that_wait_together_commit_in_one_transaction() {
        let f = fixture().await;
        let first = begin_write(&f.writer).await.unwrap();
        write(&first, "first").await;
        let others = queued_behind(&f.writer, 10, "other").await;
        let before = stats(&f.writer);
        first.commit().await.unwrap();
        for other in others {
            other.await.unwrap().unwrap();
        }
        assert_eq!(
            stats(&f.writer).since(before),
            GroupStats {
                commits: 1,
                commands: 11
            }
        );
        assert_eq!(committed(&f.reader).await.len(), 11);
    }

    fn note(text: &str) -> Statement {
        Statement::from_string(
            DbBackend::Sqlite,
            format!("INSERT INTO note (text) VALUES ('{text}')"),
        )
    }

    /// A command that writes `first`, then commits with `last`.
    fn write_and_commit_with(
        writer: &Writer,
        first: &'static str,
        last: Statement,
    ) -> tokio::task::JoinHandle<Result<(), DbErr>> {
        spawn_command(writer, move |txn| async move {
            write(&txn, first).await;
            txn.commit_with(last).await
        })
    }

    #[tokio::test]
    async fn a_command_alone_sends_the_commit_with_its_last_statement() {
        let f = fixture().await;
        let before = stats(&f.writer);
        write_and_commit_with(&f.writer, "first", note("last"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stats(&f.writer).since(before),
            GroupStats {
                commits: 1,
                commands: 1
            }
        );
        assert_eq!(f.writer.carried_commits(), Some(1));
        assert_eq!(committed(&f.reader).await, ["first", "last"]);
        // The connection is out of any transaction: the next group begins as usual.
        assert_the_writer_goes_on_after(&f, &["first", "last"]).await;
        assert_eq!(f.writer.carried_commits(), Some(1));
    }

    #[tokio::test]
    async fn a_commit_carried_by_a_last_statement_that_fails_rolls_the_command_back() {
        let f = fixture().await;
        let failed = write_and_commit_with(&f.writer, "lost", note("it's"))
            .await
            .unwrap();
        assert!(failed.is_err(), "a statement SQLite cannot parse");
        assert!(committed(&f.reader).await.is_empty());
        assert_the_writer_goes_on(&f).await;
        assert_eq!(f.writer.carried_commits(), Some(0));

        // A COMMIT refused after the statement ran (a deferred foreign key checked then).
        let dangling = Statement::from_string(
            DbBackend::Sqlite,
            "INSERT INTO reply (note_id) VALUES (999)",
        );
        let refused = write_and_commit_with(&f.writer, "lost", dangling)
            .await
            .unwrap();
        assert!(refused.is_err(), "the commit refused");
        assert_eq!(committed(&f.reader).await, ["after"]);
        assert_the_writer_goes_on_after(&f, &["after"]).await;
    }

    #[tokio::test]
    async fn commands_that_join_a_group_leave_its_commit_to_the_group_whatever_they_commit_with() {
        let f = fixture().await;
        let first = begin_write(&f.writer).await.unwrap();
        write(&first, "first").await;
        let second = write_and_commit_with(&f.writer, "second", note("second, last"));
        f.writer.until_waiting(1).await;
        let third = write_and_commit_with(&f.writer, "third", note("third, last"));
        f.writer.until_waiting(2).await;
        let before = stats(&f.writer);
        first.commit().await.unwrap();
        second.await.unwrap().unwrap();
        third.await.unwrap().unwrap();
        // The first was alone when its turn came, but ended its turn as any command does, so
        // the others, waiting by then, worked in savepoints of its transaction: the group's
        // task committed all three, and the last statements carried no COMMIT.
        assert_eq!(
            stats(&f.writer).since(before),
            GroupStats {
                commits: 1,
                commands: 3
            }
        );
        assert_eq!(committed(&f.reader).await.len(), 5);
        assert_eq!(f.writer.carried_commits(), Some(0));
    }

    #[tokio::test]
    async fn the_writer_counts_how_long_commands_held_their_turns() {
        let f = fixture().await;
        let before = f.writer.busy_times().expect("a queued writer");
        let held = Duration::from_millis(20);
        let txn = begin_write(&f.writer).await.unwrap();
        write(&txn, "slow").await;
        tokio::time::sleep(held).await;
        txn.commit().await.unwrap();
        let refused = begin_write(&f.writer).await.unwrap();
        write(&refused, "refused").await;
        drop(refused);
        // The rolled-back transaction is counted once its group's task has heard of it.
        let settled = async {
            loop {
                let spent = f.writer.busy_times().unwrap().since(before);
                if spent.transactions == 2 {
                    return spent;
                }
                tokio::task::yield_now().await;
            }
        };
        let spent = tokio::time::timeout(Duration::from_secs(10), settled)
            .await
            .expect("the rolled-back transaction counted");
        assert_eq!(spent.turns, 2, "{spent:?}");
        assert!(spent.holding >= held, "{spent:?}");
        assert!(spent.open >= spent.holding, "{spent:?}");
    }

    #[tokio::test]
    async fn a_command_hears_it_committed_only_when_its_group_has() {
        let f = fixture().await;
        let first = begin_write(&f.writer).await.unwrap();
        write(&first, "first").await;
        let (holding, held) = oneshot::channel::<()>();
        let (go_on, hold) = oneshot::channel::<()>();
        let second = spawn_command(&f.writer, |txn| async move {
            write(&txn, "second").await;
            holding.send(()).unwrap();
            hold.await.unwrap();
            txn.commit().await
        });
        f.writer.until_waiting(1).await;
        let first_done = tokio::spawn(first.commit());
        // The second command holds the group's transaction, so the first has released its
        // savepoint: it must not hear of a commit that has not happened.
        held.await.unwrap();
        assert!(
            !first_done.is_finished(),
            "answered before its group committed"
        );
        assert!(committed(&f.reader).await.is_empty());
        go_on.send(()).unwrap();
        first_done.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(committed(&f.reader).await, ["first", "second"]);
        assert_eq!(stats(&f.writer).commits, 1);
    }

    #[tokio::test]
    async fn a_commit_that_fails_fails_every_command_of_the_group() {
        let f = fixture().await;
        let first = begin_write(&f.writer).await.unwrap();
        write(&first, "first").await;
        let dangling = spawn_command(&f.writer, |txn| async move {
            write(&txn, "second").await;
            // Checked only when the group's transaction commits.
            txn.execute_unprepared("INSERT INTO reply (note_id) VALUES (999)")
                .await?;
            txn.commit().await
        });
        f.writer.until_waiting(1).await;
        let first_outcome = first.commit().await;
        let dangling_outcome = dangling.await.unwrap();
        assert!(first_outcome.is_err(), "{first_outcome:?}");
        assert!(dangling_outcome.is_err(), "{dangling_outcome:?}");
        assert!(committed(&f.reader).await.is_empty());
        assert_eq!(stats(&f.writer), GroupStats::default());
        assert_the_writer_goes_on(&f).await;
    }

    #[tokio::test]
    async fn the_writer_keeps_its_connection_lent_from_one_group_to_the_next() {
        let f = fixture().await;
        for text in ["one", "two"] {
            write_and_commit(&f.writer, text.to_owned())
                .await
                .unwrap()
                .unwrap();
            // Time for a connection given back to be checked and idle in its pool, as it was
            // after each group when sqlx began and committed the transactions.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let pool = f.writer_pool.get_sqlite_connection_pool();
            assert_eq!(
                (pool.size(), pool.num_idle()),
                (1, 0),
                "lent, never given back"
            );
        }
        assert_eq!(committed(&f.reader).await, ["one", "two"]);
    }

    #[tokio::test]
    async fn a_command_that_rolls_back_leaves_nothing_and_the_others_commit() {
        let f = fixture().await;
        let first = begin_write(&f.writer).await.unwrap();
        write(&first, "kept 1").await;
        let refused = write_and_roll_back(&f.writer, "refused");
        f.writer.until_waiting(1).await;
        let last = write_and_commit(&f.writer, "kept 2".to_owned());
        f.writer.until_waiting(2).await;
        first.commit().await.unwrap();
        refused.await.unwrap().unwrap();
        last.await.unwrap().unwrap();
        assert_eq!(committed(&f.reader).await, ["kept 1", "kept 2"]);
        // The rollback closed the first group: what follows it starts a transaction anew.
        assert_eq!(
            stats(&f.writer),
            GroupStats {
                commits: 2,
                commands: 2
            }
        );
    }

    #[tokio::test]
    async fn a_command_that_rolls_back_after_others_of_its_group_takes_only_its_own_work() {
        let f = fixture().await;
        let first = begin_write(&f.writer).await.unwrap();
        write(&first, "first").await;
        let kept = queued_behind(&f.writer, 2, "kept").await;
        let refused = write_and_roll_back(&f.writer, "refused");
        f.writer.until_waiting(3).await;
        let after = write_and_commit(&f.writer, "after".to_owned());
        f.writer.until_waiting(4).await;
        first.commit().await.unwrap();
        for command in kept.into_iter().chain([refused, after]) {
            command.await.unwrap().unwrap();
        }
        assert_eq!(
            committed(&f.reader).await,
            ["first", "kept 0", "kept 1", "after"]
        );
        assert_eq!(
            stats(&f.writer),
            GroupStats {
                commits: 2,
                commands: 4
            }
        );
    }

    #[tokio::test]
    async fn a_first_command_that_rolls_back_takes_only_its_own_work_with_it() {
        let f = fixture().await;
        let first = begin_write(&f.writer).await.unwrap();
        write(&first, "refused").await;
        let others = queued_behind(&f.writer, 2, "kept").await;
        drop(first);
        for other in others {
            other.await.unwrap().unwrap();
        }
        assert_eq!(committed(&f.reader).await, ["kept 0", "kept 1"]);
        assert_eq!(
            stats(&f.writer),
            GroupStats {
                commits: 1,
                commands: 2
            }
        );
    }

    #[tokio::test]
    async fn a_command_that_runs_no_statement_leaves_its_group_going() {
        let f = fixture().await;
        let first = begin_write(&f.writer).await.unwrap();
        write(&first, "first").await;
        let mut commands = queued_behind(&f.writer, 1, "kept before").await;
        commands.push(roll_back_untouched(&f.writer));
        f.writer.until_waiting(2).await;
        commands.push(spawn_command(&f.writer, |txn| txn.commit()));
        f.writer.until_waiting(3).await;
        commands.push(write_and_commit(&f.writer, "kept after".to_owned()));
        f.writer.until_waiting(4).await;
        first.commit().await.unwrap();
        for command in commands {
            command.await.unwrap().unwrap();
        }
        assert_eq!(
            committed(&f.reader).await,
            ["first", "kept before 0", "kept after"]
        );
        // The refusal before any statement did not end the group: one commit for all.
        assert_eq!(
            stats(&f.writer),
            GroupStats {
                commits: 1,
                commands: 4
            }
        );
    }

    #[tokio::test]
    async fn a_command_whose_first_statement_fails_rolls_back_alone() {
        let f = fixture().await;
        let first = begin_write(&f.writer).await.unwrap();
        write(&first, "first").await;
        let kept = queued_behind(&f.writer, 2, "kept").await;
        let failing = spawn_command(&f.writer, |txn| async move {
            // Its savepoint statement travels with it, and runs before it fails.
            let failed = txn
                .execute_unprepared("INSERT INTO note (text) VALUES (NULL)")
                .await;
            assert!(failed.is_err(), "{failed:?}");
            // As on PostgreSQL, whose transaction a failed statement aborts, it cannot commit.
            let commit = txn.commit().await;
            assert!(commit.is_err(), "{commit:?}");
            Ok(())
        });
        f.writer.until_waiting(3).await;
        first.commit().await.unwrap();
        for command in kept {
            command.await.unwrap().unwrap();
        }
        failing.await.unwrap().unwrap();
        assert_eq!(committed(&f.reader).await, ["first", "kept 0", "kept 1"]);
        assert_eq!(stats(&f.writer).commits, 1);
    }

    #[tokio::test]
    async fn a_command_whose_savepoint_never_ran_fails_its_group_rather_than_undo_another() {
        let f = fixture().await;
        let first = begin_write(&f.writer).await.unwrap();
        write(&first, "first").await;
        let kept = queued_behind(&f.writer, 1, "kept").await;
        // Its savepoint statement is taken as if sent, but never reaches the connection: the
        // work of the command before must not be rolled back in its place.
        let lost = spawn_command(&f.writer, |txn| async move {
            drop(txn.carry_prelude().await);
            drop(txn);
            Ok(())
        });
        f.writer.until_waiting(2).await;
        let first_outcome = first.commit().await;
        assert!(first_outcome.is_err(), "{first_outcome:?}");
        for command in kept {
            let outcome = command.await.unwrap();
            assert!(outcome.is_err(), "{outcome:?}");
        }
        lost.await.unwrap().unwrap();
        assert!(committed(&f.reader).await.is_empty());
        assert_the_writer_goes_on(&f).await;
    }

    #[tokio::test]
    async fn a_first_command_whose_begin_never_ran_runs_nothing_outside_a_transaction() {
        let f = fixture().await;
        let lost = begin_write(&f.writer).await.unwrap();
        // Its `BEGIN` is taken as if sent, but never reaches the connection: a statement run
        // after it would commit on its own.
        drop(lost.carry_prelude().await);
        let alone = lost
            .execute_unprepared("INSERT INTO note (text) VALUES ('alone')")
            .await;
        assert!(alone.is_err(), "{alone:?}");
        assert!(lost.commit().await.is_err());
        assert!(committed(&f.reader).await.is_empty());
        // On a connection whose state is known.
        assert_the_writer_goes_on(&f).await;
    }

    #[tokio::test]
    async fn a_command_whose_savepoint_statement_did_not_complete_cannot_commit() {
        let f = fixture().await;
        let first = begin_write(&f.writer).await.unwrap();
        write(&first, "first").await;
        let mut commands = queued_behind(&f.writer, 1, "kept").await;
        let (lost, commit_refused) = oneshot::channel();
        commands.push(spawn_command(&f.writer, |txn| async move {
            drop(txn.carry_prelude().await);
            lost.send(txn.commit().await.is_err()).unwrap();
            Ok(())
        }));
        f.writer.until_waiting(2).await;
        commands.push(spawn_command(&f.writer, |txn| async move {
            txn.execute_unprepared("INSERT INTO note (text) VALUES (NULL)")
                .await?;
            txn.commit().await
        }));
        f.writer.until_waiting(3).await;
        let mut heard_committed = Vec::new();
        if first.commit().await.is_ok() {
            heard_committed.push("first".to_owned());
        }
        for (i, command) in commands.into_iter().enumerate() {
            if command.await.unwrap().is_ok() && i == 0 {
                heard_committed.push("kept 0".to_owned());
            }
        }
        assert!(
            commit_refused.await.unwrap(),
            "committed after a lost savepoint"
        );
        // No command hears it committed unless its work is there.
        let rows = committed(&f.reader).await;
        for note in heard_committed {
            assert!(
                rows.contains(&note),
                "{note} committed but missing: {rows:?}"
            );
        }
    }

    #[tokio::test]
    async fn commands_that_run_no_statement_count_toward_the_bound_of_a_group() {
        let f = fixture().await;
        let first = begin_write(&f.writer).await.unwrap();
        write(&first, "first").await;
        let mut commands = Vec::new();
        for waiting in 1..=MOST_COMMANDS_PER_COMMIT + 8 {
            commands.push(roll_back_untouched(&f.writer));
            f.writer.until_waiting(waiting).await;
        }
        commands.push(write_and_commit(&f.writer, "last".to_owned()));
        f.writer.until_waiting(MOST_COMMANDS_PER_COMMIT + 9).await;
        first.commit().await.unwrap();
        for command in commands {
            command.await.unwrap().unwrap();
        }
        assert_eq!(committed(&f.reader).await, ["first", "last"]);
        // The first group ended after its bound of turns, not when the queue ran dry.
        assert_eq!(
            stats(&f.writer),
            GroupStats {
                commits: 2,
                commands: 2
            }
        );
    }

    #[tokio::test]
    async fn a_first_statement_carrying_the_savepoint_binds_its_values_and_answers_as_alone() {
        let f = fixture().await;
        let first = begin_write(&f.writer).await.unwrap();
        write(&first, "first").await;
        let inserted = spawn_command(&f.writer, |txn| async move {
            let done = txn
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    "INSERT INTO note (text) VALUES (?), (?)",
                    ["bound 1".into(), "bound 2".into()],
                ))
                .await?;
            assert_eq!(
                done.rows_affected(),
                2,
                "the savepoint statements change no row"
            );
            txn.commit().await
        });
        f.writer.until_waiting(1).await;
        let returned = spawn_command(&f.writer, |txn| async move {
            let row = txn
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    "INSERT INTO note (text) VALUES (?) RETURNING text",
                    ["returned".into()],
                ))
                .await?
                .expect("the inserted row");
            assert_eq!(row.try_get::<String>("", "text")?, "returned");
            let all = txn
                .query_all_raw(Statement::from_string(
                    DbBackend::Sqlite,
                    "SELECT text FROM note ORDER BY id",
                ))
                .await?;
            assert_eq!(all.len(), 4, "its own and those before it in the group");
            txn.commit().await
        });
        f.writer.until_waiting(2).await;
        first.commit().await.unwrap();
        inserted.await.unwrap().unwrap();
        returned.await.unwrap().unwrap();
        assert_eq!(
            committed(&f.reader).await,
            ["first", "bound 1", "bound 2", "returned"]
        );
        assert_eq!(stats(&f.writer).commits, 1);
    }

    #[test]
    fn consecutive_savepoints_never_share_a_name_and_each_releases_the_one_before() {
        let (first, opening) = Savepoint::next_after(None);
        assert_eq!(opening, "SAVEPOINT a");
        let (second, opening) = Savepoint::next_after(Some(first));
        assert_ne!(second, first);
        assert_eq!(opening, "RELEASE SAVEPOINT a; SAVEPOINT b");
        let (third, opening) = Savepoint::next_after(Some(second));
        assert_eq!(third, first);
        assert_eq!(opening, "RELEASE SAVEPOINT b; SAVEPOINT a");
        assert_eq!(second.rollback(), "ROLLBACK TO SAVEPOINT b");
    }

    #[tokio::test]
    async fn a_command_that_goes_away_holding_its_turn_rolls_back_and_the_queue_goes_on() {
        let f = fixture().await;
        let (holding, held) = oneshot::channel::<()>();
        let abandoned = spawn_command(&f.writer, |txn| async move {
            write(&txn, "abandoned").await;
            holding.send(()).unwrap();
            std::future::pending::<()>().await;
            drop(txn);
            Ok(())
        });
        held.await.unwrap();
        let next = write_and_commit(&f.writer, "next".to_owned());
        f.writer.until_waiting(1).await;
        abandoned.abort();
        next.await.unwrap().unwrap();
        assert_eq!(committed(&f.reader).await, ["next"]);
    }

    #[tokio::test]
    async fn a_command_that_stops_waiting_for_its_turn_takes_nobody_down() {
        let f = fixture().await;
        let first = begin_write(&f.writer).await.unwrap();
        let impatient = roll_back_untouched(&f.writer);
        f.writer.until_waiting(1).await;
        impatient.abort();
        write(&first, "first").await;
        first.commit().await.unwrap();
        let after = begin_write(&f.writer).await.unwrap();
        write(&after, "after").await;
        after.commit().await.unwrap();
        assert_eq!(committed(&f.reader).await, ["first", "after"]);
    }

    fn insert_note(text: &str) -> Statement {
        Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "INSERT INTO note (text) VALUES (?)",
            [text.into()],
        )
    }

    #[tokio::test]
    async fn a_write_alone_waits_for_its_turn_and_commits_with_the_group() {
        let f = fixture().await;
        let first = begin_write(&f.writer).await.unwrap();
        write(&first, "command").await;
        let alone = {
            let writer = f.writer.clone();
            tokio::spawn(async move { writer.execute_alone(insert_note("alone")).await })
        };
        f.writer.until_waiting(1).await;
        assert!(committed(&f.reader).await.is_empty());
        let before = stats(&f.writer);
        first.commit().await.unwrap();
        let done = alone.await.unwrap().unwrap();
        assert_eq!(done.rows_affected(), 1);
        assert_eq!(committed(&f.reader).await, ["command", "alone"]);
        assert_eq!(
            stats(&f.writer).since(before),
            GroupStats {
                commits: 1,
                commands: 2
            }
        );
    }

    #[tokio::test]
    async fn a_write_alone_that_fails_leaves_the_others_of_its_group_to_commit() {
        let f = fixture().await;
        let first = begin_write(&f.writer).await.unwrap();
        let refused = {
            let writer = f.writer.clone();
            tokio::spawn(async move {
                writer
                    .execute_alone(Statement::from_string(
                        DbBackend::Sqlite,
                        "INSERT INTO note (text) VALUES (NULL)",
                    ))
                    .await
            })
        };
        f.writer.until_waiting(1).await;
        let after = write_and_commit(&f.writer, "after".to_owned());
        f.writer.until_waiting(2).await;
        write(&first, "first").await;
        first.commit().await.unwrap();
        assert!(refused.await.unwrap().is_err());
        after.await.unwrap().unwrap();
        assert_eq!(committed(&f.reader).await, ["first", "after"]);
    }

    // On several threads, so that the queue's task may still be handing out outcomes when the
    // test's command hears its own: the flag must be down by then.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_is_busy_from_a_command_asking_until_its_group_is_answered() {
        let f = fixture().await;
        assert!(!f.writer.is_busy(), "nobody has asked yet");
        let first = begin_write(&f.writer).await.unwrap();
        assert!(f.writer.is_busy(), "a command holds its turn");
        let waiting = write_and_commit(&f.writer, "waiting".to_owned());
        f.writer.until_waiting(1).await;
        write(&first, "first").await;
        first.commit().await.unwrap();
        waiting.await.unwrap().unwrap();
        assert!(!f.writer.is_busy(), "every command has heard it committed");
        assert_eq!(committed(&f.reader).await, ["first", "waiting"]);
        let pool = Writer::Pool(f.reader.clone());
        let held = begin_write(&pool).await.unwrap();
        assert!(
            !pool.is_busy(),
            "on a pool no command waits for another's turn"
        );
        drop(held);
    }

    #[tokio::test]
    async fn a_pool_writer_runs_a_write_alone_on_its_pool() {
        let f = fixture().await;
        let writer = Writer::Pool(f.reader.clone());
        assert_eq!(writer.backend(), DbBackend::Sqlite);
        writer.execute_alone(insert_note("alone")).await.unwrap();
        assert_eq!(committed(&f.reader).await, ["alone"]);
        assert_eq!(writer.group_stats(), None);
    }

    #[tokio::test]
    async fn a_pool_writer_commits_each_command_alone() {
        let f = fixture().await;
        let writer = Writer::Pool(f.reader.clone());
        let txn = begin_write(&writer).await.unwrap();
        write(&txn, "alone").await;
        txn.commit().await.unwrap();
        assert_eq!(committed(&f.reader).await, ["alone"]);
        assert_eq!(writer.group_stats(), None);
    }
}
