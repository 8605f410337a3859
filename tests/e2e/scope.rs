//! Scope statements: drafting, sign-off, rejection, immutability, versions and their diff.

use serde_json::{Value, json};

use crate::support::{TestApp, TestUser, assert_refused, user_errors};

pub const VERSION: &str =
    "scope { id number status version objectives { id text } inScope { id category text }
    signatories { user { email } signedAt } rejectionComment basedOnId supersededById }";

pub struct Team {
    pub pm: TestUser,
    pub sponsor: TestUser,
    pub business: TestUser,
    pub it: TestUser,
    pub project: String,
}

pub async fn team(app: &TestApp) -> Team {
    let pm = app.user("Anna Berg", false).await;
    let project = app.project(&pm, "CRM-1").await;
    let sponsor = app.user("Zhang Wei", false).await;
    app.add_member(&pm, &project, &sponsor, &["SPONSOR"]).await;
    let business = app.user("Lin Mei", false).await;
    app.add_member(&pm, &project, &business, &["BUSINESS_REP"])
        .await;
    let it = app.user("Raj Patel", false).await;
    app.add_member(&pm, &project, &it, &["IT_REP"]).await;
    Team {
        pm,
        sponsor,
        business,
        it,
        project,
    }
}

async fn draft(app: &TestApp, team: &Team) -> Value {
    let data = app
        .ok(&team.pm, &format!("mutation($p: ID!) {{ scopeDraftCreate(input: {{ projectId: $p }}) {{ {VERSION} userErrors {{ code field message }} }} }}"), json!({ "p": team.project }))
        .await;
    data["scopeDraftCreate"].clone()
}

async fn update(app: &TestApp, team: &Team, id: &Value, version: &Value, document: Value) -> Value {
    let mut input = document;
    input["id"] = id.clone();
    input["expectedVersion"] = version.clone();
    let data = app
        .ok(&team.pm, &format!("mutation($input: ScopeDraftUpdateInput!) {{ scopeDraftUpdate(input: $input) {{ {VERSION} userErrors {{ code field message currentState }} }} }}"), json!({ "input": input }))
        .await;
    data["scopeDraftUpdate"].clone()
}

async fn submit(app: &TestApp, team: &Team, scope: &Value, signatories: Vec<&str>) -> Value {
    let data = app
        .ok(&team.pm, &format!("mutation($id: ID!, $v: Int!, $s: [ID!]!) {{ scopeReviewSubmit(input: {{ id: $id, expectedVersion: $v, signatoryIds: $s }}) {{ {VERSION} userErrors {{ code field message }} }} }}"), json!({ "id": scope["id"], "v": scope["version"], "s": signatories }))
        .await;
    data["scopeReviewSubmit"].clone()
}

async fn sign(app: &TestApp, who: &TestUser, id: &Value) -> Value {
    let data = app
        .ok(who, &format!("mutation($id: ID!) {{ scopeSign(input: {{ id: $id }}) {{ {VERSION} userErrors {{ code field message }} }} }}"), json!({ "id": id }))
        .await;
    data["scopeSign"].clone()
}

fn first_document() -> Value {
    json!({
        "objectives": [{ "text": "Raise lead conversion", "kpi": "conversion rate", "baseline": "8%", "target": "12%" }],
        "inScope": [
            { "category": "MODULE", "text": "Lead management" },
            { "category": "INTEGRATION", "text": "ERP order sync" }
        ],
        "outOfScope": [{ "category": "DEPARTMENT", "text": "Field service" }],
        "acceptanceCriteria": [{ "text": "Core processes pass UAT" }]
    })
}

/// Drafts the next version with `document` and sends it to the sponsor and the business for
/// review; returns the submit payload.
async fn send_for_review(app: &TestApp, team: &Team, document: Value) -> Value {
    let draft = draft(app, team).await;
    let filled = update(
        app,
        team,
        &draft["scope"]["id"],
        &draft["scope"]["version"],
        document,
    )
    .await;
    submit(
        app,
        team,
        &filled["scope"],
        vec![&team.sponsor.id, &team.business.id],
    )
    .await
}

/// Drafts, fills, submits and signs the first baseline; returns it.
pub async fn baseline(app: &TestApp, team: &Team) -> Value {
    let review = send_for_review(app, team, first_document()).await;
    sign(app, &team.sponsor, &review["scope"]["id"]).await;
    sign(app, &team.business, &review["scope"]["id"]).await["scope"].clone()
}

