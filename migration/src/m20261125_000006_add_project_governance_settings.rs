//! Per-project governance settings: how the steering committee decides, and the slip
//! thresholds of milestone health.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000003_create_project::Project;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        let columns = [
            string_len(Settings::DecisionRule, 16)
                .default("MAJORITY")
                .to_owned(),
            integer_null(Settings::DecisionQuorum).to_owned(),
            integer(Settings::AmberSlipDays).default(1).to_owned(),
            integer(Settings::RedSlipDays).default(10).to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Project::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Settings::RedSlipDays,
            Settings::AmberSlipDays,
            Settings::DecisionQuorum,
            Settings::DecisionRule,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Project::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Settings {
    DecisionRule,
    DecisionQuorum,
    AmberSlipDays,
    RedSlipDays,
}
