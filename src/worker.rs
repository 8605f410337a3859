//! The delivery worker: claims due rows from the outbox, sends each with lettre over SMTP (or
//! writes it to an `.eml` file when no SMTP server is configured), records the outcome, and
//! runs the reminder scheduler. It runs inside `steerco serve` or alone as `steerco worker`;
//! any number may share one PostgreSQL database.
//!
//! Each worker owns its SMTP connections (the `smtp` module below): lettre speaks the protocol,
//! the worker opens the sockets, so that they can have `TCP_NODELAY`.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, Message, Tokio1Executor};
use steerco_entity::notification;
use steerco_graphql::domain::notification::{NotificationStatus, RetryPolicy, SendFailure};
use steerco_graphql::service::{AppState, ServiceError, ServiceResult, outbox};
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
    /// Messages sent at once, and the most SMTP connections the worker keeps open.
    pub concurrency: usize,
    /// Rows claimed per round.
    pub batch: u64,
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
            poll: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            scheduler_every: Duration::from_secs(60),
        }
    }
}

impl WorkerConfig {
    /// How long a claimed row belongs to its worker: as long as its batch may take to send at
    /// worst, and [`LEASE_MARGIN`] more to record how it went, at most [`LONGEST_LEASE`]. A
    /// worker that dies mid-send loses its rows after this. A live one could still be sending
    /// a row another worker has claimed since (which would send it twice) only when recording
    /// its outcomes waits longer than the margin, or when `smtp_timeout` is so long that the
    /// cap cuts in. A batch's rows go out `concurrency` at a
    /// time, and each may wait `smtp_timeout` three times: on a kept connection that turns
    /// out dead, for a new connection, and for the exchange on it (`smtp::Pool::send`). By
    /// default 4 waves of 90 s and the margin: 6 min 30 s.
    pub fn lease(&self) -> Duration {
        let at_once = u64::try_from(self.concurrency.max(1)).unwrap_or(u64::MAX);
        let waves = u32::try_from(self.batch.div_ceil(at_once)).unwrap_or(u32::MAX);
        self.smtp_timeout
            .saturating_mul(3)
            .saturating_mul(waves)
            .saturating_add(LEASE_MARGIN)
            .min(LONGEST_LEASE)
    }
}

/// What a lease leaves, after its batch's slowest sends, for the batch's outcomes to be
/// recorded.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// The longest lease: a day, so that a timeout set absurdly long (`SMTP_TIMEOUT` has no bound)
/// neither keeps a dead worker's rows for ever nor overflows the date the lease ends.
const LONGEST_LEASE: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Error)]
pub enum WorkerError {
    #[error("SMTP_URL: {0}")]
    SmtpUrl(lettre::transport::smtp::Error),
    #[error("SMTP_URL: {0}")]
    SmtpEndpoint(String),
    #[error("MAIL_FROM {0:?} is not a mailbox")]
    MailFrom(String),
    #[error("mail folder {0}: {1}")]
    MailDir(PathBuf, std::io::Error),
}

enum Transport {
    // Boxed: the pool is large and a worker has one transport, so the box costs nothing.
    Smtp(Box<smtp::Pool>),
    Files(PathBuf),
}

