//! Probes after the checks of graphql-cop, each asserting the safe behaviour. Covered here:
//! circular fragments, circular introspection, directive overloading, field duplication, trace
//! mode, and mutations over GET. Covered in `http.rs`: alias overloading, batch queries (at most
//! ten), queries over GET (never executed: GET serves GraphiQL in development, 405 in
//! production), GraphiQL, introspection and field suggestions in production mode, CSRF through
//! non-JSON content types (415), and errors that leak no internals.

use serde_json::{Value, json};

use std::num::NonZeroU32;

use steerco::rate_limit::RateLimit;

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

/// A small deterministic generator, so a failing case can be replayed from its index.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[tokio::test]
async fn mangled_documents_and_variables_never_fail_internally() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let corpus = [
        "{ me { id email name } }",
        "query($c: String!) { project(code: $c) { id name phases { name milestones { name } } } }",
        "query($n: Int) { projects(first: $n) { totalCount edges { cursor node { code } } } }",
        "mutation($i: ProjectCreateInput!) { projectCreate(input: $i) { project { id } userErrors { code field } } }",
        "query($id: ID!) { node(id: $id) { id ... on Project { code } } }",
        "{ __type(name: \"Project\") { fields { name } } }",
    ];
    let tokens = [
        "{",
        "}",
        "(",
        ")",
        ":",
        "$c",
        "$n",
        "...",
        "@include(if: true)",
        "@skip(if: $x)",
        "1e309",
        "-1",
        "\"\\u0000\"",
        "null",
        "[",
        "]",
        "first: 1000000000",
        "__typename",
        "on",
        "fragment",
        "!",
        "=",
        "#",
        "\u{1F600}",
        "\"unterminated",
    ];
    let values = [
        json!(null),
        json!(-1),
        json!(1_000_000_000_000u64),
        json!(1.5),
        json!("CRM-1"),
        json!(""),
        json!("x".repeat(5_000)),
        json!([1, 2]),
        json!({ "code": "CRM-\u{0}", "name": "\u{202e}" }),
        json!({ "code": "CRM-2", "name": "Ok", "budget": { "amount": "1e400", "currency": "XX" } }),
        json!(true),
    ];
    let mut random = XorShift(0x5EED_CAFE_F00D_D00D);
    for case in 0..300 {
        let mut document: Vec<char> = corpus[random.below(corpus.len())].chars().collect();
        for _ in 0..1 + random.below(4) {
            let at = random.below(document.len() + 1);
            match random.below(3) {
                0 if at < document.len() => {
                    let end = (at + 1 + random.below(8)).min(document.len());
                    document.drain(at..end);
                }
                1 => {
                    let token = tokens[random.below(tokens.len())];
                    document.splice(at..at, format!(" {token} ").chars());
                }
                _ => {
                    let end = (at + random.below(12)).min(document.len());
                    let copy: Vec<char> = document[at..end].to_vec();
                    document.splice(at..at, copy);
                }
            }
        }
        let document: String = document.into_iter().collect();
        let variables = json!({
            "c": values[random.below(values.len())],
            "n": values[random.below(values.len())],
            "i": values[random.below(values.len())],
            "id": values[random.below(values.len())],
            "x": values[random.below(values.len())],
        });
        let response = app.gql(Some(&user.token), &document, variables).await;
        let codes: Vec<&str> = response["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["extensions"]["code"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            !codes.contains(&"INTERNAL"),
            "case {case}: {document}\n{response}"
        );
        let errors = response["errors"].as_array().map_or(0, Vec::len);
        assert_eq!(
            codes.len(),
            errors,
            "case {case}: every error has a code\n{response}"
        );
    }
    // Still serving.
    let response = app
        .gql(Some(&user.token), "{ me { email } }", json!({}))
        .await;
    assert_eq!(response["data"]["me"]["email"], user.email);
}

/// A server whose callers may send 3 requests at once, then 1 a second.
async fn limited_to_one_a_second_in_bursts_of_three() -> TestApp {
    TestApp::spawn_with(|config| {
        config.rate_limit = Some(RateLimit {
            per_second: NonZeroU32::MIN,
            burst: NonZeroU32::new(3).unwrap(),
        })
    })
    .await
}

