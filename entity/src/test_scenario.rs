//! `test_scenario`: an end-to-end business scenario tested in UAT.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "test_scenario")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    /// `SALES`, `MARKETING`, `SERVICE`, `DATA`, `PERMISSIONS` or `INTEGRATION`.
    pub area: String,
    pub is_core: bool,
    /// `TYPICAL` or `EXCEPTION`.
    pub scenario_type: String,
    /// Ordered steps with expected results, as JSON.
    pub steps: String,
    pub owner_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
