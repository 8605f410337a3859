//! How many times an email has been claimed by a worker, never reset: the number names a
//! claim, so that a worker that outlived its lease cannot record its late outcome over a later
//! claim of the same row. `attempts` did that until a retry of a DEAD email started its count
//! again from zero, and a stale claim's number could come round again.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Notification::Table)
                    .add_column(big_integer(Notification::Claims).default(0))
                    .to_owned(),
            )
            .await?;
        // Rows claimed before: their attempts so far are their claims so far.
        manager
            .exec_stmt(
                Query::update()
                    .table(Notification::Table)
                    .value(Notification::Claims, Expr::col(Notification::Attempts))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Notification::Table)
                    .drop_column(Notification::Claims)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Notification {
    Table,
    Attempts,
    Claims,
}
