//! Phases and gates: the plan, the gate refusal listing every open item, committee votes.

use serde_json::{Value, json};

use crate::support::{TestApp, TestUser, assert_refused, error_code, user_errors};

/// A project with a PM, a three-member steering committee (MAJORITY), a QA member, and a
/// two-phase plan built by hand: each phase with one criterion, one deliverable, one milestone.
pub struct Plan {
    pub pm: TestUser,
    pub committee: Vec<TestUser>,
    pub qa: TestUser,
    pub project: String,
    pub phases: Vec<String>,
}

pub const PHASE: &str = "query($id: ID!) { node(id: $id) { ... on Phase { id name status statusReason actualStart actualEnd version
    exitCriteria { id status } deliverables { id status version } milestones { id status version }
    conditions { id text status } decisions { id status outcome } } } }";

pub async fn plan(app: &TestApp) -> Plan {
    let pm = app.user("Anna Berg", false).await;
    let project = app.project(&pm, "CRM-1").await;
    let mut committee = Vec::new();
    for name in ["Zhang Wei", "Lena Fischer", "Omar Haddad"] {
        let member = app.user(name, false).await;
        app.add_member(&pm, &project, &member, &["STEERING_COMMITTEE"])
            .await;
        committee.push(member);
    }
    let qa = app.user("Sofia Rossi", false).await;
    app.add_member(&pm, &project, &qa, &["QA"]).await;
    let mut phases = Vec::new();
    for (n, name) in ["Requirements", "Design"].iter().enumerate() {
        let data = app
            .ok(
                &pm,
                "mutation($input: PhaseCreateInput!) { phaseCreate(input: $input) { phase { id } userErrors { code field message } } }",
                json!({ "input": { "projectId": project, "name": name } }),
            )
            .await;
        let phase = data["phaseCreate"]["phase"]["id"]
            .as_str()
            .expect("phase")
            .to_owned();
        app.ok(&pm, "mutation($p: ID!) { exitCriterionAdd(input: { phaseId: $p, text: \"Signed off\" }) { userErrors { code } } }", json!({ "p": phase })).await;
        app.ok(&pm, "mutation($p: ID!) { deliverableAdd(input: { phaseId: $p, name: \"Document\" }) { userErrors { code } } }", json!({ "p": phase })).await;
        app.ok(
            &pm,
            "mutation($p: ID!, $d: NaiveDate!) { milestoneCreate(input: { phaseId: $p, name: \"Done\", baselineDate: $d }) { userErrors { code field message } } }",
            json!({ "p": phase, "d": format!("2027-0{}-01", n + 4) }),
        )
        .await;
        phases.push(phase);
    }
    Plan {
        pm,
        committee,
        qa,
        project,
        phases,
    }
}

pub async fn phase(app: &TestApp, user: &TestUser, id: &str) -> Value {
    app.ok(user, PHASE, json!({ "id": id })).await["node"].clone()
}

/// Starts a phase, as its project manager.
pub async fn start_phase(app: &TestApp, pm: &TestUser, phase_id: &str) {
    let data = app
        .ok(
            pm,
            "mutation($id: ID!) { phaseStart(input: { phaseId: $id }) { userErrors { code message } } }",
            json!({ "id": phase_id }),
        )
        .await;
    assert_eq!(data["phaseStart"]["userErrors"], json!([]), "{data}");
}

