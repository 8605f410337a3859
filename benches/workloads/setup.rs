//! The bench's settings (from the environment) and its fixture: a database (SQLite in a
//! temporary folder, or the empty PostgreSQL database of `BENCH_DATABASE_URL`) with bench data,
//! an administrator with a token, and a Steerco server running in this process on loopback
//! with a statement counter on its connection.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{EntityTrait, QueryOrder};
use steerco::config::ServerConfig;
use steerco::cpu_latency::CpuLatencyRequest;
use steerco::seed::bench::{BenchSize, bench};
use steerco::server::BoundServer;
use steerco_entity::project;
use steerco_graphql::domain::clock::SystemClock;
use steerco_graphql::schema::id::{Kind, encode};
use steerco_graphql::service::notify::MailSettings;
use steerco_graphql::service::user::NewUser;
use steerco_graphql::service::{self, AppState, outbox};
use tempfile::TempDir;

use crate::Error;
use crate::harness::{Api, ServerLog, Statements};

/// What to run and how hard, from `BENCH_*` variables (see `benches/README.md`).
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Option<String>,
    pub projects: usize,
    pub seed: u64,
    /// Each measured run.
    pub duration: Duration,
    /// Before each read run, unmeasured.
    pub warmup: Duration,
    /// Client tasks of W1 and W2 (and of W1 under W5).
    pub clients: usize,
    pub w3_clients: Vec<usize>,
    pub w4_rounds: usize,
    pub abuse_clients: usize,
    pub mails: usize,
    pub mail_concurrency: Vec<usize>,
    /// Times every statement by its SQL and prints the costliest after each workload.
    pub profile_sql: bool,
    /// How many statements the profile prints per workload.
    pub profile_top: usize,
    /// Upper-cased names of the workloads to run; empty runs them all.
    pub only: Vec<String>,
    /// The bound on the processors' wake-up latency the bench's server holds while requests
    /// come, from `STEERCO_CPU_LATENCY_US` as for `steerco serve` (whose spawned servers read
    /// it themselves).
    pub cpu_latency_us: Option<u32>,
}

/// Every workload, in the order they run.
pub const WORKLOADS: [&str; 10] = [
    "COLD", "W1", "SERVER", "W2", "W5", "W3FLOOR", "W3", "W3MAIL", "W4", "W6",
];

