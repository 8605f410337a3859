//! Go-live: a NO_GO then a GO on evidence, cutover, hypercare closing; and a rollback.

use serde_json::{Value, json};
use steerco_graphql::service::go_live::GO_LIVE_CALENDAR_LOCK;

use crate::phases::vote;
use crate::support::{HeldLock, TestApp, TestUser, assert_refused, error_code, user_errors};

/// The go-live most tests plan, just after the cutover `create_plan` sets, and a change
/// freeze around it.
const GO_LIVE: &str = "2027-03-28T00:00:00Z";
const FREEZE_AROUND_GO_LIVE: (&str, &str) = ("2027-03-20T00:00:00Z", "2027-04-10T00:00:00Z");
/// A go-live inside that freeze, after its own go-live.
const INSIDE_THE_FREEZE: &str = "2027-04-01T00:00:00Z";

struct Setup {
    pm: TestUser,
    sponsor: TestUser,
    committee: Vec<TestUser>,
    outsider_member: TestUser,
    project: String,
}

async fn setup(app: &TestApp, code: &str) -> Setup {
    let pm = app.user(&format!("Pm {code}"), false).await;
    let project = app.project(&pm, code).await;
    let sponsor = app.user(&format!("Sponsor {code}"), false).await;
    // The sponsor signs the scope for the business too, as initiation needs both.
    app.add_member(&pm, &project, &sponsor, &["SPONSOR", "BUSINESS_REP"])
        .await;
    app.baseline_scope(&pm, &project, &[&sponsor]).await;
    let mut committee = Vec::new();
    for n in 0..3 {
        let member = app.user(&format!("Committee {code} {n}"), false).await;
        app.add_member(&pm, &project, &member, &["STEERING_COMMITTEE"])
            .await;
        committee.push(member);
    }
    let outsider_member = app.user(&format!("Viewer {code}"), false).await;
    app.add_member(&pm, &project, &outsider_member, &["VIEWER"])
        .await;
    let data = app.ok(&pm, "mutation($p: ID!) { phaseCreate(input: { projectId: $p, name: \"Build\" }) { phase { id } } }", json!({ "p": project })).await;
    let phase = data["phaseCreate"]["phase"]["id"].clone();
    app.ok(&pm, "mutation($p: ID!, $owner: ID!) { milestoneCreate(input: { phaseId: $p, name: \"Hypercare exit\", ownerId: $owner, baselineDate: \"2027-12-01\" }) { userErrors { code } } }", json!({ "p": phase, "owner": pm.id })).await;
    for action in ["INITIATE", "START_EXECUTION"] {
        let data = app
            .ok(&pm, "mutation($p: ID!, $a: ProjectAction!) { projectTransition(input: { id: $p, action: $a }) { userErrors { code message } } }", json!({ "p": project, "a": action }))
            .await;
        assert_eq!(data["projectTransition"]["userErrors"], json!([]), "{data}");
    }
    Setup {
        pm,
        sponsor,
        committee,
        outsider_member,
        project,
    }
}

const PLAN: &str = "plan { id status attempt statusReason overrideReason rollbackForced plannedGoLive
    criteria { key holds value } decisionSnapshot { key holds value } runbook { id name critical earliestStartMinutes status } plannedCutoverEnd }
    decision { id } userErrors { code field message }";

async fn create_plan(
    app: &TestApp,
    s: &Setup,
    go_live: &str,
    freeze: Option<(&str, &str)>,
) -> Value {
    let (freeze_start, freeze_end) = freeze.map_or((None, None), |(a, b)| (Some(a), Some(b)));
    plan_create(
        app,
        s,
        json!({ "plannedGoLive": go_live,
                "cutoverStart": "2027-03-27T18:00:00Z", "cutoverEnd": "2027-03-28T18:00:00Z",
                "freezeStart": freeze_start, "freezeEnd": freeze_end }),
    )
    .await
}

/// `goLivePlanCreate` by the project's PM, a BIG_BANG plan with `dates` as given (any of
/// `plannedGoLive`, `cutoverStart`, `cutoverEnd`, `freezeStart`, `freezeEnd`): its payload.
async fn plan_create(app: &TestApp, s: &Setup, dates: Value) -> Value {
    let Value::Object(dates) = dates else {
        panic!("the dates are an object: {dates}");
    };
    let mut input = json!({ "projectId": s.project, "strategy": "BIG_BANG" });
    input.as_object_mut().unwrap().extend(dates);
    app.ok(
        &s.pm,
        &format!("mutation($input: GoLivePlanCreateInput!) {{ goLivePlanCreate(input: $input) {{ {PLAN} }} }}"),
        json!({ "input": input }),
    )
    .await["goLivePlanCreate"]
        .clone()
}

async fn plan_call(app: &TestApp, who: &TestUser, mutation: &str, input: Value) -> Value {
    let response = app
        .gql(
            Some(&who.token),
            &format!(
                "mutation($input: {}Input!) {{ {}(input: $input) {{ {PLAN} }} }}",
                upper(mutation),
                mutation
            ),
            json!({ "input": input }),
        )
        .await;
    if response.get("errors").is_some() {
        return response;
    }
    response["data"][mutation].clone()
}