/// Meets every gate item of a phase: criteria MET, deliverables APPROVED, milestones ACHIEVED.
pub async fn complete_gate_items(app: &TestApp, pm: &TestUser, phase_id: &str) {
    let state = phase(app, pm, phase_id).await;
    for criterion in state["exitCriteria"].as_array().unwrap() {
        let data = app
            .ok(pm, "mutation($id: ID!) { exitCriterionSet(input: { id: $id, status: MET, evidenceUrl: \"https://wiki.example.com/x\" }) { userErrors { code field message } } }", json!({ "id": criterion["id"] }))
            .await;
        assert_eq!(data["exitCriterionSet"]["userErrors"], json!([]));
    }
    for deliverable in state["deliverables"].as_array().unwrap() {
        let mut version = deliverable["version"].as_i64().unwrap();
        for status in ["IN_REVIEW", "APPROVED"] {
            let data = app
                .ok(pm, "mutation($id: ID!, $v: Int!, $s: DeliverableStatus!) { deliverableUpdate(input: { id: $id, expectedVersion: $v, status: $s }) { deliverable { version } userErrors { code message } } }", json!({ "id": deliverable["id"], "v": version, "s": status }))
                .await;
            version = data["deliverableUpdate"]["deliverable"]["version"]
                .as_i64()
                .expect("updated");
        }
    }
    for milestone in state["milestones"].as_array().unwrap() {
        let data = app
            .ok(pm, "mutation($id: ID!) { milestoneTransition(input: { id: $id, action: ACHIEVE }) { userErrors { code message } } }", json!({ "id": milestone["id"] }))
            .await;
        assert_eq!(data["milestoneTransition"]["userErrors"], json!([]));
    }
}

pub const GATE: &str = "mutation($id: ID!) { phaseGateRequest(input: { phaseId: $id, note: \"Ready\" }) {
    phase { status } decision { id status choices rule eligibleVoters { email } } userErrors { code field message } } }";

pub const VOTE: &str = "mutation($input: DecisionVoteCastInput!) { decisionVoteCast(input: $input) {
    decision { id status outcome votes { choice abstained comment voter { email } castBy { email } } } userErrors { code field message } } }";

pub async fn vote(app: &TestApp, voter: &TestUser, decision: &str, input: Value) -> Value {
    let mut input = input;
    input["decisionId"] = json!(decision);
    app.ok(voter, VOTE, json!({ "input": input })).await["decisionVoteCast"].clone()
}

/// The status of ballot `decision`, as `who` reads it.
pub async fn ballot_status(app: &TestApp, who: &TestUser, decision: &str) -> Value {
    app.ok(
        who,
        "query($id: ID!) { node(id: $id) { ... on Decision { status } } }",
        json!({ "id": decision }),
    )
    .await["node"]["status"]
        .clone()
}

#[tokio::test]
async fn a_gate_request_lists_every_open_item_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let first = &plan.phases[0];
    start_phase(&app, &plan.pm, first).await;
    let before = app.snapshot().await;
    let data = app.ok(&plan.pm, GATE, json!({ "id": first })).await;
    let errors = user_errors(&data["phaseGateRequest"]);
    assert_eq!(errors.len(), 3, "{data}");
    assert!(
        errors
            .iter()
            .all(|(code, field)| code == "PRECONDITION_FAILED" && field == &["input", "phaseId"])
    );
    let messages: Vec<&str> = data["phaseGateRequest"]["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(messages[0].contains("exit criterion"), "{messages:?}");
    assert!(messages[1].contains("deliverable"), "{messages:?}");
    assert!(messages[2].contains("milestone"), "{messages:?}");
    assert_eq!(app.snapshot().await, before);
}

/// A gate condition is followed up by its owner by its due date: one without either is
/// refused on its field, with every other problem of the vote, and nothing is written.
#[tokio::test]
async fn a_gate_condition_needs_an_owner_and_a_due_date() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let first = &plan.phases[0];
    start_phase(&app, &plan.pm, first).await;
    complete_gate_items(&app, &plan.pm, first).await;
    let data = app.ok(&plan.pm, GATE, json!({ "id": first })).await;
    let decision = data["phaseGateRequest"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let before = app.snapshot().await;
    let conditions = json!([
        { "text": "Name a data owner" },
        { "text": "Freeze the field mapping", "ownerId": plan.qa.id },
        { "text": "Book the trainers", "dueDate": "2027-05-01" },
    ]);
    let refused = vote(
        &app,
        &plan.committee[0],
        &decision,
        json!({ "choice": "GO_WITH_CONDITIONS", "conditions": conditions }),
    )
    .await;
    let mut fields: Vec<String> = user_errors(&refused)
        .into_iter()
        .map(|(code, field)| format!("{code} {}", field.join(".")))
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "BAD_USER_INPUT input.conditions.0.dueDate",
            "BAD_USER_INPUT input.conditions.0.ownerId",
            "BAD_USER_INPUT input.conditions.1.dueDate",
            "BAD_USER_INPUT input.conditions.2.ownerId",
        ],
        "{refused}"
    );
    assert_eq!(app.snapshot().await, before);

    let whole =
        json!([{ "text": "Name a data owner", "ownerId": plan.qa.id, "dueDate": "2027-05-01" }]);
    let cast = vote(
        &app,
        &plan.committee[0],
        &decision,
        json!({ "choice": "GO_WITH_CONDITIONS", "conditions": whole }),
    )
    .await;
    assert_eq!(cast["userErrors"], json!([]), "{cast}");
}

