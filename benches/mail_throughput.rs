//! How many emails per second workers deliver from the outbox to an SMTP server on loopback
//! (the test suite's server, which accepts everything), with more or fewer sends in flight;
//! then the performance target W6: one worker with the default settings drains 10,000 rows at
//! 500 mails/s or more.
//!
//! `cargo bench --bench mail_throughput` (SQLite in a temporary folder), or with
//! `BENCH_DATABASE_URL=postgres://…/DB` on an empty PostgreSQL database. `BENCH_MAILS` sets how
//! many emails each of the first runs sends (default 2,000), `BENCH_W6_MAILS` the W6 run
//! (default 10,000; 0 skips it).

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use sea_orm::{ActiveValue::Set, EntityTrait};
use steerco::worker::{Worker, WorkerConfig};
use steerco_entity::notification;
use steerco_graphql::domain::clock::SystemClock;
use steerco_graphql::service::user::NewUser;
use steerco_graphql::service::{AppState, user};

#[allow(dead_code, unused_imports)]
#[path = "../tests/e2e/smtp.rs"]
mod smtp;

type Error = Box<dyn std::error::Error>;

/// The W6 target, in mails a second.
const W6_TARGET: f64 = 500.0;

fn count_from_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mails = count_from_env("BENCH_MAILS", 2_000);
    let w6_mails = count_from_env("BENCH_W6_MAILS", 10_000);
    let dir = tempfile::tempdir()?;
    let url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });
    let db = steerco::db::connect(&url).await?;
    steerco::db::migrate(&db).await?;
    let state = AppState::new(db, Arc::new(SystemClock));
    let recipient = user::create(
        &state,
        None,
        NewUser {
            email: "bench@example.com".to_owned(),
            name: "Bench".to_owned(),
            ..NewUser::default()
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let server = smtp::SmtpServer::start().await;
    println!("backend: {}", url.split(':').next().unwrap_or_default());
    for (workers, concurrency) in [(1, 1), (1, 4), (1, 8), (1, 16), (2, 8)] {
        let config = WorkerConfig {
            smtp_url: Some(server.url()),
            concurrency,
            batch: 64,
            ..WorkerConfig::default()
        };
        let rate = drain(&state, &server, recipient.id, mails, workers, config).await?;
        println!(
            "{workers} worker(s) × {concurrency} in flight: {mails} mails = {rate:.0} mails/s"
        );
    }
    if w6_mails > 0 {
        let config = WorkerConfig {
            smtp_url: Some(server.url()),
            ..WorkerConfig::default()
        };
        let (concurrency, batch) = (config.concurrency, config.batch);
        let rate = drain(&state, &server, recipient.id, w6_mails, 1, config).await?;
        let verdict = if rate >= W6_TARGET { "met" } else { "MISSED" };
        println!(
            "W6, 1 worker with the defaults ({concurrency} in flight, batches of {batch}): \
             {w6_mails} mails = {rate:.0} mails/s (target {W6_TARGET:.0}: {verdict})"
        );
    }
    Ok(())
}

/// Loads `mails` due rows, drains them with `workers` workers and returns mails per second.
async fn drain(
    state: &AppState,
    server: &smtp::SmtpServer,
    recipient: uuid::Uuid,
    mails: usize,
    workers: usize,
    config: WorkerConfig,
) -> Result<f64, Error> {
    fill(state, recipient, mails).await?;
    let pool: Vec<Worker> = (0..workers)
        .map(|_| Worker::new(state.clone(), config.clone()))
        .collect::<Result<_, _>>()?;
    let before = server.received_count();
    let started = Instant::now();
    let drained = futures_util::future::join_all(pool.iter().map(Worker::drain)).await;
    let elapsed = started.elapsed();
    let sent: usize = drained.into_iter().map(|r| r.unwrap_or(0)).sum();
    assert_eq!(sent, mails, "every row claimed once");
    assert_eq!(
        server.received_count() - before,
        mails,
        "every mail received"
    );
    Ok(mails as f64 / elapsed.as_secs_f64())
}

async fn fill(state: &AppState, recipient: uuid::Uuid, count: usize) -> Result<(), Error> {
    let now = Utc::now();
    let rows: Vec<notification::ActiveModel> = (0..count)
        .map(|n| notification::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            project_id: Set(None),
            recipient_id: Set(recipient),
            recipient_email: Set("bench@example.com".to_owned()),
            locale: Set("en".to_owned()),
            kind: Set("bench".to_owned()),
            aggregate_type: Set("User".to_owned()),
            aggregate_id: Set(None),
            dedupe_key: Set(format!("bench:{}", uuid::Uuid::now_v7())),
            subject: Set(format!("Bench {n}")),
            body_text: Set("A change request was submitted.\n".repeat(20)),
            body_html: Set("<p>A change request was submitted.</p>".repeat(20)),
            unsubscribe_url: Set(None),
            priority: Set(2),
            status: Set("PENDING".to_owned()),
            attempts: Set(0),
            claims: Set(0),
            next_attempt_at: Set(now),
            lease_until: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            sent_at: Set(None),
        })
        .collect();
    for chunk in rows.chunks(500) {
        notification::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&state.db)
            .await?;
    }
    Ok(())
}
