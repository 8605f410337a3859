//! Project membership.

use serde_json::json;

use crate::support::{TestApp, TestUser, assert_refused};

const ADD: &str = "mutation($input: ProjectMemberAddInput!) { projectMemberAdd(input: $input) {
    member { id roles version user { email } } userErrors { code field message } } }";
const UPDATE: &str =
    "mutation($input: ProjectMemberUpdateInput!) { projectMemberUpdate(input: $input) {
    member { roles version } userErrors { code field message currentVersion } } }";
const REMOVE: &str =
    "mutation($input: ProjectMemberRemoveInput!) { projectMemberRemove(input: $input) {
    member { id } userErrors { code field message } } }";

#[tokio::test]
async fn members_are_added_with_roles_changed_and_removed() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let qa = app.user("Sofia Rossi", false).await;
    let project = app.project(&pm, "CRM-1").await;

    let data = app
        .ok(&pm, ADD, json!({ "input": { "projectId": project, "userId": qa.id, "roles": ["VIEWER", "QA"] } }))
        .await;
    let member = &data["projectMemberAdd"]["member"];
    assert_eq!(member["roles"], json!(["QA", "VIEWER"]));
    assert_eq!(member["user"]["email"], qa.email);
    let member_id = member["id"].as_str().unwrap().to_owned();

    let data = app.ok(&pm, UPDATE, json!({ "input": { "id": member_id, "expectedVersion": 1, "roles": ["BUSINESS_REP"] } })).await;
    assert_eq!(
        data["projectMemberUpdate"]["member"],
        json!({ "roles": ["BUSINESS_REP"], "version": 2 })
    );
    let data = app
        .ok(
            &pm,
            UPDATE,
            json!({ "input": { "id": member_id, "expectedVersion": 1, "roles": ["QA"] } }),
        )
        .await;
    assert_refused(
        &data["projectMemberUpdate"],
        "CONFLICT",
        &["input", "expectedVersion"],
    );
    assert_eq!(
        data["projectMemberUpdate"]["userErrors"][0]["currentVersion"],
        2
    );

    let data = app
        .ok(&pm, REMOVE, json!({ "input": { "id": member_id } }))
        .await;
    assert_eq!(
        data["projectMemberRemove"]["member"]["id"],
        member_id.as_str()
    );
    assert_eq!(app.count("project_member").await, 1);
    // The removed member no longer sees the project.
    let data = app
        .ok(
            &qa,
            "query($id: ID!) { project(id: $id) { code } }",
            json!({ "id": project }),
        )
        .await;
    assert!(data["project"].is_null());
}

#[tokio::test]
async fn bad_member_input_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let qa = app.user("Sofia Rossi", false).await;
    let project = app.project(&pm, "CRM-1").await;
    app.add_member(&pm, &project, &qa, &["QA"]).await;
    let before = app.snapshot().await;
    let ghost = steerco_graphql::schema::id::encode(
        steerco_graphql::schema::id::Kind::User,
        uuid::Uuid::now_v7(),
    )
    .to_string();

    let cases = [
        (
            json!({ "projectId": project, "userId": qa.id, "roles": ["QA"] }),
            "CONFLICT",
            vec!["input", "userId"],
        ),
        (
            json!({ "projectId": project, "userId": ghost, "roles": ["QA"] }),
            "NOT_FOUND",
            vec!["input", "userId"],
        ),
        (
            json!({ "projectId": project, "userId": qa.id, "roles": [] }),
            "BAD_USER_INPUT",
            vec!["input", "roles"],
        ),
        (
            json!({ "projectId": project, "userId": qa.id, "roles": ["QA", "QA"] }),
            "BAD_USER_INPUT",
            vec!["input", "roles"],
        ),
        (
            json!({ "projectId": qa.id, "userId": qa.id, "roles": ["QA"] }),
            "BAD_USER_INPUT",
            vec!["input", "projectId"],
        ),
        (
            json!({ "projectId": project, "userId": project, "roles": ["QA"] }),
            "BAD_USER_INPUT",
            vec!["input", "userId"],
        ),
    ];
    for (input, code, field) in cases {
        let data = app.ok(&pm, ADD, json!({ "input": input })).await;
        assert_refused(&data["projectMemberAdd"], code, &field);
    }
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn the_last_project_manager_cannot_be_removed_or_demoted() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let project = app.project(&pm, "CRM-1").await;
    let data = app
        .ok(
            &pm,
            "query($id: ID!) { project(id: $id) { members { id } } }",
            json!({ "id": project }),
        )
        .await;
    let pm_member = data["project"]["members"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = app.snapshot().await;

    let data = app
        .ok(&pm, REMOVE, json!({ "input": { "id": pm_member } }))
        .await;
    assert_refused(
        &data["projectMemberRemove"],
        "PRECONDITION_FAILED",
        &["input", "id"],
    );
    let data = app
        .ok(
            &pm,
            UPDATE,
            json!({ "input": { "id": pm_member, "expectedVersion": 1, "roles": ["VIEWER"] } }),
        )
        .await;
    assert_refused(
        &data["projectMemberUpdate"],
        "PRECONDITION_FAILED",
        &["input", "id"],
    );
    assert_eq!(app.snapshot().await, before);

    // With a second project manager, the first may step down.
    let deputy = app.user("Deputy Pm", false).await;
    app.add_member(&pm, &project, &deputy, &["PROJECT_MANAGER"])
        .await;
    let data = app
        .ok(
            &pm,
            UPDATE,
            json!({ "input": { "id": pm_member, "expectedVersion": 1, "roles": ["VIEWER"] } }),
        )
        .await;
    assert_eq!(
        data["projectMemberUpdate"]["member"]["roles"],
        json!(["VIEWER"])
    );
}

