//! UAT: the scenario library and CSV, cycles, executions, the defect fix–retest loop, metrics
//! and readiness.

use serde_json::{Value, json};

use crate::support::{TestApp, TestUser, assert_refused, error_code, user_errors};

struct Team {
    pm: TestUser,
    qa: TestUser,
    business: TestUser,
    dev: TestUser,
    project: String,
}

async fn team(app: &TestApp) -> Team {
    let pm = app.user("Anna Berg", false).await;
    let project = app.project(&pm, "CRM-1").await;
    let qa = app.user("Sofia Rossi", false).await;
    app.add_member(&pm, &project, &qa, &["QA"]).await;
    let business = app.user("Lin Mei", false).await;
    app.add_member(&pm, &project, &business, &["BUSINESS_REP"])
        .await;
    let dev = app.user("Raj Patel", false).await;
    app.add_member(&pm, &project, &dev, &["VENDOR"]).await;
    Team {
        pm,
        qa,
        business,
        dev,
        project,
    }
}

const SCENARIOS: &str =
    "query($p: ID!) { project(id: $p) { testScenarios { id name isCore area } testScenariosCsv } }";

async fn import_library(app: &TestApp, t: &Team) -> Vec<Value> {
    let data = app
        .ok(&t.qa, "mutation($p: ID!) { testScenarioLibraryImport(input: { projectId: $p }) { scenarios { id name isCore } userErrors { code } } }", json!({ "p": t.project }))
        .await;
    data["testScenarioLibraryImport"]["scenarios"]
        .as_array()
        .expect("scenarios")
        .clone()
}

