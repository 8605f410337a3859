//! Change requests: assessment, committee approval with recusal and delegation, the red-line
//! fast path, and the approved change moving the schedule, scope and cost baselines.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::phases::{ballot_status, vote};
use crate::support::{TestApp, TestUser, assert_refused, error_code, user_errors};

pub const CR: &str = "id code status version withinRedLine missingImpact
    ballot { recused { email } decision { id status outcome eligibleVoters { email } votes { choice voter { email } castBy { email } } } }
    scheduleBaseline { number cause causeId } scopeVersion { number status cause causeId } costBaseline { number amount currency causedBy { id } }";

pub struct Setup {
    pub pm: TestUser,
    pub requester: TestUser,
    pub committee: Vec<TestUser>,
    pub viewer: TestUser,
    pub project: String,
    pub milestone: String,
    pub scope_item: String,
}

async fn setup(app: &TestApp) -> Setup {
    let pm = app.user("Anna Berg", false).await;
    let data = app
        .ok(&pm, "mutation { projectCreate(input: { code: \"CRM-1\", name: \"CRM\", template: null, budget: { amount: \"1000000\", currency: \"CNY\" } }) { project { id } } }", json!({}))
        .await;
    let project = data["projectCreate"]["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let requester = app.user("Lin Mei", false).await;
    app.add_member(
        &pm,
        &project,
        &requester,
        &["BUSINESS_REP", "STEERING_COMMITTEE"],
    )
    .await;
    let mut committee = Vec::new();
    for name in ["Zhang Wei", "Lena Fischer", "Omar Haddad"] {
        let member = app.user(name, false).await;
        app.add_member(&pm, &project, &member, &["STEERING_COMMITTEE"])
            .await;
        committee.push(member);
    }
    let sponsor = &committee[0];
    let data = app.ok(&pm, "mutation($p: ID!) { phaseCreate(input: { projectId: $p, name: \"Build\" }) { phase { id } } }", json!({ "p": project })).await;
    let phase = data["phaseCreate"]["phase"]["id"].clone();
    let data = app
        .ok(&pm, "mutation($p: ID!) { milestoneCreate(input: { phaseId: $p, name: \"Pilot live\", baselineDate: \"2027-06-01\" }) { milestone { id } } }", json!({ "p": phase }))
        .await;
    let milestone = data["milestoneCreate"]["milestone"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok(&pm, "mutation($p: ID!) { scheduleBaselineCreate(input: { projectId: $p, reason: \"Plan\" }) { userErrors { code } } }", json!({ "p": project })).await;
    // A signed scope baseline with two in-scope items.
    app.ok(&pm, "mutation($p: ID!, $u: ID!) { projectMemberUpdate: projectMemberAdd(input: { projectId: $p, userId: $u, roles: [SPONSOR] }) { userErrors { code } } }", json!({ "p": project, "u": app.user("Sponsor Person", false).await.id })).await;
    let data = app
        .ok(
            &pm,
            "query($p: ID!) { project(id: $p) { members { user { id email } roles } } }",
            json!({ "p": project }),
        )
        .await;
    let sponsor_id = data["project"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["roles"] == json!(["SPONSOR"]))
        .unwrap()["user"]["id"]
        .clone();
    let _ = sponsor;
    let draft = app.ok(&pm, "mutation($p: ID!) { scopeDraftCreate(input: { projectId: $p }) { scope { id version } } }", json!({ "p": project })).await;
    let scope = &draft["scopeDraftCreate"]["scope"];
    let filled = app
        .ok(&pm, "mutation($id: ID!, $v: Int!) { scopeDraftUpdate(input: { id: $id, expectedVersion: $v, objectives: [{ text: \"Sell more\" }],
            inScope: [{ category: MODULE, text: \"Leads\" }, { category: MODULE, text: \"Marketing automation\" }] }) { scope { id version inScope { id text } } userErrors { message } } }", json!({ "id": scope["id"], "v": scope["version"] }))
        .await;
    let scope = &filled["scopeDraftUpdate"]["scope"];
    let scope_item = scope["inScope"][1]["id"].as_str().unwrap().to_owned();
    app.ok(&pm, "mutation($id: ID!, $v: Int!, $s: [ID!]!) { scopeReviewSubmit(input: { id: $id, expectedVersion: $v, signatoryIds: $s }) { userErrors { message } } }", json!({ "id": scope["id"], "v": scope["version"], "s": [sponsor_id, requester.id] })).await;
    let sponsor_user = TestUser {
        id: sponsor_id.as_str().unwrap().to_owned(),
        uuid: uuid::Uuid::nil(),
        email: String::new(),
        token: String::new(),
    };
    let _ = sponsor_user;
    let viewer = app.user("View Only", false).await;
    app.add_member(&pm, &project, &viewer, &["VIEWER"]).await;
    Setup {
        pm,
        requester,
        committee,
        viewer,
        project,
        milestone,
        scope_item,
    }
}

pub async fn raise(app: &TestApp, who: &TestUser, project: &str, title: &str) -> Value {
    let data = app
        .ok(who, &format!("mutation($p: ID!, $t: String!) {{ changeRequestCreate(input: {{ projectId: $p, title: $t, justification: \"Sales asked for it\", category: SCOPE, priority: MUST }}) {{ changeRequest {{ {CR} }} userErrors {{ code field message }} }} }}"), json!({ "p": project, "t": title }))
        .await;
    assert_eq!(
        data["changeRequestCreate"]["userErrors"],
        json!([]),
        "{data}"
    );
    data["changeRequestCreate"]["changeRequest"].clone()
}

pub async fn act(
    app: &TestApp,
    who: &TestUser,
    cr: &Value,
    action: &str,
    note: Option<&str>,
) -> Value {
    let data = app
        .ok(who, &format!("mutation($id: ID!, $a: ChangeRequestAction!, $n: String) {{ changeRequestTransition(input: {{ id: $id, action: $a, note: $n }}) {{ changeRequest {{ {CR} }} userErrors {{ code field message }} }} }}"), json!({ "id": cr["id"], "a": action, "n": note }))
        .await;
    data["changeRequestTransition"].clone()
}

/// Raises a change on `project` as `requester`, has `pm` assess it with `impact` and request
/// the decision; the change, and the REQUEST_DECISION payload.
async fn send_for_decision(
    app: &TestApp,
    (requester, pm): (&TestUser, &TestUser),
    project: &str,
    title: &str,
    impact: Value,
) -> (Value, Value) {
    let cr = raise(app, requester, project, title).await;
    act(app, requester, &cr, "SUBMIT", None).await;
    act(app, pm, &cr, "START_ASSESSMENT", None).await;
    assess(app, pm, &cr, impact).await;
    let waiting = act(app, pm, &cr, "REQUEST_DECISION", None).await;
    (cr, waiting)
}

pub async fn assess(app: &TestApp, pm: &TestUser, cr: &Value, impact: Value) -> Value {
    let version = app
        .ok(
            pm,
            "query($id: ID!) { node(id: $id) { ... on ChangeRequest { version } } }",
            json!({ "id": cr["id"] }),
        )
        .await;
    let mut input = impact;
    input["id"] = cr["id"].clone();
    input["expectedVersion"] = version["node"]["version"].clone();
    let data = app
        .ok(pm, &format!("mutation($input: ChangeRequestAssessInput!) {{ changeRequestAssess(input: $input) {{ changeRequest {{ {CR} }} userErrors {{ code field message }} }} }}"), json!({ "input": input }))
        .await;
    data["changeRequestAssess"].clone()
}

fn big_impact(milestone: &str, scope_item: &str) -> Value {
    json!({
        "schedule": { "days": 14, "milestoneShifts": [{ "milestoneId": milestone, "days": 14 }] },
        "cost": { "amount": "50000", "currency": "CNY", "budgetLine": "Implementation services" },
        "effort": { "personDays": "30", "roles": ["Consultant"] },
        "risk": { "level": "HIGH", "description": "Touches the ERP interface" },
        "scope": { "add": [{ "category": "PROCESS", "text": "Service ticketing" }], "remove": [scope_item] }
    })
}

fn small_impact() -> Value {
    json!({
        "schedule": { "days": 1 },
        "cost": { "amount": "2000", "currency": "CNY", "budgetLine": "Config" },
        "effort": { "personDays": "2" },
        "risk": { "level": "LOW", "description": "A report layout" }
    })
}

/// Signs the pending scope baseline (sponsor and requester were named).
async fn sign_scope(app: &TestApp, s: &Setup) {
    let data = app
        .ok(
            &s.pm,
            "query($p: ID!) { project(id: $p) { scopeVersions { id } } }",
            json!({ "p": s.project }),
        )
        .await;
    let id = data["project"]["scopeVersions"][0]["id"].clone();
    app.ok(
        &s.requester,
        "mutation($id: ID!) { scopeSign(input: { id: $id }) { userErrors { code } } }",
        json!({ "id": id }),
    )
    .await;
    sign_as_sponsor(app, s, &id).await;
}

/// The global id of the project's sponsor (the member whose only role is SPONSOR).
async fn sponsor_of(app: &TestApp, s: &Setup) -> Value {
    let data = app
        .ok(
            &s.pm,
            "query($p: ID!) { project(id: $p) { members { user { id } roles } } }",
            json!({ "p": s.project }),
        )
        .await;
    data["project"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["roles"] == json!(["SPONSOR"]))
        .unwrap()["user"]["id"]
        .clone()
}

/// Signs scope version `id` as the project's sponsor, through the service, as the sponsor is
/// not one of the test's tokens.
async fn sign_as_sponsor(app: &TestApp, s: &Setup, id: &Value) {
    let sponsor = sponsor_of(app, s).await;
    let sponsor = steerco_graphql::schema::id::decode(
        &async_graphql::ID(sponsor.as_str().unwrap().to_owned()),
        steerco_graphql::schema::id::Kind::User,
        &[],
    )
    .unwrap();
    let version = steerco_graphql::schema::id::decode(
        &async_graphql::ID(id.as_str().unwrap().to_owned()),
        steerco_graphql::schema::id::Kind::ScopeVersion,
        &[],
    )
    .unwrap();
    let caller = steerco_graphql::service::Caller {
        actor: steerco_graphql::service::Actor {
            user_id: sponsor,
            admin: false,
            token_id: uuid::Uuid::nil(),
            name: None,
        },
        request_id: None,
    };
    steerco_graphql::service::scope::sign(&app.state, &caller, version)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_committee_approves_a_change_that_moves_schedule_scope_and_budget() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    sign_scope(&app, &s).await;
    let cr = raise(&app, &s.requester, &s.project, "Add service ticketing").await;
    assert_eq!(cr["code"], "CR-001");
    assert_eq!(cr["status"], "DRAFT");
    act(&app, &s.requester, &cr, "SUBMIT", None).await;
    act(&app, &s.pm, &cr, "START_ASSESSMENT", None).await;

    // A decision needs all four dimensions.
    let refused = act(&app, &s.pm, &cr, "REQUEST_DECISION", None).await;
    assert_eq!(user_errors(&refused).len(), 4, "{refused}");
    assert!(
        user_errors(&refused)
            .iter()
            .all(|(code, _)| code == "PRECONDITION_FAILED")
    );

    let assessed = assess(&app, &s.pm, &cr, big_impact(&s.milestone, &s.scope_item)).await;
    assert_eq!(assessed["userErrors"], json!([]), "{assessed}");
    assert_eq!(assessed["changeRequest"]["withinRedLine"], false);
    let waiting = act(&app, &s.pm, &cr, "REQUEST_DECISION", None).await;
    let ballot = &waiting["changeRequest"]["ballot"];
    assert_eq!(
        waiting["changeRequest"]["status"], "AWAITING_DECISION",
        "{waiting}"
    );
    // The requester sits on the committee but is recused.
    let mut recused: Vec<&str> = ballot["recused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    recused.sort_unstable();
    assert_eq!(
        recused,
        vec![s.pm.email.as_str(), s.requester.email.as_str()]
    );
    assert_eq!(
        ballot["decision"]["eligibleVoters"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let decision = ballot["decision"]["id"].as_str().unwrap().to_owned();

    let stranger = app.user("Out Sider", false).await;
    let before = app.snapshot().await;
    let recused = vote(
        &app,
        &s.requester,
        &decision,
        json!({ "choice": "APPROVE" }),
    )
    .await;
    assert_refused(
        &recused,
        "FORBIDDEN_SEPARATION_OF_DUTIES",
        &["input", "decisionId"],
    );
    let reject = vote(
        &app,
        &s.committee[0],
        &decision,
        json!({ "choice": "REJECT" }),
    )
    .await;
    assert_refused(&reject, "BAD_USER_INPUT", &["input", "comment"]);
    let outside = vote(&app, &stranger, &decision, json!({ "choice": "APPROVE" })).await;
    assert_refused(&outside, "NOT_FOUND", &["input", "decisionId"]);
    assert_eq!(app.snapshot().await, before);

    let pending = app
        .ok(
            &s.committee[0],
            "{ me { pendingVotes { id subjectType } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        pending["me"]["pendingVotes"],
        json!([{ "id": decision, "subjectType": "CHANGE_REQUEST" }])
    );
    let mine = app
        .ok(
            &s.committee[0],
            "query($p: ID!) { project(id: $p) { changeRequests(filter: { awaitingMyVote: true }) { totalCount } } }",
            json!({ "p": s.project }),
        )
        .await;
    assert_eq!(mine["project"]["changeRequests"]["totalCount"], 1);
    vote(
        &app,
        &s.committee[0],
        &decision,
        json!({ "choice": "APPROVE" }),
    )
    .await;
    let pending = app
        .ok(&s.committee[0], "{ me { pendingVotes { id } } }", json!({}))
        .await;
    assert_eq!(pending["me"]["pendingVotes"], json!([]));
    let decided = vote(
        &app,
        &s.committee[1],
        &decision,
        json!({ "choice": "APPROVE" }),
    )
    .await;
    assert_eq!(decided["decision"]["outcome"], "APPROVE", "{decided}");
    let late = vote(
        &app,
        &s.committee[2],
        &decision,
        json!({ "choice": "REJECT", "comment": "late" }),
    )
    .await;
    assert_refused(&late, "INVALID_TRANSITION", &["input", "decisionId"]);

    let data = app.ok(&s.pm, &format!("query($id: ID!) {{ node(id: $id) {{ ... on ChangeRequest {{ {CR} decidedBy }} }} }}"), json!({ "id": cr["id"] })).await;
    let approved = &data["node"];
    assert_eq!(approved["status"], "APPROVED");
    assert_eq!(approved["decidedBy"], "COMMITTEE");
    assert_eq!(
        approved["scheduleBaseline"],
        json!({ "number": 2, "cause": "CHANGE_REQUEST", "causeId": cr["id"] })
    );
    assert_eq!(approved["scopeVersion"]["cause"], "CHANGE_REQUEST");
    assert_eq!(approved["scopeVersion"]["status"], "BASELINED");
    assert_eq!(
        approved["costBaseline"],
        json!({ "number": 2, "amount": "1050000", "currency": "CNY", "causedBy": { "id": cr["id"] } })
    );

    let data = app
        .ok(&s.pm, "query($p: ID!, $m: ID!) { project(id: $p) { budget { amount } scope { inScope { text } } costBaselines { number amount cause }
            changeSummary { approvedScheduleDays approvedCost scheduleDriftDays costDrift scopeItemsAdded scopeItemsRemoved byStatus { status count } } }
            node(id: $m) { ... on Milestone { baselineDate forecastDate } } }", json!({ "p": s.project, "m": s.milestone }))
        .await;
    let project = &data["project"];
    assert_eq!(project["budget"]["amount"], "1050000");
    let texts: Vec<&str> = project["scope"]["inScope"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["Leads", "Service ticketing"]);
    assert_eq!(project["costBaselines"][0]["cause"], "INITIAL");
    assert_eq!(
        data["node"],
        json!({ "baselineDate": "2027-06-15", "forecastDate": "2027-06-15" })
    );
    let summary = &project["changeSummary"];
    assert_eq!(summary["approvedScheduleDays"], 14);
    assert_eq!(summary["approvedCost"], "50000");
    assert_eq!(summary["scheduleDriftDays"], 14);
    assert_eq!(summary["costDrift"], "50000");
    assert_eq!(
        (
            summary["scopeItemsAdded"].clone(),
            summary["scopeItemsRemoved"].clone()
        ),
        (json!(1), json!(1))
    );

    // The budget is baselined now: only approved changes move it. An edit that moves or
    // clears it, or changes its currency, is refused and writes nothing; one that keeps it
    // (however written) passes.
    const BUDGET: &str = "mutation($p: ID!, $v: Int!, $b: MoneyInput) { projectUpdate(input: { id: $p, expectedVersion: $v, budget: $b }) { project { version budget { amount currency } } userErrors { code field message } } }";
    let version = app
        .ok(
            &s.pm,
            "query($p: ID!) { project(id: $p) { version } }",
            json!({ "p": s.project }),
        )
        .await["project"]["version"]
        .clone();
    let before = app.snapshot().await;
    for budget in [
        json!({ "amount": "2000000", "currency": "CNY" }),
        json!({ "amount": "1050000", "currency": "EUR" }),
        Value::Null,
    ] {
        let refused = app
            .ok(
                &s.pm,
                BUDGET,
                json!({ "p": s.project, "v": version, "b": budget }),
            )
            .await;
        assert_refused(
            &refused["projectUpdate"],
            "PRECONDITION_FAILED",
            &["input", "budget"],
        );
    }
    assert_eq!(app.snapshot().await, before);
    let kept = app
        .ok(&s.pm, BUDGET, json!({ "p": s.project, "v": version, "b": { "amount": "1050000.00", "currency": "CNY" } }))
        .await;
    assert_eq!(kept["projectUpdate"]["userErrors"], json!([]), "{kept}");

    // After the decision, edits are refused; implementation runs to closure.
    let version = app
        .ok(
            &s.pm,
            "query($id: ID!) { node(id: $id) { ... on ChangeRequest { version } } }",
            json!({ "id": cr["id"] }),
        )
        .await["node"]["version"]
        .clone();
    let edit = app
        .ok(&s.pm, "mutation($id: ID!, $v: Int!) { changeRequestUpdate(input: { id: $id, expectedVersion: $v, title: \"x\" }) { userErrors { code field } } }", json!({ "id": cr["id"], "v": version }))
        .await;
    assert_refused(
        &edit["changeRequestUpdate"],
        "INVALID_TRANSITION",
        &["input", "id"],
    );
    for action in ["START_IMPLEMENTATION", "COMPLETE_IMPLEMENTATION", "CLOSE"] {
        let moved = act(&app, &s.pm, &cr, action, None).await;
        assert_eq!(moved["userErrors"], json!([]), "{action}: {moved}");
    }
}

#[tokio::test]
async fn below_the_red_line_the_project_manager_decides_alone() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let cr = raise(&app, &s.requester, &s.project, "Tweak a report").await;
    act(&app, &s.requester, &cr, "SUBMIT", None).await;
    act(&app, &s.pm, &cr, "START_ASSESSMENT", None).await;
    let assessed = assess(&app, &s.pm, &cr, small_impact()).await;
    assert_eq!(assessed["changeRequest"]["withinRedLine"], true);
    let waiting = act(&app, &s.pm, &cr, "REQUEST_DECISION", None).await;
    assert!(
        waiting["changeRequest"]["ballot"].is_null(),
        "no committee ballot below the red line"
    );
    let refused = act(&app, &s.pm, &cr, "REJECT", None).await;
    assert_refused(&refused, "BAD_USER_INPUT", &["input", "note"]);
    // The requester is not the decider.
    let response = app
        .gql(Some(&s.requester.token), "mutation($id: ID!) { changeRequestTransition(input: { id: $id, action: APPROVE }) { userErrors { code } } }", json!({ "id": cr["id"] }))
        .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"));
    let approved = act(&app, &s.pm, &cr, "APPROVE", Some("Small and safe")).await;
    assert_eq!(approved["changeRequest"]["status"], "APPROVED");
    assert_eq!(
        approved["changeRequest"]["costBaseline"]["amount"],
        "1002000"
    );

    // Above the line, the PM cannot.
    let big = raise(&app, &s.requester, &s.project, "Big one").await;
    act(&app, &s.requester, &big, "SUBMIT", None).await;
    act(&app, &s.pm, &big, "START_ASSESSMENT", None).await;
    let mut impact = small_impact();
    impact["risk"]["level"] = json!("CRITICAL");
    assess(&app, &s.pm, &big, impact).await;
    act(&app, &s.pm, &big, "REQUEST_DECISION", None).await;
    let refused = act(&app, &s.pm, &big, "APPROVE", None).await;
    assert_refused(&refused, "PRECONDITION_FAILED", &["input", "action"]);
}

/// A change that costs nothing, moves nothing and risks little, but touches the scope.
fn free_scope_impact(scope: Value) -> Value {
    json!({
        "schedule": { "days": 0 },
        "cost": { "amount": "0", "currency": "CNY", "budgetLine": "Config" },
        "effort": { "personDays": "0" },
        "risk": { "level": "LOW", "description": "A new module" },
        "scope": scope
    })
}

#[tokio::test]
async fn a_change_to_the_scope_goes_to_the_committee_however_cheap() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    sign_scope(&app, &s).await;
    let scope_changes = [
        json!({ "add": [{ "category": "MODULE", "text": "Field service" }], "remove": [] }),
        json!({ "add": [], "remove": [s.scope_item] }),
    ];
    for (n, scope) in scope_changes.into_iter().enumerate() {
        let cr = raise(&app, &s.requester, &s.project, &format!("Scope change {n}")).await;
        act(&app, &s.requester, &cr, "SUBMIT", None).await;
        act(&app, &s.pm, &cr, "START_ASSESSMENT", None).await;
        let assessed = assess(&app, &s.pm, &cr, free_scope_impact(scope)).await;
        assert_eq!(assessed["userErrors"], json!([]), "{assessed}");
        assert_eq!(assessed["changeRequest"]["withinRedLine"], false, "{n}");
        let waiting = act(&app, &s.pm, &cr, "REQUEST_DECISION", None).await;
        assert_eq!(
            waiting["changeRequest"]["ballot"]["decision"]["status"], "OPEN",
            "{n}: {waiting}"
        );
        let before = app.snapshot().await;
        let refused = act(&app, &s.pm, &cr, "APPROVE", None).await;
        assert_refused(&refused, "PRECONDITION_FAILED", &["input", "action"]);
        assert_eq!(app.snapshot().await, before, "{n}");
    }
    // An empty scope part changes no scope: the PM still decides a minor change alone.
    let cr = raise(&app, &s.requester, &s.project, "No scope after all").await;
    act(&app, &s.requester, &cr, "SUBMIT", None).await;
    act(&app, &s.pm, &cr, "START_ASSESSMENT", None).await;
    let assessed = assess(
        &app,
        &s.pm,
        &cr,
        free_scope_impact(json!({ "add": [], "remove": [] })),
    )
    .await;
    assert_eq!(
        assessed["changeRequest"]["withinRedLine"], true,
        "{assessed}"
    );
}

/// Moves the project's red line, as its PM.
async fn set_red_line(app: &TestApp, s: &Setup, red_line: Value) {
    let version = app
        .ok(
            &s.pm,
            "query($p: ID!) { project(id: $p) { version } }",
            json!({ "p": s.project }),
        )
        .await["project"]["version"]
        .clone();
    let data = app
        .ok(&s.pm, "mutation($p: ID!, $v: Int!, $r: RedLineInput!) { projectUpdate(input: { id: $p, expectedVersion: $v, redLine: $r }) { userErrors { code field message } } }", json!({ "p": s.project, "v": version, "r": red_line }))
        .await;
    assert_eq!(data["projectUpdate"]["userErrors"], json!([]), "{data}");
}

#[tokio::test]
async fn the_project_manager_cannot_pull_a_change_out_of_the_committee_vote() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let mut impact = small_impact();
    impact["cost"]["amount"] = json!("50000");
    let (cr, waiting) = send_for_decision(
        &app,
        (&s.requester, &s.pm),
        &s.project,
        "Connect the ERP",
        impact.clone(),
    )
    .await;
    let first = waiting["changeRequest"]["ballot"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    vote(
        &app,
        &s.committee[0],
        &first,
        json!({ "choice": "REJECT", "comment": "Not this year" }),
    )
    .await;

    // The vote goes against the change; the PM raises the red line above it and re-assesses.
    set_red_line(
        &app,
        &s,
        json!({ "scheduleDays": 5, "cost": "100000", "risk": "MEDIUM" }),
    )
    .await;
    impact["cost"]["amount"] = json!("49000");
    let reassessed = assess(&app, &s.pm, &cr, impact).await;
    assert_eq!(reassessed["userErrors"], json!([]), "{reassessed}");
    assert_eq!(reassessed["changeRequest"]["withinRedLine"], true);
    let second = &reassessed["changeRequest"]["ballot"]["decision"];
    assert_ne!(second["id"], json!(first), "{reassessed}");
    assert_eq!(second["status"], "OPEN");
    assert_eq!(second["votes"], json!([]));
    assert_eq!(ballot_status(&app, &s.pm, &first).await, "SUPERSEDED");

    let before = app.snapshot().await;
    let refused = act(&app, &s.pm, &cr, "APPROVE", Some("Below the line now")).await;
    assert_refused(&refused, "PRECONDITION_FAILED", &["input", "action"]);
    assert_eq!(app.snapshot().await, before);

    // Nor by asking for information and requesting the decision again.
    act(&app, &s.pm, &cr, "REQUEST_INFO", Some("Which ERP version?")).await;
    assert_eq!(
        ballot_status(&app, &s.pm, second["id"].as_str().unwrap()).await,
        "SUPERSEDED"
    );
    act(&app, &s.requester, &cr, "PROVIDE_INFO", None).await;
    let again = act(&app, &s.pm, &cr, "REQUEST_DECISION", None).await;
    let third = &again["changeRequest"]["ballot"]["decision"];
    assert_eq!(third["status"], "OPEN", "{again}");
    assert_ne!(third["id"], second["id"]);
    let refused = act(&app, &s.pm, &cr, "APPROVE", Some("Below the line now")).await;
    assert_refused(&refused, "PRECONDITION_FAILED", &["input", "action"]);
    let data = app
        .ok(
            &s.pm,
            "query($id: ID!) { node(id: $id) { ... on ChangeRequest { status decidedBy } } }",
            json!({ "id": cr["id"] }),
        )
        .await;
    assert_eq!(
        data["node"],
        json!({ "status": "AWAITING_DECISION", "decidedBy": null })
    );
}

/// The change request `id` as `who` reads it, with the fields of [`CR`].
async fn read_change(app: &TestApp, who: &TestUser, id: &Value) -> Value {
    let query =
        format!("query($id: ID!) {{ node(id: $id) {{ ... on ChangeRequest {{ {CR} }} }} }}");
    app.ok(who, &query, json!({ "id": id })).await["node"].clone()
}

/// A change sent for decision within the red line waits for the PM. Lowering the red line under
/// it makes it the committee's, so it gets its ballot in the same transaction, the committee is
/// told, and the change records why it went; a change already before the committee keeps its
/// ballot. Where nobody could vote on such a change, the new red line is refused and nothing
/// changes.
#[tokio::test]
async fn a_lowered_red_line_sends_a_change_waiting_for_the_pm_to_the_committee() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let (cr, waiting) = send_for_decision(
        &app,
        (&s.requester, &s.pm),
        &s.project,
        "A pipeline report",
        small_impact(),
    )
    .await;
    assert_eq!(waiting["changeRequest"]["withinRedLine"], true, "{waiting}");
    assert!(waiting["changeRequest"]["ballot"].is_null(), "{waiting}");
    let mut impact = small_impact();
    impact["cost"]["amount"] = json!("50000");
    let (costly, voting) = send_for_decision(
        &app,
        (&s.requester, &s.pm),
        &s.project,
        "Connect the ERP",
        impact,
    )
    .await;
    let costly_ballot = voting["changeRequest"]["ballot"]["decision"]["id"].clone();
    assert!(costly_ballot.is_string(), "{voting}");

    let opened = "notification WHERE kind = 'decision.opened'";
    let opened_before = app.count(opened).await;
    set_red_line(
        &app,
        &s,
        json!({ "scheduleDays": 0, "cost": "1000", "risk": "LOW" }),
    )
    .await;
    let sent = read_change(&app, &s.pm, &cr["id"]).await;
    assert_eq!(sent["withinRedLine"], false, "{sent}");
    assert_eq!(sent["status"], "AWAITING_DECISION");
    let ballot = &sent["ballot"]["decision"];
    assert_eq!(ballot["status"], "OPEN", "{sent}");
    // The PM who assessed it and the requester sit on the committee and are recused, as at
    // REQUEST_DECISION; the three others are asked to vote.
    assert_eq!(
        sent["ballot"]["recused"],
        json!([{ "email": s.pm.email }, { "email": s.requester.email }])
    );
    assert_eq!(ballot["eligibleVoters"].as_array().map(Vec::len), Some(3));
    assert_eq!(app.count(opened).await, opened_before + 3);
    assert_eq!(
        app.count("audit_event WHERE action = 'change_request.sent_to_committee'")
            .await,
        1
    );
    let still = read_change(&app, &s.pm, &costly["id"]).await;
    assert_eq!(still["ballot"]["decision"]["id"], costly_ballot);
    assert_eq!(still["ballot"]["decision"]["status"], "OPEN");

    let refused = act(&app, &s.pm, &cr, "APPROVE", Some("Small enough")).await;
    assert_refused(&refused, "PRECONDITION_FAILED", &["input", "action"]);
    let voted = vote(
        &app,
        &s.committee[0],
        ballot["id"].as_str().unwrap(),
        json!({ "choice": "APPROVE" }),
    )
    .await;
    assert_eq!(voted["userErrors"], json!([]), "{voted}");

    // On a project whose only committee member raised the change, nobody could vote on it.
    let data = app
        .ok(&s.pm, "mutation { projectCreate(input: { code: \"CRM-2\", name: \"CRM 2\", template: null }) { project { id version } } }", json!({}))
        .await;
    let other = data["projectCreate"]["project"].clone();
    app.add_member(
        &s.pm,
        other["id"].as_str().unwrap(),
        &s.requester,
        &["BUSINESS_REP", "STEERING_COMMITTEE"],
    )
    .await;
    send_for_decision(
        &app,
        (&s.requester, &s.pm),
        other["id"].as_str().unwrap(),
        "A lead report",
        small_impact(),
    )
    .await;
    let before = app.snapshot().await;
    let data = app
        .ok(&s.pm, "mutation($p: ID!, $v: Int!) { projectUpdate(input: { id: $p, expectedVersion: $v, redLine: { scheduleDays: 0, cost: \"1000\", risk: LOW } }) { project { id } userErrors { code field message } } }", json!({ "p": other["id"], "v": other["version"] }))
        .await;
    assert_refused(
        &data["projectUpdate"],
        "PRECONDITION_FAILED",
        &["input", "redLine"],
    );
    let message = &data["projectUpdate"]["userErrors"][0]["message"];
    assert!(
        message
            .as_str()
            .is_some_and(|m| m.starts_with("CR-001 would go to the steering committee")),
        "{data}"
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_rejection_closes_and_a_material_edit_supersedes_the_votes() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let mut impact = small_impact();
    impact["cost"]["amount"] = json!("90000");
    let (cr, waiting) = send_for_decision(
        &app,
        (&s.requester, &s.pm),
        &s.project,
        "Change the ERP sync",
        impact.clone(),
    )
    .await;
    let first = waiting["changeRequest"]["ballot"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    vote(
        &app,
        &s.committee[0],
        &first,
        json!({ "choice": "APPROVE" }),
    )
    .await;

    impact["cost"]["amount"] = json!("95000");
    let reassessed = assess(&app, &s.pm, &cr, impact).await;
    let ballot = &reassessed["changeRequest"]["ballot"]["decision"];
    assert_ne!(ballot["id"], json!(first));
    assert_eq!(ballot["status"], "OPEN");
    assert_eq!(ballot["votes"], json!([]));
    let data = app
        .ok(
            &s.pm,
            "query($id: ID!) { node(id: $id) { ... on Decision { status votes { choice } } } }",
            json!({ "id": first }),
        )
        .await;
    assert_eq!(
        data["node"],
        json!({ "status": "SUPERSEDED", "votes": [{ "choice": "APPROVE" }] })
    );
    let stale = vote(
        &app,
        &s.committee[1],
        &first,
        json!({ "choice": "APPROVE" }),
    )
    .await;
    assert_refused(&stale, "INVALID_TRANSITION", &["input", "decisionId"]);

    let second = ballot["id"].as_str().unwrap().to_owned();
    vote(
        &app,
        &s.committee[0],
        &second,
        json!({ "choice": "REJECT", "comment": "Too expensive" }),
    )
    .await;
    let decided = vote(
        &app,
        &s.committee[1],
        &second,
        json!({ "choice": "REJECT", "comment": "Agree" }),
    )
    .await;
    assert_eq!(decided["decision"]["outcome"], "REJECT");
    let closed = act(&app, &s.pm, &cr, "CLOSE", None).await;
    assert_eq!(closed["changeRequest"]["status"], "CLOSED");
    assert!(closed["changeRequest"]["costBaseline"].is_null());
}

#[tokio::test]
async fn a_delegate_votes_on_behalf_of_a_member_and_chains_are_refused() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let deputy = app.user("Dep Uty", false).await;
    app.add_member(&s.pm, &s.project, &deputy, &["BUSINESS_REP"])
        .await;
    let delegate = "mutation($p: ID!, $d: ID!, $from: NaiveDate!, $to: NaiveDate!) { voteDelegationCreate(input: { projectId: $p, delegateId: $d, startsOn: $from, endsOn: $to }) { delegation { delegateId } userErrors { code field message } } }";
    let data = app
        .ok(
            &s.committee[0],
            delegate,
            json!({ "p": s.project, "d": deputy.id, "from": "2027-02-01", "to": "2027-03-31" }),
        )
        .await;
    assert_eq!(
        data["voteDelegationCreate"]["userErrors"],
        json!([]),
        "{data}"
    );
    let data = app.ok(&deputy, delegate, json!({ "p": s.project, "d": s.committee[1].id, "from": "2027-02-01", "to": "2027-03-31" })).await;
    assert_refused(
        &data["voteDelegationCreate"],
        "NOT_ELIGIBLE",
        &["input", "projectId"],
    );
    let data = app.ok(&s.committee[1], delegate, json!({ "p": s.project, "d": s.committee[0].id, "from": "2027-03-01", "to": "2027-03-02" })).await;
    assert_refused(
        &data["voteDelegationCreate"],
        "BAD_USER_INPUT",
        &["input", "delegateId"],
    );

    let mut impact = small_impact();
    impact["schedule"]["days"] = json!(20);
    let (_, waiting) =
        send_for_decision(&app, (&s.requester, &s.pm), &s.project, "Delegated", impact).await;
    let decision = waiting["changeRequest"]["ballot"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let not_delegated = vote(
        &app,
        &deputy,
        &decision,
        json!({ "choice": "APPROVE", "onBehalfOf": s.committee[1].id }),
    )
    .await;
    assert_refused(&not_delegated, "NOT_ELIGIBLE", &["input", "onBehalfOf"]);
    let own = vote(&app, &deputy, &decision, json!({ "choice": "APPROVE" })).await;
    assert_refused(&own, "NOT_ELIGIBLE", &["input", "decisionId"]);
    let proxy = vote(
        &app,
        &deputy,
        &decision,
        json!({ "choice": "APPROVE", "onBehalfOf": s.committee[0].id }),
    )
    .await;
    assert_eq!(proxy["userErrors"], json!([]), "{proxy}");
    let cast = &proxy["decision"]["votes"][0];
    assert_eq!(cast["voter"]["email"], s.committee[0].email, "{proxy}");
    assert_eq!(cast["castBy"]["email"], deputy.email);
    let twice = vote(
        &app,
        &s.committee[0],
        &decision,
        json!({ "choice": "APPROVE" }),
    )
    .await;
    assert_refused(&twice, "CONFLICT", &["input", "decisionId"]);
}

#[tokio::test]
async fn bad_change_input_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let response = app
        .gql(Some(&s.viewer.token), "mutation($p: ID!) { changeRequestCreate(input: { projectId: $p, title: \"x\", justification: \"y\", category: DATA, priority: COULD }) { userErrors { code } } }", json!({ "p": s.project }))
        .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"));
    let cr = raise(&app, &s.requester, &s.project, "Bad inputs").await;
    act(&app, &s.requester, &cr, "SUBMIT", None).await;
    act(&app, &s.pm, &cr, "START_ASSESSMENT", None).await;
    let before = app.snapshot().await;
    let mut impact = small_impact();
    impact["effort"]["personDays"] = json!("-3");
    impact["cost"]["currency"] = json!("EUR");
    let refused = assess(&app, &s.pm, &cr, impact).await;
    let errors = user_errors(&refused);
    assert!(
        errors.iter().any(|(_, f)| f.join(".").contains("effort")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|(_, f)| f.join(".").contains("currency")),
        "{errors:?}"
    );
    // Only the PM asks for the decision.
    let response = app
        .gql(Some(&s.requester.token), "mutation($id: ID!) { changeRequestTransition(input: { id: $id, action: REQUEST_DECISION }) { userErrors { code } } }", json!({ "id": cr["id"] }))
        .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"));
    assert_eq!(app.snapshot().await, before);
}

/// A project's change requests filtered by state, category and requester, alone and together,
/// with the count and the pages following the filter.
#[tokio::test]
async fn change_requests_are_filtered_by_state_category_and_requester() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let create = "mutation($p: ID!, $t: String!, $c: ChangeRequestCategory!) { changeRequestCreate(input: { projectId: $p, title: $t, justification: \"Asked for\", category: $c, priority: SHOULD }) { changeRequest { id code } userErrors { code } } }";
    let mut codes = Vec::new();
    for (who, title, category, submit) in [
        (&s.requester, "Extra report", "SCOPE", true),
        (&s.pm, "Later pilot", "SCHEDULE", true),
        (&s.requester, "More licences", "BUDGET", false),
        (&s.pm, "Wider scope", "SCOPE", false),
        (&s.requester, "Pilot first", "SCHEDULE", true),
    ] {
        let data = app
            .ok(
                who,
                create,
                json!({ "p": s.project, "t": title, "c": category }),
            )
            .await;
        let cr = data["changeRequestCreate"]["changeRequest"].clone();
        if submit {
            act(&app, who, &cr, "SUBMIT", None).await;
        }
        codes.push(cr["code"].as_str().unwrap().to_owned());
    }
    let listed = |filter: Value, first: Option<i64>| {
        let app = &app;
        let pm = &s.pm;
        let project = &s.project;
        async move {
            let data = app
                .ok(
                    pm,
                    "query($p: ID!, $f: ChangeRequestFilterInput, $n: Int) { project(id: $p) { changeRequests(filter: $f, first: $n) { totalCount edges { node { code } } pageInfo { hasNextPage } } } }",
                    json!({ "p": project, "f": filter, "n": first }),
                )
                .await;
            let connection = data["project"]["changeRequests"].clone();
            let listed: Vec<String> = connection["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|edge| edge["node"]["code"].as_str().unwrap().to_owned())
                .collect();
            (
                connection["totalCount"].as_i64().unwrap(),
                listed,
                connection["pageInfo"]["hasNextPage"].clone(),
            )
        }
    };
    let pick =
        |indexes: &[usize]| -> Vec<String> { indexes.iter().map(|i| codes[*i].clone()).collect() };
    assert_eq!(
        listed(json!(null), None).await,
        (5, pick(&[0, 1, 2, 3, 4]), json!(false))
    );
    assert_eq!(
        listed(json!({ "status": ["SUBMITTED"] }), None).await,
        (3, pick(&[0, 1, 4]), json!(false))
    );
    assert_eq!(
        listed(json!({ "status": ["DRAFT", "APPROVED"] }), None).await,
        (2, pick(&[2, 3]), json!(false))
    );
    assert_eq!(
        listed(json!({ "category": ["SCHEDULE", "BUDGET"] }), None).await,
        (3, pick(&[1, 2, 4]), json!(false))
    );
    assert_eq!(
        listed(json!({ "requesterId": s.requester.id }), None).await,
        (3, pick(&[0, 2, 4]), json!(false))
    );
    assert_eq!(
        listed(json!({ "status": ["SUBMITTED"], "category": ["SCHEDULE"], "requesterId": s.requester.id }), None).await,
        (1, pick(&[4]), json!(false))
    );
    assert_eq!(
        listed(json!({ "status": ["SUBMITTED"] }), Some(2)).await,
        (3, pick(&[0, 1]), json!(true))
    );
    assert_eq!(
        listed(json!({ "status": ["CLOSED"] }), None).await,
        (0, vec![], json!(false))
    );
}

/// Thirty-two committee members vote at once: one outcome, one "closed" audit event.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_concurrent_votes_reach_exactly_one_outcome() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let project = app.project(&pm, "CRM-1").await;
    let requester = app.user("Lin Mei", false).await;
    app.add_member(&pm, &project, &requester, &["BUSINESS_REP"])
        .await;
    let mut voters = Vec::new();
    for n in 0..32 {
        let member = app.user(&format!("Member {n}"), false).await;
        app.add_member(&pm, &project, &member, &["STEERING_COMMITTEE"])
            .await;
        voters.push(member);
    }
    let cr = raise(&app, &requester, &project, "Raced").await;
    act(&app, &requester, &cr, "SUBMIT", None).await;
    act(&app, &pm, &cr, "START_ASSESSMENT", None).await;
    let mut impact = small_impact();
    impact["schedule"]["days"] = json!(30);
    impact["cost"]["currency"] = json!("EUR");
    assess(&app, &pm, &cr, impact).await;
    let waiting = act(&app, &pm, &cr, "REQUEST_DECISION", None).await;
    let decision = waiting["changeRequest"]["ballot"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let responses = join_all(
        voters
            .iter()
            .map(|voter| vote(&app, voter, &decision, json!({ "choice": "APPROVE" }))),
    )
    .await;
    let accepted = responses
        .iter()
        .filter(|r| r["userErrors"] == json!([]))
        .count();
    let refused = responses
        .iter()
        .filter(|r| {
            user_errors(r)
                == vec![(
                    "INVALID_TRANSITION".to_owned(),
                    vec!["input".to_owned(), "decisionId".to_owned()],
                )]
        })
        .count();
    assert_eq!((accepted, refused), (17, 15));
    assert_eq!(
        app.count("audit_event WHERE action = 'decision.closed'")
            .await,
        1
    );
    assert_eq!(
        app.count("audit_event WHERE action = 'change_request.approve'")
            .await,
        1
    );
}

/// The decisive vote would apply a change whose scope item is already gone: nothing is applied,
/// the vote is refused, the change stays undecided.
#[tokio::test]
async fn an_approval_that_cannot_be_applied_changes_nothing() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    sign_scope(&app, &s).await;
    let remove = |title: &str| title.to_owned();
    let mut crs = Vec::new();
    for title in [remove("Drop marketing automation"), remove("Also drop it")] {
        let cr = raise(&app, &s.requester, &s.project, &title).await;
        act(&app, &s.requester, &cr, "SUBMIT", None).await;
        act(&app, &s.pm, &cr, "START_ASSESSMENT", None).await;
        let mut impact = small_impact();
        impact["risk"]["level"] = json!("HIGH");
        impact["scope"] = json!({ "remove": [s.scope_item] });
        assess(&app, &s.pm, &cr, impact).await;
        let waiting = act(&app, &s.pm, &cr, "REQUEST_DECISION", None).await;
        crs.push((
            cr,
            waiting["changeRequest"]["ballot"]["decision"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        ));
    }
    vote(
        &app,
        &s.committee[0],
        &crs[0].1,
        json!({ "choice": "APPROVE" }),
    )
    .await;
    vote(
        &app,
        &s.committee[1],
        &crs[0].1,
        json!({ "choice": "APPROVE" }),
    )
    .await;
    vote(
        &app,
        &s.committee[0],
        &crs[1].1,
        json!({ "choice": "APPROVE" }),
    )
    .await;
    let before = app.snapshot().await;
    let scope_versions = app.count("scope_version").await;
    let failed = vote(
        &app,
        &s.committee[1],
        &crs[1].1,
        json!({ "choice": "APPROVE" }),
    )
    .await;
    assert_refused(&failed, "PRECONDITION_FAILED", &["input", "decisionId"]);
    assert_eq!(app.snapshot().await, before);
    assert_eq!(app.count("scope_version").await, scope_versions);
    let data = app
        .ok(
            &s.pm,
            "query($id: ID!) { node(id: $id) { ... on ChangeRequest { status } } }",
            json!({ "id": crs[1].0["id"] }),
        )
        .await;
    assert_eq!(data["node"]["status"], "AWAITING_DECISION");
}

#[tokio::test]
async fn a_milestone_of_another_project_is_refused_where_a_change_names_it() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let other = app.project(&s.pm, "CRM-2").await;
    let data = app.ok(&s.pm, "mutation($p: ID!) { phaseCreate(input: { projectId: $p, name: \"Elsewhere\" }) { phase { id } } }", json!({ "p": other })).await;
    let phase = data["phaseCreate"]["phase"]["id"].clone();
    let data = app.ok(&s.pm, "mutation($p: ID!) { milestoneCreate(input: { phaseId: $p, name: \"Not ours\", baselineDate: \"2027-06-01\" }) { milestone { id } } }", json!({ "p": phase })).await;
    let foreign = data["milestoneCreate"]["milestone"]["id"].clone();
    let before = app.snapshot().await;
    let linked = app
        .ok(&s.pm, "mutation($p: ID!, $m: [ID!]!) { changeRequestCreate(input: { projectId: $p, title: \"Linked\", justification: \"Asked for\", category: SCOPE, priority: MUST, links: { milestoneIds: $m } }) { changeRequest { id } userErrors { code field message } } }", json!({ "p": s.project, "m": [s.milestone, foreign] }))
        .await;
    assert_refused(
        &linked["changeRequestCreate"],
        "NOT_FOUND",
        &["input", "links", "milestoneIds", "1"],
    );
    assert_eq!(user_errors(&linked["changeRequestCreate"]).len(), 1);
    assert_eq!(app.snapshot().await, before);

    let cr = raise(&app, &s.requester, &s.project, "Shifted").await;
    act(&app, &s.requester, &cr, "SUBMIT", None).await;
    act(&app, &s.pm, &cr, "START_ASSESSMENT", None).await;
    let before = app.snapshot().await;
    let mut impact = small_impact();
    impact["schedule"]["milestoneShifts"] = json!([
        { "milestoneId": s.milestone, "days": 3 },
        { "milestoneId": foreign, "days": 3 },
    ]);
    let assessed = assess(&app, &s.pm, &cr, impact).await;
    assert_refused(
        &assessed,
        "NOT_FOUND",
        &["input", "schedule", "milestoneShifts", "1", "milestoneId"],
    );
    assert_eq!(user_errors(&assessed).len(), 1);
    assert_eq!(app.snapshot().await, before);
}

/// The open ballot's id and the change request's version, as the committee sees them.
async fn ballot_state(app: &TestApp, who: &TestUser, cr: &Value) -> Value {
    app.ok(
        who,
        "query($id: ID!) { node(id: $id) { ... on ChangeRequest { status version
            ballot { recused { email } decision { id status canIVote eligibleVoters { email } votes { choice } } } } } }",
        json!({ "id": cr["id"] }),
    )
    .await["node"]
        .clone()
}

