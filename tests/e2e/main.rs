//! End-to-end tests: a real server over HTTP on a fresh database per test (SQLite, or
//! PostgreSQL when `TEST_DATABASE_URL` is set).

mod audit;
mod auth;
mod authz_matrix;
mod budget;
mod change_requests;
mod concurrency;
mod go_live;
mod http;
mod idempotency;
mod members;
mod migrations;
mod milestones;
mod notifications;
mod phases;
mod projects;
mod property;
mod raci;
mod scope;
mod security;
mod seed;
mod smtp;
mod support;
mod uat;
mod walkthrough;