async fn cycle(app: &TestApp, t: &Team, name: &str) -> String {
    let data = app
        .ok(&t.qa, "mutation($p: ID!, $n: String!) { testCycleCreate(input: { projectId: $p, name: $n, stage: USER_TRIAL, environment: \"UAT sandbox\" }) { cycle { id status } userErrors { code field } } }", json!({ "p": t.project, "n": name }))
        .await;
    data["testCycleCreate"]["cycle"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn cycle_action(app: &TestApp, who: &TestUser, id: &str, action: &str) -> Value {
    app.gql(Some(&who.token), "mutation($id: ID!, $a: TestCycleAction!) { testCycleTransition(input: { id: $id, action: $a }) { cycle { status } userErrors { code field } } }", json!({ "id": id, "a": action }))
        .await
}

async fn record(
    app: &TestApp,
    who: &TestUser,
    cycle: &str,
    scenario: &Value,
    result: &str,
    defect: Option<Value>,
) -> Value {
    let data = app
        .ok(who, "mutation($input: TestExecutionRecordInput!) { testExecutionRecord(input: $input) { execution { id result } defect { id key status scenarioId foundInCycleId } userErrors { code field message } } }", json!({ "input": { "cycleId": cycle, "scenarioId": scenario["id"], "result": result, "defect": defect } }))
        .await;
    data["testExecutionRecord"].clone()
}

const DEFECT: &str =
    "id key status severity priority reopenCount assignee { email } statusReason version";

async fn defect_act(app: &TestApp, who: &TestUser, id: &Value, input: Value) -> Value {
    let mut input = input;
    input["id"] = id.clone();
    app.gql(Some(&who.token), &format!("mutation($input: DefectTransitionInput!) {{ defectTransition(input: $input) {{ defect {{ {DEFECT} }} userErrors {{ code field message }} }} }}"), json!({ "input": input }))
        .await
}

async fn grade(
    app: &TestApp,
    who: &TestUser,
    id: &Value,
    version: &Value,
    severity: &str,
    priority: &str,
) -> Value {
    app.ok(who, &format!("mutation($id: ID!, $v: Int!, $s: Severity, $p: Priority) {{ defectGrade(input: {{ id: $id, expectedVersion: $v, severity: $s, priority: $p }}) {{ defect {{ {DEFECT} }} userErrors {{ code field }} }} }}"), json!({ "id": id, "v": version, "s": severity, "p": priority }))
        .await["defectGrade"]
        .clone()
}

const READINESS: &str = "query($p: ID!) { uatReadiness(projectId: $p) { ready criteria { key value threshold holds } } }";

#[tokio::test]
async fn the_library_imports_and_round_trips_through_csv() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let scenarios = import_library(&app, &t).await;
    assert!(scenarios.len() >= 8);
    assert!(scenarios.iter().any(|s| s["isCore"] == true));
    // Importing again skips what exists.
    assert!(import_library(&app, &t).await.is_empty());
    let data = app.ok(&t.qa, SCENARIOS, json!({ "p": t.project })).await;
    let csv = data["project"]["testScenariosCsv"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(csv.starts_with("scenario,area,core,type,step,action,expected_result"));

    let other = app.project(&t.pm, "CRM-2").await;
    app.add_member(&t.pm, &other, &t.qa, &["QA"]).await;
    let import = "mutation($p: ID!, $csv: String!) { testScenarioCsvImport(input: { projectId: $p, csv: $csv }) { scenarios { name } userErrors { code field message } } }";
    let data = app
        .ok(&t.qa, import, json!({ "p": other, "csv": csv }))
        .await;
    assert_eq!(
        data["testScenarioCsvImport"]["scenarios"]
            .as_array()
            .unwrap()
            .len(),
        scenarios.len()
    );
    let copy = app.ok(&t.qa, SCENARIOS, json!({ "p": other })).await;
    assert_eq!(copy["project"]["testScenariosCsv"], csv.as_str());

    // A bad file: every bad row reported with line and column, nothing imported.
    let third = app.project(&t.pm, "CRM-3").await;
    app.add_member(&t.pm, &third, &t.qa, &["QA"]).await;
    let before = app.count("test_scenario").await;
    let bad = "scenario,area,core,type,step,action,expected_result\nLead flow,SALES,true,TYPICAL,1,Create lead,Lead saved\nLead flow,SALEZ,true,TYPICAL,2,Follow up,Logged\nOther,SERVICE,maybe,TYPICAL,1,,Done\n";
    let data = app
        .ok(&t.qa, import, json!({ "p": third, "csv": bad }))
        .await;
    let errors = user_errors(&data["testScenarioCsvImport"]);
    assert!(
        errors.contains(&(
            "BAD_USER_INPUT".into(),
            vec!["input".into(), "csv".into(), "3".into(), "area".into()]
        )),
        "{errors:?}"
    );
    assert!(
        errors.contains(&(
            "BAD_USER_INPUT".into(),
            vec!["input".into(), "csv".into(), "4".into(), "core".into()]
        )),
        "{errors:?}"
    );
    assert!(
        errors.contains(&(
            "BAD_USER_INPUT".into(),
            vec!["input".into(), "csv".into(), "4".into(), "action".into()]
        )),
        "{errors:?}"
    );
    let data = app
        .ok(
            &t.qa,
            import,
            json!({ "p": third, "csv": "name,area\nx,SALES\n" }),
        )
        .await;
    assert_refused(
        &data["testScenarioCsvImport"],
        "BAD_USER_INPUT",
        &["input", "csv", "1"],
    );
    let huge = format!(
        "scenario,area,core,type,step,action,expected_result\n{}",
        "x".repeat(3 * 1024 * 1024)
    );
    let response = app
        .gql(
            Some(&t.qa.token),
            import,
            json!({ "p": third, "csv": huge }),
        )
        .await;
    assert!(
        error_code(&response) == Some("LIMIT_EXCEEDED")
            || !user_errors(&response["data"]["testScenarioCsvImport"]).is_empty()
    );
    assert_eq!(app.count("test_scenario").await, before);
}

#[tokio::test]
async fn a_defect_goes_through_the_fix_retest_loop() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let scenarios = import_library(&app, &t).await;
    let cycle_id = cycle(&app, &t, "UAT 1").await;
    let early = record(&app, &t.qa, &cycle_id, &scenarios[0], "PASSED", None).await;
    assert_refused(&early, "PRECONDITION_FAILED", &["input", "cycleId"]);
    assert_eq!(
        cycle_action(&app, &t.qa, &cycle_id, "START").await["data"]["testCycleTransition"]["cycle"]
            ["status"],
        "RUNNING"
    );

    let failed = record(
        &app,
        &t.qa,
        &cycle_id,
        &scenarios[0],
        "FAILED",
        Some(json!({ "title": "Quote total ignores discount", "stepsToReproduce": "Create a quote with 10% discount", "actualResult": "Total unchanged", "expectedResult": "Total reduced", "category": "LOGIC_DEVIATION" })),
    )
    .await;
    assert_eq!(failed["userErrors"], json!([]), "{failed}");
    let defect = failed["defect"].clone();
    assert_eq!(defect["key"], "DEF-1");
    assert_eq!(defect["status"], "NEW");
    assert_eq!(defect["scenarioId"], scenarios[0]["id"]);
    let id = defect["id"].clone();

    // Severity and priority are required to leave NEW.
    let response = defect_act(&app, &t.qa, &id, json!({ "action": "TRIAGE" })).await;
    let errors = user_errors(&response["data"]["defectTransition"]);
    assert_eq!(errors.len(), 2, "{response}");
    let graded = grade(&app, &t.qa, &id, &json!(1), "MAJOR", "P1").await;
    assert_eq!(graded["defect"]["severity"], "MAJOR");
    let step = |who: &TestUser, input: Value| {
        let id = id.clone();
        let app = &app;
        let who = who.clone();
        async move {
            let response = defect_act(app, &who, &id, input).await;
            assert!(response.get("errors").is_none(), "{response}");
            response["data"]["defectTransition"].clone()
        }
    };
    step(&t.qa, json!({ "action": "TRIAGE" })).await;
    // Deferring a MAJOR defect is the PM's call.
    let response = defect_act(
        &app,
        &t.qa,
        &id,
        json!({ "action": "DEFER", "reason": "later" }),
    )
    .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"));
    let rejected = defect_act(
        &app,
        &t.qa,
        &id,
        json!({ "action": "REJECT", "rejectReason": "DUPLICATE", "duplicateOf": id }),
    )
    .await;
    assert!(
        !user_errors(&rejected["data"]["defectTransition"]).is_empty(),
        "{rejected}"
    );
    let assigned = step(&t.qa, json!({ "action": "ASSIGN", "assigneeId": t.dev.id })).await;
    assert_eq!(assigned["defect"]["assignee"]["email"], t.dev.email);
    let response = defect_act(&app, &t.qa, &id, json!({ "action": "START_FIX" })).await;
    assert_eq!(
        error_code(&response),
        Some("FORBIDDEN"),
        "only the assignee starts the fix"
    );
    step(&t.dev, json!({ "action": "START_FIX" })).await;
    step(&t.dev, json!({ "action": "MARK_READY_FOR_RETEST" })).await;
    let response = defect_act(&app, &t.dev, &id, json!({ "action": "VERIFY" })).await;
    assert_eq!(
        error_code(&response),
        Some("FORBIDDEN"),
        "the assignee does not verify their own fix"
    );
    let reopened = step(
        &t.business,
        json!({ "action": "REOPEN", "reason": "Still wrong with 15%" }),
    )
    .await;
    assert_eq!(reopened["defect"]["status"], "REOPENED");
    assert_eq!(reopened["defect"]["reopenCount"], 1);
    step(&t.qa, json!({ "action": "ASSIGN", "assigneeId": t.dev.id })).await;
    step(&t.dev, json!({ "action": "START_FIX" })).await;
    step(&t.dev, json!({ "action": "MARK_READY_FOR_RETEST" })).await;
    step(&t.qa, json!({ "action": "VERIFY" })).await;
    let closed = step(&t.qa, json!({ "action": "CLOSE" })).await;
    assert_eq!(closed["defect"]["status"], "CLOSED");
    let illegal = defect_act(
        &app,
        &t.qa,
        &id,
        json!({ "action": "REOPEN", "reason": "x" }),
    )
    .await;
    assert_eq!(
        illegal["data"]["defectTransition"]["userErrors"][0]["code"],
        "INVALID_TRANSITION"
    );

    let metrics = app
        .ok(&t.pm, "query($p: ID!) { project(id: $p) { uatMetrics { reopenRatePercent goLiveBugRatePercent defectsByStatus { status count } } defects(filter: { open: false }) { totalCount } } }", json!({ "p": t.project }))
        .await;
    assert_eq!(metrics["project"]["uatMetrics"]["reopenRatePercent"], 100);
    assert_eq!(metrics["project"]["defects"]["totalCount"], 1);
}

#[tokio::test]
async fn open_defects_are_counted_by_severity_and_closed_ones_are_not() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let mut logged = Vec::new();
    for (title, severity, priority) in [
        ("Lead import drops the phone", Some("CRITICAL"), Some("P1")),
        ("Quote PDF misaligned", Some("MAJOR"), Some("P2")),
        ("Renewal date off by one", Some("MAJOR"), Some("P2")),
        ("Typo on the case form", Some("TRIVIAL"), Some("P4")),
        ("Report is slow", None, None),
    ] {
        let data = app
            .ok(&t.qa, "mutation($input: DefectCreateInput!) { defectCreate(input: $input) { defect { id } userErrors { code field } } }", json!({ "input": { "projectId": t.project, "defect": {
                "title": title, "stepsToReproduce": "Open it", "expectedResult": "It works", "actualResult": "It does not",
                "severity": severity, "priority": priority } } }))
            .await;
        assert_eq!(data["defectCreate"]["userErrors"], json!([]), "{data}");
        logged.push(data["defectCreate"]["defect"]["id"].clone());
    }
    // The trivial one is rejected: it no longer counts as open.
    for input in [
        json!({ "action": "TRIAGE" }),
        json!({ "action": "REJECT", "rejectReason": "NOT_A_DEFECT" }),
    ] {
        let response = defect_act(&app, &t.qa, &logged[3], input).await;
        assert_eq!(
            response["data"]["defectTransition"]["userErrors"],
            json!([]),
            "{response}"
        );
    }

    let data = app
        .ok(&t.pm, "query($p: ID!) { project(id: $p) { uatMetrics { openDefectsBySeverity { severity count } defectsByStatus { status count } } } }", json!({ "p": t.project }))
        .await;
    let metrics = &data["project"]["uatMetrics"];
    assert_eq!(
        metrics["openDefectsBySeverity"],
        json!([
            { "severity": "CRITICAL", "count": 1 },
            { "severity": "MAJOR", "count": 2 },
            { "severity": "MINOR", "count": 0 },
            { "severity": "TRIVIAL", "count": 0 },
            { "severity": null, "count": 1 },
        ])
    );
    let by_status = |status: &str| {
        metrics["defectsByStatus"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["status"] == status)
            .map(|row| row["count"].clone())
    };
    assert_eq!(by_status("NEW"), Some(json!(4)));
    assert_eq!(by_status("REJECTED"), Some(json!(1)));
}

