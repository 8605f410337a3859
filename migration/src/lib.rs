//! Steerco's schema migrations.
//!
//! One change per file, applied in order, each reversible. A released migration is never
//! edited: a later change gets a new file. The same statements build an identical schema on
//! SQLite and PostgreSQL; where the backends differ (triggers), the file says so.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_user;
mod m20261125_000002_create_api_token;
mod m20261125_000003_create_project;
mod m20261125_000004_create_project_member;
mod m20261125_000005_create_audit_event;
mod m20261125_000006_add_project_governance_settings;
mod m20261125_000007_create_phase;
mod m20261125_000008_create_milestone;
mod m20261125_000009_create_schedule_baseline;
mod m20261125_000010_create_decision;
mod m20261125_000011_create_raci;
mod m20261125_000012_create_scope;
mod m20261125_000013_create_change_request;
mod m20261125_000014_add_change_control_settings;
mod m20261125_000015_create_uat;
mod m20261125_000016_create_go_live;
mod m20261125_000017_create_notification;
mod m20261125_000018_create_idempotency_key;
mod m20261205_000019_index_due_notifications_by_time;
mod m20261206_000020_create_scheduled_reminder;
mod m20261207_000021_add_change_request_approved_at;
mod m20261208_000022_add_idempotency_key_outcome;
mod m20261209_000023_add_idempotency_key_holder;
mod m20261210_000024_add_notification_claims;
mod m20261211_000025_add_milestone_key;

/// Applies Steerco's migrations in order, each all or nothing ([`AllOrNothing`]).
pub struct Migrator;

/// A migration run in a transaction of its own on every backend, its record included.
/// sea-orm-migration wraps one only on PostgreSQL: on SQLite a migration that failed halfway
/// (a column added, its backfill not) stayed unrecorded with its first half done, and every
/// later start failed on that half. SQLite's DDL is transactional too.
pub struct AllOrNothing(pub Box<dyn MigrationTrait>);

impl MigrationName for AllOrNothing {
    fn name(&self) -> &str {
        self.0.name()
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AllOrNothing {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.0.up(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.0.down(manager).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let each: Vec<Box<dyn MigrationTrait>> = vec![
            Box::new(m20261125_000001_create_user::Migration),
            Box::new(m20261125_000002_create_api_token::Migration),
            Box::new(m20261125_000003_create_project::Migration),
            Box::new(m20261125_000004_create_project_member::Migration),
            Box::new(m20261125_000005_create_audit_event::Migration),
            Box::new(m20261125_000006_add_project_governance_settings::Migration),
            Box::new(m20261125_000007_create_phase::Migration),
            Box::new(m20261125_000008_create_milestone::Migration),
            Box::new(m20261125_000009_create_schedule_baseline::Migration),
            Box::new(m20261125_000010_create_decision::Migration),
            Box::new(m20261125_000011_create_raci::Migration),
            Box::new(m20261125_000012_create_scope::Migration),
            Box::new(m20261125_000013_create_change_request::Migration),
            Box::new(m20261125_000014_add_change_control_settings::Migration),
            Box::new(m20261125_000015_create_uat::Migration),
            Box::new(m20261125_000016_create_go_live::Migration),
            Box::new(m20261125_000017_create_notification::Migration),
            Box::new(m20261125_000018_create_idempotency_key::Migration),
            Box::new(m20261205_000019_index_due_notifications_by_time::Migration),
            Box::new(m20261206_000020_create_scheduled_reminder::Migration),
            Box::new(m20261207_000021_add_change_request_approved_at::Migration),
            Box::new(m20261208_000022_add_idempotency_key_outcome::Migration),
            Box::new(m20261209_000023_add_idempotency_key_holder::Migration),
            Box::new(m20261210_000024_add_notification_claims::Migration),
            Box::new(m20261211_000025_add_milestone_key::Migration),
        ];
        each.into_iter()
            .map(|migration| Box::new(AllOrNothing(migration)) as Box<dyn MigrationTrait>)
            .collect()
    }
}
