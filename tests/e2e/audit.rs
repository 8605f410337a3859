//! The audit trail: written with every change, append-only, hash-chained.

use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde_json::json;
use steerco_entity::audit_event;
use steerco_graphql::domain::audit::AuditRecord;
use steerco_graphql::service::audit::{AuditEntry, Origin, append_in_txn};
use steerco_graphql::service::begin_write;
use uuid::Uuid;

use crate::support::{TestApp, TestUser};

const VERIFY: &str = "query($id: ID!) { auditChainVerify(projectId: $id) { valid eventCount verifiedCount brokenAtSeq problem } }";

async fn project_with_history(app: &TestApp) -> (TestUser, String) {
    let pm = app.user("Anna Berg", false).await;
    let id = app.project(&pm, "CRM-1").await;
    for name in ["First", "Second", "Third"] {
        rename(app, &pm, &id, name).await;
    }
    (pm, id)
}

/// Renames the project `id`: one more event on its chain.
async fn rename(app: &TestApp, pm: &TestUser, id: &str, name: &str) {
    let data = app
        .ok(
            pm,
            "query($id: ID!) { project(id: $id) { version } }",
            json!({ "id": id }),
        )
        .await;
    let version = data["project"]["version"].clone();
    let data = app
        .ok(
            pm,
            "mutation($input: ProjectUpdateInput!) { projectUpdate(input: $input) { userErrors { code } } }",
            json!({ "input": { "id": id, "expectedVersion": version, "name": name } }),
        )
        .await;
    assert_eq!(data["projectUpdate"]["userErrors"], json!([]), "{data}");
}

#[tokio::test]
async fn every_change_is_recorded_with_actor_request_id_and_before_after() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let id = app.project(&pm, "CRM-1").await;
    let response = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth(&pm.token)
        .header("x-request-id", "req-rename-42")
        .json(&json!({
            "query": "mutation($input: ProjectUpdateInput!) { projectUpdate(input: $input) { userErrors { code } } }",
            "variables": { "input": { "id": id, "expectedVersion": 1, "name": "Renamed" } }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-rename-42");

    let data = app
        .ok(
            &pm,
            "query($id: ID!) { auditEvents(projectId: $id, first: 10) { totalCount edges { node {
                seq action entityType actor { email } requestId before after prevHash hash } } } }",
            json!({ "id": id }),
        )
        .await;
    let events = data["auditEvents"]["edges"].as_array().unwrap();
    assert_eq!(data["auditEvents"]["totalCount"], 3);
    let actions: Vec<_> = events
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["project.created", "project.member_added", "project.updated"]
    );
    let update = &events[2]["node"];
    assert_eq!(update["seq"], 3);
    assert_eq!(update["actor"]["email"], pm.email);
    assert_eq!(update["requestId"], "req-rename-42");
    assert_eq!(update["before"]["name"], "Project CRM-1");
    assert_eq!(update["after"]["name"], "Renamed");
    assert_eq!(update["prevHash"], events[1]["node"]["hash"]);
    assert_eq!(
        events[0]["node"]["prevHash"],
        steerco_graphql::domain::audit::GENESIS_HASH
    );

    let data = app.ok(&pm, VERIFY, json!({ "id": id })).await;
    assert_eq!(
        data["auditChainVerify"],
        json!({ "valid": true, "eventCount": 3, "verifiedCount": 3, "brokenAtSeq": null, "problem": null })
    );
}

#[tokio::test]
async fn the_database_refuses_to_update_or_delete_audit_rows() {
    let app = TestApp::spawn().await;
    let (pm, id) = project_with_history(&app).await;
    for statement in [
        "UPDATE audit_event SET action = 'forged'",
        "DELETE FROM audit_event",
    ] {
        let result = app.db().execute_unprepared(statement).await;
        assert!(result.is_err(), "{statement} must fail");
    }
    // An insert that replaces a row it collides with deletes that row first.
    const COLUMNS: &str = "id, chain_key, seq, project_id, actor_id, entity_type, entity_id, \
                           action, before, after, occurred_at, request_id, prev_hash, hash";
    const FORGED: &str = "id, chain_key, seq, project_id, actor_id, entity_type, entity_id, \
                          'forged', before, after, occurred_at, request_id, prev_hash, hash";
    let replacing = if app.database.postgres {
        vec![format!(
            "INSERT INTO audit_event ({COLUMNS}) SELECT {FORGED} FROM audit_event \
             ON CONFLICT (id) DO UPDATE SET action = excluded.action"
        )]
    } else {
        vec![
            format!(
                "INSERT OR REPLACE INTO audit_event ({COLUMNS}) SELECT {FORGED} FROM audit_event"
            ),
            format!("REPLACE INTO audit_event ({COLUMNS}) SELECT {FORGED} FROM audit_event"),
        ]
    };
    for statement in &replacing {
        let result = app.db().execute_unprepared(statement).await;
        assert!(result.is_err(), "{statement} must fail");
    }
    if app.database.postgres {
        assert!(
            app.db()
                .execute_unprepared("TRUNCATE audit_event")
                .await
                .is_err()
        );
    }
    let data = app.ok(&pm, VERIFY, json!({ "id": id })).await;
    assert_eq!(data["auditChainVerify"]["valid"], true);
    assert_eq!(data["auditChainVerify"]["eventCount"], 5);
}