fn upper(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

async fn prepare(app: &TestApp, s: &Setup, plan: &str) {
    let prepared = plan_call(
        app,
        &s.pm,
        "goLivePlanPrepare",
        json!({ "planId": plan,
                "rollbackPlan": { "authorityIds": [s.pm.id], "maxMinutes": 240, "rehearsedOn": "2027-02-20", "rehearsalPassed": true,
                                  "triggers": [{ "condition": "Orders cannot be created", "metric": "order errors", "threshold": "> 1%" }],
                                  "steps": [{ "text": "Switch DNS back to the legacy CRM", "ownerId": s.pm.id }],
                                  "reconciliationSteps": [{ "text": "Re-key orders created in the new CRM" }] },
                "warRoom": [{ "userId": s.pm.id, "shift": "Day 1 08:00-20:00", "contact": "+86 10 0000" }],
                "hypercareExit": ["Login rate above 90% for 3 days"] }),
    )
    .await;
    assert_eq!(prepared["userErrors"], json!([]), "{prepared}");
    let approved = plan_call(
        app,
        &s.sponsor,
        "goLiveRollbackApprove",
        json!({ "planId": plan }),
    )
    .await;
    assert_eq!(approved["userErrors"], json!([]), "{approved}");
}

/// Takes a prepared plan to APPROVED_GO: the decision requested, the sponsor's override of
/// the criteria that fail, two of the three committee members voting GO.
async fn approve_go(app: &TestApp, s: &Setup, plan: &str) {
    let requested = plan_call(
        app,
        &s.pm,
        "goLiveDecisionRequest",
        json!({ "planId": plan }),
    )
    .await;
    let ballot = requested["decision"]["id"].as_str().unwrap().to_owned();
    approve_on(app, s, plan, &ballot).await;
}

/// Takes a plan awaiting the committee on `ballot` to APPROVED_GO: the sponsor's override of
/// the criteria that fail, two of the three committee members voting GO.
async fn approve_on(app: &TestApp, s: &Setup, plan: &str, ballot: &str) {
    plan_call(
        app,
        &s.sponsor,
        "goLiveOverride",
        json!({ "planId": plan, "reason": "Accepted risk" }),
    )
    .await;
    for member in &s.committee[..2] {
        vote(app, member, ballot, json!({ "choice": "GO" })).await;
    }
    let data = app
        .ok(
            &s.pm,
            "query($id: ID!) { node(id: $id) { ... on GoLivePlan { status } } }",
            json!({ "id": plan }),
        )
        .await;
    assert_eq!(data["node"]["status"], "APPROVED_GO", "{data}");
}

fn holds(plan: &Value, key: &str) -> bool {
    plan["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("{key} in {plan}"))["holds"]
        .as_bool()
        .unwrap()
}

#[tokio::test]
async fn the_committee_says_no_go_then_go_and_the_project_goes_live() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "CRM-GO").await;
    let created = create_plan(&app, &s, GO_LIVE, Some(FREEZE_AROUND_GO_LIVE)).await;
    assert_eq!(created["userErrors"], json!([]), "{created}");
    let plan = created["plan"]["id"].as_str().unwrap().to_owned();
    assert!(!holds(&created["plan"], "ROLLBACK_APPROVED_AND_REHEARSED"));
    assert!(!holds(&created["plan"], "WAR_ROOM_STAFFED"));

    // The first ballot: NO_GO, with the evaluation frozen.
    let requested = plan_call(
        &app,
        &s.pm,
        "goLiveDecisionRequest",
        json!({ "planId": plan }),
    )
    .await;
    assert_eq!(
        requested["plan"]["status"], "READY_FOR_DECISION",
        "{requested}"
    );
    let ballot = requested["decision"]["id"].as_str().unwrap().to_owned();
    let refused = vote(&app, &s.outsider_member, &ballot, json!({ "choice": "GO" })).await;
    assert_refused(&refused, "NOT_ELIGIBLE", &["input", "decisionId"]);
    vote(
        &app,
        &s.committee[0],
        &ballot,
        json!({ "choice": "NO_GO", "comment": "No rollback plan" }),
    )
    .await;
    vote(
        &app,
        &s.committee[1],
        &ballot,
        json!({ "choice": "NO_GO", "comment": "War Room empty" }),
    )
    .await;
    let data = app.ok(&s.pm, "query($id: ID!) { node(id: $id) { ... on GoLivePlan { status statusReason criteria { key holds value } decisionSnapshot { key holds value } } } }", json!({ "id": plan })).await;
    assert_eq!(data["node"]["status"], "NO_GO");
    // Nothing they read changed since: the criteria read through the request's loaders are
    // those the decision froze, read in its transaction.
    assert_eq!(data["node"]["criteria"], data["node"]["decisionSnapshot"]);
    assert!(
        data["node"]["statusReason"]
            .as_str()
            .unwrap()
            .contains("No rollback plan")
    );
    let frozen = data["node"]["decisionSnapshot"].clone();
    assert!(
        frozen
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["key"] == "WAR_ROOM_STAFFED" && c["holds"] == false)
    );

    // Rescheduled and prepared.
    let rescheduled = plan_call(
        &app,
        &s.pm,
        "goLiveTransition",
        json!({ "planId": plan, "action": "RESCHEDULE", "newGoLive": "2027-04-04T00:00:00Z" }),
    )
    .await;
    assert_eq!(rescheduled["plan"]["status"], "DRAFT", "{rescheduled}");
    prepare(&app, &s, &plan).await;
    let task = |name: &str, minutes: u32, depends: Vec<Value>, pnr: bool| json!({ "planId": plan, "name": name, "durationMinutes": minutes, "dependsOn": depends, "pointOfNoReturn": pnr, "ownerId": s.pm.id });
    let add = "mutation($input: CutoverTaskAddInput!) { cutoverTaskAdd(input: $input) { taskId userErrors { code field message } } }";
    let freeze = app
        .ok(
            &s.pm,
            add,
            json!({ "input": task("Freeze legacy CRM", 60, vec![], false) }),
        )
        .await["cutoverTaskAdd"]["taskId"]
        .clone();
    let migrate = app
        .ok(
            &s.pm,
            add,
            json!({ "input": task("Final data migration", 240, vec![freeze.clone()], true) }),
        )
        .await["cutoverTaskAdd"]["taskId"]
        .clone();
    let smoke = app
        .ok(
            &s.pm,
            add,
            json!({ "input": task("Smoke test", 30, vec![migrate.clone()], false) }),
        )
        .await["cutoverTaskAdd"]["taskId"]
        .clone();
    let stranger = app.user("Out Sider", false).await;
    let data = app.ok(&s.pm, add, json!({ "input": { "planId": plan, "name": "x", "durationMinutes": 5, "ownerId": stranger.id } })).await;
    assert_refused(
        &data["cutoverTaskAdd"],
        "BAD_USER_INPUT",
        &["input", "ownerId"],
    );
    let data = app.ok(&s.pm, "query($id: ID!) { node(id: $id) { ... on GoLivePlan { plannedCutoverEnd runbook { name critical earliestStartMinutes } } } }", json!({ "id": plan })).await;
    assert_eq!(
        data["node"]["plannedCutoverEnd"],
        "2027-04-03T23:30:00+00:00"
    );
    assert_eq!(
        data["node"]["runbook"][2],
        json!({ "name": "Smoke test", "critical": true, "earliestStartMinutes": 300 })
    );

    // Second ballot: GO, but criteria fail (no UAT cycle signed off): refused without an override.
    let requested = plan_call(
        &app,
        &s.pm,
        "goLiveDecisionRequest",
        json!({ "planId": plan }),
    )
    .await;
    let ballot = requested["decision"]["id"].as_str().unwrap().to_owned();
    vote(&app, &s.committee[0], &ballot, json!({ "choice": "GO" })).await;
    let before = app.snapshot().await;
    let refused = vote(&app, &s.committee[1], &ballot, json!({ "choice": "GO" })).await;
    assert_refused(&refused, "PRECONDITION_FAILED", &["input", "decisionId"]);
    assert_eq!(app.snapshot().await, before);
    let overridden = plan_call(
        &app,
        &s.sponsor,
        "goLiveOverride",
        json!({ "planId": plan, "reason": "Pilot region only; UAT continues in parallel" }),
    )
    .await;
    assert_eq!(overridden["userErrors"], json!([]), "{overridden}");
    let decided = vote(&app, &s.committee[1], &ballot, json!({ "choice": "GO" })).await;
    assert_eq!(decided["decision"]["outcome"], "GO", "{decided}");
    let data = app.ok(&s.pm, "query($id: ID!) { node(id: $id) { ... on GoLivePlan { status overrideReason decisionSnapshot { key holds } } } }", json!({ "id": plan })).await;
    assert_eq!(data["node"]["status"], "APPROVED_GO");
    assert!(
        data["node"]["overrideReason"]
            .as_str()
            .unwrap()
            .contains("Pilot")
    );
    let snapshot = data["node"]["decisionSnapshot"].clone();
    assert_eq!(
        app.count("audit_event WHERE action = 'go_live.override_recorded'")
            .await,
        1
    );

    // Cutover: tasks in order; going live needs every task done.
    plan_call(
        &app,
        &s.pm,
        "goLiveTransition",
        json!({ "planId": plan, "action": "START_CUTOVER" }),
    )
    .await;
    let set = "mutation($id: ID!, $s: CutoverTaskStatus!) { cutoverTaskSetStatus(input: { id: $id, status: $s }) { status userErrors { code field message } } }";
    let early = app
        .ok(&s.pm, set, json!({ "id": smoke, "s": "IN_PROGRESS" }))
        .await;
    assert_refused(
        &early["cutoverTaskSetStatus"],
        "PRECONDITION_FAILED",
        &["input", "id"],
    );
    let premature = plan_call(
        &app,
        &s.pm,
        "goLiveTransition",
        json!({ "planId": plan, "action": "GO_LIVE" }),
    )
    .await;
    assert_refused(&premature, "PRECONDITION_FAILED", &["input", "action"]);
    for id in [&freeze, &migrate, &smoke] {
        app.ok(&s.pm, set, json!({ "id": id, "s": "IN_PROGRESS" }))
            .await;
        let done = app.ok(&s.pm, set, json!({ "id": id, "s": "DONE" })).await;
        assert_eq!(done["cutoverTaskSetStatus"]["status"], "DONE");
    }
    let live = plan_call(
        &app,
        &s.pm,
        "goLiveTransition",
        json!({ "planId": plan, "action": "GO_LIVE" }),
    )
    .await;
    assert_eq!(live["plan"]["status"], "LIVE", "{live}");
    let data = app
        .ok(
            &s.pm,
            "query($p: ID!) { project(id: $p) { status } }",
            json!({ "p": s.project }),
        )
        .await;
    assert_eq!(data["project"]["status"], "LIVE_HYPERCARE");

    // Hypercare: a breached metric keeps it open.
    let metric = app
        .ok(&s.pm, "mutation($p: ID!) { hypercareMetricAdd(input: { planId: $p, name: \"Login rate\", unit: \"%\", target: \"90\", direction: AT_LEAST }) { metric { id } userErrors { code } } }", json!({ "p": plan }))
        .await["hypercareMetricAdd"]["metric"]["id"]
        .clone();
    let read = "mutation($m: ID!, $v: Decimal!) { hypercareReadingRecord(input: { metricId: $m, value: $v }) { reading { breached } userErrors { code } } }";
    let low = app
        .ok(&s.pm, read, json!({ "m": metric, "v": "72.5" }))
        .await;
    assert_eq!(low["hypercareReadingRecord"]["reading"]["breached"], true);
    let refused = plan_call(
        &app,
        &s.pm,
        "goLiveTransition",
        json!({ "planId": plan, "action": "CLOSE_HYPERCARE" }),
    )
    .await;
    assert_refused(&refused, "PRECONDITION_FAILED", &["input", "action"]);
    app.ok(&s.pm, read, json!({ "m": metric, "v": "93" })).await;
    let closed = plan_call(
        &app,
        &s.pm,
        "goLiveTransition",
        json!({ "planId": plan, "action": "CLOSE_HYPERCARE" }),
    )
    .await;
    assert_eq!(closed["plan"]["status"], "CLOSED", "{closed}");
    let data = app.ok(&s.pm, "query($p: ID!, $id: ID!) { project(id: $p) { status } node(id: $id) { ... on GoLivePlan { decisionSnapshot { key holds } } } }", json!({ "p": s.project, "id": plan })).await;
    assert_eq!(data["project"]["status"], "OPTIMIZATION");
    // The frozen evaluation did not move with later data.
    assert_eq!(data["node"]["decisionSnapshot"], snapshot);
}

