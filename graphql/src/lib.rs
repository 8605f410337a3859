//! Steerco's application: pure domain rules ([`domain`]), transactional services
//! ([`service`]) and the GraphQL schema over them ([`schema`]).

// A server's failures are answered (a typed error, an internal error with its request id),
// never a panic; tests may unwrap what they set up.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod domain;
pub mod mail;
pub mod schema;
pub mod service;