#[tokio::test]
async fn readiness_flips_exactly_when_every_criterion_holds() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let scenarios = import_library(&app, &t).await;
    let data = app.ok(&t.pm, READINESS, json!({ "p": t.project })).await;
    assert_eq!(data["uatReadiness"]["ready"], false);
    let cycle_id = cycle(&app, &t, "UAT final").await;
    cycle_action(&app, &t.qa, &cycle_id, "START").await;
    let core: Vec<&Value> = scenarios.iter().filter(|s| s["isCore"] == true).collect();
    for scenario in &core {
        record(&app, &t.qa, &cycle_id, scenario, "PASSED", None).await;
    }
    // An open MAJOR defect on a core scenario blocks.
    let data = app
        .ok(&t.qa, "mutation($p: ID!, $s: ID!) { defectCreate(input: { projectId: $p, scenarioId: $s, defect: { title: \"Slow\", stepsToReproduce: \"Open\", actualResult: \"Slow\", severity: MAJOR, priority: P2 } }) { defect { id version } userErrors { code field } } }", json!({ "p": t.project, "s": core[0]["id"] }))
        .await;
    let blocker = data["defectCreate"]["defect"]["id"].clone();
    cycle_action(&app, &t.qa, &cycle_id, "COMPLETE").await;
    let response = cycle_action(&app, &t.qa, &cycle_id, "SIGN_OFF").await;
    assert_eq!(
        error_code(&response),
        Some("FORBIDDEN"),
        "a business representative signs off"
    );
    cycle_action(&app, &t.business, &cycle_id, "SIGN_OFF").await;
    let data = app.ok(&t.pm, READINESS, json!({ "p": t.project })).await;
    let readiness = &data["uatReadiness"];
    assert_eq!(readiness["ready"], false, "{readiness}");
    let holds: Vec<bool> = readiness["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["holds"].as_bool().unwrap())
        .collect();
    assert_eq!(holds.iter().filter(|h| **h).count(), 2, "{readiness}");

    // Rejecting the blocker as not a defect makes it ready.
    defect_act(&app, &t.qa, &blocker, json!({ "action": "TRIAGE" })).await;
    let response = defect_act(
        &app,
        &t.qa,
        &blocker,
        json!({ "action": "REJECT", "rejectReason": "WORKS_AS_DESIGNED" }),
    )
    .await;
    assert_eq!(
        response["data"]["defectTransition"]["defect"]["status"], "REJECTED",
        "{response}"
    );
    let data = app.ok(&t.pm, READINESS, json!({ "p": t.project })).await;
    assert_eq!(data["uatReadiness"]["ready"], true, "{data}");
}

