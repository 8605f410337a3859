//! Concurrency: optimistic versions under real contention, and writes given up midway.

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use futures_util::future::join_all;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use serde_json::json;
use steerco_graphql::schema::id::{Kind, encode};
use steerco_graphql::service::{Db, Writer, begin_write};

use crate::support::{HeldLock, TestApp, TestDatabase, error_code, user_errors};

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
            4,
            "the key read and reserved before the command, marked written in the command's \
             transaction, its answer kept after, all in turns"
        );
    }
}

/// On PostgreSQL a command on one row of a project locks the project first: while it waits
/// for a project another transaction holds, it holds none of the project's rows. Had it
/// locked its row first, a command holding the project (a transition moving that row, say)
/// would wait for the row while this one waited for the project: a deadlock, which PostgreSQL
/// ends by failing one of them. The test holds the project, waits until each command queues
/// behind it, and checks that the command's row is free. (On SQLite one writer at a time
/// takes no row locks.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_command_waiting_for_its_project_holds_none_of_its_rows() {
    let app = TestApp::spawn().await;
    if !app.database.postgres {
        return;
    }
    let (admin, project_id) = demo_with_admin(&app).await;
    let commands = [
        (
            "milestone",
            Kind::Milestone,
            "mutation($id: ID!) { milestoneUpdate(input: { id: $id, expectedVersion: 1, name: \"Renamed\" }) { userErrors { code } } }",
        ),
        (
            "phase",
            Kind::Phase,
            "mutation($id: ID!) { phaseUpdate(input: { id: $id, expectedVersion: 1, name: \"Renamed\" }) { userErrors { code } } }",
        ),
        (
            "change_request",
            Kind::ChangeRequest,
            "mutation($id: ID!) { changeRequestUpdate(input: { id: $id, expectedVersion: 1, title: \"Renamed\" }) { userErrors { code } } }",
        ),
        (
            "decision",
            Kind::Decision,
            "mutation($id: ID!) { decisionVoteCast(input: { decisionId: $id }) { userErrors { code } } }",
        ),
        (
            "defect",
            Kind::Defect,
            "mutation($id: ID!) { defectGrade(input: { id: $id, expectedVersion: 1, priority: P2 }) { userErrors { code } } }",
        ),
        (
            "test_cycle",
            Kind::TestCycle,
            "mutation($id: ID!) { testCycleTransition(input: { id: $id, action: COMPLETE }) { userErrors { code } } }",
        ),
        (
            "scope_version",
            Kind::ScopeVersion,
            "mutation($id: ID!) { scopeDraftUpdate(input: { id: $id, expectedVersion: 1 }) { userErrors { code } } }",
        ),
        (
            "go_live_plan",
            Kind::GoLivePlan,
            "mutation($id: ID!) { goLiveCriterionAdd(input: { planId: $id, name: \"Data signed off\" }) { userErrors { code } } }",
        ),
        (
            "project_member",
            Kind::ProjectMember,
            "mutation($id: ID!) { projectMemberUpdate(input: { id: $id, expectedVersion: 1, roles: [VIEWER] }) { userErrors { code } } }",
        ),
        (
            "raci_activity",
            Kind::RaciActivity,
            "mutation($id: ID!) { raciActivityUpdate(input: { id: $id, expectedVersion: 1, name: \"Renamed\" }) { userErrors { code } } }",
        ),
    ];
    let mut held_rows = Vec::new();
    for (table, kind, document) in commands {
        let row_id = first_row_of(&app, table, project_id).await;
        let variables = json!({ "id": encode(kind, row_id).to_string() });
        let held = HeldLock::project(&app, project_id).await;
        let command = app.gql(Some(&admin.token), document, variables);
        let probe = async {
            let queued = held.wait_for_waiters(1).await;
            let free = row_is_free(&app.database, table, row_id).await;
            held.release().await;
            queued.and(free)
        };
        let (response, checked) = tokio::join!(command, probe);
        if let Err(why) = checked {
            held_rows.push(format!("{table}: {why}"));
        }
        assert_eq!(error_code(&response), None, "{table}: {response}");
    }
    assert_eq!(held_rows, Vec::<String>::new());
}

