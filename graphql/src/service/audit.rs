//! Appending to and verifying the audit trail.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, SelectGetableTuple, SelectorTrait, Statement,
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
pub async fn append_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    occurred_at: DateTime<Utc>,
    entry: AuditEntry<'_>,
) -> ServiceResult<()> {
    let chain = chain_key(entry.project_id);
    if backend_of(txn) == DbBackend::Postgres {
        // Two transactions appending to one chain would both read the same tail; the lock
        // makes the second wait for the first to commit. (SQLite writers are already serial.)
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [chain.clone().into()],
        ))
        .await?;
    }
    let tail = txn
        .query_one_raw(chain_tail_statement(&chain, backend_of(txn)))
        .await?
        .map(SelectGetableTuple::<(i64, String)>::from_raw_query_result)
        .transpose()?;
    let (seq, prev_hash) = tail.map_or((1, GENESIS_HASH.to_owned()), |(seq, hash)| (seq + 1, hash));
    let before = entry.before.map(|value| value.to_string());
    let after = entry.after.map(|value| value.to_string());
    let record = AuditRecord {
        chain_key: &chain,
        seq,
        project_id: entry.project_id,
        actor_id: origin.actor_id,
        entity_type: entry.entity_type,
        entity_id: entry.entity_id,
        action: entry.action,
        before: before.as_deref(),
        after: after.as_deref(),
        occurred_at,
        request_id: origin.request_id,
        prev_hash: &prev_hash,
    };
    let hash = record.hash();
    audit_event::Entity::insert(audit_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        chain_key: Set(chain.clone()),
        seq: Set(seq),
        project_id: Set(entry.project_id),
        actor_id: Set(origin.actor_id),
        entity_type: Set(entry.entity_type.to_owned()),
        entity_id: Set(entry.entity_id),
        action: Set(entry.action.to_owned()),
        before: Set(before.clone()),
        after: Set(after.clone()),
        occurred_at: Set(occurred_at),
        request_id: Set(origin.request_id.map(str::to_owned)),
        prev_hash: Set(prev_hash.clone()),
        hash: Set(hash),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
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
    audit_event::Entity::find()
        .select_only()
        .columns([audit_event::Column::Seq, audit_event::Column::Hash])
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

/// An audit event, if the viewer may see its project (admins: any, including global ones).
pub async fn visible_event(
    conn: &impl ConnectionTrait,
    viewer: &Actor,
    id: Uuid,
) -> ServiceResult<Option<audit_event::Model>> {
    let Some(event) = audit_event::Entity::find_by_id(id).one(conn).await? else {
        return Ok(None);
    };
    let visible = match event.project_id {
        Some(project_id) => access::visible_project(conn, viewer, project_id)
            .await?
            .is_some(),
        None => viewer.admin,
    };
    Ok(visible.then_some(event))
}

#[cfg(test)]
mod tests {
    use super::*;

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