#[tokio::test]
async fn a_rollback_after_the_point_of_no_return_needs_force_and_returns_the_project() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "CRM-RB").await;
    let created = create_plan(&app, &s, GO_LIVE, Some(FREEZE_AROUND_GO_LIVE)).await;
    let plan = created["plan"]["id"].as_str().unwrap().to_owned();
    prepare(&app, &s, &plan).await;
    let add = "mutation($input: CutoverTaskAddInput!) { cutoverTaskAdd(input: $input) { taskId userErrors { code field message } } }";
    let pnr = app
        .ok(&s.pm, add, json!({ "input": { "planId": plan, "name": "Switch DNS", "durationMinutes": 10, "pointOfNoReturn": true } }))
        .await["cutoverTaskAdd"]["taskId"]
        .clone();
    // Not during preparation.
    let early = plan_call(
        &app,
        &s.pm,
        "rollbackStart",
        json!({ "planId": plan, "reason": "nerves" }),
    )
    .await;
    assert_refused(&early, "INVALID_TRANSITION", &["input", "action"]);
    approve_go(&app, &s, &plan).await;
    plan_call(
        &app,
        &s.pm,
        "goLiveTransition",
        json!({ "planId": plan, "action": "START_CUTOVER" }),
    )
    .await;
    let set = "mutation($id: ID!, $s: CutoverTaskStatus!) { cutoverTaskSetStatus(input: { id: $id, status: $s }) { status userErrors { code } } }";
    app.ok(&s.pm, set, json!({ "id": pnr, "s": "IN_PROGRESS" }))
        .await;
    app.ok(&s.pm, set, json!({ "id": pnr, "s": "DONE" })).await;

    let before = app.snapshot().await;
    let not_authority = plan_call(
        &app,
        &s.committee[0],
        "rollbackStart",
        json!({ "planId": plan, "reason": "Orders fail" }),
    )
    .await;
    assert_refused(&not_authority, "NOT_ELIGIBLE", &["input", "planId"]);
    let unforced = plan_call(
        &app,
        &s.pm,
        "rollbackStart",
        json!({ "planId": plan, "reason": "Orders fail" }),
    )
    .await;
    assert_refused(&unforced, "PRECONDITION_FAILED", &["input", "force"]);
    assert_eq!(app.snapshot().await, before);
    let started = plan_call(
        &app,
        &s.pm,
        "rollbackStart",
        json!({ "planId": plan, "reason": "Orders fail", "force": true }),
    )
    .await;
    assert_eq!(
        started["plan"]["status"], "ROLLBACK_IN_PROGRESS",
        "{started}"
    );
    assert_eq!(started["plan"]["rollbackForced"], true);
    let done = plan_call(
        &app,
        &s.pm,
        "goLiveTransition",
        json!({ "planId": plan, "action": "COMPLETE_ROLLBACK" }),
    )
    .await;
    assert_eq!(done["plan"]["status"], "ROLLED_BACK");
    let data = app
        .ok(
            &s.pm,
            "query($p: ID!) { project(id: $p) { status } }",
            json!({ "p": s.project }),
        )
        .await;
    assert_eq!(data["project"]["status"], "IN_EXECUTION");
    // A rolled-back plan leaves the go-live calendar: another project may now go live inside
    // the freeze it had drafted, which refused that date while the plan was under way.
    let other = setup(&app, "CRM-RB2").await;
    let in_the_old_freeze = create_plan(&app, &other, INSIDE_THE_FREEZE, None).await;
    assert_eq!(
        in_the_old_freeze["userErrors"],
        json!([]),
        "{in_the_old_freeze}"
    );
    let replanned = plan_call(
        &app,
        &s.pm,
        "goLiveTransition",
        json!({ "planId": plan, "action": "REPLAN", "newGoLive": "2027-05-02T00:00:00Z" }),
    )
    .await;
    assert_eq!(replanned["plan"]["status"], "DRAFT", "{replanned}");
    assert_eq!(replanned["plan"]["attempt"], 2);
    let runbook = replanned["plan"]["runbook"].as_array().unwrap();
    assert!(!runbook.is_empty(), "{replanned}");
    assert!(
        runbook.iter().all(|task| task["status"] == "PENDING"),
        "every task starts over: {replanned}"
    );
}

