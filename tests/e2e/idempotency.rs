//! `Idempotency-Key`: a retried request gets the first answer and changes nothing more; the
//! same key for another request, or while the first still runs, is a `CONFLICT`.

use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use steerco_graphql::domain::idempotency::{ABANDONMENT_MARGIN, IdempotencyKey, Verdict};
use steerco_graphql::service;
use steerco_graphql::service::idempotency::Reservation;

use crate::support::{HeldLock, TestApp, TestUser};

const CREATE: &str = "mutation($code: String!) { projectCreate(input: { code: $code, name: \"Retry me\" }) { project { id code } userErrors { code } } }";

async fn send(
    app: &TestApp,
    who: Option<&TestUser>,
    key: &str,
    code: &str,
) -> (StatusCode, Option<String>, Value) {
    send_query(app, who, key, CREATE, code).await
}

/// Sends `query`, with the variable `code`, under the `Idempotency-Key` `key`.
async fn send_query(
    app: &TestApp,
    who: Option<&TestUser>,
    key: &str,
    query: &str,
    code: &str,
) -> (StatusCode, Option<String>, Value) {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .header("idempotency-key", key)
        .json(&json!({ "query": query, "variables": { "code": code } }));
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

/// Hides a table from the server, so that a statement that needs it fails as an internal
/// error, until [`show_table`] puts it back.
async fn hide_table(app: &TestApp, table: &str) {
    app.db()
        .execute_unprepared(&format!("ALTER TABLE {table} RENAME TO {table}_hidden"))
        .await
        .expect("hide the table");
}

async fn show_table(app: &TestApp, table: &str) {
    app.db()
        .execute_unprepared(&format!("ALTER TABLE {table}_hidden RENAME TO {table}"))
        .await
        .expect("show the table");
}

/// A creation whose answer reads go-live plans, which the creation itself does not write.
const CREATE_THEN_READ_PLANS: &str = "mutation($code: String!) {
    projectCreate(input: { code: $code, name: \"Half answered\" }) {
        project { code goLivePlans { id } } userErrors { code } } }";

#[tokio::test]
async fn a_request_that_wrote_then_failed_keeps_its_key_and_one_that_wrote_nothing_frees_it() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;

    // The project is created, then its answer fails: the change stands, the answer is lost.
    hide_table(&app, "go_live_plan").await;
    let (status, _, first) =
        send_query(&app, Some(&pm), "k-1", CREATE_THEN_READ_PLANS, "CRM-1").await;
    show_table(&app, "go_live_plan").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        first["errors"][0]["extensions"]["code"], "INTERNAL",
        "{first}"
    );
    let after_first = written(&app).await;
    assert_eq!(after_first[0], 1, "the project was created");

    // The retry does not create it again: it is told the first request wrote it.
    let (status, replayed, again) =
        send_query(&app, Some(&pm), "k-1", CREATE_THEN_READ_PLANS, "CRM-1").await;
    assert_eq!((status, replayed), (StatusCode::CONFLICT, None));
    assert_eq!(again["errors"][0]["extensions"]["code"], "CONFLICT");
    let message = again["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("wrote its changes"), "{message}");
    assert_eq!(written(&app).await, after_first);

    // A request that failed before it wrote anything (its audit event could not be written,
    // so its project was rolled back) leaves its key free: the retry runs.
    hide_table(&app, "audit_event").await;
    let (_, _, failed) = send(&app, Some(&pm), "k-2", "CRM-2").await;
    show_table(&app, "audit_event").await;
    assert_eq!(
        failed["errors"][0]["extensions"]["code"], "INTERNAL",
        "{failed}"
    );
    assert_eq!(written(&app).await, after_first);
    let (status, replayed, retried) = send(&app, Some(&pm), "k-2", "CRM-2").await;
    assert_eq!((status, replayed), (StatusCode::OK, None));
    assert_eq!(retried["data"]["projectCreate"]["project"]["code"], "CRM-2");
}