/// On PostgreSQL a command checks the row it changes as it stands once it holds its project,
/// not as it read it to find the project: two edits made with the same version, queued behind
/// one project, let one through and tell the other that the row moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_edits_queued_behind_one_project_see_each_others_change() {
    let app = TestApp::spawn().await;
    if !app.database.postgres {
        return;
    }
    let (admin, project_id) = demo_with_admin(&app).await;
    let deliverable = first_row_of(
        &app,
        "deliverable d JOIN phase p ON p.id = d.phase_id AND p.status = 'IN_PROGRESS'",
        project_id,
    )
    .await;
    let member = first_row_of(&app, "project_member", project_id).await;
    let activity = first_row_of(&app, "raci_activity", project_id).await;
    let version_of = |table: &'static str, id: uuid::Uuid| {
        let app = &app;
        async move {
            app.db()
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    format!("SELECT version FROM {table} WHERE id = $1"),
                    [id.into()],
                ))
                .await
                .expect("read a version")
                .expect("the row")
                .try_get::<i64>("", "version")
                .expect("a version")
        }
    };
    let deliverable_version = version_of("deliverable", deliverable).await;
    let member_version = version_of("project_member", member).await;
    let activity_version = version_of("raci_activity", activity).await;
    let races = [
        (
            "deliverableUpdate",
            "mutation($id: ID!, $v: Int!) { deliverableUpdate(input: { id: $id, expectedVersion: $v,
                link: \"https://docs.example.com/signed\" }) { userErrors { code } } }",
            json!({ "id": encode(Kind::Deliverable, deliverable).to_string(), "v": deliverable_version }),
            "CONFLICT",
        ),
        (
            "projectMemberUpdate",
            "mutation($id: ID!, $v: Int!) { projectMemberUpdate(input: { id: $id, expectedVersion: $v,
                roles: [PROJECT_MANAGER] }) { userErrors { code } } }",
            json!({ "id": encode(Kind::ProjectMember, member).to_string(), "v": member_version }),
            "CONFLICT",
        ),
        (
            "raciActivityUpdate",
            "mutation($id: ID!, $v: Int!) { raciActivityUpdate(input: { id: $id, expectedVersion: $v,
                name: \"Data migration sign-off\" }) { userErrors { code } } }",
            json!({ "id": encode(Kind::RaciActivity, activity).to_string(), "v": activity_version }),
            "CONFLICT",
        ),
    ];
    for (field, document, variables, refusal) in races {
        let held = HeldLock::project(&app, project_id).await;
        let first = app.gql(Some(&admin.token), document, variables.clone());
        let second = app.gql(Some(&admin.token), document, variables.clone());
        let release = async {
            let queued = held.wait_for_waiters(2).await;
            held.release().await;
            queued
        };
        let (first, second, queued) = tokio::join!(first, second, release);
        assert_eq!(
            queued,
            Ok(()),
            "{field}: both commands queue behind the project; they answered {first} and {second}"
        );
        let mut outcomes: Vec<Vec<String>> = [&first, &second]
            .iter()
            .map(|response| {
                assert_eq!(error_code(response), None, "{field}: {response}");
                user_errors(&response["data"][field])
                    .into_iter()
                    .map(|(code, _)| code)
                    .collect()
            })
            .collect();
        outcomes.sort();
        assert_eq!(
            outcomes,
            vec![vec![], vec![refusal.to_owned()]],
            "{field}: one goes through, the other is refused"
        );
    }
    assert_eq!(
        [
            version_of("deliverable", deliverable).await,
            version_of("project_member", member).await,
            version_of("raci_activity", activity).await,
        ],
        [deliverable_version, member_version, activity_version].map(|v| v + 1)
    );
}

