//! What became of the request that reserved an idempotency key when it gave no answer to
//! keep. `written` is set inside each transaction the request commits, so it is true exactly
//! when some of the request's changes reached the database, whatever happened to the request
//! afterwards; `unanswered` is set when the request ended without an answer (a timeout, an
//! internal error) after writing. Such a key is kept, and a retry is told the first request
//! was written, rather than running it twice.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column at a time.
        for column in [IdempotencyKey::Written, IdempotencyKey::Unanswered] {
            manager
                .alter_table(
                    Table::alter()
                        .table(IdempotencyKey::Table)
                        .add_column(boolean(column).default(false))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [IdempotencyKey::Unanswered, IdempotencyKey::Written] {
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
    Written,
    Unanswered,
}
