//! The `steerco` command line.

use std::io::BufRead;
use std::net::SocketAddr;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use steerco_graphql::domain::clock::SystemClock;
use steerco_graphql::domain::notification::{ReminderPolicy, RetryPolicy};
use steerco_graphql::schema::Limits;
use steerco_graphql::service::notify::MailSettings;
use steerco_graphql::service::{self, AppState, ServiceError, outbox};
use steerco_migration::{Migrator, MigratorTrait};

use crate::config::{DEFAULT_ADDR, DEFAULT_DATABASE_URL, ServerConfig, redact_url};
use crate::cpu_latency::CpuLatencyRequest;
use crate::rate_limit::RateLimit;
use crate::server::{BoundServer, FrontRuntime, shutdown_signal};
use crate::worker::{Worker, WorkerConfig};

/// Steerco: governance and change control for CRM implementation projects.
#[derive(Debug, Parser)]
#[command(name = "steerco", version, about, long_about = None)]
pub struct Cli {
    /// Database URL: `sqlite://FILE?mode=rwc` (created on first run) or `postgres://…`.
    #[arg(long, global = true, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations and serve the GraphQL API (the default).
    Serve(ServeArgs),
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Deliver email and run the reminder scheduler, without serving the API.
    Worker(WorkerArgs),
    /// Load sample data.
    Seed {
        #[command(subcommand)]
        dataset: SeedDataset,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "STEERCO_ADDR", default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,
    /// Production mode: no GraphiQL, no introspection, no field suggestions.
    #[arg(long, env = "STEERCO_PRODUCTION", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub production: bool,
    /// Largest request body, in bytes.
    #[arg(long, env = "STEERCO_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Deepest query accepted.
    #[arg(long, env = "STEERCO_MAX_DEPTH", default_value_t = Limits::default().max_depth)]
    pub max_depth: usize,
    /// Highest query complexity accepted (list fields count once per item asked).
    #[arg(long, env = "STEERCO_MAX_COMPLEXITY", default_value_t = Limits::default().max_complexity)]
    pub max_complexity: usize,
    /// Most operations in one batched request.
    #[arg(long, env = "STEERCO_MAX_BATCH", default_value_t = Limits::default().max_batch)]
    pub max_batch: usize,
    /// Longest an operation may run, in seconds, before it is cancelled and rolled back.
    #[arg(long, env = "STEERCO_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,
    /// Seconds a client has to send a request's head (from its connection's opening, and over
    /// HTTP/1.1 from the answer before: an idle keep-alive connection is closed then) and,
    /// again, its body (else 408). Keep it above the idle timeout of a proxy in front.
    #[arg(long, env = "STEERCO_READ_TIMEOUT", default_value_t = crate::config::DEFAULT_READ_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub read_timeout: u64,
    /// Milliseconds a bearer token found usable is trusted without reading it again; 0 reads
    /// it at every request. A token revoked through this server is refused at once.
    #[arg(long, env = "STEERCO_TOKEN_MEMORY_MS", default_value_t = crate::config::DEFAULT_TOKEN_MEMORY_MS)]
    pub token_memory_ms: u64,
    /// Requests per second one caller (a user, or an address without a token) may sustain;
    /// 0 turns the limit off.
    #[arg(long, env = "STEERCO_RATE_LIMIT", default_value_t = 20)]
    pub rate_limit: u32,
    /// Requests one caller may send at once above the sustained rate.
    #[arg(long, env = "STEERCO_RATE_BURST", default_value_t = 60)]
    pub rate_burst: u32,
    /// Most aliased fields in one document.
    #[arg(long, env = "STEERCO_MAX_ALIASES", default_value_t = Limits::default().max_aliases)]
    pub max_aliases: usize,
    /// While requests come, keep this machine's processors able to wake within this many
    /// microseconds (Linux CPU latency QoS; 0 keeps idle processors polling rather than
    /// halting). Needs write access to /dev/cpu_dma_latency. Unset: no bound.
    #[arg(long, env = "STEERCO_CPU_LATENCY_US", value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub cpu_latency_us: Option<u32>,
    /// Run the mail worker and scheduler in this process (turn off when separate
    /// `steerco worker` processes deliver).
    #[arg(long, env = "STEERCO_WORKER", default_value_t = true, value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub worker: bool,
    #[command(flatten)]
    pub mail: MailArgs,
}

/// Outbound mail: where it goes, how it is paced, and when reminders fire.
#[derive(Debug, Args)]
pub struct MailArgs {
    /// The URL people use to reach Steerco, for links in emails. Defaults to http://ADDR.
    #[arg(long, env = "STEERCO_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// SMTP server: `smtp://host:25` (plain), `smtp://host:587?tls=required` (STARTTLS) or
    /// `smtps://user:password@host:465`. Unset: emails are written as .eml files instead.
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of every email.
    #[arg(long, env = "MAIL_FROM", default_value = "Steerco <steerco@localhost>")]
    pub mail_from: String,
    /// Where emails go as .eml files when no SMTP_URL is set.
    #[arg(long, env = "STEERCO_MAIL_DIR", default_value = "mail-outbox")]
    pub mail_dir: std::path::PathBuf,
    /// Longest one SMTP exchange may take, in seconds.
    #[arg(long, env = "SMTP_TIMEOUT", default_value_t = 30)]
    pub smtp_timeout: u64,
    /// Emails sent at once by one worker (and pooled SMTP connections).
    #[arg(long, env = "STEERCO_MAIL_CONCURRENCY", default_value_t = 8)]
    pub mail_concurrency: usize,
    /// Attempts before a transiently failing email is given up as DEAD.
    #[arg(long, env = "STEERCO_MAIL_MAX_ATTEMPTS", default_value_t = 8)]
    pub mail_max_attempts: i32,
    /// Days before a milestone falls due that its owner is reminded.
    #[arg(long, env = "STEERCO_REMIND_MILESTONE_DAYS", default_value_t = 3)]
    pub remind_milestone_days: i64,
    /// Hours a ballot may wait before its missing voters are reminded (then daily).
    #[arg(long, env = "STEERCO_REMIND_VOTE_HOURS", default_value_t = 48)]
    pub remind_vote_hours: i64,
    /// Hour of the day (UTC) from which daily digests go out.
    #[arg(long, env = "STEERCO_DIGEST_HOUR", default_value_t = 7, value_parser = clap::value_parser!(u32).range(0..24))]
    pub digest_hour: u32,
}

impl MailArgs {
    fn worker_config(&self) -> WorkerConfig {
        WorkerConfig {
            smtp_url: self.smtp_url.clone().filter(|url| !url.is_empty()),
            mail_from: self.mail_from.clone(),
            mail_dir: self.mail_dir.clone(),
            smtp_timeout: std::time::Duration::from_secs(self.smtp_timeout),
            concurrency: self.mail_concurrency.max(1),
            retry: RetryPolicy {
                max_attempts: self.mail_max_attempts.max(1),
                ..RetryPolicy::default()
            },
            ..WorkerConfig::default()
        }
    }

