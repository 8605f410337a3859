//! `change_request`: a proposed change to the baselined scope, schedule or budget.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "change_request")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    /// 1, 2, 3, ... shown as CR-001.
    pub number: i32,
    pub title: String,
    pub description: String,
    pub justification: String,
    pub category: String,
    /// `MUST`, `SHOULD` or `COULD`.
    pub priority: String,
    pub requester_id: Uuid,
    pub status: String,
    /// Linked scope items, milestones and phase, as JSON.
    pub links: String,
    /// The impact assessment, as JSON.
    pub impact: String,
    /// Who last edited the impact; recused from the vote.
    pub impact_edited_by: Option<Uuid>,
    /// What the PM asked the requester, while INFO_REQUESTED.
    pub info_request: Option<String>,
    /// `COMMITTEE` or `PROJECT_MANAGER`, once decided.
    pub decided_by: Option<String>,
    pub decision_note: Option<String>,
    /// The baselines an approval produced.
    pub schedule_baseline_id: Option<Uuid>,
    pub scope_version_id: Option<Uuid>,
    pub cost_baseline_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
    pub version: i64,
    /// When it was approved; it keeps that through implementation and closing.
    pub approved_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
