//! The reminders the scheduler has written, one row per rule, object and day. Every pass (a
//! minute apart, on every server) skips what a row says is written today, with one read per
//! rule, rather than taking a write transaction per due milestone or open ballot to find that
//! its emails exist; a reminder routed to a daily digest, whose items carry no dedupe key, is
//! written once a day rather than at every pass.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ScheduledReminder::Table)
                    .col(string_len(ScheduledReminder::Rule, 64))
                    .col(date(ScheduledReminder::Day))
                    .col(uuid(ScheduledReminder::ObjectId))
                    .col(timestamp_with_time_zone(ScheduledReminder::WrittenAt))
                    // A pass reads one rule's rows of one day.
                    .primary_key(
                        Index::create()
                            .col(ScheduledReminder::Rule)
                            .col(ScheduledReminder::Day)
                            .col(ScheduledReminder::ObjectId),
                    )
                    .to_owned(),
            )
            .await?;
        // The days gone are purged by day.
        manager
            .create_index(
                Index::create()
                    .name("idx_scheduled_reminder_day")
                    .table(ScheduledReminder::Table)
                    .col(ScheduledReminder::Day)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ScheduledReminder::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ScheduledReminder {
    Table,
    Rule,
    Day,
    ObjectId,
    WrittenAt,
}
