//! `scheduled_reminder`: a reminder the scheduler wrote for one object (a milestone, a ballot)
//! under one rule on one day, so that later passes that day skip it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scheduled_reminder")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    #[sea_orm(primary_key, auto_increment = false)]
    pub rule: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_id: Uuid,
    pub written_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
