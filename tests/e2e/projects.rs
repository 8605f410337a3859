//! Projects: creation, edits with optimistic concurrency, the lifecycle, listing.

use serde_json::json;

use crate::support::{TestApp, assert_refused, error_code, user_errors};

const CREATE: &str = "mutation($input: ProjectCreateInput!) { projectCreate(input: $input) {
    project { id code name description timeZone plannedStart targetGoLive budget { amount currency } status version
              members { roles user { email } } myRoles allowedActions }
    userErrors { code field message } } }";

const UPDATE: &str = "mutation($input: ProjectUpdateInput!) { projectUpdate(input: $input) {
    project { id name description timeZone plannedStart targetGoLive budget { amount currency } version }
    userErrors { code field message currentVersion } } }";

const TRANSITION: &str =
    "mutation($input: ProjectTransitionInput!) { projectTransition(input: $input) {
    project { status statusReason version allowedActions }
    userErrors { code field message currentState allowedActions } } }";

#[tokio::test]
async fn a_project_is_created_proposed_with_its_creator_as_project_manager() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let data = app
        .ok(
            &pm,
            CREATE,
            json!({ "input": {
                "code": " crm-2027 ", "name": "Sales Cloud", "description": "Lead to contract",
                "timeZone": "Asia/Shanghai", "plannedStart": "2027-01-11", "targetGoLive": "2027-09-06",
                "budget": { "amount": "1850000.00", "currency": "CNY" } } }),
        )
        .await;
    let payload = &data["projectCreate"];
    assert_eq!(payload["userErrors"], json!([]));
    let project = &payload["project"];
    assert_eq!(project["code"], "CRM-2027");
    assert_eq!(project["status"], "PROPOSED");
    assert_eq!(project["version"], 1);
    assert_eq!(
        project["budget"],
        json!({ "amount": "1850000.00", "currency": "CNY" })
    );
    assert_eq!(project["timeZone"], "Asia/Shanghai");
    assert_eq!(project["myRoles"], json!(["PROJECT_MANAGER"]));
    assert_eq!(
        project["members"],
        json!([{ "roles": ["PROJECT_MANAGER"], "user": { "email": pm.email } }])
    );
    assert_eq!(
        project["allowedActions"],
        json!(["INITIATE", "HOLD", "CANCEL"])
    );
    // The eight-stage template is the default: its phases come with exit criteria and
    // deliverables, none started.
    let data = app
        .ok(
            &pm,
            "query($id: ID!) { project(id: $id) { phases { position name status
                exitCriteria { text status } deliverables { name status } } } }",
            json!({ "id": project["id"] }),
        )
        .await;
    let phases = data["project"]["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 8);
    assert_eq!(phases[0]["position"], 1);
    assert!(phases.iter().all(|p| p["status"] == "NOT_STARTED"));
    assert!(
        phases
            .iter()
            .all(|p| p["exitCriteria"].as_array().unwrap().len() >= 2)
    );
    assert!(
        phases
            .iter()
            .all(|p| !p["deliverables"].as_array().unwrap().is_empty())
    );
    // The creation, the membership and each phase are in the audit trail.
    assert_eq!(
        app.count("audit_event WHERE project_id IS NOT NULL").await,
        10
    );
}

