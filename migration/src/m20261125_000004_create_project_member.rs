//! Project membership: a user on a project with one or more project roles.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_create_user::User;
use crate::m20261125_000003_create_project::Project;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProjectMember::Table)
                    .col(pk_uuid(ProjectMember::Id))
                    .col(uuid(ProjectMember::ProjectId))
                    .col(uuid(ProjectMember::UserId))
                    // Role codes, comma-separated and sorted, e.g. "PROJECT_MANAGER,SPONSOR".
                    .col(string_len(ProjectMember::Roles, 400))
                    .col(timestamp_with_time_zone(ProjectMember::CreatedAt))
                    .col(timestamp_with_time_zone(ProjectMember::UpdatedAt))
                    .col(big_integer(ProjectMember::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProjectMember::Table, ProjectMember::ProjectId)
                            .to(Project::Table, Project::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProjectMember::Table, ProjectMember::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_project_member_project_user")
                    .table(ProjectMember::Table)
                    .col(ProjectMember::ProjectId)
                    .col(ProjectMember::UserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_project_member_user")
                    .table(ProjectMember::Table)
                    .col(ProjectMember::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProjectMember::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ProjectMember {
    Table,
    Id,
    ProjectId,
    UserId,
    Roles,
    CreatedAt,
    UpdatedAt,
    Version,
}
