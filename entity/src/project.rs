//! `project`: one CRM implementation project.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "project")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    pub description: String,
    /// IANA time zone name, e.g. `Asia/Shanghai`.
    pub time_zone: String,
    pub planned_start: Option<Date>,
    pub target_go_live: Option<Date>,
    /// Exact decimal text, e.g. `1250000.00`.
    pub budget_amount: Option<String>,
    /// ISO 4217 code.
    pub budget_currency: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    /// The status to resume to when the project leaves `ON_HOLD`.
    pub status_before_hold: Option<String>,
    /// How the steering committee decides: `UNANIMOUS`, `MAJORITY`, `QUORUM` or `ANY_ONE`.
    pub decision_rule: String,
    /// The quorum when `decision_rule` is `QUORUM`.
    pub decision_quorum: Option<i32>,
    /// Milestone slip, in days, from which a milestone is AMBER.
    pub amber_slip_days: i32,
    /// Milestone slip, in days, from which a milestone is RED.
    pub red_slip_days: i32,
    /// Change requests shifting the schedule by fewer days than this may be decided by the PM.
    pub red_line_schedule_days: i32,
    /// ... costing less than this (exact decimal text, the budget's currency) ...
    pub red_line_cost: String,
    /// ... and carrying a risk below this level.
    pub red_line_risk: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::project_member::Entity")]
    ProjectMember,
}

impl Related<super::project_member::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProjectMember.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
