//! `steerco`: see `steerco --help`.

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// A GraphQL answer is built from many small allocations (every field's name and value):
/// mimalloc served the dashboard workload with a quarter less CPU per request than glibc's
/// allocator (see benches/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
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
