//! Bearer tokens: issuing, authenticating, revoking.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    QueryFilter, QuerySelect, QueryTrait, SelectTwo, Statement,
};
use serde_json::json;
use steerco_entity::{api_token, user};
use uuid::Uuid;

use super::audit::{AuditEntry, Origin, append_in_txn};
use super::rows::JoinedRows;
use super::sql_once::SqlOnce;
use super::token_memory::UsableToken;
use super::whole_row;
use super::{Actor, AppState, Caller, ServiceResult, Writer, begin_write, commit};
use crate::domain::credential::{TokenKind, display_prefix, format_token, token_digest};
use crate::domain::text::single_line;
use crate::domain::{Refusal, RefusalCode, Refusals};

/// How long a password sign-in lasts.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);

/// `last_used_at` is refreshed at most this often, so reads do not turn into writes.
const LAST_USED_GRANULARITY: Duration = Duration::minutes(1);

/// A token shown once, with its stored record.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub record: api_token::Model,
}

/// Issues a token inside an open transaction.
async fn issue_in_txn(
    txn: &impl sea_orm::ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    user_id: Uuid,
    name: String,
    kind: TokenKind,
    expires_at: Option<DateTime<Utc>>,
) -> ServiceResult<IssuedToken> {
    let mut random = [0_u8; 32];
    OsRng.fill_bytes(&mut random);
    let token = format_token(&random);
    let record = api_token::Model {
        id: Uuid::now_v7(),
        user_id,
        name,
        kind: kind.as_str().to_owned(),
        token_hash: token_digest(&token),
        display_prefix: display_prefix(&token),
        created_at: now,
        expires_at,
        revoked_at: None,
        last_used_at: None,
    };
    whole_row::insert(txn, record.clone()).await?;
    append_in_txn(
        txn,
        origin,
        now,
        AuditEntry {
            project_id: None,
            entity_type: "ApiToken",
            entity_id: record.id,
            action: "api_token.created",
            before: None,
            after: Some(snapshot(&record)),
        },
    )
    .await?;
    Ok(IssuedToken { token, record })
}

fn snapshot(token: &api_token::Model) -> serde_json::Value {
    json!({
        "userId": token.user_id,
        "name": token.name,
        "kind": token.kind,
        "displayPrefix": token.display_prefix,
        "expiresAt": token.expires_at,
        "revokedAt": token.revoked_at,
    })
}

/// Issues an API token for a user, from the command line (after `user create`).
pub async fn issue_for_operator(
    state: &AppState,
    user_id: Uuid,
    name: &str,
) -> ServiceResult<IssuedToken> {
    let txn = begin_write(&state.writer).await?;
    let issued = issue_in_txn(
        &txn,
        Origin::OPERATOR,
        state.clock.now(),
        user_id,
        name.to_owned(),
        TokenKind::Api,
        None,
    )
    .await?;
    commit(txn).await?;
    Ok(issued)
}

/// Issues an API token to the caller themselves.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    name: &str,
    expires_at: Option<DateTime<Utc>>,
) -> ServiceResult<IssuedToken> {
    let now = state.clock.now();
    let mut refusals = Refusals::default();
    let name = refusals.field(&["name"], single_line(name, 200));
    if expires_at.is_some_and(|at| at <= now) {
        refusals.push(Refusal::bad_input(&["expiresAt"], "must be in the future"));
    }
    let Some(name) = name.filter(|_| refusals.is_empty()) else {
        return Err(refusals.finish().err().unwrap_or_default().into());
    };
    let txn = begin_write(&state.writer).await?;
    let issued = issue_in_txn(
        &txn,
        Origin::from(caller),
        now,
        caller.actor.user_id,
        name,
        TokenKind::Api,
        expires_at.map(crate::domain::clock::to_micros),
    )
    .await?;
    commit(txn).await?;
    Ok(issued)
}

/// Signs in with email and password; returns a session token.
pub async fn create_session(
    state: &AppState,
    email: &str,
    password: &str,
    request_id: Option<&str>,
) -> ServiceResult<IssuedToken> {
    // Only an address that could be someone's draws from a bucket: any other text, up to the
    // body's size, would each make a bucket of its own and hold the limiter's memory.
    if let Ok(address) = crate::domain::user::EmailAddress::parse(email) {
        state
            .sign_ins
            .take(address.as_str())
            .map_err(|retry_after| super::ServiceError::RateLimited {
                what: "too many sign-ins for this email address",
                retry_after,
            })?;
    }
    let Some(user) = super::user::check_password(&state.db, email, password).await? else {
        return Err(Refusal::new(
            RefusalCode::InvalidCredentials,
            &[],
            "email or password is wrong",
        )
        .into());
    };
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let origin = Origin {
        actor_id: Some(user.id),
        actor_name: Some(&user.name),
        request_id,
    };
    let issued = issue_in_txn(
        &txn,
        origin,
        now,
        user.id,
        "session".to_owned(),
        TokenKind::Session,
        Some(now + SESSION_LIFETIME),
    )
    .await?;
    commit(txn).await?;
    Ok(issued)
}

/// Revokes one of the caller's tokens (admins may revoke anyone's).
pub async fn revoke(
    state: &AppState,
    caller: &Caller,
    token_id: Uuid,
) -> ServiceResult<api_token::Model> {
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let token = api_token::Entity::find_by_id(token_id)
        .one(&txn)
        .await?
        .filter(|token| caller.actor.admin || token.user_id == caller.actor.user_id)
        .ok_or_else(|| Refusal::not_found(&["id"], "API token"))?;
    // Forgotten however the command ends: after its commit, or if refused (a retry finding it
    // revoked already), failed, or dropped while its commit may still land.
    let _forgotten_at_the_end = state.tokens.forget_when_dropped(token.token_hash.clone());
    if token.revoked_at.is_some() {
        return Err(Refusal::conflict(&["id"], "this token is already revoked").into());
    }
    let before = snapshot(&token);
    let mut revoked: api_token::ActiveModel = token.into();
    revoked.revoked_at = Set(Some(now));
    let revoked = revoked.update(&txn).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        AuditEntry {
            project_id: None,
            entity_type: "ApiToken",
            entity_id: revoked.id,
            action: "api_token.revoked",
            before: Some(before),
            after: Some(snapshot(&revoked)),
        },
    )
    .await?;
    commit(txn).await?;
    Ok(revoked)
}

