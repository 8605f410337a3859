//! The red line below which the PM decides change requests alone, and who actually cast a
//! vote on someone's behalf.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000003_create_project::Project;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            integer(RedLine::RedLineScheduleDays).default(5).to_owned(),
            string_len(RedLine::RedLineCost, 40)
                .default("10000")
                .to_owned(),
            string_len(RedLine::RedLineRisk, 16)
                .default("MEDIUM")
                .to_owned(),
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
        manager
            .alter_table(
                Table::alter()
                    .table(DecisionVote::Table)
                    .add_column(uuid_null(DecisionVote::CastBy).to_owned())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(DecisionVote::Table)
                    .drop_column(DecisionVote::CastBy)
                    .to_owned(),
            )
            .await?;
        for column in [
            RedLine::RedLineRisk,
            RedLine::RedLineCost,
            RedLine::RedLineScheduleDays,
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
#[allow(clippy::enum_variant_names)] // the column names are the variants' names
enum RedLine {
    RedLineScheduleDays,
    RedLineCost,
    RedLineRisk,
}

#[derive(DeriveIden)]
enum DecisionVote {
    Table,
    CastBy,
}
