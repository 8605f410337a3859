//! Projects: one CRM implementation each.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Project::Table)
                    .col(pk_uuid(Project::Id))
                    .col(string_len_uniq(Project::Code, 32))
                    .col(string_len(Project::Name, 200))
                    .col(text(Project::Description))
                    .col(string_len(Project::TimeZone, 64))
                    .col(date_null(Project::PlannedStart))
                    .col(date_null(Project::TargetGoLive))
                    // Money is kept as its exact decimal text: SQLite has no exact decimal type.
                    .col(string_len_null(Project::BudgetAmount, 40))
                    .col(string_len_null(Project::BudgetCurrency, 3))
                    .col(string_len(Project::Status, 32))
                    .col(text_null(Project::StatusReason))
                    .col(string_len_null(Project::StatusBeforeHold, 32))
                    .col(timestamp_with_time_zone(Project::CreatedAt))
                    .col(timestamp_with_time_zone(Project::UpdatedAt))
                    .col(big_integer(Project::Version))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Project::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Project {
    Table,
    Id,
    Code,
    Name,
    Description,
    TimeZone,
    PlannedStart,
    TargetGoLive,
    BudgetAmount,
    BudgetCurrency,
    Status,
    StatusReason,
    StatusBeforeHold,
    CreatedAt,
    UpdatedAt,
    Version,
}
