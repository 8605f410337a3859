//! The RACI matrix: activities per project and who is R, A, C or I on each.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_create_user::User;
use crate::m20261125_000003_create_project::Project;
use crate::m20261125_000007_create_phase::Phase;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RaciActivity::Table)
                    .col(pk_uuid(RaciActivity::Id))
                    .col(uuid(RaciActivity::ProjectId))
                    .col(uuid_null(RaciActivity::PhaseId))
                    .col(integer(RaciActivity::Position))
                    .col(string_len(RaciActivity::Name, 200))
                    .col(timestamp_with_time_zone(RaciActivity::UpdatedAt))
                    .col(big_integer(RaciActivity::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RaciActivity::Table, RaciActivity::ProjectId)
                            .to(Project::Table, Project::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(RaciActivity::Table, RaciActivity::PhaseId)
                            .to(Phase::Table, Phase::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_raci_activity_project")
                    .table(RaciActivity::Table)
                    .col(RaciActivity::ProjectId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RaciAssignment::Table)
                    .col(pk_uuid(RaciAssignment::Id))
                    .col(uuid(RaciAssignment::ActivityId))
                    .col(uuid(RaciAssignment::ProjectId))
                    .col(uuid(RaciAssignment::UserId))
                    .col(string_len(RaciAssignment::Letter, 1))
                    .col(timestamp_with_time_zone(RaciAssignment::AssignedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RaciAssignment::Table, RaciAssignment::ActivityId)
                            .to(RaciActivity::Table, RaciActivity::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(RaciAssignment::Table, RaciAssignment::UserId)
                            .to(User::Table, User::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_raci_assignment_person")
                    .table(RaciAssignment::Table)
                    .col(RaciAssignment::ActivityId)
                    .col(RaciAssignment::UserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_raci_assignment_user")
                    .table(RaciAssignment::Table)
                    .col(RaciAssignment::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RaciAssignment::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RaciActivity::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RaciActivity {
    Table,
    Id,
    ProjectId,
    PhaseId,
    Position,
    Name,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum RaciAssignment {
    Table,
    Id,
    ActivityId,
    ProjectId,
    UserId,
    Letter,
    AssignedAt,
}
