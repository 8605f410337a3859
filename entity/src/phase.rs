//! `phase`: a stage of the project, closed by a gate decision.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "phase")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    /// Order within the project, from 1.
    pub position: i32,
    pub name: String,
    pub owner_id: Option<Uuid>,
    pub planned_start: Option<Date>,
    pub planned_end: Option<Date>,
    pub actual_start: Option<Date>,
    pub actual_end: Option<Date>,
    /// `NOT_STARTED`, `IN_PROGRESS`, `AWAITING_GATE_REVIEW`, `COMPLETED` or `SKIPPED`.
    pub status: String,
    /// Why the phase was skipped, or why its last gate said NO_GO.
    pub status_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::milestone::Entity")]
    Milestone,
}

impl Related<super::milestone::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Milestone.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
