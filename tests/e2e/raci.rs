//! The RACI matrix: seeding from the template, the rules, and what they block.

use serde_json::{Value, json};

use crate::phases::{GATE, complete_gate_items, plan};
use crate::support::{TestApp, TestUser, assert_refused, error_code, user_errors};

const MATRIX: &str = "query($p: ID!) { raciMatrix(projectId: $p) { valid
    activities { id name accountable { email } responsible { email } consulted { email } informed { email } violations { rule } }
    violations { activityName rule message } } }";
const ASSIGN: &str = "mutation($a: ID!, $u: ID!, $l: RaciLetter!) { raciAssign(input: { activityId: $a, userId: $u, letter: $l }) {
    activity { accountable { email } responsible { email } violations { rule } } userErrors { code field message } } }";

async fn add_activity(
    app: &TestApp,
    pm: &TestUser,
    project: &str,
    name: &str,
    phase: Option<&str>,
) -> String {
    let data = app
        .ok(pm, "mutation($p: ID!, $n: String!, $ph: ID) { raciActivityAdd(input: { projectId: $p, name: $n, phaseId: $ph }) { activity { id } userErrors { code field } } }", json!({ "p": project, "n": name, "ph": phase }))
        .await;
    data["raciActivityAdd"]["activity"]["id"]
        .as_str()
        .expect("activity")
        .to_owned()
}

fn emails(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_template_seeds_a_valid_matrix_from_project_roles() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let project = app.project(&pm, "CRM-1").await;
    let people = [
        ("Zhang Wei", "SPONSOR"),
        ("Lena Fischer", "STEERING_COMMITTEE"),
        ("Lin Mei", "BUSINESS_REP"),
        ("Raj Patel", "IT_REP"),
        ("Ola Nord", "FINANCE_REP"),
        ("Sofia Rossi", "QA"),
        ("Kim Lee", "SUPER_USER"),
        ("North Wind", "VENDOR"),
    ];
    let mut users = std::collections::HashMap::new();
    for (name, role) in people {
        let user = app.user(name, false).await;
        app.add_member(&pm, &project, &user, &[role]).await;
        users.insert(role, user);
    }
    let data = app.ok(&pm, "mutation($p: ID!) { raciSeed(input: { projectId: $p }) { activities { name } userErrors { code } } }", json!({ "p": project })).await;
    assert_eq!(data["raciSeed"]["activities"].as_array().unwrap().len(), 18);
    let data = app.ok(&pm, MATRIX, json!({ "p": project })).await;
    let matrix = &data["raciMatrix"];
    assert_eq!(matrix["valid"], true, "{matrix}");
    let approval = matrix["activities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"].as_str().unwrap().contains("approval"))
        .expect("CR approval");
    assert_eq!(
        approval["accountable"]["email"],
        users["STEERING_COMMITTEE"].email
    );
    // Seeding twice is refused.
    let data = app.ok(&pm, "mutation($p: ID!) { raciSeed(input: { projectId: $p }) { userErrors { code field } } }", json!({ "p": project })).await;
    assert_refused(&data["raciSeed"], "CONFLICT", &["input", "projectId"]);
    // The person's own view across projects.
    let data = app
        .ok(
            &users["SPONSOR"],
            "{ me { raci { activityName letter } } }",
            json!({}),
        )
        .await;
    assert!(
        data["me"]["raci"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["letter"] == "ACCOUNTABLE")
    );
}

