//! The load driver and what it measures: N client tasks sending one operation after another
//! for a fixed time, their latencies, the SQL statements the server ran meanwhile, the
//! server's warnings and errors (busy or locked databases among them), and peak RSS.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use steerco::db::StatementCounter;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::Error;
pub use crate::percentiles::Percentiles;

/// How a GraphQL endpoint is reached: one HTTP client (its connection pool shared by every
/// client task), the URL, and the bearer token, if any.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub url: String,
    pub token: Option<String>,
}

/// An answer as the client saw it: HTTP status and JSON body.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The `extensions.code` of the first top-level error, if any.
    pub fn error_code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }
}

impl Api {
    pub fn new(http: reqwest::Client, base_url: &str, token: Option<String>) -> Self {
        Self {
            http,
            url: format!("{base_url}/graphql"),
            token,
        }
    }

    /// The same endpoint with another token (or none).
    pub fn with_token(&self, token: Option<String>) -> Self {
        Self {
            token,
            ..self.clone()
        }
    }

    /// POSTs any JSON body (one operation or a batch) and returns what came back.
    pub async fn post(&self, body: &Value) -> Result<Answer, String> {
        let mut request = self.http.post(&self.url).json(body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| format!("send: {e}"))?;
        let status = response.status().as_u16();
        let body = response
            .json()
            .await
            .map_err(|e| format!("HTTP {status}, body: {e}"))?;
        Ok(Answer { status, body })
    }

    /// Runs one operation and returns its `data`; transport failures, other statuses than
    /// 200 and top-level errors are `Err`, named by their code.
    pub async fn data(&self, query: &str, variables: Value) -> Result<Value, String> {
        let answer = self
            .post(&json!({ "query": query, "variables": variables }))
            .await?;
        if answer.status != 200 || answer.body.get("errors").is_some() {
            let code = answer.error_code().unwrap_or("no code");
            let message = answer.body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default();
            return Err(format!("HTTP {} {code}: {message}", answer.status));
        }
        Ok(answer.body["data"].clone())
    }

    /// Runs a mutation and returns its payload (`data.<field>`), or `Err` with its first
    /// user error.
    pub async fn mutate(
        &self,
        field: &str,
        query: &str,
        variables: Value,
    ) -> Result<Value, String> {
        let data = self.data(query, variables).await?;
        let payload = data[field].clone();
        match payload["userErrors"].as_array() {
            Some(errors) if !errors.is_empty() => Err(format!(
                "{field}: {} {}",
                errors[0]["code"].as_str().unwrap_or_default(),
                errors[0]["message"].as_str().unwrap_or_default()
            )),
            _ => Ok(payload),
        }
    }
}

/// What one timed run measured.
#[derive(Debug, Default)]
pub struct Run {
    pub clients: usize,
    /// Operations completed, failed ones included.
    pub ops: u64,
    pub errors: u64,
    /// A few distinct failure reasons, for the notes.
    pub error_samples: Vec<String>,
    /// From the first request to the last answer (requests sent before the deadline finish).
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    /// SQL statements the server ran during the run.
    pub statements: u64,
}

impl Run {
    pub fn per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    pub fn statements_per_op(&self) -> f64 {
        self.statements as f64 / self.ops.max(1) as f64
    }

    /// Adds one failure reason to the samples (three distinct ones at most).
    pub fn sample(samples: &mut Vec<String>, reason: String) {
        if samples.len() < 3 && !samples.contains(&reason) {
            samples.push(reason);
        }
    }
}

/// Runs `op(client, iteration)` from `clients` tasks, each sending its next operation as soon
/// as the previous one is answered, until `duration` has passed. `Err` is a failed
/// operation, with its reason.
pub async fn drive<F, Fut>(
    clients: usize,
    duration: Duration,
    statements: &Statements,
    op: F,
) -> Result<Run, Error>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let op = Arc::new(op);
    let before = statements.total();
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let op = Arc::clone(&op);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(4_096);
                let mut errors = 0u64;
                let mut samples = Vec::new();
                let mut iteration = 0u64;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let outcome = op(client, iteration).await;
                    latencies.push(sent.elapsed());
                    if let Err(reason) = outcome {
                        errors += 1;
                        Run::sample(&mut samples, reason);
                    }
                    iteration += 1;
                }
                (latencies, errors, samples)
            })
        })
        .collect();
    let mut run = Run {
        clients,
        ..Run::default()
    };
    for task in tasks {
        let (latencies, errors, samples) = task.await?;
        run.latencies.extend(latencies);
        run.errors += errors;
        for reason in samples {
            Run::sample(&mut run.error_samples, reason);
        }
    }
    run.elapsed = started.elapsed();
    run.ops = run.latencies.len() as u64;
    run.statements = statements.total() - before;
    Ok(run)
}

