//! Steerco's tables as sea-orm entities: one module per table, columns only.
//!
//! No business rules and no GraphQL here. Status and role columns hold the stable codes that
//! the domain's enums parse (`steerco_graphql::domain`), so each enum has one definition.

pub mod api_token;
pub mod audit_event;
pub mod change_request;
pub mod change_request_comment;
pub mod cost_baseline;
pub mod cutover_task;
pub mod decision;
pub mod decision_vote;
pub mod defect;
pub mod defect_comment;
pub mod deliverable;
pub mod digest_item;
pub mod exit_criterion;
pub mod gate_condition;
pub mod go_live_criterion;
pub mod go_live_plan;
pub mod hypercare_metric;
pub mod idempotency_key;
pub mod metric_reading;
pub mod milestone;
pub mod milestone_dependency;
pub mod notification;
pub mod notification_preference;
pub mod phase;
pub mod project;
pub mod project_member;
pub mod raci_activity;
pub mod raci_assignment;
pub mod schedule_baseline;
pub mod schedule_baseline_entry;
pub mod scheduled_reminder;
pub mod scope_signatory;
pub mod scope_version;
pub mod server_secret;
pub mod test_cycle;
pub mod test_execution;
pub mod test_scenario;
pub mod user;
pub mod vote_delegation;
