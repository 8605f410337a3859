//! Authentication and authorization probes.

use serde_json::json;

use crate::support::{TestApp, TestUser, assert_refused, error_code};

const PROJECT: &str = "query($id: ID!) { project(id: $id) { code members { user { email } } } }";

#[tokio::test]
async fn requests_without_a_token_are_unauthenticated() {
    let app = TestApp::spawn().await;
    for query in [
        "{ me { email } }",
        "{ projects { totalCount } }",
        "{ node(id: \"x\") { id } }",
    ] {
        let response = app.gql(None, query, json!({})).await;
        assert_eq!(
            error_code(&response),
            Some("UNAUTHENTICATED"),
            "{query}: {response}"
        );
    }
    let response = app
        .gql(None, "mutation { projectCreate(input: { code: \"CRM-1\", name: \"x\" }) { project { id } } }", json!({}))
        .await;
    assert_eq!(error_code(&response), Some("UNAUTHENTICATED"));
    assert_eq!(app.count("project").await, 0);
}

#[tokio::test]
async fn a_malformed_or_unknown_token_is_refused_with_401() {
    let app = TestApp::spawn().await;
    for header in ["Bearer stc_unknown", "Bearer nonsense", "Basic abc"] {
        let response = app
            .client
            .post(format!("{}/graphql", app.base_url))
            .header("authorization", header)
            .json(&json!({ "query": "{ me { email } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{header}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    }
}

#[tokio::test]
async fn a_revoked_token_stops_working_at_once() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let data = app
        .ok(&user, "mutation { apiTokenCreate(input: { name: \"CI\" }) { token apiToken { id kind displayPrefix } userErrors { code } } }", json!({}))
        .await;
    let token = data["apiTokenCreate"]["token"].as_str().unwrap().to_owned();
    let token_id = data["apiTokenCreate"]["apiToken"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(data["apiTokenCreate"]["apiToken"]["kind"], "API");
    assert!(
        token.starts_with(
            data["apiTokenCreate"]["apiToken"]["displayPrefix"]
                .as_str()
                .unwrap()
        )
    );
    assert_eq!(
        app.gql(Some(&token), "{ me { email } }", json!({})).await["data"]["me"]["email"],
        user.email
    );

    let revoke = "mutation($id: ID!) { apiTokenRevoke(input: { id: $id }) { apiToken { revokedAt } userErrors { code field } } }";
    let data = app.ok(&user, revoke, json!({ "id": token_id })).await;
    assert!(data["apiTokenRevoke"]["apiToken"]["revokedAt"].is_string());
    let response = app.gql(Some(&token), "{ me { email } }", json!({})).await;
    assert_eq!(error_code(&response), Some("UNAUTHENTICATED"));
    // Revoking twice is a conflict; someone else's token is not found.
    let data = app.ok(&user, revoke, json!({ "id": token_id })).await;
    assert_refused(&data["apiTokenRevoke"], "CONFLICT", &["input", "id"]);
    let stranger = app.user("Stranger", false).await;
    let data = app.ok(&stranger, revoke, json!({ "id": token_id })).await;
    assert_refused(&data["apiTokenRevoke"], "NOT_FOUND", &["input", "id"]);
}

/// A token found usable is trusted without being read again for as long as the server
/// remembers tokens: a user made inactive in the database meanwhile keeps their access until
/// then. Its expiry is checked at every use still, and a revocation through the server
/// forgets it at once.
#[tokio::test]
async fn a_token_used_lately_is_not_read_again() {
    use steerco_graphql::domain::clock::Clock;

    let app = TestApp::spawn_with(|config| {
        config.token_memory = std::time::Duration::from_secs(3_600);
    })
    .await;
    let user = app.user("Anna Berg", false).await;
    let expires_at = app.clock.now() + chrono::Duration::hours(1);
    let data = app
        .ok(
            &user,
            "mutation($at: DateTime!) { apiTokenCreate(input: { name: \"CI\", expiresAt: $at }) { token userErrors { code } } }",
            json!({ "at": expires_at.to_rfc3339() }),
        )
        .await;
    let expiring = TestUser {
        token: data["apiTokenCreate"]["token"]
            .as_str()
            .expect("a token")
            .to_owned(),
        ..user.clone()
    };
    // Mutations, which record a token's use before they answer and hold no connection to give
    // back after: nothing of one request runs while the next is counted.
    app.ok(&expiring, "mutation { __typename }", json!({}))
        .await;
    let before = app.statements.total();
    app.ok(&expiring, "mutation { __typename }", json!({}))
        .await;
    assert_eq!(
        app.statements.total() - before,
        0,
        "the token was read again"
    );

    app.set_active(&user, false).await;
    app.ok(&expiring, "{ __typename }", json!({})).await;
    app.ok(&user, "{ __typename }", json!({})).await;

    app.clock.advance(chrono::Duration::hours(2));
    let response = app
        .gql(Some(&expiring.token), "{ __typename }", json!({}))
        .await;
    assert_eq!(error_code(&response), Some("UNAUTHENTICATED"), "expired");

    let token_id = app
        .ok(&user, "{ me { apiTokens { id name } } }", json!({}))
        .await["me"]["apiTokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|token| token["name"] == "test")
        .expect("the user's first token")["id"]
        .clone();
    // Active again, so that only the revocation can refuse the token.
    app.set_active(&user, true).await;
    let revoke = "mutation($id: ID!) { apiTokenRevoke(input: { id: $id }) { apiToken { revokedAt } userErrors { code } } }";
    let data = app.ok(&user, revoke, json!({ "id": token_id })).await;
    assert!(
        data["apiTokenRevoke"]["apiToken"]["revokedAt"].is_string(),
        "{data}"
    );
    let response = app
        .gql(Some(&user.token), "{ __typename }", json!({}))
        .await;
    assert_eq!(error_code(&response), Some("UNAUTHENTICATED"), "revoked");
}

/// A server told to remember no token reads it at every request: a user made inactive in the
/// database is refused at their next request.
#[tokio::test]
async fn a_server_that_remembers_no_token_reads_it_at_every_request() {
    let app = TestApp::spawn_with(|config| config.token_memory = std::time::Duration::ZERO).await;
    let user = app.user("Anna Berg", false).await;
    // Mutations, as above.
    app.ok(&user, "mutation { __typename }", json!({})).await;
    let before = app.statements.total();
    app.ok(&user, "mutation { __typename }", json!({})).await;
    assert_eq!(app.statements.total() - before, 1, "the token's read");

    app.set_active(&user, false).await;
    let response = app
        .gql(Some(&user.token), "{ __typename }", json!({}))
        .await;
    assert_eq!(error_code(&response), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn tokens_are_stored_only_as_digests() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    use sea_orm::EntityTrait;
    let stored = steerco_entity::api_token::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].token_hash, user.token);
    assert!(!stored[0].token_hash.contains(&user.token[4..]));
    assert_eq!(
        stored[0].token_hash,
        steerco_graphql::domain::credential::token_digest(&user.token)
    );
}

/// Guesses at one account are bounded per email address, however many client addresses send
/// them: past the burst even the right password waits, and another account is not held up.
#[tokio::test]
async fn sign_ins_to_one_account_are_limited_whoever_sends_them() {
    use steerco_graphql::service::sign_in::BURST;
    let app = TestApp::spawn().await;
    let admin = app.user("Ada Admin", true).await;
    for (email, name) in [
        ("li.wei@example.com", "Li Wei"),
        ("mei.lin@example.com", "Mei Lin"),
    ] {
        app.ok(&admin, "mutation($input: UserCreateInput!) { userCreate(input: $input) { userErrors { code } } }", json!({ "input": { "email": email, "name": name, "password": "correct horse battery" } }))
            .await;
    }
    let session = "mutation($email: String!, $password: String!) { sessionCreate(input: { email: $email, password: $password }) { token userErrors { code field } } }";
    let sign_in = |email: &'static str, password: &'static str| {
        let app = &app;
        async move {
            app.gql(
                None,
                session,
                json!({ "email": email, "password": password }),
            )
            .await
        }
    };
    for n in 0..BURST {
        let wrong = sign_in("li.wei@example.com", "wrong password!!").await;
        assert_refused(&wrong["data"]["sessionCreate"], "INVALID_CREDENTIALS", &[]);
        assert!(wrong.get("errors").is_none(), "attempt {n}: {wrong}");
    }
    let sessions = app.count("api_token").await;
    let held = sign_in("LI.WEI@example.com", "correct horse battery").await;
    assert_eq!(error_code(&held), Some("RATE_LIMITED"), "{held}");
    let seconds = held["errors"][0]["extensions"]["retryAfterSeconds"]
        .as_u64()
        .unwrap();
    assert!((1..=60).contains(&seconds), "{held}");
    assert_eq!(
        app.count("api_token").await,
        sessions,
        "no session was made"
    );
    let other = sign_in("mei.lin@example.com", "correct horse battery").await;
    assert!(
        other["data"]["sessionCreate"]["token"].is_string(),
        "{other}"
    );
}

#[tokio::test]
async fn a_password_session_signs_in_and_expires() {
    let app = TestApp::spawn().await;
    let admin = app.user("Ada Admin", true).await;
    let create = "mutation($input: UserCreateInput!) { userCreate(input: $input) { user { id email locale } userErrors { code field } } }";
    let data = app
        .ok(&admin, create, json!({ "input": { "email": "Li.Wei@Example.com", "name": "Li Wei", "locale": "ZH_CN", "password": "correct horse battery" } }))
        .await;
    assert_eq!(data["userCreate"]["user"]["email"], "li.wei@example.com");
    assert_eq!(data["userCreate"]["user"]["locale"], "ZH_CN");

    let session = "mutation($email: String!, $password: String!) { sessionCreate(input: { email: $email, password: $password }) {
        token expiresAt user { email } userErrors { code field } } }";
    let wrong = app
        .gql(
            None,
            session,
            json!({ "email": "li.wei@example.com", "password": "wrong password!!" }),
        )
        .await;
    assert_refused(&wrong["data"]["sessionCreate"], "INVALID_CREDENTIALS", &[]);
    let unknown = app
        .gql(
            None,
            session,
            json!({ "email": "nobody@example.com", "password": "correct horse battery" }),
        )
        .await;
    assert_refused(
        &unknown["data"]["sessionCreate"],
        "INVALID_CREDENTIALS",
        &[],
    );

    let ok = app
        .gql(
            None,
            session,
            json!({ "email": "LI.WEI@example.com", "password": "correct horse battery" }),
        )
        .await;
    let token = ok["data"]["sessionCreate"]["token"]
        .as_str()
        .expect("a session token")
        .to_owned();
    assert_eq!(
        app.gql(Some(&token), "{ me { name } }", json!({})).await["data"]["me"]["name"],
        "Li Wei"
    );
    app.clock.advance(chrono::Duration::hours(13));
    let response = app.gql(Some(&token), "{ me { name } }", json!({})).await;
    assert_eq!(error_code(&response), Some("UNAUTHENTICATED"));
}

/// Each password tried takes a request, and so a place in the rate limit: a request that
/// signs in more than once (aliases, a batch) is refused before any password is checked.
#[tokio::test]
async fn a_request_tries_one_password_at_most() {
    let app = TestApp::spawn().await;
    let attempt = |alias: &str| {
        format!(
            "{alias}: sessionCreate(input: {{ email: \"ada@example.com\", password: \"guess {alias}\" }}) {{ token userErrors {{ code field }} }}"
        )
    };
    let aliased = format!("mutation {{ {} {} }}", attempt("a"), attempt("b"));
    let once = format!("mutation {{ {} }}", attempt("a"));
    for body in [
        json!({ "query": aliased }),
        json!([{ "query": once }, { "query": once }]),
    ] {
        let response = app
            .client
            .post(format!("{}/graphql", app.base_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST);
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error_code(&answer), Some("LIMIT_EXCEEDED"), "{answer}");
    }
    // One sign-in is answered as usual.
    let single = app.gql(None, &once, json!({})).await;
    assert_refused(&single["data"]["a"], "INVALID_CREDENTIALS", &[]);
}

#[tokio::test]
async fn only_admins_create_users_and_bad_user_input_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.user("Ada Admin", true).await;
    let someone = app.user("Some One", false).await;
    let create = "mutation($input: UserCreateInput!) { userCreate(input: $input) { user { id } userErrors { code field } } }";
    let response = app
        .gql(
            Some(&someone.token),
            create,
            json!({ "input": { "email": "x@example.com", "name": "X" } }),
        )
        .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"));

    let before = app.snapshot().await;
    let cases = [
        (
            json!({ "email": "not-an-email", "name": "X" }),
            "BAD_USER_INPUT",
            vec!["input", "email"],
        ),
        (
            json!({ "email": "SOME.ONE@example.com", "name": "X" }),
            "CONFLICT",
            vec!["input", "email"],
        ),
        (
            json!({ "email": "x@example.com", "name": "" }),
            "BAD_USER_INPUT",
            vec!["input", "name"],
        ),
        (
            json!({ "email": "x@example.com", "name": "X", "password": "short" }),
            "BAD_USER_INPUT",
            vec!["input", "password"],
        ),
    ];
    for (input, code, field) in cases {
        let data = app.ok(&admin, create, json!({ "input": input })).await;
        assert_refused(&data["userCreate"], code, &field);
    }
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_non_member_cannot_see_or_touch_a_project() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let outsider = app.user("Out Sider", false).await;
    let project = app.project(&pm, "CRM-1").await;
    let data = app
        .ok(
            &pm,
            "query($id: ID!) { project(id: $id) { members { id } } }",
            json!({ "id": project }),
        )
        .await;
    let member = data["project"]["members"][0]["id"].clone();

    let data = app.ok(&outsider, PROJECT, json!({ "id": project })).await;
    assert!(data["project"].is_null());
    let data = app
        .ok(
            &outsider,
            "{ project(code: \"CRM-1\") { id } projects { totalCount } }",
            json!({}),
        )
        .await;
    assert!(data["project"].is_null());
    assert_eq!(data["projects"]["totalCount"], 0);
    let data = app
        .ok(
            &outsider,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [project, member, pm.id] }),
        )
        .await;
    assert_eq!(data["nodes"], json!([null, null, null]));
    let data = app
        .ok(&outsider, "query($id: ID!) { auditEvents(projectId: $id) { totalCount } auditChainVerify(projectId: $id) { valid } }", json!({ "id": project }))
        .await;
    assert!(data["auditEvents"].is_null() && data["auditChainVerify"].is_null());

    // Writes answer exactly as for a project that does not exist.
    let before = app.snapshot().await;
    let data = app
        .ok(&outsider, "mutation($id: ID!) { projectUpdate(input: { id: $id, expectedVersion: 1, name: \"x\" }) { userErrors { code field } } }", json!({ "id": project }))
        .await;
    assert_refused(&data["projectUpdate"], "NOT_FOUND", &["input", "id"]);
    let data = app
        .ok(&outsider, "mutation($id: ID!) { projectTransition(input: { id: $id, action: CANCEL, reason: \"x\" }) { userErrors { code field } } }", json!({ "id": project }))
        .await;
    assert_refused(&data["projectTransition"], "NOT_FOUND", &["input", "id"]);
    let data = app
        .ok(&outsider, "mutation($p: ID!, $u: ID!) { projectMemberAdd(input: { projectId: $p, userId: $u, roles: [SPONSOR] }) { userErrors { code field } } }", json!({ "p": project, "u": outsider.id }))
        .await;
    assert_refused(
        &data["projectMemberAdd"],
        "NOT_FOUND",
        &["input", "projectId"],
    );
    let data = app
        .ok(&outsider, "mutation($id: ID!) { projectMemberRemove(input: { id: $id }) { userErrors { code field } } }", json!({ "id": member }))
        .await;
    assert_refused(&data["projectMemberRemove"], "NOT_FOUND", &["input", "id"]);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn an_admin_sees_and_manages_every_project() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let admin = app.user("Ada Admin", true).await;
    let project = app.project(&pm, "CRM-1").await;
    let data = app.ok(&admin, PROJECT, json!({ "id": project })).await;
    assert_eq!(data["project"]["code"], "CRM-1");
    let data = app
        .ok(&admin, "mutation($id: ID!) { projectUpdate(input: { id: $id, expectedVersion: 1, name: \"By admin\" }) { project { name } } }", json!({ "id": project }))
        .await;
    assert_eq!(data["projectUpdate"]["project"]["name"], "By admin");
}