const PROJECT_MOVE: &str =
    "mutation($p: ID!, $a: ProjectAction!) { projectTransition(input: { id: $p, action: $a }) {
    project { status allowedActions } userErrors { code field message } } }";

/// `projectTransition` by the project's PM: its payload.
async fn project_move(app: &TestApp, s: &Setup, action: &str) -> Value {
    app.ok(&s.pm, PROJECT_MOVE, json!({ "p": s.project, "a": action }))
        .await["projectTransition"]
        .clone()
}

/// DOMAIN §12.1: the project goes live when the committee's GO is executed and leaves hypercare
/// when its exit criteria are met, both through the plan; `projectTransition` neither offers
/// nor takes those moves at any point, and closes the project once the plan has taken it to
/// OPTIMIZATION.
#[tokio::test]
async fn the_project_goes_live_and_leaves_hypercare_only_through_its_plan() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "CRM-LIFE").await;
    let refused_by_the_project = |payload: &Value, instead: &str| {
        assert_refused(payload, "PRECONDITION_FAILED", &["input", "action"]);
        let message = payload["userErrors"][0]["message"].as_str().unwrap();
        assert!(message.contains(instead), "{message}");
    };
    let created = create_plan(&app, &s, GO_LIVE, None).await;
    let plan = created["plan"]["id"].as_str().unwrap().to_owned();
    prepare(&app, &s, &plan).await;
    approve_go(&app, &s, &plan).await;

    // Approved, but not executed: the project does not go live by itself.
    let before = app.snapshot().await;
    let early = project_move(&app, &s, "GO_LIVE").await;
    refused_by_the_project(&early, "goLiveTransition GO_LIVE");
    assert_eq!(app.snapshot().await, before);
    assert_eq!(project_status(&app, &s).await, "IN_EXECUTION");

    for action in ["START_CUTOVER", "GO_LIVE"] {
        let moved = plan_call(
            &app,
            &s.pm,
            "goLiveTransition",
            json!({ "planId": plan, "action": action }),
        )
        .await;
        assert_eq!(moved["userErrors"], json!([]), "{moved}");
    }
    let allowed = "query($p: ID!) { project(id: $p) { status allowedActions } }";
    let data = app.ok(&s.pm, allowed, json!({ "p": s.project })).await;
    assert_eq!(
        data["project"],
        json!({ "status": "LIVE_HYPERCARE", "allowedActions": ["HOLD", "CANCEL"] })
    );
    let before = app.snapshot().await;
    let early = project_move(&app, &s, "START_OPTIMIZATION").await;
    refused_by_the_project(&early, "goLiveTransition CLOSE_HYPERCARE");
    assert_eq!(app.snapshot().await, before);

    let closed = plan_call(
        &app,
        &s.pm,
        "goLiveTransition",
        json!({ "planId": plan, "action": "CLOSE_HYPERCARE" }),
    )
    .await;
    assert_eq!(closed["plan"]["status"], "CLOSED", "{closed}");
    let data = app.ok(&s.pm, allowed, json!({ "p": s.project })).await;
    assert_eq!(
        data["project"],
        json!({ "status": "OPTIMIZATION", "allowedActions": ["CLOSE", "HOLD", "CANCEL"] })
    );
    let done = project_move(&app, &s, "CLOSE").await;
    assert_eq!(done["userErrors"], json!([]), "{done}");
    assert_eq!(done["project"]["status"], "CLOSED");
}

/// After the committee's GO, what it approved is what is executed: the preparation, the runbook
/// and the manual criteria are frozen (refusals write nothing and say how to change the plan),
/// task progress during the cutover goes on, and RESCHEDULE withdraws the GO to change the
/// plan, which then needs a new decision.
#[tokio::test]
async fn an_approved_plan_is_executed_as_approved_until_rescheduled() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "CRM-FROZEN").await;
    let plan = create_plan(&app, &s, GO_LIVE, None).await["plan"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    prepare(&app, &s, &plan).await;
    let add_task = "mutation($input: CutoverTaskAddInput!) { cutoverTaskAdd(input: $input) { taskId userErrors { code field message } } }";
    let task = |name: &str| json!({ "input": { "planId": plan, "name": name, "durationMinutes": 30, "ownerId": s.pm.id } });
    let freeze =
        app.ok(&s.pm, add_task, task("Freeze legacy CRM")).await["cutoverTaskAdd"]["taskId"]
            .clone();
    let add_criterion = "mutation($p: ID!) { goLiveCriterionAdd(input: { planId: $p, name: \"Trainers booked\" }) { criterion { id } userErrors { code field message } } }";
    let criterion = app.ok(&s.pm, add_criterion, json!({ "p": plan })).await["goLiveCriterionAdd"]
        ["criterion"]["id"]
        .clone();
    let set_criterion = "mutation($id: ID!) { goLiveCriterionSet(input: { id: $id, done: true }) { criterion { done } userErrors { code field message } } }";
    approve_go(&app, &s, &plan).await;

    let before = app.snapshot().await;
    let frozen = |payload: &Value, field: &[&str]| {
        assert_refused(payload, "PRECONDITION_FAILED", field);
        let message = payload["userErrors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("what it approved is what is executed")
                && message.contains("RESCHEDULE"),
            "{message}"
        );
    };
    let prepared = plan_call(
        &app,
        &s.pm,
        "goLivePlanPrepare",
        json!({ "planId": plan, "warRoom": [], "hypercareExit": ["Whatever"] }),
    )
    .await;
    frozen(&prepared, &["input", "planId"]);
    let added = app.ok(&s.pm, add_task, task("Unreviewed step")).await;
    frozen(&added["cutoverTaskAdd"], &["input", "planId"]);
    let added = app.ok(&s.pm, add_criterion, json!({ "p": plan })).await;
    frozen(&added["goLiveCriterionAdd"], &["input", "planId"]);
    let ticked = app
        .ok(&s.pm, set_criterion, json!({ "id": criterion }))
        .await;
    frozen(&ticked["goLiveCriterionSet"], &["input", "id"]);
    assert_eq!(app.snapshot().await, before, "refusals wrote nothing");

    // RESCHEDULE withdraws the GO: the plan is a DRAFT again, its decision snapshot gone, and
    // can be changed; the cutover waits for a new GO.
    let rescheduled = plan_call(
        &app,
        &s.pm,
        "goLiveTransition",
        json!({ "planId": plan, "action": "RESCHEDULE" }),
    )
    .await;
    assert_eq!(rescheduled["plan"]["status"], "DRAFT", "{rescheduled}");
    assert_eq!(rescheduled["plan"]["decisionSnapshot"], Value::Null);
    let added = app.ok(&s.pm, add_task, task("Reviewed step")).await;
    assert_eq!(added["cutoverTaskAdd"]["userErrors"], json!([]), "{added}");
    let ticked = app
        .ok(&s.pm, set_criterion, json!({ "id": criterion }))
        .await;
    assert_eq!(
        ticked["goLiveCriterionSet"]["userErrors"],
        json!([]),
        "{ticked}"
    );
    let early = plan_call(
        &app,
        &s.pm,
        "goLiveTransition",
        json!({ "planId": plan, "action": "START_CUTOVER" }),
    )
    .await;
    assert_refused(&early, "INVALID_TRANSITION", &["input", "action"]);

    // Approved again: the cutover runs the runbook as approved, task by task.
    approve_go(&app, &s, &plan).await;
    let started = plan_call(
        &app,
        &s.pm,
        "goLiveTransition",
        json!({ "planId": plan, "action": "START_CUTOVER" }),
    )
    .await;
    assert_eq!(
        started["plan"]["status"], "CUTOVER_IN_PROGRESS",
        "{started}"
    );
    let set = "mutation($id: ID!) { cutoverTaskSetStatus(input: { id: $id, status: IN_PROGRESS }) { status userErrors { code field message } } }";
    let progress = app.ok(&s.pm, set, json!({ "id": freeze })).await;
    assert_eq!(
        progress["cutoverTaskSetStatus"]["status"], "IN_PROGRESS",
        "{progress}"
    );
}

