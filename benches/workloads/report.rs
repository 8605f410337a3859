//! The results table (one line per workload and configuration, printed as it is measured and
//! again whole at the end) and the verdict on each target.

use std::time::Duration;

use crate::harness::{Percentiles, Run};

/// One line of the table.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub workload: String,
    pub clients: String,
    pub ops: u64,
    /// Operations per second; `None` where a rate means nothing (a cold start).
    pub rate: Option<f64>,
    pub latency: Option<Percentiles>,
    /// Statements per operation; `None` where the server is another process or the run
    /// mixes workloads.
    pub statements: Option<f64>,
    pub errors: u64,
    pub rss_mb: Option<f64>,
    pub note: String,
}

impl Row {
    /// A row from a timed run.
    pub fn from_run(workload: impl Into<String>, run: &Run, rss_mb: Option<f64>) -> Self {
        Self {
            workload: workload.into(),
            clients: run.clients.to_string(),
            ops: run.ops,
            rate: Some(run.per_second()),
            latency: Percentiles::of(&run.latencies),
            statements: Some(run.statements_per_op()),
            errors: run.errors,
            rss_mb,
            note: run.error_samples.join("; "),
        }
    }

    pub fn note(mut self, note: impl AsRef<str>) -> Self {
        let note = note.as_ref();
        if !note.is_empty() {
            if !self.note.is_empty() {
                self.note.push_str("; ");
            }
            self.note.push_str(note);
        }
        self
    }
}

fn ms(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1_000.0;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.1}")
    }
}

fn or_dash<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "-".to_owned(), show)
}

pub const HEADER: &str = "workload                              clients      ops      ops/s   p50 ms   p95 ms   p99 ms  stmts/op  errors  RSS MB  notes";

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (p50, p95, p99) = match self.latency {
            Some(p) => (ms(p.p50), ms(p.p95), ms(p.p99)),
            None => ("-".to_owned(), "-".to_owned(), "-".to_owned()),
        };
        write!(
            f,
            "{:<37} {:>7} {:>8} {:>10} {:>8} {:>8} {:>8} {:>9} {:>7} {:>7}  {}",
            self.workload,
            self.clients,
            self.ops,
            or_dash(self.rate, |r| format!("{r:.1}")),
            p50,
            p95,
            p99,
            or_dash(self.statements, |s| format!("{s:.2}")),
            self.errors,
            or_dash(self.rss_mb, |mb| format!("{mb:.1}")),
            self.note
        )
    }
}

/// A target of the issue and what was measured against it.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub target: &'static str,
    pub measured: String,
    pub met: bool,
}

/// The rows and verdicts of the whole run.
#[derive(Debug, Default)]
pub struct Table {
    pub rows: Vec<Row>,
    pub verdicts: Vec<Verdict>,
}

impl Table {
    /// Prints `row` now and keeps it for the summary.
    pub fn push(&mut self, row: Row) {
        println!("{row}");
        self.rows.push(row);
    }

    pub fn judge(&mut self, target: &'static str, measured: String, met: bool) {
        self.verdicts.push(Verdict {
            target,
            measured,
            met,
        });
    }

    pub fn print(&self, title: &str) {
        println!();
        println!("{title}");
        println!("{HEADER}");
        for row in &self.rows {
            println!("{row}");
        }
        if !self.verdicts.is_empty() {
            println!();
            println!("targets:");
            for verdict in &self.verdicts {
                println!(
                    "  {:<7} {:<55} {}",
                    if verdict.met { "met" } else { "MISSED" },
                    verdict.target,
                    verdict.measured
                );
            }
        }
    }
}
