//! `idempotency_key`: a request a user sent with an `Idempotency-Key` header, and the answer
//! it got, kept for a day.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_key")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub fingerprint: String,
    /// The JSON answer; `None` while the first request runs, or when it ended without one.
    pub response: Option<String>,
    /// Set by every transaction the request committed, in that transaction: some of its
    /// changes reached the database.
    pub written: bool,
    /// The request ended without an answer to keep (a timeout, an internal error; for a
    /// keyed field, any error under it) after it had written.
    pub unanswered: bool,
    pub created_at: DateTimeUtc,
    /// The reservation of the request that holds the key: only its writes mark the key, only
    /// its answer is kept. `None` for keys reserved before reservations were named.
    pub held_by: Option<Uuid>,
    /// By when the holding request has ended, answered or not, given its time limit; past it,
    /// a key still unanswered was cut off with its server. `None`: no limit was known.
    pub abandoned_after: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
