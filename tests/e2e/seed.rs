//! `seed demo` builds a usable project, and a second run changes nothing. `seed bench` writes
//! its specified rows, the same ones for the same seed, once, and the API reads them.

use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, QueryOrder};
use serde_json::{Value, json};
use steerco::seed::bench::{BenchError, BenchReport, BenchSize, bench};
use steerco_entity::{
    change_request, decision, decision_vote, defect, go_live_plan, milestone, phase, project,
    project_member, raci_assignment, user,
};

use crate::support::TestApp;

#[tokio::test]
async fn the_demo_seed_builds_a_running_phased_project_once() {
    let app = TestApp::spawn().await;
    steerco::seed::demo(&app.state).await.unwrap();
    let rows = app.snapshot().await;
    steerco::seed::demo(&app.state).await.unwrap();
    assert_eq!(app.snapshot().await, rows, "a second seed writes nothing");

    let admin = app.user("Ada Admin", true).await;
    let data = app
        .ok(
            &admin,
            "{ project(code: \"CRM-DEMO\") { id status members { roles }
                phases { name status milestones { name health slipDays } }
                scheduleBaselines { number cause }
                decisions { subjectType status outcome votes { choice } }
                scheduleHealth { red totalSlipDays currentPhase { position } } } }",
            json!({}),
        )
        .await;
    let project = &data["project"];
    assert_eq!(project["status"], "LIVE_HYPERCARE");
    assert_eq!(project["members"].as_array().unwrap().len(), 8);
    let phases = project["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 8);
    assert_eq!(phases[0]["status"], "COMPLETED");
    assert_eq!(phases[1]["status"], "IN_PROGRESS");
    let milestone_count: usize = phases
        .iter()
        .map(|p| p["milestones"].as_array().unwrap().len())
        .sum();
    assert_eq!(milestone_count, 10);
    assert_eq!(
        project["scheduleBaselines"],
        json!([{ "number": 1, "cause": "INITIAL" }, { "number": 2, "cause": "CHANGE_REQUEST" }])
    );
    assert_eq!(
        project["decisions"].as_array().unwrap().last().unwrap(),
        &json!({ "subjectType": "PHASE_GATE", "status": "DECIDED", "outcome": "GO",
                 "votes": [{ "choice": "GO" }, { "choice": "GO" }] })
    );
    assert_eq!(phases[1]["milestones"][0]["slipDays"], 12);
    assert_eq!(phases[1]["milestones"][0]["health"], "RED");
    assert_eq!(project["scheduleHealth"]["currentPhase"]["position"], 2);

    // Every step wrote its emails, each in its recipient's language; the sponsor's gate news
    // waits for her digest.
    let data = app
        .ok(
            &admin,
            "query($id: ID!) { notifications(projectId: $id, first: 100) { totalCount edges { node { kind locale recipientEmail } } } }",
            json!({ "id": project["id"] }),
        )
        .await;
    let emails = data["notifications"]["edges"].as_array().unwrap();
    assert!(
        data["notifications"]["totalCount"].as_u64().unwrap() > 20,
        "{data}"
    );
    let kinds: std::collections::BTreeSet<&str> = emails
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "change_request.submitted",
        "decision.opened",
        "phase.gate_decided",
    ] {
        assert!(kinds.contains(kind), "{kind} in {kinds:?}");
    }
    let locale_of = |email: &str| {
        emails
            .iter()
            .filter(|e| e["node"]["recipientEmail"] == email)
            .map(|e| e["node"]["locale"].as_str().unwrap())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(
        locale_of("mei.lin@demo.steerco.dev"),
        std::collections::BTreeSet::from(["zh-CN"])
    );
    assert_eq!(
        locale_of("anna.berg@demo.steerco.dev"),
        std::collections::BTreeSet::from(["en"])
    );
    assert!(
        !emails.iter().any(
            |e| e["node"]["recipientEmail"] == "wei.zhang@demo.steerco.dev"
                && e["node"]["kind"] == "phase.gate_decided"
        ),
        "held for the digest"
    );
    assert!(app.count("digest_item").await > 0);

    let id = project["id"].as_str().unwrap();
    let data = app
        .ok(
            &admin,
            "query($id: ID!) { raciMatrix(projectId: $id) { valid activities { id } }
                project(id: $id) { scope { id number status } scopeVersions { id number status } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["raciMatrix"]["valid"], true);
    assert_eq!(
        data["raciMatrix"]["activities"].as_array().unwrap().len(),
        18
    );
    // CR-001 baselined version 3 of the scope; version 2 is still in review.
    assert_eq!(data["project"]["scope"]["number"], 3);
    let versions = data["project"]["scopeVersions"].as_array().unwrap();
    assert_eq!(versions[1]["status"], "IN_REVIEW");
    let diff = app
        .ok(
            &admin,
            "query($a: ID!, $b: ID!) { scopeDiff(fromId: $a, toId: $b) { section change after before } }",
            json!({ "a": versions[0]["id"], "b": versions[1]["id"] }),
        )
        .await;
    let changes: Vec<(&str, &str)> = diff["scopeDiff"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["section"].as_str().unwrap(),
                d["change"].as_str().unwrap(),
            )
        })
        .collect();
    // Version 2 took CR-001's item, approved while it was a draft; its own edits refine the
    // exclusions and the acceptance criteria, as the project under way changes what it
    // delivers only through change requests.
    assert_eq!(
        changes,
        vec![
            ("inScope", "ADDED"),
            ("outOfScope", "ADDED"),
            ("acceptanceCriteria", "ADDED")
        ]
    );
    let data = app
        .ok(
            &admin,
            "query($id: ID!) { project(id: $id) { budget { amount }
                changeRequests { edges { node { code status decidedBy scheduleBaseline { number } scopeVersion { number } costBaseline { amount } } } }
                changeSummary { approvedCost costDrift scheduleDriftDays } } }",
            json!({ "id": id }),
        )
        .await;
    let crs: Vec<(&str, &str)> = data["project"]["changeRequests"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["code"].as_str().unwrap(),
                e["node"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        crs,
        vec![
            ("CR-001", "APPROVED"),
            ("CR-002", "AWAITING_DECISION"),
            ("CR-003", "REJECTED"),
            ("CR-004", "DRAFT")
        ]
    );
    let applied = &data["project"]["changeRequests"]["edges"][0]["node"];
    assert_eq!(applied["decidedBy"], "COMMITTEE");
    assert_eq!(applied["scheduleBaseline"]["number"], 2);
    assert_eq!(applied["scopeVersion"]["number"], 3);
    assert_eq!(applied["costBaseline"]["amount"], "1970000.00");
    assert_eq!(data["project"]["budget"]["amount"], "1970000.00");
    assert_eq!(data["project"]["changeSummary"]["scheduleDriftDays"], 10);
    let data = app
        .ok(
            &admin,
            "query($id: ID!) { project(id: $id) { testScenarios { id } testCycles { status passRate { passed total } }
                uatMetrics { defectsByStatus { status count } } } uatReadiness(projectId: $id) { ready } }",
            json!({ "id": id }),
        )
        .await;
    assert!(data["project"]["testScenarios"].as_array().unwrap().len() >= 8);
    assert_eq!(data["project"]["testCycles"][0]["status"], "RUNNING");
    let empty: Vec<&str> = data["project"]["uatMetrics"]["defectsByStatus"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["count"] == 0)
        .map(|row| row["status"].as_str().unwrap())
        .collect();
    assert!(empty.is_empty(), "every defect state is shown: {empty:?}");
    assert_eq!(data["uatReadiness"]["ready"], false);

    // The go-live: NO_GO, rescheduled and prepared, GO with an override, live, a hypercare week.
    let data = app
        .ok(
            &admin,
            "query($id: ID!) { project(id: $id) { goLivePlans { status attempt overrideReason
                rollbackPlan { approvedBy } runbook { status } metrics { name readings { breached } }
                decisionSnapshot { key holds } decisions { status outcome votes { choice } } } } }",
            json!({ "id": id }),
        )
        .await;
    let plans = data["project"]["goLivePlans"].as_array().unwrap();
    assert_eq!(plans.len(), 1, "{data}");
    let plan = &plans[0];
    assert_eq!(plan["status"], "LIVE");
    assert_eq!(plan["attempt"], 1);
    assert!(plan["overrideReason"].as_str().unwrap().contains("Pilot"));
    assert!(plan["rollbackPlan"]["approvedBy"].is_string());
    let runbook = plan["runbook"].as_array().unwrap();
    assert_eq!(runbook.len(), 5);
    assert!(runbook.iter().all(|task| task["status"] == "DONE"));
    let decisions = plan["decisions"].as_array().unwrap();
    let outcomes: Vec<_> = decisions
        .iter()
        .map(|d| (d["outcome"].clone(), d["votes"].as_array().unwrap().len()))
        .collect();
    assert_eq!(outcomes, [(json!("NO_GO"), 2), (json!("GO"), 2)]);
    let failing: Vec<&str> = plan["decisionSnapshot"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["holds"] == false)
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert!(failing.contains(&"UAT_READY"), "{failing:?}");
    assert!(
        !failing.contains(&"ROLLBACK_APPROVED_AND_REHEARSED"),
        "{failing:?}"
    );
    assert!(!failing.contains(&"WAR_ROOM_STAFFED"), "{failing:?}");
    let breaches: Vec<Vec<bool>> = plan["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["readings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["breached"].as_bool().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(breaches.len(), 2);
    assert!(
        breaches
            .iter()
            .all(|week| week.len() == 7 && week[0] && !week[6]),
        "{breaches:?}"
    );

    let data = app
        .ok(
            &admin,
            "query($id: ID!) { auditChainVerify(projectId: $id) { valid } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["auditChainVerify"]["valid"], true);
}

/// One deck of statuses: 14 projects in execution and one each proposed, initiated, live in
/// hypercare, in optimisation, on hold and cancelled.
const DECK: usize = 20;
/// Of a deck, the projects that went live and so hold a GO ballot of three votes.
const WENT_LIVE_PER_DECK: u64 = 2;

/// The rows the specification asks for, per table, for one deck of projects.
fn specified_rows() -> Vec<(&'static str, u64)> {
    let projects = DECK as u64;
    vec![
        ("user", 330),
        ("project", projects),
        ("project_member", 10 * projects),
        ("phase", 10 * projects),
        ("milestone", 50 * projects),
        ("raci_activity", 20 * projects),
        ("raci_assignment", 4 * 20 * projects),
        ("change_request", 30 * projects),
        // 25 change requests per project went to the committee (22 decided with 3 votes,
        // 3 open with 0, 1 and 2 votes), plus the GO ballot of each project that went live.
        ("decision", 25 * projects + WENT_LIVE_PER_DECK),
        (
            "decision_vote",
            (22 * 3 + 3) * projects + 3 * WENT_LIVE_PER_DECK,
        ),
        ("defect", 100 * projects),
        ("go_live_plan", projects),
    ]
}

async fn seed_bench(app: &TestApp, projects: usize, seed: u64) -> BenchReport {
    bench(app.db(), BenchSize { projects, seed })
        .await
        .expect("bench data")
}

/// Row counts of the bench tables and of the records of mutations.
async fn counts(app: &TestApp) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for (table, _) in specified_rows() {
        let quoted = if table == "user" { "\"user\"" } else { table };
        counts.push((table, app.count(quoted).await));
    }
    for table in ["audit_event", "notification"] {
        counts.push((table, app.count(table).await));
    }
    counts
}

