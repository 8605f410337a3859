//! `scope_version`: one version of a project's scope statement.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scope_version")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    /// 1, 2, 3, ...
    pub number: i32,
    /// `DRAFT`, `IN_REVIEW`, `BASELINED` or `SUPERSEDED`.
    pub status: String,
    /// The document as JSON.
    pub content: String,
    /// The baseline this draft started from.
    pub based_on: Option<Uuid>,
    /// The version that replaced this baseline.
    pub superseded_by: Option<Uuid>,
    /// `DRAFTED` or `CHANGE_REQUEST`.
    pub cause_kind: String,
    pub cause_id: Option<Uuid>,
    /// The comment of the last rejection.
    pub rejection_comment: Option<String>,
    pub rejected_by: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub baselined_at: Option<DateTimeUtc>,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
