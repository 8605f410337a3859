//! Statement budgets of the read workloads: the dashboard (W1) and the portfolio (W2) issue the
//! same number of SQL statements on a small portfolio and on one ten times larger, with more
//! change requests awaiting a decision, and stay within their budgets (no N+1 anywhere).

use serde_json::{Value, json};
use steerco::seed::bench::{BenchSize, bench};

use crate::support::{TestApp, TestUser};

#[path = "../../benches/workloads/documents.rs"]
mod documents;

/// The portfolio's budget: the token, the page count, the page, and one batched statement
/// each for the plans (phases with their milestones), open change requests and defects.
const W2_BUDGET: u64 = 6;
/// The dashboard's budget: the token, the project with the caller's membership (shared by
/// every field that names it), the plan (phases with milestones), the page of change requests,
/// their ballots with votes, the defect rows, the go-live plans, and the RACI matrix with its
/// active members.
const W1_BUDGET: u64 = 8;

/// Runs `document` as `user` and returns how many statements it took.
async fn statements(app: &TestApp, user: &TestUser, document: &str, variables: Value) -> u64 {
    let before = app.statements.total();
    let response = app.gql(Some(&user.token), document, variables).await;
    assert!(response.get("errors").is_none(), "{response:#}");
    app.statements.total() - before
}

/// Statements of W1 on the busiest bench project and of W2, on a portfolio of `projects`.
async fn dashboard_and_portfolio(projects: usize) -> (u64, u64) {
    let app = TestApp::spawn().await;
    bench(app.db(), BenchSize { projects, seed: 42 })
        .await
        .expect("bench data");
    let admin = app.user("Ada Admin", true).await;
    // The project with the most change requests awaiting a decision: at ten times the data,
    // the dashboard shows more of them, which is where a statement per row would show.
    let portfolio = app
        .ok(
            &admin,
            "{ projects(first: 100) { edges { node { id code openChangeRequestCount } } } }",
            json!({}),
        )
        .await;
    let busiest = portfolio["projects"]["edges"]
        .as_array()
        .expect("projects")
        .iter()
        .map(|edge| &edge["node"])
        .max_by_key(|node| node["openChangeRequestCount"].as_i64())
        .expect("a project")
        .clone();
    let w1 = statements(
        &app,
        &admin,
        documents::W1_DASHBOARD,
        json!({ "code": busiest["code"], "projectId": busiest["id"] }),
    )
    .await;
    let w2 = statements(&app, &admin, documents::W2_PORTFOLIO, json!({})).await;
    (w1, w2)
}

#[tokio::test]
async fn the_dashboard_and_the_portfolio_cost_the_same_statements_at_ten_times_the_data() {
    let (w1_small, w2_small) = dashboard_and_portfolio(4).await;
    let (w1_large, w2_large) = dashboard_and_portfolio(40).await;
    assert_eq!(w2_small, w2_large, "the portfolio grows with its projects");
    assert_eq!(w1_small, w1_large, "the dashboard grows with the data");
    assert!(
        w2_large <= W2_BUDGET,
        "the portfolio took {w2_large} statements"
    );
    assert!(
        w1_large <= W1_BUDGET,
        "the dashboard took {w1_large} statements"
    );
}
