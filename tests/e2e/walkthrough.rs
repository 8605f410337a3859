//! A project manager takes a project from its first phase to its last through committee
//! gate decisions, with a slipping milestone and a re-baseline shown by comparison.

use serde_json::json;

use crate::phases::{GATE, complete_gate_items, phase, vote};
use crate::support::TestApp;

#[tokio::test]
async fn a_project_walks_through_every_gate_to_its_last_phase() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let data = app
        .ok(&pm, "mutation { projectCreate(input: { code: \"CRM-WALK\", name: \"Walk\", template: FIVE_PHASE }) { project { id phases { id } } } }", json!({}))
        .await;
    let project = data["projectCreate"]["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let phases: Vec<String> = data["projectCreate"]["project"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    let mut committee = Vec::new();
    for name in ["Zhang Wei", "Lena Fischer", "Omar Haddad"] {
        let member = app.user(name, false).await;
        app.add_member(&pm, &project, &member, &["STEERING_COMMITTEE"])
            .await;
        committee.push(member);
    }
    let mut milestones = Vec::new();
    for (n, phase_id) in phases.iter().enumerate() {
        let data = app
            .ok(&pm, "mutation($p: ID!, $d: NaiveDate!) { milestoneCreate(input: { phaseId: $p, name: \"Exit\", baselineDate: $d }) { milestone { id version } } }", json!({ "p": phase_id, "d": format!("2027-0{}-15", n + 3) }))
            .await;
        milestones.push(data["milestoneCreate"]["milestone"].clone());
    }
    let create = "mutation($p: ID!, $r: String!) { scheduleBaselineCreate(input: { projectId: $p, reason: $r }) { baseline { id } decision { id } } }";
    let data = app
        .ok(&pm, create, json!({ "p": project, "r": "Kick-off plan" }))
        .await;
    let v1 = data["scheduleBaselineCreate"]["baseline"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The third phase's exit slips a week.
    let slipped = app
        .ok(&pm, "mutation($id: ID!, $v: Int!) { milestoneUpdate(input: { id: $id, expectedVersion: $v, forecastDate: \"2027-05-22\" }) { milestone { slipDays } } }", json!({ "id": milestones[2]["id"], "v": milestones[2]["version"] }))
        .await;
    assert_eq!(slipped["milestoneUpdate"]["milestone"]["slipDays"], 7);

    crate::phases::start_phase(&app, &pm, &phases[0]).await;
    for (n, phase_id) in phases.iter().enumerate() {
        assert_eq!(
            phase(&app, &pm, phase_id).await["status"],
            "IN_PROGRESS",
            "phase {n}"
        );
        complete_gate_items(&app, &pm, phase_id).await;
        let data = app.ok(&pm, GATE, json!({ "id": phase_id })).await;
        assert_eq!(
            data["phaseGateRequest"]["userErrors"],
            json!([]),
            "phase {n}: {data}"
        );
        let decision = data["phaseGateRequest"]["decision"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        vote(&app, &committee[0], &decision, json!({ "choice": "GO" })).await;
        let decided = vote(&app, &committee[2], &decision, json!({ "choice": "GO" })).await;
        assert_eq!(decided["decision"]["outcome"], "GO");
        assert_eq!(
            phase(&app, &pm, phase_id).await["status"],
            "COMPLETED",
            "phase {n}"
        );
    }

    // The committee accepts the slip into a second baseline; the comparison shows it.
    let data = app
        .ok(
            &pm,
            create,
            json!({ "p": project, "r": "Accept the integration delay" }),
        )
        .await;
    let ballot = data["scheduleBaselineCreate"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    vote(&app, &committee[1], &ballot, json!({ "choice": "APPROVE" })).await;
    vote(&app, &committee[2], &ballot, json!({ "choice": "APPROVE" })).await;
    let data = app.ok(&pm, "query($p: ID!) { project(id: $p) { scheduleBaselines { id number } scheduleHealth { currentPhase { id } } } }", json!({ "p": project })).await;
    let v2 = data["project"]["scheduleBaselines"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(data["project"]["scheduleHealth"]["currentPhase"].is_null());
    let data = app
        .ok(
            &pm,
            "query($a: ID!, $b: ID!) { baselineCompare(fromId: $a, toId: $b) { varianceDays } }",
            json!({ "a": v1, "b": v2 }),
        )
        .await;
    let variances: Vec<i64> = data["baselineCompare"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["varianceDays"].as_i64().unwrap())
        .collect();
    assert_eq!(
        variances.iter().filter(|d| **d == 7).count(),
        1,
        "{variances:?}"
    );
    assert_eq!(
        variances.iter().filter(|d| **d == 0).count(),
        4,
        "{variances:?}"
    );
}
