//! Whether a milestone is a key milestone: its achievement is announced to the whole team
//! (DOMAIN §12.3, the progress bulletins of S0). Milestones made before it are not.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Milestone::Table)
                    .add_column(boolean(Milestone::IsKey).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Milestone::Table)
                    .drop_column(Milestone::IsKey)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Milestone {
    Table,
    IsKey,
}
