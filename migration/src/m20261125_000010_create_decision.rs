//! Committee decisions (ballots) and their votes: one mechanism for phase gates, re-baselining,
//! change requests and go/no-go.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000003_create_project::Project;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Decision::Table)
                    .col(pk_uuid(Decision::Id))
                    .col(uuid(Decision::ProjectId))
                    .col(string_len(Decision::SubjectType, 32))
                    .col(uuid(Decision::SubjectId))
                    // Comma-separated choice codes the voters pick from, e.g. "GO,NO_GO".
                    .col(string_len(Decision::Choices, 200))
                    .col(string_len(Decision::Rule, 16))
                    .col(integer_null(Decision::Quorum))
                    // Comma-separated user ids, fixed when the ballot opens.
                    .col(text(Decision::EligibleVoters))
                    .col(string_len(Decision::Status, 16))
                    .col(string_len_null(Decision::Outcome, 32))
                    .col(text(Decision::Note))
                    .col(uuid_null(Decision::OpenedBy))
                    .col(timestamp_with_time_zone(Decision::OpenedAt))
                    .col(timestamp_with_time_zone_null(Decision::DecidedAt))
                    .col(big_integer(Decision::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Decision::Table, Decision::ProjectId)
                            .to(Project::Table, Project::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_decision_subject")
                    .table(Decision::Table)
                    .col(Decision::SubjectId)
                    .col(Decision::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_decision_project")
                    .table(Decision::Table)
                    .col(Decision::ProjectId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DecisionVote::Table)
                    .col(pk_uuid(DecisionVote::Id))
                    .col(uuid(DecisionVote::DecisionId))
                    .col(uuid(DecisionVote::VoterId))
                    .col(string_len(DecisionVote::Choice, 32))
                    .col(text(DecisionVote::Comment))
                    // Choice-specific detail as JSON, e.g. the conditions of GO_WITH_CONDITIONS.
                    .col(text_null(DecisionVote::Detail))
                    .col(timestamp_with_time_zone(DecisionVote::CastAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DecisionVote::Table, DecisionVote::DecisionId)
                            .to(Decision::Table, Decision::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_decision_vote_voter")
                    .table(DecisionVote::Table)
                    .col(DecisionVote::DecisionId)
                    .col(DecisionVote::VoterId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DecisionVote::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Decision::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Decision {
    Table,
    Id,
    ProjectId,
    SubjectType,
    SubjectId,
    Choices,
    Rule,
    Quorum,
    EligibleVoters,
    Status,
    Outcome,
    Note,
    OpenedBy,
    OpenedAt,
    DecidedAt,
    Version,
}

#[derive(DeriveIden)]
enum DecisionVote {
    Table,
    Id,
    DecisionId,
    VoterId,
    Choice,
    Comment,
    Detail,
    CastAt,
}
