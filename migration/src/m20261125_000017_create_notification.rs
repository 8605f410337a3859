//! Email notifications: the transactional outbox, digest items waiting for their daily email,
//! each user's delivery preferences, and the server secret that signs unsubscribe links.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_create_user::User;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Notification::Table)
                    .col(pk_uuid(Notification::Id))
                    // Null for mail about no project (the daily digest spans projects).
                    .col(uuid_null(Notification::ProjectId))
                    .col(uuid(Notification::RecipientId))
                    .col(string_len(Notification::RecipientEmail, 320))
                    .col(string_len(Notification::Locale, 8))
                    .col(string_len(Notification::Kind, 64))
                    .col(string_len(Notification::AggregateType, 32))
                    .col(uuid_null(Notification::AggregateId))
                    // One row per (event, recipient) or (rule, object, day, recipient): a second
                    // insert of the same key is a no-op, across restarts and servers.
                    .col(string_len_uniq(Notification::DedupeKey, 200))
                    .col(text(Notification::Subject))
                    .col(text(Notification::BodyText))
                    .col(text(Notification::BodyHtml))
                    .col(text_null(Notification::UnsubscribeUrl))
                    // 0 critical, 1 urgent, 2 normal: claimed in that order.
                    .col(small_integer(Notification::Priority))
                    .col(string_len(Notification::Status, 8))
                    .col(integer(Notification::Attempts))
                    .col(timestamp_with_time_zone(Notification::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Notification::LeaseUntil))
                    .col(text_null(Notification::LastError))
                    .col(timestamp_with_time_zone(Notification::CreatedAt))
                    .col(timestamp_with_time_zone_null(Notification::SentAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Notification::Table, Notification::RecipientId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notification_due")
                    .table(Notification::Table)
                    .col(Notification::Status)
                    .col(Notification::Priority)
                    .col(Notification::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notification_project")
                    .table(Notification::Table)
                    .col(Notification::ProjectId)
                    .col(Notification::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DigestItem::Table)
                    .col(pk_uuid(DigestItem::Id))
                    .col(uuid(DigestItem::UserId))
                    .col(uuid_null(DigestItem::ProjectId))
                    .col(string_len(DigestItem::Kind, 64))
                    .col(text(DigestItem::Subject))
                    .col(text(DigestItem::Summary))
                    .col(text(DigestItem::Link))
                    .col(timestamp_with_time_zone(DigestItem::CreatedAt))
                    // The digest email that carried it; null while it waits.
                    .col(uuid_null(DigestItem::NotificationId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DigestItem::Table, DigestItem::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_digest_item_waiting")
                    .table(DigestItem::Table)
                    .col(DigestItem::NotificationId)
                    .col(DigestItem::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NotificationPreference::Table)
                    .col(uuid(NotificationPreference::UserId))
                    .col(string_len(NotificationPreference::Class, 24))
                    .col(string_len(NotificationPreference::Delivery, 16))
                    .col(timestamp_with_time_zone(NotificationPreference::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(NotificationPreference::UserId)
                            .col(NotificationPreference::Class),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                NotificationPreference::Table,
                                NotificationPreference::UserId,
                            )
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ServerSecret::Table)
                    .col(string_len(ServerSecret::Name, 32).primary_key())
                    .col(string_len(ServerSecret::Value, 128))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ServerSecret::Table.into_iden(),
            NotificationPreference::Table.into_iden(),
            DigestItem::Table.into_iden(),
            Notification::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
pub enum Notification {
    Table,
    Id,
    ProjectId,
    RecipientId,
    RecipientEmail,
    Locale,
    Kind,
    AggregateType,
    AggregateId,
    DedupeKey,
    Subject,
    BodyText,
    BodyHtml,
    UnsubscribeUrl,
    Priority,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum DigestItem {
    Table,
    Id,
    UserId,
    ProjectId,
    Kind,
    Subject,
    Summary,
    Link,
    CreatedAt,
    NotificationId,
}

#[derive(DeriveIden)]
enum NotificationPreference {
    Table,
    UserId,
    Class,
    Delivery,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ServerSecret {
    Table,
    Name,
    Value,
}
