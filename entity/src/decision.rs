//! `decision`: a committee ballot on one subject (a phase gate, a re-baseline, ...).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "decision")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    /// `PHASE_GATE`, `PHASE_SKIP`, `SCHEDULE_REBASELINE`, ...
    pub subject_type: String,
    pub subject_id: Uuid,
    /// Comma-separated choice codes.
    pub choices: String,
    pub rule: String,
    pub quorum: Option<i32>,
    /// Comma-separated user ids, fixed when the ballot opened.
    pub eligible_voters: String,
    /// `OPEN`, `DECIDED`, `DEADLOCKED` or `WITHDRAWN`.
    pub status: String,
    pub outcome: Option<String>,
    /// What the ballot is about, as written by whoever opened it.
    pub note: String,
    pub opened_by: Option<Uuid>,
    pub opened_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::decision_vote::Entity")]
    DecisionVote,
}

impl Related<super::decision_vote::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::DecisionVote.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