#[tokio::test]
async fn the_rules_hold_one_accountable_and_report_violations() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let activity = add_activity(&app, &plan.pm, &plan.project, "Data migration", None).await;
    let data = app.ok(&plan.pm, MATRIX, json!({ "p": plan.project })).await;
    let rules: Vec<&str> = data["raciMatrix"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, vec!["NO_ACCOUNTABLE", "NO_RESPONSIBLE"]);

    let data = app
        .ok(
            &plan.pm,
            ASSIGN,
            json!({ "a": activity, "u": plan.pm.id, "l": "ACCOUNTABLE" }),
        )
        .await;
    assert_eq!(
        data["raciAssign"]["activity"]["accountable"]["email"],
        plan.pm.email
    );
    let outsider = app.user("Out Sider", false).await;
    let before = app.snapshot().await;
    let data = app
        .ok(
            &plan.pm,
            ASSIGN,
            json!({ "a": activity, "u": plan.qa.id, "l": "ACCOUNTABLE" }),
        )
        .await;
    assert_refused(&data["raciAssign"], "CONFLICT", &["input", "letter"]);
    assert!(
        data["raciAssign"]["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains(&plan.pm.email)
    );
    let data = app
        .ok(
            &plan.pm,
            ASSIGN,
            json!({ "a": activity, "u": outsider.id, "l": "RESPONSIBLE" }),
        )
        .await;
    assert_refused(&data["raciAssign"], "BAD_USER_INPUT", &["input", "userId"]);
    let data = app
        .ok(
            &plan.pm,
            ASSIGN,
            json!({ "a": plan.project, "u": plan.qa.id, "l": "RESPONSIBLE" }),
        )
        .await;
    assert_refused(
        &data["raciAssign"],
        "BAD_USER_INPUT",
        &["input", "activityId"],
    );
    assert_eq!(app.snapshot().await, before);

    let data = app
        .ok(
            &plan.pm,
            ASSIGN,
            json!({ "a": activity, "u": plan.qa.id, "l": "RESPONSIBLE" }),
        )
        .await;
    assert_eq!(data["raciAssign"]["activity"]["violations"], json!([]));
    assert_eq!(
        emails(&data["raciAssign"]["activity"]["responsible"]),
        vec![plan.qa.email.clone()]
    );
    let data = app
        .ok(
            &plan.pm,
            "query($a: ID!) { raci(activityId: $a) { name accountable { email } } }",
            json!({ "a": activity }),
        )
        .await;
    assert_eq!(data["raci"]["accountable"]["email"], plan.pm.email);

    // The only R cannot leave the project.
    let members = app
        .ok(
            &plan.pm,
            "query($p: ID!) { project(id: $p) { members { id user { email } } } }",
            json!({ "p": plan.project }),
        )
        .await;
    let qa_member = members["project"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["email"] == plan.qa.email.as_str())
        .unwrap()["id"]
        .clone();
    let data = app.ok(&plan.pm, "mutation($id: ID!) { projectMemberRemove(input: { id: $id }) { userErrors { code field message } } }", json!({ "id": qa_member })).await;
    assert_refused(
        &data["projectMemberRemove"],
        "PRECONDITION_FAILED",
        &["input", "id"],
    );
    assert!(
        data["projectMemberRemove"]["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Data migration")
    );
}

#[tokio::test]
async fn a_phase_gate_waits_for_a_valid_raci_of_its_activities() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let first = &plan.phases[0];
    add_activity(
        &app,
        &plan.pm,
        &plan.project,
        "Requirements sign-off",
        Some(first),
    )
    .await;
    crate::phases::start_phase(&app, &plan.pm, first).await;
    complete_gate_items(&app, &plan.pm, first).await;
    let data = app.ok(&plan.pm, GATE, json!({ "id": first })).await;
    let errors = user_errors(&data["phaseGateRequest"]);
    assert_eq!(errors.len(), 2, "{data}");
    let messages: Vec<&str> = data["phaseGateRequest"]["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.iter().all(|m| m.contains("Requirements sign-off")),
        "{messages:?}"
    );
}

#[tokio::test]
async fn only_the_project_manager_edits_the_matrix() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let activity = add_activity(&app, &plan.pm, &plan.project, "Training", None).await;
    let response = app
        .gql(
            Some(&plan.qa.token),
            ASSIGN,
            json!({ "a": activity, "u": plan.qa.id, "l": "RESPONSIBLE" }),
        )
        .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"));
    let outsider = app.user("Out Sider", false).await;
    let data = app
        .ok(
            &outsider,
            ASSIGN,
            json!({ "a": activity, "u": outsider.id, "l": "RESPONSIBLE" }),
        )
        .await;
    assert_refused(&data["raciAssign"], "NOT_FOUND", &["input", "activityId"]);
    let data = app
        .ok(&outsider, MATRIX, json!({ "p": plan.project }))
        .await;
    assert!(data["raciMatrix"].is_null());
}

