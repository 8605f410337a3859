//! The delivery worker: claims due rows from the outbox, sends each with lettre over SMTP (or
//! writes it to an `.eml` file when no SMTP server is configured), records the outcome, and
//! runs the reminder scheduler. It runs inside `steerco serve` or alone as `steerco worker`;
//! any number may share one PostgreSQL database.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use steerco_entity::notification;
use steerco_graphql::domain::notification::{NotificationStatus, RetryPolicy, SendFailure};
use steerco_graphql::service::{AppState, ServiceResult, outbox};
use thiserror::Error;
use uuid::Uuid;

/// How the worker sends and paces itself.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `smtp://`, `smtps://` or `smtp://…?tls=required` (STARTTLS), with credentials in the
    /// URL; `None` writes `.eml` files to `mail_dir` instead.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub mail_dir: PathBuf,
    /// Longest one SMTP exchange may take.
    pub smtp_timeout: Duration,
    /// Messages sent at once (and pooled SMTP connections). Each connection carries about
    /// 20 messages a second at most: lettre writes a message's end marker as a second small
    /// write on a socket without TCP_NODELAY, which then waits out the server's delayed ACK.
    pub concurrency: usize,
    /// Rows claimed per round.
    pub batch: u64,
    /// How long a claimed row belongs to its worker; a worker that dies mid-send loses it
    /// after this.
    pub lease: Duration,
    /// Longest an idle worker sleeps before looking again (commits in this process wake it
    /// at once).
    pub poll: Duration,
    pub retry: RetryPolicy,
    /// How often the reminder scheduler runs.
    pub scheduler_every: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            mail_from: "Steerco <steerco@localhost>".to_owned(),
            mail_dir: PathBuf::from("mail-outbox"),
            smtp_timeout: Duration::from_secs(30),
            concurrency: 8,
            batch: 32,
            lease: Duration::from_secs(120),
            poll: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            scheduler_every: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Error)]