/// Every role against every project operation, as the README's permission table states it.
#[tokio::test]
async fn each_role_may_do_exactly_what_the_permission_table_says() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let target = app.user("Tar Get", false).await;
    let roles = [
        "SPONSOR",
        "PROJECT_MANAGER",
        "STEERING_COMMITTEE",
        "BUSINESS_REP",
        "IT_REP",
        "FINANCE_REP",
        "QA",
        "SUPER_USER",
        "VENDOR",
        "VIEWER",
    ];
    for (n, role) in roles.iter().enumerate() {
        let project = app.project(&pm, &format!("CRM-{n}")).await;
        let person = app.user(&format!("Role {n}"), false).await;
        app.add_member(&pm, &project, &person, &[role]).await;
        let manages = *role == "PROJECT_MANAGER";

        let read = app.ok(&person, PROJECT, json!({ "id": project })).await;
        assert_eq!(read["project"]["code"], format!("CRM-{n}"), "{role} reads");

        let response = app
            .gql(Some(&person.token), "mutation($id: ID!) { projectUpdate(input: { id: $id, expectedVersion: 1, name: \"x\" }) { project { name } userErrors { code } } }", json!({ "id": project }))
            .await;
        assert_eq!(
            error_code(&response).is_none(),
            manages,
            "{role} updates: {response}"
        );

        let response = app
            .gql(Some(&person.token), "mutation($p: ID!, $u: ID!) { projectMemberAdd(input: { projectId: $p, userId: $u, roles: [VIEWER] }) { member { id } } }", json!({ "p": project, "u": target.id }))
            .await;
        assert_eq!(
            error_code(&response).is_none(),
            manages,
            "{role} adds members: {response}"
        );

        let response = app
            .gql(
                Some(&person.token),
                "mutation($p: ID!) { phaseCreate(input: { projectId: $p, name: \"Extra\" }) { phase { id } } }",
                json!({ "p": project }),
            )
            .await;
        assert_eq!(
            error_code(&response).is_none(),
            manages,
            "{role} edits the plan: {response}"
        );

        let response = app
            .gql(
                Some(&person.token),
                "mutation($p: ID!) { scheduleBaselineCreate(input: { projectId: $p, reason: \"x\" }) { userErrors { code } } }",
                json!({ "p": project }),
            )
            .await;
        assert_eq!(
            error_code(&response).is_none(),
            manages,
            "{role} baselines: {response}"
        );

        let response = app
            .gql(Some(&person.token), "mutation($id: ID!) { projectTransition(input: { id: $id, action: HOLD, reason: \"x\" }) { project { status } } }", json!({ "id": project }))
            .await;
        let may_hold = manages || *role == "SPONSOR";
        assert_eq!(
            error_code(&response).is_none(),
            may_hold,
            "{role} holds: {response}"
        );
        if !may_hold {
            assert_eq!(error_code(&response), Some("FORBIDDEN"));
        }
    }
}