#[tokio::test]
async fn the_committee_passes_a_gate_with_conditions_that_block_the_next_gate() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let (first, second) = (&plan.phases[0], &plan.phases[1]);
    start_phase(&app, &plan.pm, first).await;
    complete_gate_items(&app, &plan.pm, first).await;

    // A phase not started does not move ahead of the running one.
    let before = app.snapshot().await;
    let reordered = app
        .ok(&plan.pm, "mutation($p: ID!, $ids: [ID!]!) { phaseReorder(input: { projectId: $p, phaseIds: $ids }) { userErrors { code field } } }", json!({ "p": plan.project, "ids": [second, first] }))
        .await;
    assert_refused(
        &reordered["phaseReorder"],
        "PRECONDITION_FAILED",
        &["input", "phaseIds"],
    );
    assert_eq!(app.snapshot().await, before);

    let data = app.ok(&plan.pm, GATE, json!({ "id": first })).await;
    let payload = &data["phaseGateRequest"];
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    assert_eq!(payload["phase"]["status"], "AWAITING_GATE_REVIEW");
    assert_eq!(
        payload["decision"]["choices"],
        json!(["GO", "NO_GO", "GO_WITH_CONDITIONS"])
    );
    assert_eq!(payload["decision"]["rule"], "MAJORITY");
    assert_eq!(
        payload["decision"]["eligibleVoters"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let decision = payload["decision"]["id"].as_str().unwrap().to_owned();

    // What the gate checks is frozen while it is reviewed, each refusal at the input that
    // names the item.
    let frozen = phase(&app, &plan.pm, first).await;
    let before = app.snapshot().await;
    let criterion = app
        .ok(&plan.pm, "mutation($id: ID!) { exitCriterionSet(input: { id: $id, status: NOT_MET }) { userErrors { code field } } }", json!({ "id": frozen["exitCriteria"][0]["id"] }))
        .await;
    assert_refused(
        &criterion["exitCriterionSet"],
        "PRECONDITION_FAILED",
        &["input", "id"],
    );
    let deliverable = &frozen["deliverables"][0];
    let moved = app
        .ok(&plan.pm, "mutation($id: ID!, $v: Int!) { deliverableUpdate(input: { id: $id, expectedVersion: $v, link: \"https://wiki.example.com/y\" }) { userErrors { code field } } }", json!({ "id": deliverable["id"], "v": deliverable["version"] }))
        .await;
    assert_refused(
        &moved["deliverableUpdate"],
        "PRECONDITION_FAILED",
        &["input", "id"],
    );
    let added = app
        .ok(&plan.pm, "mutation($id: ID!) { exitCriterionAdd(input: { phaseId: $id, text: \"One more\" }) { userErrors { code field } } }", json!({ "id": first }))
        .await;
    assert_refused(
        &added["exitCriterionAdd"],
        "PRECONDITION_FAILED",
        &["input", "phaseId"],
    );
    // Nor do its milestones change: none joins it, none leaves it.
    let created = app
        .ok(&plan.pm, "mutation($p: ID!) { milestoneCreate(input: { phaseId: $p, name: \"Late\", baselineDate: \"2027-04-20\" }) { userErrors { code field } } }", json!({ "p": first }))
        .await;
    assert_refused(
        &created["milestoneCreate"],
        "PRECONDITION_FAILED",
        &["input", "phaseId"],
    );
    const MOVE: &str = "mutation($id: ID!, $v: Int!, $p: ID!) { milestoneUpdate(input: { id: $id, expectedVersion: $v, phaseId: $p }) { userErrors { code field } } }";
    let later = phase(&app, &plan.pm, second).await;
    for (milestone, to) in [
        (&later["milestones"][0], first),
        (&frozen["milestones"][0], second),
    ] {
        let moved = app
            .ok(
                &plan.pm,
                MOVE,
                json!({ "id": milestone["id"], "v": milestone["version"], "p": to }),
            )
            .await;
        assert_refused(
            &moved["milestoneUpdate"],
            "PRECONDITION_FAILED",
            &["input", "phaseId"],
        );
    }
    assert_eq!(app.snapshot().await, before);

    // Not on the committee: refused, nothing written.
    let before = app.snapshot().await;
    let refused = vote(&app, &plan.qa, &decision, json!({ "choice": "GO" })).await;
    assert_refused(&refused, "NOT_ELIGIBLE", &["input", "decisionId"]);
    let refused = vote(&app, &plan.pm, &decision, json!({ "choice": "GO" })).await;
    assert_refused(&refused, "NOT_ELIGIBLE", &["input", "decisionId"]);
    // Choices of another kind of ballot, NO_GO without a comment, conditions missing.
    let refused = vote(
        &app,
        &plan.committee[0],
        &decision,
        json!({ "choice": "APPROVE" }),
    )
    .await;
    assert_refused(&refused, "BAD_USER_INPUT", &["input", "choice"]);
    let refused = vote(
        &app,
        &plan.committee[0],
        &decision,
        json!({ "choice": "NO_GO" }),
    )
    .await;
    assert_refused(&refused, "BAD_USER_INPUT", &["input", "comment"]);
    let refused = vote(
        &app,
        &plan.committee[0],
        &decision,
        json!({ "choice": "GO_WITH_CONDITIONS" }),
    )
    .await;
    assert_refused(&refused, "BAD_USER_INPUT", &["input", "conditions"]);
    assert_eq!(app.snapshot().await, before);

    let condition = json!([{ "text": "Name a data owner for customer master data", "ownerId": plan.qa.id, "dueDate": "2027-05-01" }]);
    let open = vote(
        &app,
        &plan.committee[0],
        &decision,
        json!({ "choice": "GO_WITH_CONDITIONS", "conditions": condition }),
    )
    .await;
    assert_eq!(open["decision"]["status"], "OPEN");
    let twice = vote(
        &app,
        &plan.committee[0],
        &decision,
        json!({ "choice": "GO" }),
    )
    .await;
    assert_refused(&twice, "CONFLICT", &["input", "decisionId"]);
    // The second agreeing vote of three meets the majority: decided at once.
    let decided = vote(
        &app,
        &plan.committee[1],
        &decision,
        json!({ "choice": "GO_WITH_CONDITIONS", "conditions": condition, "comment": "Agreed" }),
    )
    .await;
    assert_eq!(decided["userErrors"], json!([]), "{decided}");
    assert_eq!(decided["decision"]["status"], "DECIDED");
    assert_eq!(decided["decision"]["outcome"], "GO_WITH_CONDITIONS");
    let late = vote(
        &app,
        &plan.committee[2],
        &decision,
        json!({ "choice": "GO" }),
    )
    .await;
    assert_refused(&late, "INVALID_TRANSITION", &["input", "decisionId"]);

    let done = phase(&app, &plan.pm, first).await;
    assert_eq!(done["status"], "COMPLETED");
    assert!(done["actualEnd"].is_string());
    assert_eq!(done["conditions"].as_array().unwrap().len(), 2);
    let next = phase(&app, &plan.pm, second).await;
    assert_eq!(next["status"], "IN_PROGRESS");
    assert!(next["actualStart"].is_string());

    // The conditions of the first gate block the second.
    complete_gate_items(&app, &plan.pm, second).await;
    let data = app.ok(&plan.pm, GATE, json!({ "id": second })).await;
    let errors = user_errors(&data["phaseGateRequest"]);
    assert_eq!(errors.len(), 2, "{data}");
    // The condition's owner closes them.
    for condition in done["conditions"].as_array().unwrap() {
        let data = app
            .ok(&plan.qa, "mutation($id: ID!) { gateConditionClose(input: { id: $id }) { condition { status } userErrors { code } } }", json!({ "id": condition["id"] }))
            .await;
        assert_eq!(
            data["gateConditionClose"]["condition"]["status"], "CLOSED",
            "{data}"
        );
    }
    let data = app.ok(&plan.pm, GATE, json!({ "id": second })).await;
    assert_eq!(
        data["phaseGateRequest"]["phase"]["status"], "AWAITING_GATE_REVIEW",
        "{data}"
    );
}

#[tokio::test]
async fn no_go_returns_the_phase_to_work_with_the_reason() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let first = &plan.phases[0];
    start_phase(&app, &plan.pm, first).await;
    complete_gate_items(&app, &plan.pm, first).await;
    let data = app.ok(&plan.pm, GATE, json!({ "id": first })).await;
    let decision = data["phaseGateRequest"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    vote(
        &app,
        &plan.committee[0],
        &decision,
        json!({ "choice": "NO_GO", "comment": "Integration spec missing" }),
    )
    .await;
    vote(
        &app,
        &plan.committee[1],
        &decision,
        json!({ "choice": "GO" }),
    )
    .await;
    let decided = vote(
        &app,
        &plan.committee[2],
        &decision,
        json!({ "choice": "NO_GO", "comment": "Agree, not ready" }),
    )
    .await;
    assert_eq!(decided["decision"]["outcome"], "NO_GO");
    let state = phase(&app, &plan.pm, first).await;
    assert_eq!(state["status"], "IN_PROGRESS");
    assert!(
        state["statusReason"]
            .as_str()
            .unwrap()
            .contains("Integration spec missing")
    );
    // A new request opens a new ballot.
    let again = app.ok(&plan.pm, GATE, json!({ "id": first })).await;
    assert_eq!(again["phaseGateRequest"]["decision"]["status"], "OPEN");
}

#[tokio::test]
async fn phases_run_in_order_and_can_be_skipped_by_the_committee() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let start = "mutation($id: ID!) { phaseStart(input: { phaseId: $id }) { phase { status } userErrors { code field message } } }";
    let data = app
        .ok(&plan.pm, start, json!({ "id": plan.phases[1] }))
        .await;
    assert_refused(
        &data["phaseStart"],
        "PRECONDITION_FAILED",
        &["input", "phaseId"],
    );

    let skip = "mutation($id: ID!, $reason: String!) { phaseSkipRequest(input: { phaseId: $id, reason: $reason }) {
        decision { id choices } userErrors { code field } } }";
    let data = app
        .ok(
            &plan.pm,
            skip,
            json!({ "id": plan.phases[0], "reason": "   " }),
        )
        .await;
    assert_refused(
        &data["phaseSkipRequest"],
        "BAD_USER_INPUT",
        &["input", "reason"],
    );
    let data = app
        .ok(
            &plan.pm,
            skip,
            json!({ "id": plan.phases[0], "reason": "Requirements reused from the pilot" }),
        )
        .await;
    let decision = data["phaseSkipRequest"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        data["phaseSkipRequest"]["decision"]["choices"],
        json!(["APPROVE", "REJECT"])
    );
    let data = app
        .ok(
            &plan.pm,
            skip,
            json!({ "id": plan.phases[0], "reason": "Again" }),
        )
        .await;
    assert_refused(&data["phaseSkipRequest"], "CONFLICT", &[]);
    vote(
        &app,
        &plan.committee[0],
        &decision,
        json!({ "choice": "APPROVE" }),
    )
    .await;
    vote(
        &app,
        &plan.committee[1],
        &decision,
        json!({ "choice": "APPROVE" }),
    )
    .await;
    let skipped = phase(&app, &plan.pm, &plan.phases[0]).await;
    assert_eq!(skipped["status"], "SKIPPED");
    assert_eq!(
        skipped["statusReason"],
        "Requirements reused from the pilot"
    );
    let data = app
        .ok(&plan.pm, start, json!({ "id": plan.phases[1] }))
        .await;
    assert_eq!(
        data["phaseStart"]["phase"]["status"], "IN_PROGRESS",
        "{data}"
    );
}

