//! `test_cycle`: a round of acceptance testing at one stage.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "test_cycle")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    /// `REQUIREMENTS`, `FUNCTIONAL`, `INTEGRATION` or `USER_TRIAL`.
    pub stage: String,
    pub environment: String,
    pub planned_start: Option<Date>,
    pub planned_end: Option<Date>,
    pub status: String,
    pub signed_off_by: Option<Uuid>,
    pub signed_off_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