/// A request of queries reads on one connection that refuses writes; the token's last use is
/// written beside it through the writer (SQLite's queue, or PostgreSQL's pool), at most once a
/// minute, and the next request shows it.
#[tokio::test]
async fn a_query_records_when_its_token_was_last_used() {
    use chrono::Duration;
    use steerco_graphql::domain::clock::Clock;

    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    assert_eq!(last_use_recorded(&app, None).await, None);
    let shown = "{ me { apiTokens { lastUsedAt } } }";
    let first_use = app.clock.now();
    app.ok(&user, shown, json!({})).await;
    assert_eq!(
        last_use_recorded(&app, Some(first_use)).await,
        Some(first_use)
    );
    let data = app.ok(&user, shown, json!({})).await;
    assert_eq!(
        data["me"]["apiTokens"][0]["lastUsedAt"],
        json!(first_use.to_rfc3339())
    );

    app.clock.advance(Duration::seconds(1));
    app.ok(&user, shown, json!({})).await;
    app.clock.advance(Duration::seconds(59));
    let a_minute_on = app.clock.now();
    app.ok(&user, shown, json!({})).await;
    // Had the use a second after the first been written, this one, 59 s after it, would not.
    assert_eq!(
        last_use_recorded(&app, Some(a_minute_on)).await,
        Some(a_minute_on)
    );
}