/// Hypercare closes on evidence of this go-live: a metric never read is not on target, and
/// neither is one read on target only in an attempt that was rolled back and replanned.
#[tokio::test]
async fn hypercare_closes_only_on_readings_taken_since_the_plan_last_went_live() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "CRM-HYPER").await;
    let plan = create_plan(&app, &s, GO_LIVE, None).await["plan"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    prepare(&app, &s, &plan).await;
    let add_metric = |name: &'static str| {
        app.ok(
            &s.pm,
            "mutation($p: ID!, $n: String!) { hypercareMetricAdd(input: { planId: $p, name: $n, unit: \"%\", target: \"90\", direction: AT_LEAST }) { metric { id } userErrors { code } } }",
            json!({ "p": plan, "n": name }),
        )
    };
    let login = add_metric("Login rate").await["hypercareMetricAdd"]["metric"]["id"].clone();
    let adoption = add_metric("Adoption").await["hypercareMetricAdd"]["metric"]["id"].clone();
    let read = |metric: &Value, value: &str| {
        app.ok(
            &s.pm,
            "mutation($m: ID!, $v: Decimal!) { hypercareReadingRecord(input: { metricId: $m, value: $v }) { reading { breached } userErrors { code } } }",
            json!({ "m": metric, "v": value }),
        )
    };
    let move_plan = |action: &'static str, new_go_live: Option<&'static str>| {
        plan_call(
            &app,
            &s.pm,
            "goLiveTransition",
            json!({ "planId": plan, "action": action, "newGoLive": new_go_live }),
        )
    };
    let go_live = || async {
        approve_go(&app, &s, &plan).await;
        for action in ["START_CUTOVER", "GO_LIVE"] {
            let moved = move_plan(action, None).await;
            assert_eq!(moved["userErrors"], json!([]), "{moved}");
        }
    };
    let refused_waiting_for = |payload: &Value, messages: &[&str]| {
        let errors = payload["userErrors"].as_array().unwrap();
        let got: Vec<&str> = errors
            .iter()
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        assert_eq!(got, messages, "{payload}");
        assert!(errors.iter().all(
            |e| e["code"] == "PRECONDITION_FAILED" && e["field"] == json!(["input", "action"])
        ));
    };

    // The first attempt: only one metric read, on target.
    go_live().await;
    read(&login, "93").await;
    let before = app.snapshot().await;
    refused_waiting_for(
        &move_plan("CLOSE_HYPERCARE", None).await,
        &["metrics not read since the plan went live: Adoption"],
    );
    assert_eq!(app.snapshot().await, before);
    read(&adoption, "95").await;

    // Rolled back and replanned: the readings of that attempt no longer count.
    app.clock.advance(chrono::Duration::days(1));
    let started = plan_call(
        &app,
        &s.pm,
        "rollbackStart",
        json!({ "planId": plan, "reason": "Orders fail", "force": true }),
    )
    .await;
    assert_eq!(started["userErrors"], json!([]), "{started}");
    move_plan("COMPLETE_ROLLBACK", None).await;
    let replanned = move_plan("REPLAN", Some("2027-05-02T00:00:00Z")).await;
    assert_eq!(replanned["plan"]["status"], "DRAFT", "{replanned}");
    go_live().await;
    refused_waiting_for(
        &move_plan("CLOSE_HYPERCARE", None).await,
        &["metrics not read since the plan went live: Login rate, Adoption"],
    );
    read(&login, "91").await;
    read(&adoption, "72.5").await;
    refused_waiting_for(
        &move_plan("CLOSE_HYPERCARE", None).await,
        &["metrics still off target: Adoption"],
    );
    read(&adoption, "90").await;
    let closed = move_plan("CLOSE_HYPERCARE", None).await;
    assert_eq!(closed["plan"]["status"], "CLOSED", "{closed}");
    assert_eq!(project_status(&app, &s).await, "OPTIMIZATION");
}

/// An open defect not graded yet may be critical: the go/no-go counts it among the open
/// CRITICAL defects (as UAT readiness counts it against the exit) until it is graded.
#[tokio::test]
async fn an_ungraded_open_defect_counts_as_critical_at_go_no_go() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "CRM-DEF").await;
    let plan = create_plan(&app, &s, GO_LIVE, None).await["plan"]["id"].clone();
    let criteria =
        "query($id: ID!) { node(id: $id) { ... on GoLivePlan { criteria { key value holds } } } }";
    let open_defects = || async {
        let data = app.ok(&s.pm, criteria, json!({ "id": plan })).await;
        let of = |key: &str| {
            data["node"]["criteria"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["key"] == key)
                .map(|c| (c["value"].clone(), c["holds"].clone()))
                .unwrap_or_else(|| panic!("{key} in {data}"))
        };
        (of("OPEN_CRITICAL_DEFECTS"), of("OPEN_MAJOR_DEFECTS"))
    };
    assert_eq!(
        open_defects().await,
        ((json!("0"), json!(true)), (json!("0"), json!(true)))
    );
    let logged = app
        .ok(&s.pm, "mutation($p: ID!) { defectCreate(input: { projectId: $p, defect: { title: \"Orders vanish\", stepsToReproduce: \"Save an order\", actualResult: \"Gone\" } }) { defect { id version severity } userErrors { code message } } }", json!({ "p": s.project }))
        .await;
    let defect = &logged["defectCreate"]["defect"];
    assert_eq!(defect["severity"], Value::Null, "{logged}");
    assert_eq!(
        open_defects().await,
        ((json!("1"), json!(false)), (json!("0"), json!(true)))
    );
    let graded = app
        .ok(&s.pm, "mutation($id: ID!, $v: Int!) { defectGrade(input: { id: $id, expectedVersion: $v, severity: MAJOR, priority: P2 }) { userErrors { code message } } }", json!({ "id": defect["id"], "v": defect["version"] }))
        .await;
    assert_eq!(graded["defectGrade"]["userErrors"], json!([]), "{graded}");
    assert_eq!(
        open_defects().await,
        ((json!("0"), json!(true)), (json!("1"), json!(false)))
    );
}

