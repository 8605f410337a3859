//! Go-live plans: cutover runbook, manual go/no-go criteria, hypercare metrics and readings.

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
                    .table(GoLivePlan::Table)
                    .col(pk_uuid(GoLivePlan::Id))
                    .col(uuid(GoLivePlan::ProjectId))
                    .col(string_len(GoLivePlan::Status, 24))
                    .col(string_len(GoLivePlan::Strategy, 16))
                    .col(timestamp_with_time_zone(GoLivePlan::PlannedGoLive))
                    .col(timestamp_with_time_zone(GoLivePlan::CutoverStart))
                    .col(timestamp_with_time_zone(GoLivePlan::CutoverEnd))
                    .col(timestamp_with_time_zone_null(GoLivePlan::FreezeStart))
                    .col(timestamp_with_time_zone_null(GoLivePlan::FreezeEnd))
                    .col(text(GoLivePlan::Communications))
                    .col(integer(GoLivePlan::MaxOpenCritical))
                    .col(integer(GoLivePlan::MaxOpenMajor))
                    // The rollback plan, the War Room roster and the hypercare exit criteria, as JSON.
                    .col(text(GoLivePlan::Rollback))
                    .col(text(GoLivePlan::WarRoom))
                    .col(text(GoLivePlan::HypercareExit))
                    // The go/no-go evaluation frozen when the committee decided, as JSON.
                    .col(text_null(GoLivePlan::DecisionSnapshot))
                    .col(text_null(GoLivePlan::OverrideReason))
                    .col(text_null(GoLivePlan::StatusReason))
                    .col(boolean(GoLivePlan::RollbackForced))
                    .col(integer(GoLivePlan::Attempt))
                    .col(timestamp_with_time_zone(GoLivePlan::CreatedAt))
                    .col(timestamp_with_time_zone(GoLivePlan::UpdatedAt))
                    .col(big_integer(GoLivePlan::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .from(GoLivePlan::Table, GoLivePlan::ProjectId)
                            .to(Project::Table, Project::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_go_live_plan_project")
                    .table(GoLivePlan::Table)
                    .col(GoLivePlan::ProjectId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CutoverTask::Table)
                    .col(pk_uuid(CutoverTask::Id))
                    .col(uuid(CutoverTask::PlanId))
                    .col(integer(CutoverTask::Position))
                    .col(string_len(CutoverTask::Name, 200))
                    .col(uuid_null(CutoverTask::OwnerId))
                    .col(integer(CutoverTask::DurationMinutes))
                    // Ids of the tasks this one waits for, as JSON.
                    .col(text(CutoverTask::DependsOn))
                    .col(string_len(CutoverTask::Status, 16))
                    .col(boolean(CutoverTask::PointOfNoReturn))
                    .col(timestamp_with_time_zone_null(CutoverTask::ActualStart))
                    .col(timestamp_with_time_zone_null(CutoverTask::ActualEnd))
                    .col(big_integer(CutoverTask::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CutoverTask::Table, CutoverTask::PlanId)
                            .to(GoLivePlan::Table, GoLivePlan::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(GoLiveCriterion::Table)
                    .col(pk_uuid(GoLiveCriterion::Id))
                    .col(uuid(GoLiveCriterion::PlanId))
                    .col(string_len(GoLiveCriterion::Name, 200))
                    .col(uuid_null(GoLiveCriterion::OwnerId))
                    .col(boolean(GoLiveCriterion::Done))
                    .foreign_key(
                        ForeignKey::create()
                            .from(GoLiveCriterion::Table, GoLiveCriterion::PlanId)
                            .to(GoLivePlan::Table, GoLivePlan::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(HypercareMetric::Table)
                    .col(pk_uuid(HypercareMetric::Id))
                    .col(uuid(HypercareMetric::PlanId))
                    .col(string_len(HypercareMetric::Name, 200))
                    .col(string_len(HypercareMetric::Unit, 32))
                    .col(string_len(HypercareMetric::Target, 40))
                    .col(string_len(HypercareMetric::Direction, 16))
                    .foreign_key(
                        ForeignKey::create()
                            .from(HypercareMetric::Table, HypercareMetric::PlanId)
                            .to(GoLivePlan::Table, GoLivePlan::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MetricReading::Table)
                    .col(pk_uuid(MetricReading::Id))
                    .col(uuid(MetricReading::MetricId))
                    .col(string_len(MetricReading::Value, 40))
                    .col(boolean(MetricReading::Breached))
                    .col(timestamp_with_time_zone(MetricReading::TakenAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MetricReading::Table, MetricReading::MetricId)
                            .to(HypercareMetric::Table, HypercareMetric::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MetricReading::Table.into_iden(),
            HypercareMetric::Table.into_iden(),
            GoLiveCriterion::Table.into_iden(),
            CutoverTask::Table.into_iden(),
            GoLivePlan::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum GoLivePlan {
    Table,
    Id,
    ProjectId,
    Status,
    Strategy,
    PlannedGoLive,
    CutoverStart,
    CutoverEnd,
    FreezeStart,
    FreezeEnd,
    Communications,
    MaxOpenCritical,
    MaxOpenMajor,
    Rollback,
    WarRoom,
    HypercareExit,
    DecisionSnapshot,
    OverrideReason,
    StatusReason,
    RollbackForced,
    Attempt,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum CutoverTask {
    Table,
    Id,
    PlanId,
    Position,
    Name,
    OwnerId,
    DurationMinutes,
    DependsOn,
    Status,
    PointOfNoReturn,
    ActualStart,
    ActualEnd,
    Version,
}

#[derive(DeriveIden)]
enum GoLiveCriterion {
    Table,
    Id,
    PlanId,
    Name,
    OwnerId,
    Done,
}

#[derive(DeriveIden)]
enum HypercareMetric {
    Table,
    Id,
    PlanId,
    Name,
    Unit,
    Target,
    Direction,
}

#[derive(DeriveIden)]
enum MetricReading {
    Table,
    Id,
    MetricId,
    Value,
    Breached,
    TakenAt,
}