/// Someone with the database owner's rights lifts the guard and rewrites history; the chain
/// tells.
#[tokio::test]
async fn a_tampered_audit_row_is_found_by_chain_verification() {
    let app = TestApp::spawn().await;
    let (pm, id) = project_with_history(&app).await;
    let (disable, enable) = if app.database.postgres {
        (
            "ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_update_delete",
            "ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_update_delete",
        )
    } else {
        (
            "DROP TRIGGER audit_event_no_update",
            "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event \
             BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
        )
    };
    // One connection, one transaction: DDL is transactional on both backends.
    let txn = app.db().begin().await.unwrap();
    txn.execute_unprepared(disable).await.unwrap();
    txn.execute_unprepared("UPDATE audit_event SET after = '{\"name\":\"Forged\"}' WHERE seq = 4 AND project_id IS NOT NULL")
        .await
        .unwrap();
    txn.execute_unprepared(enable).await.unwrap();
    txn.commit().await.unwrap();

    let data = app.ok(&pm, VERIFY, json!({ "id": id })).await;
    assert_eq!(
        data["auditChainVerify"],
        json!({ "valid": false, "eventCount": 5, "verifiedCount": 3, "brokenAtSeq": 4, "problem": "ALTERED" })
    );
}

#[tokio::test]
async fn a_refused_mutation_leaves_no_audit_row() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let id = app.project(&pm, "CRM-1").await;
    let before = app.count("audit_event").await;
    app.ok(
        &pm,
        "mutation($id: ID!) { projectTransition(input: { id: $id, action: INITIATE }) { userErrors { code } } }",
        json!({ "id": id }),
    )
    .await;
    app.ok(
        &pm,
        "mutation($id: ID!) { projectUpdate(input: { id: $id, expectedVersion: 5, name: \"x\" }) { userErrors { code } } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(app.count("audit_event").await, before);
}

/// This process appends after the tail it last wrote, on the condition that the chain still
/// ends there; an append it rolled back, or one by another process, must not break the chain.
#[tokio::test]
async fn an_event_links_to_the_real_tail_after_an_append_rolled_back_or_made_elsewhere() {
    let app = TestApp::spawn().await;
    let (pm, id) = project_with_history(&app).await;
    let verified = |data: serde_json::Value| data["auditChainVerify"].clone();
    let at_first = verified(app.ok(&pm, VERIFY, json!({ "id": id })).await);
    let events = at_first["eventCount"].as_i64().unwrap();
    let (_, project_id) = steerco_graphql::schema::id::decode_any(&id).unwrap();

    append_and_roll_back(&app, project_id).await;
    rename(&app, &pm, &id, "Fourth").await;
    // Rolled back again, and the number it took then taken by another process: the chain's
    // last number is the one this process remembers, its event is not.
    append_and_roll_back(&app, project_id).await;
    append_elsewhere(&app, project_id).await;
    rename(&app, &pm, &id, "Fifth").await;
    append_elsewhere(&app, project_id).await;
    rename(&app, &pm, &id, "Sixth").await;

    let at_last = verified(app.ok(&pm, VERIFY, json!({ "id": id })).await);
    assert_eq!(
        at_last,
        sound_chain_of(events + 5),
        "the renames and the events from elsewhere, nothing of those rolled back"
    );
}

/// What `auditChainVerify` answers for an unbroken chain of `events`.
fn sound_chain_of(events: i64) -> serde_json::Value {
    json!({
        "valid": true, "eventCount": events, "verifiedCount": events,
        "brokenAtSeq": null, "problem": null
    })
}

