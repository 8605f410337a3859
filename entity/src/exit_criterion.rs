//! `exit_criterion`: a condition a phase must meet (or have waived) to pass its gate.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "exit_criterion")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub phase_id: Uuid,
    pub position: i32,
    pub text: String,
    /// `NOT_MET`, `MET` or `WAIVED`.
    pub status: String,
    pub waiver_reason: Option<String>,
    pub evidence_url: Option<String>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTimeUtc>,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
