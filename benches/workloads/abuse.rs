//! W5: abusive requests (too deep, too many aliases, too big a batch, a page of 100,000,000),
//! first on a quiet server, one after another, to count their SQL statements and time their
//! refusal, then from a few clients flooding `steerco serve` while W1 runs, to time their
//! refusal under load and see what they cost the dashboard's throughput.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Error;
use crate::harness::{Api, Percentiles, Run, Statements, drive, peak_rss_mb, reset_peak_rss};
use crate::process::Server;
use crate::reads;
use crate::report::{Row, Table};
use crate::setup::{Bench, Config, http_client};

/// Requests of each kind, with and without a token, on the quiet server.
const QUIET_REQUESTS: usize = 200;
/// The W5 target: refused within 2 ms, without SQL.
const TARGET: Duration = Duration::from_millis(2);

/// One abusive request.
struct Abuse {
    name: &'static str,
    body: Value,
}

fn abuses() -> Vec<Abuse> {
    // Introspection nested 18 deep (the limit is 16): __schema, types, fields, type, 13 times
    // ofType, name.
    let mut deep = "name".to_owned();
    for _ in 0..13 {
        deep = format!("ofType {{ {deep} }}");
    }
    let deep = format!("{{ __schema {{ types {{ fields {{ type {{ {deep} }} }} }} }} }}");
    // 31 aliases (the limit is 30), each a query that would read the database.
    let aliases: String = (0..31)
        .map(|n| format!("a{n}: me {{ id name }} "))
        .collect();
    let one = json!({ "query": "{ me { id } }" });
    vec![
        Abuse {
            name: "depth 18",
            body: json!({ "query": deep }),
        },
        Abuse {
            name: "31 aliases",
            body: json!({ "query": format!("{{ {aliases} }}") }),
        },
        Abuse {
            name: "batch of 11",
            body: Value::Array(vec![one; 11]),
        },
        Abuse {
            name: "first: 100000000",
            body: json!({ "query": "{ projects(first: 100000000) { edges { node { id name } } } }" }),
        },
    ]
}

/// Refusals that cost no work: over a limit, or (for a field that needs a caller) no token.
const REFUSALS: [&str; 2] = ["LIMIT_EXCEEDED", "UNAUTHENTICATED"];

/// The refusal's code when the request was refused without data.
fn refused(answer: Result<crate::harness::Answer, String>) -> Result<String, String> {
    let answer = answer?;
    match answer.error_code() {
        Some(code) if REFUSALS.contains(&code) && answer.body["data"].is_null() => {
            Ok(code.to_owned())
        }
        Some(code) if REFUSALS.contains(&code) => Err(format!("{code}, but data came back")),
        code => Err(format!("HTTP {} {code:?}: not refused", answer.status)),
    }
}