#[tokio::test]
async fn a_scope_is_baselined_the_moment_every_signatory_signs() {
    let app = TestApp::spawn().await;
    let team = team(&app).await;
    let draft = draft(&app, &team).await;
    assert_eq!(draft["scope"]["status"], "DRAFT");
    assert_eq!(draft["scope"]["number"], 1);

    // An empty in-scope list cannot go to review.
    let review = submit(
        &app,
        &team,
        &draft["scope"],
        vec![&team.sponsor.id, &team.business.id],
    )
    .await;
    assert_refused(&review, "PRECONDITION_FAILED", &["input", "inScope"]);
    assert_refused(&review, "PRECONDITION_FAILED", &["input", "objectives"]);

    let filled = update(
        &app,
        &team,
        &draft["scope"]["id"],
        &draft["scope"]["version"],
        first_document(),
    )
    .await;
    assert_eq!(filled["userErrors"], json!([]), "{filled}");
    assert_eq!(filled["scope"]["inScope"].as_array().unwrap().len(), 2);

    // The signatories need a sponsor and a business representative, all members.
    let refused = submit(
        &app,
        &team,
        &filled["scope"],
        vec![&team.sponsor.id, &team.it.id],
    )
    .await;
    assert_refused(&refused, "BAD_USER_INPUT", &["input", "signatoryIds"]);
    let outsider = app.user("Out Sider", false).await;
    let refused = submit(
        &app,
        &team,
        &filled["scope"],
        vec![&team.sponsor.id, &team.business.id, &outsider.id],
    )
    .await;
    assert!(!user_errors(&refused).is_empty());

    let review = submit(
        &app,
        &team,
        &filled["scope"],
        vec![&team.sponsor.id, &team.business.id],
    )
    .await;
    assert_eq!(review["scope"]["status"], "IN_REVIEW");
    let id = review["scope"]["id"].clone();
    let refused = sign(&app, &team.it, &id).await;
    assert_refused(&refused, "NOT_ELIGIBLE", &["input", "id"]);
    let signed = sign(&app, &team.sponsor, &id).await;
    assert_eq!(signed["scope"]["status"], "IN_REVIEW");
    let twice = sign(&app, &team.sponsor, &id).await;
    assert_refused(&twice, "CONFLICT", &["input", "id"]);
    let done = sign(&app, &team.business, &id).await;
    assert_eq!(done["scope"]["status"], "BASELINED");
    assert!(
        done["scope"]["signatories"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["signedAt"].is_string())
    );

    // A baseline is immutable.
    let before = app.snapshot().await;
    let edit = update(
        &app,
        &team,
        &id,
        &done["scope"]["version"],
        first_document(),
    )
    .await;
    assert_eq!(
        edit["userErrors"][0]["code"], "INVALID_TRANSITION",
        "{edit}"
    );
    assert_eq!(edit["userErrors"][0]["currentState"], "BASELINED", "{edit}");
    assert_eq!(app.snapshot().await, before);
    let data = app
        .ok(
            &team.pm,
            &format!("query($p: ID!) {{ project(id: $p) {{ {VERSION} }} }}"),
            json!({ "p": team.project }),
        )
        .await;
    assert_eq!(data["project"]["scope"]["number"], 1);
}

#[tokio::test]
async fn a_rejection_returns_the_draft_and_clears_signatures() {
    let app = TestApp::spawn().await;
    let team = team(&app).await;
    let review = send_for_review(&app, &team, first_document()).await;
    let id = review["scope"]["id"].clone();
    sign(&app, &team.sponsor, &id).await;
    let reject = "mutation($id: ID!, $c: String!) { scopeReject(input: { id: $id, comment: $c }) { scope { status version rejectionComment signatories { user { email } } } userErrors { code field } } }";
    let data = app
        .ok(&team.business, reject, json!({ "id": id, "c": "  " }))
        .await;
    assert_refused(
        &data["scopeReject"],
        "BAD_USER_INPUT",
        &["input", "comment"],
    );
    let data = app
        .ok(
            &team.business,
            reject,
            json!({ "id": id, "c": "Service tickets are missing" }),
        )
        .await;
    let rejected = &data["scopeReject"]["scope"];
    assert_eq!(rejected["status"], "DRAFT");
    assert_eq!(rejected["rejectionComment"], "Service tickets are missing");
    assert_eq!(rejected["signatories"], json!([]));
    // Resubmitted and signed by both, it is baselined.
    let review = submit(
        &app,
        &team,
        &json!({ "id": id, "version": rejected["version"] }),
        vec![&team.sponsor.id, &team.business.id],
    )
    .await;
    assert_eq!(review["scope"]["status"], "IN_REVIEW", "{review}");
    sign(&app, &team.sponsor, &id).await;
    assert_eq!(
        sign(&app, &team.business, &id).await["scope"]["status"],
        "BASELINED"
    );
}

