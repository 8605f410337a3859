//! The reminders the scheduler has written, one row per day, rule and object. Every pass (a
//! minute apart, on every server) reads the day's rows in one statement and skips what they
//! list, rather than taking a write transaction per due milestone or open ballot to find that
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
                    // Day first: a pass reads one day's rows, and the days gone are
                    // purged by day.
                    .primary_key(
                        Index::create()
                            .col(ScheduledReminder::Day)
                            .col(ScheduledReminder::Rule)
                            .col(ScheduledReminder::ObjectId),
                    )
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