/// Appends an event to the project's chain in a transaction that then rolls back.
async fn append_and_roll_back(app: &TestApp, project_id: Uuid) {
    let txn = app.db().begin().await.unwrap();
    let entry = AuditEntry {
        project_id: Some(project_id),
        entity_type: "Project",
        entity_id: project_id,
        action: "project.noted",
        before: None,
        after: Some(json!({ "note": "never committed" })),
    };
    append_in_txn(&txn, Origin::OPERATOR, Utc::now(), entry)
        .await
        .unwrap();
    txn.rollback().await.unwrap();
}

/// Appends an event to the project's chain as another process would: linked to the chain's
/// last event, unknown to this one.
async fn append_elsewhere(app: &TestApp, project_id: Uuid) {
    let tail = audit_event::Entity::find()
        .filter(audit_event::Column::ChainKey.eq(project_id.to_string()))
        .order_by_desc(audit_event::Column::Seq)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let mut elsewhere = audit_event::Model {
        id: Uuid::now_v7(),
        seq: tail.seq + 1,
        action: "project.noted".to_owned(),
        after: Some(r#"{"note":"from another server"}"#.to_owned()),
        occurred_at: Utc::now(),
        request_id: None,
        prev_hash: tail.hash.clone(),
        ..tail
    };
    elsewhere.hash = AuditRecord {
        chain_key: &elsewhere.chain_key,
        seq: elsewhere.seq,
        project_id: elsewhere.project_id,
        actor_id: elsewhere.actor_id,
        entity_type: &elsewhere.entity_type,
        entity_id: elsewhere.entity_id,
        action: &elsewhere.action,
        before: elsewhere.before.as_deref(),
        after: elsewhere.after.as_deref(),
        occurred_at: elsewhere.occurred_at,
        request_id: None,
        prev_hash: &elsewhere.prev_hash,
    }
    .hash();
    audit_event::Entity::insert(elsewhere.into_active_model())
        .exec_without_returning(app.db())
        .await
        .unwrap();
}

/// On SQLite a command's first statement carries the `BEGIN IMMEDIATE` of its group's
/// transaction, which SQLite reports as having changed as many rows as the connection's last
/// change did. An append that is its command's first statement still tells whether it
/// inserted: once, after a tail it knows, and after the real tail when what it knew was
/// rolled back.
#[tokio::test]
async fn an_append_that_is_its_commands_first_statement_lands_once() {
    let app = TestApp::spawn().await;
    let (pm, id) = project_with_history(&app).await;
    let verified = |data: serde_json::Value| data["auditChainVerify"].clone();
    let at_first = verified(app.ok(&pm, VERIFY, json!({ "id": id })).await);
    let events = at_first["eventCount"].as_i64().unwrap();
    let (_, project_id) = steerco_graphql::schema::id::decode_any(&id).unwrap();

    append_first(&app, project_id, "first", Ending::Commit).await;
    append_first(&app, project_id, "rolled back", Ending::RollBack).await;
    append_first(&app, project_id, "second", Ending::Commit).await;
    rename(&app, &pm, &id, "Fourth").await;

    let at_last = verified(app.ok(&pm, VERIFY, json!({ "id": id })).await);
    assert_eq!(at_last, sound_chain_of(events + 3));
    // A sound chain could still hold one event twice and miss another: each is there once.
    let appended: Vec<(String, Option<String>)> = audit_event::Entity::find()
        .filter(audit_event::Column::ChainKey.eq(project_id.to_string()))
        .order_by_asc(audit_event::Column::Seq)
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .skip(usize::try_from(events).unwrap())
        .map(|event| (event.action, event.after))
        .collect();
    let noted = |note: &str| {
        let after = json!({ "note": note }).to_string();
        ("project.noted".to_owned(), Some(after))
    };
    assert_eq!(appended[..2], [noted("first"), noted("second")]);
    assert_eq!(appended[2].0, "project.updated");
    assert_eq!(appended.len(), 3);
}

enum Ending {
    Commit,
    RollBack,
}

/// A command whose first statement appends an event noting `note` to the project's chain.
async fn append_first(app: &TestApp, project_id: Uuid, note: &str, ending: Ending) {
    let txn = begin_write(&app.state.writer).await.unwrap();
    let entry = AuditEntry {
        project_id: Some(project_id),
        entity_type: "Project",
        entity_id: project_id,
        action: "project.noted",
        before: None,
        after: Some(json!({ "note": note })),
    };
    append_in_txn(&txn, Origin::OPERATOR, Utc::now(), entry)
        .await
        .unwrap();
    match ending {
        Ending::Commit => txn.commit().await.unwrap(),
        Ending::RollBack => drop(txn),
    }
}
