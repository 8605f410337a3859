//! `go_live_plan`: how a project goes live: cutover, go/no-go, rollback, hypercare.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "go_live_plan")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    pub status: String,
    /// `BIG_BANG`, `PHASED` or `PILOT_THEN_FULL`.
    pub strategy: String,
    pub planned_go_live: DateTimeUtc,
    pub cutover_start: DateTimeUtc,
    pub cutover_end: DateTimeUtc,
    pub freeze_start: Option<DateTimeUtc>,
    pub freeze_end: Option<DateTimeUtc>,
    pub communications: String,
    pub max_open_critical: i32,
    pub max_open_major: i32,
    /// The rollback plan, as JSON.
    pub rollback: String,
    /// The War Room roster, as JSON.
    pub war_room: String,
    /// Hypercare exit criteria, as JSON.
    pub hypercare_exit: String,
    /// The go/no-go evaluation frozen at the decision, as JSON.
    pub decision_snapshot: Option<String>,
    pub override_reason: Option<String>,
    /// Why the last NO_GO or rollback happened.
    pub status_reason: Option<String>,
    pub rollback_forced: bool,
    /// 1 for the first go-live attempt, then 2, ...
    pub attempt: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
