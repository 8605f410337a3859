//! `steerco`: see `steerco --help`.

use clap::Parser;
use tracing_subscriber::prelude::*;

/// A GraphQL answer is built from many small allocations (every field's name and value):
/// mimalloc served the dashboard workload with a quarter less CPU per request than glibc's
/// allocator (see benches/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let filter = steerco::logging::log_filter(std::env::var("RUST_LOG").ok().as_deref());
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter.targets)
        .init();
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
