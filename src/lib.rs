//! The Steerco process: configuration, database connection, HTTP server and command line.
//!
//! The application itself (domain rules, services, GraphQL schema) lives in
//! `steerco-graphql`; this crate wires it to the outside world.

pub mod answer;
pub mod cli;
pub mod config;
pub mod db;
pub mod links;
pub mod logging;
pub mod rate_limit;
pub mod seed;
pub mod server;
pub mod worker;
