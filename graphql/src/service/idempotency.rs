//! Remembering requests sent with an `Idempotency-Key`: a key is reserved before its request
//! runs (so two concurrent retries cannot both run it) and holds the answer afterwards.
//!
//! A request that ends without an answer (a timeout, an internal error) frees its key only
//! if nothing of it was written. Whether anything was is told by the database itself: each
//! transaction the request commits marks its keys written, in that transaction
//! ([`marking_writes`], [`written_mark`]). A mark is thus never lost with a commit that
//! landed while the request was being cancelled, nor kept for one that rolled back.

use std::future::Future;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DbBackend, EntityTrait, QueryFilter, QueryTrait,
    Statement,
};
use steerco_entity::idempotency_key;
use uuid::Uuid;

use super::{ServiceResult, Writer, begin_write};
use crate::domain::idempotency::{
    IdempotencyKey, KEY_LIFETIME, Remembered, Verdict, abandoned_after, verdict,
};

/// A key reserved, or asked for, for one request. Its `id` is kept in the key's row
/// (`held_by`) while the request holds the key: only then do the request's commits mark the key
/// written and its answer or release count, so that a request taken for abandoned
/// ([`begin`]) can neither commit nor overwrite what the next holder keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub user_id: Uuid,
    pub key: IdempotencyKey,
    pub id: Uuid,
}

impl Reservation {
    /// A reservation to ask for, named afresh.
    pub fn new(user_id: Uuid, key: IdempotencyKey) -> Self {
        Self {
            user_id,
            key,
            id: Uuid::now_v7(),
        }
    }

    fn row(&self) -> Condition {
        Condition::all()
            .add(idempotency_key::Column::UserId.eq(self.user_id))
            .add(idempotency_key::Column::Key.eq(self.key.as_str()))
            .add(idempotency_key::Column::HeldBy.eq(self.id))
    }
}

/// Decides what a request asking for `reservation` gets; when it is to run, the key is
/// reserved for it. `time_limit` bounds how long the request's work may run (the server cuts
/// it off then): once it has surely passed ([`abandoned_after`]) with the key unanswered, the
/// request was cut off with its server, and the next request with the key settles it (runs
/// again if nothing was written, is told it was otherwise) rather than wait out the key's day.
pub async fn begin(
    writer: &Writer,
    reservation: &Reservation,
    fingerprint: &str,
    now: DateTime<Utc>,
    time_limit: Option<std::time::Duration>,
) -> ServiceResult<Verdict> {
    let Reservation { user_id, key, id } = reservation;
    let txn = begin_write(writer).await?;
    let found = idempotency_key::Entity::find_by_id((*user_id, key.as_str().to_owned()))
        .one(&txn)
        .await?;
    let remembered = found.map(|row| Remembered {
        fingerprint: row.fingerprint,
        response: row.response,
        unanswered: row.unanswered,
        created_at: row.created_at,
        written: row.written,
        abandoned_after: row.abandoned_after,
    });
    let decided = verdict(remembered.as_ref(), fingerprint, now);
    if decided == Verdict::Run {
        let row = idempotency_key::ActiveModel {
            user_id: Set(*user_id),
            key: Set(key.as_str().to_owned()),
            fingerprint: Set(fingerprint.to_owned()),
            response: Set(None),
            written: Set(false),
            unanswered: Set(false),
            created_at: Set(now),
            held_by: Set(Some(*id)),
            abandoned_after: Set(abandoned_after(now, time_limit)),
        };
        let column = |column| Expr::col((idempotency_key::Entity, column));
        let inserted = idempotency_key::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    idempotency_key::Column::UserId,
                    idempotency_key::Column::Key,
                ])
                .update_columns([
                    idempotency_key::Column::Fingerprint,
                    idempotency_key::Column::Response,
                    idempotency_key::Column::Written,
                    idempotency_key::Column::Unanswered,
                    idempotency_key::Column::CreatedAt,
                    idempotency_key::Column::HeldBy,
                    idempotency_key::Column::AbandonedAfter,
                ])
                // Only an expired or abandoned row is taken over, as the verdict found it; a
                // live one means another request won the race since we looked.
                .action_and_where(
                    column(idempotency_key::Column::CreatedAt)
                        .lte(now - KEY_LIFETIME)
                        .or(column(idempotency_key::Column::Response)
                            .is_null()
                            .and(column(idempotency_key::Column::Written).eq(false))
                            .and(column(idempotency_key::Column::Unanswered).eq(false))
                            .and(column(idempotency_key::Column::AbandonedAfter).lte(now))
                            .and(
                                column(idempotency_key::Column::AbandonedAfter)
                                    .gt(column(idempotency_key::Column::CreatedAt)),
                            )),
                )
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        if inserted == 0 {
            // Another request took the key since we looked, or, on PostgreSQL, the abandoned
            // request's mark committed meanwhile: told to wait, the client's next retry
            // hears which.
            txn.commit_unmarked().await?;
            return Ok(Verdict::InProgress);
        }
    }
    txn.commit_unmarked().await?;
    Ok(decided)
}