#[tokio::test]
async fn the_bench_seed_writes_the_specified_rows_once() {
    let app = TestApp::spawn().await;
    let report = seed_bench(&app, DECK, 42).await;

    let mut expected: Vec<(&str, i64)> = specified_rows()
        .into_iter()
        .map(|(table, rows)| (table, rows as i64))
        .collect();
    for (table, rows) in &expected {
        assert_eq!(report.rows_in(table), *rows as u64, "{table} in the report");
    }
    // No audit events and no emails: nothing was done to the data, it was loaded.
    expected.extend([("audit_event", 0), ("notification", 0)]);
    assert_eq!(counts(&app).await, expected);

    // Exactly 5 / 15 / 40 / 40 % of every project's defects.
    let rows = app
        .db()
        .query_all_raw(sea_orm::Statement::from_string(
            app.db().get_database_backend(),
            "SELECT severity, COUNT(*) AS n FROM defect GROUP BY project_id, severity",
        ))
        .await
        .expect("severities");
    let mut split: Vec<(String, i64)> = rows
        .iter()
        .map(|row| {
            let severity: String = row.try_get("", "severity").expect("severity");
            (severity, row.try_get::<i64>("", "n").expect("n"))
        })
        .collect();
    split.sort();
    split.dedup();
    assert_eq!(
        split,
        [
            ("CRITICAL".to_owned(), 5),
            ("MAJOR".to_owned(), 15),
            ("MINOR".to_owned(), 40),
            ("TRIVIAL".to_owned(), 40)
        ]
    );

    // A second run is refused before it writes anything.
    let before = (app.snapshot().await, counts(&app).await);
    let again = bench(
        app.db(),
        BenchSize {
            projects: 1,
            seed: 7,
        },
    )
    .await;
    assert!(
        matches!(&again, Err(BenchError::AlreadySeeded(what)) if what == "project BENCH-0001"),
        "{again:?}"
    );
    assert_eq!((app.snapshot().await, counts(&app).await), before);
}