/// A defect logged while the project is live is found after go-live unless its reporter says
/// otherwise, whether logged alone or with a failed test result; before go-live it is not.
#[tokio::test]
async fn defects_logged_while_live_are_found_after_go_live_unless_said_otherwise() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "CRM-PROD").await;
    let create = |found: Option<bool>| {
        let mut defect = json!({ "title": "Orders vanish", "stepsToReproduce": "Save an order", "actualResult": "Gone" });
        if let Some(found) = found {
            defect["foundAfterGoLive"] = json!(found);
        }
        app.ok(
            &s.pm,
            "mutation($input: DefectCreateInput!) { defectCreate(input: $input) { defect { foundAfterGoLive } userErrors { code field message } } }",
            json!({ "input": { "projectId": s.project, "defect": defect } }),
        )
    };
    let found = |payload: Value| {
        assert_eq!(
            payload["defectCreate"]["userErrors"],
            json!([]),
            "{payload}"
        );
        payload["defectCreate"]["defect"]["foundAfterGoLive"].clone()
    };
    assert_eq!(found(create(None).await), json!(false));
    assert_eq!(found(create(Some(true)).await), json!(true));

    let plan = create_plan(&app, &s, GO_LIVE, None).await["plan"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    prepare(&app, &s, &plan).await;
    approve_go(&app, &s, &plan).await;
    for action in ["START_CUTOVER", "GO_LIVE"] {
        let moved = plan_call(
            &app,
            &s.pm,
            "goLiveTransition",
            json!({ "planId": plan, "action": action }),
        )
        .await;
        assert_eq!(moved["userErrors"], json!([]), "{moved}");
    }
    assert_eq!(found(create(None).await), json!(true));
    assert_eq!(found(create(Some(false)).await), json!(false));

    // With a failed result in a hypercare test round.
    let scenario = app
        .ok(&s.pm, "mutation($p: ID!) { testScenarioCreate(input: { projectId: $p, name: \"Order to invoice\", area: SALES, isCore: true, scenarioType: TYPICAL, steps: [{ action: \"Save an order\", expectedResult: \"Saved\" }] }) { scenario { id } userErrors { code message } } }", json!({ "p": s.project }))
        .await["testScenarioCreate"]["scenario"]["id"]
        .clone();
    let cycle = app
        .ok(&s.pm, "mutation($p: ID!) { testCycleCreate(input: { projectId: $p, name: \"Hypercare regression\", stage: USER_TRIAL, environment: \"Production\" }) { cycle { id } userErrors { code message } } }", json!({ "p": s.project }))
        .await["testCycleCreate"]["cycle"]["id"]
        .clone();
    app.ok(&s.pm, "mutation($id: ID!) { testCycleTransition(input: { id: $id, action: START }) { userErrors { code message } } }", json!({ "id": cycle }))
        .await;
    let recorded = app
        .ok(&s.pm, "mutation($c: ID!, $s: ID!) { testExecutionRecord(input: { cycleId: $c, scenarioId: $s, result: FAILED, defect: { title: \"Invoice missing\", stepsToReproduce: \"Save an order\", actualResult: \"No invoice\" } }) { defect { foundAfterGoLive } userErrors { code field message } } }", json!({ "c": cycle, "s": scenario }))
        .await;
    let payload = &recorded["testExecutionRecord"];
    assert_eq!(payload["userErrors"], json!([]), "{recorded}");
    assert_eq!(payload["defect"]["foundAfterGoLive"], true);
}

/// Votes cast on a plan awaiting the committee were cast on that plan: a change to its content
/// supersedes them and opens a new round, as a material edit of a change request does. A round
/// nobody voted on yet stands, and so does one whose plan is sent again unchanged.
#[tokio::test]
async fn a_plan_changed_while_awaiting_the_committee_is_voted_on_again() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "CRM-REVOTE").await;
    let plan = create_plan(&app, &s, GO_LIVE, None).await["plan"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    prepare(&app, &s, &plan).await;
    let requested = plan_call(
        &app,
        &s.pm,
        "goLiveDecisionRequest",
        json!({ "planId": plan }),
    )
    .await;
    let first = requested["decision"]["id"].as_str().unwrap().to_owned();
    let ballots = || async {
        let data = app
            .ok(&s.pm, "query($id: ID!) { node(id: $id) { ... on GoLivePlan { status decisions { id status } } } }", json!({ "id": plan }))
            .await;
        assert_eq!(data["node"]["status"], "READY_FOR_DECISION", "{data}");
        data["node"]["decisions"].as_array().unwrap().clone()
    };
    let add_task = "mutation($input: CutoverTaskAddInput!) { cutoverTaskAdd(input: $input) { taskId userErrors { code field message } } }";
    let task =
        |name: &str| json!({ "input": { "planId": plan, "name": name, "durationMinutes": 30 } });

    // Nobody has voted: the edit leaves the round as it is.
    let added = app.ok(&s.pm, add_task, task("Freeze legacy CRM")).await;
    assert_eq!(added["cutoverTaskAdd"]["userErrors"], json!([]), "{added}");
    assert_eq!(
        ballots().await,
        vec![json!({ "id": first, "status": "OPEN" })]
    );

    // A GO cast, then the runbook changes: that GO no longer counts, a new round is open.
    let voted = vote(&app, &s.committee[0], &first, json!({ "choice": "GO" })).await;
    assert_eq!(voted["userErrors"], json!([]), "{voted}");
    let added = app.ok(&s.pm, add_task, task("Switch DNS")).await;
    assert_eq!(added["cutoverTaskAdd"]["userErrors"], json!([]), "{added}");
    let rounds = ballots().await;
    assert_eq!(rounds.len(), 2, "{rounds:?}");
    assert_eq!(rounds[0], json!({ "id": first, "status": "SUPERSEDED" }));
    assert_eq!(rounds[1]["status"], "OPEN");
    let second = rounds[1]["id"].as_str().unwrap().to_owned();
    let late = vote(&app, &s.committee[1], &first, json!({ "choice": "GO" })).await;
    assert_refused(&late, "INVALID_TRANSITION", &["input", "decisionId"]);

    // The same goes for the preparation, unless it is sent again unchanged.
    vote(&app, &s.committee[0], &second, json!({ "choice": "GO" })).await;
    let unchanged = plan_call(
        &app,
        &s.pm,
        "goLivePlanPrepare",
        json!({ "planId": plan, "hypercareExit": ["Login rate above 90% for 3 days"] }),
    )
    .await;
    assert_eq!(unchanged["userErrors"], json!([]), "{unchanged}");
    assert_eq!(unchanged["decision"], Value::Null);
    assert_eq!(ballots().await.len(), 2);
    let changed = plan_call(
        &app,
        &s.pm,
        "goLivePlanPrepare",
        json!({ "planId": plan, "hypercareExit": ["Login rate above 95% for 3 days"] }),
    )
    .await;
    assert_eq!(changed["userErrors"], json!([]), "{changed}");
    let third = changed["decision"]["id"].as_str().unwrap().to_owned();
    let rounds = ballots().await;
    assert_eq!(
        rounds[1..],
        [
            json!({ "id": second, "status": "SUPERSEDED" }),
            json!({ "id": third, "status": "OPEN" })
        ]
    );

    // The new round decides as any other.
    approve_on(&app, &s, &plan, &third).await;
}