impl Config {
    pub fn from_env() -> Result<Self, Error> {
        let only: Vec<String> = var("BENCH_ONLY")
            .map(|list| {
                list.split(',')
                    .map(|name| name.trim().to_ascii_uppercase())
                    .filter(|name| !name.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(unknown) = only.iter().find(|name| !WORKLOADS.contains(&name.as_str())) {
            return Err(format!(
                "BENCH_ONLY: unknown workload {unknown} (known: {})",
                WORKLOADS.join(", ")
            )
            .into());
        }
        Ok(Self {
            database_url: var("BENCH_DATABASE_URL"),
            projects: number("BENCH_PROJECTS", 100)?,
            seed: number("BENCH_SEED", 42)?,
            duration: Duration::from_secs_f64(number("BENCH_DURATION", 10.0)?),
            warmup: Duration::from_secs_f64(number("BENCH_WARMUP", 1.0)?),
            clients: number("BENCH_CLIENTS", 8)?,
            w3_clients: list("BENCH_W3_CLIENTS", &[1, 8, 32])?,
            w4_rounds: number("BENCH_W4_ROUNDS", 10)?,
            abuse_clients: number("BENCH_ABUSE_CLIENTS", 2)?,
            mails: number("BENCH_MAILS", 10_000)?,
            mail_concurrency: list("BENCH_MAIL_CONCURRENCY", &[8, 32])?,
            profile_sql: var("BENCH_PROFILE_SQL").is_some_and(|value| value != "0"),
            profile_top: number("BENCH_PROFILE_TOP", 8)?,
            only,
            cpu_latency_us: var("STEERCO_CPU_LATENCY_US")
                .map(|_| number("STEERCO_CPU_LATENCY_US", 0))
                .transpose()?,
        })
    }

    pub fn runs(&self, workload: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|name| name == workload)
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, Error> {
    match var(name) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("{name}: {text:?} is not a number").into()),
    }
}

fn list(name: &str, default: &[usize]) -> Result<Vec<usize>, Error> {
    match var(name) {
        None => Ok(default.to_vec()),
        Some(text) => text
            .split(',')
            .map(|item| {
                item.trim()
                    .parse()
                    .map_err(|_| format!("{name}: {item:?} is not a number").into())
            })
            .collect(),
    }
}

/// A bench project, as the API names it.
#[derive(Debug, Clone)]
pub struct BenchProject {
    /// Global id.
    pub id: String,
    pub code: String,
    pub status: String,
}

/// The running fixture.
pub struct Bench {
    pub database_url: String,
    pub postgres: bool,
    pub state: AppState,
    pub statements: Statements,
    pub log: ServerLog,
    /// As the administrator.
    pub api: Api,
    pub admin_id: uuid::Uuid,
    pub projects: Vec<BenchProject>,
    /// What seeding wrote, for the header.
    pub seeded: String,
    _dir: TempDir,
}

impl Bench {
    pub async fn start(config: &Config, log: ServerLog) -> Result<Self, Error> {
        let dir = tempfile::tempdir()?;
        let database_url = config.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            )
        });
        let postgres = database_url.starts_with("postgres");
        let mut db = steerco::db::connect(&database_url).await?;
        let statements = Statements::attach(&mut db, config.profile_sql);
        steerco::db::migrate(&db).await?;
        let mail = MailSettings {
            public_url: "http://steerco.bench".to_owned(),
            link_key: outbox::link_key(&db).await.map_err(|e| e.to_string())?,
            ..MailSettings::local()
        };
        let mut state = AppState::new(db, Arc::new(SystemClock)).with_mail(mail);
        if let Some(mut writer) = steerco::db::connect_writer(&database_url).await? {
            statements.count_also(&mut writer);
            state = state.with_writer(writer);
        }
        let report = bench(
            state.db.pool(),
            BenchSize {
                projects: config.projects,
                seed: config.seed,
            },
        )
        .await?;
        let seeded = report
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        let (admin_id, token) =
            user_with_token(&state, "Bench Admin", "bench.admin@example.com", true).await?;
        let projects = project::Entity::find()
            .order_by_asc(project::Column::Code)
            .all(&state.db)
            .await?
            .into_iter()
            .map(|row| BenchProject {
                id: encode(Kind::Project, row.id).to_string(),
                code: row.code,
                status: row.status,
            })
            .collect();

        let server_config = ServerConfig {
            cpu_latency: config.cpu_latency_us.map(CpuLatencyRequest::new),
            ..ServerConfig::local("127.0.0.1:0".parse()?)
        };
        let server = BoundServer::bind(server_config, state.clone()).await?;
        let base_url = format!("http://{}", server.local_addr());
        tokio::spawn(server.run(std::future::pending()));
        let http = http_client()?;
        Ok(Self {
            database_url,
            postgres,
            api: Api::new(http, &base_url, Some(token)),
            state,
            statements,
            log,
            admin_id,
            projects,
            seeded,
            _dir: dir,
        })
    }

    pub fn backend(&self) -> &'static str {
        if self.postgres {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }

    /// Projects in execution: where defects are logged.
    pub fn in_execution(&self) -> Vec<BenchProject> {
        self.projects
            .iter()
            .filter(|project| project.status == "IN_EXECUTION")
            .cloned()
            .collect()
    }
}

/// The client every workload uses: HTTP/1.1 with keep-alive, one connection per client task.
pub fn http_client() -> Result<reqwest::Client, Error> {
    Ok(reqwest::Client::builder()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// Creates a user as the operator does (`steerco user create`) and issues them a token.
pub async fn user_with_token(
    state: &AppState,
    name: &str,
    email: &str,
    admin: bool,
) -> Result<(uuid::Uuid, String), Error> {
    let user = service::user::create(
        state,
        None,
        NewUser {
            email: email.to_owned(),
            name: name.to_owned(),
            admin,
            locale: Some("en".to_owned()),
            ..NewUser::default()
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let issued = service::token::issue_for_operator(state, user.id, "bench")
        .await
        .map_err(|e| e.to_string())?;
    Ok((user.id, issued.token))
}