#[tokio::test]
async fn a_keyed_call_that_wrote_then_failed_keeps_its_key_and_one_that_wrote_nothing_frees_it() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    const CREATE_THEN_READ_PLANS_KEYED: &str =
        "mutation($key: IdempotencyKey, $input: ProjectCreateInput!) {
        projectCreate(idempotencyKey: $key, input: $input) {
            project { code goLivePlans { id } } userErrors { code } } }";
    let call = |key: &str, code: &str| json!({ "key": key, "input": { "code": code, "name": "Half answered" } });

    // The field's answer lacks the plans that could not be read: it is not kept, and the
    // retry is told the call wrote its changes rather than given a project without its error.
    hide_table(&app, "go_live_plan").await;
    let first = app
        .gql(
            Some(&pm.token),
            CREATE_THEN_READ_PLANS_KEYED,
            call("k-1", "CRM-1"),
        )
        .await;
    show_table(&app, "go_live_plan").await;
    assert_eq!(
        first["errors"][0]["extensions"]["code"], "INTERNAL",
        "{first}"
    );
    let after_first = written(&app).await;
    assert_eq!(after_first[0], 1, "the project was created");
    let again = app
        .gql(
            Some(&pm.token),
            CREATE_THEN_READ_PLANS_KEYED,
            call("k-1", "CRM-1"),
        )
        .await;
    assert_eq!(
        again["errors"][0]["extensions"]["code"], "CONFLICT",
        "{again}"
    );
    let message = again["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("wrote its changes"), "{message}");
    assert_eq!(written(&app).await, after_first);

    // Failed before writing anything, the call leaves its key free.
    hide_table(&app, "audit_event").await;
    let failed = app
        .gql(Some(&pm.token), CREATE_KEYED, call("k-2", "CRM-2"))
        .await;
    show_table(&app, "audit_event").await;
    assert_eq!(
        failed["errors"][0]["extensions"]["code"], "INTERNAL",
        "{failed}"
    );
    assert_eq!(written(&app).await, after_first);
    let retried = app.ok(&pm, CREATE_KEYED, call("k-2", "CRM-2")).await;
    assert_eq!(retried["projectCreate"]["project"]["code"], "CRM-2");
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

// The `idempotencyKey` argument: the same, per mutation field.

const CREATE_KEYED: &str = "mutation($key: IdempotencyKey, $input: ProjectCreateInput!) {
    projectCreate(idempotencyKey: $key, input: $input) { project { id code } userErrors { code } } }";

const TRANSITION_KEYED: &str = "mutation($key: IdempotencyKey, $input: ProjectTransitionInput!) {
    projectTransition(idempotencyKey: $key, input: $input) {
        project { status version } userErrors { code currentState } } }";

/// Row counts of what a mutation writes: its object, its audit event, its emails.
async fn written(app: &TestApp) -> [i64; 3] {
    [
        app.count("project").await,
        app.count("audit_event").await,
        app.count("notification").await,
    ]
}

#[tokio::test]
async fn a_mutation_retried_with_its_key_answers_the_same_and_writes_nothing_more() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let input = json!({ "code": "CRM-1", "name": "Retry me" });
    let first = app
        .gql(
            Some(&pm.token),
            CREATE_KEYED,
            json!({ "key": "create-1", "input": input }),
        )
        .await;
    assert_eq!(first["data"]["projectCreate"]["userErrors"], json!([]));
    let after_first = written(&app).await;

    // The same call, written differently (literal input, fields in another order), is a retry.
    let literal = app
        .gql(
            Some(&pm.token),
            r#"mutation { projectCreate(input: { name: "Retry me", code: "CRM-1" },
                idempotencyKey: "create-1") { project { id code } userErrors { code } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(literal["data"], first["data"]);
    let again = app
        .gql(
            Some(&pm.token),
            CREATE_KEYED,
            json!({ "key": "create-1", "input": input }),
        )
        .await;
    assert_eq!(again, first);
    assert_eq!(written(&app).await, after_first);

    // The same key with other arguments, or another selection, is refused and writes nothing.
    let other = app
        .gql(
            Some(&pm.token),
            CREATE_KEYED,
            json!({ "key": "create-1", "input": { "code": "CRM-2", "name": "Retry me" } }),
        )
        .await;
    assert_eq!(
        other["errors"][0]["extensions"]["code"], "CONFLICT",
        "{other}"
    );
    let reselected = app
        .gql(
            Some(&pm.token),
            "mutation($key: IdempotencyKey, $input: ProjectCreateInput!) {
                projectCreate(idempotencyKey: $key, input: $input) { project { name } } }",
            json!({ "key": "create-1", "input": input }),
        )
        .await;
    assert_eq!(reselected["errors"][0]["extensions"]["code"], "CONFLICT");
    assert_eq!(written(&app).await, after_first);

    // Keys are per user, and free again after a day.
    let other_user = app.user("Lin Mei", false).await;
    let theirs = app
        .gql(
            Some(&other_user.token),
            CREATE_KEYED,
            json!({ "key": "create-1", "input": { "code": "CRM-3", "name": "Theirs" } }),
        )
        .await;
    assert_eq!(theirs["data"]["projectCreate"]["project"]["code"], "CRM-3");
    app.clock.advance(chrono::Duration::hours(24));
    let later = app
        .gql(
            Some(&pm.token),
            CREATE_KEYED,
            json!({ "key": "create-1", "input": { "code": "CRM-4", "name": "Later" } }),
        )
        .await;
    assert_eq!(later["data"]["projectCreate"]["project"]["code"], "CRM-4");
}

