//! Milestones and the finish-to-start links between them.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_create_user::User;
use crate::m20261125_000003_create_project::Project;
use crate::m20261125_000007_create_phase::Phase;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Milestone::Table)
                    .col(pk_uuid(Milestone::Id))
                    .col(uuid(Milestone::ProjectId))
                    .col(uuid(Milestone::PhaseId))
                    .col(string_len(Milestone::Name, 200))
                    .col(uuid_null(Milestone::OwnerId))
                    .col(date_null(Milestone::BaselineDate))
                    .col(date(Milestone::ForecastDate))
                    .col(date_null(Milestone::ActualDate))
                    .col(string_len(Milestone::Status, 16))
                    // The health last reported, so that a change of health is an event once.
                    .col(string_len(Milestone::LastHealth, 8))
                    .col(timestamp_with_time_zone(Milestone::CreatedAt))
                    .col(timestamp_with_time_zone(Milestone::UpdatedAt))
                    .col(big_integer(Milestone::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Milestone::Table, Milestone::ProjectId)
                            .to(Project::Table, Project::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Milestone::Table, Milestone::PhaseId)
                            .to(Phase::Table, Phase::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Milestone::Table, Milestone::OwnerId)
                            .to(User::Table, User::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_milestone_project")
                    .table(Milestone::Table)
                    .col(Milestone::ProjectId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_milestone_phase")
                    .table(Milestone::Table)
                    .col(Milestone::PhaseId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MilestoneDependency::Table)
                    .col(pk_uuid(MilestoneDependency::Id))
                    .col(uuid(MilestoneDependency::ProjectId))
                    .col(uuid(MilestoneDependency::PredecessorId))
                    .col(uuid(MilestoneDependency::SuccessorId))
                    .col(integer(MilestoneDependency::LagDays))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                MilestoneDependency::Table,
                                MilestoneDependency::PredecessorId,
                            )
                            .to(Milestone::Table, Milestone::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(MilestoneDependency::Table, MilestoneDependency::SuccessorId)
                            .to(Milestone::Table, Milestone::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_milestone_dependency_pair")
                    .table(MilestoneDependency::Table)
                    .col(MilestoneDependency::PredecessorId)
                    .col(MilestoneDependency::SuccessorId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_milestone_dependency_project")
                    .table(MilestoneDependency::Table)
                    .col(MilestoneDependency::ProjectId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MilestoneDependency::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Milestone::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Milestone {
    Table,
    Id,
    ProjectId,
    PhaseId,
    Name,
    OwnerId,
    BaselineDate,
    ForecastDate,
    ActualDate,
    Status,
    LastHealth,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum MilestoneDependency {
    Table,
    Id,
    ProjectId,
    PredecessorId,
    SuccessorId,
    LagDays,
}