/// A change above the red line, assessed whole by the PM and waiting for the committee.
async fn awaiting_the_committee(app: &TestApp, s: &Setup) -> (Value, Value) {
    let mut impact = small_impact();
    impact["cost"]["amount"] = json!("90000");
    let (cr, waiting) = send_for_decision(
        app,
        (&s.requester, &s.pm),
        &s.project,
        "Connect the ERP",
        impact.clone(),
    )
    .await;
    assert_eq!(waiting["changeRequest"]["status"], "AWAITING_DECISION");
    (cr, impact)
}

#[tokio::test]
async fn a_cancelled_project_takes_no_more_votes() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let (cr, _) = awaiting_the_committee(&app, &s).await;
    let voter = &s.committee[0];
    let before = ballot_state(&app, voter, &cr).await;
    let ballot = before["ballot"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(before["ballot"]["decision"]["canIVote"], true);
    let pending = "{ me { pendingVotes { id } } }";
    assert_eq!(
        app.ok(voter, pending, json!({})).await["me"]["pendingVotes"],
        json!([{ "id": ballot }])
    );

    let cancelled = app
        .ok(&s.pm, "mutation($id: ID!) { projectTransition(input: { id: $id, action: CANCEL, reason: \"Budget withdrawn\" }) { project { status } userErrors { code } } }", json!({ "id": s.project }))
        .await;
    assert_eq!(
        cancelled["projectTransition"]["project"]["status"],
        "CANCELLED"
    );

    // Two approvals would have decided the ballot and applied the change.
    for member in &s.committee[..2] {
        let refused = vote(&app, member, &ballot, json!({ "choice": "APPROVE" })).await;
        assert_refused(&refused, "PRECONDITION_FAILED", &["input", "decisionId"]);
    }
    let after = ballot_state(&app, voter, &cr).await;
    assert_eq!(after["status"], "AWAITING_DECISION");
    assert_eq!(after["version"], before["version"]);
    assert_eq!(after["ballot"]["decision"]["status"], "OPEN");
    assert_eq!(after["ballot"]["decision"]["votes"], json!([]));
    assert_eq!(after["ballot"]["decision"]["canIVote"], false);
    assert_eq!(
        app.ok(voter, pending, json!({})).await["me"]["pendingVotes"],
        json!([])
    );
}