#[tokio::test]
async fn a_holder_no_longer_active_is_still_named_beside_the_active_ones() {
    let app = TestApp::spawn().await;
    let plan = plan(&app).await;
    let (consulted, informed) = (&plan.committee[0], &plan.committee[1]);
    let activity = add_activity(&app, &plan.pm, &plan.project, "Cutover", None).await;
    for (who, letter) in [
        (&plan.pm, "ACCOUNTABLE"),
        (&plan.qa, "RESPONSIBLE"),
        (consulted, "CONSULTED"),
        (informed, "INFORMED"),
    ] {
        let data = app
            .ok(
                &plan.pm,
                ASSIGN,
                json!({ "a": activity, "u": who.id, "l": letter }),
            )
            .await;
        assert!(user_errors(&data["raciAssign"]).is_empty(), "{data}");
    }
    // The responsible person is deactivated (no operation does that yet): the rules flag
    // them, and the matrix still names them.
    app.set_active(&plan.qa, false).await;

    let data = app
        .ok(
            &plan.pm,
            "query($p: ID!) { raciMatrix(projectId: $p) { activities {
                name responsible { email } consulted { email } informed { email }
                assignments { letter user { id email name } } violations { rule } } } }",
            json!({ "p": plan.project }),
        )
        .await;
    let cutover = &data["raciMatrix"]["activities"][0];
    assert_eq!(cutover["name"], "Cutover");
    let named: Vec<(&str, &str, &str, &str)> = cutover["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["letter"].as_str().unwrap(),
                a["user"]["id"].as_str().unwrap(),
                a["user"]["email"].as_str().unwrap(),
                a["user"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        named,
        vec![
            (
                "ACCOUNTABLE",
                plan.pm.id.as_str(),
                plan.pm.email.as_str(),
                "Anna Berg"
            ),
            (
                "RESPONSIBLE",
                plan.qa.id.as_str(),
                plan.qa.email.as_str(),
                "Sofia Rossi"
            ),
            (
                "CONSULTED",
                consulted.id.as_str(),
                consulted.email.as_str(),
                "Zhang Wei"
            ),
            (
                "INFORMED",
                informed.id.as_str(),
                informed.email.as_str(),
                "Lena Fischer"
            ),
        ]
    );
    assert_eq!(emails(&cutover["responsible"]), vec![plan.qa.email.clone()]);
    assert_eq!(emails(&cutover["consulted"]), vec![consulted.email.clone()]);
    assert_eq!(emails(&cutover["informed"]), vec![informed.email.clone()]);
    assert_eq!(
        cutover["violations"],
        json!([{ "rule": "INACTIVE_HOLDER" }])
    );
}

#[tokio::test]
async fn an_activity_is_renamed_but_never_to_another_activitys_name() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    let project = app.project(&pm, "CRM-RN").await;
    let training = add_activity(&app, &pm, &project, "Training", None).await;
    add_activity(&app, &pm, &project, "Data migration", None).await;
    const RENAME: &str = "mutation($id: ID!, $v: Int!, $n: String!) { raciActivityUpdate(input: { id: $id, expectedVersion: $v, name: $n }) { activity { name version } userErrors { code field message } } }";
    let before = app.snapshot().await;
    let refused = app
        .ok(
            &pm,
            RENAME,
            json!({ "id": training, "v": 1, "n": "DATA MIGRATION" }),
        )
        .await;
    assert_refused(
        &refused["raciActivityUpdate"],
        "CONFLICT",
        &["input", "name"],
    );
    assert_eq!(app.snapshot().await, before);
    // Its own name, in another case, is no clash.
    let renamed = app
        .ok(
            &pm,
            RENAME,
            json!({ "id": training, "v": 1, "n": "TRAINING" }),
        )
        .await;
    assert_eq!(
        renamed["raciActivityUpdate"]["activity"],
        json!({ "name": "TRAINING", "version": 2 }),
        "{renamed}"
    );
}
