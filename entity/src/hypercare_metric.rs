//! `hypercare_metric`: a metric the War Room watches after go-live.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hypercare_metric")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub plan_id: Uuid,
    pub name: String,
    pub unit: String,
    /// Exact decimal text.
    pub target: String,
    /// `AT_LEAST` or `AT_MOST`.
    pub direction: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