/// The actor a bearer token stands for, or `None` when it is unknown, revoked, expired or its
/// user is inactive. A token this server found usable lately is trusted without reading it
/// again ([`TokenMemory`](super::TokenMemory)) until it expires.
pub async fn authenticate(state: &AppState, token: &str) -> ServiceResult<Option<Actor>> {
    let digest = token_digest(token);
    let now = state.clock.now();
    let asked_at = Instant::now();
    if let Some(recalled) = state.tokens.recall(&digest, asked_at, now, |last_used| {
        last_use_is_stale(last_used, now)
    }) {
        if recalled.record_use {
            record_use_beside(state, recalled.actor.token_id, now).await;
        }
        return Ok(Some(recalled.actor));
    }
    let read_in = state.tokens.generation();
    let statement = token_with_user_statement(&digest, state.db.get_database_backend());
    // One row at most: the statement's LIMIT 1.
    let found = JoinedRows::fetch_statement(&state.db, statement)
        .await?
        .parents_with_child::<api_token::Model, user::Model>(api_token::Column::Id)?
        .pop();
    let Some((record, Some(user))) = found else {
        return Ok(None);
    };
    let usable =
        record.revoked_at.is_none() && record.expires_at.is_none_or(|at| at > now) && user.active;
    if !usable {
        return Ok(None);
    }
    let use_to_record = last_use_is_stale(record.last_used_at, now);
    let actor = Actor {
        user_id: user.id,
        admin: user.admin,
        token_id: record.id,
        name: Some(user.name),
    };
    state.tokens.remember(
        digest,
        UsableToken {
            actor: actor.clone(),
            expires_at: record.expires_at,
            last_used_at: if use_to_record {
                Some(now)
            } else {
                record.last_used_at
            },
        },
        read_in,
        asked_at,
    );
    if use_to_record {
        record_use_beside(state, record.id, now).await;
    }
    Ok(Some(actor))
}

/// Records that a token was used at `now`. A request that holds a connection records it on a
/// task of its own; either way a failure is logged, not the request's.
async fn record_use_beside(state: &AppState, token_id: Uuid, now: DateTime<Utc>) {
    let recorded = record_use(state.writer.clone(), token_id, now);
    if state.db.holds_a_connection() {
        // A request that holds a connection must not wait for a second one, which requests
        // holding the rest of the pool could be waiting for just the same (`Db`).
        tokio::spawn(async move {
            if let Err(error) = recorded.await {
                tracing::warn!(%error, "recording when a token was last used");
            }
        });
    } else if let Err(error) = recorded.await {
        // When a token was last used is bookkeeping: its failure (the writer busy past its
        // wait, a group that failed to commit) must not fail the request.
        tracing::warn!(%error, "recording when a token was last used");
    }
}

/// A token by its digest, with its user, for [`JoinedRows`]: the first statement of an
/// authenticated request whose token is not remembered, its text built once per backend.
fn token_with_user_statement(digest: &str, backend: DbBackend) -> Statement {
    static KEPT: SqlOnce = SqlOnce::new();
    KEPT.statement(
        backend,
        || JoinedRows::statement(token_with_user(digest).limit(1).into_query(), backend),
        vec![digest.into(), 1u64.into()],
    )
}

fn token_with_user(digest: &str) -> SelectTwo<api_token::Entity, user::Entity> {
    api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(digest))
        .find_also_related(user::Entity)
}

/// Records that a token was used at `now`, unless a later use is recorded already (requests
/// that saw the same stale use race to record theirs).
async fn record_use(writer: Writer, token_id: Uuid, now: DateTime<Utc>) -> ServiceResult<()> {
    let update = api_token::Entity::update_many()
        .col_expr(
            api_token::Column::LastUsedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(api_token::Column::Id.eq(token_id))
        .filter(
            sea_orm::Condition::any()
                .add(api_token::Column::LastUsedAt.is_null())
                .add(api_token::Column::LastUsedAt.lt(now)),
        );
    writer.execute_alone(update.build(writer.backend())).await?;
    Ok(())
}

/// Whether a token last used at `last_used` should record a use at `now`: at most once per
/// [`LAST_USED_GRANULARITY`].
fn last_use_is_stale(last_used: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last_used.is_none_or(|at| now - at >= LAST_USED_GRANULARITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_token_statement_is_the_one_sea_orm_builds_for_each_digest() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for token in ["one", "another"] {
                let digest = token_digest(token);
                assert_eq!(
                    token_with_user_statement(&digest, backend),
                    JoinedRows::statement(token_with_user(&digest).limit(1).into_query(), backend)
                );
            }
        }
    }

    #[test]
    fn a_use_is_recorded_at_most_once_a_minute() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
            .unwrap()
            .to_utc();
        assert!(last_use_is_stale(None, now));
        assert!(!last_use_is_stale(Some(now), now));
        assert!(!last_use_is_stale(Some(now - Duration::seconds(59)), now));
        assert!(last_use_is_stale(Some(now - Duration::seconds(60)), now));
        // A use recorded by a server whose clock runs ahead is not written back.
        assert!(!last_use_is_stale(Some(now + Duration::seconds(5)), now));
    }
}