/// The SQL statements the server runs: counted by the server's own [`StatementCounter`], or,
/// with `BENCH_PROFILE_SQL`, counted and timed per statement text by a callback of the same
/// kind (a connection has one metric callback).
#[derive(Clone)]
pub enum Statements {
    Counter(StatementCounter),
    Profile(Arc<Profile>),
}

/// Statements by SQL text: how many ran and how long they took in all.
#[derive(Default)]
pub struct Profile {
    total: AtomicU64,
    by_sql: Mutex<HashMap<String, (u64, Duration)>>,
}

impl Statements {
    pub fn attach(db: &mut DatabaseConnection, profile: bool) -> Self {
        let statements = if profile {
            Self::Profile(Arc::default())
        } else {
            Self::Counter(StatementCounter::default())
        };
        statements.count_also(db);
        statements
    }

    /// Counts (or profiles) the statements of another pool too: the server's writer.
    pub fn count_also(&self, db: &mut DatabaseConnection) {
        let recorder = match self {
            Self::Counter(counter) => return counter.count_also(db),
            Self::Profile(profile) => Arc::clone(profile),
        };
        db.set_metric_callback(move |info| {
            recorder.total.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut by_sql) = recorder.by_sql.lock() {
                let entry = by_sql
                    .entry(info.statement.sql.clone())
                    .or_insert((0, Duration::ZERO));
                entry.0 += 1;
                entry.1 += info.elapsed;
            }
        });
    }

    /// Statements run since counting started.
    pub fn total(&self) -> u64 {
        match self {
            Self::Counter(counter) => counter.total(),
            Self::Profile(profile) => profile.total.load(Ordering::Relaxed),
        }
    }

    /// Forgets the statements profiled so far.
    pub fn reset_profile(&self) {
        if let Self::Profile(profile) = self
            && let Ok(mut by_sql) = profile.by_sql.lock()
        {
            by_sql.clear();
        }
    }

    /// The `n` statements that took longest in all since the last reset, one line each:
    /// runs per operation, mean time, and the SQL (shortened).
    pub fn top(&self, n: usize, ops: u64) -> Vec<String> {
        let Self::Profile(profile) = self else {
            return Vec::new();
        };
        let Ok(by_sql) = profile.by_sql.lock() else {
            return Vec::new();
        };
        let mut rows: Vec<_> = by_sql.iter().collect();
        rows.sort_by_key(|(_, (_, time))| std::cmp::Reverse(*time));
        rows.into_iter()
            .take(n)
            .map(|(sql, (count, time))| {
                let sql: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
                let shown: String = sql.chars().take(150).collect();
                format!(
                    "{:>7.2}/op {:>8.0} us mean {:>8.0} ms total  {shown}",
                    *count as f64 / ops.max(1) as f64,
                    time.as_secs_f64() * 1e6 / (*count).max(1) as f64,
                    time.as_secs_f64() * 1e3,
                )
            })
            .collect()
    }
}

/// Starts a new peak for [`peak_rss_mb`] of this process, or of `pid` (Linux: writing 5 to
/// `/proc/<pid>/clear_refs` resets VmHWM to the current RSS). `false` where that is refused,
/// and the peak then covers the whole run so far.
pub fn reset_peak_rss(pid: Option<u32>) -> bool {
    std::fs::write(proc_file(pid, "clear_refs"), "5").is_ok()
}

/// `/proc/<pid>/<name>`, or this process's.
fn proc_file(pid: Option<u32>, name: &str) -> String {
    match pid {
        Some(pid) => format!("/proc/{pid}/{name}"),
        None => format!("/proc/self/{name}"),
    }
}

/// Peak resident set (VmHWM) of this process, or of `pid`, in MiB.
pub fn peak_rss_mb(pid: Option<u32>) -> Option<f64> {
    status_kib(pid, "VmHWM:").map(|kib| kib as f64 / 1024.0)
}