/// Stores the answer of the request that reserved the key, while it holds it.
pub async fn finish(
    writer: &Writer,
    reservation: &Reservation,
    response: &str,
) -> ServiceResult<()> {
    let update = idempotency_key::Entity::update_many()
        .col_expr(
            idempotency_key::Column::Response,
            Expr::value(Some(response.to_owned())),
        )
        .filter(reservation.row());
    writer.execute_alone(update.build(writer.backend())).await?;
    Ok(())
}

/// Settles a reservation whose request ended without an answer to keep, for reasons of ours
/// (a timeout, an internal error). Nothing of it written, the key is freed so that the
/// client's retry runs; something written, the key is kept, and a retry is told so
/// ([`Verdict::WrittenUnanswered`]) instead of applying the changes twice.
///
/// It reads the mark the request's own transactions set, and waits for one still committing:
/// on SQLite it takes its turn at the one writer after the request's command; on PostgreSQL
/// the command's mark holds the key's row lock until its commit or rollback, and the `DELETE`
/// of an unmarked key waits for that lock, then looks at the row again. The `UPDATE` comes
/// after it, so that its snapshot, taken when it starts, sees the mark such a commit made:
/// run first, it would skip a row that was unmarked in its snapshot without waiting.
pub async fn end_unanswered(writer: &Writer, reservation: &Reservation) -> ServiceResult<()> {
    let this_key = || {
        reservation
            .row()
            .add(idempotency_key::Column::Response.is_null())
    };
    let txn = begin_write(writer).await?;
    idempotency_key::Entity::delete_many()
        .filter(this_key())
        .filter(idempotency_key::Column::Written.eq(false))
        .exec(&txn)
        .await?;
    idempotency_key::Entity::update_many()
        .col_expr(idempotency_key::Column::Unanswered, Expr::value(true))
        .filter(this_key())
        .filter(idempotency_key::Column::Written.eq(true))
        .exec(&txn)
        .await?;
    Ok(txn.commit_unmarked().await?)
}

tokio::task_local! {
    /// The keys reserved for the request this task runs: what its commits mark written.
    static KEYS_OF_THIS_REQUEST: Vec<Reservation>;
}

/// Runs `request`, the work `reservation` was made for: every transaction it commits marks
/// the key written ([`written_mark`]). Nested, the work marks the keys of every enclosing
/// scope (a keyed mutation field in a request sent with an `Idempotency-Key`).
pub async fn marking_writes<F: Future>(reservation: Reservation, request: F) -> F::Output {
    let mut keys = KEYS_OF_THIS_REQUEST
        .try_with(Clone::clone)
        .unwrap_or_default();
    keys.push(reservation);
    KEYS_OF_THIS_REQUEST.scope(keys, request).await
}

