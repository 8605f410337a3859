//! `defect`: a defect found in testing (or after go-live), through its fix-retest loop.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "defect")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    /// 1, 2, 3 ... shown as DEF-1.
    pub number: i32,
    pub title: String,
    pub steps_to_reproduce: String,
    pub expected_result: String,
    pub actual_result: String,
    pub category: String,
    pub severity: Option<String>,
    pub priority: Option<String>,
    pub environment: String,
    pub found_in_cycle_id: Option<Uuid>,
    pub scenario_id: Option<Uuid>,
    pub execution_id: Option<Uuid>,
    pub reporter_id: Uuid,
    pub assignee_id: Option<Uuid>,
    pub found_after_go_live: bool,
    pub status: String,
    pub reject_reason: Option<String>,
    pub duplicate_of: Option<Uuid>,
    /// Why it was deferred, reopened or rejected last.
    pub status_reason: Option<String>,
    pub reopen_count: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
