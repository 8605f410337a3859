//! W1 (the project dashboard) and W2 (the portfolio): the read workloads, sent by the
//! administrator (who sees every project) with the documents of `documents.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::Error;
use crate::documents::{W1_DASHBOARD, W2_PORTFOLIO};
use crate::harness::{Api, Run, Statements, drive};
use crate::setup::BenchProject;

/// W1: each request shows the dashboard of the next project in turn, across the portfolio.
pub async fn dashboards(
    api: &Api,
    projects: &[BenchProject],
    clients: usize,
    duration: Duration,
    statements: &Statements,
) -> Result<Run, Error> {
    let api = api.clone();
    let projects: Arc<[BenchProject]> = projects.into();
    let next = Arc::new(AtomicUsize::new(0));
    drive(clients, duration, statements, move |_, _| {
        let api = api.clone();
        let project = projects[next.fetch_add(1, Ordering::Relaxed) % projects.len()].clone();
        async move {
            let data = api
                .data(
                    W1_DASHBOARD,
                    json!({ "code": project.code, "projectId": project.id }),
                )
                .await?;
            if data["project"]["id"].is_null() || data["raciMatrix"].is_null() {
                return Err(format!("no dashboard for {}", project.code));
            }
            Ok(())
        }
    })
    .await
}

/// W2: the portfolio's first page of fifty projects, again and again.
pub async fn portfolios(
    api: &Api,
    projects: usize,
    clients: usize,
    duration: Duration,
    statements: &Statements,
) -> Result<Run, Error> {
    let api = api.clone();
    let expected = projects.min(50);
    drive(clients, duration, statements, move |_, _| {
        let api = api.clone();
        async move {
            let data = api.data(W2_PORTFOLIO, json!({})).await?;
            let shown = data["projects"]["edges"].as_array().map_or(0, Vec::len);
            if shown != expected {
                return Err(format!("{shown} projects shown, {expected} expected"));
            }
            Ok(())
        }
    })
    .await
}
