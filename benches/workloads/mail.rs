//! W6: the outbox filled with `BENCH_MAILS` emails (10,000 by default), drained by one worker
//! to the test suite's SMTP server on loopback, at each `BENCH_MAIL_CONCURRENCY` (emails in
//! flight, one pooled SMTP connection each).

use std::time::Instant;

use chrono::{TimeZone, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use steerco::worker::{Worker, WorkerConfig};
use steerco_entity::notification;

use crate::Error;
use crate::harness::{Run, peak_rss_mb, reset_peak_rss};
use crate::report::{Row, Table};
use crate::setup::Bench;
use crate::smtp::SmtpServer;

/// The W6 target.
const TARGET_PER_SECOND: f64 = 500.0;

pub async fn drain(
    bench: &Bench,
    mails: usize,
    concurrencies: &[usize],
    table: &mut Table,
) -> Result<(), Error> {
    // Emails the other workloads queued (W3's, W4's) wait for later: W6 sends its own only.
    postpone_pending(bench).await?;
    let server = SmtpServer::start().await;
    let mut best: f64 = 0.0;
    for &concurrency in concurrencies {
        fill(bench, mails).await?;
        let worker = Worker::new(
            bench.state.clone(),
            WorkerConfig {
                smtp_url: Some(server.url()),
                mail_from: "Steerco <steerco@steerco.bench>".to_owned(),
                concurrency,
                batch: (concurrency as u64 * 4).max(32),
                ..WorkerConfig::default()
            },
        )?;
        let received_before = server.received_count();
        let statements_before = bench.statements.total();
        reset_peak_rss(None);
        let started = Instant::now();
        let sent = worker.drain().await.map_err(|e| e.to_string())?;
        let elapsed = started.elapsed();
        let rss = peak_rss_mb(None);
        let received = server.received_count() - received_before;
        let run = Run {
            clients: concurrency,
            ops: sent as u64,
            errors: (mails.max(received) - received) as u64,
            elapsed,
            statements: bench.statements.total() - statements_before,
            ..Run::default()
        };
        best = best.max(run.per_second());
        table.push(
            Row::from_run("W6 outbox drain to SMTP", &run, rss).note(format!(
                "{received} of {mails} received; batch {}; RSS holds the SMTP server's mailbox",
                (concurrency as u64 * 4).max(32)
            )),
        );
    }
    table.judge(
        "W6 >= 500 mails/s",
        format!("best {best:.0} mails/s (concurrency {concurrencies:?})"),
        best >= TARGET_PER_SECOND,
    );
    Ok(())
}

/// Puts off every email waiting to be sent until a far date, so that a worker started next
/// sends only what is queued after.
pub async fn postpone_pending(bench: &Bench) -> Result<(), Error> {
    let far = Utc
        .with_ymd_and_hms(2999, 1, 1, 0, 0, 0)
        .single()
        .ok_or("a far date")?;
    notification::Entity::update_many()
        .col_expr(notification::Column::NextAttemptAt, Expr::value(far))
        .filter(notification::Column::Status.eq("PENDING"))
        .exec(bench.state.db.pool())
        .await?;
    Ok(())
}

/// Queues `count` emails to the administrator, due now, as the services write them.
async fn fill(bench: &Bench, count: usize) -> Result<(), Error> {
    let now = Utc::now();
    let rows: Vec<notification::ActiveModel> = (0..count)
        .map(|n| notification::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            project_id: Set(None),
            recipient_id: Set(bench.admin_id),
            recipient_email: Set("bench.admin@example.com".to_owned()),
            locale: Set("en".to_owned()),
            kind: Set("bench".to_owned()),
            aggregate_type: Set("User".to_owned()),
            aggregate_id: Set(None),
            dedupe_key: Set(format!("bench:{}", uuid::Uuid::now_v7())),
            subject: Set(format!("CR-{n:03} awaits your vote")),
            body_text: Set("A change request was submitted and awaits the committee.\n".repeat(20)),
            body_html: Set(
                "<p>A change request was submitted and awaits the committee.</p>".repeat(20),
            ),
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
            .exec_without_returning(bench.state.db.pool())
            .await?;
    }
    Ok(())
}
