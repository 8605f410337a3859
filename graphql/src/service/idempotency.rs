//! Remembering requests sent with an `Idempotency-Key`: a key is reserved before its request
//! runs (so two concurrent retries cannot both run it) and holds the answer afterwards.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryTrait};
use steerco_entity::idempotency_key;
use uuid::Uuid;

use super::{ServiceResult, Writer, begin_write, commit};
use crate::domain::idempotency::{IdempotencyKey, KEY_LIFETIME, Remembered, Verdict, verdict};

/// Decides what a request with `key` gets; when it is to run, the key is reserved for it.
pub async fn begin(
    writer: &Writer,
    user_id: Uuid,
    key: &IdempotencyKey,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> ServiceResult<Verdict> {
    let txn = begin_write(writer).await?;
    let found = idempotency_key::Entity::find_by_id((user_id, key.as_str().to_owned()))
        .one(&txn)
        .await?;
    let remembered = found.map(|row| Remembered {
        fingerprint: row.fingerprint,
        response: row.response,
        created_at: row.created_at,
    });
    let decided = verdict(remembered.as_ref(), fingerprint, now);
    if decided == Verdict::Run {
        let row = idempotency_key::ActiveModel {
            user_id: Set(user_id),
            key: Set(key.as_str().to_owned()),
            fingerprint: Set(fingerprint.to_owned()),
            response: Set(None),
            created_at: Set(now),
        };
        let inserted = idempotency_key::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    idempotency_key::Column::UserId,
                    idempotency_key::Column::Key,
                ])
                .update_columns([
                    idempotency_key::Column::Fingerprint,
                    idempotency_key::Column::Response,
                    idempotency_key::Column::CreatedAt,
                ])
                // Only an expired row is taken over; a live one means another request won
                // the race since we looked.
                .action_and_where(
                    Expr::col((idempotency_key::Entity, idempotency_key::Column::CreatedAt))
                        .lte(now - KEY_LIFETIME),
                )
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        if inserted == 0 {
            commit(txn).await?;
            return Ok(Verdict::InProgress);
        }
    }
    commit(txn).await?;
    Ok(decided)
}

/// Stores the answer of the request that reserved `key`.
pub async fn finish(
    writer: &Writer,
    user_id: Uuid,
    key: &IdempotencyKey,
    response: &str,
) -> ServiceResult<()> {
    let update = idempotency_key::Entity::update_many()
        .col_expr(
            idempotency_key::Column::Response,
            Expr::value(Some(response.to_owned())),
        )
        .filter(idempotency_key::Column::UserId.eq(user_id))
        .filter(idempotency_key::Column::Key.eq(key.as_str()));
    writer.execute_alone(update.build(writer.backend())).await?;
    Ok(())
}

/// Forgets a reservation whose request failed for reasons of ours (a timeout, an internal
/// error), so that the client's retry runs it.
pub async fn abandon(writer: &Writer, user_id: Uuid, key: &IdempotencyKey) -> ServiceResult<()> {
    let delete = idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::UserId.eq(user_id))
        .filter(idempotency_key::Column::Key.eq(key.as_str()))
        .filter(idempotency_key::Column::Response.is_null());
    writer.execute_alone(delete.build(writer.backend())).await?;
    Ok(())
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
