//! The release binary, `steerco serve`, as a process of its own: its cold start (from spawn
//! on a fresh SQLite file, migrations included, to the first 200 from `/health`) and its own
//! peak RSS while W1 runs against it, without the bench's clients in the figure. W5's flood
//! runs against it too ([`Server`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Error;
use crate::harness::{Api, Percentiles, Run, peak_rss_mb};
use crate::reads;
use crate::report::{Row, Table};
use crate::setup::{Bench, Config, http_client};

/// Built by `cargo bench` with the bench profile, like the bench itself.
const BINARY: &str = env!("CARGO_BIN_EXE_steerco");
const COLD_STARTS: usize = 5;
const COLD_START_TARGET: Duration = Duration::from_millis(300);
const RSS_TARGET_MB: f64 = 64.0;

/// A running `steerco serve`, killed when dropped.
pub struct Server {
    child: std::process::Child,
    pub base_url: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Spawns `steerco serve` on `database_url`, rate limits and worker off, logging WARN and
    /// above to a file in `dir`.
    fn spawn(database_url: &str, dir: &Path) -> Result<Self, Error> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = dir.join(format!("serve-{port}.log"));
        let child = Command::new(BINARY)
            .args([
                "serve",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--worker",
                "false",
                "--rate-limit",
                "0",
            ])
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "warn")
            .env("STEERCO_MAIL_DIR", dir.join("mail"))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        Ok(Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            log,
        })
    }

    /// Spawns `steerco serve` on the bench database and waits until it is healthy.
    pub async fn start(bench: &Bench, dir: &Path) -> Result<Self, Error> {
        let mut server = Self::spawn(&bench.database_url, dir)?;
        server
            .wait_healthy(&http_client()?, Duration::from_secs(30))
            .await?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `/health` every millisecond until it answers 200.
    async fn wait_healthy(
        &mut self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        let url = format!("{}/health", self.base_url);
        loop {
            if let Ok(response) = http.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                return Err(format!("steerco serve exited with {status}: {log}").into());
            }
            if Instant::now() > deadline {
                return Err(format!("steerco serve not healthy within {timeout:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Cold start: spawn to the first healthy answer, on a fresh SQLite file each time.
pub async fn cold_start(table: &mut Table) -> Result<(), Error> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()?;
    let mut starts = Vec::with_capacity(COLD_STARTS);
    let mut rss: f64 = 0.0;
    for _ in 0..COLD_STARTS {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("cold.db").display());
        let started = Instant::now();
        let mut server = Server::spawn(&url, dir.path())?;
        server.wait_healthy(&http, Duration::from_secs(10)).await?;
        starts.push(started.elapsed());
        rss = rss.max(peak_rss_mb(Some(server.pid())).unwrap_or_default());
    }
    let latency = Percentiles::of(&starts);
    let worst = latency.map_or(Duration::MAX, |p| p.max);
    table.push(Row {
        workload: "cold start: spawn to /health".to_owned(),
        clients: "1".to_owned(),
        ops: starts.len() as u64,
        rate: None,
        latency,
        statements: None,
        errors: 0,
        rss_mb: Some(rss),
        note: "release binary, fresh SQLite file, all migrations; RSS is the server's".to_owned(),
    });
    table.judge(
        "cold start with migrations <= 300 ms",
        format!(
            "worst {:.0} ms, median {:.0} ms of {COLD_STARTS} (SQLite)",
            worst.as_secs_f64() * 1_000.0,
            latency.map_or(0.0, |p| p.p50.as_secs_f64() * 1_000.0)
        ),
        worst <= COLD_START_TARGET,
    );
    Ok(())
}

/// W1 against `steerco serve` on the bench database: the server's own peak RSS.
pub async fn dashboards(bench: &Bench, config: &Config, table: &mut Table) -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(bench, dir.path()).await?;
    let api = Api::new(http_client()?, &server.base_url, bench.api.token.clone());
    reads::dashboards(
        &api,
        &bench.projects,
        config.clients,
        config.warmup,
        &bench.statements,
    )
    .await?;
    let run: Run = reads::dashboards(
        &api,
        &bench.projects,
        config.clients,
        config.duration,
        &bench.statements,
    )
    .await?;
    let rss = peak_rss_mb(Some(server.pid()));
    let mut row = Row::from_run("W1 dashboard on `steerco serve`", &run, rss)
        .note("separate process; RSS is the server's alone");
    row.statements = None;
    table.push(row);
    table.judge(
        "RSS <= 64 MB under W1 (server process)",
        format!(
            "{:.1} MB peak at {:.0} dashboards/s, {} clients",
            rss.unwrap_or_default(),
            run.per_second(),
            config.clients
        ),
        rss.is_some_and(|mb| mb <= RSS_TARGET_MB),
    );
    Ok(())
}
