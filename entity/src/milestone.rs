//! `milestone`: a dated checkpoint of a phase, tracked against its baseline.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "milestone")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    pub phase_id: Uuid,
    pub name: String,
    pub owner_id: Option<Uuid>,
    /// Fixed by schedule baselines; `None` until the first one.
    pub baseline_date: Option<Date>,
    pub forecast_date: Date,
    pub actual_date: Option<Date>,
    /// `PLANNED`, `IN_PROGRESS`, `ACHIEVED` or `MISSED`.
    pub status: String,
    /// The health last reported (`GREEN`, `AMBER`, `RED`).
    pub last_health: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
    /// A key milestone's achievement is announced to the whole team.
    pub is_key: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::phase::Entity",
        from = "Column::PhaseId",
        to = "super::phase::Column::Id"
    )]
    Phase,
}

impl Related<super::phase::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Phase.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
