//! `schedule_baseline`: an immutable, numbered snapshot of the milestones' baseline dates.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "schedule_baseline")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    /// 1 for the first baseline, then 2, 3, ...
    pub number: i32,
    pub reason: String,
    /// `INITIAL`, `COMMITTEE_DECISION` or `CHANGE_REQUEST`.
    pub cause_kind: String,
    /// The decision or change request that caused it.
    pub cause_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