#[tokio::test]
async fn bad_project_input_is_refused_field_by_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    app.project(&pm, "CRM-TAKEN").await;
    let before = app.snapshot().await;

    let cases = [
        (
            json!({ "code": "", "name": "x" }),
            "BAD_USER_INPUT",
            vec!["input", "code"],
        ),
        (
            json!({ "code": "CRM_1", "name": "x" }),
            "BAD_USER_INPUT",
            vec!["input", "code"],
        ),
        (
            json!({ "code": "crm-taken", "name": "x" }),
            "CONFLICT",
            vec!["input", "code"],
        ),
        (
            json!({ "code": "CRM-2", "name": "   " }),
            "BAD_USER_INPUT",
            vec!["input", "name"],
        ),
        (
            json!({ "code": "CRM-2", "name": "n".repeat(201) }),
            "BAD_USER_INPUT",
            vec!["input", "name"],
        ),
        (
            json!({ "code": "CRM-2", "name": "x", "timeZone": "Mars/Base" }),
            "BAD_USER_INPUT",
            vec!["input", "timeZone"],
        ),
        (
            json!({ "code": "CRM-2", "name": "x", "plannedStart": "2027-05-01", "targetGoLive": "2027-04-01" }),
            "BAD_USER_INPUT",
            vec!["input", "targetGoLive"],
        ),
        (
            json!({ "code": "CRM-2", "name": "x", "budget": { "amount": "-1", "currency": "EUR" } }),
            "BAD_USER_INPUT",
            vec!["input", "budget", "amount"],
        ),
        (
            json!({ "code": "CRM-2", "name": "x", "budget": { "amount": "10", "currency": "euro" } }),
            "BAD_USER_INPUT",
            vec!["input", "budget", "currency"],
        ),
    ];
    for (input, code, field) in cases {
        let data = app.ok(&pm, CREATE, json!({ "input": input })).await;
        assert!(data["projectCreate"]["project"].is_null());
        assert_refused(&data["projectCreate"], code, &field);
    }
    // Several bad fields are reported together.
    let data = app
        .ok(
            &pm,
            CREATE,
            json!({ "input": { "code": "1", "name": "", "timeZone": "x" } }),
        )
        .await;
    assert_eq!(user_errors(&data["projectCreate"]).len(), 3, "{data}");
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn an_update_with_a_stale_version_is_a_conflict_carrying_the_current_version() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let id = app.project(&pm, "CRM-1").await;

    let data = app
        .ok(
            &pm,
            UPDATE,
            json!({ "input": { "id": id, "expectedVersion": 1, "name": "Renamed",
                               "budget": { "amount": "10.5", "currency": "EUR" }, "plannedStart": "2027-02-01" } }),
        )
        .await;
    let project = &data["projectUpdate"]["project"];
    assert_eq!(project["name"], "Renamed");
    assert_eq!(project["version"], 2);
    assert_eq!(
        project["budget"],
        json!({ "amount": "10.5", "currency": "EUR" })
    );

    let before = app.snapshot().await;
    let data = app
        .ok(
            &pm,
            UPDATE,
            json!({ "input": { "id": id, "expectedVersion": 1, "name": "Lost" } }),
        )
        .await;
    assert_refused(
        &data["projectUpdate"],
        "CONFLICT",
        &["input", "expectedVersion"],
    );
    assert_eq!(data["projectUpdate"]["userErrors"][0]["currentVersion"], 2);
    assert_eq!(app.snapshot().await, before);

    // null clears an optional field; absent fields are kept.
    let data = app
        .ok(
            &pm,
            UPDATE,
            json!({ "input": { "id": id, "expectedVersion": 2, "budget": null } }),
        )
        .await;
    let project = &data["projectUpdate"]["project"];
    assert!(project["budget"].is_null());
    assert_eq!(project["plannedStart"], "2027-02-01");
    assert_eq!(project["name"], "Renamed");
}