#[tokio::test]
async fn a_retried_transition_is_not_applied_twice() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let sponsor = app.user("Lin Mei", false).await;
    let project = app.project(&pm, "CRM-1").await;
    // Initiation needs a sponsor, and a scope signed by a sponsor and the business.
    app.add_member(&pm, &project, &sponsor, &["SPONSOR", "BUSINESS_REP"])
        .await;
    app.baseline_scope(&pm, &project, &[&sponsor]).await;
    let initiate = json!({ "key": "initiate", "input": { "id": project, "action": "INITIATE" } });
    let first = app.ok(&pm, TRANSITION_KEYED, initiate.clone()).await;
    assert_eq!(first["projectTransition"]["project"]["status"], "INITIATED");
    let audit = app.count("audit_event").await;
    // Without its key the retry would be refused as an invalid transition; with it, the
    // client sees the success it missed.
    let retry = app.ok(&pm, TRANSITION_KEYED, initiate).await;
    assert_eq!(retry, first);
    assert_eq!(app.count("audit_event").await, audit);
    let unkeyed = app
        .ok(
            &pm,
            TRANSITION_KEYED,
            json!({ "input": { "id": project, "action": "INITIATE" } }),
        )
        .await;
    assert_eq!(
        unkeyed["projectTransition"]["userErrors"][0]["code"],
        "INVALID_TRANSITION"
    );
}

#[tokio::test]
async fn each_mutation_of_a_document_has_its_own_key_and_a_refused_one_keeps_none() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let sponsor = app.user("Lin Mei", false).await;
    let project = app.project(&pm, "CRM-1").await;
    const TWO: &str = r#"mutation {
        a: projectCreate(idempotencyKey: "a", input: { code: "CRM-A", name: "A" }) { project { code } }
        b: projectCreate(idempotencyKey: "b", input: { code: "CRM-B", name: "B" }) { project { code } } }"#;
    let first = app.ok(&pm, TWO, json!({})).await;
    let projects = app.count("project").await;
    assert_eq!(app.ok(&pm, TWO, json!({})).await, first);
    assert_eq!(app.count("project").await, projects);
    assert_eq!(app.count("idempotency_key").await, 2);

    // A call refused with a top-level error (here: a sponsor may not edit the project) does
    // not hold its key: the key is free for the caller's next call.
    app.add_member(&pm, &project, &sponsor, &["SPONSOR"]).await;
    let update =
        json!({ "key": "k", "input": { "id": project, "expectedVersion": 1, "name": "Renamed" } });
    const UPDATE_KEYED: &str = "mutation($key: IdempotencyKey, $input: ProjectUpdateInput!) {
        projectUpdate(idempotencyKey: $key, input: $input) { project { name } userErrors { code } } }";
    let refused = app.gql(Some(&sponsor.token), UPDATE_KEYED, update).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    assert_eq!(app.count("idempotency_key").await, 2);
    let created = app
        .ok(
            &sponsor,
            CREATE_KEYED,
            json!({ "key": "k", "input": { "code": "CRM-S", "name": "Sponsored" } }),
        )
        .await;
    assert_eq!(created["projectCreate"]["project"]["code"], "CRM-S");
}