/// Every row of the tables that hold ids drawn from the seed, in id order.
async fn bench_rows(db: &DatabaseConnection) -> Value {
    async fn all<E>(db: &DatabaseConnection, id: E::Column) -> Vec<String>
    where
        E: EntityTrait,
        E::Model: std::fmt::Debug,
    {
        E::find()
            .order_by_asc(id)
            .all(db)
            .await
            .expect("rows")
            .iter()
            .map(|row| format!("{row:?}"))
            .collect()
    }
    json!({
        "user": all::<user::Entity>(db, user::Column::Id).await,
        "project": all::<project::Entity>(db, project::Column::Id).await,
        "member": all::<project_member::Entity>(db, project_member::Column::Id).await,
        "phase": all::<phase::Entity>(db, phase::Column::Id).await,
        "milestone": all::<milestone::Entity>(db, milestone::Column::Id).await,
        "raci": all::<raci_assignment::Entity>(db, raci_assignment::Column::Id).await,
        "change_request": all::<change_request::Entity>(db, change_request::Column::Id).await,
        "decision": all::<decision::Entity>(db, decision::Column::Id).await,
        "vote": all::<decision_vote::Entity>(db, decision_vote::Column::Id).await,
        "defect": all::<defect::Entity>(db, defect::Column::Id).await,
        "go_live_plan": all::<go_live_plan::Entity>(db, go_live_plan::Column::Id).await,
    })
}

