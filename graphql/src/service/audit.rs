//! Appending to and verifying the audit trail.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use sea_orm::sea_query::{Expr, ExprTrait, InsertStatement, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IntoActiveModel, Iterable,
    ModelTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, SelectGetableTuple,
    SelectorTrait, Statement,
};
use serde_json::Value;
use steerco_entity::audit_event;
use uuid::Uuid;

use super::sql_once::SqlOnce;
use super::{Actor, Caller, ServiceResult, access, backend_of};
use crate::domain::Refusal;
use crate::domain::audit::{AuditRecord, ChainBreak, ChainVerifier, GENESIS_HASH, chain_key};
use crate::service::ServiceError;
use chrono::{DateTime, Utc};

/// One change to record.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub project_id: Option<Uuid>,
    pub entity_type: &'static str,
    pub entity_id: Uuid,
    pub action: &'a str,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Who caused a change: a request's caller, or the operator at the command line.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub actor_id: Option<Uuid>,
    /// The actor's name, when known already (emails name the actor).
    pub actor_name: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

impl<'a> From<&'a Caller> for Origin<'a> {
    fn from(caller: &'a Caller) -> Self {
        Self {
            actor_id: Some(caller.actor.user_id),
            actor_name: caller.actor.name.as_deref(),
            request_id: caller.request_id.as_deref(),
        }
    }
}

impl Origin<'static> {
    /// A change made by the operator through the command line.
    pub const OPERATOR: Origin<'static> = Origin {
        actor_id: None,
        actor_name: None,
        request_id: None,
    };

    /// What nobody asked for at that moment: the scheduler's reminders and escalations.
    pub const SCHEDULER: Origin<'static> = Origin {
        actor_id: None,
        actor_name: None,
        request_id: None,
    };
}

/// Appends an event to its chain, inside the caller's transaction.
///
/// The new event links to the chain's last one. On SQLite, when this process appended that
/// one, its number and hash are known ([`TailHints`]) and the event is inserted on the
/// condition, checked by the insert itself, that the chain still ends there: one statement
/// where reading the tail first takes two, inside the write turn of nearly every command.
/// Otherwise the tail is read and the event inserted after it: on the process's first append
/// to the chain, after a hint found stale (an append since rolled back, another process
/// appending), which has cost one statement that inserted nothing, and always on PostgreSQL,
/// where several servers may share the database and take turns on one chain, so that a hint
/// would miss more often than not.
pub async fn append_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    occurred_at: DateTime<Utc>,
    entry: AuditEntry<'_>,
) -> ServiceResult<()> {
    append_one(txn, origin, occurred_at, &entry).await?;
    Ok(())
}

/// Appends `entries`, all of one chain, in order, as [`append_in_txn`] would one after the
/// other: the first as it does, the rest linked to it in memory and inserted a few hundred to
/// a statement, so that importing hundreds of rows does not cost a statement per row.
pub async fn append_all_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    occurred_at: DateTime<Utc>,
    entries: &[AuditEntry<'_>],
) -> ServiceResult<()> {
    let Some((first, rest)) = entries.split_first() else {
        return Ok(());
    };
    if rest.iter().any(|e| e.project_id != first.project_id) {
        return Err(ServiceError::Internal(
            "events of several chains appended together".into(),
        ));
    }
    let mut tail = append_one(txn, origin, occurred_at, first).await?;
    let mut linked = Vec::with_capacity(rest.len());
    for entry in rest {
        let next = link(origin, occurred_at, entry, &tail);
        tail = ChainTail::ending_at(&next);
        linked.push(next);
    }
    let Some(last) = linked.last().cloned() else {
        return Ok(());
    };
    super::insert_in_batches(txn, super::active_models(linked), None).await?;
    if backend_of(txn) == DbBackend::Sqlite {
        TAIL_HINTS.remember(&last);
    }
    Ok(())
}