#[tokio::test]
async fn a_malformed_key_is_refused_before_anything_runs() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let before = written(&app).await;
    for key in [
        json!(""),
        json!("has space"),
        json!("k".repeat(256)),
        json!(7),
    ] {
        let response = app
            .gql(
                Some(&pm.token),
                CREATE_KEYED,
                json!({ "key": key, "input": { "code": "CRM-1", "name": "Bad key" } }),
            )
            .await;
        assert!(response["errors"][0]["message"].is_string(), "{response}");
        assert!(response["data"].is_null(), "{response}");
    }
    assert_eq!(written(&app).await, before);
}

#[tokio::test]
async fn concurrent_calls_with_one_key_create_once() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let variables = json!({ "key": "race", "input": { "code": "CRM-RACE", "name": "Race" } });
    let answers = futures_util::future::join_all(
        (0..8).map(|_| app.gql(Some(&pm.token), CREATE_KEYED, variables.clone())),
    )
    .await;
    assert_eq!(app.count("project").await, 1);
    let created = answers
        .iter()
        .find(|answer| answer.get("errors").is_none())
        .expect("one call ran");
    for answer in &answers {
        match answer.get("errors") {
            None => assert_eq!(answer, created),
            Some(errors) => assert_eq!(errors[0]["extensions"]["code"], "CONFLICT", "{answer}"),
        }
    }
}

