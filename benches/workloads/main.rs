//! The workloads of the performance targets, W1 to W6, against a real Steerco server over
//! HTTP on loopback: `cargo bench --bench workloads` (see `benches/README.md`).
//!
//! The server runs in this process ([`setup`]), over SQLite in a temporary folder or the empty
//! PostgreSQL database of `BENCH_DATABASE_URL`, with `BENCH_PROJECTS` bench projects, rate
//! limits off, and a statement counter on its connection. Client tasks drive it with reqwest
//! ([`harness`]). The release binary is also started on its own ([`process`]) for the cold
//! start, the server's own memory under W1, and W5's flood.
//!
//! - COLD: `steerco serve` from spawn to its first healthy answer, on a fresh SQLite file.
//! - W1: project dashboards ([`reads`]); SERVER: W1 again, against `steerco serve`.
//! - W2: the portfolio ([`reads`]).
//! - W5: abusive requests, alone and while W1 runs against `steerco serve` ([`abuse`]).
//! - W3: logging a critical defect from 1, 8 and 32 clients ([`writes`]); W3MAIL: the same
//!   while a delivery worker sends the defects' emails to an SMTP server on loopback;
//!   W3FLOOR: the requests of W3's clients with all but their command taken away.
//! - W4: 32 committee members racing to approve a change request ([`writes`]).
//! - W6: draining the outbox to an SMTP server on loopback ([`mail`]).
//!
//! Each line reports operations, their rate, p50/p95/p99 latency as the client saw it, SQL
//! statements per operation, failed operations, and peak RSS (VmHWM, reset before each
//! workload; for in-process rows it counts the bench's clients too).

mod abuse;
mod documents;
mod harness;
mod mail;
mod percentiles;
mod process;
mod reads;
mod report;
mod setup;
mod writes;

#[allow(dead_code, unused_imports)]
#[path = "../../tests/e2e/smtp.rs"]
mod smtp;

use harness::{ServerLog, peak_rss_mb, reset_peak_rss};
use report::{HEADER, Row, Table};
use setup::{Bench, Config};
use smtp::SmtpServer;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The server in this process allocates as `steerco` does (`src/main.rs`), so that its
/// figures are the shipped server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The RSS target under W1, for the in-process figure.
const RSS_TARGET_MB: f64 = 64.0;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // SAFETY: nothing has opened a database yet; as `steerco` does (`src/main.rs`).
    unsafe { steerco::db::configure_sqlite_library() }?;
    let config = Config::from_env()?;
    let log = ServerLog::install();
    let mut table = Table::default();
    println!("{HEADER}");
    if config.runs("COLD") {
        process::cold_start(&mut table).await?;
    }
    // Every workload but the cold start runs against the bench's server.
    let needs_server = setup::WORKLOADS
        .iter()
        .filter(|name| **name != "COLD")
        .any(|name| config.runs(name));
    if !needs_server {
        table.print("cold start only");
        return Ok(());
    }
    let bench = Bench::start(&config, log).await?;
    let title = format!(
        "{} backend, {} bench projects (seed {}), {:.0} s per run, {} read clients; {}",
        bench.backend(),
        config.projects,
        config.seed,
        config.duration.as_secs_f64(),
        config.clients,
        bench.seeded
    );
    println!("{title}");

    if config.runs("W1") {
        reads::dashboards(
            &bench.api,
            &bench.projects,
            config.clients,
            config.warmup,
            &bench.statements,
        )
        .await?;
        reset_peak_rss(None);
        bench.statements.reset_profile();
        let run = reads::dashboards(
            &bench.api,
            &bench.projects,
            config.clients,
            config.duration,
            &bench.statements,
        )
        .await?;
        let rss = peak_rss_mb(None);
        table.push(
            Row::from_run("W1 dashboard", &run, rss).note("RSS: server and clients in one process"),
        );
        table.judge(
            "RSS <= 64 MB under W1 (bench process, clients included)",
            format!("{:.1} MB peak", rss.unwrap_or_default()),
            rss.is_some_and(|mb| mb <= RSS_TARGET_MB),
        );
        print_profile(&bench, &config, &table, table.rows.len() - 1);
    }
    if config.runs("SERVER") {
        process::dashboards(&bench, &config, &mut table).await?;
    }
    if config.runs("W2") {
        reads::portfolios(
            &bench.api,
            bench.projects.len(),
            config.clients,
            config.warmup,
            &bench.statements,
        )
        .await?;
        reset_peak_rss(None);
        bench.statements.reset_profile();
        let run = reads::portfolios(
            &bench.api,
            bench.projects.len(),
            config.clients,
            config.duration,
            &bench.statements,
        )
        .await?;
        table.push(Row::from_run(
            "W2 portfolio (50 projects)",
            &run,
            peak_rss_mb(None),
        ));
        print_profile(&bench, &config, &table, table.rows.len() - 1);
    }
    if config.runs("W5") {
        let first = table.rows.len();
        bench.statements.reset_profile();
        abuse::run(&bench, &config, &mut table).await?;
        print_profile(&bench, &config, &table, first);
    }
    if config.runs("W3FLOOR") {
        writes::floor(&bench, &config.w3_clients, config.duration, &mut table).await?;
    }
    if config.runs("W3") {
        let first = table.rows.len();
        bench.statements.reset_profile();
        writes::defects(
            &bench,
            &config.w3_clients,
            config.duration,
            writes::Delivery::Off,
            &mut table,
        )
        .await?;
        print_profile(&bench, &config, &table, first);
    }
    if config.runs("W3MAIL") {
        let first = table.rows.len();
        bench.statements.reset_profile();
        // Only the emails of this run's defects are due: the worker starts with no backlog.
        mail::postpone_pending(&bench).await?;
        let server = SmtpServer::start().await;
        writes::defects(
            &bench,
            &config.w3_clients,
            config.duration,
            writes::Delivery::To(&server),
            &mut table,
        )
        .await?;
        print_profile(&bench, &config, &table, first);
    }
    if config.runs("W4") {
        let first = table.rows.len();
        bench.statements.reset_profile();
        writes::ballots(&bench, config.w4_rounds, &mut table).await?;
        print_profile(&bench, &config, &table, first);
    }
    if config.runs("W6") {
        let first = table.rows.len();
        bench.statements.reset_profile();
        mail::drain(&bench, config.mails, &config.mail_concurrency, &mut table).await?;
        print_profile(&bench, &config, &table, first);
    }
    let logged = bench.log.count();
    if logged.events > 0 {
        println!(
            "server log: {} warnings or errors ({} busy/locked), e.g. {:?}",
            logged.events,
            logged.busy,
            bench.log.samples()
        );
    }
    table.print(&title);
    Ok(())
}

/// With `BENCH_PROFILE_SQL`: the statements that took longest since the profile was reset,
/// per operation of the rows from `first` on (rows without a rate are not operations).
fn print_profile(bench: &Bench, config: &Config, table: &Table, first: usize) {
    let ops = table.rows[first..]
        .iter()
        .filter(|row| row.rate.is_some())
        .map(|row| row.ops)
        .sum();
    for line in bench.statements.top(config.profile_top, ops) {
        println!("    sql {line}");
    }
}
