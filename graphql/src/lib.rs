//! Steerco's application: pure domain rules ([`domain`]), transactional services
//! ([`service`]) and the GraphQL schema over them ([`schema`]).

pub mod domain;
pub mod mail;
pub mod schema;
pub mod service;
