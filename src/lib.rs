//! The Steerco process: configuration, database connection, HTTP server and command line.
//!
//! The application itself (domain rules, services, GraphQL schema) lives in
//! `steerco-graphql`; this crate wires it to the outside world.

// A server's failures are answered (a typed error, an internal error with its request id),
// never a panic; tests may unwrap what they set up.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod answer;
pub mod cli;
pub mod config;
mod connections;
pub mod cpu_latency;
pub mod db;
pub mod links;
pub mod logging;
pub mod rate_limit;
pub mod seed;
pub mod server;
pub mod worker;