/// The event recording `entry`, linked after `tail`.
fn link(
    origin: Origin<'_>,
    occurred_at: DateTime<Utc>,
    entry: &AuditEntry<'_>,
    tail: &ChainTail,
) -> audit_event::Model {
    let mut event = audit_event::Model {
        id: Uuid::now_v7(),
        chain_key: chain_key(entry.project_id),
        seq: tail.seq + 1,
        project_id: entry.project_id,
        actor_id: origin.actor_id,
        entity_type: entry.entity_type.to_owned(),
        entity_id: entry.entity_id,
        action: entry.action.to_owned(),
        before: entry.before.as_ref().map(Value::to_string),
        after: entry.after.as_ref().map(Value::to_string),
        occurred_at,
        request_id: origin.request_id.map(str::to_owned),
        prev_hash: tail.hash.clone(),
        hash: String::new(),
    };
    event.hash = record_of(&event).hash();
    event
}

/// [`append_in_txn`], giving the chain's new tail.
async fn append_one(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    occurred_at: DateTime<Utc>,
    entry: &AuditEntry<'_>,
) -> ServiceResult<ChainTail> {
    let chain = chain_key(entry.project_id);
    let backend = backend_of(txn);
    if backend == DbBackend::Postgres {
        // Two transactions appending to one chain would both read the same tail; the lock
        // makes the second wait for the first to commit. (SQLite writers are already serial.)
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [chain.clone().into()],
        ))
        .await?;
    }
    let hints = (backend == DbBackend::Sqlite).then_some(&*TAIL_HINTS);
    if let Some(hints) = hints
        && let Some(hinted) = hints.get(&chain)
    {
        let linked = link(origin, occurred_at, entry, &hinted);
        let statement = append_after_statement(&linked, backend)?;
        if txn.execute_raw(statement).await?.rows_affected() == 1 {
            hints.remember(&linked);
            return Ok(ChainTail::ending_at(&linked));
        }
    }
    let tail = txn
        .query_one_raw(chain_tail_statement(&chain, backend))
        .await?
        .map(SelectGetableTuple::<(i64, String)>::from_raw_query_result)
        .transpose()?
        .map_or_else(ChainTail::genesis, |(seq, hash)| ChainTail { seq, hash });
    let linked = link(origin, occurred_at, entry, &tail);
    audit_event::Entity::insert(linked.clone().into_active_model())
        .exec_without_returning(txn)
        .await?;
    if let Some(hints) = hints {
        hints.remember(&linked);
    }
    Ok(ChainTail::ending_at(&linked))
}

/// The last event of a chain, as the next one links to it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ChainTail {
    seq: i64,
    hash: String,
}

impl ChainTail {
    /// The tail of a chain whose last event is `event`.
    fn ending_at(event: &audit_event::Model) -> Self {
        Self {
            seq: event.seq,
            hash: event.hash.clone(),
        }
    }

    /// What the first event of a chain links to.
    fn genesis() -> Self {
        Self {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }
}

/// Chains this process keeps the tail of, one forgotten for each new one past them: a large
/// programme's projects with room to spare, at some 200 bytes each.
const MOST_TAIL_HINTS: usize = 4096;

/// The tail of each SQLite chain as this process last appended to it: a hint, which the next
/// append checks in the statement that inserts after it, so a stale or foreign one (another
/// database of the same process, as in the tests) costs one statement that inserts nothing.
/// The test suite's exact statement budgets count on a project's hint being kept: a test that
/// appended to thousands of chains in the suite's process could make them fail.
static TAIL_HINTS: LazyLock<TailHints> = LazyLock::new(TailHints::default);

#[derive(Default)]
struct TailHints(Mutex<HashMap<String, ChainTail>>);

impl TailHints {
    fn get(&self, chain: &str) -> Option<ChainTail> {
        self.lock().get(chain).cloned()
    }

    fn remember(&self, event: &audit_event::Model) {
        let mut tails = self.lock();
        if tails.len() >= MOST_TAIL_HINTS && !tails.contains_key(&event.chain_key) {
            // Any one: a forgotten chain costs its next append one statement.
            if let Some(forgotten) = tails.keys().next().cloned() {
                tails.remove(&forgotten);
            }
        }
        tails.insert(event.chain_key.clone(), ChainTail::ending_at(event));
    }