#[tokio::test]
async fn bad_update_input_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let id = app.project(&pm, "CRM-1").await;
    app.ok(
        &pm,
        UPDATE,
        json!({ "input": { "id": id, "expectedVersion": 1, "targetGoLive": "2027-03-01" } }),
    )
    .await;
    let before = app.snapshot().await;
    let user_id = pm.id.clone();
    let unknown = steerco_graphql::schema::id::encode(
        steerco_graphql::schema::id::Kind::Project,
        uuid::Uuid::now_v7(),
    );
    let cases = [
        (
            json!({ "id": id, "expectedVersion": 2, "name": "" }),
            "BAD_USER_INPUT",
            vec!["input", "name"],
        ),
        (
            json!({ "id": id, "expectedVersion": 2, "timeZone": "Nowhere" }),
            "BAD_USER_INPUT",
            vec!["input", "timeZone"],
        ),
        (
            json!({ "id": id, "expectedVersion": 2, "plannedStart": "2027-04-01" }),
            "BAD_USER_INPUT",
            vec!["input", "plannedStart"],
        ),
        (
            json!({ "id": user_id, "expectedVersion": 2, "name": "x" }),
            "BAD_USER_INPUT",
            vec!["input", "id"],
        ),
        (
            json!({ "id": "not-an-id", "expectedVersion": 2, "name": "x" }),
            "BAD_USER_INPUT",
            vec!["input", "id"],
        ),
        (
            json!({ "id": unknown.to_string(), "expectedVersion": 2, "name": "x" }),
            "NOT_FOUND",
            vec!["input", "id"],
        ),
    ];
    for (input, code, field) in cases {
        let data = app.ok(&pm, UPDATE, json!({ "input": input })).await;
        assert_refused(&data["projectUpdate"], code, &field);
    }
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn the_lifecycle_runs_from_proposal_to_execution_with_guards() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let sponsor = app.user("Zhang Wei", false).await;
    let id = app.project(&pm, "CRM-1").await;

    // Initiation needs a sponsor and a signed scope: both are named at once.
    let initiate = json!({ "input": { "id": id, "action": "INITIATE" } });
    let data = app.ok(&pm, TRANSITION, initiate.clone()).await;
    assert_refused(
        &data["projectTransition"],
        "PRECONDITION_FAILED",
        &["input", "action"],
    );
    assert_eq!(user_errors(&data["projectTransition"]).len(), 2, "{data}");

    app.add_member(&pm, &id, &sponsor, &["SPONSOR", "BUSINESS_REP"])
        .await;
    let data = app.ok(&pm, TRANSITION, initiate).await;
    let refused = &data["projectTransition"]["userErrors"];
    assert_eq!(refused.as_array().map(Vec::len), Some(1), "{data}");
    assert!(
        refused[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("scope statement signed off")),
        "{data}"
    );

    app.baseline_scope(&pm, &id, &[&sponsor]).await;
    let data = app
        .ok(
            &sponsor,
            TRANSITION,
            json!({ "input": { "id": id, "action": "INITIATE" } }),
        )
        .await;
    assert_eq!(data["projectTransition"]["project"]["status"], "INITIATED");

    // An illegal move names the state and what is allowed.
    let data = app
        .ok(
            &pm,
            TRANSITION,
            json!({ "input": { "id": id, "action": "CLOSE" } }),
        )
        .await;
    assert_refused(
        &data["projectTransition"],
        "INVALID_TRANSITION",
        &["input", "action"],
    );
    let error = &data["projectTransition"]["userErrors"][0];
    assert_eq!(error["currentState"], "INITIATED");
    assert_eq!(
        error["allowedActions"],
        json!(["START_EXECUTION", "HOLD", "CANCEL"])
    );

    // Holding needs a reason; resuming returns to where it was.
    let data = app
        .ok(
            &pm,
            TRANSITION,
            json!({ "input": { "id": id, "action": "HOLD" } }),
        )
        .await;
    assert_refused(
        &data["projectTransition"],
        "BAD_USER_INPUT",
        &["input", "reason"],
    );
    let data = app
        .ok(
            &pm,
            TRANSITION,
            json!({ "input": { "id": id, "action": "HOLD", "reason": "Budget freeze" } }),
        )
        .await;
    assert_eq!(data["projectTransition"]["project"]["status"], "ON_HOLD");
    assert_eq!(
        data["projectTransition"]["project"]["statusReason"],
        "Budget freeze"
    );
    let data = app
        .ok(
            &pm,
            TRANSITION,
            json!({ "input": { "id": id, "action": "RESUME" } }),
        )
        .await;
    assert_eq!(data["projectTransition"]["project"]["status"], "INITIATED");

    // The sponsor may not run the plan.
    let response = app
        .gql(
            Some(&sponsor.token),
            TRANSITION,
            json!({ "input": { "id": id, "action": "START_EXECUTION" } }),
        )
        .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"));

    // Execution needs a plan with a milestone.
    let data = app
        .ok(
            &pm,
            TRANSITION,
            json!({ "input": { "id": id, "action": "START_EXECUTION" } }),
        )
        .await;
    assert_refused(
        &data["projectTransition"],
        "PRECONDITION_FAILED",
        &["input", "action"],
    );
    let phase = app
        .ok(
            &pm,
            "mutation($p: ID!) { phaseCreate(input: { projectId: $p, name: \"Build\" }) { phase { id } } }",
            json!({ "p": id }),
        )
        .await;
    let created = app
        .ok(
            &pm,
            "mutation($p: ID!) { milestoneCreate(input: { phaseId: $p, name: \"Pilot\", baselineDate: \"2027-06-01\" }) { milestone { id } userErrors { code } } }",
            json!({ "p": phase["phaseCreate"]["phase"]["id"] }),
        )
        .await;
    let milestone = created["milestoneCreate"]["milestone"]["id"].clone();

    // Every milestone needs an owner who is a member of the project: none named, then one
    // who has left since.
    let start_execution = || async {
        app.ok(
            &pm,
            TRANSITION,
            json!({ "input": { "id": id, "action": "START_EXECUTION" } }),
        )
        .await
    };
    let data = start_execution().await;
    assert_refused(
        &data["projectTransition"],
        "PRECONDITION_FAILED",
        &["input", "action"],
    );
    let message = data["projectTransition"]["userErrors"][0]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("\"Pilot\" has none"), "{message}");
    let it = app.user("Raj Patel", false).await;
    let it_member = app.add_member(&pm, &id, &it, &["IT_REP"]).await;
    let set_owner = |owner: String, version: i64| {
        let app = &app;
        let pm = &pm;
        let milestone = milestone.clone();
        async move {
            let data = app
                .ok(pm, "mutation($id: ID!, $v: Int!, $owner: ID!) { milestoneUpdate(input: { id: $id, expectedVersion: $v, ownerId: $owner }) { userErrors { code message } } }", json!({ "id": milestone, "v": version, "owner": owner }))
                .await;
            assert_eq!(data["milestoneUpdate"]["userErrors"], json!([]), "{data}");
        }
    };
    set_owner(it.id.clone(), 1).await;
    let removed = app
        .ok(
            &pm,
            "mutation($id: ID!) { projectMemberRemove(input: { id: $id }) { userErrors { code message } } }",
            json!({ "id": it_member }),
        )
        .await;
    assert_eq!(
        removed["projectMemberRemove"]["userErrors"],
        json!([]),
        "{removed}"
    );
    let data = start_execution().await;
    assert_refused(
        &data["projectTransition"],
        "PRECONDITION_FAILED",
        &["input", "action"],
    );
    set_owner(pm.id.clone(), 2).await;

    let data = app
        .ok(
            &pm,
            TRANSITION,
            json!({ "input": { "id": id, "action": "START_EXECUTION" } }),
        )
        .await;
    let project = &data["projectTransition"]["project"];
    assert_eq!(project["status"], "IN_EXECUTION", "{data}");
    // Going live is the go-live plan's move (see go_live.rs), so it is not offered here.
    assert_eq!(project["allowedActions"], json!(["HOLD", "CANCEL"]));

    let data = app
        .ok(
            &pm,
            TRANSITION,
            json!({ "input": { "id": id, "action": "CANCEL", "reason": "Merged into CRM-2" } }),
        )
        .await;
    assert_eq!(
        data["projectTransition"]["project"]["status"], "CANCELLED",
        "{data}"
    );
    let data = app
        .ok(
            &pm,
            TRANSITION,
            json!({ "input": { "id": id, "action": "CANCEL", "reason": "x" } }),
        )
        .await;
    assert_refused(
        &data["projectTransition"],
        "INVALID_TRANSITION",
        &["input", "action"],
    );

    // A cancelled project is read-only (as a closed one is: go_live.rs closes one).
    let data = app
        .ok(
            &pm,
            UPDATE,
            json!({ "input": { "id": id, "expectedVersion": 8, "name": "x" } }),
        )
        .await;
    assert_refused(
        &data["projectUpdate"],
        "PRECONDITION_FAILED",
        &["input", "id"],
    );
}

