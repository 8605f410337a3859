//! Phases with their exit criteria, required deliverables and gate conditions.

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
                    .table(Phase::Table)
                    .col(pk_uuid(Phase::Id))
                    .col(uuid(Phase::ProjectId))
                    .col(integer(Phase::Position))
                    .col(string_len(Phase::Name, 200))
                    .col(uuid_null(Phase::OwnerId))
                    .col(date_null(Phase::PlannedStart))
                    .col(date_null(Phase::PlannedEnd))
                    .col(date_null(Phase::ActualStart))
                    .col(date_null(Phase::ActualEnd))
                    .col(string_len(Phase::Status, 32))
                    .col(text_null(Phase::StatusReason))
                    .col(timestamp_with_time_zone(Phase::CreatedAt))
                    .col(timestamp_with_time_zone(Phase::UpdatedAt))
                    .col(big_integer(Phase::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Phase::Table, Phase::ProjectId)
                            .to(Project::Table, Project::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Phase::Table, Phase::OwnerId)
                            .to(User::Table, User::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_phase_project")
                    .table(Phase::Table)
                    .col(Phase::ProjectId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ExitCriterion::Table)
                    .col(pk_uuid(ExitCriterion::Id))
                    .col(uuid(ExitCriterion::PhaseId))
                    .col(integer(ExitCriterion::Position))
                    .col(string_len(ExitCriterion::Text, 500))
                    .col(string_len(ExitCriterion::Status, 16))
                    .col(text_null(ExitCriterion::WaiverReason))
                    .col(string_len_null(ExitCriterion::EvidenceUrl, 2000))
                    .col(uuid_null(ExitCriterion::DecidedBy))
                    .col(timestamp_with_time_zone_null(ExitCriterion::DecidedAt))
                    .col(big_integer(ExitCriterion::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ExitCriterion::Table, ExitCriterion::PhaseId)
                            .to(Phase::Table, Phase::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_exit_criterion_phase")
                    .table(ExitCriterion::Table)
                    .col(ExitCriterion::PhaseId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Deliverable::Table)
                    .col(pk_uuid(Deliverable::Id))
                    .col(uuid(Deliverable::PhaseId))
                    .col(integer(Deliverable::Position))
                    .col(string_len(Deliverable::Name, 200))
                    .col(uuid_null(Deliverable::OwnerId))
                    .col(string_len(Deliverable::Status, 16))
                    .col(string_len_null(Deliverable::Link, 2000))
                    .col(timestamp_with_time_zone(Deliverable::UpdatedAt))
                    .col(big_integer(Deliverable::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Deliverable::Table, Deliverable::PhaseId)
                            .to(Phase::Table, Phase::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Deliverable::Table, Deliverable::OwnerId)
                            .to(User::Table, User::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deliverable_phase")
                    .table(Deliverable::Table)
                    .col(Deliverable::PhaseId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(GateCondition::Table)
                    .col(pk_uuid(GateCondition::Id))
                    .col(uuid(GateCondition::PhaseId))
                    .col(uuid(GateCondition::DecisionId))
                    .col(string_len(GateCondition::Text, 500))
                    .col(uuid_null(GateCondition::OwnerId))
                    .col(date_null(GateCondition::DueDate))
                    .col(string_len(GateCondition::Status, 16))
                    .col(uuid_null(GateCondition::ClosedBy))
                    .col(timestamp_with_time_zone_null(GateCondition::ClosedAt))
                    .col(big_integer(GateCondition::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .from(GateCondition::Table, GateCondition::PhaseId)
                            .to(Phase::Table, Phase::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_gate_condition_phase")
                    .table(GateCondition::Table)
                    .col(GateCondition::PhaseId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            GateCondition::Table.into_iden(),
            Deliverable::Table.into_iden(),
            ExitCriterion::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table(Phase::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Phase {
    Table,
    Id,
    ProjectId,
    Position,
    Name,
    OwnerId,
    PlannedStart,
    PlannedEnd,
    ActualStart,
    ActualEnd,
    Status,
    StatusReason,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum ExitCriterion {
    Table,
    Id,
    PhaseId,
    Position,
    Text,
    Status,
    WaiverReason,
    EvidenceUrl,
    DecidedBy,
    DecidedAt,
    Version,
}

#[derive(DeriveIden)]
enum Deliverable {
    Table,
    Id,
    PhaseId,
    Position,
    Name,
    OwnerId,
    Status,
    Link,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum GateCondition {
    Table,
    Id,
    PhaseId,
    DecisionId,
    Text,
    OwnerId,
    DueDate,
    Status,
    ClosedBy,
    ClosedAt,
    Version,
}