#[tokio::test]
async fn the_same_seed_gives_the_same_rows_and_another_seed_others() {
    let (first, second, other) = tokio::join!(TestApp::spawn(), TestApp::spawn(), TestApp::spawn());
    seed_bench(&first, 3, 42).await;
    seed_bench(&second, 3, 42).await;
    seed_bench(&other, 3, 43).await;
    let rows = bench_rows(first.db()).await;
    assert_eq!(rows["defect"].as_array().map(Vec::len), Some(300));
    assert_eq!(bench_rows(second.db()).await, rows, "ids included");
    let others = bench_rows(other.db()).await;
    for table in ["user", "project", "defect", "vote"] {
        assert_ne!(others[table], rows[table], "{table}");
    }
}

const PLAN_AND_SCHEDULE: &str = "query($code: String!) { project(code: $code) {
    id status members { roles user { email locale } }
    phases { position status plannedStart actualStart actualEnd owner { id }
      milestones { status health slipDays overdue baselineDate forecastDate actualDate } }
    scheduleHealth { green amber red overdue totalSlipDays currentPhase { position } nextMilestone { name } } } }";

const CHANGES: &str = "query($code: String!) { project(code: $code) {
    changeRequests(first: 30) { totalCount edges { node { code status decidedBy withinRedLine
      missingImpact impact { cost { amount currency } risk { level } }
      ballot { recused { id } tally { approve reject abstain }
        decision { status outcome eligibleVoters { id } votes { choice abstained comment } } } } } }
    changeSummary { byStatus { status count } approvedCost approvedScheduleDays byCategory { category count } } } }";

const QUALITY_AND_GO_LIVE: &str = "query($code: String!) { project(code: $code) {
    uatMetrics { openDefectsBySeverity { severity count } defectsByStatus { status count }
      oldestOpenDefectDays averageOpenDefectDays reopenRatePercent goLiveBugRatePercent }
    goLivePlans { status strategy plannedGoLive cutoverStart freezeEnd
      rollbackPlan { maxMinutes approvedBy rehearsedOn rehearsalPassed authorityIds
        triggers { condition } steps { text ownerId } reconciliationSteps { text } }
      warRoom { userId shift } hypercareExit criteria { key holds } decisionSnapshot { key holds }
      decisions { status outcome votes { choice } } } } }";

