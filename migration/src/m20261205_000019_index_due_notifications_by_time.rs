//! The outbox's due rows found by time. A worker's claim asks for the pending rows whose
//! attempt is due (`status = 'PENDING' AND next_attempt_at <= now`), then orders them by
//! priority. With the priority between the status and the time in the index, the time bounded
//! nothing: every pending row was read, those due later too (retries backing off after a
//! failure, say), and each claim of a SQLite database holds the one writer while it reads.
//! Indexed by status then time, a claim reads the due rows only and sorts those.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const BY_PRIORITY: &str = "idx_notification_due";
const BY_TIME: &str = "idx_notification_due_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(BY_TIME)
                    .table(Notification::Table)
                    .col(Notification::Status)
                    .col(Notification::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(BY_PRIORITY)
                    .table(Notification::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(BY_PRIORITY)
                    .table(Notification::Table)
                    .col(Notification::Status)
                    .col(Notification::Priority)
                    .col(Notification::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(BY_TIME)
                    .table(Notification::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Notification {
    Table,
    Status,
    Priority,
    NextAttemptAt,
}
