//! How many emails per second one worker, then two, deliver from the outbox to an SMTP server
//! on loopback (the test suite's server, which accepts everything).
//!
//! `cargo bench --bench mail_throughput` (SQLite in a temporary folder), or with
//! `BENCH_DATABASE_URL=postgres://…/DB` on an empty PostgreSQL database. `BENCH_MAILS` sets how
//! many emails each run sends (default 2,000).

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

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mails: usize = std::env::var("BENCH_MAILS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
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
    for (workers, concurrency) in [(1, 1), (1, 4), (1, 8), (2, 4)] {
        fill(&state, recipient.id, mails).await?;
        let pool: Vec<Worker> = (0..workers)
            .map(|_| {
                Worker::new(
                    state.clone(),
                    WorkerConfig {
                        smtp_url: Some(server.url()),
                        concurrency,
                        batch: 64,
                        ..WorkerConfig::default()
                    },
                )
            })
            .collect::<Result<_, _>>()?;
        let before = server.received().len();
        let started = Instant::now();
        let drained = futures_util::future::join_all(pool.iter().map(Worker::drain)).await;
        let elapsed = started.elapsed();
        let sent: usize = drained.into_iter().map(|r| r.unwrap_or(0)).sum();
        assert_eq!(sent, mails, "every row claimed once");
        assert_eq!(
            server.received().len() - before,
            mails,
            "every mail received"
        );
        println!(
            "{workers} worker(s) × {concurrency} in flight: {mails} mails in {:.2} s = {:.0} mails/s",
            elapsed.as_secs_f64(),
            mails as f64 / elapsed.as_secs_f64()
        );
    }
    Ok(())
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