/// DOMAIN §12.1: a project is initiated on a signed scope with at least one objective that can
/// be measured, a KPI with its baseline and target. A baseline of vague goals is refused, and
/// the next version, signed with a measurable objective, lets the project start.
#[tokio::test]
async fn initiation_needs_a_signed_scope_with_a_measurable_objective() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let sponsor = app.user("Zhang Wei", false).await;
    let id = app.project(&pm, "CRM-1").await;
    app.add_member(&pm, &id, &sponsor, &["SPONSOR", "BUSINESS_REP"])
        .await;
    let vague = json!([
        { "text": "Better customer relationships" },
        { "text": "Raise lead conversion", "kpi": "conversion rate", "baseline": "8%" },
        { "text": "Answer customers faster", "kpi": "first response hours", "target": "4" }
    ]);
    app.baseline_scope_with(&pm, &id, &[&sponsor], vague).await;

    let initiate = json!({ "input": { "id": id, "action": "INITIATE" } });
    let before = app.snapshot().await;
    let data = app.ok(&sponsor, TRANSITION, initiate.clone()).await;
    assert_refused(
        &data["projectTransition"],
        "PRECONDITION_FAILED",
        &["input", "action"],
    );
    let message = &data["projectTransition"]["userErrors"][0]["message"];
    assert!(
        message
            .as_str()
            .is_some_and(|m| m.contains("KPI, its baseline and its target")),
        "{data}"
    );
    assert_eq!(app.snapshot().await, before);

    app.baseline_scope(&pm, &id, &[&sponsor]).await;
    let data = app.ok(&sponsor, TRANSITION, initiate).await;
    assert_eq!(
        data["projectTransition"]["project"]["status"], "INITIATED",
        "{data}"
    );
}

