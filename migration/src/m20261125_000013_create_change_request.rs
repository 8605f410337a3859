//! Change requests, their comments, vote delegations, and the project's cost baselines.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_create_user::User;
use crate::m20261125_000003_create_project::Project;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChangeRequest::Table)
                    .col(pk_uuid(ChangeRequest::Id))
                    .col(uuid(ChangeRequest::ProjectId))
                    .col(integer(ChangeRequest::Number))
                    .col(string_len(ChangeRequest::Title, 200))
                    .col(text(ChangeRequest::Description))
                    .col(text(ChangeRequest::Justification))
                    .col(string_len(ChangeRequest::Category, 16))
                    .col(string_len(ChangeRequest::Priority, 8))
                    .col(uuid(ChangeRequest::RequesterId))
                    .col(string_len(ChangeRequest::Status, 24))
                    // Links to scope items, milestones and a phase, as JSON.
                    .col(text(ChangeRequest::Links))
                    // The impact assessment, as JSON.
                    .col(text(ChangeRequest::Impact))
                    .col(uuid_null(ChangeRequest::ImpactEditedBy))
                    .col(text_null(ChangeRequest::InfoRequest))
                    // COMMITTEE or PROJECT_MANAGER (the red-line fast path), once decided.
                    .col(string_len_null(ChangeRequest::DecidedBy, 16))
                    .col(text_null(ChangeRequest::DecisionNote))
                    .col(uuid_null(ChangeRequest::ScheduleBaselineId))
                    .col(uuid_null(ChangeRequest::ScopeVersionId))
                    .col(uuid_null(ChangeRequest::CostBaselineId))
                    .col(timestamp_with_time_zone(ChangeRequest::CreatedAt))
                    .col(timestamp_with_time_zone(ChangeRequest::UpdatedAt))
                    .col(timestamp_with_time_zone_null(ChangeRequest::DecidedAt))
                    .col(big_integer(ChangeRequest::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ChangeRequest::Table, ChangeRequest::ProjectId)
                            .to(Project::Table, Project::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ChangeRequest::Table, ChangeRequest::RequesterId)
                            .to(User::Table, User::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_change_request_number")
                    .table(ChangeRequest::Table)
                    .col(ChangeRequest::ProjectId)
                    .col(ChangeRequest::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChangeRequestComment::Table)
                    .col(pk_uuid(ChangeRequestComment::Id))
                    .col(uuid(ChangeRequestComment::ChangeRequestId))
                    .col(uuid(ChangeRequestComment::AuthorId))
                    .col(text(ChangeRequestComment::Body))
                    .col(timestamp_with_time_zone(ChangeRequestComment::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ChangeRequestComment::Table,
                                ChangeRequestComment::ChangeRequestId,
                            )
                            .to(ChangeRequest::Table, ChangeRequest::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_change_request_comment_cr")
                    .table(ChangeRequestComment::Table)
                    .col(ChangeRequestComment::ChangeRequestId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(VoteDelegation::Table)
                    .col(pk_uuid(VoteDelegation::Id))
                    .col(uuid(VoteDelegation::ProjectId))
                    .col(uuid(VoteDelegation::DelegatorId))
                    .col(uuid(VoteDelegation::DelegateId))
                    .col(date(VoteDelegation::StartsOn))
                    .col(date(VoteDelegation::EndsOn))
                    .col(timestamp_with_time_zone(VoteDelegation::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(VoteDelegation::Table, VoteDelegation::ProjectId)
                            .to(Project::Table, Project::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_vote_delegation_project")
                    .table(VoteDelegation::Table)
                    .col(VoteDelegation::ProjectId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CostBaseline::Table)
                    .col(pk_uuid(CostBaseline::Id))
                    .col(uuid(CostBaseline::ProjectId))
                    .col(integer(CostBaseline::Number))
                    .col(string_len(CostBaseline::Amount, 40))
                    .col(string_len(CostBaseline::Currency, 3))
                    .col(text(CostBaseline::Reason))
                    // INITIAL or CHANGE_REQUEST, with the change request's id.
                    .col(string_len(CostBaseline::CauseKind, 16))
                    .col(uuid_null(CostBaseline::CauseId))
                    .col(timestamp_with_time_zone(CostBaseline::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CostBaseline::Table, CostBaseline::ProjectId)
                            .to(Project::Table, Project::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_cost_baseline_number")
                    .table(CostBaseline::Table)
                    .col(CostBaseline::ProjectId)
                    .col(CostBaseline::Number)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CostBaseline::Table.into_iden(),
            VoteDelegation::Table.into_iden(),
            ChangeRequestComment::Table.into_iden(),
            ChangeRequest::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ChangeRequest {
    Table,
    Id,
    ProjectId,
    Number,
    Title,
    Description,
    Justification,
    Category,
    Priority,
    RequesterId,
    Status,
    Links,
    Impact,
    ImpactEditedBy,
    InfoRequest,
    DecidedBy,
    DecisionNote,
    ScheduleBaselineId,
    ScopeVersionId,
    CostBaselineId,
    CreatedAt,
    UpdatedAt,
    DecidedAt,
    Version,
}

#[derive(DeriveIden)]
enum ChangeRequestComment {
    Table,
    Id,
    ChangeRequestId,
    AuthorId,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum VoteDelegation {
    Table,
    Id,
    ProjectId,
    DelegatorId,
    DelegateId,
    StartsOn,
    EndsOn,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CostBaseline {
    Table,
    Id,
    ProjectId,
    Number,
    Amount,
    Currency,
    Reason,
    CauseKind,
    CauseId,
    CreatedAt,
}
