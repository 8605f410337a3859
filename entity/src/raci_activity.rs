//! `raci_activity`: an activity of the RACI matrix, optionally tied to a phase.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "raci_activity")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    pub phase_id: Option<Uuid>,
    pub position: i32,
    pub name: String,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::raci_assignment::Entity")]
    RaciAssignment,
}

impl Related<super::raci_assignment::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RaciAssignment.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
