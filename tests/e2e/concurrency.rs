//! Optimistic concurrency under real contention.

use futures_util::future::join_all;
use serde_json::json;

use crate::support::{TestApp, error_code, user_errors};

/// Sixteen editors read version 1 and save at once: one wins, fifteen are told it moved,
/// and nobody sees a busy or locked error.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_updates_with_one_version_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let id = app.project(&pm, "CRM-1").await;
    let update = "mutation($input: ProjectUpdateInput!) { projectUpdate(input: $input) {
        project { version } userErrors { code field currentVersion } } }";
    let attempts = (0..16).map(|n| {
        app.gql(
            Some(&pm.token),
            update,
            json!({ "input": { "id": id, "expectedVersion": 1, "name": format!("Editor {n}") } }),
        )
    });
    let responses = join_all(attempts).await;

    let mut won = 0;
    let mut conflicts = 0;
    for response in &responses {
        assert_eq!(
            error_code(response),
            None,
            "no top-level error expected: {response}"
        );
        let payload = &response["data"]["projectUpdate"];
        if payload["project"].is_object() {
            won += 1;
            assert_eq!(payload["project"]["version"], 2);
        } else {
            assert_eq!(
                user_errors(payload),
                vec![(
                    "CONFLICT".to_owned(),
                    vec!["input".to_owned(), "expectedVersion".to_owned()]
                )]
            );
            assert_eq!(payload["userErrors"][0]["currentVersion"], 2);
            conflicts += 1;
        }
    }
    assert_eq!((won, conflicts), (1, 15));
    // One creation, one membership, one accepted update.
    assert_eq!(
        app.count("audit_event WHERE project_id IS NOT NULL").await,
        3
    );
}

/// Concurrent writers on different projects all land, and each chain stays intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creations_all_land_with_intact_chains() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let create = "mutation($code: String!) { projectCreate(input: { code: $code, name: \"x\", template: SIX_PHASE }) {
        project { id } userErrors { code } } }";
    let responses = join_all((0..12).map(|n| {
        app.gql(
            Some(&pm.token),
            create,
            json!({ "code": format!("CRM-{n}") }),
        )
    }))
    .await;
    for response in &responses {
        let id = response["data"]["projectCreate"]["project"]["id"]
            .as_str()
            .expect("created");
        let data = app
            .ok(
                &pm,
                "query($id: ID!) { auditChainVerify(projectId: $id) { valid eventCount } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(
            data["auditChainVerify"],
            // Creation, membership, six phases.
            json!({ "valid": true, "eventCount": 8 })
        );
    }
}
