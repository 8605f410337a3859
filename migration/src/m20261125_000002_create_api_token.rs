//! API tokens and session tokens. Only a SHA-256 digest of each token is stored.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_create_user::User;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiToken::Table)
                    .col(pk_uuid(ApiToken::Id))
                    .col(uuid(ApiToken::UserId))
                    .col(string_len(ApiToken::Name, 200))
                    .col(string_len(ApiToken::Kind, 16))
                    .col(string_len_uniq(ApiToken::TokenHash, 64))
                    .col(string_len(ApiToken::DisplayPrefix, 16))
                    .col(timestamp_with_time_zone(ApiToken::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiToken::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiToken::RevokedAt))
                    .col(timestamp_with_time_zone_null(ApiToken::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiToken::Table, ApiToken::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_token_user")
                    .table(ApiToken::Table)
                    .col(ApiToken::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiToken::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ApiToken {
    Table,
    Id,
    UserId,
    Name,
    Kind,
    TokenHash,
    DisplayPrefix,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
}