/// Moves the project with `projectTransition` by its sponsor (HOLD takes a reason).
async fn hold_or_resume(app: &TestApp, s: &Setup, action: &str) {
    let data = app
        .ok(
            &s.sponsor,
            "mutation($p: ID!, $a: ProjectAction!) { projectTransition(input: { id: $p, action: $a, reason: \"Budget review\" }) { project { status } userErrors { code message } } }",
            json!({ "p": s.project, "a": action }),
        )
        .await;
    assert_eq!(data["projectTransition"]["userErrors"], json!([]), "{data}");
}

async fn project_status(app: &TestApp, s: &Setup) -> Value {
    app.ok(
        &s.pm,
        "query($p: ID!) { project(id: $p) { status } }",
        json!({ "p": s.project }),
    )
    .await["project"]["status"]
        .clone()
}

/// A plan moves its project only along the project's lifecycle: a project put on hold does
/// not start its cutover, go live or leave hypercare behind the sponsor's back, and a rollback,
/// never refused, leaves it on hold, to resume in execution.
#[tokio::test]
async fn a_held_project_neither_cuts_over_nor_goes_live_and_a_rollback_keeps_it_held() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "CRM-HOLD").await;
    let created = create_plan(&app, &s, GO_LIVE, Some(FREEZE_AROUND_GO_LIVE)).await;
    let plan = created["plan"]["id"].as_str().unwrap().to_owned();
    prepare(&app, &s, &plan).await;
    approve_go(&app, &s, &plan).await;
    let move_plan = |action: &'static str| {
        plan_call(
            &app,
            &s.pm,
            "goLiveTransition",
            json!({ "planId": plan, "action": action }),
        )
    };

    for (action, after) in [
        ("START_CUTOVER", "CUTOVER_IN_PROGRESS"),
        ("GO_LIVE", "LIVE"),
    ] {
        hold_or_resume(&app, &s, "HOLD").await;
        let before = app.snapshot().await;
        let refused = move_plan(action).await;
        assert_refused(&refused, "PRECONDITION_FAILED", &["input", "action"]);
        let message = refused["userErrors"][0]["message"].as_str().unwrap();
        assert!(message.contains("ON_HOLD"), "{message}");
        assert_eq!(
            app.snapshot().await,
            before,
            "{action} refused wrote nothing"
        );
        hold_or_resume(&app, &s, "RESUME").await;
        let moved = move_plan(action).await;
        assert_eq!(moved["plan"]["status"], after, "{moved}");
    }
    assert_eq!(project_status(&app, &s).await, "LIVE_HYPERCARE");

    hold_or_resume(&app, &s, "HOLD").await;
    let before = app.snapshot().await;
    let refused = move_plan("CLOSE_HYPERCARE").await;
    assert_refused(&refused, "PRECONDITION_FAILED", &["input", "action"]);
    assert_eq!(app.snapshot().await, before);

    let started = plan_call(
        &app,
        &s.pm,
        "rollbackStart",
        json!({ "planId": plan, "reason": "Orders fail", "force": true }),
    )
    .await;
    assert_eq!(
        started["plan"]["status"], "ROLLBACK_IN_PROGRESS",
        "{started}"
    );
    let rolled_back = move_plan("COMPLETE_ROLLBACK").await;
    assert_eq!(
        rolled_back["plan"]["status"], "ROLLED_BACK",
        "{rolled_back}"
    );
    assert_eq!(project_status(&app, &s).await, "ON_HOLD");
    hold_or_resume(&app, &s, "RESUME").await;
    assert_eq!(project_status(&app, &s).await, "IN_EXECUTION");
}

/// Two plans whose dates clash, dated at once in two projects: the first drafts its freeze
/// over the date the second picks for its go-live. Whichever commits first, the other is
/// refused (its go-live inside a freeze, or its freeze over a go-live). On PostgreSQL the test
/// holds the go-live calendar until both commands wait for it, so that both have passed
/// their projects' locks and would each miss the other without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_clashing_plans_dated_at_once_in_two_projects_let_one_through() {
    let app = TestApp::spawn().await;
    let freezing = setup(&app, "CRM-A").await;
    let landing = setup(&app, "CRM-B").await;
    let calendar = match app.database.postgres {
        true => Some(HeldLock::take(&app, GO_LIVE_CALENDAR_LOCK, Vec::new()).await),
        false => None,
    };
    let first = create_plan(&app, &freezing, GO_LIVE, Some(FREEZE_AROUND_GO_LIVE));
    let second = create_plan(&app, &landing, INSIDE_THE_FREEZE, None);
    let release = async {
        if let Some(calendar) = calendar {
            calendar
                .wait_for_waiters(2)
                .await
                .expect("both plans wait for the calendar");
            calendar.release().await;
        }
    };
    let (first, second, ()) = tokio::join!(first, second, release);
    let outcomes = [&first, &second].map(|payload| payload["userErrors"].clone());
    let refused: Vec<_> = outcomes
        .iter()
        .filter(|errors| *errors != &json!([]))
        .collect();
    assert_eq!(refused.len(), 1, "{outcomes:?}");
    let refusal = &refused[0][0];
    assert_eq!(refusal["code"], "CONFLICT", "{refusal}");
    assert!(
        [
            json!(["input", "plannedGoLive"]),
            json!(["input", "freezeStart"])
        ]
        .contains(&refusal["field"]),
        "{refusal}"
    );
    assert_eq!(app.count("go_live_plan").await, 1);
}

