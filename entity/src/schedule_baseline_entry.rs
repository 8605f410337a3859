//! `schedule_baseline_entry`: one milestone's baseline date in a baseline version.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "schedule_baseline_entry")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub baseline_id: Uuid,
    pub milestone_id: Uuid,
    /// The name when the baseline was taken.
    pub milestone_name: String,
    pub baseline_date: Date,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
