//! `cost_baseline`: a numbered version of the project's approved budget.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cost_baseline")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    pub number: i32,
    /// Exact decimal text.
    pub amount: String,
    pub currency: String,
    pub reason: String,
    /// `INITIAL` or `CHANGE_REQUEST`.
    pub cause_kind: String,
    pub cause_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