    /// The mail settings every server of a deployment shares (the link key is in the
    /// database).
    async fn settings(
        &self,
        state: &AppState,
        default_public_url: String,
    ) -> Result<MailSettings, Box<dyn std::error::Error>> {
        Ok(MailSettings {
            public_url: self.public_url.clone().unwrap_or(default_public_url),
            link_key: outbox::link_key(state.db.pool()).await?,
            reminders: ReminderPolicy {
                milestone_due_days: self.remind_milestone_days,
                vote_pending_hours: self.remind_vote_hours,
                digest_hour: self.digest_hour,
            },
        })
    }
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub mail: MailArgs,
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply pending migrations.
    Up,
    /// Revert migrations (the last one unless --steps says more).
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
    /// Drop every table and apply all migrations again. Destroys all data.
    Fresh,
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create a user and print a new API token for them (shown once).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        /// `en` or `zh-CN`.
        #[arg(long, default_value = "en")]
        locale: String,
        /// Read a password from the first line of standard input (enables `sessionCreate`).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SeedDataset {
    /// A demo CRM project with its team, for trying the API.
    Demo,
    /// A deterministic portfolio of CRM projects for benchmarks, written in bulk without audit
    /// events or emails. Refused when the database holds bench data already.
    Bench {
        /// How many projects (each with 10 phases, 50 milestones, 30 change requests and 100
        /// defects).
        #[arg(long, default_value_t = 1000)]
        projects: usize,
        /// The same seed gives the same rows, ids included; project n's rows do not depend on
        /// the project count.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli
        .command
        .unwrap_or(Command::Serve(ServeArgs::parse_defaults()))
    {
        Command::Schema => {
            print!("{}", steerco_graphql::schema::sdl());
            Ok(())
        }
        Command::Serve(args) => serve(&cli.database_url, args).await,
        Command::Worker(args) => worker(&cli.database_url, args).await,
        Command::Migrate { action } => migrate(&cli.database_url, action).await,
        Command::User {
            action:
                UserAction::Create {
                    email,
                    name,
                    admin,
                    locale,
                    password_stdin,
                },
        } => {
            let password = if password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let state = open(&cli.database_url).await?;
            let input = service::user::NewUser {
                email,
                name,
                locale: Some(locale),
                admin,
                password,
            };
            let user = service::user::create(&state, None, input)
                .await
                .map_err(explain)?;
            let issued = service::token::issue_for_operator(&state, user.id, "command line")
                .await
                .map_err(explain)?;
            println!(
                "Created {} <{}>{}.",
                user.name,
                user.email,
                if user.admin { " (admin)" } else { "" }
            );
            println!("API token (shown once; send it as `Authorization: Bearer <token>`):");
            println!("{}", issued.token);
            Ok(())
        }
        Command::Seed {
            dataset: SeedDataset::Demo,
        } => {
            let state = open(&cli.database_url).await?;
            crate::seed::demo(&state).await.map_err(explain)?;
            Ok(())
        }
        Command::Seed {
            dataset: SeedDataset::Bench { projects, seed },
        } => {
            let db = crate::db::connect(&cli.database_url).await?;
            crate::db::migrate(&db).await?;
            let size = crate::seed::bench::BenchSize { projects, seed };
            let report = crate::seed::bench::bench(&db, size).await?;
            print!("{report}");
            Ok(())
        }
    }
}

impl ServeArgs {
    /// The defaults and environment, as if `serve` had been typed with no flags.
    fn parse_defaults() -> Self {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            serve: ServeArgs,
        }
        Only::parse_from(["steerco"]).serve
    }
}

fn read_password() -> Result<String, Box<dyn std::error::Error>> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Turns refusals into a readable error for the terminal.
fn explain(error: ServiceError) -> Box<dyn std::error::Error> {
    match error {
        ServiceError::Refused(refusals) => refusals
            .iter()
            .map(|r| {
                if r.field.is_empty() {
                    r.message.clone()
                } else {
                    format!("{}: {}", r.field.join("."), r.message)
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            .into(),
        other => other.to_string().into(),
    }
}

/// Connects and migrates.
async fn open(database_url: &str) -> Result<AppState, Box<dyn std::error::Error>> {
    let db = crate::db::connect(database_url).await?;
    crate::db::migrate(&db).await?;
    let mail = MailSettings {
        link_key: outbox::link_key(&db).await?,
        ..MailSettings::local()
    };
    let state = AppState::new(db, Arc::new(SystemClock)).with_mail(mail);
    Ok(match crate::db::connect_writer(database_url).await? {
        Some(writer) => state.with_writer(writer),
        None => state,
    })
}

async fn serve(database_url: &str, args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    tracing::info!(database = %redact_url(database_url), "opening database");
    let state = open(database_url).await?;
    let mail = args
        .mail
        .settings(&state, format!("http://{}", args.addr))
        .await?;
    let state = state.with_mail(mail);
    let config = ServerConfig {
        addr: args.addr,
        public_url: state.mail.public_url.clone(),
        production: args.production,
        body_limit: args.body_limit,
        limits: Limits {
            max_depth: args.max_depth,
            max_complexity: args.max_complexity,
            max_batch: args.max_batch,
            max_aliases: args.max_aliases,
        },
        request_timeout: std::time::Duration::from_secs(args.request_timeout),
        read_timeout: std::time::Duration::from_secs(args.read_timeout),
        token_memory: std::time::Duration::from_millis(args.token_memory_ms),
        cpu_latency: args.cpu_latency_us.map(CpuLatencyRequest::new),
        rate_limit: std::num::NonZeroU32::new(args.rate_limit).map(|per_second| RateLimit {
            per_second,
            burst: std::num::NonZeroU32::new(args.rate_burst).unwrap_or(per_second),
        }),
        ..ServerConfig::local(args.addr)
    };
    let production = config.production;
    let (stop_worker, worker_stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = if args.worker {
        let worker = Worker::new(state.clone(), args.mail.worker_config())?;
        tracing::info!(to = %worker.destination(), "mail worker started");
        Some(tokio::spawn(worker.run(async {
            let _ = worker_stopped.await;
        })))
    } else {
        None
    };
    let server = BoundServer::bind(config, state).await?;
    let addr = server.local_addr();
    if production {
        tracing::info!(%addr, "serving the GraphQL API at http://{addr}/graphql (production mode)");
    } else {
        tracing::info!(%addr, "serving GraphiQL and the GraphQL API at http://{addr}/graphql");
    }
    let front = FrontRuntime::start()?;
    front.spawn(server, shutdown_signal()).await??;
    // The API has stopped taking changes: let the worker finish the sends in flight.
    let _ = stop_worker.send(());
    if let Some(worker) = worker {
        worker.await?;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn worker(database_url: &str, args: WorkerArgs) -> Result<(), Box<dyn std::error::Error>> {
    tracing::info!(database = %redact_url(database_url), "opening database");
    let state = open(database_url).await?;
    let mail = args
        .mail
        .settings(&state, format!("http://{DEFAULT_ADDR}"))
        .await?;
    let worker = Worker::new(state.with_mail(mail), args.mail.worker_config())?;
    tracing::info!(to = %worker.destination(), "mail worker started");
    worker.run(shutdown_signal()).await;
    Ok(())
}

async fn migrate(
    database_url: &str,
    action: MigrateAction,
) -> Result<(), Box<dyn std::error::Error>> {
    let db = crate::db::connect(database_url).await?;
    match action {
        MigrateAction::Up => crate::db::migrate(&db).await?,
        MigrateAction::Down { steps } => Migrator::down(&db, Some(steps)).await?,
        MigrateAction::Fresh => Migrator::fresh(&db).await?,
        MigrateAction::Status => {
            for migration in Migrator::get_migration_with_status(&db).await? {
                println!(
                    "{:<10} {}",
                    format!("{:?}", migration.status()),
                    migration.name()
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        let cli = Cli::try_parse_from(["steerco", "serve"].iter().chain(args))?;
        match cli.command {
            Some(Command::Serve(serve)) => Ok(serve),
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn a_latency_bound_is_asked_for_only_when_given_and_within_a_second() {
        if std::env::var_os("STEERCO_CPU_LATENCY_US").is_none() {
            assert_eq!(serve_args(&[]).unwrap().cpu_latency_us, None);
        }
        assert_eq!(
            serve_args(&["--cpu-latency-us", "0"])
                .unwrap()
                .cpu_latency_us,
            Some(0)
        );
        assert!(serve_args(&["--cpu-latency-us", "1000001"]).is_err());
        assert!(serve_args(&["--cpu-latency-us", "-1"]).is_err());
    }

    #[test]
    fn a_read_timeout_is_a_second_to_an_hour() {
        if std::env::var_os("STEERCO_READ_TIMEOUT").is_none() {
            assert_eq!(serve_args(&[]).unwrap().read_timeout, 75);
        }
        let given = serve_args(&["--read-timeout", "5"]).unwrap();
        assert_eq!(given.read_timeout, 5);
        assert!(serve_args(&["--read-timeout", "0"]).is_err());
        assert!(serve_args(&["--read-timeout", "3601"]).is_err());
    }
}
