//! Concurrency: optimistic versions under real contention, and writes given up midway.

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use futures_util::future::join_all;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::json;
use steerco_graphql::service::{Db, Writer, begin_write};

use crate::support::{TestApp, TestDatabase, error_code, user_errors};

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

/// Thirty-two testers log critical defects on one project at once: every one lands with its
/// own number, its audit event and its two emails; nobody sees a busy or locked error.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_concurrent_defects_each_get_a_number_an_audit_event_and_their_emails() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let project = app.project(&pm, "CRM-1").await;
    let qa = app.user("Sofia Rossi", false).await;
    app.add_member(&pm, &project, &qa, &["QA"]).await;
    let audit_before = app.count("audit_event").await;
    let create = "mutation($p: ID!, $t: String!) { defectCreate(input: { projectId: $p, defect: { title: $t, stepsToReproduce: \"Save\", actualResult: \"Lost\", severity: CRITICAL, priority: P1 } }) { defect { key } userErrors { code } } }";
    let responses = join_all((0..32).map(|n| {
        app.gql(
            Some(&qa.token),
            create,
            json!({ "p": project, "t": format!("Defect {n}") }),
        )
    }))
    .await;
    let mut keys: Vec<String> = responses
        .iter()
        .map(|response| {
            assert_eq!(error_code(response), None, "{response}");
            response["data"]["defectCreate"]["defect"]["key"]
                .as_str()
                .expect("created")
                .to_owned()
        })
        .collect();
    keys.sort_by_key(|key| key[4..].parse::<u32>().unwrap());
    let expected: Vec<String> = (1..=32).map(|n| format!("DEF-{n}")).collect();
    assert_eq!(keys, expected);
    assert_eq!(app.count("audit_event").await, audit_before + 32);
    assert_eq!(app.count("notification").await, 64, "PM and QA, once each");
}

/// Thirty-two project managers' clicks on one change request: one transition wins, the others
/// are told it moved on, and exactly one audit event and one email are written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_concurrent_transitions_of_one_change_request_apply_once() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let project = app.project(&pm, "CRM-1").await;
    let data = app
        .ok(&pm, "mutation($p: ID!) { changeRequestCreate(input: { projectId: $p, title: \"Lead scoring\", justification: \"Sales\", category: SCOPE, priority: MUST }) { changeRequest { id } } }", json!({ "p": project }))
        .await;
    let cr = data["changeRequestCreate"]["changeRequest"]["id"].clone();
    let audit_before = app.count("audit_event").await;
    let submit = "mutation($id: ID!) { changeRequestTransition(input: { id: $id, action: SUBMIT }) { changeRequest { status } userErrors { code } } }";
    let responses =
        join_all((0..32).map(|_| app.gql(Some(&pm.token), submit, json!({ "id": cr })))).await;
    let mut applied = 0;
    for response in &responses {
        assert_eq!(error_code(response), None, "{response}");
        let payload = &response["data"]["changeRequestTransition"];
        if payload["changeRequest"].is_object() {
            applied += 1;
        } else {
            assert_eq!(
                payload["userErrors"][0]["code"], "INVALID_TRANSITION",
                "{payload}"
            );
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(app.count("audit_event").await, audit_before + 1);
    assert_eq!(app.count("notification").await, 1, "the PM hears once");
}

/// Thirty-two writers on thirty-two different projects all land.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_writers_on_different_projects_all_land() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let mut projects = Vec::new();
    for n in 0..32 {
        projects.push(app.project(&pm, &format!("CRM-{n}")).await);
    }
    let audit_before = app.count("audit_event").await;
    let update = "mutation($id: ID!, $n: String!) { projectUpdate(input: { id: $id, expectedVersion: 1, name: $n }) { project { version } userErrors { code } } }";
    let responses = join_all(projects.iter().enumerate().map(|(n, id)| {
        app.gql(
            Some(&pm.token),
            update,
            json!({ "id": id, "n": format!("Renamed {n}") }),
        )
    }))
    .await;
    for response in &responses {
        assert_eq!(error_code(response), None, "{response}");
        assert_eq!(
            response["data"]["projectUpdate"]["project"]["version"], 2,
            "{response}"
        );
    }
    assert_eq!(app.count("audit_event").await, audit_before + 32);
}

