//! Schedule baselines: immutable, numbered snapshots of every milestone's baseline date.

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
                    .table(ScheduleBaseline::Table)
                    .col(pk_uuid(ScheduleBaseline::Id))
                    .col(uuid(ScheduleBaseline::ProjectId))
                    .col(integer(ScheduleBaseline::Number))
                    .col(text(ScheduleBaseline::Reason))
                    // INITIAL, COMMITTEE_DECISION or CHANGE_REQUEST, with the deciding object.
                    .col(string_len(ScheduleBaseline::CauseKind, 32))
                    .col(uuid_null(ScheduleBaseline::CauseId))
                    .col(uuid_null(ScheduleBaseline::CreatedBy))
                    .col(timestamp_with_time_zone(ScheduleBaseline::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ScheduleBaseline::Table, ScheduleBaseline::ProjectId)
                            .to(Project::Table, Project::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_schedule_baseline_number")
                    .table(ScheduleBaseline::Table)
                    .col(ScheduleBaseline::ProjectId)
                    .col(ScheduleBaseline::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ScheduleBaselineEntry::Table)
                    .col(pk_uuid(ScheduleBaselineEntry::Id))
                    .col(uuid(ScheduleBaselineEntry::BaselineId))
                    .col(uuid(ScheduleBaselineEntry::MilestoneId))
                    .col(string_len(ScheduleBaselineEntry::MilestoneName, 200))
                    .col(date(ScheduleBaselineEntry::BaselineDate))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ScheduleBaselineEntry::Table,
                                ScheduleBaselineEntry::BaselineId,
                            )
                            .to(ScheduleBaseline::Table, ScheduleBaseline::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_schedule_baseline_entry_baseline")
                    .table(ScheduleBaselineEntry::Table)
                    .col(ScheduleBaselineEntry::BaselineId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ScheduleBaselineEntry::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ScheduleBaseline::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ScheduleBaseline {
    Table,
    Id,
    ProjectId,
    Number,
    Reason,
    CauseKind,
    CauseId,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ScheduleBaselineEntry {
    Table,
    Id,
    BaselineId,
    MilestoneId,
    MilestoneName,
    BaselineDate,
}
