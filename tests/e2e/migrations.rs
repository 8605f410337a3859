//! Migrations apply, revert to nothing, and apply again on the backend under test.

use sea_orm::ConnectionTrait;
use steerco_migration::{Migrator, MigratorTrait};

use crate::support::TestDatabase;

#[tokio::test]
async fn migrations_go_up_down_to_zero_and_up_again() {
    let database = TestDatabase::create().await;
    let db = steerco::db::connect(&database.url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let total = Migrator::migrations().len();
    assert_eq!(
        Migrator::get_applied_migrations(&db).await.unwrap().len(),
        total
    );

    Migrator::down(&db, None).await.unwrap();
    assert!(
        Migrator::get_applied_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );
    for table in [
        "\"user\"",
        "api_token",
        "project",
        "project_member",
        "audit_event",
        "scheduled_reminder",
    ] {
        let probe = db
            .execute_unprepared(&format!("SELECT 1 FROM {table}"))
            .await;
        assert!(probe.is_err(), "{table} should be gone");
    }

    Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        Migrator::get_pending_migrations(&db).await.unwrap().len(),
        0
    );
    // The append-only guard came back with the table.
    db.execute_unprepared(
        "INSERT INTO audit_event (id, chain_key, seq, entity_type, entity_id, action, occurred_at, prev_hash, hash) \
         VALUES ('00000000-0000-0000-0000-000000000001', 'global', 1, 'X', '00000000-0000-0000-0000-000000000002', 'x', \
                 '2027-01-01T00:00:00Z', '0', '0')",
    )
    .await
    .unwrap();
    assert!(
        db.execute_unprepared("DELETE FROM audit_event")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn postgres_sessions_cancel_slow_statements() {
    let database = TestDatabase::create().await;
    let db = steerco::db::connect(&database.url).await.unwrap();
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return;
    }
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SHOW statement_timeout",
        ))
        .await
        .unwrap()
        .unwrap();
    let timeout: String = row.try_get_by_index(0).unwrap();
    assert_eq!(timeout, steerco::db::STATEMENT_TIMEOUT_POSTGRES);
}

/// The outbox's due index goes from (status, priority, next attempt) to (status, next attempt)
/// and back with the migration that changes it.
#[tokio::test]
async fn the_outbox_due_index_changes_and_reverts_with_its_migration() {
    let database = TestDatabase::create().await;
    let db = steerco::db::connect(&database.url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        notification_indexes(&db).await,
        ["idx_notification_due_at", "idx_notification_project"]
    );
    // Down to before that migration, whatever came after it.
    let from_the_last_to_it = Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name() == "m20261205_000019_index_due_notifications_by_time")
        .expect("the migration")
        + 1;
    Migrator::down(&db, Some(from_the_last_to_it as u32))
        .await
        .unwrap();
    assert_eq!(
        notification_indexes(&db).await,
        ["idx_notification_due", "idx_notification_project"]
    );
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        notification_indexes(&db).await,
        ["idx_notification_due_at", "idx_notification_project"]
    );
}

/// The names of the indexes made on the outbox table, in order (not those behind its keys).
async fn notification_indexes(db: &sea_orm::DatabaseConnection) -> Vec<String> {
    use sea_orm::{DbBackend, Statement};
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'notification' \
             AND name LIKE 'idx_%' ORDER BY name"
        }
        _ => {
            "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'notification' \
             AND indexname LIKE 'idx_%' ORDER BY indexname"
        }
    };
    db.query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect()
}

/// The `steerco` process sets up the SQLite library (its allocator, no memory statistics)
/// before it opens anything, then creates, migrates and writes a database file on it.
#[test]
fn the_binary_sets_up_sqlite_before_it_creates_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("fresh.db").display()
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_steerco"))
        .args(["--database-url", &url, "user", "create"])
        .args(["--email", "ops@example.com", "--name", "Ops", "--admin"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run steerco user create");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("SQLite refused"), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let token = stdout.lines().last().unwrap_or_default().trim();
    assert!(token.len() > 20, "a token on the last line: {stdout}");
}

/// Servers starting together on one PostgreSQL migrate it in turn: both start, and every
/// migration is applied once. (SQLite is one process's file; nothing to race.)
#[tokio::test]
async fn servers_starting_together_migrate_postgresql_in_turn() {
    let database = TestDatabase::create().await;
    if !database.url.starts_with("postgres") {
        return;
    }
    let first = steerco::db::connect(&database.url).await.unwrap();
    let second = steerco::db::connect(&database.url).await.unwrap();
    let (a, b) = tokio::join!(steerco::db::migrate(&first), steerco::db::migrate(&second));
    a.unwrap();
    b.unwrap();
    assert_eq!(
        Migrator::get_applied_migrations(&first)
            .await
            .unwrap()
            .len(),
        Migrator::migrations().len()
    );
}

/// A migration that fails halfway leaves nothing of itself behind, on either backend, so the
/// next start applies it whole.
#[tokio::test]
async fn a_migration_that_fails_halfway_leaves_nothing_behind() {
    use steerco_migration::{AllOrNothing, DbErr, MigrationName, MigrationTrait, SchemaManager};

    struct HalfDone;
    impl MigrationName for HalfDone {
        fn name(&self) -> &str {
            "m20991231_000001_half_done"
        }
    }
    #[steerco_migration::async_trait::async_trait]
    impl MigrationTrait for HalfDone {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .get_connection()
                .execute_unprepared("CREATE TABLE half_done (id INTEGER)")
                .await?;
            Err(DbErr::Migration(
                "fails after its first statement".to_owned(),
            ))
        }
    }
    struct Halfway;
    impl MigratorTrait for Halfway {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            vec![Box::new(AllOrNothing(Box::new(HalfDone)))]
        }
    }

    let database = TestDatabase::create().await;
    let db = steerco::db::connect(&database.url).await.unwrap();
    assert!(Halfway::up(&db, None).await.is_err());
    assert!(
        db.execute_unprepared("SELECT 1 FROM half_done")
            .await
            .is_err(),
        "its table went with it"
    );
    assert!(
        Halfway::get_applied_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );
}
