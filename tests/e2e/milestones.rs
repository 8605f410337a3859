//! Milestones: forecasts pushed through the network, cycles refused, health, baselines.

use serde_json::{Value, json};

use crate::phases::{plan, vote};
use crate::support::{TestApp, TestUser, assert_refused, error_code};

const CREATE: &str = "mutation($input: MilestoneCreateInput!) { milestoneCreate(input: $input) {
    milestone { id name version baselineDate forecastDate health slipDays overdue } userErrors { code field message } } }";
const UPDATE: &str = "mutation($input: MilestoneUpdateInput!) { milestoneUpdate(input: $input) {
    milestone { id forecastDate version slipDays health } moved { milestone { name } from to } userErrors { code field message currentVersion } } }";
const LINK: &str = "mutation($p: ID!, $s: ID!, $lag: Int!) { milestoneDependencyAdd(input: { predecessorId: $p, successorId: $s, lagDays: $lag }) {
    dependency { id lagDays } moved { milestone { name } from to } userErrors { code field message } } }";

async fn milestone(app: &TestApp, pm: &TestUser, phase: &str, name: &str, date: &str) -> String {
    let data = app
        .ok(
            pm,
            CREATE,
            json!({ "input": { "phaseId": phase, "name": name, "baselineDate": date } }),
        )
        .await;
    assert_eq!(data["milestoneCreate"]["userErrors"], json!([]), "{data}");
    data["milestoneCreate"]["milestone"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn version(app: &TestApp, pm: &TestUser, id: &str) -> i64 {
    let data = app
        .ok(
            pm,
            "query($id: ID!) { node(id: $id) { ... on Milestone { version } } }",
            json!({ "id": id }),
        )
        .await;
    data["node"]["version"].as_i64().unwrap()
}

async fn move_to(app: &TestApp, pm: &TestUser, id: &str, date: &str) -> Value {
    let v = version(app, pm, id).await;
    app.ok(
        pm,
        UPDATE,
        json!({ "input": { "id": id, "expectedVersion": v, "forecastDate": date } }),
    )
    .await["milestoneUpdate"]
        .clone()
}

fn moved(payload: &Value) -> Vec<(String, String, String)> {
    payload["moved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["milestone"]["name"].as_str().unwrap().to_owned(),
                m["from"].as_str().unwrap().to_owned(),
                m["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_slipping_forecast_pushes_a_chain_and_a_diamond_once() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let phase = &plan.phases[1];
    let a = milestone(&app, &plan.pm, phase, "A", "2027-05-01").await;
    let b = milestone(&app, &plan.pm, phase, "B", "2027-05-10").await;
    let c = milestone(&app, &plan.pm, phase, "C", "2027-05-12").await;
    let d = milestone(&app, &plan.pm, phase, "D", "2027-05-20").await;
    for (p, s, lag) in [(&a, &b, 5), (&a, &c, 2), (&b, &d, 3)] {
        let data = app
            .ok(&plan.pm, LINK, json!({ "p": p, "s": s, "lag": lag }))
            .await;
        assert_eq!(
            data["milestoneDependencyAdd"]["userErrors"],
            json!([]),
            "{data}"
        );
        assert_eq!(data["milestoneDependencyAdd"]["moved"], json!([]), "{data}");
    }
    // A new link that D would break pushes D at once.
    let data = app
        .ok(&plan.pm, LINK, json!({ "p": c, "s": d, "lag": 10 }))
        .await;
    assert_eq!(
        moved(&data["milestoneDependencyAdd"]),
        vec![("D".into(), "2027-05-20".into(), "2027-05-22".into())]
    );
    // A moves 10 days: B to A+5, C to A+2, D once, to the larger of B+3 and C+10.
    let payload = move_to(&app, &plan.pm, &a, "2027-05-11").await;
    assert_eq!(
        moved(&payload),
        vec![
            ("A".into(), "2027-05-01".into(), "2027-05-11".into()),
            ("B".into(), "2027-05-10".into(), "2027-05-16".into()),
            ("C".into(), "2027-05-12".into(), "2027-05-13".into()),
            ("D".into(), "2027-05-22".into(), "2027-05-23".into()),
        ]
    );
    // Moving earlier pulls nothing.
    let payload = move_to(&app, &plan.pm, &a, "2027-05-02").await;
    assert_eq!(
        moved(&payload),
        vec![("A".into(), "2027-05-11".into(), "2027-05-02".into())]
    );
}

#[tokio::test]
async fn a_successor_cannot_be_forecast_before_its_link_allows() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let phase = &plan.phases[1];
    let build = milestone(&app, &plan.pm, phase, "Build", "2027-05-01").await;
    let uat = milestone(&app, &plan.pm, phase, "UAT", "2027-05-10").await;
    app.ok(&plan.pm, LINK, json!({ "p": build, "s": uat, "lag": 5 }))
        .await;
    let before = app.snapshot().await;
    let payload = move_to(&app, &plan.pm, &uat, "2027-05-05").await;
    assert_refused(&payload, "PRECONDITION_FAILED", &["input", "forecastDate"]);
    assert!(
        payload["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2027-05-06, set by its link from Build"),
        "{payload}"
    );
    assert_eq!(app.snapshot().await, before);
    // The earliest date the link allows is accepted.
    let payload = move_to(&app, &plan.pm, &uat, "2027-05-06").await;
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    assert_eq!(payload["milestone"]["forecastDate"], "2027-05-06");
}

#[tokio::test]
async fn a_link_that_would_close_a_cycle_is_refused_and_named() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let phase = &plan.phases[1];
    let a = milestone(&app, &plan.pm, phase, "Alpha", "2027-05-01").await;
    let b = milestone(&app, &plan.pm, phase, "Beta", "2027-05-02").await;
    let c = milestone(&app, &plan.pm, phase, "Gamma", "2027-05-03").await;
    app.ok(&plan.pm, LINK, json!({ "p": a, "s": b, "lag": 0 }))
        .await;
    app.ok(&plan.pm, LINK, json!({ "p": b, "s": c, "lag": 0 }))
        .await;
    let before = app.snapshot().await;
    let data = app
        .ok(&plan.pm, LINK, json!({ "p": c, "s": a, "lag": 0 }))
        .await;
    let payload = &data["milestoneDependencyAdd"];
    assert_refused(payload, "BAD_USER_INPUT", &["input", "successorId"]);
    let message = payload["userErrors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("Alpha → Beta → Gamma → Alpha"),
        "{message}"
    );
    let data = app
        .ok(&plan.pm, LINK, json!({ "p": a, "s": a, "lag": 0 }))
        .await;
    assert_refused(
        &data["milestoneDependencyAdd"],
        "BAD_USER_INPUT",
        &["input", "successorId"],
    );
    let data = app
        .ok(&plan.pm, LINK, json!({ "p": a, "s": b, "lag": 0 }))
        .await;
    assert_refused(
        &data["milestoneDependencyAdd"],
        "CONFLICT",
        &["input", "successorId"],
    );
    let data = app
        .ok(&plan.pm, LINK, json!({ "p": a, "s": c, "lag": 9999 }))
        .await;
    assert_refused(
        &data["milestoneDependencyAdd"],
        "BAD_USER_INPUT",
        &["input", "lagDays"],
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn milestones_of_another_project_cannot_be_linked_or_moved_into() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let a = milestone(&app, &plan.pm, &plan.phases[0], "A", "2027-05-01").await;
    let other = app.project(&plan.pm, "OTHER-1").await;
    let data = app
        .ok(&plan.pm, "mutation($p: ID!) { phaseCreate(input: { projectId: $p, name: \"Elsewhere\" }) { phase { id } } }", json!({ "p": other }))
        .await;
    let foreign_phase = data["phaseCreate"]["phase"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let foreign = milestone(&app, &plan.pm, &foreign_phase, "F", "2027-05-01").await;
    let before = app.snapshot().await;
    let data = app
        .ok(&plan.pm, LINK, json!({ "p": a, "s": foreign, "lag": 0 }))
        .await;
    assert_refused(
        &data["milestoneDependencyAdd"],
        "NOT_FOUND",
        &["input", "successorId"],
    );
    let v = version(&app, &plan.pm, &a).await;
    let data = app
        .ok(
            &plan.pm,
            UPDATE,
            json!({ "input": { "id": a, "expectedVersion": v, "phaseId": foreign_phase } }),
        )
        .await;
    assert_refused(&data["milestoneUpdate"], "NOT_FOUND", &["input", "phaseId"]);
    let data = app
        .ok(
            &plan.pm,
            CREATE,
            json!({ "input": { "phaseId": plan.phases[0], "name": "No date" } }),
        )
        .await;
    assert_refused(
        &data["milestoneCreate"],
        "BAD_USER_INPUT",
        &["input", "forecastDate"],
    );
    let data = app
        .ok(
            &plan.pm,
            UPDATE,
            json!({ "input": { "id": a, "expectedVersion": v + 5, "name": "x" } }),
        )
        .await;
    assert_refused(
        &data["milestoneUpdate"],
        "CONFLICT",
        &["input", "expectedVersion"],
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn baselines_are_versioned_immutable_and_compared() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let milestones = app
        .ok(
            &plan.pm,
            "query($p: ID!) { project(id: $p) { milestones { edges { node { id name } } } } }",
            json!({ "p": plan.project }),
        )
        .await;
    let first = milestones["project"]["milestones"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let create = "mutation($p: ID!, $r: String!) { scheduleBaselineCreate(input: { projectId: $p, reason: $r }) {
        baseline { id number cause } decision { id subjectType choices } userErrors { code field } } }";
    let data = app
        .ok(
            &plan.pm,
            create,
            json!({ "p": plan.project, "r": "Plan approved at kick-off" }),
        )
        .await;
    let v1 = data["scheduleBaselineCreate"]["baseline"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Baseline dates no longer change directly; forecasts do, and slip.
    let before = app.snapshot().await;
    let v = version(&app, &plan.pm, &first).await;
    let data = app
        .ok(
            &plan.pm,
            UPDATE,
            json!({ "input": { "id": first, "expectedVersion": v, "baselineDate": "2027-06-01" } }),
        )
        .await;
    assert_refused(
        &data["milestoneUpdate"],
        "PRECONDITION_FAILED",
        &["input", "baselineDate"],
    );
    let data = app.ok(&plan.pm, CREATE, json!({ "input": { "phaseId": plan.phases[0], "name": "Late", "baselineDate": "2027-06-01" } })).await;
    assert_refused(
        &data["milestoneCreate"],
        "PRECONDITION_FAILED",
        &["input", "baselineDate"],
    );
    assert_eq!(app.snapshot().await, before);
    let payload = move_to(&app, &plan.pm, &first, "2027-04-15").await;
    assert_eq!(payload["milestone"]["slipDays"], 14);
    assert_eq!(payload["milestone"]["health"], "RED");

    // A second baseline is the committee's call.
    let data = app
        .ok(
            &plan.pm,
            create,
            json!({ "p": plan.project, "r": "Accept the slip" }),
        )
        .await;
    let payload = &data["scheduleBaselineCreate"];
    assert!(payload["baseline"].is_null());
    assert_eq!(payload["decision"]["subjectType"], "SCHEDULE_REBASELINE");
    let decision = payload["decision"]["id"].as_str().unwrap().to_owned();
    let refused = vote(
        &app,
        &plan.committee[0],
        &decision,
        json!({ "choice": "REJECT" }),
    )
    .await;
    assert_refused(&refused, "BAD_USER_INPUT", &["input", "comment"]);
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

    let data = app
        .ok(&plan.pm, "query($p: ID!) { project(id: $p) { scheduleBaselines { id number cause causeId reason } } }", json!({ "p": plan.project }))
        .await;
    let baselines = data["project"]["scheduleBaselines"].as_array().unwrap();
    assert_eq!(baselines.len(), 2);
    assert_eq!(baselines[1]["cause"], "COMMITTEE_DECISION");
    assert_eq!(baselines[1]["causeId"], decision.as_str());
    assert_eq!(baselines[1]["reason"], "Accept the slip");
    let v2 = baselines[1]["id"].as_str().unwrap().to_owned();

    let data = app
        .ok(&plan.pm, "query($a: ID!, $b: ID!) { baselineCompare(fromId: $a, toId: $b) { milestoneName fromDate toDate varianceDays } }", json!({ "a": v1, "b": v2 }))
        .await;
    let rows = data["baselineCompare"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let slipped = rows
        .iter()
        .find(|r| r["varianceDays"] == 14)
        .expect("the slipped milestone");
    assert_eq!(slipped["fromDate"], "2027-04-01");
    assert_eq!(slipped["toDate"], "2027-04-15");
    assert!(rows.iter().any(|r| r["varianceDays"] == 0));
    // The new baseline absorbed the slip.
    let data = app.ok(&plan.pm, "query($id: ID!) { node(id: $id) { ... on Milestone { baselineDate slipDays health } } }", json!({ "id": first })).await;
    assert_eq!(
        data["node"],
        json!({ "baselineDate": "2027-04-15", "slipDays": 0, "health": "GREEN" })
    );
}

#[tokio::test]
async fn health_overdue_and_filters_follow_the_clock_and_thresholds() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    // The test clock stands at 2027-03-01.
    let soon = milestone(&app, &plan.pm, &plan.phases[0], "Soon", "2027-03-05").await;
    app.ok(&plan.pm, "mutation($p: ID!) { scheduleBaselineCreate(input: { projectId: $p, reason: \"x\" }) { userErrors { code } } }", json!({ "p": plan.project })).await;
    let payload = move_to(&app, &plan.pm, &soon, "2027-03-08").await;
    assert_eq!(payload["milestone"]["health"], "AMBER");

    let query = "query($p: ID!, $f: MilestoneFilterInput) { project(id: $p) {
        milestones(filter: $f) { totalCount edges { node { name health overdue } } }
        scheduleHealth { green amber red overdue totalSlipDays nextMilestone { name } } } }";
    let data = app
        .ok(
            &plan.pm,
            query,
            json!({ "p": plan.project, "f": { "health": ["AMBER"] } }),
        )
        .await;
    assert_eq!(
        data["project"]["milestones"]["edges"],
        json!([{ "node": { "name": "Soon", "health": "AMBER", "overdue": false } }])
    );
    assert_eq!(data["project"]["scheduleHealth"]["amber"], 1);
    assert_eq!(data["project"]["scheduleHealth"]["totalSlipDays"], 3);
    assert_eq!(
        data["project"]["scheduleHealth"]["nextMilestone"]["name"],
        "Soon"
    );

    app.clock.advance(chrono::Duration::days(10));
    let data = app
        .ok(
            &plan.pm,
            query,
            json!({ "p": plan.project, "f": { "overdue": true } }),
        )
        .await;
    assert_eq!(
        data["project"]["milestones"]["edges"],
        json!([{ "node": { "name": "Soon", "health": "RED", "overdue": true } }])
    );
    assert_eq!(data["project"]["scheduleHealth"]["overdue"], 1);

    // Wider thresholds make the slip acceptable.
    let v = app
        .ok(
            &plan.pm,
            "query($p: ID!) { project(id: $p) { version } }",
            json!({ "p": plan.project }),
        )
        .await;
    let data = app
        .ok(&plan.pm, "mutation($p: ID!, $v: Int!) { projectUpdate(input: { id: $p, expectedVersion: $v, healthThresholds: { amberSlipDays: 5, redSlipDays: 20 } }) { project { healthThresholds { amberSlipDays redSlipDays } } userErrors { code field } } }", json!({ "p": plan.project, "v": v["project"]["version"] }))
        .await;
    assert_eq!(
        data["projectUpdate"]["project"]["healthThresholds"],
        json!({ "amberSlipDays": 5, "redSlipDays": 20 })
    );
    let data = app
        .ok(&plan.pm, "mutation($p: ID!, $v: Int!) { projectUpdate(input: { id: $p, expectedVersion: $v, healthThresholds: { amberSlipDays: 9, redSlipDays: 2 } }) { userErrors { code field } } }", json!({ "p": plan.project, "v": v["project"]["version"].as_i64().unwrap() + 1 }))
        .await;
    assert_refused(
        &data["projectUpdate"],
        "BAD_USER_INPUT",
        &["input", "healthThresholds"],
    );
}

#[tokio::test]
async fn owners_report_their_milestones_and_achievement_is_checked() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let data = app
        .ok(&plan.pm, CREATE, json!({ "input": { "phaseId": plan.phases[0], "name": "Owned", "baselineDate": "2027-03-10", "ownerId": plan.qa.id } }))
        .await;
    let id = data["milestoneCreate"]["milestone"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let transition = "mutation($id: ID!, $a: MilestoneAction!, $d: NaiveDate) { milestoneTransition(input: { id: $id, action: $a, actualDate: $d }) {
        milestone { status actualDate } userErrors { code field currentState allowedActions } } }";
    let data = app
        .ok(
            &plan.qa,
            transition,
            json!({ "id": id, "a": "ACHIEVE", "d": "2027-03-02" }),
        )
        .await;
    assert_refused(
        &data["milestoneTransition"],
        "BAD_USER_INPUT",
        &["input", "actualDate"],
    );
    let data = app
        .ok(&plan.qa, transition, json!({ "id": id, "a": "START" }))
        .await;
    assert_eq!(
        data["milestoneTransition"]["milestone"]["status"],
        "IN_PROGRESS"
    );
    let data = app
        .ok(
            &plan.qa,
            transition,
            json!({ "id": id, "a": "ACHIEVE", "d": "2027-02-27" }),
        )
        .await;
    assert_eq!(
        data["milestoneTransition"]["milestone"],
        json!({ "status": "ACHIEVED", "actualDate": "2027-02-27" })
    );
    let data = app
        .ok(&plan.qa, transition, json!({ "id": id, "a": "MISS" }))
        .await;
    assert_refused(
        &data["milestoneTransition"],
        "INVALID_TRANSITION",
        &["input", "action"],
    );
    assert_eq!(
        data["milestoneTransition"]["userErrors"][0]["currentState"],
        "ACHIEVED"
    );
    // Someone else's milestone: not theirs to report.
    let other = app
        .ok(&plan.pm, CREATE, json!({ "input": { "phaseId": plan.phases[0], "name": "Not owned", "baselineDate": "2027-03-10" } }))
        .await;
    let other = other["milestoneCreate"]["milestone"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app
        .gql(
            Some(&plan.qa.token),
            transition,
            json!({ "id": other, "a": "START" }),
        )
        .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"));
}

/// A document's mutations run one after another, and each payload reads the data as the
/// mutations before it left it: what the request's loaders kept is forgotten between them.
#[tokio::test]
async fn a_later_mutation_in_one_document_sees_what_an_earlier_one_changed() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let data = app
        .ok(&plan.pm, CREATE, json!({ "input": { "phaseId": plan.phases[0], "name": "Slipping", "baselineDate": "2027-04-01", "forecastDate": "2027-04-15" } }))
        .await;
    let milestone = &data["milestoneCreate"]["milestone"];
    assert_eq!(milestone["health"], "RED", "{data:#}");
    let project_version = app
        .ok(
            &plan.pm,
            "query($p: ID!) { project(id: $p) { version } }",
            json!({ "p": plan.project }),
        )
        .await["project"]["version"]
        .clone();
    let document = "mutation($p: ID!, $pv: Int!, $m: ID!, $mv: Int!) {
        before: milestoneUpdate(input: { id: $m, expectedVersion: $mv, name: \"Renamed\" }) {
            milestone { health } userErrors { code } }
        widen: projectUpdate(input: { id: $p, expectedVersion: $pv,
            healthThresholds: { amberSlipDays: 30, redSlipDays: 60 } }) { userErrors { code } }
        after: milestoneUpdate(input: { id: $m, expectedVersion: $mv2, name: \"Again\" }) {
            milestone { health } userErrors { code } }
    }"
    .replace(
        "$mv2",
        &(milestone["version"].as_i64().unwrap() + 1).to_string(),
    );
    let data = app
        .ok(
            &plan.pm,
            &document,
            json!({ "p": plan.project, "pv": project_version, "m": milestone["id"], "mv": milestone["version"] }),
        )
        .await;
    assert_eq!(data["before"]["milestone"]["health"], "RED", "{data:#}");
    assert_eq!(data["widen"]["userErrors"], json!([]));
    assert_eq!(data["after"]["milestone"]["health"], "GREEN", "{data:#}");
}
