//! User acceptance testing: scenarios, cycles, executions, defects and their comments.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_create_user::User;
use crate::m20261125_000003_create_project::Project;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn project_fk<T: IntoIden + Copy + 'static, C: IntoIden + Copy + 'static>(
    table: T,
    column: C,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Project::Table, Project::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TestScenario::Table)
                    .col(pk_uuid(TestScenario::Id))
                    .col(uuid(TestScenario::ProjectId))
                    .col(string_len(TestScenario::Name, 200))
                    .col(string_len(TestScenario::Area, 16))
                    .col(boolean(TestScenario::IsCore))
                    .col(string_len(TestScenario::ScenarioType, 16))
                    // Ordered steps with their expected results, as JSON.
                    .col(text(TestScenario::Steps))
                    .col(uuid_null(TestScenario::OwnerId))
                    .col(timestamp_with_time_zone(TestScenario::CreatedAt))
                    .col(timestamp_with_time_zone(TestScenario::UpdatedAt))
                    .col(big_integer(TestScenario::Version))
                    .foreign_key(&mut project_fk(
                        TestScenario::Table,
                        TestScenario::ProjectId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_test_scenario_name")
                    .table(TestScenario::Table)
                    .col(TestScenario::ProjectId)
                    .col(TestScenario::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TestCycle::Table)
                    .col(pk_uuid(TestCycle::Id))
                    .col(uuid(TestCycle::ProjectId))
                    .col(string_len(TestCycle::Name, 200))
                    .col(string_len(TestCycle::Stage, 16))
                    .col(string_len(TestCycle::Environment, 200))
                    .col(date_null(TestCycle::PlannedStart))
                    .col(date_null(TestCycle::PlannedEnd))
                    .col(string_len(TestCycle::Status, 16))
                    .col(uuid_null(TestCycle::SignedOffBy))
                    .col(timestamp_with_time_zone_null(TestCycle::SignedOffAt))
                    .col(timestamp_with_time_zone(TestCycle::CreatedAt))
                    .col(timestamp_with_time_zone(TestCycle::UpdatedAt))
                    .col(big_integer(TestCycle::Version))
                    .foreign_key(&mut project_fk(TestCycle::Table, TestCycle::ProjectId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TestExecution::Table)
                    .col(pk_uuid(TestExecution::Id))
                    .col(uuid(TestExecution::ProjectId))
                    .col(uuid(TestExecution::CycleId))
                    .col(uuid(TestExecution::ScenarioId))
                    .col(uuid(TestExecution::TesterId))
                    .col(string_len(TestExecution::Result, 16))
                    .col(text(TestExecution::Notes))
                    .col(string_len_null(TestExecution::EvidenceUrl, 2000))
                    .col(timestamp_with_time_zone(TestExecution::ExecutedAt))
                    .col(big_integer(TestExecution::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TestExecution::Table, TestExecution::CycleId)
                            .to(TestCycle::Table, TestCycle::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TestExecution::Table, TestExecution::ScenarioId)
                            .to(TestScenario::Table, TestScenario::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_test_execution_run")
                    .table(TestExecution::Table)
                    .col(TestExecution::CycleId)
                    .col(TestExecution::ScenarioId)
                    .col(TestExecution::TesterId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Defect::Table)
                    .col(pk_uuid(Defect::Id))
                    .col(uuid(Defect::ProjectId))
                    .col(integer(Defect::Number))
                    .col(string_len(Defect::Title, 200))
                    .col(text(Defect::StepsToReproduce))
                    .col(text(Defect::ExpectedResult))
                    .col(text(Defect::ActualResult))
                    .col(string_len(Defect::Category, 24))
                    .col(string_len_null(Defect::Severity, 16))
                    .col(string_len_null(Defect::Priority, 4))
                    .col(string_len(Defect::Environment, 200))
                    .col(uuid_null(Defect::FoundInCycleId))
                    .col(uuid_null(Defect::ScenarioId))
                    .col(uuid_null(Defect::ExecutionId))
                    .col(uuid(Defect::ReporterId))
                    .col(uuid_null(Defect::AssigneeId))
                    .col(boolean(Defect::FoundAfterGoLive))
                    .col(string_len(Defect::Status, 24))
                    .col(string_len_null(Defect::RejectReason, 24))
                    .col(uuid_null(Defect::DuplicateOf))
                    .col(text_null(Defect::StatusReason))
                    .col(integer(Defect::ReopenCount))
                    .col(timestamp_with_time_zone(Defect::CreatedAt))
                    .col(timestamp_with_time_zone(Defect::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Defect::ClosedAt))
                    .col(big_integer(Defect::Version))
                    .foreign_key(&mut project_fk(Defect::Table, Defect::ProjectId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Defect::Table, Defect::ReporterId)
                            .to(User::Table, User::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_defect_number")
                    .table(Defect::Table)
                    .col(Defect::ProjectId)
                    .col(Defect::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DefectComment::Table)
                    .col(pk_uuid(DefectComment::Id))
                    .col(uuid(DefectComment::DefectId))
                    .col(uuid(DefectComment::AuthorId))
                    .col(text(DefectComment::Body))
                    .col(timestamp_with_time_zone(DefectComment::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DefectComment::Table, DefectComment::DefectId)
                            .to(Defect::Table, Defect::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DefectComment::Table.into_iden(),
            Defect::Table.into_iden(),
            TestExecution::Table.into_iden(),
            TestCycle::Table.into_iden(),
            TestScenario::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum TestScenario {
    Table,
    Id,
    ProjectId,
    Name,
    Area,
    IsCore,
    ScenarioType,
    Steps,
    OwnerId,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum TestCycle {
    Table,
    Id,
    ProjectId,
    Name,
    Stage,
    Environment,
    PlannedStart,
    PlannedEnd,
    Status,
    SignedOffBy,
    SignedOffAt,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum TestExecution {
    Table,
    Id,
    ProjectId,
    CycleId,
    ScenarioId,
    TesterId,
    Result,
    Notes,
    EvidenceUrl,
    ExecutedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum Defect {
    Table,
    Id,
    ProjectId,
    Number,
    Title,
    StepsToReproduce,
    ExpectedResult,
    ActualResult,
    Category,
    Severity,
    Priority,
    Environment,
    FoundInCycleId,
    ScenarioId,
    ExecutionId,
    ReporterId,
    AssigneeId,
    FoundAfterGoLive,
    Status,
    RejectReason,
    DuplicateOf,
    StatusReason,
    ReopenCount,
    CreatedAt,
    UpdatedAt,
    ClosedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum DefectComment {
    Table,
    Id,
    DefectId,
    AuthorId,
    Body,
    CreatedAt,
}
