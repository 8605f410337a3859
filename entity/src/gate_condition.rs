//! `gate_condition`: a condition attached to a GO_WITH_CONDITIONS gate decision; open ones block the next gate.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "gate_condition")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The phase whose gate set the condition.
    pub phase_id: Uuid,
    pub decision_id: Uuid,
    pub text: String,
    pub owner_id: Option<Uuid>,
    pub due_date: Option<Date>,
    /// `OPEN` or `CLOSED`.
    pub status: String,
    pub closed_by: Option<Uuid>,
    pub closed_at: Option<DateTimeUtc>,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