/// How long a row the SMTP server accepted may wait to be marked sent while the rest of its
/// batch is still in flight. Marks are written together, but a slow send must not hold back
/// the others' marks for long: until marked, a row could be claimed again when its lease ends.
const SENT_FLUSH_AFTER: Duration = Duration::from_secs(1);

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
            Some(url) => {
                // lettre's own parser judges the URL, so that what it refused before is refused
                // the same way now; ours then reads the same URL into connection settings.
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(WorkerError::SmtpUrl)?;
                let endpoint = smtp::Endpoint::parse(url).map_err(WorkerError::SmtpEndpoint)?;
                Transport::Smtp(Box::new(smtp::Pool::new(
                    endpoint,
                    config.smtp_timeout,
                    config.concurrency.max(1),
                )))
            }
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
    ///
    /// Rows the server accepted are marked sent together, one statement per flush rather than
    /// one write transaction per mail (SQLite serialises those); a row is never marked before
    /// its server accepted it. Every outcome is recorded even when one record fails, so a
    /// database hiccup does not leave accepted mail to be sent again.
    pub async fn deliver_once(&self) -> ServiceResult<usize> {
        let now = self.state.clock.now();
        let claimed = outbox::claim(
            &self.state.writer,
            now,
            self.config.lease(),
            self.config.batch,
        )
        .await?;
        let count = claimed.len();
        let mut attempts = futures_util::stream::iter(claimed)
            .map(|row| async move {
                let outcome = self.attempt(&row).await;
                (row, outcome)
            })
            .buffer_unordered(self.config.concurrency.max(1));
        let mut sent: Vec<notification::Model> = Vec::new();
        let mut flush_by: Option<tokio::time::Instant> = None;
        let mut first_error: Option<ServiceError> = None;
        loop {
            let deadline = flush_by.unwrap_or_else(tokio::time::Instant::now);
            tokio::select! {
                next = attempts.next() => match next {
                    Some((row, Ok(()))) => {
                        tracing::debug!(id = %row.id, kind = %row.kind, "mail sent");
                        flush_by.get_or_insert_with(|| tokio::time::Instant::now() + SENT_FLUSH_AFTER);
                        sent.push(row);
                    }
                    Some((row, Err((failure, problem)))) => {
                        if let Err(error) = self.record_failure(&row, failure, &problem).await {
                            first_error.get_or_insert(error);
                        }
                    }
                    None => break,
                },
                () = tokio::time::sleep_until(deadline), if flush_by.is_some() => {
                    if let Err(error) = self.record_sent(&mut sent).await {
                        first_error.get_or_insert(error);
                    }
                    flush_by = None;
                }
            }
        }
        if let Err(error) = self.record_sent(&mut sent).await {
            first_error.get_or_insert(error);
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(count),
        }
    }

    /// Sends until nothing is due; returns how many rows it claimed in all.
    pub async fn drain(&self) -> ServiceResult<usize> {
        self.drain_unless(|| false).await
    }

    /// [`drain`](Self::drain), asking `stopping` after each batch that claimed rows whether
    /// to stop before the next.
    async fn drain_unless(&self, mut stopping: impl FnMut() -> bool) -> ServiceResult<usize> {
        let mut total = 0;
        loop {
            let claimed = self.deliver_once().await?;
            total += claimed;
            if claimed == 0 || stopping() {
                return Ok(total);
            }
        }
    }

    async fn attempt(&self, row: &notification::Model) -> Result<(), (SendFailure, String)> {
        match self.message(row) {
            Ok(message) => self.send(row, message).await,
            Err(problem) => Err((SendFailure::Permanent, problem)),
        }
    }

    /// Marks the accepted rows sent; they stay in `sent` when that fails, to be tried again at
    /// the end of the batch.
    async fn record_sent(&self, sent: &mut Vec<notification::Model>) -> ServiceResult<()> {
        if sent.is_empty() {
            return Ok(());
        }
        outbox::record_sent(&self.state.writer, sent, self.state.clock.now()).await?;
        sent.clear();
        Ok(())
    }

    async fn record_failure(
        &self,
        row: &notification::Model,
        failure: SendFailure,
        problem: &str,
    ) -> ServiceResult<()> {
        let status = outbox::record_failure(
            &self.state.writer,
            row,
            failure,
            problem,
            self.state.clock.now(),
            &self.config.retry,
            jitter(),
        )
        .await?;
        if status == NotificationStatus::Dead {
            tracing::warn!(id = %row.id, attempts = row.attempts, error = %problem, "mail dead");
        } else {
            tracing::info!(id = %row.id, attempts = row.attempts, error = %problem, "mail deferred");
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
            Transport::Smtp(pool) => pool
                .send(message.envelope(), &message.formatted())
                .await
                .map_err(|e| {
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
    /// before this returns, and no other begins, however many emails are due.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut scheduler = tokio::time::interval(self.config.scheduler_every);
        scheduler.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let mut stopped = false;
            let drained = self
                .drain_unless(|| {
                    stopped = (&mut shutdown).now_or_never().is_some();
                    stopped
                })
                .await;
            if let Err(error) = drained {
                tracing::error!(%error, "delivering mail");
            }
            if stopped {
                break;
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

mod smtp {
    //! The worker's SMTP connections: where they go (read from `SMTP_URL`), opening them, and
    //! keeping up to the worker's concurrency of them open between messages.
    //!
    //! lettre speaks SMTP over them, but the worker opens the TCP socket itself and hands it to
    //! lettre (`AsyncSmtpConnection::connect_with_transport`), because lettre 0.11 never sets
    //! `TCP_NODELAY` and writes a message's end marker (`\r\n.\r\n`) as a second small write.
    //! With Nagle's algorithm on, that write waits for the ACK of the body, which the server
    //! delays (about 40 ms on Linux) since it has nothing to answer before the end marker: one
    //! connection then carried about 23 messages a second. STARTTLS and implicit TLS run over
    //! the same socket, so they keep the option.

    use std::io;
    use std::net::SocketAddr;
    use std::pin::Pin;
    use std::sync::{Mutex, PoisonError};
    use std::task::{Context, Poll};
    use std::time::{Duration, Instant};

    use futures_util::io::{AsyncRead as FuturesRead, AsyncWrite as FuturesWrite};
    use lettre::address::Envelope;
    use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
    #[allow(deprecated)]
    use lettre::transport::smtp::client::AsyncNetworkStream;
    use lettre::transport::smtp::client::{
        AsyncSmtpConnection, AsyncTokioStream, Tls, TlsParameters,
    };
    use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
    use lettre::transport::smtp::extension::{
        ClientId, Extension, MailBodyParameter, MailParameter,
    };
    use lettre::transport::smtp::{SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT};
    use thiserror::Error;
    use tokio::io::ReadBuf;
    use tokio::net::TcpStream;
    use tokio::sync::Semaphore;

    /// An idle connection older than this is closed rather than reused: servers drop idle
    /// clients after a while, and a connection silently lost in between (a NAT forgetting it)
    /// would only show when a send timed out. lettre's pool used the same limit.
    const IDLE_LIMIT: Duration = Duration::from_secs(60);

    /// Where to connect and how, read from an `SMTP_URL` the way lettre's `from_url` reads it:
    /// `smtp://` plain (port 25), `smtp://…?tls=required` or `?tls=opportunistic` STARTTLS
    /// (587), `smtps://` TLS from the start (465); `user:password@` logs in (PLAIN, then
    /// LOGIN), and a path names this host in EHLO.
    pub(super) struct Endpoint {
        host: String,
        port: u16,
        tls: Tls,
        credentials: Option<Credentials>,
        hello: ClientId,
    }

    impl Endpoint {
        pub(super) fn parse(url: &str) -> Result<Self, String> {
            let (scheme, rest) = url
                .split_once("://")
                .ok_or_else(|| "no scheme (smtp:// or smtps://)".to_owned())?;
            let rest = rest.split('#').next().unwrap_or_default();
            let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let (userinfo, host_port) = match authority.rsplit_once('@') {
                Some((userinfo, host_port)) => (Some(userinfo), host_port),
                None => (None, authority),
            };
            let (host, port) = split_host_port(host_port)?;
            if host.is_empty() {
                return Err("smtp host undefined".to_owned());
            }
            let tls_mode = query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| *key == "tls")
                .map(|(_, value)| value);
            let tls_parameters =
                || TlsParameters::new(host.clone()).map_err(|e| format!("TLS for {host}: {e}"));
            let (tls, default_port) = match (scheme, tls_mode) {
                ("smtp", None) => (Tls::None, SMTP_PORT),
                ("smtp", Some("required")) => (Tls::Required(tls_parameters()?), SUBMISSION_PORT),
                ("smtp", Some("opportunistic")) => {
                    (Tls::Opportunistic(tls_parameters()?), SUBMISSION_PORT)
                }
                ("smtps", _) => (Tls::Wrapper(tls_parameters()?), SUBMISSIONS_PORT),
                (scheme, tls) => {
                    return Err(format!(
                        "unknown scheme {scheme:?} or tls parameter {tls:?}"
                    ));
                }
            };
            let credentials = match userinfo.and_then(|u| u.split_once(':')) {
                Some((user, password)) => Some(Credentials::new(
                    percent_decode(user)?,
                    percent_decode(password)?,
                )),
                None => None,
            };
            let name = path.trim_matches('/');
            let hello = if name.is_empty() {
                ClientId::default()
            } else {
                ClientId::Domain(name.to_owned())
            };
            Ok(Self {
                host,
                port: port.unwrap_or(default_port),
                tls,
                credentials,
                hello,
            })
        }
    }

    /// `host`, `host:port`, `[v6]` or `[v6]:port`; the host lower-cased and without brackets.
    fn split_host_port(text: &str) -> Result<(String, Option<u16>), String> {
        let (host, port) = match text.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6
                    .split_once(']')
                    .ok_or_else(|| format!("unclosed [ in {text:?}"))?;
                (host, after.strip_prefix(':'))
            }
            None => match text.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            },
        };
        let port = match port {
            Some(port) => Some(
                port.parse::<u16>()
                    .map_err(|_| format!("port {port:?} is not a number"))?,
            ),
            None => None,
        };
        Ok((host.to_ascii_lowercase(), port))
    }

    fn percent_decode(text: &str) -> Result<String, String> {
        let bytes = text.as_bytes();
        let mut decoded = Vec::with_capacity(bytes.len());
        let mut at = 0;
        while at < bytes.len() {
            let hex = bytes
                .get(at + 1..at + 3)
                .and_then(|pair| std::str::from_utf8(pair).ok())
                .and_then(|pair| u8::from_str_radix(pair, 16).ok());
            match (bytes[at], hex) {
                (b'%', Some(byte)) => {
                    decoded.push(byte);
                    at += 3;
                }
                (byte, _) => {
                    decoded.push(byte);
                    at += 1;
                }
            }
        }
        String::from_utf8(decoded).map_err(|_| "credentials are not UTF-8".to_owned())
    }

    /// Why a message did not go.
    #[derive(Debug, Error)]
    pub(super) enum Failure {
        /// No TCP connection (refused, unreachable, unknown host).
        #[error("Connection error: {0}")]
        Connect(io::Error),
        /// What lettre reports of a step of a message's exchange: the server's refusal (4xx,
        /// 5xx), a broken connection.
        #[error("{stage}: {error}")]
        Exchange {
            stage: Stage,
            #[source]
            error: lettre::transport::smtp::Error,
        },
        /// The message needs an extension (SMTPUTF8, 8BITMIME) the server does not offer: the
        /// server's settings, which may change, so the message waits as for a set-up failure.
        #[error("the SMTP server does not support {0}, which this message needs")]
        Unsupported(&'static str),
        /// What lettre reports while a new connection is set up (greeting, TLS, login): a
        /// refusal then, even a 5xx, is the server's or the settings', not the message's.
        #[error("setting up the SMTP connection: {0}")]
        Setup(lettre::transport::smtp::Error),
        #[error("the SMTP server did not answer within {0:?}")]
        TimedOut(Duration),
    }

    impl Failure {
        /// Only the server's own 5xx to this message (a recipient, or the content) says that
        /// trying it again is pointless. One to a connection's set-up (a wrong password, a
        /// server turning clients away) or to the sender (authentication required, a relay
        /// refused, a sending quota used up: the sender is the same for every message) would
        /// fail every message alike until someone fixes it or the quota renews, so they wait
        /// and try again.
        pub(super) fn is_permanent(&self) -> bool {
            match self {
                Self::Exchange { stage, error } => {
                    stage.concerns_the_message() && error.is_permanent()
                }
                Self::Connect(_) | Self::Setup(_) | Self::TimedOut(_) | Self::Unsupported(_) => {
                    false
                }
            }
        }

        /// The connection failed without the server replying: on a connection that sat in the
        /// pool, most likely because the server closed it meanwhile.
        fn is_stale_connection(&self) -> bool {
            matches!(self, Self::Exchange { error, .. } if error.status().is_none() && !error.is_client())
        }
    }

    /// A step of a message's exchange, as RFC 5321 orders them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Stage {
        /// `MAIL FROM`: the sender, the same for every message.
        Sender,
        /// `RCPT TO`: one of the message's recipients.
        Recipient,
        /// `DATA`: the server's leave to send the content.
        Data,
        /// The content and its end: the server's verdict on the message itself.
        Content,
    }

    impl Stage {
        fn concerns_the_message(self) -> bool {
            matches!(self, Self::Recipient | Self::Content)
        }
    }

    impl std::fmt::Display for Stage {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(match self {
                Self::Sender => "the sender (MAIL FROM)",
                Self::Recipient => "a recipient (RCPT TO)",
                Self::Data => "DATA",
                Self::Content => "the message",
            })
        }
    }

    /// A worker's SMTP connections.
    pub(super) struct Pool {
        endpoint: Endpoint,
        /// Longest one connect, or one message's exchange, may take.
        timeout: Duration,
        /// One permit per connection that may be open, so clones of one worker sending at
        /// once stay within its concurrency too.
        slots: Semaphore,
        /// Open connections not in use, the most recently used last.
        idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    }

    impl Pool {
        pub(super) fn new(endpoint: Endpoint, timeout: Duration, size: usize) -> Self {
            Self {
                endpoint,
                timeout,
                slots: Semaphore::new(size),
                idle: Mutex::new(Vec::with_capacity(size)),
            }
        }

        /// Sends one message over an idle connection, or a new one.
        ///
        /// A pooled connection that fails before the server replied is replaced once and the
        /// message sent again over a new connection: the server most likely closed it while it
        /// was idle. (Had the server accepted the message just before the connection broke, it
        /// arrives twice: the outbox promises at least once.) A reply (4xx, 5xx) is never
        /// retried here; the outbox's retry policy decides.
        pub(super) async fn send(&self, envelope: &Envelope, email: &[u8]) -> Result<(), Failure> {
            // The semaphore is never closed, so acquiring fails never; without a permit the
            // send would only be over the bound, not wrong.
            let _slot = self.slots.acquire().await.ok();
            if let Some(mut pooled) = self.checkout() {
                match self.exchange(&mut pooled, envelope, email).await {
                    Ok(()) => {
                        self.park(pooled);
                        return Ok(());
                    }
                    Err(failure) if failure.is_stale_connection() => {
                        tracing::debug!(error = %failure, "pooled SMTP connection lost; reconnecting");
                    }
                    Err(failure) => return Err(failure),
                }
            }
            let mut fresh = tokio::time::timeout(self.timeout, self.connect())
                .await
                .map_err(|_| Failure::TimedOut(self.timeout))??;
            self.exchange(&mut fresh, envelope, email).await?;
            self.park(fresh);
            Ok(())
        }

        async fn exchange(
            &self,
            connection: &mut AsyncSmtpConnection,
            envelope: &Envelope,
            email: &[u8],
        ) -> Result<(), Failure> {
            // lettre itself bounds only the TCP connect; without this a server that stops
            // answering would hold the row (and a connection) forever.
            let exchanged =
                tokio::time::timeout(self.timeout, transact(connection, envelope, email))
                    .await
                    .map_err(|_| Failure::TimedOut(self.timeout))
                    .flatten();
            match &exchanged {
                // As lettre's own `send` does, a connection refused in the middle of a
                // transaction is quit and not reused; the quit is bounded too, since lettre
                // waits for its answer.
                Err(failure) if !matches!(failure, Failure::TimedOut(_)) => {
                    let _ = tokio::time::timeout(self.timeout, connection.abort()).await;
                }
                // A server that stopped answering is not asked to quit: the caller drops the
                // connection.
                Err(_) | Ok(()) => {}
            }
            exchanged
        }

        /// Opens a connection as lettre's transport did (TLS as the URL says, EHLO, login),
        /// but over a socket with `TCP_NODELAY`.
        async fn connect(&self) -> Result<AsyncSmtpConnection, Failure> {
            let endpoint = &self.endpoint;
            let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
                .await
                .map_err(Failure::Connect)?;
            tcp.set_nodelay(true).map_err(Failure::Connect)?;
            let stream: Box<dyn AsyncTokioStream> = match &endpoint.tls {
                Tls::Wrapper(parameters) => Box::new(
                    ImplicitTls::handshake(tcp, parameters.clone())
                        .await
                        .map_err(Failure::Setup)?,
                ),
                _ => Box::new(tcp),
            };
            let mut connection =
                AsyncSmtpConnection::connect_with_transport(stream, &endpoint.hello)
                    .await
                    .map_err(Failure::Setup)?;
            let upgrade = match &endpoint.tls {
                Tls::Required(parameters) => Some(parameters),
                Tls::Opportunistic(parameters) if connection.can_starttls() => Some(parameters),
                _ => None,
            };
            if let Some(parameters) = upgrade {
                connection
                    .starttls(parameters.clone(), &endpoint.hello)
                    .await
                    .map_err(Failure::Setup)?;
            }
            if let Some(credentials) = &endpoint.credentials {
                connection
                    .auth(DEFAULT_MECHANISMS, credentials)
                    .await
                    .map_err(Failure::Setup)?;
            }
            Ok(connection)
        }

        /// The most recently used idle connection still young enough; older ones are closed.
        fn checkout(&self) -> Option<AsyncSmtpConnection> {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            while let Some((connection, since)) = idle.pop() {
                if since.elapsed() < IDLE_LIMIT {
                    return Some(connection);
                }
            }
            None
        }

        /// Keeps a connection for the next message, unless lettre gave up on it (it quits a
        /// connection on any error reply).
        fn park(&self, connection: AsyncSmtpConnection) {
            if !connection.has_broken() {
                self.idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((connection, Instant::now()));
            }
        }
    }

    /// One message's transaction, step by step as lettre's `AsyncSmtpConnection::send` takes
    /// it, so that a refusal says which step it answered ([`Stage`]).
    async fn transact(
        connection: &mut AsyncSmtpConnection,
        envelope: &Envelope,
        email: &[u8],
    ) -> Result<(), Failure> {
        let at = |stage| move |error| Failure::Exchange { stage, error };
        let mut options = Vec::new();
        let addresses_ascii = envelope
            .from()
            .into_iter()
            .chain(envelope.to())
            .all(|address| AsRef::<str>::as_ref(address).is_ascii());
        if !addresses_ascii {
            if !connection
                .server_info()
                .supports_feature(Extension::SmtpUtfEight)
            {
                return Err(Failure::Unsupported("SMTPUTF8"));
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        if !email.is_ascii() {
            if !connection
                .server_info()
                .supports_feature(Extension::EightBitMime)
            {
                return Err(Failure::Unsupported("8BITMIME"));
            }
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        connection
            .command(Mail::new(envelope.from().cloned(), options))
            .await
            .map_err(at(Stage::Sender))?;
        for recipient in envelope.to() {
            connection
                .command(Rcpt::new(recipient.clone(), Vec::new()))
                .await
                .map_err(at(Stage::Recipient))?;
        }
        connection.command(Data).await.map_err(at(Stage::Data))?;
        connection
            .message(email)
            .await
            .map_err(at(Stage::Content))?;
        Ok(())
    }

    /// Implicit TLS (`smtps://`) over the worker's own socket. lettre sets up TLS only on its
    /// own stream type (deprecated as public API, yet the only way to reuse its TLS settings
    /// and certificate roots), which speaks futures-io; `connect_with_transport` takes a tokio
    /// stream, so this wraps one in the other.
    #[allow(deprecated)]
    #[derive(Debug)]
    struct ImplicitTls(AsyncNetworkStream);

    impl ImplicitTls {
        #[allow(deprecated)]
        async fn handshake(
            tcp: TcpStream,
            parameters: TlsParameters,
        ) -> Result<Self, lettre::transport::smtp::Error> {
            let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
            stream.upgrade_tls(parameters).await?;
            Ok(Self(stream))
        }
    }

    impl AsyncTokioStream for ImplicitTls {
        fn peer_addr(&self) -> io::Result<SocketAddr> {
            self.0.peer_addr()
        }
    }

    impl tokio::io::AsyncRead for ImplicitTls {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let unfilled = buf.initialize_unfilled();
            match Pin::new(&mut self.0).poll_read(cx, unfilled) {
                Poll::Ready(Ok(read)) => {
                    buf.advance(read);
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
                Poll::Pending => Poll::Pending,
            }
        }
    }

    impl tokio::io::AsyncWrite for ImplicitTls {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(cx, buf)
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_close(cx)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn endpoint(url: &str) -> Endpoint {
            Endpoint::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
        }

        fn tls_name(tls: &Tls) -> &'static str {
            match tls {
                Tls::None => "none",
                Tls::Opportunistic(_) => "opportunistic",
                Tls::Required(_) => "required",
                Tls::Wrapper(_) => "wrapper",
            }
        }

        #[test]
        fn urls_read_as_lettre_reads_them() {
            for (url, host, port, tls) in [
                ("smtp://127.0.0.1:2525", "127.0.0.1", 2525, "none"),
                ("smtp://Mail.Internal", "mail.internal", 25, "none"),
                (
                    "smtp://smtp.example.com?tls=required",
                    "smtp.example.com",
                    587,
                    "required",
                ),
                (
                    "smtp://smtp.example.com:2587?tls=opportunistic",
                    "smtp.example.com",
                    2587,
                    "opportunistic",
                ),
                (
                    "smtps://smtp.example.com",
                    "smtp.example.com",
                    465,
                    "wrapper",
                ),
                ("smtp://[::1]:2525", "::1", 2525, "none"),
            ] {
                let e = endpoint(url);
                assert_eq!(
                    (e.host.as_str(), e.port, tls_name(&e.tls)),
                    (host, port, tls),
                    "{url}"
                );
                assert!(e.credentials.is_none(), "{url}");
            }
        }

        #[test]
        fn credentials_are_percent_decoded_and_a_path_names_the_client() {
            let e = endpoint(
                "smtps://ada%40example.com:p%3Ass%2Fw@smtp.example.com:465/relay.example.com",
            );
            assert!(
                e.credentials
                    == Some(Credentials::new(
                        "ada@example.com".to_owned(),
                        "p:ss/w".to_owned()
                    ))
            );
            assert_eq!(e.hello, ClientId::Domain("relay.example.com".to_owned()));
            assert_eq!(endpoint("smtp://h").hello, ClientId::default());
        }

        #[test]
        fn what_lettre_refuses_is_refused() {
            for url in [
                "smtp://",
                "smtp://h?tls=sometimes",
                "imap://h",
                "h:25",
                "smtp://h:port",
            ] {
                assert!(Endpoint::parse(url).is_err(), "{url}");
            }
        }
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
    fn a_lease_outlasts_the_slowest_batch() {
        let default = WorkerConfig::default();
        assert_eq!(default.lease(), Duration::from_secs(4 * 90 + 30));
        for (batch, concurrency, timeout_secs, waves) in [
            (32, 8, 30, 4),
            (32, 1, 30, 32),
            (33, 8, 5, 5),
            (1, 8, 120, 1),
            (32, 0, 10, 32),
        ] {
            let config = WorkerConfig {
                batch,
                concurrency,
                smtp_timeout: Duration::from_secs(timeout_secs),
                ..WorkerConfig::default()
            };
            let slowest_batch = Duration::from_secs(waves * 3 * timeout_secs);
            assert_eq!(
                config.lease(),
                slowest_batch + LEASE_MARGIN,
                "batch {batch}, {concurrency} at once, timeout {timeout_secs} s"
            );
        }
        let absurd = WorkerConfig {
            smtp_timeout: Duration::MAX,
            ..WorkerConfig::default()
        };
        assert_eq!(absurd.lease(), LONGEST_LEASE);
    }

    #[test]
    fn jitter_stays_in_its_range() {
        for _ in 0..1_000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
