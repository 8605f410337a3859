//! Who holds an idempotency key's reservation, and until when. `held_by` names the request
//! that reserved the key: its writes, its answer and its release count only while it still
//! holds the key. `abandoned_after` is the moment by which that request has ended, answered or
//! not, by its own time limit: a key still unanswered then was cut off with its server (a
//! crash, a kill), and the next request with the key settles it instead of waiting out the
//! key's day. Keys reserved before this migration have neither, and wait out their day.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column at a time.
        for column in [
            uuid_null(IdempotencyKey::HeldBy),
            timestamp_with_time_zone_null(IdempotencyKey::AbandonedAfter),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(IdempotencyKey::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [IdempotencyKey::AbandonedAfter, IdempotencyKey::HeldBy] {
            manager
                .alter_table(
                    Table::alter()
                        .table(IdempotencyKey::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum IdempotencyKey {
    Table,
    HeldBy,
    AbandonedAfter,
}
