//! `decision_vote`: one voter's vote on a decision.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "decision_vote")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub decision_id: Uuid,
    pub voter_id: Uuid,
    /// One of the decision's choices, or `ABSTAIN`.
    pub choice: String,
    pub comment: String,
    /// Choice-specific detail as JSON (the conditions of GO_WITH_CONDITIONS).
    pub detail: Option<String>,
    pub cast_at: DateTimeUtc,
    /// Who cast it, when a delegate voted on the voter's behalf.
    pub cast_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::decision::Entity",
        from = "Column::DecisionId",
        to = "super::decision::Column::Id"
    )]
    Decision,
}

impl Related<super::decision::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Decision.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
