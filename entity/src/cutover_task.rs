//! `cutover_task`: one task of a cutover runbook.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cutover_task")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub plan_id: Uuid,
    pub position: i32,
    pub name: String,
    pub owner_id: Option<Uuid>,
    pub duration_minutes: i32,
    /// Ids of the tasks it waits for, as JSON.
    pub depends_on: String,
    pub status: String,
    /// Past this task there is no simple way back.
    pub point_of_no_return: bool,
    pub actual_start: Option<DateTimeUtc>,
    pub actual_end: Option<DateTimeUtc>,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