#[tokio::test]
async fn a_token_is_never_kept_as_an_answer() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let response = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth(&pm.token)
        .header("idempotency-key", "token-1")
        .json(&json!({ "query": "mutation { apiTokenCreate(input: { name: \"CI\" }) { token } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    assert_eq!(app.count("idempotency_key").await, 0);
    assert_eq!(app.count("api_token").await, 1, "only the fixture's token");
}

/// On PostgreSQL a request dropped by its timeout while its `COMMIT` is on its way leaves the
/// commit to land: ending the key's reservation meanwhile must wait for it and keep the key,
/// not read the key as unwritten. A transaction of the test's own stands for that commit: it
/// marks the key written and holds the row until the ending waits behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_reservation_waits_for_a_commit_on_its_way() {
    let app = TestApp::spawn().await;
    if !app.database.postgres {
        return;
    }
    let pm = app.user("Anna Berg", false).await;
    let key = IdempotencyKey::parse("in-flight").unwrap();
    let reservation = Reservation::new(pm.uuid, key.clone());
    let writer = app.state.writer.clone();
    let now = app.state.clock.now();
    let verdict = service::idempotency::begin(&writer, &reservation, "print", now, None).await;
    assert_eq!(verdict.unwrap(), Verdict::Run);

    let commit_on_its_way = HeldLock::take(
        &app,
        "UPDATE idempotency_key SET written = true WHERE user_id = $1 AND key = $2",
        vec![pm.uuid.into(), key.as_str().into()],
    )
    .await;
    let ending = tokio::spawn({
        let (writer, reservation) = (writer.clone(), reservation.clone());
        async move { service::idempotency::end_unanswered(&writer, &reservation).await }
    });
    commit_on_its_way.wait_for_waiters(1).await.unwrap();
    commit_on_its_way.release().await;
    ending.await.unwrap().unwrap();

    let retry = Reservation::new(pm.uuid, key);
    let verdict = service::idempotency::begin(&writer, &retry, "print", now, None).await;
    assert_eq!(verdict.unwrap(), Verdict::WrittenUnanswered);
}

/// What a server that stopped in the middle of a keyed request leaves behind: the key
/// reserved, its answer never kept.
async fn lose_the_answer(app: &TestApp, key: &str) {
    app.db()
        .execute_unprepared(&format!(
            "UPDATE idempotency_key SET response = NULL WHERE key = '{key}'"
        ))
        .await
        .expect("lose the answer");
}

/// Sends `body` (a batch, as a JSON array) under the `Idempotency-Key` `key`.
async fn send_batch(app: &TestApp, who: &TestUser, key: &str, body: &Value) -> (StatusCode, Value) {
    let response = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .header("idempotency-key", key)
        .bearer_auth(&who.token)
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_key_whose_server_stopped_mid_request_is_settled_once_its_time_limit_has_passed() {
    let app = TestApp::spawn_with(|config| {
        config.request_timeout = std::time::Duration::from_secs(10);
    })
    .await;
    let pm = app.user("Anna Berg", false).await;
    let second = chrono::Duration::seconds(1);
    let margin = ABANDONMENT_MARGIN;

    // The project was created, then the server stopped: retries are told to wait while the
    // request might still run, then that it wrote.
    let (status, _, _) = send(&app, Some(&pm), "k-1", "CRM-1").await;
    assert_eq!(status, StatusCode::OK);
    lose_the_answer(&app, "k-1").await;
    app.clock.advance(second * 10 + margin - second);
    let (status, _, body) = send(&app, Some(&pm), "k-1", "CRM-1").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("has not finished"), "{message}");
    app.clock.advance(second);
    let (status, _, body) = send(&app, Some(&pm), "k-1", "CRM-1").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("lost its server"), "{message}");
    assert_eq!(app.count("project").await, 1);

    // A batch of two operations, neither of which wrote: each may have run its whole time
    // limit, and once both have passed the retry runs.
    let refused = json!({ "query": CREATE, "variables": { "code": "" } });
    let batch = json!([refused, refused]);
    let (status, first) = send_batch(&app, &pm, "k-2", &batch).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(
        first[0]["data"]["projectCreate"]["userErrors"],
        json!([]),
        "{first}"
    );
    lose_the_answer(&app, "k-2").await;
    app.clock.advance(second * 20 + margin - second);
    let (status, body) = send_batch(&app, &pm, "k-2", &batch).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    app.clock.advance(second);
    let (status, again) = send_batch(&app, &pm, "k-2", &batch).await;
    assert_eq!((status, &again), (StatusCode::OK, &first));
    assert_eq!(app.count("project").await, 1);

    // The retry holds the key now: its answer is kept and replayed.
    let (status, replayed) = send_batch(&app, &pm, "k-2", &batch).await;
    assert_eq!((status, replayed), (StatusCode::OK, first));

    // So for a mutation's own key, within one operation's limit.
    let call = json!({ "key": "k-3", "input": { "code": "CRM-3", "name": "Keyed" } });
    let created = app.ok(&pm, CREATE_KEYED, call.clone()).await;
    assert_eq!(created["projectCreate"]["project"]["code"], "CRM-3");
    lose_the_answer(&app, "k-3").await;
    app.clock.advance(second * 10 + margin - second);
    let early = app.gql(Some(&pm.token), CREATE_KEYED, call.clone()).await;
    let message = early["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("has not finished"), "{early}");
    app.clock.advance(second);
    let late = app.gql(Some(&pm.token), CREATE_KEYED, call).await;
    assert_eq!(
        late["errors"][0]["extensions"]["code"], "CONFLICT",
        "{late}"
    );
    let message = late["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("its server stopped"), "{message}");
    assert_eq!(app.count("project").await, 2);
}

/// On PostgreSQL a retry may take over a key whose abandoned request is committing its mark
/// at that moment: the retry waits for the mark's row lock, then finds the key written and
/// takes nothing over. A transaction of the test's own stands for that request's commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_waits_for_a_commit_on_its_way() {
    let app = TestApp::spawn().await;
    if !app.database.postgres {
        return;
    }
    let pm = app.user("Anna Berg", false).await;
    let key = IdempotencyKey::parse("cut-off").unwrap();
    let writer = app.state.writer.clone();
    let now = app.state.clock.now();
    let limit = Some(std::time::Duration::from_secs(10));
    let first = Reservation::new(pm.uuid, key.clone());
    let verdict = service::idempotency::begin(&writer, &first, "print", now, limit).await;
    assert_eq!(verdict.unwrap(), Verdict::Run);

    let mark_on_its_way = HeldLock::take(
        &app,
        "UPDATE idempotency_key SET written = true WHERE user_id = $1 AND key = $2",
        vec![pm.uuid.into(), key.as_str().into()],
    )
    .await;
    let later = now + chrono::Duration::seconds(10) + ABANDONMENT_MARGIN;
    let retry = tokio::spawn({
        let (writer, key) = (writer.clone(), key.clone());
        async move {
            let retry = Reservation::new(pm.uuid, key);
            service::idempotency::begin(&writer, &retry, "print", later, limit).await
        }
    });
    mark_on_its_way.wait_for_waiters(1).await.unwrap();
    mark_on_its_way.release().await;
    assert_eq!(retry.await.unwrap().unwrap(), Verdict::InProgress);

    let again = Reservation::new(pm.uuid, key);
    let verdict = service::idempotency::begin(&writer, &again, "print", later, limit).await;
    assert_eq!(verdict.unwrap(), Verdict::WrittenUnanswered);
}