#[tokio::test]
async fn a_new_version_supersedes_the_baseline_and_the_diff_shows_the_change() {
    let app = TestApp::spawn().await;
    let team = team(&app).await;
    let v1 = baseline(&app, &team).await;
    assert_eq!(v1["status"], "BASELINED");
    let second = draft(&app, &team).await;
    assert_eq!(second["scope"]["number"], 2);
    assert_eq!(second["scope"]["basedOnId"], v1["id"]);
    assert_eq!(second["scope"]["inScope"], v1["inScope"]);
    let again = draft(&app, &team).await;
    assert_refused(&again, "CONFLICT", &["input", "projectId"]);

    // Keep lead management (renamed), drop the ERP sync, add ticketing.
    let kept = &v1["inScope"][0];
    let document = json!({
        "objectives": [{ "id": v1["objectives"][0]["id"], "text": "Raise lead conversion" }],
        "inScope": [
            { "id": kept["id"], "category": "MODULE", "text": "Lead and opportunity management" },
            { "category": "PROCESS", "text": "Service ticketing" }
        ]
    });
    let changed = update(
        &app,
        &team,
        &second["scope"]["id"],
        &second["scope"]["version"],
        document,
    )
    .await;
    assert_eq!(changed["userErrors"], json!([]), "{changed}");
    let bogus = json!({ "inScope": [{ "id": "00000000-0000-0000-0000-000000000001", "category": "MODULE", "text": "x" }], "objectives": [] });
    let refused = update(
        &app,
        &team,
        &second["scope"]["id"],
        &changed["scope"]["version"],
        bogus,
    )
    .await;
    assert_refused(&refused, "NOT_FOUND", &["input", "inScope", "0", "id"]);

    let review = submit(
        &app,
        &team,
        &changed["scope"],
        vec![&team.sponsor.id, &team.business.id],
    )
    .await;
    let v2 = review["scope"]["id"].clone();
    let diff = app
        .ok(&team.pm, "query($a: ID!, $b: ID!) { scopeDiff(fromId: $a, toId: $b) { section change before after } }", json!({ "a": v1["id"], "b": v2 }))
        .await;
    let rows = diff["scopeDiff"].as_array().unwrap();
    let kinds: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["section"].as_str().unwrap().to_owned(),
                r["change"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("inScope".into(), "CHANGED".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("inScope".into(), "ADDED".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("inScope".into(), "REMOVED".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("outOfScope".into(), "REMOVED".into())),
        "{kinds:?}"
    );

    sign(&app, &team.sponsor, &v2).await;
    sign(&app, &team.business, &v2).await;
    let data = app.ok(&team.pm, "query($p: ID!) { project(id: $p) { scope { number } scopeVersions { number status supersededById } } }", json!({ "p": team.project })).await;
    assert_eq!(data["project"]["scope"]["number"], 2);
    let versions = data["project"]["scopeVersions"].as_array().unwrap();
    assert_eq!(versions[0]["status"], "SUPERSEDED");
    assert_eq!(versions[0]["supersededById"], v2);
    assert_eq!(versions[1]["status"], "BASELINED");
}

#[tokio::test]
async fn bad_scope_input_is_refused_field_by_field() {
    let app = TestApp::spawn().await;
    let team = team(&app).await;
    let draft = draft(&app, &team).await;
    let before = app.snapshot().await;
    let document = json!({
        "objectives": [{ "text": "" }],
        "inScope": [{ "category": "MODULE", "text": "Leads" }, { "category": "MODULE", "text": "Leads" }],
    });
    let refused = update(
        &app,
        &team,
        &draft["scope"]["id"],
        &draft["scope"]["version"],
        document,
    )
    .await;
    let errors = user_errors(&refused);
    assert!(
        errors.contains(&(
            "BAD_USER_INPUT".into(),
            vec![
                "input".into(),
                "objectives".into(),
                "0".into(),
                "text".into()
            ]
        )),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|(code, field)| code == "BAD_USER_INPUT"
            && field.get(1).map(String::as_str) == Some("inScope")),
        "{errors:?}"
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn once_initiated_a_project_changes_its_in_scope_items_only_through_a_change_request() {
    let app = TestApp::spawn().await;
    let team = team(&app).await;
    let v1 = baseline(&app, &team).await;
    let with_ticketing = || {
        let mut document = first_document();
        document["inScope"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "category": "PROCESS", "text": "Service ticketing" }));
        document
    };

    // Version 2 adds ticketing and goes for review while the project is still proposed; then
    // the project is initiated on version 1.
    let review = send_for_review(&app, &team, with_ticketing()).await;
    assert_eq!(review["userErrors"], json!([]), "{review}");
    let v2 = review["scope"]["id"].clone();
    let initiated = app
        .ok(&team.pm, "mutation($id: ID!) { projectTransition(input: { id: $id, action: INITIATE }) { project { status } userErrors { code message } } }", json!({ "id": team.project }))
        .await;
    assert_eq!(
        initiated["projectTransition"]["project"]["status"], "INITIATED",
        "{initiated}"
    );

    // It can no longer become the baseline, so it takes no more signatures: refused, nothing
    // written.
    let audit_before = app.count("audit_event").await;
    let refused = sign(&app, &team.sponsor, &v2).await;
    assert_refused(&refused, "PRECONDITION_FAILED", &["input", "id"]);
    let message = refused["userErrors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("in-scope items change only through a change request")
            && message.contains("adds \"Service ticketing\""),
        "{message}"
    );
    assert_eq!(app.count("audit_event").await, audit_before);
    let data = app
        .ok(&team.pm, "query($p: ID!) { project(id: $p) { scope { id } scopeVersions { status signatories { user { email } signedAt } } } }", json!({ "p": team.project }))
        .await;
    assert_eq!(data["project"]["scope"]["id"], v1["id"]);
    let versions = &data["project"]["scopeVersions"];
    assert_eq!(versions[1]["status"], "IN_REVIEW");
    assert_eq!(
        versions[1]["signatories"][0],
        json!({ "user": { "email": team.sponsor.email }, "signedAt": null })
    );

    // The business rejects it; sent again as it was, it is refused at review, on the items.
    let reject = "mutation($id: ID!, $c: String!) { scopeReject(input: { id: $id, comment: $c }) { scope { version } userErrors { code } } }";
    let rejected = app
        .ok(
            &team.business,
            reject,
            json!({ "id": v2, "c": "Ticketing needs a change request" }),
        )
        .await;
    assert_eq!(rejected["scopeReject"]["userErrors"], json!([]));
    let draft_version = rejected["scopeReject"]["scope"]["version"].clone();
    let again = submit(
        &app,
        &team,
        &json!({ "id": v2, "version": draft_version }),
        vec![&team.sponsor.id, &team.business.id],
    )
    .await;
    assert_refused(&again, "PRECONDITION_FAILED", &["input", "inScope"]);
    assert_eq!(user_errors(&again).len(), 1, "{again}");
    // Dropping an item, or rewording one, is as much a change of scope.
    let mut narrowed = first_document();
    narrowed["inScope"][1]["text"] = json!("ERP order and invoice sync");
    let narrowed = update(&app, &team, &v2, &draft_version, narrowed).await;
    assert_eq!(narrowed["userErrors"], json!([]), "{narrowed}");
    let again = submit(
        &app,
        &team,
        &narrowed["scope"],
        vec![&team.sponsor.id, &team.business.id],
    )
    .await;
    let message = again["userErrors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("adds \"ERP order and invoice sync\" and drops \"ERP order sync\""),
        "{message}"
    );

    // A version that refines the objective and keeps what is delivered is signed as before.
    let mut refined = first_document();
    refined["objectives"][0]["target"] = json!("15%");
    refined["inScope"] = json!([
        { "category": "INTEGRATION", "text": "ERP order sync" },
        { "category": "PROCESS", "text": "lead management" }
    ]);
    let refined = update(&app, &team, &v2, &narrowed["scope"]["version"], refined).await;
    let review = submit(
        &app,
        &team,
        &refined["scope"],
        vec![&team.sponsor.id, &team.business.id],
    )
    .await;
    assert_eq!(review["userErrors"], json!([]), "{review}");
    sign(&app, &team.sponsor, &v2).await;
    let signed = sign(&app, &team.business, &v2).await;
    assert_eq!(signed["scope"]["status"], "BASELINED", "{signed}");
}
