//! Pure domain rules: plain types and functions, no database, no GraphQL, no I/O.
//!
//! Value types parse raw input once (`EmailAddress`, `ProjectCode`, ...), lifecycles are one
//! exhaustive `match` per aggregate, and refusals are data ([`Refusal`]) so that the service
//! layer can return every problem at once.

pub mod audit;
pub mod authz;
pub mod change_request;
pub mod clock;
pub mod coded;
pub mod committee;
pub mod credential;
pub mod decision;
pub mod error;
pub mod event;
pub mod go_live;
pub mod idempotency;
pub mod money;
pub mod notification;
pub mod phase;
pub mod phase_template;
pub mod project;
pub mod raci;
pub mod role;
pub mod schedule;
pub mod scope;
pub mod text;
pub mod uat;
pub mod uat_csv;
pub mod user;

pub use error::{Refusal, RefusalCode, Refusals};
