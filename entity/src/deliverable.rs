//! `deliverable`: a document or artefact a phase must have approved to pass its gate.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliverable")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub phase_id: Uuid,
    pub position: i32,
    pub name: String,
    pub owner_id: Option<Uuid>,
    /// `DRAFT`, `IN_REVIEW` or `APPROVED`.
    pub status: String,
    pub link: Option<String>,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