#[tokio::test]
async fn a_reassessment_awaiting_the_decision_stays_whole_and_a_new_assessor_reopens_the_vote() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    // A second project manager, who also sits on the committee.
    let bob = app.user("Bob Second", false).await;
    app.add_member(
        &s.pm,
        &s.project,
        &bob,
        &["PROJECT_MANAGER", "STEERING_COMMITTEE"],
    )
    .await;
    let (cr, impact) = awaiting_the_committee(&app, &s).await;
    let before = ballot_state(&app, &bob, &cr).await;
    let first = before["ballot"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(before["ballot"]["decision"]["canIVote"], true);
    vote(&app, &bob, &first, json!({ "choice": "APPROVE" })).await;

    // The committee may only decide a change whose four dimensions are assessed.
    let partial = assess(&app, &bob, &cr, json!({ "risk": impact["risk"] })).await;
    for dimension in ["schedule", "cost", "effort"] {
        assert_refused(&partial, "PRECONDITION_FAILED", &["input", dimension]);
    }
    assert_eq!(user_errors(&partial).len(), 3, "{partial}");
    let unchanged = ballot_state(&app, &bob, &cr).await;
    assert_eq!(unchanged["version"], before["version"]);
    assert_eq!(unchanged["ballot"]["decision"]["id"], json!(first));
    assert_eq!(
        unchanged["ballot"]["decision"]["votes"],
        json!([{ "choice": "APPROVE" }])
    );

    // The same assessment, made by Bob, makes him the assessor: recused from a new round, his
    // vote in the first no longer counting.
    let reassessed = assess(&app, &bob, &cr, impact).await;
    assert_eq!(user_errors(&reassessed).len(), 0, "{reassessed}");
    let after = ballot_state(&app, &bob, &cr).await;
    let second = &after["ballot"]["decision"];
    assert_ne!(second["id"], json!(first));
    assert_eq!(second["status"], "OPEN");
    assert_eq!(second["votes"], json!([]));
    assert_eq!(second["canIVote"], false);
    assert!(
        after["ballot"]["recused"]
            .as_array()
            .unwrap()
            .contains(&json!({ "email": bob.email })),
        "{after}"
    );
    assert!(
        !second["eligibleVoters"]
            .as_array()
            .unwrap()
            .contains(&json!({ "email": bob.email })),
        "{after}"
    );
    assert_eq!(ballot_status(&app, &s.pm, &first).await, "SUPERSEDED");
    let refused = vote(
        &app,
        &bob,
        second["id"].as_str().unwrap(),
        json!({ "choice": "APPROVE" }),
    )
    .await;
    assert!(!user_errors(&refused).is_empty(), "{refused}");
}

