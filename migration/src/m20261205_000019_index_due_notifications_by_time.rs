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
            .create_index(due(
                BY_TIME,
                &[Notification::Status, Notification::NextAttemptAt],
            ))
            .await?;
        manager.drop_index(dropping(BY_PRIORITY)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            Notification::Status,
            Notification::Priority,
            Notification::NextAttemptAt,
        ];
        manager.create_index(due(BY_PRIORITY, &columns)).await?;
        manager.drop_index(dropping(BY_TIME)).await
    }
}

/// An index of the outbox on `columns`, in order.
fn due(name: &str, columns: &[Notification]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(Notification::Table);
    for &column in columns {
        index.col(column);
    }
    index
}

fn dropping(name: &str) -> IndexDropStatement {
    Index::drop()
        .name(name)
        .table(Notification::Table)
        .to_owned()
}

#[derive(DeriveIden, Clone, Copy)]
enum Notification {
    Table,
    Status,
    Priority,
    NextAttemptAt,
}