#[tokio::test]
async fn each_caller_is_held_to_its_own_rate() {
    let app = limited_to_one_a_second_in_bursts_of_three().await;
    let anna = app.user("Anna Berg", false).await;
    let omar = app.user("Omar Haddad", false).await;
    for _ in 0..3 {
        let response = app
            .gql(Some(&anna.token), "{ me { email } }", json!({}))
            .await;
        assert_eq!(response["data"]["me"]["email"], anna.email, "{response}");
    }
    let response = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth(&anna.token)
        .json(&json!({ "query": "{ me { email } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body}");
    // Another user, and a caller without a token, draw from their own buckets.
    let response = app
        .gql(Some(&omar.token), "{ me { email } }", json!({}))
        .await;
    assert_eq!(response["data"]["me"]["email"], omar.email, "{response}");
    let response = app.gql(None, "{ __typename }", json!({})).await;
    assert!(response["errors"].is_null(), "{response}");
}

/// A token that is not one is refused (401), and each such request draws from its address's
/// bucket: a caller cannot make the server read made-up tokens faster than it may send
/// requests without one.
#[tokio::test]
async fn requests_with_bad_tokens_draw_from_their_address_bucket() {
    let app = limited_to_one_a_second_in_bursts_of_three().await;
    let send = |token: &'static str| {
        app.client
            .post(format!("{}/graphql", app.base_url))
            .bearer_auth(token)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(send("stc_made_up").await.unwrap().status(), 401);
    }
    let response = send("stc_made_up").await.unwrap();
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body}");
    let response = app.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(
        error_code(&response),
        Some("RATE_LIMITED"),
        "the same address: {response}"
    );
    let anna = app.user("Anna Berg", false).await;
    let response = app
        .gql(Some(&anna.token), "{ me { email } }", json!({}))
        .await;
    assert_eq!(response["data"]["me"]["email"], anna.email, "{response}");
}

#[tokio::test]
async fn each_answer_reports_its_cost_and_depth_scaled_by_page_size() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let cost = |first: u32| {
        let app = &app;
        let token = user.token.clone();
        async move {
            let query =
                format!("{{ projects(first: {first}) {{ edges {{ node {{ code name }} }} }} }}");
            let response = app.gql(Some(&token), &query, json!({})).await;
            let analyzer = response["extensions"]["analyzer"].clone();
            assert!(analyzer["depth"].as_u64().is_some(), "{response}");
            analyzer["complexity"].as_u64().expect("a cost")
        }
    };
    let (one, fifty) = (cost(1).await, cost(50).await);
    assert!(
        fifty > one * 10,
        "a page of 50 costs more than one of 1: {one} vs {fifty}"
    );
}