const RACI: &str = "query($id: ID!) { raciMatrix(projectId: $id) { valid violations { rule message }
    activities { position phaseId accountable { id } responsible { id } consulted { id } informed { id } } } }";

#[tokio::test]
async fn every_bench_project_reads_through_the_api() {
    let app = TestApp::spawn().await;
    seed_bench(&app, DECK, 42).await;
    let admin = app.user("Ada Admin", true).await;
    let mut statuses = std::collections::BTreeSet::new();
    for number in 1..=DECK {
        let code = json!({ "code": format!("BENCH-{number:04}") });
        let data = app.ok(&admin, PLAN_AND_SCHEDULE, code.clone()).await;
        let project = &data["project"];
        statuses.insert(project["status"].as_str().unwrap().to_owned());
        assert_consistent_plan(project);

        let data = app.ok(&admin, CHANGES, code.clone()).await;
        assert_consistent_changes(&data["project"]);

        let data = app.ok(&admin, QUALITY_AND_GO_LIVE, code).await;
        assert_consistent_quality(&data["project"], project["status"].as_str().unwrap());

        let data = app.ok(&admin, RACI, json!({ "id": project["id"] })).await;
        let matrix = &data["raciMatrix"];
        assert_eq!(matrix["valid"], true, "{matrix:#}");
        assert_eq!(matrix["activities"].as_array().unwrap().len(), 20);
    }
    assert_eq!(
        statuses.len(),
        7,
        "one deck shows every status: {statuses:?}"
    );
}

fn count_of(rows: &Value, key: &str, value: &str) -> i64 {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|row| row[key] == value)
        .map_or(0, |row| row["count"].as_i64().unwrap())
}

/// Ten members, ten phases in order (completed, then one in progress, then not started), and
/// fifty milestones whose counts by health add up.
fn assert_consistent_plan(project: &Value) {
    assert_eq!(
        project["members"].as_array().unwrap().len(),
        10,
        "{project:#}"
    );
    let phases = project["phases"].as_array().unwrap();
    let statuses: Vec<&str> = phases
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    let completed = statuses.iter().take_while(|s| **s == "COMPLETED").count();
    let rest = &statuses[completed..];
    match rest.first() {
        Some(&"IN_PROGRESS") => assert!(rest[1..].iter().all(|s| *s == "NOT_STARTED")),
        _ => assert!(rest.iter().all(|s| *s == "NOT_STARTED"), "{statuses:?}"),
    }
    let milestones: Vec<&Value> = phases
        .iter()
        .flat_map(|p| p["milestones"].as_array().unwrap())
        .collect();
    assert_eq!(milestones.len(), 50);
    let health = &project["scheduleHealth"];
    let by_health: i64 = ["green", "amber", "red"]
        .iter()
        .map(|key| health[*key].as_i64().unwrap())
        .sum();
    assert_eq!(by_health, 50, "{health:#}");
    let current = phases.iter().find(|p| p["status"] == "IN_PROGRESS");
    if let Some(current) = current {
        assert_eq!(health["currentPhase"]["position"], current["position"]);
    }
}