pub enum WorkerError {
    #[error("SMTP_URL: {0}")]
    SmtpUrl(lettre::transport::smtp::Error),
    #[error("MAIL_FROM {0:?} is not a mailbox")]
    MailFrom(String),
    #[error("mail folder {0}: {1}")]
    MailDir(PathBuf, std::io::Error),
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// One delivery worker.
#[derive(Clone)]
pub struct Worker {
    state: AppState,
    config: Arc<WorkerConfig>,
    from: Mailbox,
    transport: Arc<Transport>,
}

impl Worker {
    pub fn new(state: AppState, config: WorkerConfig) -> Result<Self, WorkerError> {
        let from: Mailbox = config
            .mail_from
            .parse()
            .map_err(|_| WorkerError::MailFrom(config.mail_from.clone()))?;
        let transport = match &config.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(WorkerError::SmtpUrl)?
                    .timeout(Some(config.smtp_timeout))
                    .pool_config(
                        PoolConfig::new().max_size(u32::try_from(config.concurrency).unwrap_or(4)),
                    )
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(&config.mail_dir)
                    .map_err(|e| WorkerError::MailDir(config.mail_dir.clone(), e))?;
                Transport::Files(config.mail_dir.clone())
            }
        };
        Ok(Self {
            state,
            config: Arc::new(config),
            from,
            transport: Arc::new(transport),
        })
    }

    /// Where mail goes, for the start-up log line.
    pub fn destination(&self) -> String {
        match (&*self.transport, &self.config.smtp_url) {
            (Transport::Smtp(_), Some(url)) => crate::config::redact_url(url),
            (Transport::Files(dir), _) => format!("{} (no SMTP_URL: .eml files)", dir.display()),
            (Transport::Smtp(_), None) => "SMTP".to_owned(),
        }
    }

    /// Claims one batch and sends it; returns how many rows it claimed.
    pub async fn deliver_once(&self) -> ServiceResult<usize> {
        let now = self.state.clock.now();
        let claimed =
            outbox::claim(&self.state.db, now, self.config.lease, self.config.batch).await?;
        let count = claimed.len();
        let results: Vec<ServiceResult<()>> = futures_util::stream::iter(claimed)
            .map(|row| self.deliver(row))
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        results.into_iter().collect::<ServiceResult<Vec<()>>>()?;
        Ok(count)
    }

    /// Sends until nothing is due; returns how many rows it claimed in all.
    pub async fn drain(&self) -> ServiceResult<usize> {
        let mut total = 0;
        loop {
            let claimed = self.deliver_once().await?;
            total += claimed;
            if claimed == 0 {
                return Ok(total);
            }
        }
    }

    async fn deliver(&self, row: notification::Model) -> ServiceResult<()> {
        let outcome = match self.message(&row) {
            Ok(message) => self.send(&row, message).await,
            Err(problem) => Err((SendFailure::Permanent, problem)),
        };
        let now = self.state.clock.now();
        match outcome {
            Ok(()) => {
                outbox::record_sent(&self.state.db, &row, now).await?;
                tracing::debug!(id = %row.id, kind = %row.kind, "mail sent");
            }
            Err((failure, problem)) => {
                let status = outbox::record_failure(
                    &self.state.db,
                    &row,
                    failure,
                    &problem,
                    now,
                    &self.config.retry,
                    jitter(),
                )
                .await?;
                if status == NotificationStatus::Dead {
                    tracing::warn!(id = %row.id, attempts = row.attempts, error = %problem, "mail dead");
                } else {
                    tracing::info!(id = %row.id, attempts = row.attempts, error = %problem, "mail deferred");
                }
            }
        }
        Ok(())
    }

    fn message(&self, row: &notification::Model) -> Result<Message, String> {
        let to: Mailbox = row
            .recipient_email
            .parse()
            .map_err(|e| format!("recipient {:?}: {e}", row.recipient_email))?;
        let domain = self.from.email.domain().to_owned();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&row.subject)
            // Stable across retries, so a receiver that got a message twice can tell.
            .message_id(Some(format!("<{}@{domain}>", row.id)))
            // Lets people filter by kind, and tests assert on it.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Steerco-Kind"),
                row.kind.clone(),
            ));
        if let Some(url) = &row.unsubscribe_url {
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                row.body_text.clone(),
                row.body_html.clone(),
            ))
            .map_err(|e| format!("message: {e}"))
    }

    async fn send(
        &self,
        row: &notification::Model,
        message: Message,
    ) -> Result<(), (SendFailure, String)> {
        match &*self.transport {
            Transport::Smtp(smtp) => smtp.send(message).await.map(drop).map_err(|e| {
                let failure = if e.is_permanent() {
                    SendFailure::Permanent
                } else {
                    SendFailure::Transient
                };
                (failure, e.to_string())
            }),
            Transport::Files(dir) => {
                let path = dir.join(format!("{}.eml", row.id));
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(|e| (SendFailure::Transient, format!("{}: {e}", path.display())))
            }
        }
    }

    /// Delivers and schedules until `shutdown` completes; the batch in flight then finishes
    /// before this returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut scheduler = tokio::time::interval(self.config.scheduler_every);
        scheduler.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if let Err(error) = self.drain().await {
                tracing::error!(%error, "delivering mail");
            }
            let wake = self.state.outbox_written.clone();
            tokio::select! {
                () = &mut shutdown => break,
                () = wake.notified() => {}
                _ = scheduler.tick() => {
                    match outbox::run_scheduler(&self.state).await {
                        Ok(pass) if pass.reminders + pass.digests > 0 => {
                            tracing::info!(reminders = pass.reminders, digests = pass.digests, "scheduler");
                        }
                        Ok(_) => {}
                        Err(error) => tracing::error!(%error, "scheduler"),
                    }
                }
                () = tokio::time::sleep(self.config.poll) => {}
            }
        }
        tracing::info!("mail worker stopped");
    }
}

/// A number in [0, 1) to spread retries.
fn jitter() -> f64 {
    // The top 53 bits of a random UUID, as a fraction.
    (Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_its_range() {
        for _ in 0..1_000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