#[tokio::test]
async fn the_plan_is_editable_until_the_first_baseline() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let extra = app
        .ok(&plan.pm, "mutation($p: ID!) { phaseCreate(input: { projectId: $p, name: \"Build\", plannedStart: \"2027-05-01\", plannedEnd: \"2027-06-01\" }) { phase { id position } userErrors { code field } } }", json!({ "p": plan.project }))
        .await;
    assert_eq!(extra["phaseCreate"]["phase"]["position"], 3);
    let extra_id = extra["phaseCreate"]["phase"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let data = app
        .ok(&plan.pm, "mutation($p: ID!) { phaseCreate(input: { projectId: $p, name: \"Bad\", plannedStart: \"2027-05-01\", plannedEnd: \"2027-04-01\" }) { userErrors { code field } } }", json!({ "p": plan.project }))
        .await;
    assert_refused(
        &data["phaseCreate"],
        "BAD_USER_INPUT",
        &["input", "plannedEnd"],
    );
    let data = app
        .ok(&plan.pm, "mutation($p: ID!) { phaseCreate(input: { projectId: $p, name: \"design\" }) { userErrors { code field } } }", json!({ "p": plan.project }))
        .await;
    assert_refused(&data["phaseCreate"], "CONFLICT", &["input", "name"]);

    let reorder = "mutation($p: ID!, $ids: [ID!]!) { phaseReorder(input: { projectId: $p, phaseIds: $ids }) { phases { name position } userErrors { code field } } }";
    let order = json!([extra_id, plan.phases[0], plan.phases[1]]);
    let data = app
        .ok(
            &plan.pm,
            reorder,
            json!({ "p": plan.project, "ids": order }),
        )
        .await;
    assert_eq!(
        data["phaseReorder"]["phases"][0],
        json!({ "name": "Build", "position": 1 })
    );
    let data = app
        .ok(
            &plan.pm,
            reorder,
            json!({ "p": plan.project, "ids": [plan.phases[0]] }),
        )
        .await;
    assert_refused(
        &data["phaseReorder"],
        "BAD_USER_INPUT",
        &["input", "phaseIds"],
    );
    let rename = "mutation($id: ID!, $v: Int!) { phaseUpdate(input: { id: $id, expectedVersion: $v, name: \"Construction\" }) { phase { name version } userErrors { code field } } }";
    let data = app
        .ok(&plan.pm, rename, json!({ "id": extra_id, "v": 2 }))
        .await;
    assert_eq!(data["phaseUpdate"]["phase"]["name"], "Construction");
    let remove = "mutation($id: ID!) { phaseRemove(input: { phaseId: $id }) { phase { id } userErrors { code field } } }";
    let data = app
        .ok(&plan.pm, remove, json!({ "id": plan.phases[0] }))
        .await;
    assert_refused(
        &data["phaseRemove"],
        "PRECONDITION_FAILED",
        &["input", "phaseId"],
    );
    let data = app.ok(&plan.pm, remove, json!({ "id": extra_id })).await;
    assert_eq!(data["phaseRemove"]["userErrors"], json!([]));

    let data = app
        .ok(&plan.pm, "mutation($p: ID!) { scheduleBaselineCreate(input: { projectId: $p, reason: \"Plan signed\" }) { baseline { number cause } userErrors { code } } }", json!({ "p": plan.project }))
        .await;
    assert_eq!(
        data["scheduleBaselineCreate"]["baseline"],
        json!({ "number": 1, "cause": "INITIAL" })
    );
    let before = app.snapshot().await;
    let data = app
        .ok(&plan.pm, "mutation($p: ID!) { phaseCreate(input: { projectId: $p, name: \"Late\" }) { userErrors { code } } }", json!({ "p": plan.project }))
        .await;
    assert_refused(&data["phaseCreate"], "PRECONDITION_FAILED", &[]);
    let data = app
        .ok(
            &plan.pm,
            reorder,
            json!({ "p": plan.project, "ids": [plan.phases[1], plan.phases[0]] }),
        )
        .await;
    assert_refused(&data["phaseReorder"], "PRECONDITION_FAILED", &[]);
    let state = phase(&app, &plan.pm, &plan.phases[0]).await;
    let data = app
        .ok(
            &plan.pm,
            rename,
            json!({ "id": plan.phases[0], "v": state["version"] }),
        )
        .await;
    assert_refused(&data["phaseUpdate"], "PRECONDITION_FAILED", &[]);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn only_the_project_manager_edits_the_plan() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let other_pm = app.user("Other Pm", false).await;
    app.project(&other_pm, "OTHER-1").await;
    let before = app.snapshot().await;
    let start =
        "mutation($id: ID!) { phaseStart(input: { phaseId: $id }) { userErrors { code field } } }";
    // A member without the role: FORBIDDEN. A PM of another project: the phase does not exist.
    let response = app
        .gql(
            Some(&plan.committee[0].token),
            start,
            json!({ "id": plan.phases[0] }),
        )
        .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"));
    let data = app
        .ok(&other_pm, start, json!({ "id": plan.phases[0] }))
        .await;
    assert_refused(&data["phaseStart"], "NOT_FOUND", &["input", "phaseId"]);
    let data = app
        .ok(&other_pm, GATE, json!({ "id": plan.phases[0] }))
        .await;
    assert_refused(
        &data["phaseGateRequest"],
        "NOT_FOUND",
        &["input", "phaseId"],
    );
    let data = app
        .ok(&other_pm, PHASE, json!({ "id": plan.phases[0] }))
        .await;
    assert!(data["node"].is_null());
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn the_phase_templates_are_listed() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let data = app
        .ok(
            &user,
            "{ phaseTemplates { key name phases { name nameZh exitCriteria } } }",
            json!({}),
        )
        .await;
    let templates = data["phaseTemplates"].as_array().unwrap();
    let sizes: Vec<(String, usize)> = templates
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_owned(),
                t["phases"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        sizes,
        vec![
            ("FIVE_PHASE".into(), 5),
            ("SIX_PHASE".into(), 6),
            ("EIGHT_STAGE".into(), 8)
        ]
    );
    let response = app
        .gql(Some(&user.token), "mutation { projectCreate(input: { code: \"X-1\", name: \"x\", template: NINE_STAGE }) { userErrors { code } } }", json!({}))
        .await;
    assert_eq!(error_code(&response), Some("GRAPHQL_VALIDATION_FAILED"));
    let data = app
        .ok(&user, "mutation { projectCreate(input: { code: \"X-2\", name: \"x\", template: FIVE_PHASE }) { project { phases { name } } } }", json!({}))
        .await;
    assert_eq!(
        data["projectCreate"]["project"]["phases"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

/// A phase the committee is voting to skip is not removed from under its ballot, which could
/// then never be approved.
#[tokio::test]
async fn a_phase_with_an_open_skip_ballot_is_not_removed() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let extra = app
        .ok(&plan.pm, "mutation($p: ID!) { phaseCreate(input: { projectId: $p, name: \"Extra\" }) { phase { id } } }", json!({ "p": plan.project }))
        .await["phaseCreate"]["phase"]["id"]
        .clone();
    let asked = app
        .ok(&plan.pm, "mutation($id: ID!) { phaseSkipRequest(input: { phaseId: $id, reason: \"Not needed\" }) { decision { id } userErrors { code field } } }", json!({ "id": extra }))
        .await;
    assert_eq!(
        asked["phaseSkipRequest"]["userErrors"],
        json!([]),
        "{asked}"
    );
    let remove = "mutation($id: ID!) { phaseRemove(input: { phaseId: $id }) { phase { id } userErrors { code field message } } }";
    let before = app.snapshot().await;
    let refused = app.ok(&plan.pm, remove, json!({ "id": extra })).await;
    assert_refused(
        &refused["phaseRemove"],
        "PRECONDITION_FAILED",
        &["input", "phaseId"],
    );
    assert_eq!(app.snapshot().await, before);

    // Rejected, the ballot is closed, and the phase may go.
    let ballot = asked["phaseSkipRequest"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for member in &plan.committee[..2] {
        let cast = vote(
            &app,
            member,
            &ballot,
            json!({ "choice": "REJECT", "comment": "Keep it" }),
        )
        .await;
        assert_eq!(cast["userErrors"], json!([]), "{cast}");
    }
    assert_eq!(ballot_status(&app, &plan.pm, &ballot).await, "DECIDED");
    let removed = app.ok(&plan.pm, remove, json!({ "id": extra })).await;
    assert_eq!(removed["phaseRemove"]["userErrors"], json!([]), "{removed}");
}
