//! Scope statements: numbered versions of one document per project, with their required
//! signatories and signatures.

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
                    .table(ScopeVersion::Table)
                    .col(pk_uuid(ScopeVersion::Id))
                    .col(uuid(ScopeVersion::ProjectId))
                    .col(integer(ScopeVersion::Number))
                    .col(string_len(ScopeVersion::Status, 16))
                    // The document as JSON: objectives, in/out-of-scope items, deliverables, ...
                    .col(text(ScopeVersion::Content))
                    .col(uuid_null(ScopeVersion::BasedOn))
                    .col(uuid_null(ScopeVersion::SupersededBy))
                    // DRAFTED or CHANGE_REQUEST, with the change request's id.
                    .col(string_len(ScopeVersion::CauseKind, 16))
                    .col(uuid_null(ScopeVersion::CauseId))
                    .col(text_null(ScopeVersion::RejectionComment))
                    .col(uuid_null(ScopeVersion::RejectedBy))
                    .col(uuid_null(ScopeVersion::CreatedBy))
                    .col(timestamp_with_time_zone(ScopeVersion::CreatedAt))
                    .col(timestamp_with_time_zone(ScopeVersion::UpdatedAt))
                    .col(timestamp_with_time_zone_null(ScopeVersion::BaselinedAt))
                    .col(big_integer(ScopeVersion::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ScopeVersion::Table, ScopeVersion::ProjectId)
                            .to(Project::Table, Project::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_scope_version_number")
                    .table(ScopeVersion::Table)
                    .col(ScopeVersion::ProjectId)
                    .col(ScopeVersion::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ScopeSignatory::Table)
                    .col(pk_uuid(ScopeSignatory::Id))
                    .col(uuid(ScopeSignatory::ScopeVersionId))
                    .col(uuid(ScopeSignatory::UserId))
                    .col(timestamp_with_time_zone_null(ScopeSignatory::SignedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ScopeSignatory::Table, ScopeSignatory::ScopeVersionId)
                            .to(ScopeVersion::Table, ScopeVersion::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ScopeSignatory::Table, ScopeSignatory::UserId)
                            .to(User::Table, User::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_scope_signatory")
                    .table(ScopeSignatory::Table)
                    .col(ScopeSignatory::ScopeVersionId)
                    .col(ScopeSignatory::UserId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ScopeSignatory::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ScopeVersion::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ScopeVersion {
    Table,
    Id,
    ProjectId,
    Number,
    Status,
    Content,
    BasedOn,
    SupersededBy,
    CauseKind,
    CauseId,
    RejectionComment,
    RejectedBy,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    BaselinedAt,
    Version,
}

#[derive(DeriveIden)]
enum ScopeSignatory {
    Table,
    Id,
    ScopeVersionId,
    UserId,
    SignedAt,
}
