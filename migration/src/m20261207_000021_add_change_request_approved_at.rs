//! When a change request was approved. A CLOSED request may have been approved and
//! implemented, or rejected: the change summary counts the first among the approved changes,
//! and the row had nothing else that told them apart when the approval made no baseline (a
//! change of effort alone). Requests approved before this migration take their decision's
//! time: those in an approved state, and those whose audit trail records the approval.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ChangeRequest::Table)
                    .add_column(timestamp_with_time_zone_null(ChangeRequest::ApprovedAt))
                    .to_owned(),
            )
            .await?;
        let approved_in_audit = Query::select()
            .expr(Expr::val(1))
            .from(AuditEvent::Table)
            .and_where(
                Expr::col((AuditEvent::Table, AuditEvent::EntityId))
                    .equals((ChangeRequest::Table, ChangeRequest::Id)),
            )
            .and_where(
                Expr::col((AuditEvent::Table, AuditEvent::Action)).eq("change_request.approve"),
            )
            .to_owned();
        let backfill = Query::update()
            .table(ChangeRequest::Table)
            .value(
                ChangeRequest::ApprovedAt,
                Expr::col(ChangeRequest::DecidedAt),
            )
            .cond_where(
                Cond::any()
                    .add(Expr::col(ChangeRequest::Status).is_in([
                        "APPROVED",
                        "IN_IMPLEMENTATION",
                        "IMPLEMENTED",
                    ]))
                    .add(Expr::exists(approved_in_audit)),
            )
            .to_owned();
        manager.exec_stmt(backfill).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ChangeRequest::Table)
                    .drop_column(ChangeRequest::ApprovedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ChangeRequest {
    Table,
    Id,
    Status,
    DecidedAt,
    ApprovedAt,
}

#[derive(DeriveIden)]
enum AuditEvent {
    Table,
    EntityId,
    Action,
}