/// The statement a transaction runs last before its commit inside a keyed request
/// ([`marking_writes`]).
pub(crate) struct WrittenMark {
    /// Marks the keys the request still holds.
    pub statement: Statement,
    /// The rows it must change: a key it misses is held by another request now, which took
    /// it for abandoned, and the transaction must not commit.
    pub keys: u64,
}

/// The mark of the keys of the keyed request this task runs ([`marking_writes`]). `None`
/// outside a keyed request.
pub(crate) fn written_mark(backend: DbBackend) -> Option<WrittenMark> {
    KEYS_OF_THIS_REQUEST
        .try_with(|keys| {
            let held = keys.iter().fold(Condition::any(), |held, reservation| {
                held.add(reservation.row())
            });
            WrittenMark {
                statement: idempotency_key::Entity::update_many()
                    .col_expr(idempotency_key::Column::Written, Expr::value(true))
                    .filter(held)
                    .build(backend),
                keys: keys.len() as u64,
            }
        })
        .ok()
}

/// Deletes keys past their lifetime.
pub async fn purge(writer: &Writer, now: DateTime<Utc>) -> ServiceResult<u64> {
    let delete = idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::CreatedAt.lte(now - KEY_LIFETIME));
    Ok(writer
        .execute_alone(delete.build(writer.backend()))
        .await?
        .rows_affected())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement};
    use tokio::sync::oneshot;

    use crate::domain::idempotency::ABANDONMENT_MARGIN;

    use super::*;

    struct Fixture {
        _dir: tempfile::TempDir,
        writer: Writer,
        reader: DatabaseConnection,
        user_id: Uuid,
        now: DateTime<Utc>,
        /// The last reservation granted for each key.
        asked: Mutex<HashMap<String, Reservation>>,
    }

    /// A database of keys, as the migrations make their table (but for the users it
    /// refers to), and of notes for commands to write.
    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("k.db").display());
        let connection = Database::connect(url.clone()).await.unwrap();
        connection
            .execute_unprepared(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE idempotency_key (user_id BLOB NOT NULL, key TEXT NOT NULL,
                     fingerprint TEXT NOT NULL, response TEXT,
                     written BOOLEAN NOT NULL DEFAULT FALSE,
                     unanswered BOOLEAN NOT NULL DEFAULT FALSE,
                     created_at TEXT NOT NULL, held_by BLOB, abandoned_after TEXT,
                     PRIMARY KEY (user_id, key));
                 CREATE TABLE note (text TEXT NOT NULL)",
            )
            .await
            .unwrap();
        Fixture {
            _dir: dir,
            writer: Writer::queue(connection),
            reader: Database::connect(url).await.unwrap(),
            user_id: Uuid::new_v4(),
            now: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            asked: Mutex::default(),
        }
    }

    fn key(raw: &str) -> IdempotencyKey {
        IdempotencyKey::parse(raw).unwrap()
    }

    fn note(text: &str) -> Statement {
        Statement::from_string(
            DbBackend::Sqlite,
            format!("INSERT INTO note (text) VALUES ('{text}')"),
        )
    }

    impl Fixture {
        async fn reserve(&self, raw: &str) -> Verdict {
            self.reserve_at(raw, self.now, None).await
        }

        /// Asks for `raw` at `now` for a request cut off after `time_limit`.
        async fn reserve_at(
            &self,
            raw: &str,
            now: DateTime<Utc>,
            time_limit: Option<Duration>,
        ) -> Verdict {
            let reservation = Reservation::new(self.user_id, key(raw));
            let verdict = begin(&self.writer, &reservation, "print", now, time_limit)
                .await
                .unwrap();
            if verdict == Verdict::Run {
                self.asked
                    .lock()
                    .unwrap()
                    .insert(raw.to_owned(), reservation);
            }
            verdict
        }

        /// The last reservation granted for `raw`.
        fn held(&self, raw: &str) -> Reservation {
            self.asked.lock().unwrap()[raw].clone()
        }

        /// Runs a command writing a note within `reservation`'s request, and commits it.
        async fn write_within(&self, reservation: Reservation, text: &str) -> Result<(), DbErr> {
            marking_writes(reservation, async {
                let txn = begin_write(&self.writer).await?;
                txn.execute_raw(note(text)).await?;
                txn.commit().await
            })
            .await
        }

        async fn response(&self, raw: &str) -> Option<String> {
            idempotency_key::Entity::find_by_id((self.user_id, raw.to_owned()))
                .one(&self.reader)
                .await
                .unwrap()
                .and_then(|row| row.response)
        }

        /// `(written, unanswered)` of a key, or `None` once it is forgotten.
        async fn outcome(&self, raw: &str) -> Option<(bool, bool)> {
            let row = idempotency_key::Entity::find_by_id((self.user_id, raw.to_owned()))
                .one(&self.reader)
                .await
                .unwrap();
            row.map(|row| (row.written, row.unanswered))
        }

        async fn end_unanswered(&self, raw: &str) {
            end_unanswered(&self.writer, &self.held(raw)).await.unwrap();
        }

        async fn notes(&self) -> usize {
            let rows = self
                .reader
                .query_all_raw(Statement::from_string(
                    DbBackend::Sqlite,
                    "SELECT text FROM note",
                ))
                .await
                .unwrap();
            rows.len()
        }
    }

    #[tokio::test]
    async fn a_request_that_committed_marks_its_key_written_and_one_that_rolled_back_does_not() {
        let f = fixture().await;
        for raw in ["committed", "carried", "rolled-back", "read-only"] {
            assert_eq!(f.reserve(raw).await, Verdict::Run);
        }
        marking_writes(f.held("committed"), async {
            let txn = begin_write(&f.writer).await.unwrap();
            txn.execute_raw(note("committed")).await.unwrap();
            txn.commit().await.unwrap();
        })
        .await;
        // Alone at the writer, the last statement carries the COMMIT: the mark goes before it.
        let carried_before = f.writer.carried_commits().unwrap();
        marking_writes(f.held("carried"), async {
            let txn = begin_write(&f.writer).await.unwrap();
            txn.commit_with(note("carried")).await.unwrap();
        })
        .await;
        assert_eq!(f.writer.carried_commits().unwrap(), carried_before + 1);
        marking_writes(f.held("rolled-back"), async {
            let txn = begin_write(&f.writer).await.unwrap();
            txn.execute_raw(note("rolled back")).await.unwrap();
            drop(txn);
        })
        .await;
        // Outside a keyed request, a commit marks nothing.
        let txn = begin_write(&f.writer).await.unwrap();
        txn.execute_raw(note("unkeyed")).await.unwrap();
        txn.commit().await.unwrap();

        assert_eq!(f.notes().await, 3);
        assert_eq!(f.outcome("committed").await, Some((true, false)));
        assert_eq!(f.outcome("carried").await, Some((true, false)));
        assert_eq!(f.outcome("rolled-back").await, Some((false, false)));
        assert_eq!(f.outcome("read-only").await, Some((false, false)));

        // Ending unanswered keeps the keys of what was written and frees the others.
        for raw in ["committed", "carried", "rolled-back", "read-only"] {
            f.end_unanswered(raw).await;
        }
        assert_eq!(f.outcome("committed").await, Some((true, true)));
        assert_eq!(f.outcome("rolled-back").await, None);
        assert_eq!(f.reserve("committed").await, Verdict::WrittenUnanswered);
        assert_eq!(f.reserve("carried").await, Verdict::WrittenUnanswered);
        assert_eq!(f.reserve("rolled-back").await, Verdict::Run);
        assert_eq!(f.reserve("read-only").await, Verdict::Run);
    }

    #[tokio::test]
    async fn an_answered_key_is_never_ended_unanswered_and_an_expired_one_starts_afresh() {
        let f = fixture().await;
        f.reserve("k").await;
        marking_writes(f.held("k"), async {
            let txn = begin_write(&f.writer).await.unwrap();
            txn.execute_raw(note("k")).await.unwrap();
            txn.commit().await.unwrap();
        })
        .await;
        finish(&f.writer, &f.held("k"), "{}").await.unwrap();
        f.end_unanswered("k").await;
        assert_eq!(f.reserve("k").await, Verdict::Replay("{}".into()));

        // Taken over after its lifetime, a key forgets what became of its first request.
        let later = f.now + KEY_LIFETIME;
        assert_eq!(f.reserve_at("k", later, None).await, Verdict::Run);
        assert_eq!(f.outcome("k").await, Some((false, false)));
    }

    #[tokio::test]
    async fn nested_keyed_work_marks_every_enclosing_key() {
        let f = fixture().await;
        f.reserve("request").await;
        marking_writes(f.held("request"), async {
            // Reserving a key is bookkeeping, not one of the request's changes.
            f.reserve("field").await;
            assert_eq!(f.outcome("request").await, Some((false, false)));
            marking_writes(f.held("field"), async {
                let txn = begin_write(&f.writer).await.unwrap();
                txn.execute_raw(note("nested")).await.unwrap();
                txn.commit().await.unwrap();
            })
            .await;
        })
        .await;
        assert_eq!(f.outcome("request").await, Some((true, false)));
        assert_eq!(f.outcome("field").await, Some((true, false)));
    }

    /// The case the mark is for: a request cancelled (by its timeout) after its command
    /// handed its work to its group's commit, which then lands without it.
    #[tokio::test]
    async fn a_request_cancelled_while_its_group_commits_keeps_its_key() {
        let f = fixture().await;
        f.reserve("cancelled").await;
        let (keyed_turn, keyed_has_turn) = oneshot::channel::<()>();
        let (commit_keyed, keyed_may_commit) = oneshot::channel::<()>();
        let keyed = tokio::spawn(marking_writes(f.held("cancelled"), {
            let writer = f.writer.clone();
            async move {
                let txn = begin_write(&writer).await.unwrap();
                txn.execute_raw(note("keyed")).await.unwrap();
                keyed_turn.send(()).unwrap();
                keyed_may_commit.await.unwrap();
                txn.commit().await.unwrap();
            }
        }));
        keyed_has_turn.await.unwrap();
        // A command queued behind it joins its group, and holds the group open.
        let (behind_turn, behind_has_turn) = oneshot::channel::<()>();
        let (commit_behind, behind_may_commit) = oneshot::channel::<()>();
        let behind = tokio::spawn({
            let writer = f.writer.clone();
            async move {
                let txn = begin_write(&writer).await.unwrap();
                txn.execute_raw(note("behind")).await.unwrap();
                behind_turn.send(()).unwrap();
                behind_may_commit.await.unwrap();
                txn.commit().await.unwrap();
            }
        });
        f.writer.until_waiting(1).await;
        commit_keyed.send(()).unwrap();
        behind_has_turn.await.unwrap();
        // The keyed command's work is done and waits for its group's commit: cancel it.
        keyed.abort();
        assert!(keyed.await.unwrap_err().is_cancelled());
        commit_behind.send(()).unwrap();
        behind.await.unwrap();

        f.end_unanswered("cancelled").await;
        assert_eq!(f.notes().await, 2);
        assert_eq!(f.outcome("cancelled").await, Some((true, true)));
        assert_eq!(f.reserve("cancelled").await, Verdict::WrittenUnanswered);
    }

    /// A server stopped under a request (a crash, a kill): nothing settles its key. Once
    /// the request's time limit has surely passed, the next request with the key does, and
    /// the first one, should it still be alive somehow, can no longer commit nor answer.
    #[tokio::test]
    async fn a_key_abandoned_with_its_server_is_settled_by_the_next_request() {
        let f = fixture().await;
        let limit = Some(Duration::from_secs(30));
        let abandoned = f.now + chrono::Duration::seconds(30) + ABANDONMENT_MARGIN;
        let just_before = abandoned - chrono::Duration::milliseconds(1);
        assert_eq!(f.reserve_at("k", f.now, limit).await, Verdict::Run);
        let first = f.held("k");
        assert_eq!(
            f.reserve_at("k", just_before, limit).await,
            Verdict::InProgress
        );

        // It wrote nothing: the retry runs, and holds the key from now on.
        assert_eq!(f.reserve_at("k", abandoned, limit).await, Verdict::Run);
        let second = f.held("k");
        let error = f.write_within(first.clone(), "late").await.unwrap_err();
        assert!(error.to_string().contains("taken over"), "{error}");
        assert_eq!(
            f.notes().await,
            0,
            "the first request's late command rolled back"
        );
        finish(&f.writer, &first, "{\"first\":true}").await.unwrap();
        end_unanswered(&f.writer, &first).await.unwrap();
        assert_eq!(f.response("k").await, None, "nor is its answer kept");
        assert_eq!(f.outcome("k").await, Some((false, false)));

        // The second writes, then is cut off in turn: its retry is told it wrote.
        f.write_within(second.clone(), "second").await.unwrap();
        assert_eq!(f.outcome("k").await, Some((true, false)));
        let second_abandoned = abandoned + (abandoned - f.now);
        let verdict = f.reserve_at("k", second_abandoned, limit).await;
        assert_eq!(verdict, Verdict::WrittenUnanswered);
        assert_eq!(f.notes().await, 1);
        finish(&f.writer, &second, "{}").await.unwrap();
        assert_eq!(f.response("k").await.as_deref(), Some("{}"));

        // Without a known limit, a key waits out its lifetime.
        assert_eq!(f.reserve_at("unlimited", f.now, None).await, Verdict::Run);
        let day_after = f.now + KEY_LIFETIME - chrono::Duration::seconds(1);
        let verdict = f.reserve_at("unlimited", day_after, limit).await;
        assert_eq!(verdict, Verdict::InProgress);
    }

    /// A command of a request whose key was taken over fails, nested keys and all, and
    /// takes nothing of its group with it.
    #[tokio::test]
    async fn a_command_of_a_request_taken_for_abandoned_fails_alone() {
        let f = fixture().await;
        let limit = Some(Duration::from_secs(30));
        assert_eq!(f.reserve_at("request", f.now, limit).await, Verdict::Run);
        let request = f.held("request");
        assert_eq!(f.reserve("field").await, Verdict::Run);
        let field = f.held("field");
        let abandoned = f.now + chrono::Duration::seconds(30) + ABANDONMENT_MARGIN;
        assert_eq!(
            f.reserve_at("request", abandoned, limit).await,
            Verdict::Run
        );

        let (stale_turn, stale_has_turn) = oneshot::channel::<()>();
        let (commit_stale, stale_may_commit) = oneshot::channel::<()>();
        let stale = tokio::spawn(marking_writes(
            request,
            marking_writes(field, {
                let writer = f.writer.clone();
                async move {
                    let txn = begin_write(&writer).await?;
                    txn.execute_raw(note("stale")).await?;
                    stale_turn.send(()).unwrap();
                    stale_may_commit.await.unwrap();
                    txn.commit().await
                }
            }),
        ));
        stale_has_turn.await.unwrap();
        // A command queued behind it joins its group.
        let behind = tokio::spawn({
            let writer = f.writer.clone();
            async move {
                let txn = begin_write(&writer).await?;
                txn.execute_raw(note("behind")).await?;
                txn.commit().await
            }
        });
        f.writer.until_waiting(1).await;
        commit_stale.send(()).unwrap();
        let error = stale.await.unwrap().unwrap_err();
        assert!(error.to_string().contains("taken over"), "{error}");
        behind.await.unwrap().unwrap();

        assert_eq!(
            f.notes().await,
            1,
            "the command behind committed, the stale one not"
        );
        assert_eq!(f.outcome("field").await, Some((false, false)));
        assert_eq!(f.outcome("request").await, Some((false, false)));
    }
}
