//! `steerco`: see `steerco --help`.

use clap::Parser;
use tracing_subscriber::{
    filter::{LevelFilter, Targets},
    prelude::*,
};

/// A GraphQL answer is built from many small allocations (every field's name and value):
/// mimalloc served the dashboard workload with a quarter less CPU per request than glibc's
/// allocator (see benches/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(log_filter())
        .init();
    let cli = steerco::cli::Cli::parse();
    match steerco::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The log filter `RUST_LOG` names (targets and levels, `steerco=debug,info`), `info` when
/// it is unset, blank or unreadable.
///
/// A filter of targets and levels is decided once per log statement. A filter that may
/// depend on spans (tracing-subscriber's `EnvFilter`) is consulted each time a span is
/// entered or left, and sqlx enters the request's span at every poll of every statement: 1.4 %
/// of the server's CPU under the dashboard workload (see benches/README.md).
fn log_filter() -> Targets {
    let default = Targets::new().with_default(LevelFilter::INFO);
    match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => spec.parse().unwrap_or_else(|error| {
            eprintln!("RUST_LOG ignored ({error}); logging at info");
            default
        }),
        _ => default,
    }
}
