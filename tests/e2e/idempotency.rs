//! `Idempotency-Key`: a retried request gets the first answer and changes nothing more; the
//! same key for another request, or while the first still runs, is a `CONFLICT`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, TestUser};

const CREATE: &str = "mutation($code: String!) { projectCreate(input: { code: $code, name: \"Retry me\" }) { project { id code } userErrors { code } } }";

async fn send(
    app: &TestApp,
    who: Option<&TestUser>,
    key: &str,
    code: &str,
) -> (StatusCode, Option<String>, Value) {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .header("idempotency-key", key)
        .json(&json!({ "query": CREATE, "variables": { "code": code } }));
    if let Some(who) = who {
        request = request.bearer_auth(&who.token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, replayed, response.json().await.unwrap())
}

#[tokio::test]
async fn a_retried_mutation_answers_the_same_and_changes_nothing_more() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let (status, replayed, first) = send(&app, Some(&pm), "k-1", "CRM-1").await;
    assert_eq!((status, replayed), (StatusCode::OK, None));
    let projects = app.count("project").await;
    let audit = app.count("audit_event").await;
    let (status, replayed, again) = send(&app, Some(&pm), "k-1", "CRM-1").await;
    assert_eq!(
        (status, replayed.as_deref()),
        (StatusCode::OK, Some("true"))
    );
    assert_eq!(again, first);
    assert_eq!(app.count("project").await, projects);
    assert_eq!(app.count("audit_event").await, audit);

    // The same key for another request is refused; so is a key without a token.
    let (status, _, body) = send(&app, Some(&pm), "k-1", "CRM-2").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
    let (status, _, body) = send(&app, None, "k-2", "CRM-2").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    let (status, _, _) = send(&app, Some(&pm), "bad key", "CRM-2").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Keys belong to their user: another user's same key is theirs alone.
    let other = app.user("Lin Mei", false).await;
    let (status, replayed, mine) = send(&app, Some(&other), "k-1", "CRM-3").await;
    assert_eq!((status, replayed), (StatusCode::OK, None));
    assert_eq!(mine["data"]["projectCreate"]["project"]["code"], "CRM-3");

    // A day later the key is free again.
    app.clock.advance(chrono::Duration::hours(24));
    let (status, replayed, later) = send(&app, Some(&pm), "k-1", "CRM-4").await;
    assert_eq!((status, replayed), (StatusCode::OK, None));
    assert_eq!(later["data"]["projectCreate"]["project"]["code"], "CRM-4");
}

#[tokio::test]
async fn concurrent_retries_run_the_mutation_once() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let answers = futures_util::future::join_all(
        (0..8).map(|_| send(&app, Some(&pm), "same-key", "CRM-RACE")),
    )
    .await;
    assert_eq!(app.count("project").await, 1);
    let created: Vec<&Value> = answers
        .iter()
        .filter(|(status, replayed, _)| *status == StatusCode::OK && replayed.is_none())
        .map(|(_, _, body)| body)
        .collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    for (status, replayed, body) in &answers {
        match *status {
            StatusCode::OK if replayed.is_some() => assert_eq!(body, created[0]),
            StatusCode::OK => {}
            StatusCode::CONFLICT => {
                assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
}