#[tokio::test]
async fn a_refused_transition_changes_nothing() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let id = app.project(&pm, "CRM-1").await;
    let before = app.snapshot().await;
    for input in [
        json!({ "id": id, "action": "INITIATE" }),
        json!({ "id": id, "action": "GO_LIVE" }),
        json!({ "id": id, "action": "CANCEL", "reason": "" }),
        json!({ "id": id, "action": "CANCEL", "reason": "x", "expectedVersion": 7 }),
    ] {
        let data = app.ok(&pm, TRANSITION, json!({ "input": input })).await;
        assert!(data["projectTransition"]["project"].is_null());
        assert!(!user_errors(&data["projectTransition"]).is_empty());
    }
    assert_eq!(app.snapshot().await, before);
}

/// DOMAIN §12.1: a project goes live when a Go decision is executed, and leaves hypercare
/// when its exit criteria are met; both are its go-live plan's moves, so `projectTransition`
/// refuses them, from any state, naming the plan's command, and writes nothing.
#[tokio::test]
async fn going_live_and_leaving_hypercare_are_refused_by_project_transition() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let id = app.project(&pm, "CRM-1").await;
    let admin = app.user("Ada Admin", true).await;
    let before = app.snapshot().await;
    for (action, instead) in [
        ("GO_LIVE", "goLiveTransition GO_LIVE"),
        ("START_OPTIMIZATION", "goLiveTransition CLOSE_HYPERCARE"),
    ] {
        for who in [&pm, &admin] {
            let data = app
                .ok(
                    who,
                    TRANSITION,
                    json!({ "input": { "id": id, "action": action } }),
                )
                .await;
            assert_refused(
                &data["projectTransition"],
                "PRECONDITION_FAILED",
                &["input", "action"],
            );
            let message = data["projectTransition"]["userErrors"][0]["message"]
                .as_str()
                .unwrap();
            assert!(message.contains(instead), "{message}");
        }
    }
    assert_eq!(app.snapshot().await, before);
}