/// Processor time and context switches of this process so far: what a workload costs beside
/// its rate, since a run whose requests wait on one another (W3 at one client) uses less than
/// the machine has.
#[derive(Debug, Clone, Copy)]
pub struct ProcessLoad {
    /// User and system time of every thread, those that ended included.
    cpu: Duration,
    /// Voluntary and involuntary switches of the threads alive now.
    context_switches: u64,
}

/// Clock ticks a second of `/proc/<pid>/stat`'s times (`USER_HZ`, 100 on Linux whatever the
/// kernel's own tick).
const USER_HZ: u64 = 100;

impl ProcessLoad {
    /// Now, or `None` off Linux.
    pub fn now() -> Option<Self> {
        let stat = std::fs::read_to_string(proc_file(None, "stat")).ok()?;
        // The command name, in parentheses, may hold spaces: count fields after it.
        let after_name = &stat[stat.rfind(')')? + 1..];
        let mut fields = after_name.split_whitespace().skip(11);
        let user: u64 = fields.next()?.parse().ok()?;
        let system: u64 = fields.next()?.parse().ok()?;
        let mut context_switches = 0;
        for task in std::fs::read_dir(proc_file(None, "task")).ok()?.flatten() {
            let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
                continue; // the thread ended meanwhile
            };
            context_switches += status
                .lines()
                .filter_map(|line| {
                    line.strip_prefix("voluntary_ctxt_switches:")
                        .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
                })
                .filter_map(|count| count.trim().parse::<u64>().ok())
                .sum::<u64>();
        }
        Some(Self {
            cpu: Duration::from_millis((user + system) * 1000 / USER_HZ),
            context_switches,
        })
    }

    /// "X ms CPU, Y switches per op" between `earlier` and now, over `ops` operations.
    pub fn per_op_since(earlier: Option<Self>, ops: u64) -> Option<String> {
        let (earlier, now) = (earlier?, Self::now()?);
        let ops = ops.max(1) as f64;
        Some(format!(
            "process {:.2} ms CPU and {:.0} context switches per op",
            now.cpu.saturating_sub(earlier.cpu).as_secs_f64() * 1000.0 / ops,
            now.context_switches
                .saturating_sub(earlier.context_switches) as f64
                / ops
        ))
    }
}

/// A `kB` line of `/proc/<pid>/status`.
fn status_kib(pid: Option<u32>, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(proc_file(pid, "status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The server's warnings and errors, caught from its `tracing` events: the in-process server
/// logs every failure it hides behind `INTERNAL`, which is how a busy or locked database shows.
#[derive(Clone, Default)]
pub struct ServerLog(Arc<LogInner>);

#[derive(Default)]
struct LogInner {
    events: AtomicU64,
    busy: AtomicU64,
    samples: Mutex<Vec<String>>,
}

/// Counts of [`ServerLog`] at one moment, to subtract.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogCount {
    pub events: u64,
    pub busy: u64,
}

impl ServerLog {
    /// Installs the log as the process's subscriber, WARN and above only (so the server's
    /// per-request INFO spans cost nothing).
    pub fn install() -> Self {
        let log = Self::default();
        // Fails only if a subscriber is set already; the counts then stay at zero.
        let _ = tracing_subscriber::registry()
            .with(log.clone().with_filter(LevelFilter::WARN))
            .try_init();
        log
    }

    pub fn count(&self) -> LogCount {
        LogCount {
            events: self.0.events.load(Ordering::Relaxed),
            busy: self.0.busy.load(Ordering::Relaxed),
        }
    }

    /// Up to three distinct messages logged so far.
    pub fn samples(&self) -> Vec<String> {
        self.0
            .samples
            .lock()
            .map(|samples| samples.clone())
            .unwrap_or_default()
    }
}

impl LogCount {
    pub fn since(self, earlier: LogCount) -> LogCount {
        LogCount {
            events: self.events - earlier.events,
            busy: self.busy - earlier.busy,
        }
    }
}

/// Whether a logged failure is the database refusing for contention.
fn is_busy(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    [
        "database is locked",
        "busy",
        "deadlock",
        "could not serialize",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

impl<S: Subscriber> Layer<S> for ServerLog {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut text = String::new();
        event.record(&mut Fields(&mut text));
        self.0.events.fetch_add(1, Ordering::Relaxed);
        if is_busy(&text) {
            self.0.busy.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut samples) = self.0.samples.lock() {
            let line = format!("{} {}", event.metadata().level(), text.trim_end());
            Run::sample(&mut samples, line);
        }
    }
}

/// Writes an event's fields as `name=value` pairs.
struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}