/// A request given up while its transaction begins (it timed out, its client went away)
/// leaves nothing open behind it, whether it was a command beginning its write transaction
/// or a query beginning the read transaction of its held connection: on PostgreSQL the pooled
/// connection comes back outside any transaction, on SQLite the writer's queue hands the next
/// command its turn. Each round gives up one poll later than the round before, so some round
/// gives up while the `BEGIN` is on the wire.
#[tokio::test]
async fn a_request_given_up_while_it_begins_leaves_no_transaction_open() {
    let database = TestDatabase::create().await;
    let pool = database.pool_of(1).await;
    let writer = match steerco::db::connect_writer(&database.url)
        .await
        .expect("connect the writer")
    {
        Some(sqlite_writer) => Writer::queue(sqlite_writer),
        None => Writer::Pool(pool.clone()),
    };
    let admin = database.pool_of(1).await;
    pool.execute_unprepared("CREATE TABLE mark (n INTEGER NOT NULL)")
        .await
        .expect("create a table");
    let select_marks = Statement::from_string(pool.get_database_backend(), "SELECT n FROM mark");
    for polls in 1..=40 {
        give_up_after(polls, begin_write(&writer)).await;
        assert_no_transaction_left(&database, &pool, &admin, polls).await;
        let reads = Db::from(pool.clone()).holding_one_connection();
        give_up_after(polls, reads.query_all_raw(select_marks.clone())).await;
        drop(reads);
        assert_no_transaction_left(&database, &pool, &admin, polls).await;
    }
    let txn = tokio::time::timeout(Duration::from_secs(5), begin_write(&writer))
        .await
        .expect("the writer hands out turns")
        .expect("begin");
    txn.execute_unprepared("INSERT INTO mark (n) VALUES (1)")
        .await
        .expect("write");
    txn.commit().await.expect("commit");
    let marks = admin
        .query_one_raw(Statement::from_string(
            admin.get_database_backend(),
            "SELECT COUNT(*) AS n FROM mark",
        ))
        .await
        .expect("count")
        .expect("a row")
        .try_get::<i64>("", "n")
        .expect("a number");
    assert_eq!(
        marks, 1,
        "the write committed and is seen by another connection"
    );
}

/// Polls `future` up to `polls` times, then drops it, done or not.
async fn give_up_after<F: Future>(polls: usize, future: F) {
    let mut future = std::pin::pin!(future);
    for _ in 0..polls {
        let poll = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
        if poll.is_ready() {
            return;
        }
        tokio::task::yield_now().await;
    }
}

/// On PostgreSQL, the pool's one connection, once it is back, is `idle`, not `idle in
/// transaction`.
async fn assert_no_transaction_left(
    database: &TestDatabase,
    pool: &DatabaseConnection,
    admin: &DatabaseConnection,
    polls: usize,
) {
    if !database.postgres {
        return;
    }
    let pid = backend_pid(pool).await;
    let state = admin
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT state FROM pg_stat_activity WHERE pid = $1",
            [pid.into()],
        ))
        .await
        .expect("read the connection's state")
        .expect("the connection is listed")
        .try_get::<String>("", "state")
        .expect("a state");
    assert_eq!(state, "idle", "given up after {polls} polls");
}

async fn backend_pid(pool: &DatabaseConnection) -> i32 {
    pool.query_one_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT pg_backend_pid() AS pid",
    ))
    .await
    .expect("read the backend's pid")
    .expect("a row")
    .try_get("", "pid")
    .expect("a pid")
}

/// On SQLite the writes that are not commands (a token's first use, the answer kept for an
/// idempotency key) take their turn at the one writer like the commands: from a reading
/// connection they would contend with it for SQLite's write lock. On PostgreSQL they land all
/// the same.
#[tokio::test]
async fn writes_outside_commands_take_their_turn_at_the_writer() {
    let app = TestApp::spawn().await;
    let pm = app.user("Rosa Turn", false).await;
    let in_turns = || {
        app.writer_statements
            .as_ref()
            .map(|counter| counter.total())
    };

    let before = in_turns();
    app.ok(&pm, "query { __typename }", json!({})).await;
    app.token_use_recorded(&pm).await;
    let token_use = in_turns().zip(before).map(|(now, before)| now - before);

    const CREATE: &str = "mutation($key: IdempotencyKey, $input: ProjectCreateInput!) {
        projectCreate(idempotencyKey: $key, input: $input) { project { id } userErrors { code } } }";
    let mut created = Vec::new();
    for (code, key) in [("TURN-1", None), ("TURN-2", Some("turn-2"))] {
        let before = in_turns();
        let data = app
            .ok(
                &pm,
                CREATE,
                json!({ "key": key, "input": { "code": code, "name": code } }),
            )
            .await;
        assert_eq!(data["projectCreate"]["userErrors"], json!([]), "{data}");
        created.push(in_turns().zip(before).map(|(now, before)| now - before));
    }
    let retried = app
        .ok(
            &pm,
            CREATE,
            json!({ "key": "turn-2", "input": { "code": "TURN-2", "name": "TURN-2" } }),
        )
        .await;
    assert_eq!(
        retried["projectCreate"]["userErrors"],
        json!([]),
        "{retried}"
    );
    assert_eq!(
        app.count("project").await,
        2,
        "the retry replayed its answer"
    );

    if app.db().get_database_backend() == DbBackend::Sqlite {
        assert_eq!(token_use, Some(1), "the token's use, in a turn of its own");
        let (plain, keyed) = (created[0].unwrap(), created[1].unwrap());
        assert_eq!(
            keyed - plain,
            3,
            "the key read and reserved before the command, its answer kept after, all in turns"
        );
    }
}