/// A project an earlier version took live by its own GO_LIVE, with no go-live plan, has no plan
/// to close its hypercare: it leaves hypercare by its own command, and can then be closed.
#[tokio::test]
async fn a_project_live_without_a_go_live_plan_leaves_hypercare_by_its_own_command() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let id = app.project(&pm, "CRM-1").await;
    app.put_project_in(&id, "LIVE_HYPERCARE").await;
    for (action, status) in [("START_OPTIMIZATION", "OPTIMIZATION"), ("CLOSE", "CLOSED")] {
        let data = app
            .ok(
                &pm,
                TRANSITION,
                json!({ "input": { "id": id, "action": action } }),
            )
            .await;
        assert_eq!(data["projectTransition"]["userErrors"], json!([]), "{data}");
        assert_eq!(
            data["projectTransition"]["project"]["status"], status,
            "{data}"
        );
    }
}

#[tokio::test]
async fn projects_are_listed_in_pages_with_filters() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    for n in 1..=5 {
        app.project(&pm, &format!("CRM-{n}")).await;
    }
    let other = app.user("Other Pm", false).await;
    app.project(&other, "HIDDEN-1").await;

    let query = "query($first: Int, $after: String, $last: Int, $before: String, $filter: ProjectFilterInput) {
        projects(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
            totalCount pageInfo { hasNextPage hasPreviousPage endCursor startCursor } edges { node { code } } } }";
    let data = app.ok(&pm, query, json!({ "first": 2 })).await;
    let page = &data["projects"];
    assert_eq!(page["totalCount"], 5);
    assert_eq!(
        page["edges"],
        json!([{ "node": { "code": "CRM-1" } }, { "node": { "code": "CRM-2" } }])
    );
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let after = page["pageInfo"]["endCursor"].clone();
    let data = app
        .ok(&pm, query, json!({ "first": 10, "after": after }))
        .await;
    let codes: Vec<_> = data["projects"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["code"].clone())
        .collect();
    assert_eq!(codes, vec![json!("CRM-3"), json!("CRM-4"), json!("CRM-5")]);
    assert_eq!(data["projects"]["pageInfo"]["hasNextPage"], false);

    let data = app.ok(&pm, query, json!({ "last": 2 })).await;
    assert_eq!(
        data["projects"]["edges"],
        json!([{ "node": { "code": "CRM-4" } }, { "node": { "code": "CRM-5" } }])
    );
    assert_eq!(data["projects"]["pageInfo"]["hasPreviousPage"], true);

    let data = app
        .ok(&pm, query, json!({ "filter": { "search": "crm-3" } }))
        .await;
    assert_eq!(
        data["projects"]["edges"],
        json!([{ "node": { "code": "CRM-3" } }])
    );
    // No code or name holds a control character, so such a search finds nothing; PostgreSQL
    // refuses a NUL in text, which must not reach it as an internal error.
    for search in ["crm\u{0}3", "\u{0}", "crm\u{7}"] {
        let data = app
            .ok(&pm, query, json!({ "filter": { "search": search } }))
            .await;
        assert_eq!(data["projects"]["totalCount"], 0, "{search:?}");
    }
    let data = app
        .ok(&pm, query, json!({ "filter": { "status": ["CLOSED"] } }))
        .await;
    assert_eq!(data["projects"]["totalCount"], 0);

    // Pages are capped at 100.
    let response = app
        .gql(Some(&pm.token), query, json!({ "first": 101 }))
        .await;
    assert_eq!(error_code(&response), Some("LIMIT_EXCEEDED"));
    let response = app
        .gql(
            Some(&pm.token),
            query,
            json!({ "first": 1, "after": "garbage!" }),
        )
        .await;
    assert_eq!(error_code(&response), Some("BAD_REQUEST"));
}

#[tokio::test]
async fn a_project_is_found_by_id_or_by_code() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let id = app.project(&pm, "CRM-1").await;
    let data = app
        .ok(&pm, "query($id: ID!) { byId: project(id: $id) { code } byCode: project(code: \"crm-1\") { id } }", json!({ "id": id }))
        .await;
    assert_eq!(data["byId"]["code"], "CRM-1");
    assert_eq!(data["byCode"]["id"], id.as_str());
    let data = app
        .ok(&pm, "{ project(code: \"NOPE-1\") { id } }", json!({}))
        .await;
    assert!(data["project"].is_null());
}