    /// A panic elsewhere cannot leave a map of hints wrong, only stale.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, ChainTail>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Inserts `event` only if its chain's last event is still the one it links to (its
/// `prev_hash`); its text built once per backend.
fn append_after_statement(
    event: &audit_event::Model,
    backend: DbBackend,
) -> Result<Statement, DbErr> {
    static KEPT: SqlOnce = SqlOnce::new();
    let mut values: Vec<sea_orm::Value> = audit_event::Column::iter()
        .map(|column| event.get(column))
        .collect();
    values.extend([
        event.chain_key.clone().into(),
        1u64.into(),
        event.prev_hash.clone().into(),
    ]);
    KEPT.try_statement(
        backend,
        || append_after(event).map(|insert| backend.build(&insert)),
        values,
    )
}

/// `INSERT INTO audit_event (…) SELECT <the event's values> WHERE (<the chain's last hash>) =
/// <the hash it links to>`.
fn append_after(event: &audit_event::Model) -> Result<InsertStatement, DbErr> {
    let tail_hash = last_of_chain(&event.chain_key)
        .column(audit_event::Column::Hash)
        .into_query();
    let values = Query::select()
        .exprs(audit_event::Column::iter().map(|column| Expr::val(event.get(column))))
        .and_where(Expr::SubQuery(None, Box::new(tail_hash.into())).eq(event.prev_hash.as_str()))
        .to_owned();
    Query::insert()
        .into_table(audit_event::Entity)
        .columns(audit_event::Column::iter())
        .select_from(values)
        .map(|insert| insert.to_owned())
        .map_err(|error| DbErr::Custom(format!("the audit event's insert: {error}")))
}

/// The number and hash of a chain's last event, its text built once per backend: every command
/// reads it inside SQLite's write turn.
fn chain_tail_statement(chain: &str, backend: DbBackend) -> Statement {
    static KEPT: SqlOnce = SqlOnce::new();
    KEPT.statement(
        backend,
        || chain_tail(chain).build(backend),
        vec![chain.into(), 1u64.into()],
    )
}

/// Only what the link needs: an event's before and after values can be large.
fn chain_tail(chain: &str) -> Select<audit_event::Entity> {
    last_of_chain(chain).columns([audit_event::Column::Seq, audit_event::Column::Hash])
}

/// The last event of `chain`, with no column selected yet.
fn last_of_chain(chain: &str) -> Select<audit_event::Entity> {
    audit_event::Entity::find()
        .select_only()
        .filter(audit_event::Column::ChainKey.eq(chain))
        .order_by_desc(audit_event::Column::Seq)
        .limit(1)
}

/// The result of walking a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub event_count: i64,
    pub verified_count: i64,
    pub first_break: Option<ChainBreak>,
}

impl ChainReport {
    pub fn is_valid(&self) -> bool {
        self.first_break.is_none()
    }
}

const VERIFY_BATCH: u64 = 500;

/// Recomputes every hash of a project's chain, in batches.
pub async fn verify_project_chain(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    project_id: Uuid,
) -> ServiceResult<ChainReport> {
    if access::visible_project(conn, actor, project_id)
        .await?
        .is_none()
    {
        return Err(Refusal::not_found(&["projectId"], "project").into());
    }
    verify_chain(conn, &chain_key(Some(project_id))).await
}

/// Recomputes every hash of the chain `chain`.
pub async fn verify_chain(conn: &impl ConnectionTrait, chain: &str) -> ServiceResult<ChainReport> {
    let mut verifier = ChainVerifier::default();
    let mut event_count = 0;
    let mut first_break = None;
    let mut last_seq = 0_i64;
    loop {
        let batch = audit_event::Entity::find()
            .filter(audit_event::Column::ChainKey.eq(chain))
            .filter(audit_event::Column::Seq.gt(last_seq))
            .order_by_asc(audit_event::Column::Seq)
            .limit(VERIFY_BATCH)
            .all(conn)
            .await?;
        let Some(last) = batch.last() else { break };
        last_seq = last.seq;
        for event in &batch {
            event_count += 1;
            if first_break.is_some() {
                continue;
            }
            if let Err(broken) = verifier.check(&record_of(event), &event.hash) {
                first_break = Some(broken);
            }
        }
    }
    Ok(ChainReport {
        event_count,
        verified_count: verifier.verified(),
        first_break,
    })
}

fn record_of(event: &audit_event::Model) -> AuditRecord<'_> {
    AuditRecord {
        chain_key: &event.chain_key,
        seq: event.seq,
        project_id: event.project_id,
        actor_id: event.actor_id,
        entity_type: &event.entity_type,
        entity_id: event.entity_id,
        action: &event.action,
        before: event.before.as_deref(),
        after: event.after.as_deref(),
        occurred_at: event.occurred_at,
        request_id: event.request_id.as_deref(),
        prev_hash: &event.prev_hash,
    }
}

