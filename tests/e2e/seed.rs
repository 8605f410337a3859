//! `seed demo` builds a usable project, and a second run changes nothing.

use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn the_demo_seed_builds_a_running_project_once() {
    let app = TestApp::spawn().await;
    steerco::seed::demo(&app.state).await.unwrap();
    let rows = app.snapshot().await;
    steerco::seed::demo(&app.state).await.unwrap();
    assert_eq!(app.snapshot().await, rows, "a second seed writes nothing");

    let admin = app.user("Ada Admin", true).await;
    let data = app
        .ok(
            &admin,
            "{ project(code: \"CRM-DEMO\") { id status members { roles user { email locale } } } }",
            json!({}),
        )
        .await;
    let project = &data["project"];
    assert_eq!(project["status"], "IN_EXECUTION");
    assert_eq!(project["members"].as_array().unwrap().len(), 8);
    let id = project["id"].as_str().unwrap();
    let data = app
        .ok(
            &admin,
            "query($id: ID!) { auditChainVerify(projectId: $id) { valid } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["auditChainVerify"]["valid"], true);
}
