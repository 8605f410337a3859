//! `notification`: one email in the transactional outbox, written in the transaction of the
//! change it reports and delivered by the worker.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Option<Uuid>,
    pub recipient_id: Uuid,
    pub recipient_email: String,
    pub locale: String,
    pub kind: String,
    pub aggregate_type: String,
    pub aggregate_id: Option<Uuid>,
    #[sea_orm(unique)]
    pub dedupe_key: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub unsubscribe_url: Option<String>,
    pub priority: i16,
    pub status: String,
    /// Attempts since the email was written or last retried: the retry policy counts these.
    pub attempts: i32,
    /// Claims by a worker ever, never reset: the number of the current claim, which only its
    /// claimer may record the outcome of.
    pub claims: i64,
    pub next_attempt_at: DateTimeUtc,
    pub lease_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
