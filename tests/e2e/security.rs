//! Probes after the checks of graphql-cop, each asserting the safe behaviour. Covered here:
//! circular fragments, circular introspection, directive overloading, field duplication, trace
//! mode, and mutations over GET. Covered in `http.rs`: alias overloading, batch queries (at most
//! ten), queries over GET (never executed: GET serves GraphiQL in development, 405 in
//! production), GraphiQL, introspection and field suggestions in production mode, CSRF through
//! non-JSON content types (415), and errors that leak no internals.

use serde_json::{Value, json};

use crate::support::{TestApp, error_code};

fn refused(response: &Value) -> bool {
    response.get("data").is_none_or(Value::is_null) && response["errors"].is_array()
}

#[tokio::test]
async fn circular_fragments_are_refused_before_they_run() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let query =
        "{ me { ...A } } fragment A on User { email ...B } fragment B on User { name ...A }";
    let response = app.gql(Some(&user.token), query, json!({})).await;
    assert!(refused(&response), "{response}");
    // The depth limit trips before the cycle check names it; either refusal is safe.
    assert!(
        matches!(
            error_code(&response),
            Some("LIMIT_EXCEEDED" | "GRAPHQL_VALIDATION_FAILED")
        ),
        "{response}"
    );
}

#[tokio::test]
async fn circular_introspection_is_cut_by_the_depth_limit() {
    let app = TestApp::spawn().await;
    let mut nested = String::from("name");
    for _ in 0..10 {
        nested = format!("fields {{ type {{ {nested} }} }}");
    }
    let query = format!("{{ __schema {{ types {{ {nested} }} }} }}");
    let response = app.gql(None, &query, json!({})).await;
    assert!(refused(&response), "{response}");
    assert_eq!(error_code(&response), Some("LIMIT_EXCEEDED"), "{response}");
}

#[tokio::test]
async fn directive_overloading_is_refused() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let directives = "@include(if: true) ".repeat(50);
    let query = format!("{{ me {{ email {directives} }} }}");
    let response = app.gql(Some(&user.token), &query, json!({})).await;
    assert!(refused(&response), "{response}");
    assert_eq!(error_code(&response), Some("LIMIT_EXCEEDED"), "{response}");
}

#[tokio::test]
async fn field_duplication_is_bounded_by_the_complexity_limit() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let duplicated = "email ".repeat(6_000);
    let query = format!("{{ me {{ {duplicated} }} }}");
    let response = app.gql(Some(&user.token), &query, json!({})).await;
    assert!(refused(&response), "{response}");
    assert_eq!(error_code(&response), Some("LIMIT_EXCEEDED"), "{response}");
}

#[tokio::test]
async fn no_trace_mode_reveals_timings_or_resolvers() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let response = app
        .gql(Some(&user.token), "{ me { email } }", json!({}))
        .await;
    assert_eq!(response["data"]["me"]["email"], user.email);
    let extensions = &response["extensions"];
    assert!(
        extensions.is_null()
            || (extensions.get("tracing").is_none() && extensions.get("ftv1").is_none()),
        "{response}"
    );
}

#[tokio::test]
async fn a_mutation_sent_over_get_is_never_executed() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let mutation = "mutation{projectCreate(input:{code:\"CRM-GET\",name:\"x\"}){project{id}}}";
    let response = app
        .client
        .get(format!("{}/graphql", app.base_url))
        .query(&[("query", mutation)])
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_ne!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(app.count("project").await, 0);
}
