//! `audit_event`: the append-only, hash-chained audit trail.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The project's id as text, or `global` for events outside any project.
    pub chain_key: String,
    /// Position in the chain, from 1.
    pub seq: i64,
    pub project_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub action: String,
    /// JSON text exactly as hashed.
    pub before: Option<String>,
    /// JSON text exactly as hashed.
    pub after: Option<String>,
    pub occurred_at: DateTimeUtc,
    pub request_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