#[tokio::test]
async fn bad_go_live_dates_and_permissions_are_refused() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "CRM-A").await;
    let before = app.snapshot().await;
    let past = create_plan(&app, &s, "2027-01-01T00:00:00Z", None).await;
    assert_refused(&past, "BAD_USER_INPUT", &["input", "plannedGoLive"]);
    assert_eq!(app.snapshot().await, before);
    let first = create_plan(&app, &s, GO_LIVE, Some(FREEZE_AROUND_GO_LIVE)).await;
    assert_eq!(first["userErrors"], json!([]));
    let other = setup(&app, "CRM-B").await;
    let before_clashes = app.snapshot().await;
    let clash = create_plan(&app, &other, INSIDE_THE_FREEZE, None).await;
    assert_refused(&clash, "CONFLICT", &["input", "plannedGoLive"]);
    let response = app
        .gql(Some(&s.committee[0].token), "mutation($p: ID!) { goLiveDecisionRequest(input: { planId: $p }) { userErrors { code } } }", json!({ "p": first["plan"]["id"] }))
        .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"));

    // The other side of the same clash: a freeze over the first plan's go-live.
    let covering = create_plan(
        &app,
        &other,
        "2027-04-20T00:00:00Z",
        Some(("2027-03-25T00:00:00Z", "2027-04-25T00:00:00Z")),
    )
    .await;
    assert_refused(&covering, "CONFLICT", &["input", "freezeStart"]);
    // Backwards windows are refused at the end that comes too early.
    let backwards = plan_create(
        &app,
        &other,
        json!({ "plannedGoLive": "2027-06-01T00:00:00Z",
                "cutoverStart": "2027-05-31T00:00:00Z", "cutoverEnd": "2027-05-30T00:00:00Z",
                "freezeStart": "2027-06-05T00:00:00Z", "freezeEnd": "2027-05-20T00:00:00Z" }),
    )
    .await;
    assert_eq!(
        user_errors(&backwards),
        vec![
            (
                "BAD_USER_INPUT".to_owned(),
                vec!["input".to_owned(), "cutoverEnd".to_owned()]
            ),
            (
                "BAD_USER_INPUT".to_owned(),
                vec!["input".to_owned(), "freezeEnd".to_owned()]
            ),
        ]
    );
    assert_eq!(app.snapshot().await, before_clashes);

    // A freeze with one end only is refused rather than dropped.
    let before = app.snapshot().await;
    let half = plan_create(
        &app,
        &other,
        json!({ "plannedGoLive": "2027-06-01T00:00:00Z",
                "cutoverStart": "2027-05-30T00:00:00Z", "cutoverEnd": "2027-05-31T00:00:00Z",
                "freezeStart": "2027-05-20T00:00:00Z" }),
    )
    .await;
    assert_refused(&half, "BAD_USER_INPUT", &["input", "freezeEnd"]);
    assert_eq!(app.snapshot().await, before);

    // Step owners are named by list and index; resending an unchanged rollback plan keeps its
    // approval, a changed one needs approving again.
    let plan = first["plan"]["id"].as_str().unwrap().to_owned();
    let stranger = app.user("Not Amember", false).await;
    let rollback = |owner: &str, minutes: u32| {
        json!({ "authorityIds": [s.pm.id], "maxMinutes": minutes,
                "steps": [{ "text": "Switch back", "ownerId": s.pm.id }],
                "reconciliationSteps": [{ "text": "Re-key orders", "ownerId": owner }] })
    };
    let refused = plan_call(
        &app,
        &s.pm,
        "goLivePlanPrepare",
        json!({ "planId": plan, "rollbackPlan": rollback(&stranger.id, 60) }),
    )
    .await;
    assert_refused(
        &refused,
        "BAD_USER_INPUT",
        &[
            "input",
            "rollbackPlan",
            "reconciliationSteps",
            "0",
            "ownerId",
        ],
    );
    let approved_by =
        "query($id: ID!) { node(id: $id) { ... on GoLivePlan { rollbackPlan { approvedBy } } } }";
    let prepare_with = |minutes: u32| {
        plan_call(
            &app,
            &s.pm,
            "goLivePlanPrepare",
            json!({ "planId": plan, "rollbackPlan": rollback(&s.pm.id, minutes) }),
        )
    };
    let is_approved = || async {
        let data = app.ok(&s.pm, approved_by, json!({ "id": plan })).await;
        data["node"]["rollbackPlan"]["approvedBy"].is_string()
    };
    assert_eq!(prepare_with(60).await["userErrors"], json!([]));
    assert!(!is_approved().await);
    plan_call(
        &app,
        &s.sponsor,
        "goLiveRollbackApprove",
        json!({ "planId": plan }),
    )
    .await;
    assert!(is_approved().await);
    assert_eq!(prepare_with(60).await["userErrors"], json!([]));
    assert!(is_approved().await, "an unchanged plan keeps its approval");
    assert_eq!(prepare_with(90).await["userErrors"], json!([]));
    assert!(!is_approved().await, "a changed plan needs approving again");

    // After a NO_GO the old date has gone by: rescheduling must name a new one.
    let requested = plan_call(
        &app,
        &s.pm,
        "goLiveDecisionRequest",
        json!({ "planId": plan }),
    )
    .await;
    let ballot = requested["decision"]["id"].as_str().unwrap().to_owned();
    for member in &s.committee[..2] {
        vote(
            &app,
            member,
            &ballot,
            json!({ "choice": "NO_GO", "comment": "Not ready" }),
        )
        .await;
    }
    app.clock.advance(chrono::Duration::days(30));
    let kept = plan_call(
        &app,
        &s.pm,
        "goLiveTransition",
        json!({ "planId": plan, "action": "RESCHEDULE" }),
    )
    .await;
    assert_refused(&kept, "BAD_USER_INPUT", &["input", "newGoLive"]);
    let moved = plan_call(
        &app,
        &s.pm,
        "goLiveTransition",
        json!({ "planId": plan, "action": "RESCHEDULE", "newGoLive": "2027-05-15T00:00:00Z" }),
    )
    .await;
    assert_eq!(moved["plan"]["status"], "DRAFT", "{moved}");
}

#[tokio::test]
async fn a_manual_criterion_holds_once_its_owner_ticks_it() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "CRM-M").await;
    let plan = create_plan(&app, &s, GO_LIVE, None).await["plan"]["id"].clone();
    let add = "mutation($p: ID!, $o: ID) { goLiveCriterionAdd(input: { planId: $p, name: \"Call-centre staff trained\", ownerId: $o }) { criterion { id done } userErrors { code field message } } }";
    let added = app
        .ok(&s.pm, add, json!({ "p": plan, "o": s.sponsor.id }))
        .await;
    let criterion = added["goLiveCriterionAdd"]["criterion"]["id"].clone();
    assert_eq!(added["goLiveCriterionAdd"]["criterion"]["done"], false);
    let manual = |data: &Value| {
        data["node"]["criteria"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["key"] == "MANUAL")
            .cloned()
            .unwrap_or_else(|| panic!("a manual criterion in {data}"))
    };
    let read = "query($id: ID!) { node(id: $id) { ... on GoLivePlan { criteria { key description automatic holds } } } }";
    let data = app.ok(&s.pm, read, json!({ "id": plan })).await;
    assert_eq!(
        manual(&data),
        json!({ "key": "MANUAL", "description": "Call-centre staff trained", "automatic": false, "holds": false })
    );

    // Only its owner or the PM ticks it; an id of another kind is refused by name.
    let set = "mutation($id: ID!, $d: Boolean!) { goLiveCriterionSet(input: { id: $id, done: $d }) { criterion { done } userErrors { code field message } } }";
    let response = app
        .gql(
            Some(&s.committee[0].token),
            set,
            json!({ "id": criterion, "d": true }),
        )
        .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"), "{response}");
    let wrong = app.ok(&s.pm, set, json!({ "id": plan, "d": true })).await;
    assert_refused(
        &wrong["goLiveCriterionSet"],
        "BAD_USER_INPUT",
        &["input", "id"],
    );
    let ticked = app
        .ok(&s.sponsor, set, json!({ "id": criterion, "d": true }))
        .await;
    assert_eq!(ticked["goLiveCriterionSet"]["criterion"]["done"], true);
    let data = app.ok(&s.pm, read, json!({ "id": plan })).await;
    assert_eq!(manual(&data)["holds"], true);
}
