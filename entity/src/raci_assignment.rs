//! `raci_assignment`: one person's letter (R, A, C or I) on one activity.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "raci_assignment")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub activity_id: Uuid,
    pub project_id: Uuid,
    pub user_id: Uuid,
    /// `R`, `A`, `C` or `I`.
    pub letter: String,
    pub assigned_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::raci_activity::Entity",
        from = "Column::ActivityId",
        to = "super::raci_activity::Column::Id",
        on_delete = "Cascade"
    )]
    RaciActivity,
}

impl Related<super::raci_activity::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RaciActivity.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
