//! `test_execution`: one tester running one scenario in one cycle.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "test_execution")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    pub cycle_id: Uuid,
    pub scenario_id: Uuid,
    pub tester_id: Uuid,
    /// `NOT_RUN`, `PASSED`, `FAILED` or `BLOCKED`.
    pub result: String,
    pub notes: String,
    pub evidence_url: Option<String>,
    pub executed_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
