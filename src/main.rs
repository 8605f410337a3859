//! `steerco`: see `steerco --help`.

// A server's failures are answered (a typed error, an internal error with its request id),
// never a panic; tests may unwrap what they set up.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::prelude::*;

/// A GraphQL answer is built from many small allocations (every field's name and value):
/// mimalloc served the dashboard workload with a quarter less CPU per request than glibc's
/// allocator (see docs/performance-history.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let filter = steerco::logging::log_filter(std::env::var("RUST_LOG").ok().as_deref());
    let log_lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    // Colours are for a terminal: in a file or a journal their escape codes are noise.
    let log_lines = if std::io::stderr().is_terminal() {
        log_lines
    } else {
        log_lines.with_ansi(false)
    };
    tracing_subscriber::registry()
        .with(log_lines)
        .with(filter.targets)
        .init();
    // SAFETY: nothing has opened a database yet, and only the CLI below opens one.
    if let Err(error) = unsafe { steerco::db::configure_sqlite_library() } {
        tracing::warn!("{error}");
    }
    for directive in filter.ignored {
        eprintln!(
            "RUST_LOG: ignored {directive:?} (targets and levels only, e.g. steerco=debug,info)"
        );
    }
    let cli = steerco::cli::Cli::parse();
    match steerco::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
