//! Steerco's tables as sea-orm entities: one module per table, columns only.
//!
//! No business rules and no GraphQL here. Status and role columns hold the stable codes that
//! the domain's enums parse (`steerco_graphql::domain`), so each enum has one definition.

pub mod api_token;
pub mod audit_event;
pub mod project;
pub mod project_member;
pub mod user;