/// The baseline and forecast dates of `milestones`, in order.
async fn milestone_dates(app: &TestApp, who: &TestUser, milestones: &[&Value]) -> Vec<Value> {
    let mut dates = Vec::with_capacity(milestones.len());
    for id in milestones {
        let data = app
            .ok(
                who,
                "query($id: ID!) { node(id: $id) { ... on Milestone { baselineDate forecastDate } } }",
                json!({ "id": id }),
            )
            .await;
        dates.push(data["node"].clone());
    }
    dates
}

/// A change that moves `shifts` (milestone, days), above the red line by those days, raised,
/// assessed and put to the committee, two of whom approve: the deciding vote's payload.
async fn approve_shifts(app: &TestApp, s: &Setup, title: &str, shifts: &[(&Value, i32)]) -> Value {
    let cr = raise(app, &s.requester, &s.project, title).await;
    act(app, &s.requester, &cr, "SUBMIT", None).await;
    act(app, &s.pm, &cr, "START_ASSESSMENT", None).await;
    let mut impact = small_impact();
    impact["schedule"]["milestoneShifts"] = shifts
        .iter()
        .map(|(milestone, days)| json!({ "milestoneId": milestone, "days": days }))
        .collect();
    let assessed = assess(app, &s.pm, &cr, impact).await;
    assert_eq!(assessed["userErrors"], json!([]), "{assessed}");
    let waiting = act(app, &s.pm, &cr, "REQUEST_DECISION", None).await;
    let ballot = waiting["changeRequest"]["ballot"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    vote(
        app,
        &s.committee[0],
        &ballot,
        json!({ "choice": "APPROVE" }),
    )
    .await;
    vote(
        app,
        &s.committee[1],
        &ballot,
        json!({ "choice": "APPROVE" }),
    )
    .await
}

#[tokio::test]
async fn an_approved_shift_pushes_the_milestones_linked_after_it_and_may_not_pull_one_before_its_links()
 {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let pilot = json!(s.milestone);
    // Go-live follows the pilot (2027-06-01) by at least 10 days.
    let data = app
        .ok(
            &s.pm,
            "query($p: ID!) { project(id: $p) { phases { id } } }",
            json!({ "p": s.project }),
        )
        .await;
    let phase = data["project"]["phases"][0]["id"].clone();
    let data = app
        .ok(&s.pm, "mutation($p: ID!) { milestoneCreate(input: { phaseId: $p, name: \"Go-live\", forecastDate: \"2027-06-20\" }) { milestone { id } userErrors { message } } }", json!({ "p": phase }))
        .await;
    let go_live = data["milestoneCreate"]["milestone"]["id"].clone();
    assert!(go_live.is_string(), "{data}");
    let data = app
        .ok(&s.pm, "mutation($p: ID!, $s: ID!) { milestoneDependencyAdd(input: { predecessorId: $p, successorId: $s, lagDays: 10 }) { userErrors { message } } }", json!({ "p": pilot, "s": go_live }))
        .await;
    assert_eq!(data["milestoneDependencyAdd"]["userErrors"], json!([]));

    // The pilot two weeks later pushes the go-live to 10 days after it, in the forecasts and
    // in the baseline the approval takes.
    let approved = approve_shifts(&app, &s, "Pilot in a second region", &[(&pilot, 14)]).await;
    assert_eq!(approved["userErrors"], json!([]), "{approved}");
    assert_eq!(approved["decision"]["outcome"], "APPROVE");
    let after = milestone_dates(&app, &s.pm, &[&pilot, &go_live]).await;
    assert_eq!(
        after,
        [
            json!({ "baselineDate": "2027-06-15", "forecastDate": "2027-06-15" }),
            json!({ "baselineDate": "2027-06-25", "forecastDate": "2027-06-25" }),
        ]
    );

    // A go-live brought forward before the pilot allows cannot be applied: nothing changes.
    let refused = approve_shifts(&app, &s, "Go live early", &[(&go_live, -12)]).await;
    assert_refused(&refused, "PRECONDITION_FAILED", &["input", "decisionId"]);
    let message = refused["userErrors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("Go-live to 2027-06-13, before 2027-06-25")
            && message.contains("Pilot live"),
        "{message}"
    );
    assert_eq!(
        milestone_dates(&app, &s.pm, &[&pilot, &go_live]).await,
        after
    );

    // A go-live shifted a day while the pilot moves five ends where the pilot's link puts it,
    // its baseline with it: the approval leaves no slip behind.
    let approved = approve_shifts(&app, &s, "Pilot later", &[(&pilot, 5), (&go_live, 1)]).await;
    assert_eq!(approved["decision"]["outcome"], "APPROVE", "{approved}");
    assert_eq!(
        milestone_dates(&app, &s.pm, &[&pilot, &go_live]).await,
        [
            json!({ "baselineDate": "2027-06-20", "forecastDate": "2027-06-20" }),
            json!({ "baselineDate": "2027-06-30", "forecastDate": "2027-06-30" }),
        ]
    );
}

/// The `milestone.pushed` audit events of the project, oldest first: (milestone name,
/// forecast before, forecast after).
async fn pushed_milestones(app: &TestApp, s: &Setup) -> Vec<(Value, Value, Value)> {
    let data = app
        .ok(
            &s.pm,
            "query($p: ID!) { auditEvents(projectId: $p, last: 100) { edges { node { action entityType before after } } } }",
            json!({ "p": s.project }),
        )
        .await;
    data["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| &edge["node"])
        .filter(|event| event["action"] == "milestone.pushed")
        .map(|event| {
            assert_eq!(event["entityType"], "Milestone");
            (
                event["after"]["name"].clone(),
                event["before"]["forecastDate"].clone(),
                event["after"]["forecastDate"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_approved_shift_logs_every_milestone_it_moves() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let pilot = json!(s.milestone);
    let data = app
        .ok(
            &s.pm,
            "query($p: ID!) { project(id: $p) { phases { id } } }",
            json!({ "p": s.project }),
        )
        .await;
    let phase = data["project"]["phases"][0]["id"].clone();
    let data = app
        .ok(&s.pm, "mutation($p: ID!) { milestoneCreate(input: { phaseId: $p, name: \"Go-live\", forecastDate: \"2027-06-20\" }) { milestone { id } } }", json!({ "p": phase }))
        .await;
    let go_live = data["milestoneCreate"]["milestone"]["id"].clone();
    app.ok(&s.pm, "mutation($p: ID!, $s: ID!) { milestoneDependencyAdd(input: { predecessorId: $p, successorId: $s, lagDays: 10 }) { userErrors { message } } }", json!({ "p": pilot, "s": go_live }))
        .await;
    assert_eq!(pushed_milestones(&app, &s).await, []);

    let approved = approve_shifts(&app, &s, "Pilot in a second region", &[(&pilot, 14)]).await;
    assert_eq!(approved["decision"]["outcome"], "APPROVE", "{approved}");
    let logged = vec![
        (
            json!("Pilot live"),
            json!("2027-06-01"),
            json!("2027-06-15"),
        ),
        (json!("Go-live"), json!("2027-06-20"), json!("2027-06-25")),
    ];
    assert_eq!(pushed_milestones(&app, &s).await, logged);

    // An approval that cannot be applied logs no move either.
    let refused = approve_shifts(&app, &s, "Go live early", &[(&go_live, -12)]).await;
    assert_refused(&refused, "PRECONDITION_FAILED", &["input", "decisionId"]);
    assert_eq!(pushed_milestones(&app, &s).await, logged);
}

#[tokio::test]
async fn a_change_approved_without_a_baseline_still_counts_once_closed() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    // Effort and a day overall, no milestone, no cost: the approval makes no baseline.
    let mut impact = small_impact();
    impact["cost"]["amount"] = json!("0");
    let summary = || async {
        app.ok(&s.pm, "query($p: ID!) { project(id: $p) { changeSummary { approvedScheduleDays approvedEffortPersonDays } } }", json!({ "p": s.project }))
            .await["project"]["changeSummary"]
            .clone()
    };
    let mut decided = Vec::new();
    for (title, action, note) in [
        ("Two more report layouts", "APPROVE", None),
        ("A third language", "REJECT", Some("Not in this release")),
    ] {
        let cr = raise(&app, &s.requester, &s.project, title).await;
        act(&app, &s.requester, &cr, "SUBMIT", None).await;
        act(&app, &s.pm, &cr, "START_ASSESSMENT", None).await;
        assess(&app, &s.pm, &cr, impact.clone()).await;
        act(&app, &s.pm, &cr, "REQUEST_DECISION", None).await;
        let moved = act(&app, &s.pm, &cr, action, note).await;
        assert_eq!(moved["userErrors"], json!([]), "{moved}");
        decided.push(cr);
    }
    let counted = json!({ "approvedScheduleDays": 1, "approvedEffortPersonDays": "2" });
    assert_eq!(summary().await, counted);
    for action in ["START_IMPLEMENTATION", "COMPLETE_IMPLEMENTATION", "CLOSE"] {
        let moved = act(&app, &s.pm, &decided[0], action, None).await;
        assert_eq!(moved["userErrors"], json!([]), "{action}: {moved}");
    }
    let closed = act(&app, &s.pm, &decided[1], "CLOSE", None).await;
    assert_eq!(closed["changeRequest"]["status"], "CLOSED");
    assert_eq!(summary().await, counted);
}

/// A scope version drafted from the baseline an approved change then replaces takes the
/// change with it: baselined later, it cannot undo what the committee approved. One in review
/// goes back to DRAFT, as its signatures were given to a document without the change.
#[tokio::test]
async fn an_open_scope_draft_takes_an_approved_change_and_cannot_undo_it() {
    open_draft_takes_an_approved_change(false).await;
}

/// The same once the project is initiated, where a version drafted by hand keeps the
/// baseline's in-scope items: the change's items come into the draft with the new baseline, so
/// the draft still keeps them, and it is submitted and signed again as before.
#[tokio::test]
async fn after_initiation_an_open_scope_draft_takes_an_approved_change_and_is_signed_with_it() {
    open_draft_takes_an_approved_change(true).await;
}

/// A draft with an edit of its own, in review when the committee approves a change that adds
/// service ticketing and drops marketing automation. Before initiation the draft adds a
/// partner portal to the scope; once initiated it keeps the in-scope items and excludes it.
async fn open_draft_takes_an_approved_change(initiated: bool) {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    sign_scope(&app, &s).await;
    if initiated {
        app.put_project_in(&s.project, "INITIATED").await;
    }
    const VERSION: &str = "id number status version basedOnId inScope { id text } outOfScope { text } signatories { user { id } signedAt }";
    let drafted = app
        .ok(&s.pm, &format!("mutation($p: ID!) {{ scopeDraftCreate(input: {{ projectId: $p }}) {{ scope {{ {VERSION} }} }} }}"), json!({ "p": s.project }))
        .await["scopeDraftCreate"]["scope"]
        .clone();
    let draft = drafted["id"].clone();
    let mut items: Vec<Value> = drafted["inScope"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| json!({ "id": item["id"], "category": "MODULE", "text": item["text"] }))
        .collect();
    let portal = json!({ "category": "MODULE", "text": "Partner portal" });
    let mut excluded = Vec::new();
    if initiated {
        excluded.push(portal);
    } else {
        items.push(portal);
    }
    let updated = app
        .ok(&s.pm, "mutation($id: ID!, $v: Int!, $items: [ScopeItemInput!]!, $out: [ScopeItemInput!]!) { scopeDraftUpdate(input: { id: $id, expectedVersion: $v, objectives: [{ text: \"Sell more\" }], inScope: $items, outOfScope: $out }) { scope { version } userErrors { message } } }", json!({ "id": draft, "v": drafted["version"], "items": items, "out": excluded }))
        .await;
    assert_eq!(
        updated["scopeDraftUpdate"]["userErrors"],
        json!([]),
        "{updated}"
    );
    let sponsor = sponsor_of(&app, &s).await;
    let submitted = app
        .ok(&s.pm, "mutation($id: ID!, $v: Int!, $s: [ID!]!) { scopeReviewSubmit(input: { id: $id, expectedVersion: $v, signatoryIds: $s }) { userErrors { message } } }", json!({ "id": draft, "v": updated["scopeDraftUpdate"]["scope"]["version"], "s": [sponsor, s.requester.id] }))
        .await;
    assert_eq!(
        submitted["scopeReviewSubmit"]["userErrors"],
        json!([]),
        "{submitted}"
    );
    app.ok(
        &s.requester,
        "mutation($id: ID!) { scopeSign(input: { id: $id }) { userErrors { code } } }",
        json!({ "id": draft }),
    )
    .await;

    // The committee approves a change that adds service ticketing and drops marketing
    // automation from the baseline the draft was opened from.
    let cr = raise(&app, &s.requester, &s.project, "Swap a module").await;
    act(&app, &s.requester, &cr, "SUBMIT", None).await;
    act(&app, &s.pm, &cr, "START_ASSESSMENT", None).await;
    let mut impact = small_impact();
    impact["risk"]["level"] = json!("HIGH");
    impact["scope"] = json!({ "add": [{ "category": "PROCESS", "text": "Service ticketing" }], "remove": [s.scope_item] });
    let assessed = assess(&app, &s.pm, &cr, impact).await;
    assert_eq!(assessed["userErrors"], json!([]), "{assessed}");
    let waiting = act(&app, &s.pm, &cr, "REQUEST_DECISION", None).await;
    let decision = waiting["changeRequest"]["ballot"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for member in &s.committee[..2] {
        vote(&app, member, &decision, json!({ "choice": "APPROVE" })).await;
    }

    let read = |id: Value| {
        let app = &app;
        let pm = &s.pm;
        async move {
            app.ok(
                pm,
                &format!(
                    "query($id: ID!) {{ node(id: $id) {{ ... on ScopeVersion {{ {VERSION} }} }} }}"
                ),
                json!({ "id": id }),
            )
            .await["node"]
                .clone()
        }
    };
    let texts = |version: &Value| {
        let mut texts: Vec<String> = version["inScope"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["text"].as_str().unwrap().to_owned())
            .collect();
        texts.sort();
        texts
    };
    let baseline = app
        .ok(
            &s.pm,
            "query($p: ID!) { project(id: $p) { scope { id number } } }",
            json!({ "p": s.project }),
        )
        .await["project"]["scope"]
        .clone();
    let rebased = read(draft.clone()).await;
    assert_eq!(rebased["status"], "DRAFT", "back to draft: {rebased}");
    assert_eq!(rebased["basedOnId"], baseline["id"], "{rebased}");
    let (in_scope, out_of_scope) = if initiated {
        (
            vec!["Leads", "Service ticketing"],
            json!([{ "text": "Partner portal" }]),
        )
    } else {
        (
            vec!["Leads", "Partner portal", "Service ticketing"],
            json!([]),
        )
    };
    assert_eq!(
        texts(&rebased),
        in_scope,
        "the change's items come in, the draft's own edit stays"
    );
    assert_eq!(rebased["outOfScope"], out_of_scope, "{rebased}");
    assert_eq!(rebased["signatories"], json!([]), "{rebased}");

    // Submitted and signed again, it becomes the baseline with the approved change in it.
    let resubmitted = app
        .ok(&s.pm, "mutation($id: ID!, $v: Int!, $s: [ID!]!) { scopeReviewSubmit(input: { id: $id, expectedVersion: $v, signatoryIds: $s }) { userErrors { message } } }", json!({ "id": draft, "v": rebased["version"], "s": [sponsor, s.requester.id] }))
        .await;
    assert_eq!(
        resubmitted["scopeReviewSubmit"]["userErrors"],
        json!([]),
        "{resubmitted}"
    );
    sign_version(&app, &s, &draft).await;
    let signed = read(draft).await;
    assert_eq!(signed["status"], "BASELINED", "{signed}");
    assert_eq!(texts(&signed), in_scope);
    assert_eq!(signed["outOfScope"], out_of_scope);
}

#[tokio::test]
async fn an_approved_addition_takes_an_item_out_of_the_exclusions_and_never_adds_one_twice() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    sign_scope(&app, &s).await;
    // Version 2 of the scope excludes field service.
    let drafted = app
        .ok(&s.pm, "mutation($p: ID!) { scopeDraftCreate(input: { projectId: $p }) { scope { id version inScope { id text } } } }", json!({ "p": s.project }))
        .await["scopeDraftCreate"]["scope"]
        .clone();
    let items: Vec<Value> = drafted["inScope"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| json!({ "id": item["id"], "category": "MODULE", "text": item["text"] }))
        .collect();
    let updated = app
        .ok(&s.pm, "mutation($id: ID!, $v: Int!, $items: [ScopeItemInput!]!) { scopeDraftUpdate(input: { id: $id, expectedVersion: $v, objectives: [{ text: \"Sell more\" }], inScope: $items, outOfScope: [{ category: DEPARTMENT, text: \"Field service\" }] }) { scope { version } userErrors { message } } }", json!({ "id": drafted["id"], "v": drafted["version"], "items": items }))
        .await;
    assert_eq!(
        updated["scopeDraftUpdate"]["userErrors"],
        json!([]),
        "{updated}"
    );
    let sponsor = sponsor_of(&app, &s).await;
    let submitted = app
        .ok(&s.pm, "mutation($id: ID!, $v: Int!, $s: [ID!]!) { scopeReviewSubmit(input: { id: $id, expectedVersion: $v, signatoryIds: $s }) { userErrors { message } } }", json!({ "id": drafted["id"], "v": updated["scopeDraftUpdate"]["scope"]["version"], "s": [sponsor, s.requester.id] }))
        .await;
    assert_eq!(
        submitted["scopeReviewSubmit"]["userErrors"],
        json!([]),
        "{submitted}"
    );
    sign_version(&app, &s, &drafted["id"]).await;

    let cr = raise(&app, &s.requester, &s.project, "Bring in field service").await;
    act(&app, &s.requester, &cr, "SUBMIT", None).await;
    act(&app, &s.pm, &cr, "START_ASSESSMENT", None).await;
    // A second change asks for the same item, assessed before the first is approved.
    let rival = raise(&app, &s.requester, &s.project, "Field service, again").await;
    act(&app, &s.requester, &rival, "SUBMIT", None).await;
    act(&app, &s.pm, &rival, "START_ASSESSMENT", None).await;
    let mut impact = small_impact();
    impact["scope"] =
        json!({ "add": [{ "category": "DEPARTMENT", "text": "field service" }], "remove": [] });
    let assessed = assess(&app, &s.pm, &rival, impact).await;
    assert_eq!(assessed["userErrors"], json!([]), "{assessed}");
    let waiting = act(&app, &s.pm, &rival, "REQUEST_DECISION", None).await;
    let rival_ballot = waiting["changeRequest"]["ballot"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // An item the baseline holds in scope already is refused, whatever its case.
    let before = app.snapshot().await;
    let mut impact = small_impact();
    impact["scope"] = json!({ "add": [{ "category": "PROCESS", "text": "Field service" }, { "category": "MODULE", "text": "LEADS" }], "remove": [] });
    let refused = assess(&app, &s.pm, &cr, impact).await;
    assert_refused(
        &refused,
        "BAD_USER_INPUT",
        &["input", "scope", "add", "1", "text"],
    );
    assert_eq!(user_errors(&refused).len(), 1, "{refused}");
    assert_eq!(app.snapshot().await, before);

    let mut impact = small_impact();
    impact["scope"] =
        json!({ "add": [{ "category": "PROCESS", "text": "Field service" }], "remove": [] });
    let assessed = assess(&app, &s.pm, &cr, impact).await;
    assert_eq!(assessed["userErrors"], json!([]), "{assessed}");
    let waiting = act(&app, &s.pm, &cr, "REQUEST_DECISION", None).await;
    let decision = waiting["changeRequest"]["ballot"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for member in &s.committee[..2] {
        vote(&app, member, &decision, json!({ "choice": "APPROVE" })).await;
    }
    let data = app
        .ok(
            &s.pm,
            "query($p: ID!) { project(id: $p) { scope { number cause inScope { text } outOfScope { text } } } }",
            json!({ "p": s.project }),
        )
        .await;
    assert_eq!(
        data["project"]["scope"],
        json!({
            "number": 3, "cause": "CHANGE_REQUEST",
            "inScope": [{ "text": "Leads" }, { "text": "Marketing automation" }, { "text": "Field service" }],
            "outOfScope": []
        })
    );

    // The rival would list it twice: its approval cannot be applied, and changes nothing.
    vote(
        &app,
        &s.committee[0],
        &rival_ballot,
        json!({ "choice": "APPROVE" }),
    )
    .await;
    let before = app.snapshot().await;
    let refused = vote(
        &app,
        &s.committee[1],
        &rival_ballot,
        json!({ "choice": "APPROVE" }),
    )
    .await;
    assert_refused(&refused, "PRECONDITION_FAILED", &["input", "decisionId"]);
    let message = refused["userErrors"][0]["message"].as_str().unwrap();
    assert!(message.contains("already in scope"), "{message}");
    assert_eq!(app.snapshot().await, before);
}

/// Signs scope version `id` as the requester, then as the sponsor (through the service, as
/// the sponsor has no token in the tests).
async fn sign_version(app: &TestApp, s: &Setup, id: &Value) {
    let signed = app
        .ok(
            &s.requester,
            "mutation($id: ID!) { scopeSign(input: { id: $id }) { userErrors { code message } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(signed["scopeSign"]["userErrors"], json!([]), "{signed}");
    sign_as_sponsor(app, s, id).await;
}