/// Audit events of a project, for a caller who may see it.
pub async fn project_events(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    project_id: Uuid,
    window: &super::page::Window<i64>,
) -> ServiceResult<super::page::Page<audit_event::Model>> {
    if access::visible_project(conn, actor, project_id)
        .await?
        .is_none()
    {
        return Err(Refusal::not_found(&["projectId"], "project").into());
    }
    let select = audit_event::Entity::find()
        .filter(audit_event::Column::ChainKey.eq(chain_key(Some(project_id))));
    super::page::fetch(conn, select, audit_event::Column::Seq, window)
        .await
        .map_err(ServiceError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_conditional_append_is_the_one_built_afresh_for_each_event() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for project_id in [Some(Uuid::now_v7()), None] {
                let event = audit_event::Model {
                    id: Uuid::now_v7(),
                    chain_key: chain_key(project_id),
                    seq: 7,
                    project_id,
                    actor_id: project_id.map(|_| Uuid::now_v7()),
                    entity_type: "Defect".to_owned(),
                    entity_id: Uuid::now_v7(),
                    action: "defect.logged".to_owned(),
                    before: None,
                    after: Some("{}".to_owned()),
                    occurred_at: Utc::now(),
                    request_id: Some("r-1".to_owned()),
                    prev_hash: "ab".repeat(32),
                    hash: "cd".repeat(32),
                };
                let fresh = backend.build(&append_after(&event).unwrap());
                assert_eq!(append_after_statement(&event, backend).unwrap(), fresh);
                assert!(fresh.sql.contains("WHERE (SELECT"), "{}", fresh.sql);
            }
        }
    }

    #[test]
    fn a_hint_is_kept_per_chain_and_one_is_forgotten_for_each_past_the_most() {
        let hints = TailHints::default();
        let event = |chain: String, seq: i64| audit_event::Model {
            id: Uuid::now_v7(),
            chain_key: chain,
            seq,
            project_id: None,
            actor_id: None,
            entity_type: "Project".to_owned(),
            entity_id: Uuid::now_v7(),
            action: "project.created".to_owned(),
            before: None,
            after: None,
            occurred_at: Utc::now(),
            request_id: None,
            prev_hash: GENESIS_HASH.to_owned(),
            hash: format!("{seq:064}"),
        };
        assert_eq!(hints.get("a"), None);
        hints.remember(&event("a".to_owned(), 1));
        hints.remember(&event("a".to_owned(), 2));
        assert_eq!(
            hints.get("a"),
            Some(ChainTail {
                seq: 2,
                hash: format!("{:064}", 2)
            })
        );
        for n in 1..MOST_TAIL_HINTS {
            hints.remember(&event(format!("chain {n}"), 1));
        }
        hints.remember(&event("a".to_owned(), 3));
        let kept = |hints: &TailHints| hints.lock().len();
        assert_eq!(kept(&hints), MOST_TAIL_HINTS, "a known chain takes no room");
        hints.remember(&event("one more".to_owned(), 1));
        assert_eq!(kept(&hints), MOST_TAIL_HINTS);
        assert_eq!(hints.get("one more").map(|tail| tail.seq), Some(1));
    }

    #[test]
    fn the_kept_chain_tail_statement_is_the_one_sea_orm_builds_for_each_chain() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for chain in [chain_key(Some(Uuid::now_v7())), chain_key(None)] {
                assert_eq!(
                    chain_tail_statement(&chain, backend),
                    chain_tail(&chain).build(backend)
                );
            }
        }
    }
}