#[tokio::test]
async fn a_deactivated_user_cannot_be_added() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let gone = app.user("Gone User", false).await;
    let project = app.project(&pm, "CRM-1").await;
    app.set_active(&gone, false).await;

    let data = app
        .ok(
            &pm,
            ADD,
            json!({ "input": { "projectId": project, "userId": gone.id, "roles": ["QA"] } }),
        )
        .await;
    assert_refused(
        &data["projectMemberAdd"],
        "BAD_USER_INPUT",
        &["input", "userId"],
    );
    // And their token no longer works.
    let response = app
        .gql(Some(&gone.token), "{ me { email } }", json!({}))
        .await;
    assert_eq!(
        crate::support::error_code(&response),
        Some("UNAUTHENTICATED")
    );
}

/// A ballot counts its seats as they were when it opened: a member who has not voted yet is
/// not taken off the committee, nor off the project, until they vote.
#[tokio::test]
async fn a_member_with_an_unvoted_seat_stays_on_the_committee_until_they_vote() {
    let app = TestApp::spawn().await;
    let plan = crate::phases::plan(&app).await;
    let first = &plan.phases[0];
    crate::phases::start_phase(&app, &plan.pm, first).await;
    crate::phases::complete_gate_items(&app, &plan.pm, first).await;
    let gate = app
        .ok(&plan.pm, crate::phases::GATE, json!({ "id": first }))
        .await;
    let ballot = gate["phaseGateRequest"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let members = app
        .ok(
            &plan.pm,
            "query($p: ID!) { project(id: $p) { members { id version user { id } } } }",
            json!({ "p": plan.project }),
        )
        .await;
    let membership = |user: &TestUser| {
        members["project"]["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["user"]["id"] == user.id.as_str())
            .unwrap()
            .clone()
    };
    let seat = membership(&plan.committee[0]);

    let before = app.snapshot().await;
    let removed = app
        .ok(&plan.pm, REMOVE, json!({ "input": { "id": seat["id"] } }))
        .await;
    assert_refused(
        &removed["projectMemberRemove"],
        "PRECONDITION_FAILED",
        &["input", "id"],
    );
    let demoted = app
        .ok(&plan.pm, UPDATE, json!({ "input": { "id": seat["id"], "expectedVersion": seat["version"], "roles": ["QA"] } }))
        .await;
    assert_refused(
        &demoted["projectMemberUpdate"],
        "PRECONDITION_FAILED",
        &["input", "id"],
    );
    assert_eq!(app.snapshot().await, before);

    // Once they have voted, they may go; the ballot keeps their vote.
    crate::phases::vote(&app, &plan.committee[0], &ballot, json!({ "choice": "GO" })).await;
    let removed = app
        .ok(&plan.pm, REMOVE, json!({ "input": { "id": seat["id"] } }))
        .await;
    assert_eq!(
        removed["projectMemberRemove"]["userErrors"],
        json!([]),
        "{removed}"
    );
}

/// Only a scope version's named signatories sign or reject it: one who has not signed yet
/// stays on the project until they do (or the version goes back to draft), or the version
/// would be stuck in review. Their roles do not matter to the signature, so they may change.
#[tokio::test]
async fn a_signatory_who_has_not_signed_stays_on_the_project_until_they_sign() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let sponsor = app.user("Zhang Wei", false).await;
    let business = app.user("Lin Mei", false).await;
    let project = app.project(&pm, "CRM-1").await;
    app.add_member(&pm, &project, &sponsor, &["SPONSOR"]).await;
    app.add_member(&pm, &project, &business, &["BUSINESS_REP"])
        .await;
    let draft = app
        .ok(&pm, "mutation($p: ID!) { scopeDraftCreate(input: { projectId: $p }) { scope { id version } } }", json!({ "p": project }))
        .await["scopeDraftCreate"]["scope"]
        .clone();
    let filled = app
        .ok(&pm, "mutation($id: ID!, $v: Int!) { scopeDraftUpdate(input: { id: $id, expectedVersion: $v, objectives: [{ text: \"Sell more\" }],
            inScope: [{ category: MODULE, text: \"Leads\" }] }) { scope { version } userErrors { message } } }", json!({ "id": draft["id"], "v": draft["version"] }))
        .await;
    let submitted = app
        .ok(&pm, "mutation($id: ID!, $v: Int!, $s: [ID!]!) { scopeReviewSubmit(input: { id: $id, expectedVersion: $v, signatoryIds: $s }) { scope { status } userErrors { message } } }", json!({ "id": draft["id"], "v": filled["scopeDraftUpdate"]["scope"]["version"], "s": [sponsor.id, business.id] }))
        .await;
    assert_eq!(
        submitted["scopeReviewSubmit"]["scope"]["status"], "IN_REVIEW",
        "{submitted}"
    );
    let members = app
        .ok(
            &pm,
            "query($p: ID!) { project(id: $p) { members { id version user { id } } } }",
            json!({ "p": project }),
        )
        .await;
    let membership = |user: &TestUser| {
        members["project"]["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["user"]["id"] == user.id.as_str())
            .unwrap()
            .clone()
    };
    let remove = |user: &TestUser| {
        let (app, pm) = (&app, &pm);
        let member = membership(user);
        async move {
            app.ok(pm, REMOVE, json!({ "input": { "id": member["id"] } }))
                .await["projectMemberRemove"]
                .clone()
        }
    };

    let before = app.snapshot().await;
    let refused = remove(&business).await;
    assert_refused(&refused, "PRECONDITION_FAILED", &["input", "id"]);
    let message = refused["userErrors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("signatory of scope version 1"),
        "{message}"
    );
    assert_eq!(app.snapshot().await, before);
    // A new role takes nothing from the signature.
    let seat = membership(&business);
    let changed = app
        .ok(&pm, UPDATE, json!({ "input": { "id": seat["id"], "expectedVersion": seat["version"], "roles": ["VIEWER"] } }))
        .await;
    assert_eq!(
        changed["projectMemberUpdate"]["userErrors"],
        json!([]),
        "{changed}"
    );

    // Once they have signed they may go; the sponsor, who has not, stays.
    const SIGN: &str = "mutation($id: ID!) { scopeSign(input: { id: $id }) { scope { status } userErrors { code message } } }";
    let signed = app.ok(&business, SIGN, json!({ "id": draft["id"] })).await;
    assert_eq!(signed["scopeSign"]["userErrors"], json!([]), "{signed}");
    assert_eq!(remove(&business).await["userErrors"], json!([]));
    assert_refused(
        &remove(&sponsor).await,
        "PRECONDITION_FAILED",
        &["input", "id"],
    );
    let signed = app.ok(&sponsor, SIGN, json!({ "id": draft["id"] })).await;
    assert_eq!(
        signed["scopeSign"]["scope"]["status"], "BASELINED",
        "{signed}"
    );
    assert_eq!(remove(&sponsor).await["userErrors"], json!([]));
}