/// On PostgreSQL a new milestone is judged against its phase as it stands once the command
/// holds the project: a gate request that commits while the command queues keeps the
/// milestone out of the phase, whose gate items are frozen from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_milestone_queued_behind_a_gate_request_is_refused() {
    let app = TestApp::spawn().await;
    if !app.database.postgres {
        return;
    }
    let (admin, project_id) = demo_with_admin(&app).await;
    let phase = first_row_of(
        &app,
        "phase p JOIN project x ON x.id = p.project_id AND p.status = 'IN_PROGRESS'",
        project_id,
    )
    .await;
    let milestones_of_phase = || {
        let app = &app;
        async move {
            app.db()
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT count(*) AS n FROM milestone WHERE phase_id = $1",
                    [phase.into()],
                ))
                .await
                .expect("count the milestones")
                .expect("a count")
                .try_get::<i64>("", "n")
                .expect("a number")
        }
    };
    let before = milestones_of_phase().await;
    // The test's transaction holds the project, as a gate request does, and sends the phase
    // to its gate review, which the command cannot see until the transaction commits.
    let held = HeldLock::take(
        &app,
        "WITH held AS (SELECT id FROM project WHERE id = $1 FOR UPDATE) \
         UPDATE phase SET status = 'AWAITING_GATE_REVIEW' \
         WHERE id = $2 AND project_id IN (SELECT id FROM held)",
        vec![project_id.into(), phase.into()],
    )
    .await;
    let create = app.gql(
        Some(&admin.token),
        "mutation($p: ID!) { milestoneCreate(input: { phaseId: $p, name: \"Late addition\", forecastDate: \"2030-01-15\" }) {
            milestone { id } userErrors { code field message } } }",
        json!({ "p": encode(Kind::Phase, phase).to_string() }),
    );
    let release = async {
        let queued = held.wait_for_waiters(1).await;
        held.release().await;
        queued
    };
    let (response, queued) = tokio::join!(create, release);
    assert_eq!(
        queued,
        Ok(()),
        "the command queues behind the project: {response}"
    );
    assert_eq!(error_code(&response), None, "{response}");
    let payload = &response["data"]["milestoneCreate"];
    assert!(payload["milestone"].is_null(), "{response}");
    assert_eq!(
        user_errors(payload),
        vec![(
            "PRECONDITION_FAILED".to_owned(),
            vec!["input".to_owned(), "phaseId".to_owned()]
        )],
        "{response}"
    );
    assert_eq!(milestones_of_phase().await, before);
}

/// The demo project, seeded, and an admin's token.
async fn demo_with_admin(app: &TestApp) -> (crate::support::TestUser, uuid::Uuid) {
    steerco::seed::demo(&app.state).await.expect("seed demo");
    let admin = app.user("Ada Lock", true).await;
    let project_id = app
        .db()
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT id FROM project WHERE code = 'CRM-DEMO'",
        ))
        .await
        .expect("read the demo project")
        .expect("the demo project")
        .try_get::<uuid::Uuid>("", "id")
        .expect("an id");
    (admin, project_id)
}

/// The id of the first row of `table` (which may join others to name its project), by id.
async fn first_row_of(app: &TestApp, table: &str, project_id: uuid::Uuid) -> uuid::Uuid {
    let alias = table.split_whitespace().nth(1).unwrap_or(table);
    let project = if alias == table {
        "project_id".to_owned()
    } else {
        "p.project_id".to_owned()
    };
    app.db()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT {alias}.id FROM {table} WHERE {project} = $1 ORDER BY {alias}.id LIMIT 1"
            ),
            [project_id.into()],
        ))
        .await
        .expect("read a row")
        .unwrap_or_else(|| panic!("the demo has a row of {table}"))
        .try_get::<uuid::Uuid>("", "id")
        .expect("an id")
}

/// Locks row `id` of `table` at once, or says why it could not; then lets it go.
async fn row_is_free(database: &TestDatabase, table: &str, id: uuid::Uuid) -> Result<(), String> {
    let probe = database.pool_of(1).await;
    let txn = probe.begin().await.expect("begin");
    let locked = txn
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT id FROM {table} WHERE id = $1 FOR UPDATE NOWAIT"),
            [id.into()],
        ))
        .await
        .map(drop)
        .map_err(|e| e.to_string());
    txn.rollback().await.expect("roll back");
    locked
}