pub async fn run(bench: &Bench, config: &Config, table: &mut Table) -> Result<(), Error> {
    let kinds = abuses();
    let mut worst = Duration::ZERO;
    let mut most_statements: f64 = 0.0;
    let mut failures = 0;
    for kind in &kinds {
        for (who, api) in [
            ("anonymous", bench.api.with_token(None)),
            ("with token", bench.api.clone()),
        ] {
            let mut run = Run {
                clients: 1,
                ..Run::default()
            };
            let before = bench.statements.total();
            let mut codes = Vec::new();
            let started = Instant::now();
            for _ in 0..QUIET_REQUESTS {
                let sent = Instant::now();
                let outcome = refused(api.post(&kind.body).await);
                run.latencies.push(sent.elapsed());
                match outcome {
                    Ok(code) => Run::sample(&mut codes, code),
                    Err(reason) => {
                        run.errors += 1;
                        Run::sample(&mut run.error_samples, reason);
                    }
                }
            }
            run.elapsed = started.elapsed();
            run.ops = run.latencies.len() as u64;
            run.statements = bench.statements.total() - before;
            if let Some(p) = Percentiles::of(&run.latencies) {
                worst = worst.max(p.p99);
            }
            most_statements = most_statements.max(run.statements_per_op());
            failures += run.errors;
            table.push(
                Row::from_run(format!("W5 quiet: {} ({who})", kind.name), &run, None)
                    .note(format!("refused as {}", codes.join(", "))),
            );
        }
    }
    table.judge(
        "W5 refused in < 2 ms (p99, quiet) with no SQL",
        format!(
            "worst p99 {:.2} ms, at most {most_statements:.2} statements per refusal, {failures} not refused",
            worst.as_secs_f64() * 1_000.0
        ),
        worst < TARGET && most_statements == 0.0 && failures == 0,
    );

    // The flood runs against `steerco serve` as deployed, its abusive clients cycling through
    // the kinds, half with a token, while W1 runs.
    let dir = tempfile::tempdir()?;
    let server = Server::start(bench, dir.path()).await?;
    let api = Api::new(http_client()?, &server.base_url, bench.api.token.clone());
    let dashboards = |duration| {
        reads::dashboards(
            &api,
            &bench.projects,
            config.clients,
            duration,
            &bench.statements,
        )
    };
    dashboards(config.warmup).await?;
    let alone = dashboards(config.duration).await?;
    let mut alone_row = Row::from_run("W1 on `steerco serve` (baseline for W5)", &alone, None);
    alone_row.statements = None;
    table.push(alone_row);
    let alone = alone.per_second();
    reset_peak_rss(Some(server.pid()));
    let flood = flood(
        server.base_url.clone(),
        bench.api.token.clone(),
        kinds.into_iter().map(|kind| kind.body).collect(),
        config.abuse_clients,
        config.duration,
    );
    let dashboards = dashboards(config.duration);
    let (flood, dashboards) = tokio::join!(flood, dashboards);
    let (flood, dashboards) = (flood?, dashboards?);
    let rss = peak_rss_mb(Some(server.pid()));
    let mut flood_row = Row::from_run("W5 abuse during W1", &flood, rss)
        .note("all four kinds, half with a token; `steerco serve`");
    // That server's statements are not counted here; the quiet rows count the abuse's.
    flood_row.statements = None;
    table.push(flood_row);
    let mut w1_row = Row::from_run("W1 dashboard during W5 abuse", &dashboards, rss).note(format!(
        "{:.0} % of W1 alone ({alone:.1}/s)",
        dashboards.per_second() / alone.max(f64::EPSILON) * 100.0
    ));
    w1_row.statements = None;
    table.push(w1_row);
    if let Some(p) = Percentiles::of(&flood.latencies) {
        table.judge(
            "W5 refused in < 2 ms (p99) while W1 runs",
            format!(
                "p50 {:.2} ms, p99 {:.2} ms, {} not refused",
                p.p50.as_secs_f64() * 1_000.0,
                p.p99.as_secs_f64() * 1_000.0,
                flood.errors
            ),
            p.p99 < TARGET && flood.errors == 0,
        );
    }
    Ok(())
}

/// The abusive clients, on a thread and a runtime of their own, as if on other machines: on
/// the bench's runtime each refusal would wait behind the W1 clients decoding dashboards,
/// and the figure would time the bench rather than the server.
async fn flood(
    base_url: String,
    token: Option<String>,
    bodies: Arc<[Value]>,
    clients: usize,
    duration: Duration,
) -> Result<Run, Error> {
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let signed_in = Api::new(http_client()?, &base_url, token);
            let anonymous = signed_in.with_token(None);
            // Statements of the spawned server are not seen from here.
            let unseen = Statements::Counter(Default::default());
            drive(clients, duration, &unseen, move |client, iteration| {
                let api = if (client + iteration as usize).is_multiple_of(2) {
                    anonymous.clone()
                } else {
                    signed_in.clone()
                };
                let body = bodies[iteration as usize % bodies.len()].clone();
                async move { refused(api.post(&body).await).map(drop) }
            })
            .await
        })
    })
    .await?
}