#[tokio::test]
async fn bad_uat_input_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let scenarios = import_library(&app, &t).await;
    let other = app.project(&t.pm, "CRM-2").await;
    app.add_member(&t.pm, &other, &t.qa, &["QA"]).await;
    let foreign_cycle = {
        let data = app
            .ok(&t.qa, "mutation($p: ID!) { testCycleCreate(input: { projectId: $p, name: \"Other\", stage: FUNCTIONAL, environment: \"x\" }) { cycle { id } } }", json!({ "p": other }))
            .await;
        data["testCycleCreate"]["cycle"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    cycle_action(&app, &t.qa, &foreign_cycle, "START").await;
    let before = app.snapshot().await;
    let refused = record(&app, &t.qa, &foreign_cycle, &scenarios[0], "PASSED", None).await;
    assert_refused(&refused, "NOT_FOUND", &["input", "scenarioId"]);
    let refused = record(
        &app,
        &t.qa,
        &foreign_cycle,
        &json!({ "id": t.project }),
        "PASSED",
        None,
    )
    .await;
    assert_refused(&refused, "BAD_USER_INPUT", &["input", "scenarioId"]);
    let data = app
        .ok(&t.qa, "mutation($p: ID!) { testScenarioCreate(input: { projectId: $p, name: \"\", area: SALES, scenarioType: TYPICAL, steps: [] }) { userErrors { code field } } }", json!({ "p": t.project }))
        .await;
    assert!(user_errors(&data["testScenarioCreate"]).len() >= 2);
    let response = app
        .gql(Some(&t.dev.token), "mutation($p: ID!) { testCycleCreate(input: { projectId: $p, name: \"x\", stage: FUNCTIONAL, environment: \"x\" }) { userErrors { code } } }", json!({ "p": t.project }))
        .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"));
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_cancelled_project_moves_no_test_cycle() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let completed = cycle(&app, &t, "UAT 1").await;
    for action in ["START", "COMPLETE"] {
        let moved = cycle_action(&app, &t.qa, &completed, action).await;
        assert_eq!(
            moved["data"]["testCycleTransition"]["userErrors"],
            json!([]),
            "{moved}"
        );
    }
    let planned = cycle(&app, &t, "UAT 2").await;
    app.ok(&t.pm, "mutation($id: ID!) { projectTransition(input: { id: $id, action: CANCEL, reason: \"Budget withdrawn\" }) { userErrors { code } } }", json!({ "id": t.project }))
        .await;

    let before = app.snapshot().await;
    for (who, id, action) in [
        (&t.business, &completed, "SIGN_OFF"),
        (&t.qa, &planned, "START"),
    ] {
        let refused = cycle_action(&app, who, id, action).await;
        assert_refused(
            &refused["data"]["testCycleTransition"],
            "PRECONDITION_FAILED",
            &["input", "id"],
        );
    }
    assert_eq!(app.snapshot().await, before);
}

/// Logs a graded defect by the team's QA (MINOR, P3 unless given): its id.
async fn log_defect(app: &TestApp, t: &Team, title: &str, severity: Option<&str>) -> Value {
    let data = app
        .ok(&t.qa, "mutation($input: DefectCreateInput!) { defectCreate(input: $input) { defect { id } userErrors { code field message } } }", json!({ "input": { "projectId": t.project, "defect": {
            "title": title, "stepsToReproduce": "Open it", "actualResult": "It breaks",
            "severity": severity.unwrap_or("MINOR"), "priority": "P3" } } }))
        .await;
    assert_eq!(data["defectCreate"]["userErrors"], json!([]), "{data}");
    data["defectCreate"]["defect"]["id"].clone()
}

/// Sends the team's QA's `defectTransition` and expects it accepted: the defect.
async fn defect_moved(app: &TestApp, t: &Team, id: &Value, input: Value) -> Value {
    let response = defect_act(app, &t.qa, id, input).await;
    let payload = &response["data"]["defectTransition"];
    assert_eq!(payload["userErrors"], json!([]), "{response}");
    payload["defect"].clone()
}

/// A DUPLICATE rejection points at an open defect, where the work goes on: not a rejected,
/// deferred or closed one, so two defects can never end up duplicates of each other.
#[tokio::test]
async fn a_duplicate_names_an_open_original() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let first = log_defect(&app, &t, "Quote total ignores discount", None).await;
    let second = log_defect(&app, &t, "Discount lost on quote", None).await;
    let deferred = log_defect(&app, &t, "Logo blurry", Some("TRIVIAL")).await;
    for id in [&first, &second, &deferred] {
        defect_moved(&app, &t, id, json!({ "action": "TRIAGE" })).await;
    }
    defect_moved(
        &app,
        &t,
        &deferred,
        json!({ "action": "DEFER", "reason": "After go-live" }),
    )
    .await;
    let duplicate_of = |original: &Value| json!({ "action": "REJECT", "rejectReason": "DUPLICATE", "duplicateOf": original });

    // The second is a duplicate of the first, which is open.
    let rejected = defect_moved(&app, &t, &second, duplicate_of(&first)).await;
    assert_eq!(rejected["status"], "REJECTED");

    // The first cannot be made a duplicate of the second in turn, nor of a deferred one.
    let before = app.snapshot().await;
    for (original, key) in [
        (&second, "DEF-2 is REJECTED"),
        (&deferred, "DEF-3 is DEFERRED"),
    ] {
        let response = defect_act(&app, &t.qa, &first, duplicate_of(original)).await;
        let payload = &response["data"]["defectTransition"];
        assert_refused(payload, "BAD_USER_INPUT", &["input", "duplicateOf"]);
        let message = payload["userErrors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with(key), "{message}");
    }
    assert_eq!(app.snapshot().await, before);

    // Nor of a closed one.
    let closed = log_defect(&app, &t, "Wrong currency symbol", None).await;
    defect_moved(&app, &t, &closed, json!({ "action": "TRIAGE" })).await;
    defect_moved(
        &app,
        &t,
        &closed,
        json!({ "action": "ASSIGN", "assigneeId": t.pm.id }),
    )
    .await;
    for action in ["START_FIX", "MARK_READY_FOR_RETEST"] {
        let response = defect_act(&app, &t.pm, &closed, json!({ "action": action })).await;
        assert_eq!(
            response["data"]["defectTransition"]["userErrors"],
            json!([]),
            "{response}"
        );
    }
    for action in ["VERIFY", "CLOSE"] {
        defect_moved(&app, &t, &closed, json!({ "action": action })).await;
    }
    let response = defect_act(&app, &t.qa, &first, duplicate_of(&closed)).await;
    assert_refused(
        &response["data"]["defectTransition"],
        "BAD_USER_INPUT",
        &["input", "duplicateOf"],
    );
}

/// Only an open defect is graded: a QA who deferred a MINOR defect cannot then grade it
/// CRITICAL (which would be a CRITICAL defect deferred without the PM). Reopened by TRIAGE, it
/// is graded again, and deferring it is then the PM's call.
#[tokio::test]
async fn a_deferred_defect_is_reopened_before_it_is_regraded() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let defect = log_defect(&app, &t, "Report footer misaligned", Some("MINOR")).await;
    defect_moved(&app, &t, &defect, json!({ "action": "TRIAGE" })).await;
    let deferred = defect_moved(&app, &t, &defect, json!({ "action": "DEFER" })).await;
    assert_eq!(deferred["status"], "DEFERRED");

    let before = app.snapshot().await;
    for who in [&t.qa, &t.pm] {
        let refused = app.ok(who, "mutation($id: ID!, $v: Int!) { defectGrade(input: { id: $id, expectedVersion: $v, severity: CRITICAL }) { defect { severity } userErrors { code field message } } }", json!({ "id": defect, "v": deferred["version"] })).await;
        let payload = &refused["defectGrade"];
        assert_refused(payload, "PRECONDITION_FAILED", &["input", "id"]);
        let message = payload["userErrors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("DEF-1 is DEFERRED") && message.contains("reopen it first"),
            "{message}"
        );
    }
    assert_eq!(app.snapshot().await, before, "refusals wrote nothing");

    let reopened = defect_moved(&app, &t, &defect, json!({ "action": "TRIAGE" })).await;
    let graded = grade(&app, &t.qa, &defect, &reopened["version"], "CRITICAL", "P1").await;
    assert_eq!(graded["userErrors"], json!([]), "{graded}");
    assert_eq!(graded["defect"]["severity"], "CRITICAL");
    let response = defect_act(
        &app,
        &t.qa,
        &defect,
        json!({ "action": "DEFER", "reason": "Later" }),
    )
    .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"), "{response}");

    // Nor may QA lower it below what blocks go-live and defer it then: that is the PM's call.
    let before = app.snapshot().await;
    let response = app
        .gql(Some(&t.qa.token), "mutation($id: ID!, $v: Int!) { defectGrade(input: { id: $id, expectedVersion: $v, severity: MINOR }) { userErrors { code } } }", json!({ "id": defect, "v": graded["defect"]["version"] }))
        .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"), "{response}");
    assert_eq!(app.snapshot().await, before, "the refusal wrote nothing");
    let major = grade(
        &app,
        &t.qa,
        &defect,
        &graded["defect"]["version"],
        "MAJOR",
        "P1",
    )
    .await;
    assert_eq!(
        major["userErrors"],
        json!([]),
        "QA may grade within what blocks: {major}"
    );
    let lowered = grade(
        &app,
        &t.pm,
        &defect,
        &major["defect"]["version"],
        "MINOR",
        "P3",
    )
    .await;
    assert_eq!(lowered["defect"]["severity"], "MINOR", "{lowered}");

    // Closed for good: no way back, and the refusal says so.
    let rejected = defect_moved(
        &app,
        &t,
        &defect,
        json!({ "action": "REJECT", "rejectReason": "NOT_A_DEFECT" }),
    )
    .await;
    let refused = grade(&app, &t.pm, &defect, &rejected["version"], "TRIVIAL", "P4").await;
    assert_refused(&refused, "PRECONDITION_FAILED", &["input", "id"]);
}
