//! `seed demo` builds a usable project, and a second run changes nothing.

use serde_json::json;

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
    assert_eq!(changes, vec![("inScope", "ADDED"), ("inScope", "REMOVED")]);
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