/// Nothing of a project reaches a non-member: not through `node` or `nodes` for any object the
/// project's audit trail names, not through any root that takes the project, not by its code,
/// not in `projects`, not in `pendingVotes`; and the answers for real objects are exactly the
/// answers for made-up ones, so not even existence leaks.
#[tokio::test]
async fn a_non_member_reaches_nothing_of_a_project() {
    use steerco_graphql::schema::id::encode_named;
    let app = TestApp::spawn().await;
    steerco::seed::demo(&app.state).await.unwrap();
    let admin = app.user("Ada Admin", true).await;
    let stranger = app.user("Out Sider", false).await;
    let data = app
        .ok(&admin, "{ project(code: \"CRM-DEMO\") { id } }", json!({}))
        .await;
    let project = data["project"]["id"].as_str().unwrap().to_owned();

    // Every object of the project, as the audit trail names them.
    let mut ids = std::collections::BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let page = app
            .ok(&admin, "query($p: ID!, $a: String) { auditEvents(projectId: $p, first: 100, after: $a) { pageInfo { hasNextPage endCursor } edges { node { entityType entityId } } } }", json!({ "p": project, "a": after }))
            .await;
        for edge in page["auditEvents"]["edges"].as_array().unwrap() {
            let uuid = uuid::Uuid::parse_str(edge["node"]["entityId"].as_str().unwrap()).unwrap();
            if let Some(id) = encode_named(edge["node"]["entityType"].as_str().unwrap(), uuid) {
                ids.insert(id.to_string());
            }
        }
        let info = &page["auditEvents"]["pageInfo"];
        if info["hasNextPage"] != true {
            break;
        }
        after = info["endCursor"].as_str().map(str::to_owned);
    }
    assert!(
        ids.len() > 100,
        "the demo names many objects: {}",
        ids.len()
    );
    let visible = app
        .ok(
            &admin,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ids.iter().take(100).collect::<Vec<_>>() }),
        )
        .await;
    assert!(
        visible["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| !n.is_null()),
        "the admin sees them"
    );

    for id in &ids {
        let response = app
            .gql(
                Some(&stranger.token),
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert!(
            response["data"]["node"].is_null() && response.get("errors").is_none(),
            "{id}: {response}"
        );
    }
    let all: Vec<&String> = ids.iter().collect();
    for chunk in all.chunks(100) {
        let response = app
            .gql(
                Some(&stranger.token),
                "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                json!({ "ids": chunk }),
            )
            .await;
        assert!(
            response["data"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .all(Value::is_null),
            "{response}"
        );
    }

    let made_up = steerco_graphql::schema::id::encode(
        steerco_graphql::schema::id::Kind::Project,
        uuid::Uuid::now_v7(),
    )
    .to_string();
    let roots = [
        "query($p: ID!) { project(id: $p) { id } }",
        "query($p: ID!) { raciMatrix(projectId: $p) { valid } }",
        "query($p: ID!) { uatReadiness(projectId: $p) { ready } }",
        "query($p: ID!) { auditEvents(projectId: $p, first: 1) { totalCount } }",
        "query($p: ID!) { auditChainVerify(projectId: $p) { valid } }",
        "query($p: ID!) { notifications(projectId: $p, first: 1) { totalCount } }",
    ];
    for query in roots {
        let real = app
            .gql(Some(&stranger.token), query, json!({ "p": project }))
            .await;
        let fake = app
            .gql(Some(&stranger.token), query, json!({ "p": made_up }))
            .await;
        assert_eq!(real, fake, "{query}");
        assert!(real.get("errors").is_none(), "{query}: {real}");
    }
    let by_code = app
        .gql(Some(&stranger.token), "{ project(code: \"CRM-DEMO\") { id } projects(first: 100) { totalCount } pendingVotes { id } }", json!({}))
        .await;
    assert_eq!(
        by_code["data"],
        json!({ "project": null, "projects": { "totalCount": 0 }, "pendingVotes": [] }),
        "{by_code}"
    );
}

#[tokio::test]
async fn oversized_arguments_are_refused_before_anything_runs() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let before = app.snapshot().await;
    let create =
        "mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { project { id } } }";
    let long_name = json!({ "input": { "code": "CRM-1", "name": "x".repeat(10_001) } });
    let long_literal = format!(
        r#"mutation {{ projectCreate(input: {{ code: "CRM-1", name: "{}" }}) {{ project {{ id }} }} }}"#,
        "x".repeat(10_001)
    );
    let many_ids = json!({ "ids": vec!["UHJvamVjdDo="; 201] });
    let long_list = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }";
    for (document, variables) in [
        (create, long_name),
        (long_literal.as_str(), json!({})),
        (long_list, many_ids),
    ] {
        let response = app.gql(Some(&pm.token), document, variables).await;
        assert_eq!(error_code(&response), Some("LIMIT_EXCEEDED"), "{response}");
        assert!(response["data"].is_null(), "{response}");
    }
    assert_eq!(app.snapshot().await, before);

    // Within the ceiling, the field's own bound answers as a user error.
    let response = app
        .gql(
            Some(&pm.token),
            "mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { userErrors { code field } } }",
            json!({ "input": { "code": "CRM-1", "name": "x".repeat(10_000) } }),
        )
        .await;
    assert_eq!(
        response["data"]["projectCreate"]["userErrors"][0]["code"],
        "BAD_USER_INPUT"
    );
    assert_eq!(app.snapshot().await, before);
}
