//! Users: people who sign in and act on projects.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(User::Table)
                    .col(pk_uuid(User::Id))
                    // Stored lower-cased so that the unique index is case-insensitive on both
                    // backends without collation tricks.
                    .col(string_len_uniq(User::Email, 254))
                    .col(string_len(User::Name, 200))
                    .col(string_len(User::Locale, 16))
                    .col(boolean(User::Active))
                    .col(boolean(User::Admin))
                    .col(text_null(User::PasswordHash))
                    .col(timestamp_with_time_zone(User::CreatedAt))
                    .col(timestamp_with_time_zone(User::UpdatedAt))
                    .col(big_integer(User::Version))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(User::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum User {
    Table,
    Id,
    Email,
    Name,
    Locale,
    Active,
    Admin,
    PasswordHash,
    CreatedAt,
    UpdatedAt,
    Version,
}