/// A request of queries holds a connection of the pool and records its token's last use on
/// another: had it waited for that write, requests holding every connection would wait for
/// each other. With a pool of one connection that also writes (as on PostgreSQL, where the
/// writer is the pool), the lookup must answer, and the use still lands.
#[tokio::test]
async fn a_token_lookup_holding_the_last_connection_does_not_wait_for_its_write() {
    use sea_orm::{ConnectOptions, Database};
    use steerco_graphql::domain::clock::Clock;
    use steerco_graphql::service::{AppState, token};

    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let mut options = ConnectOptions::new(app.database.url.clone());
    options
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(3))
        .sqlx_logging(false);
    let one_connection = Database::connect(options).await.unwrap();
    let state = AppState::new(one_connection, app.clock.clone()).holding_one_connection();
    let actor = token::authenticate(&state, &user.token).await.unwrap();
    assert_eq!(actor.map(|actor| actor.user_id), Some(user.uuid));
    drop(state);
    let now = app.clock.now();
    assert_eq!(last_use_recorded(&app, Some(now)).await, Some(now));
}

/// The token's last use as stored, once it is `expected` (written on a task of its own) or
/// after a few seconds.
async fn last_use_recorded(
    app: &TestApp,
    expected: Option<chrono::DateTime<chrono::Utc>>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    use sea_orm::EntityTrait;
    let mut stored = None;
    for _ in 0..100 {
        stored = steerco_entity::api_token::Entity::find()
            .one(app.db())
            .await
            .unwrap()
            .unwrap()
            .last_used_at;
        if stored == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stored
}

/// A server whose pool has one connection answers queries, several at once, and a query
/// sent with an `Idempotency-Key` (whose record needs a connection besides the request's):
/// nothing on a query's way waits for a second connection while it holds the only one.
#[tokio::test]
async fn a_server_on_one_connection_answers_queries_keyed_or_not() {
    let app = TestApp::spawn_on_a_pool_of(1).await;
    let user = app.user("Anna Berg", false).await;
    let query = "{ me { email apiTokens { name } } projects { totalCount } }";
    let asked = (0..6).map(|_| app.gql(Some(&user.token), query, json!({})));
    for answer in futures_util::future::join_all(asked).await {
        assert_eq!(
            answer["data"]["me"]["email"],
            json!(user.email),
            "{answer:#}"
        );
    }
    for key in ["first-key-0001", "first-key-0001", "second-key-002"] {
        let answer: serde_json::Value = app
            .client
            .post(format!("{}/graphql", app.base_url))
            .bearer_auth(&user.token)
            .header("Idempotency-Key", key)
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            answer["data"]["projects"]["totalCount"],
            json!(0),
            "{answer:#}"
        );
    }
}