/// Thirty change requests; open ballots hold fewer than three votes, closed ones exactly three.
fn assert_consistent_changes(project: &Value) {
    let requests = &project["changeRequests"];
    assert_eq!(requests["totalCount"], 30);
    for edge in requests["edges"].as_array().unwrap() {
        let request = &edge["node"];
        let Some(ballot) = request["ballot"].as_object() else {
            continue;
        };
        let votes = ballot["decision"]["votes"].as_array().unwrap().len();
        assert_eq!(
            ballot["decision"]["eligibleVoters"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        match ballot["decision"]["status"].as_str().unwrap() {
            "OPEN" => {
                assert_eq!(request["status"], "AWAITING_DECISION", "{request:#}");
                assert!(votes < 3, "{request:#}");
            }
            _ => {
                assert_eq!(votes, 3, "{request:#}");
                assert_eq!(request["decidedBy"], "COMMITTEE", "{request:#}");
                assert_eq!(request["withinRedLine"], false, "{request:#}");
            }
        }
    }
    let by_status = project["changeSummary"]["byStatus"].as_array().unwrap();
    let total: i64 = by_status
        .iter()
        .map(|row| row["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 30);
    assert_eq!(
        count_of(
            &project["changeSummary"]["byStatus"],
            "status",
            "AWAITING_DECISION"
        ),
        3
    );
}

/// A hundred defects, a little over half of them open; one go-live plan with its rollback plan,
/// decided GO and frozen for a project that went live.
fn assert_consistent_quality(project: &Value, status: &str) {
    let metrics = &project["uatMetrics"];
    let all: i64 = metrics["defectsByStatus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["count"].as_i64().unwrap())
        .sum();
    assert_eq!(all, 100, "{metrics:#}");
    let open: i64 = metrics["openDefectsBySeverity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["count"].as_i64().unwrap())
        .sum();
    assert!((30..=80).contains(&open), "{metrics:#}");
    // The database's count by severity agrees with the statuses read row by row.
    let open_by_status: i64 = metrics["defectsByStatus"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| {
            matches!(
                row["status"].as_str(),
                Some("NEW" | "TRIAGED" | "ASSIGNED" | "IN_FIX" | "READY_FOR_RETEST" | "REOPENED")
            )
        })
        .map(|row| row["count"].as_i64().unwrap())
        .sum();
    assert_eq!(open, open_by_status, "{metrics:#}");
    // Every defect is graded: none is counted without a severity.
    let ungraded = metrics["openDefectsBySeverity"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["severity"].is_null());
    assert_eq!(ungraded.map(|row| row["count"].clone()), Some(json!(0)));

    let plans = project["goLivePlans"].as_array().unwrap();
    assert_eq!(plans.len(), 1);
    let plan = &plans[0];
    let rollback = &plan["rollbackPlan"];
    assert!(
        !rollback["steps"].as_array().unwrap().is_empty(),
        "{plan:#}"
    );
    assert_eq!(rollback["authorityIds"].as_array().unwrap().len(), 2);
    let went_live = matches!(status, "LIVE_HYPERCARE" | "OPTIMIZATION");
    if went_live {
        assert!(rollback["approvedBy"].is_string(), "{plan:#}");
        assert_eq!(rollback["rehearsalPassed"], true);
        assert!(
            plan["decisionSnapshot"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["holds"] == true)
        );
        let decisions = plan["decisions"].as_array().unwrap();
        assert_eq!(decisions.len(), 1);
        assert_eq!(decisions[0]["outcome"], "GO");
        assert_eq!(decisions[0]["votes"].as_array().unwrap().len(), 3);
    } else {
        assert_eq!(plan["status"], "DRAFT");
        assert!(plan["decisionSnapshot"].is_null());
        assert_eq!(plan["decisions"], json!([]));
    }
}

/// Every row of the models read by position (`service::rows`), read by position and by name
/// as sea-orm reads it. On PostgreSQL (the suite's run with `TEST_DATABASE_URL`) the positions
/// are decoded without sqlx's type check, so this holds each model's fields to the migrated
/// columns; sqlx checks a column's type only when it holds a value, so every column is first
/// made to hold one in some row (the seeds leave a few empty everywhere), and some stay NULL.
#[tokio::test]
async fn the_models_read_by_position_read_as_sea_orm_reads_them_by_name() {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, IdenStatic, Iterable, PaginatorTrait, QueryFilter, QuerySelect};
    use steerco_entity::{api_token, raci_activity, raci_assignment};
    use steerco_graphql::service::rows::{ByPosition, all_by_position};

    async fn both_ways<E>(db: &DatabaseConnection) -> usize
    where
        E: sea_orm::EntityTrait,
        E::Model: ByPosition + PartialEq + std::fmt::Debug + Sync,
    {
        let table = E::default().table_name().to_owned();
        let mut empty = Vec::new();
        for column in E::Column::iter() {
            let holding = E::find()
                .filter(column.is_not_null())
                .count(db)
                .await
                .expect("a count");
            if holding == 0 {
                empty.push(column.as_str());
            }
        }
        assert!(empty.is_empty(), "{table}: NULL in every row: {empty:?}");
        let by_name = E::find().all(db).await.expect("rows by name");
        let by_position = all_by_position(db, E::find())
            .await
            .expect("rows by position");
        assert_eq!(by_position, by_name, "{table}");
        by_name.len()
    }

    /// Sets `column` to `value` in the first row of `E` by id, leaving the others as they are.
    async fn fill<E: sea_orm::EntityTrait>(
        db: &DatabaseConnection,
        id: E::Column,
        column: E::Column,
        value: sea_orm::sea_query::SimpleExpr,
    ) {
        let first: uuid::Uuid = E::find()
            .select_only()
            .column(id)
            .order_by_asc(id)
            .into_tuple()
            .one(db)
            .await
            .expect("a row")
            .expect("the seeds write this table");
        E::update_many()
            .col_expr(column, value)
            .filter(id.eq(first))
            .exec(db)
            .await
            .expect("an update");
    }

    let app = TestApp::spawn().await;
    steerco::seed::demo(&app.state).await.unwrap();
    seed_bench(&app, 2, 42).await;
    let db = app.db();
    // Columns the seeds never fill: why a phase is blocked, a quorum (no ballot of theirs
    // counts one), a vote's conditions and proxy, a password, a request for information, and
    // a project's hold.
    fill::<phase::Entity>(
        db,
        phase::Column::Id,
        phase::Column::StatusReason,
        Expr::val("Waiting for the data owner"),
    )
    .await;
    fill::<decision::Entity>(
        db,
        decision::Column::Id,
        decision::Column::Quorum,
        Expr::val(2),
    )
    .await;
    fill::<decision_vote::Entity>(
        db,
        decision_vote::Column::Id,
        decision_vote::Column::Detail,
        Expr::val(r#"{"conditions":["a rehearsal first"]}"#),
    )
    .await;
    fill::<decision_vote::Entity>(
        db,
        decision_vote::Column::Id,
        decision_vote::Column::CastBy,
        Expr::col(decision_vote::Column::VoterId),
    )
    .await;
    fill::<user::Entity>(
        db,
        user::Column::Id,
        user::Column::PasswordHash,
        Expr::val("not a hash"),
    )
    .await;
    fill::<change_request::Entity>(
        db,
        change_request::Column::Id,
        change_request::Column::InfoRequest,
        Expr::val("Which sites go first?"),
    )
    .await;
    // Tokens: the demo seed issues one (its project manager's) and two more users' make three;
    // then the first token's expiry, revocation and last use.
    app.user("Token Holder", false).await;
    app.user("Another Token Holder", true).await;
    for column in [
        api_token::Column::ExpiresAt,
        api_token::Column::RevokedAt,
        api_token::Column::LastUsedAt,
    ] {
        let at = Expr::val(chrono::Utc::now());
        fill::<api_token::Entity>(db, api_token::Column::Id, column, at).await;
    }
    // A project's hold reason, the status it would resume to, and a decision quorum.
    for (column, value) in [
        (project::Column::StatusReason, Expr::val("Budget review")),
        (project::Column::StatusBeforeHold, Expr::val("IN_EXECUTION")),
        (project::Column::DecisionQuorum, Expr::val(2)),
    ] {
        fill::<project::Entity>(db, project::Column::Id, column, value).await;
    }
    let read = [
        ("phase", both_ways::<phase::Entity>(db).await),
        ("milestone", both_ways::<milestone::Entity>(db).await),
        (
            "raci_activity",
            both_ways::<raci_activity::Entity>(db).await,
        ),
        (
            "raci_assignment",
            both_ways::<raci_assignment::Entity>(db).await,
        ),
        ("decision", both_ways::<decision::Entity>(db).await),
        (
            "decision_vote",
            both_ways::<decision_vote::Entity>(db).await,
        ),
        ("user", both_ways::<user::Entity>(db).await),
        (
            "change_request",
            both_ways::<change_request::Entity>(db).await,
        ),
        ("project", both_ways::<project::Entity>(db).await),
        (
            "project_member",
            both_ways::<project_member::Entity>(db).await,
        ),
        ("api_token", both_ways::<api_token::Entity>(db).await),
    ];
    for (table, rows) in read {
        assert!(rows >= 3, "{table}: {rows} rows");
    }
}
