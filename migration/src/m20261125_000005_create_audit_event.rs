//! The append-only audit trail, hash-chained per project.
//!
//! Triggers on both backends refuse UPDATE and DELETE, so the trail cannot be rewritten
//! through the application's own connection.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_TRIGGERS: &[&str] = &[
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event \
     BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event \
     BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
];

const POSTGRES_TRIGGERS: &[&str] = &[
    "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$",
    "CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON audit_event \
     FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event \
     FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvent::Table)
                    .col(pk_uuid(AuditEvent::Id))
                    // The project's id, or "global" for events outside any project.
                    .col(string_len(AuditEvent::ChainKey, 64))
                    .col(big_integer(AuditEvent::Seq))
                    .col(uuid_null(AuditEvent::ProjectId))
                    .col(uuid_null(AuditEvent::ActorId))
                    .col(string_len(AuditEvent::EntityType, 64))
                    .col(uuid(AuditEvent::EntityId))
                    .col(string_len(AuditEvent::Action, 64))
                    // JSON kept as the exact text that was hashed.
                    .col(text_null(AuditEvent::Before))
                    .col(text_null(AuditEvent::After))
                    .col(timestamp_with_time_zone(AuditEvent::OccurredAt))
                    .col(string_len_null(AuditEvent::RequestId, 64))
                    .col(string_len(AuditEvent::PrevHash, 64))
                    .col(string_len(AuditEvent::Hash, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_audit_event_chain_seq")
                    .table(AuditEvent::Table)
                    .col(AuditEvent::ChainKey)
                    .col(AuditEvent::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        let triggers = match manager.get_database_backend() {
            DbBackend::Postgres => POSTGRES_TRIGGERS,
            _ => SQLITE_TRIGGERS,
        };
        let db = manager.get_connection();
        for statement in triggers {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEvent::Table).to_owned())
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS audit_event_append_only()")
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum AuditEvent {
    Table,
    Id,
    ChainKey,
    Seq,
    ProjectId,
    ActorId,
    EntityType,
    EntityId,
    Action,
    Before,
    After,
    OccurredAt,
    RequestId,
    PrevHash,
    Hash,
}
