//! Email notifications end to end: the routing table at a real SMTP server, languages,
//! delivery faults (421, 550, an SMTP outage, a worker that dies mid-send, two workers on one
//! database), preferences and digests, reminders, unsubscribe links and live events.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Duration as Days;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use steerco_entity::{digest_item, notification};
use steerco_graphql::domain::clock::Clock;
use steerco_graphql::domain::notification::NotificationClass;
use steerco_graphql::service::outbox;

use crate::change_requests::{act, assess};
use crate::phases::{GATE, ballot_status, complete_gate_items, vote};
use crate::smtp::ReceivedMail;
use crate::support::{Mail, TestApp, TestUser, error_code};

struct Team {
    pm: TestUser,
    /// Reads Chinese.
    chair: TestUser,
    member: TestUser,
    qa: TestUser,
    dev: TestUser,
    /// Informed (RACI I) on the requirements activity, and owner of its phase.
    informed: TestUser,
    project: String,
    phase: String,
}

async fn team(app: &TestApp) -> Team {
    let pm = app.user("Anna Berg", false).await;
    let data = app
        .ok(&pm, "mutation { projectCreate(input: { code: \"CRM-MAIL\", name: \"CRM rollout\", template: null, budget: { amount: \"1000000\", currency: \"CNY\" } }) { project { id } } }", json!({}))
        .await;
    let project = data["projectCreate"]["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let chair = app.user_speaking("Zhang Wei", false, "zh-CN").await;
    let member = app.user("Lena Fischer", false).await;
    for who in [&chair, &member] {
        app.add_member(&pm, &project, who, &["STEERING_COMMITTEE"])
            .await;
    }
    let qa = app.user("Sofia Rossi", false).await;
    app.add_member(&pm, &project, &qa, &["QA"]).await;
    let dev = app.user("Raj Patel", false).await;
    app.add_member(&pm, &project, &dev, &["VENDOR"]).await;
    let informed = app.user("Mei Lin", false).await;
    app.add_member(&pm, &project, &informed, &["BUSINESS_REP"])
        .await;
    let data = app
        .ok(&pm, "mutation($p: ID!, $owner: ID!) { phaseCreate(input: { projectId: $p, name: \"Requirements\", ownerId: $owner }) { phase { id } } }", json!({ "p": project, "owner": informed.id }))
        .await;
    let phase = data["phaseCreate"]["phase"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok(&pm, "mutation($p: ID!) { exitCriterionAdd(input: { phaseId: $p, text: \"Signed off\" }) { userErrors { code } } }", json!({ "p": phase })).await;
    app.ok(&pm, "mutation($p: ID!) { milestoneCreate(input: { phaseId: $p, name: \"Requirements signed\", baselineDate: \"2027-04-01\" }) { userErrors { code } } }", json!({ "p": phase })).await;
    app.ok(&pm, "mutation($p: ID!) { scheduleBaselineCreate(input: { projectId: $p, reason: \"Plan\" }) { userErrors { code } } }", json!({ "p": project })).await;
    let data = app
        .ok(&pm, "mutation($p: ID!, $ph: ID!) { raciActivityAdd(input: { projectId: $p, name: \"Gather requirements\", phaseId: $ph }) { activity { id } userErrors { code message } } }", json!({ "p": project, "ph": phase }))
        .await;
    let activity = data["raciActivityAdd"]["activity"]["id"].clone();
    for (who, letter) in [
        (&pm, "ACCOUNTABLE"),
        (&dev, "RESPONSIBLE"),
        (&informed, "INFORMED"),
    ] {
        let assigned = app
            .ok(&pm, "mutation($a: ID!, $u: ID!, $l: RaciLetter!) { raciAssign(input: { activityId: $a, userId: $u, letter: $l }) { userErrors { code message } } }", json!({ "a": activity, "u": who.id, "l": letter }))
            .await;
        assert_eq!(
            assigned["raciAssign"]["userErrors"],
            json!([]),
            "{assigned}"
        );
    }
    Team {
        pm,
        chair,
        member,
        qa,
        dev,
        informed,
        project,
        phase,
    }
}

fn got(pairs: &[(&TestUser, &str)]) -> Vec<(String, String)> {
    let mut expected: Vec<(String, String)> = pairs
        .iter()
        .map(|(who, kind)| (who.email.clone(), (*kind).to_owned()))
        .collect();
    expected.sort();
    expected
}

/// Delivers what is due and returns what arrived since the last call.
async fn step(mail: &Mail, seen: &mut usize) -> Vec<(String, String)> {
    mail.deliver().await;
    let arrived = mail.since(*seen);
    *seen = mail.smtp.received_count();
    arrived
}

/// The last email of `kind` to `who` alone.
fn last_email(mail: &Mail, who: &TestUser, kind: &str) -> ReceivedMail {
    mail.smtp
        .received()
        .into_iter()
        .rev()
        .find(|m| {
            m.rcpt_to == [who.email.clone()] && m.header("X-Steerco-Kind").as_deref() == Some(kind)
        })
        .unwrap_or_else(|| panic!("no {kind} email to {}", who.email))
}

async fn raise(app: &TestApp, t: &Team, title: &str) -> Value {
    let data = app
        .ok(&t.qa, "mutation($p: ID!, $t: String!, $ph: ID!) { changeRequestCreate(input: { projectId: $p, title: $t, justification: \"Needed\", category: SCOPE, priority: MUST, links: { phaseId: $ph } }) { changeRequest { id } userErrors { code message } } }", json!({ "p": t.project, "t": title, "ph": t.phase }))
        .await;
    assert_eq!(
        data["changeRequestCreate"]["userErrors"],
        json!([]),
        "{data}"
    );
    data["changeRequestCreate"]["changeRequest"].clone()
}

const DEFECT_CREATE: &str = "mutation($p: ID!) { defectCreate(input: { projectId: $p, defect: { title: \"Orders lost on save\", stepsToReproduce: \"Save an order\", actualResult: \"Gone\", severity: CRITICAL, priority: P1 } }) { defect { id version } userErrors { code message } } }";

async fn defect_act(app: &TestApp, who: &TestUser, id: &Value, input: Value) {
    let mut input = input;
    input["id"] = id.clone();
    let data = app
        .ok(who, "mutation($input: DefectTransitionInput!) { defectTransition(input: $input) { userErrors { code message } } }", json!({ "input": input }))
        .await;
    assert_eq!(data["defectTransition"]["userErrors"], json!([]), "{data}");
}

#[tokio::test]
async fn a_change_request_a_gate_and_a_defect_send_exactly_the_routed_emails() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let mut seen = 0;
    assert_eq!(step(&mail, &mut seen).await, [], "setting up mails nobody");

    // Change request: submitted → the PM; decided → requester, PM, committee, Informed.
    let cr = raise(&app, &t, "Add lead scoring").await;
    act(&app, &t.qa, &cr, "SUBMIT", None).await;
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[(&t.pm, "change_request.submitted")])
    );
    act(&app, &t.pm, &cr, "START_ASSESSMENT", None).await;
    assert_eq!(step(&mail, &mut seen).await, [], "assessment started");
    // The assessment's question → the requester, who alone can answer; the answer → the PM.
    let asked = act(
        &app,
        &t.pm,
        &cr,
        "REQUEST_INFO",
        Some("Which lead fields feed the score?"),
    )
    .await;
    assert_eq!(asked["userErrors"], json!([]), "{asked}");
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[(&t.qa, "change_request.info_requested")])
    );
    let question = last_email(&mail, &t.qa, "change_request.info_requested");
    assert!(
        question
            .text_body()
            .contains("Question: Which lead fields feed the score?"),
        "{}",
        question.text_body()
    );
    assert!(
        question.header("List-Unsubscribe").is_none(),
        "an answer that is needed cannot be unsubscribed from"
    );
    let answered = act(
        &app,
        &t.qa,
        &cr,
        "PROVIDE_INFO",
        Some("Source and industry"),
    )
    .await;
    assert_eq!(answered["userErrors"], json!([]), "{answered}");
    // The answer stays with the change once the question is gone.
    let kept = app
        .ok(
            &t.pm,
            "query($id: ID!) { node(id: $id) { ... on ChangeRequest { infoRequest comments { author { name } body } } } }",
            json!({ "id": cr["id"] }),
        )
        .await;
    assert_eq!(
        kept["node"],
        json!({ "infoRequest": null, "comments": [{ "author": { "name": "Sofia Rossi" }, "body": "Source and industry" }] })
    );
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[(&t.pm, "change_request.info_provided")])
    );
    let impact = json!({
        "schedule": { "days": 1 },
        "cost": { "amount": "2000", "currency": "CNY", "budgetLine": "Config" },
        "effort": { "personDays": "2" },
        "risk": { "level": "LOW", "description": "A field" }
    });
    let assessed = assess(&app, &t.pm, &cr, impact).await;
    assert_eq!(assessed["userErrors"], json!([]), "{assessed}");
    act(&app, &t.pm, &cr, "REQUEST_DECISION", None).await;
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[(&t.qa, "change_request.awaiting_decision")])
    );
    let approved = act(&app, &t.pm, &cr, "APPROVE", Some("Small and safe")).await;
    assert_eq!(
        approved["changeRequest"]["status"], "APPROVED",
        "{approved}"
    );
    let kind = "change_request.approved";
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[
            (&t.qa, kind),
            (&t.pm, kind),
            (&t.chair, kind),
            (&t.member, kind),
            (&t.informed, kind)
        ])
    );
    let received = mail.smtp.received();
    let to_chair = received
        .iter()
        .rev()
        .find(|m| m.rcpt_to == [t.chair.email.clone()])
        .unwrap();
    assert!(to_chair.subject().starts_with("[CRM-MAIL]"));
    assert!(
        to_chair.subject().contains("变更请求"),
        "{}",
        to_chair.subject()
    );
    let to_pm = received
        .iter()
        .rev()
        .find(|m| m.rcpt_to == [t.pm.email.clone()])
        .unwrap();
    assert!(to_pm.subject().contains("CR-001"), "{}", to_pm.subject());
    assert!(to_pm.text_body().starts_with("Hello Anna Berg,"));
    assert!(to_pm.text_body().contains("http://steerco.test/objects/"));
    assert!(
        to_pm
            .header("List-Unsubscribe")
            .unwrap()
            .contains("http://steerco.test/notifications/preferences?token=")
    );

    // Carried out → the requester and, for information, the committee; closed → the
    // requester.
    for (action, kind) in [
        (
            "START_IMPLEMENTATION",
            "change_request.implementation_started",
        ),
        ("COMPLETE_IMPLEMENTATION", "change_request.implemented"),
    ] {
        let moved = act(&app, &t.pm, &cr, action, None).await;
        assert_eq!(moved["userErrors"], json!([]), "{moved}");
        assert_eq!(
            step(&mail, &mut seen).await,
            got(&[(&t.qa, kind), (&t.chair, kind), (&t.member, kind)]),
            "{action}"
        );
    }
    let closed = act(&app, &t.pm, &cr, "CLOSE", None).await;
    assert_eq!(closed["changeRequest"]["status"], "CLOSED", "{closed}");
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[(&t.qa, "change_request.closed")])
    );
    assert!(
        last_email(&mail, &t.qa, "change_request.closed")
            .subject()
            .contains("closed: CR-001 Add lead scoring"),
    );

    // Gate: requested → the committee, the phase's owner and the sponsor; the ballot → its
    // voters; each vote → the PM; decided → every member.
    let sponsor = app.user("Omar Haddad", false).await;
    app.add_member(&t.pm, &t.project, &sponsor, &["SPONSOR"])
        .await;
    crate::phases::start_phase(&app, &t.pm, &t.phase).await;
    complete_gate_items(&app, &t.pm, &t.phase).await;
    assert_eq!(step(&mail, &mut seen).await, [], "gate items mail nobody");
    let data = app.ok(&t.pm, GATE, json!({ "id": t.phase })).await;
    assert_eq!(data["phaseGateRequest"]["userErrors"], json!([]), "{data}");
    let decision = data["phaseGateRequest"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[
            (&t.chair, "decision.opened"),
            (&t.chair, "phase.gate_requested"),
            (&t.member, "decision.opened"),
            (&t.member, "phase.gate_requested"),
            (&t.informed, "phase.gate_requested"),
            (&sponsor, "phase.gate_requested"),
        ])
    );
    let ballot = mail.smtp.received();
    let vote_needed = ballot
        .iter()
        .find(|m| {
            m.rcpt_to == [t.member.email.clone()]
                && m.header("X-Steerco-Kind").as_deref() == Some("decision.opened")
        })
        .unwrap();
    assert!(
        vote_needed.header("List-Unsubscribe").is_none(),
        "a vote cannot be unsubscribed from"
    );
    let first = vote(&app, &t.chair, &decision, json!({ "choice": "GO" })).await;
    assert_eq!(first["userErrors"], json!([]), "{first}");
    let mut expected = vec![(&t.pm, "decision.vote_cast")];
    if first["decision"]["status"] == "OPEN" {
        assert_eq!(step(&mail, &mut seen).await, got(&expected));
        // The voter, who is not among the recipients, is named.
        let cast = last_email(&mail, &t.pm, "decision.vote_cast");
        assert!(
            !cast.text_body().contains("A committee member"),
            "{}",
            cast.text_body()
        );
        let second = vote(&app, &t.member, &decision, json!({ "choice": "GO" })).await;
        assert_eq!(second["decision"]["status"], "DECIDED", "{second}");
        expected = vec![(&t.pm, "decision.vote_cast")];
    }
    let everyone = [
        &t.pm,
        &t.chair,
        &t.member,
        &t.qa,
        &t.dev,
        &t.informed,
        &sponsor,
    ];
    expected.extend(everyone.iter().map(|who| (*who, "phase.gate_decided")));
    assert_eq!(step(&mail, &mut seen).await, got(&expected));

    // Defect: CRITICAL → PM and QA; assigned → assignee; ready → reporter;
    // reopened → assignee and PM.
    let data = app
        .ok(&t.qa, DEFECT_CREATE, json!({ "p": t.project }))
        .await;
    assert_eq!(data["defectCreate"]["userErrors"], json!([]), "{data}");
    let defect = data["defectCreate"]["defect"]["id"].clone();
    assert_eq!(step(&mail, &mut seen).await, critical_defect_emails(&t));
    // The reporter is named, to others and to themselves (read with the recipients).
    critical_defect_emails_name(&mail, &t, "Sofia Rossi");
    defect_act(&app, &t.qa, &defect, json!({ "action": "TRIAGE" })).await;
    defect_act(
        &app,
        &t.qa,
        &defect,
        json!({ "action": "ASSIGN", "assigneeId": t.dev.id }),
    )
    .await;
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[(&t.dev, "defect.assigned")])
    );
    defect_act(&app, &t.dev, &defect, json!({ "action": "START_FIX" })).await;
    defect_act(
        &app,
        &t.dev,
        &defect,
        json!({ "action": "MARK_READY_FOR_RETEST" }),
    )
    .await;
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[(&t.qa, "defect.ready_for_retest")])
    );
    defect_act(
        &app,
        &t.qa,
        &defect,
        json!({ "action": "REOPEN", "reason": "Still lost" }),
    )
    .await;
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[(&t.dev, "defect.reopened"), (&t.pm, "defect.reopened")])
    );

    // A MAJOR defect is not mailed; graded CRITICAL later, it reaches the PM and QA as one
    // logged CRITICAL does, once.
    let data = app
        .ok(&t.dev, "mutation($p: ID!) { defectCreate(input: { projectId: $p, defect: { title: \"Slow search\", stepsToReproduce: \"Search\", actualResult: \"Slow\", severity: MAJOR } }) { defect { id } userErrors { code message } } }", json!({ "p": t.project }))
        .await;
    assert_eq!(data["defectCreate"]["userErrors"], json!([]), "{data}");
    let major = data["defectCreate"]["defect"]["id"].clone();
    assert_eq!(step(&mail, &mut seen).await, got(&[]));
    const GRADE: &str = "mutation($id: ID!, $v: Int!) { defectGrade(input: { id: $id, expectedVersion: $v, severity: CRITICAL }) { defect { version } userErrors { code } } }";
    let graded = app.ok(&t.qa, GRADE, json!({ "id": major, "v": 1 })).await;
    assert_eq!(graded["defectGrade"]["userErrors"], json!([]), "{graded}");
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[(&t.pm, "defect.escalated"), (&t.qa, "defect.escalated")])
    );
    let escalated = last_email(&mail, &t.pm, "defect.escalated");
    assert!(
        escalated
            .text_body()
            .contains("\"Slow search\" was graded critical by Sofia Rossi."),
        "{}",
        escalated.text_body()
    );
    app.ok(&t.qa, GRADE, json!({ "id": major, "v": 2 })).await;
    assert_eq!(step(&mail, &mut seen).await, got(&[]), "already critical");

    // Each message was sent once, with a stable id naming its outbox row.
    let all = mail.smtp.received();
    let ids: BTreeSet<String> = all.iter().map(|m| m.message_id()).collect();
    assert_eq!(ids.len(), all.len());
    assert!(ids.iter().all(|id| id.ends_with("@steerco.test")));
    let sent = notification::Entity::find()
        .filter(notification::Column::Status.eq("SENT"))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(sent.len(), all.len());
}

#[tokio::test]
async fn a_refused_mutation_writes_and_sends_no_email() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let cr = raise(&app, &t, "Add lead scoring").await;
    // Only the requester submits; the PM's attempt is refused.
    let response = app
        .gql(Some(&t.pm.token), "mutation($id: ID!) { changeRequestTransition(input: { id: $id, action: SUBMIT }) { userErrors { code } } }", json!({ "id": cr["id"] }))
        .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"), "{response}");
    // A gate with open items is refused with user errors.
    let refused = app.ok(&t.pm, GATE, json!({ "id": t.phase })).await;
    assert!(refused["phaseGateRequest"]["decision"].is_null());
    assert_eq!(app.count("notification").await, 0);
    assert_eq!(mail.deliver().await, 0);
    assert!(mail.smtp.received().is_empty());
}

#[tokio::test]
async fn an_administrator_outside_the_team_is_named_in_the_emails_of_what_they_do() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let admin = app.user("Olga Admin", true).await;
    let data = app
        .ok(&admin, DEFECT_CREATE, json!({ "p": t.project }))
        .await;
    assert_eq!(data["defectCreate"]["userErrors"], json!([]), "{data}");
    let mut seen = 0;
    assert_eq!(step(&mail, &mut seen).await, critical_defect_emails(&t));
    // Named from the token's lookup, the administrator being no member the team's read gives.
    critical_defect_emails_name(&mail, &t, "Olga Admin");
}

/// A defect is mailed only when CRITICAL, to the project manager and QA as the team stands
/// when it is logged (read on SQLite before the command's turn at the writer, on PostgreSQL in
/// its transaction).
#[tokio::test]
async fn a_critical_defect_mails_the_team_as_it_stands_when_it_is_logged() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let mut seen = 0;
    step(&mail, &mut seen).await;
    let log = |severity: &str| {
        let query = DEFECT_CREATE.replace("severity: CRITICAL", &format!("severity: {severity}"));
        let (app, pm, project) = (&app, &t.pm, &t.project);
        async move {
            let data = app.ok(pm, &query, json!({ "p": project })).await;
            assert_eq!(data["defectCreate"]["userErrors"], json!([]), "{data}");
        }
    };

    let outbox = app.count("notification").await;
    log("MAJOR").await;
    assert_eq!(app.count("notification").await, outbox, "no outbox row");
    assert_eq!(step(&mail, &mut seen).await, got(&[]));

    let second_qa = app.user("Ines Costa", false).await;
    let member = app.add_member(&t.pm, &t.project, &second_qa, &["QA"]).await;
    step(&mail, &mut seen).await;
    log("CRITICAL").await;
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[
            (&t.pm, "defect.critical_logged"),
            (&t.qa, "defect.critical_logged"),
            (&second_qa, "defect.critical_logged"),
        ])
    );

    let removed = app
        .ok(&t.pm, "mutation($input: ProjectMemberRemoveInput!) { projectMemberRemove(input: $input) { userErrors { code } } }", json!({ "input": { "id": member } }))
        .await;
    assert_eq!(
        removed["projectMemberRemove"]["userErrors"],
        json!([]),
        "{removed}"
    );
    step(&mail, &mut seen).await;
    log("CRITICAL").await;
    assert_eq!(step(&mail, &mut seen).await, critical_defect_emails(&t));
}

/// The emails a critical defect logged on the team's project sends: to the PM and to QA.
fn critical_defect_emails(t: &Team) -> Vec<(String, String)> {
    got(&[
        (&t.pm, "defect.critical_logged"),
        (&t.qa, "defect.critical_logged"),
    ])
}

/// The last critical defect's emails to the project manager and QA name `reporter`.
fn critical_defect_emails_name(mail: &Mail, t: &Team, reporter: &str) {
    for who in [&t.pm, &t.qa] {
        let critical = last_email(mail, who, "defect.critical_logged");
        assert!(
            critical
                .text_body()
                .contains(&format!("was logged in UAT by {reporter}.")),
            "{}",
            critical.text_body()
        );
    }
}

/// One email to the PM: a change request submitted.
async fn one_email(app: &TestApp, t: &Team) {
    let cr = raise(app, t, "Add lead scoring").await;
    act(app, &t.qa, &cr, "SUBMIT", None).await;
}

async fn rows(app: &TestApp) -> Vec<notification::Model> {
    notification::Entity::find().all(app.db()).await.unwrap()
}

#[tokio::test]
async fn a_421_is_retried_after_a_backoff_and_then_delivered() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    mail.smtp.fail_next(1, 421);
    one_email(&app, &t).await;
    assert_eq!(mail.deliver().await, 1);
    assert!(mail.smtp.received().is_empty());
    let row = &rows(&app).await[0];
    assert_eq!((row.status.as_str(), row.attempts), ("PENDING", 1));
    assert!(row.last_error.as_deref().unwrap().contains("421"));
    assert!(row.next_attempt_at > app.clock.now());
    // Not before its time.
    assert_eq!(mail.deliver().await, 0);
    app.clock.advance(Days::minutes(1));
    assert_eq!(mail.deliver().await, 1);
    assert_eq!(mail.smtp.received_count(), 1);
    let row = &rows(&app).await[0];
    assert_eq!((row.status.as_str(), row.attempts), ("SENT", 2));
    assert_eq!(mail.smtp.refused(), 1);
}

/// A server that turns every connection away with a 5xx greeting, as one refusing clients
/// does (a login refused after a password change fails alike), would fail every email: each
/// waits and is tried again, none is DEAD.
#[tokio::test]
async fn a_5xx_while_connecting_is_retried_not_dead() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let _ = client
                .write_all(b"554 5.3.2 not accepting clients now\r\n")
                .await;
        }
    });
    let worker = app.worker_to(&url);
    one_email(&app, &t).await;
    assert_eq!(worker.drain().await.unwrap(), 1);
    let row = &rows(&app).await[0];
    assert_eq!((row.status.as_str(), row.attempts), ("PENDING", 1));
    assert!(
        row.last_error.as_deref().unwrap().contains("554"),
        "{row:?}"
    );
    assert!(row.next_attempt_at > app.clock.now());
}

/// A server that stops answering in the middle of a message, its connection kept open, holds
/// the worker no longer than the SMTP timeout: the worker does not wait for its answer to a
/// QUIT either. The email waits and is tried again.
#[tokio::test]
async fn a_server_that_stops_answering_mid_message_holds_the_worker_no_longer_than_its_timeout() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((client, _)) = listener.accept().await {
            let (reader, mut writer) = client.into_split();
            let mut lines = BufReader::new(reader).lines();
            let _ = writer.write_all(b"220 localhost ready\r\n").await;
            // Answers the greeting, then reads on and answers nothing more.
            if let Ok(Some(_ehlo)) = lines.next_line().await {
                let _ = writer.write_all(b"250 localhost\r\n").await;
            }
            held.push(writer);
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        }
    });
    let worker = app.worker_to(&url);
    one_email(&app, &t).await;
    let drained = tokio::time::timeout(Duration::from_secs(60), worker.drain())
        .await
        .expect("the drain ends: the worker does not wait on a silent server past its timeout");
    assert_eq!(drained.unwrap(), 1);
    let row = &rows(&app).await[0];
    assert_eq!(
        (row.status.as_str(), row.attempts),
        ("PENDING", 1),
        "{row:?}"
    );
    assert!(
        row.last_error
            .as_deref()
            .unwrap()
            .contains("did not answer"),
        "{row:?}"
    );
}

/// A 5xx to the sender (MAIL FROM: authentication required, relaying refused, a sending quota
/// used up) answers the account, not the message, and would answer every email alike: each
/// waits and is tried again, none is DEAD. A 5xx to the message itself still is final.
#[tokio::test]
async fn a_5xx_to_the_sender_is_retried_not_dead() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    mail.smtp.refuse_senders_next(3, 530);
    for n in 0..3 {
        let cr = raise(&app, &t, &format!("Change {n}")).await;
        act(&app, &t.qa, &cr, "SUBMIT", None).await;
    }
    assert_eq!(mail.deliver().await, 3);
    let all = rows(&app).await;
    assert_eq!(all.len(), 3);
    for row in &all {
        assert_eq!(
            (row.status.as_str(), row.attempts),
            ("PENDING", 1),
            "{row:?}"
        );
        let error = row.last_error.as_deref().unwrap();
        assert!(
            error.contains("530") && error.contains("MAIL FROM"),
            "{error}"
        );
        assert!(row.next_attempt_at > app.clock.now());
    }
    assert!(mail.smtp.received().is_empty());
    app.clock.advance(Days::minutes(5));
    assert_eq!(mail.deliver().await, 3);
    assert_eq!(mail.smtp.received_count(), 3);
    assert!(rows(&app).await.iter().all(|r| r.status == "SENT"));
}

/// A change request decided reaches, besides those who always hear of it, the finance
/// representatives when it moves money and the owners of the milestones it moves.
#[tokio::test]
async fn a_change_decided_reaches_finance_when_it_costs_and_the_owners_of_what_it_moves() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let finance = app.user("Fatima Khan", false).await;
    app.add_member(&t.pm, &t.project, &finance, &["FINANCE_REP"])
        .await;
    let created = app
        .ok(&t.pm, "mutation($p: ID!, $o: ID!) { milestoneCreate(input: { phaseId: $p, name: \"Data migrated\", ownerId: $o, forecastDate: \"2027-03-04\" }) { milestone { id } userErrors { code message } } }", json!({ "p": t.phase, "o": t.dev.id }))
        .await;
    assert_eq!(
        created["milestoneCreate"]["userErrors"],
        json!([]),
        "{created}"
    );
    let milestone = created["milestoneCreate"]["milestone"]["id"].clone();
    let mut seen = 0;
    step(&mail, &mut seen).await;

    let kind = "change_request.approved";
    let always = [&t.qa, &t.pm, &t.chair, &t.member, &t.informed];
    for (title, cost, shifts, extra) in [
        (
            "Add lead scoring",
            "2000",
            json!([{ "milestoneId": milestone, "days": 1 }]),
            vec![&finance, &t.dev],
        ),
        ("Rename a field", "0", json!([]), vec![]),
    ] {
        let cr = raise(&app, &t, title).await;
        act(&app, &t.qa, &cr, "SUBMIT", None).await;
        act(&app, &t.pm, &cr, "START_ASSESSMENT", None).await;
        let impact = json!({
            "schedule": { "days": 1, "milestoneShifts": shifts },
            "cost": { "amount": cost, "currency": "CNY", "budgetLine": "Config" },
            "effort": { "personDays": "2" },
            "risk": { "level": "LOW", "description": "A field" }
        });
        let assessed = assess(&app, &t.pm, &cr, impact).await;
        assert_eq!(assessed["userErrors"], json!([]), "{assessed}");
        act(&app, &t.pm, &cr, "REQUEST_DECISION", None).await;
        let approved = act(&app, &t.pm, &cr, "APPROVE", Some("Small and safe")).await;
        assert_eq!(
            approved["changeRequest"]["status"], "APPROVED",
            "{approved}"
        );
        let decided: Vec<(String, String)> = step(&mail, &mut seen)
            .await
            .into_iter()
            .filter(|(_, k)| k == kind)
            .collect();
        let expected: Vec<(&TestUser, &str)> = always
            .iter()
            .copied()
            .chain(extra)
            .map(|who| (who, kind))
            .collect();
        assert_eq!(decided, got(&expected), "{title}");
    }
}

/// A UAT cycle started asks the business representatives (its testers) to test, and its
/// sign-off reaches the PM, the sponsor and the committee; the project put on hold, resumed or
/// cancelled reaches every member, with the reason given.
#[tokio::test]
async fn test_cycles_and_the_projects_own_status_reach_the_people_they_concern() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let sponsor = app.user("Omar Haddad", false).await;
    app.add_member(&t.pm, &t.project, &sponsor, &["SPONSOR"])
        .await;
    let mut seen = 0;
    step(&mail, &mut seen).await;

    let created = app
        .ok(&t.qa, "mutation($p: ID!) { testCycleCreate(input: { projectId: $p, name: \"UAT 1\", stage: USER_TRIAL, environment: \"UAT sandbox\" }) { cycle { id } userErrors { code } } }", json!({ "p": t.project }))
        .await;
    let cycle = created["testCycleCreate"]["cycle"]["id"].clone();
    let move_cycle = |who: &TestUser, action: &str| {
        let (token, variables) = (who.token.clone(), json!({ "id": cycle, "a": action }));
        let app = &app;
        async move {
            let moved = app
                .gql(Some(&token), "mutation($id: ID!, $a: TestCycleAction!) { testCycleTransition(input: { id: $id, action: $a }) { userErrors { code message } } }", variables)
                .await;
            assert_eq!(
                moved["data"]["testCycleTransition"]["userErrors"],
                json!([]),
                "{moved}"
            );
        }
    };
    move_cycle(&t.qa, "START").await;
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[(&t.informed, "test_cycle.started")])
    );
    let started = last_email(&mail, &t.informed, "test_cycle.started");
    assert!(started.subject().contains("UAT 1"), "{}", started.subject());
    assert!(
        started.header("List-Unsubscribe").is_none(),
        "testing is asked for"
    );
    move_cycle(&t.qa, "COMPLETE").await;
    assert_eq!(step(&mail, &mut seen).await, got(&[]));
    move_cycle(&t.informed, "SIGN_OFF").await;
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[
            (&t.pm, "test_cycle.signed_off"),
            (&sponsor, "test_cycle.signed_off"),
            (&t.chair, "test_cycle.signed_off"),
            (&t.member, "test_cycle.signed_off"),
        ])
    );

    let everyone = [
        &t.pm,
        &sponsor,
        &t.chair,
        &t.member,
        &t.qa,
        &t.dev,
        &t.informed,
    ];
    for (action, reason, kind) in [
        (
            "HOLD",
            Some("Budget review by the board"),
            "project.on_hold",
        ),
        ("RESUME", None, "project.resumed"),
        (
            "CANCEL",
            Some("The vendor contract ended"),
            "project.cancelled",
        ),
    ] {
        let moved = app
            .ok(&t.pm, "mutation($input: ProjectTransitionInput!) { projectTransition(input: $input) { userErrors { code message } } }", json!({ "input": { "id": t.project, "action": action, "reason": reason } }))
            .await;
        assert_eq!(
            moved["projectTransition"]["userErrors"],
            json!([]),
            "{moved}"
        );
        let expected: Vec<(&TestUser, &str)> = everyone.iter().map(|who| (*who, kind)).collect();
        assert_eq!(step(&mail, &mut seen).await, got(&expected), "{action}");
        if let Some(reason) = reason {
            let told = last_email(&mail, &t.dev, kind);
            assert!(told.text_body().contains(reason), "{}", told.text_body());
        }
    }
}

/// The outbox shows a PM what was mailed, but not the signed tokens of its links: each acts as
/// its recipient on the preferences page.
#[tokio::test]
async fn the_outbox_shows_emails_without_the_tokens_that_act_for_their_recipients() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    one_email(&app, &t).await;
    assert_eq!(mail.deliver().await, 1);
    let mailed = mail.smtp.received().pop().unwrap().text_body();
    let token = mailed
        .split("?token=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the email links to its recipient's preferences")
        .to_owned();
    assert_ne!(token, "hidden");
    let listed = app
        .ok(
            &t.pm,
            "query($p: ID!) { notifications(projectId: $p) { edges { node { bodyText } } } }",
            json!({ "p": t.project }),
        )
        .await;
    let shown = listed["notifications"]["edges"][0]["node"]["bodyText"]
        .as_str()
        .unwrap();
    assert!(!shown.contains(&token), "{shown}");
    assert!(
        shown.contains("/notifications/preferences?token=hidden"),
        "{shown}"
    );
}

const DEAD: &str = "query($p: ID!) { notifications(projectId: $p, status: DEAD) { totalCount edges { node { id kind status attempts lastError recipientEmail } } } }";
const RETRY: &str = "mutation($id: ID!) { notificationRetry(input: { id: $id }) { notification { status attempts } userErrors { code field } } }";

#[tokio::test]
async fn a_550_is_dead_at_once_and_a_retry_delivers_it_once_fixed() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    mail.smtp.fail_next(1, 550);
    one_email(&app, &t).await;
    assert_eq!(mail.deliver().await, 1);
    app.clock.advance(Days::hours(2));
    assert_eq!(mail.deliver().await, 0, "a dead email is not retried");
    let data = app.ok(&t.pm, DEAD, json!({ "p": t.project })).await;
    assert_eq!(data["notifications"]["totalCount"], 1, "{data}");
    let dead = &data["notifications"]["edges"][0]["node"];
    assert_eq!(dead["attempts"], 1);
    assert_eq!(dead["recipientEmail"], t.pm.email);
    assert!(dead["lastError"].as_str().unwrap().contains("550"));

    // Only the PM (or an admin) sees and retries the outbox.
    let response = app
        .gql(Some(&t.qa.token), DEAD, json!({ "p": t.project }))
        .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"), "{response}");
    let response = app
        .gql(Some(&t.qa.token), RETRY, json!({ "id": dead["id"] }))
        .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"), "{response}");
    let stranger = app.user("Out Sider", false).await;
    let response = app
        .gql(Some(&stranger.token), RETRY, json!({ "id": dead["id"] }))
        .await;
    assert_eq!(
        response["data"]["notificationRetry"]["userErrors"][0]["code"], "NOT_FOUND",
        "a stranger cannot tell the row exists: {response}"
    );

    let retried_rows = "audit_event WHERE action = 'notification.retried'";
    assert_eq!(app.count(retried_rows).await, 0, "refusals wrote nothing");
    let retried = app.ok(&t.pm, RETRY, json!({ "id": dead["id"] })).await;
    assert_eq!(
        retried["notificationRetry"]["notification"],
        json!({ "status": "PENDING", "attempts": 0 })
    );
    assert_eq!(app.count(retried_rows).await, 1, "the retry is audited");
    let audit = app.count("audit_event").await;
    let again = app.ok(&t.pm, RETRY, json!({ "id": dead["id"] })).await;
    assert_eq!(
        again["notificationRetry"]["userErrors"][0]["code"],
        "INVALID_TRANSITION"
    );
    assert_eq!(
        app.count("audit_event").await,
        audit,
        "a refused retry writes nothing"
    );
    assert_eq!(mail.deliver().await, 1);
    assert_eq!(mail.since(0), got(&[(&t.pm, "change_request.submitted")]));
}

#[tokio::test]
async fn mail_written_while_smtp_is_down_is_delivered_once_when_it_returns() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    mail.smtp.go_down().await;
    for n in 0..3 {
        let cr = raise(&app, &t, &format!("Change {n}")).await;
        act(&app, &t.qa, &cr, "SUBMIT", None).await;
    }
    assert_eq!(mail.deliver().await, 3);
    app.clock.advance(Days::minutes(5));
    assert_eq!(mail.deliver().await, 3, "still down: tried again");
    assert!(
        rows(&app)
            .await
            .iter()
            .all(|r| r.status == "PENDING" && r.attempts == 2)
    );
    mail.smtp.resume().await;
    app.clock.advance(Days::hours(1));
    assert_eq!(mail.deliver().await, 3);
    assert_eq!(mail.deliver().await, 0);
    assert_eq!(mail.smtp.received_count(), 3);
    assert!(rows(&app).await.iter().all(|r| r.status == "SENT"));
}

#[tokio::test]
async fn a_worker_killed_between_claim_and_send_loses_its_rows_when_the_lease_ends() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    one_email(&app, &t).await;
    // A worker claims, then dies before sending.
    let claimed = outbox::claim(
        &app.state.writer,
        app.clock.now(),
        Duration::from_secs(120),
        10,
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(mail.deliver().await, 0, "leased to the dead worker");
    app.clock.advance(Days::seconds(121));
    assert_eq!(mail.deliver().await, 1);
    assert_eq!(mail.smtp.received_count(), 1);
    let row = &rows(&app).await[0];
    assert_eq!((row.status.as_str(), row.attempts), ("SENT", 2));
    // The dead worker's late report changes nothing.
    outbox::record_failure(
        &app.state.writer,
        &claimed[0],
        steerco_graphql::domain::notification::SendFailure::Permanent,
        "late",
        app.clock.now(),
        &Default::default(),
        0.5,
    )
    .await
    .unwrap();
    assert_eq!(rows(&app).await[0].status, "SENT");
}

/// A retry starts a DEAD email's attempts again from zero, but not its claims: a worker that
/// outlived its lease before the row died cannot record its late outcome over the claim of the
/// worker sending the retried email.
#[tokio::test]
async fn a_stale_claim_cannot_record_over_the_claim_of_a_retried_email() {
    use steerco_graphql::domain::notification::SendFailure;
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    one_email(&app, &t).await;
    let lease = Duration::from_secs(120);
    let claim = || async {
        outbox::claim(&app.state.writer, app.clock.now(), lease, 10)
            .await
            .unwrap()
    };
    let report = |claimed: notification::Model, failure| {
        let app = &app;
        async move {
            outbox::record_failure(
                &app.state.writer,
                &claimed,
                failure,
                "refused",
                app.clock.now(),
                &Default::default(),
                0.5,
            )
            .await
            .unwrap()
        }
    };
    // A claims and stalls; past its lease B claims, and the server refuses the email for good.
    let stalled = claim().await.remove(0);
    app.clock.advance(Days::seconds(121));
    let second = claim().await.remove(0);
    report(second, SendFailure::Permanent).await;
    let dead = &rows(&app).await[0];
    assert_eq!((dead.status.as_str(), dead.attempts), ("DEAD", 2));

    let listed = app.ok(&t.pm, DEAD, json!({ "p": t.project })).await;
    let id = &listed["notifications"]["edges"][0]["node"]["id"];
    let retried = app.ok(&t.pm, RETRY, json!({ "id": id })).await;
    assert_eq!(
        retried["notificationRetry"]["notification"],
        json!({ "status": "PENDING", "attempts": 0 }),
        "{retried}"
    );
    let third = claim().await.remove(0);
    assert_eq!((third.attempts, third.claims), (stalled.attempts, 3));

    // A's late reports, failure or success, land nowhere.
    report(stalled.clone(), SendFailure::Transient).await;
    outbox::record_sent(
        &app.state.writer,
        std::slice::from_ref(&stalled),
        app.clock.now(),
    )
    .await
    .unwrap();
    let row = &rows(&app).await[0];
    assert_eq!((row.status.as_str(), row.claims), ("SENDING", 3), "{row:?}");
    outbox::record_sent(&app.state.writer, &[third], app.clock.now())
        .await
        .unwrap();
    assert_eq!(rows(&app).await[0].status, "SENT");
}

/// Loads `count` due emails to `to` straight into the outbox, as a busy day would leave it.
async fn bulk_load(app: &TestApp, to: &TestUser, tag: &str, count: usize) {
    let now = app.clock.now();
    let rows: Vec<notification::ActiveModel> = (0..count)
        .map(|n| notification::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            project_id: Set(None),
            recipient_id: Set(to.uuid),
            recipient_email: Set(to.email.clone()),
            locale: Set("en".to_owned()),
            kind: Set("test.bulk".to_owned()),
            aggregate_type: Set("User".to_owned()),
            aggregate_id: Set(None),
            dedupe_key: Set(format!("bulk:{tag}:{n}")),
            subject: Set(format!("Bulk {tag}-{n}")),
            body_text: Set("text".to_owned()),
            body_html: Set("<p>html</p>".to_owned()),
            unsubscribe_url: Set(None),
            priority: Set(2),
            status: Set("PENDING".to_owned()),
            attempts: Set(0),
            claims: Set(0),
            next_attempt_at: Set(now),
            lease_until: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            sent_at: Set(None),
        })
        .collect();
    for chunk in rows.chunks(100) {
        notification::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(app.db())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn two_workers_drain_a_thousand_emails_each_exactly_once() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let pm = app.user("Anna Berg", false).await;
    bulk_load(&app, &pm, "day", 1_000).await;
    let second = app.worker_to(&mail.smtp.url());
    let (a, b) = tokio::join!(mail.worker.drain(), second.drain());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a + b, 1_000, "each row claimed once: {a} + {b}");
    let received = mail.smtp.wait_for(1_000, Duration::from_secs(30)).await;
    assert_eq!(received.len(), 1_000);
    let ids: BTreeSet<String> = received.iter().map(|m| m.message_id()).collect();
    assert_eq!(ids.len(), 1_000, "no message twice");
    let rows = rows(&app).await;
    assert!(rows.iter().all(|r| r.status == "SENT" && r.attempts == 1));
    let expected: BTreeSet<String> = rows
        .iter()
        .map(|r| format!("{}@steerco.test", r.id))
        .collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn a_worker_keeps_its_smtp_connections_open_and_no_more_than_it_sends_at_once() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let pm = app.user("Anna Berg", false).await;
    bulk_load(&app, &pm, "first", 40).await;
    assert_eq!(mail.deliver().await, 40);
    let opened = mail.smtp.connections();
    let concurrency = steerco::worker::WorkerConfig::default().concurrency;
    assert!(
        (1..=concurrency).contains(&opened),
        "{opened} connections for {concurrency} sends at once"
    );
    bulk_load(&app, &pm, "second", 40).await;
    assert_eq!(mail.deliver().await, 40);
    assert_eq!(mail.smtp.received_count(), 80);
    assert_eq!(
        mail.smtp.connections(),
        opened,
        "the open connections carried them"
    );
    assert!(
        rows(&app)
            .await
            .iter()
            .all(|r| r.status == "SENT" && r.attempts == 1)
    );
}

#[tokio::test]
async fn a_connection_the_server_closed_is_replaced_and_the_mail_still_goes_at_once() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    one_email(&app, &t).await;
    assert_eq!(mail.deliver().await, 1);
    // The server restarts, closing the connection the worker kept open, as a server that
    // times out idle clients also does.
    mail.smtp.go_down().await;
    mail.smtp.resume().await;
    let cr = raise(&app, &t, "Add territory planning").await;
    act(&app, &t.qa, &cr, "SUBMIT", None).await;
    assert_eq!(mail.deliver().await, 1);
    assert_eq!(mail.smtp.received_count(), 2);
    assert!(
        rows(&app)
            .await
            .iter()
            .all(|r| r.status == "SENT" && r.attempts == 1),
        "sent on the first attempt, over a new connection"
    );
    assert_eq!(mail.smtp.connections(), 2);
}

#[tokio::test]
async fn marking_a_batch_sent_touches_only_the_rows_still_claimed() {
    let app = TestApp::spawn().await;
    let pm = app.user("Anna Berg", false).await;
    bulk_load(&app, &pm, "batch", 3).await;
    let now = app.clock.now();
    let claimed = outbox::claim(&app.state.writer, now, Duration::from_secs(120), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    // A claim that has since passed to another worker (who claimed it once more).
    let overtaken = notification::Model {
        claims: claimed[0].claims - 1,
        ..claimed[0].clone()
    };
    outbox::record_sent(&app.state.writer, &[overtaken, claimed[1].clone()], now)
        .await
        .unwrap();
    let db = app.db();
    let status = |id| async move {
        notification::Entity::find_by_id(id)
            .one(db)
            .await
            .unwrap()
            .unwrap()
    };
    let first = status(claimed[0].id).await;
    assert_eq!((first.status.as_str(), first.sent_at), ("SENDING", None));
    let second = status(claimed[1].id).await;
    assert_eq!(
        (second.status.as_str(), second.sent_at, second.lease_until),
        ("SENT", Some(now), None)
    );
    assert_eq!(status(claimed[2].id).await.status, "SENDING");
}

/// Starts the phase, meets its gate items and asks the committee; returns the ballot's id.
async fn open_gate(app: &TestApp, t: &Team) -> String {
    crate::phases::start_phase(app, &t.pm, &t.phase).await;
    complete_gate_items(app, &t.pm, &t.phase).await;
    let data = app.ok(&t.pm, GATE, json!({ "id": t.phase })).await;
    data["phaseGateRequest"]["decision"]["id"]
        .as_str()
        .expect("a ballot")
        .to_owned()
}

const PREFERENCES: &str = "mutation($p: [NotificationPreferenceInput!]!) { notificationPreferencesUpdate(input: { preferences: $p }) { preferences { class delivery } userErrors { code field } } }";

#[tokio::test]
async fn a_digest_holds_what_may_wait_off_drops_it_and_votes_still_come() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let twice = app
        .ok(&t.member, PREFERENCES, json!({ "p": [{ "class": "PHASE_GATE", "delivery": "OFF" }, { "class": "PHASE_GATE", "delivery": "IMMEDIATE" }] }))
        .await;
    assert_eq!(
        twice["notificationPreferencesUpdate"]["userErrors"][0]["code"],
        "BAD_USER_INPUT"
    );
    let updated_rows = "audit_event WHERE action = 'user.notification_preferences_updated'";
    assert_eq!(
        app.count("notification_preference").await,
        0,
        "nothing written"
    );
    assert_eq!(app.count(updated_rows).await, 0);
    let empty = app.ok(&t.member, PREFERENCES, json!({ "p": [] })).await;
    assert_eq!(
        empty["notificationPreferencesUpdate"]["userErrors"][0]["code"],
        "BAD_USER_INPUT"
    );
    let anonymous = app
        .gql(
            None,
            PREFERENCES,
            json!({ "p": [{ "class": "SCOPE", "delivery": "OFF" }] }),
        )
        .await;
    assert_eq!(
        error_code(&anonymous),
        Some("UNAUTHENTICATED"),
        "{anonymous}"
    );
    let set = app
        .ok(&t.member, PREFERENCES, json!({ "p": [{ "class": "PHASE_GATE", "delivery": "DAILY_DIGEST" }, { "class": "DECISION", "delivery": "OFF" }] }))
        .await;
    let prefs = &set["notificationPreferencesUpdate"]["preferences"];
    assert_eq!(prefs.as_array().unwrap().len(), 8, "{set}");
    assert_eq!(app.count(updated_rows).await, 1, "the change is audited");
    assert_eq!(app.count("notification_preference").await, 2);
    let mine = app
        .ok(
            &t.member,
            "{ me { notificationPreferences { class delivery } } }",
            json!({}),
        )
        .await;
    assert_eq!(&mine["me"]["notificationPreferences"], prefs);
    assert!(
        prefs
            .as_array()
            .unwrap()
            .contains(&json!({ "class": "PHASE_GATE", "delivery": "DAILY_DIGEST" }))
    );

    // Nor can a digest hold it back: a ballot may close within the day.
    let digested = app
        .ok(
            &t.chair,
            PREFERENCES,
            json!({ "p": [{ "class": "DECISION", "delivery": "DAILY_DIGEST" }] }),
        )
        .await;
    assert_eq!(
        digested["notificationPreferencesUpdate"]["userErrors"],
        json!([])
    );

    open_gate(&app, &t).await;
    mail.deliver().await;
    assert_eq!(
        mail.since(0),
        got(&[
            (&t.chair, "decision.opened"),
            (&t.chair, "phase.gate_requested"),
            // OFF cannot silence a vote that is needed; the gate news waits for the digest.
            (&t.member, "decision.opened"),
            (&t.informed, "phase.gate_requested"),
        ])
    );
    let seen = mail.smtp.received_count();

    // Nothing before the digest hour, one digest after it, never a second one that day.
    app.clock.advance(Days::hours(20)); // 05:00 the next day
    assert_eq!(outbox::run_scheduler(&app.state).await.unwrap().digests, 0);
    app.clock.advance(Days::hours(3));
    assert_eq!(outbox::run_scheduler(&app.state).await.unwrap().digests, 1);
    assert_eq!(outbox::run_scheduler(&app.state).await.unwrap().digests, 0);
    mail.deliver().await;
    assert_eq!(mail.since(seen), got(&[(&t.member, "digest.daily")]));
    let digest = mail.smtp.received().pop().unwrap();
    assert!(digest.subject().contains('1'), "{}", digest.subject());
    assert!(
        digest.text_body().contains("Requirements"),
        "{}",
        digest.text_body()
    );
    // Its preferences link opens the class it held (the gate news), not another one.
    let body = digest.text_body();
    let token = body
        .split("/notifications/preferences?token=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a preferences link");
    let (user, class) = app
        .state
        .mail
        .verify_link_token(token)
        .expect("a signed token");
    assert_eq!(user, t.member.uuid);
    assert_eq!(class, NotificationClass::PhaseGate);

    // An empty digest is never sent.
    app.clock.advance(Days::days(1));
    assert_eq!(outbox::run_scheduler(&app.state).await.unwrap().digests, 0);
}

/// Someone who has left a project receives no more of its emails: not even what a digest
/// held for them while they were in it.
#[tokio::test]
async fn a_digest_drops_what_a_project_held_for_someone_who_has_left_it() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    for who in [&t.qa, &t.dev] {
        let set = app
            .ok(
                who,
                PREFERENCES,
                json!({ "p": [{ "class": "PHASE_GATE", "delivery": "DAILY_DIGEST" }] }),
            )
            .await;
        assert_eq!(
            set["notificationPreferencesUpdate"]["userErrors"],
            json!([])
        );
    }
    let decision = open_gate(&app, &t).await;
    for voter in [&t.chair, &t.member] {
        let cast = vote(&app, voter, &decision, json!({ "choice": "GO" })).await;
        assert_eq!(cast["userErrors"], json!([]), "{cast}");
        if cast["decision"]["status"] == "DECIDED" {
            break;
        }
    }
    let waiting = "digest_item WHERE notification_id IS NULL";
    assert_eq!(
        app.count(waiting).await,
        2,
        "the gate's news is held for both"
    );

    let members = app
        .ok(
            &t.pm,
            "query($p: ID!) { project(id: $p) { members { id user { id } } } }",
            json!({ "p": t.project }),
        )
        .await;
    let qa_membership = members["project"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["id"] == t.qa.id.as_str())
        .unwrap()["id"]
        .clone();
    let removed = app
        .ok(&t.pm, "mutation($id: ID!) { projectMemberRemove(input: { id: $id }) { userErrors { code message } } }", json!({ "id": qa_membership }))
        .await;
    assert_eq!(
        removed["projectMemberRemove"]["userErrors"],
        json!([]),
        "{removed}"
    );
    // An administrator hears of what they raised on a project they are not a member of, held
    // items included.
    let admin = app.user("Ada Admin", true).await;
    let project = steerco_entity::project::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .expect("the team's project");
    digest_item::Entity::insert(digest_item::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        user_id: Set(admin.uuid),
        project_id: Set(Some(project.id)),
        kind: Set("change_request.approved".to_owned()),
        subject: Set("Change request approved: CR-001".to_owned()),
        summary: Set("Approved.".to_owned()),
        link: Set("http://localhost:8080/objects/x".to_owned()),
        created_at: Set(app.clock.now()),
        notification_id: Set(None),
    })
    .exec(app.db())
    .await
    .unwrap();
    mail.deliver().await;
    let seen = mail.smtp.received_count();

    app.clock.advance(Days::hours(23)); // past the next digest hour
    assert_eq!(outbox::run_scheduler(&app.state).await.unwrap().digests, 2);
    mail.deliver().await;
    assert_eq!(
        mail.since(seen),
        got(&[(&t.dev, "digest.daily"), (&admin, "digest.daily")])
    );
    assert_eq!(app.count(waiting).await, 0);
    assert_eq!(
        app.count("digest_item").await,
        2,
        "what was held for QA is dropped, not kept waiting for ever"
    );
}

#[tokio::test]
async fn reminders_fire_once_per_day_however_many_servers_run_the_scheduler() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let created = app
        .ok(&t.pm, "mutation($p: ID!, $o: ID!) { milestoneCreate(input: { phaseId: $p, name: \"Data migrated\", ownerId: $o, forecastDate: \"2027-03-04\" }) { userErrors { code message } } }", json!({ "p": t.phase, "o": t.dev.id }))
        .await;
    assert_eq!(
        created["milestoneCreate"]["userErrors"],
        json!([]),
        "{created}"
    );
    // Another server sharing the database runs the same scheduler.
    let other = steerco_graphql::service::AppState {
        mail: app.state.mail.clone(),
        ..steerco_graphql::service::AppState::new(app.db().clone(), app.clock.clone())
    };
    for state in [&app.state, &other, &app.state] {
        outbox::run_scheduler(state).await.unwrap();
    }
    mail.deliver().await;
    assert_eq!(mail.since(0), got(&[(&t.dev, "reminder.milestone_due")]));

    // The day after it was due: overdue, to the owner and the PM; not again the next day.
    app.clock.advance(Days::days(4));
    outbox::run_scheduler(&app.state).await.unwrap();
    outbox::run_scheduler(&other).await.unwrap();
    mail.deliver().await;
    assert_eq!(
        mail.since(1),
        got(&[(&t.dev, "milestone.overdue"), (&t.pm, "milestone.overdue")])
    );
    let overdue = mail.smtp.received().pop().unwrap();
    assert!(
        overdue.text_body().contains("2027-03-04"),
        "{}",
        overdue.text_body()
    );
    app.clock.advance(Days::days(1));
    outbox::run_scheduler(&app.state).await.unwrap();
    assert_eq!(mail.deliver().await, 0);
}

#[tokio::test]
async fn voters_who_have_not_voted_are_reminded_once_a_day() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let decision = open_gate(&app, &t).await;
    vote(&app, &t.chair, &decision, json!({ "choice": "GO" })).await;
    mail.deliver().await;
    let seen = mail.smtp.received_count();
    app.clock.advance(Days::hours(47));
    outbox::run_scheduler(&app.state).await.unwrap();
    assert_eq!(mail.deliver().await, 0, "not yet");
    app.clock.advance(Days::hours(1));
    outbox::run_scheduler(&app.state).await.unwrap();
    outbox::run_scheduler(&app.state).await.unwrap();
    mail.deliver().await;
    let reminded = mail.since(seen);
    if reminded.is_empty() {
        // The chair's vote alone decided the ballot: nobody is left to remind.
        assert_eq!(ballot_status(&app, &t.pm, &decision).await, "DECIDED");
    } else {
        assert_eq!(reminded, got(&[(&t.member, "reminder.vote_pending")]));
    }
}

#[tokio::test]
async fn a_cancelled_project_reminds_nobody_of_its_open_ballots() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let decision = open_gate(&app, &t).await;
    // A day past the first reminder's time: the ballot is still open, but takes no vote.
    assert_eq!(cancelled_then_three_days(&app, &mail, &t).await, got(&[]));
    assert_eq!(ballot_status(&app, &t.pm, &decision).await, "OPEN");
}

/// The statements of one scheduler pass.
async fn pass_statements(app: &TestApp) -> u64 {
    let before = app.statements.total();
    outbox::run_scheduler(&app.state).await.unwrap();
    app.statements.total() - before
}

#[tokio::test]
async fn a_reminder_is_written_once_a_day_and_a_pass_with_nothing_new_writes_nothing() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    // The owner takes milestone news in the daily digest, whose items carry no dedupe key.
    let set = app
        .ok(
            &t.dev,
            PREFERENCES,
            json!({ "p": [{ "class": "MILESTONE", "delivery": "DAILY_DIGEST" }] }),
        )
        .await;
    assert_eq!(
        set["notificationPreferencesUpdate"]["userErrors"],
        json!([])
    );
    let idle = pass_statements(&app).await;
    for name in ["Data migrated", "Users trained", "Cutover rehearsed"] {
        let created = app
            .ok(&t.pm, "mutation($p: ID!, $o: ID!, $n: String!) { milestoneCreate(input: { phaseId: $p, name: $n, ownerId: $o, forecastDate: \"2027-03-04\" }) { userErrors { code message } } }", json!({ "p": t.phase, "o": t.dev.id, "n": name }))
            .await;
        assert_eq!(
            created["milestoneCreate"]["userErrors"],
            json!([]),
            "{created}"
        );
    }
    let items = app.count("digest_item").await;
    let first = pass_statements(&app).await;
    assert_eq!(
        app.count("digest_item").await,
        items + 3,
        "one item a milestone"
    );
    assert_eq!(app.count("scheduled_reminder").await, 3);
    assert!(first > idle, "{first} statements");

    let again = pass_statements(&app).await;
    assert_eq!(
        app.count("digest_item").await,
        items + 3,
        "never twice a day"
    );
    assert_eq!(
        again, idle,
        "a pass reads what today's passes wrote and writes nothing more"
    );

    // The day after they were due they are overdue: written once again, and the days before
    // are cleared.
    app.clock.advance(Days::days(4));
    outbox::run_scheduler(&app.state).await.unwrap();
    outbox::run_scheduler(&app.state).await.unwrap();
    assert_eq!(app.count("digest_item").await, items + 6);
    let rules = steerco_entity::scheduled_reminder::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.rule, row.day.to_string()))
        .collect::<BTreeSet<_>>();
    assert_eq!(
        rules,
        BTreeSet::from([("milestone.overdue".to_owned(), "2027-03-05".to_owned())])
    );
}

/// The one-click unsubscribe link of an email to the PM, on `app`'s own address.
async fn unsubscribe_link(app: &TestApp, t: &Team, mail: &Mail) -> String {
    one_email(app, t).await;
    mail.deliver().await;
    mail.smtp.received()[0]
        .header("List-Unsubscribe")
        .unwrap()
        .trim_matches(['<', '>'])
        .replace("http://steerco.test", &app.base_url)
}

#[tokio::test]
async fn one_click_unsubscribe_turns_a_class_off_and_forged_links_are_refused() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let link = unsubscribe_link(&app, &t, &mail).await;
    assert_eq!(
        mail.smtp.received()[0]
            .header("List-Unsubscribe-Post")
            .as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let page = app.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("change requests"));
    let forged = link.replace("CHANGE_REQUEST", "DEFECT");
    let refused = app
        .client
        .post(&forged)
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let done = app
        .client
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let mine = app
        .ok(
            &t.pm,
            "{ me { notificationPreferences { class delivery } } }",
            json!({}),
        )
        .await;
    assert!(
        mine["me"]["notificationPreferences"]
            .as_array()
            .unwrap()
            .contains(&json!({ "class": "CHANGE_REQUEST", "delivery": "OFF" }))
    );
    one_email(&app, &t).await;
    assert_eq!(
        mail.deliver().await,
        0,
        "nothing more about change requests"
    );
}

/// RFC 8058 asks mail clients to post the one-click unsubscribe as `multipart/form-data`; the
/// page takes that as it takes the url-encoded form, refuses a body beyond a form's size, and
/// writes into its buttons the verified token alone, never the rest of the link as it came.
#[tokio::test]
async fn the_preferences_page_takes_a_multipart_one_click_and_echoes_nothing_it_was_sent() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let link = unsubscribe_link(&app, &t, &mail).await;

    let page = app
        .client
        .get(format!("{link}&next=%22%3E%3Cscript%3E"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(!html.contains("next="), "{html}");
    assert!(!html.contains("script"), "{html}");
    assert!(html.contains("action=\"?token="), "{html}");

    let too_large = app
        .client
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "List-Unsubscribe=One-Click&pad={}",
            "x".repeat(64 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), 413);

    let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n\
                     One-Click\r\n--XyZ--\r\n";
    let done = app
        .client
        .post(&link)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(multipart)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    one_email(&app, &t).await;
    assert_eq!(mail.deliver().await, 0, "the class is off");
}

/// A form that does not arrive within the read timeout changes nothing and is answered 408.
#[tokio::test]
async fn the_preferences_page_does_not_wait_for_a_form_sent_too_slowly() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(|config| {
        config.read_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let link = unsubscribe_link(&app, &t, &mail).await;
    let path = &link[app.base_url.len()..];
    let mut stream = tokio::net::TcpStream::connect(&app.base_url["http://".len()..])
        .await
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: steerco.test\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\n\
         List-Unsubscribe=One"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers and hangs up")
    .unwrap();
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(answer.contains("Nothing was changed"), "{answer}");
    one_email(&app, &t).await;
    assert_eq!(mail.deliver().await, 1, "the class is still on");
}

#[tokio::test]
async fn inactive_users_never_receive_email() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    app.set_active(&t.pm, false).await;
    one_email(&app, &t).await;
    assert_eq!(app.count("notification").await, 0);
    assert_eq!(mail.deliver().await, 0);
}

#[tokio::test]
async fn without_smtp_mail_is_written_as_eml_files() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let worker = steerco::worker::Worker::new(
        app.state.clone(),
        steerco::worker::WorkerConfig {
            mail_dir: dir.path().to_owned(),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(worker.destination().contains(".eml"));
    one_email(&app, &t).await;
    assert_eq!(worker.drain().await.unwrap(), 1);
    let row = &rows(&app).await[0];
    assert_eq!(row.status, "SENT");
    let file = std::fs::read_to_string(dir.path().join(format!("{}.eml", row.id))).unwrap();
    assert!(file.contains(&format!("To: {}", t.pm.email)), "{file}");
    assert!(file.contains("X-Steerco-Kind: change_request.submitted"));
}

#[tokio::test]
async fn members_see_the_project_events_as_they_commit() {
    use futures_util::StreamExt;
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let schema = steerco_graphql::schema::build(
        app.state.clone(),
        steerco_graphql::schema::Limits::default(),
        false,
    );
    let as_user = |who: &TestUser, query: &str| {
        let actor = steerco_graphql::service::Actor {
            user_id: who.uuid,
            admin: false,
            token_id: uuid::Uuid::nil(),
            name: None,
        };
        steerco_graphql::schema::prepare_subscription(
            async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(
                json!({ "p": t.project }),
            )),
            &app.state,
            Some(actor),
            "test".to_owned(),
        )
    };
    let subscription = "subscription($p: ID!) { projectEvents(projectId: $p) { kind projectId subjectType subjectId } }";
    let mut events = schema.execute_stream(as_user(&t.qa, subscription));
    let stranger = app.user("Out Sider", false).await;
    let mut refused = schema.execute_stream(as_user(&stranger, subscription));
    let response = refused.next().await.unwrap();
    assert_eq!(
        response.errors[0]
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .map(|c| c.to_string()),
        Some("\"NOT_FOUND\"".to_owned())
    );
    // The subscription starts listening when first polled.
    let listening = tokio::spawn(async move { events.next().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    one_email(&app, &t).await;
    let next = tokio::time::timeout(Duration::from_secs(5), listening)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(next.errors.is_empty(), "{:?}", next.errors);
    let event = next.data.into_json().unwrap();
    assert_eq!(
        event["projectEvents"]["kind"], "change_request.status_changed",
        "{event}"
    );
    assert_eq!(event["projectEvents"]["subjectType"], "ChangeRequest");
}

#[tokio::test]
async fn a_running_worker_sends_on_commit_and_stops_when_told() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(mail.worker.clone().run(async {
        let _ = stopped.await;
    }));
    // The commit wakes the worker: no polling interval to wait out.
    one_email(&app, &t).await;
    mail.smtp.wait_for(1, Duration::from_secs(5)).await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("stops promptly")
        .unwrap();
    assert_eq!(rows(&app).await[0].status, "SENT");
}

/// At shutdown the batch in flight finishes and no other begins: a backlog does not hold the
/// process up until it is all sent.
#[tokio::test]
async fn a_worker_told_to_stop_finishes_its_batch_and_leaves_the_backlog() {
    let app = TestApp::spawn().await;
    let smtp = crate::smtp::SmtpServer::start().await;
    let t = team(&app).await;
    one_email(&app, &t).await;
    one_email(&app, &t).await;
    let worker = steerco::worker::Worker::new(
        app.state.clone(),
        steerco::worker::WorkerConfig {
            smtp_url: Some(smtp.url()),
            batch: 1,
            ..steerco::worker::WorkerConfig::default()
        },
    )
    .unwrap();
    tokio::time::timeout(Duration::from_secs(10), worker.run(std::future::ready(())))
        .await
        .expect("stops after its batch");
    assert_eq!(smtp.received_count(), 1);
    let mut statuses: Vec<String> = rows(&app).await.into_iter().map(|row| row.status).collect();
    statuses.sort();
    assert_eq!(statuses, ["PENDING", "SENT"]);
}

#[tokio::test]
async fn steerco_worker_delivers_from_the_shared_database() {
    use sea_orm::sea_query::Expr;
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    one_email(&app, &t).await;
    // The process runs on the real clock, years before the tests' clock: make the row due.
    notification::Entity::update_many()
        .col_expr(
            notification::Column::NextAttemptAt,
            Expr::value(chrono::Utc::now() - Days::minutes(1)),
        )
        .exec(app.db())
        .await
        .unwrap();
    let mut worker = std::process::Command::new(env!("CARGO_BIN_EXE_steerco"))
        .arg("worker")
        .env("DATABASE_URL", &app.database.url)
        .env("SMTP_URL", mail.smtp.url())
        .env("MAIL_FROM", "Steerco <steerco@steerco.test>")
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("start steerco worker");
    let received = mail.smtp.wait_for(1, Duration::from_secs(20)).await;
    worker.kill().ok();
    worker.wait().ok();
    assert_eq!(received[0].rcpt_to, std::slice::from_ref(&t.pm.email));
    assert_eq!(
        received[0].header("X-Steerco-Kind").as_deref(),
        Some("change_request.submitted")
    );
}

/// A demo person, with a token issued as the operator would.
async fn demo_person(app: &TestApp, email: &str) -> TestUser {
    let address = steerco_graphql::domain::user::EmailAddress::parse(email).unwrap();
    let user = steerco_graphql::service::user::find_by_email(app.db(), &address)
        .await
        .unwrap()
        .unwrap();
    let issued = steerco_graphql::service::token::issue_for_operator(&app.state, user.id, "test")
        .await
        .unwrap();
    TestUser {
        id: steerco_graphql::schema::id::encode(steerco_graphql::schema::id::Kind::User, user.id)
            .to_string(),
        uuid: user.id,
        email: email.to_owned(),
        token: issued.token,
    }
}

fn pairs(emails: &[&str], kind: &str) -> Vec<(String, String)> {
    emails
        .iter()
        .map(|email| ((*email).to_owned(), kind.to_owned()))
        .collect()
}

fn sorted(mut pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs.sort();
    pairs
}

#[tokio::test]
async fn walking_the_demo_through_a_change_a_gate_and_a_defect_mails_the_routing_table() {
    const PM: &str = "anna.berg@demo.steerco.dev";
    const SPONSOR: &str = "wei.zhang@demo.steerco.dev";
    const LENA: &str = "lena.fischer@demo.steerco.dev";
    const OMAR: &str = "omar.haddad@demo.steerco.dev";
    const BUSINESS: &str = "mei.lin@demo.steerco.dev";
    const IT: &str = "raj.patel@demo.steerco.dev";
    const QA: &str = "sofia.rossi@demo.steerco.dev";
    const VENDOR: &str = "vendor@demo.steerco.dev";
    const COMMITTEE: [&str; 3] = [SPONSOR, LENA, OMAR];
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    steerco::seed::demo(&app.state).await.unwrap();
    mail.deliver().await;
    let mut seen = mail.smtp.received_count();
    assert!(seen > 20, "the seed's own emails went out: {seen}");
    let pm = demo_person(&app, PM).await;
    let business = demo_person(&app, BUSINESS).await;
    let qa = demo_person(&app, QA).await;
    let vendor = demo_person(&app, VENDOR).await;
    let data = app
        .ok(
            &pm,
            "{ project(code: \"CRM-DEMO\") { id phases { id status } } }",
            json!({}),
        )
        .await;
    let project = data["project"]["id"].as_str().unwrap().to_owned();
    let phase = data["project"]["phases"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(data["project"]["phases"][1]["status"], "IN_PROGRESS");
    let matrix = app
        .ok(&pm, "query($p: ID!) { raciMatrix(projectId: $p) { activities { phaseId informed { email } } } }", json!({ "p": project }))
        .await;
    let informed: BTreeSet<String> = matrix["raciMatrix"]["activities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["phaseId"] == phase.as_str())
        .flat_map(|a| a["informed"].as_array().unwrap().clone())
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect();

    // A change request from the business (who reads Chinese), decided by the PM.
    let data = app
        .ok(&business, "mutation($p: ID!, $ph: ID!) { changeRequestCreate(input: { projectId: $p, title: \"WeChat sign-in\", justification: \"Field sales ask for it\", category: SCOPE, priority: SHOULD, links: { phaseId: $ph } }) { changeRequest { id } userErrors { code message } } }", json!({ "p": project, "ph": phase }))
        .await;
    let cr = data["changeRequestCreate"]["changeRequest"].clone();
    act(&app, &business, &cr, "SUBMIT", None).await;
    assert_eq!(
        step(&mail, &mut seen).await,
        pairs(&[PM], "change_request.submitted")
    );
    act(&app, &pm, &cr, "START_ASSESSMENT", None).await;
    let impact = json!({
        "schedule": { "days": 1 },
        "cost": { "amount": "2000", "currency": "CNY", "budgetLine": "Config" },
        "effort": { "personDays": "2" },
        "risk": { "level": "LOW", "description": "A login option" }
    });
    assert_eq!(
        assess(&app, &pm, &cr, impact).await["userErrors"],
        json!([])
    );
    act(&app, &pm, &cr, "REQUEST_DECISION", None).await;
    assert_eq!(
        step(&mail, &mut seen).await,
        sorted(pairs(&[BUSINESS], "change_request.awaiting_decision"))
    );
    let approved = act(&app, &pm, &cr, "APPROVE", Some("Small and safe")).await;
    assert_eq!(
        approved["changeRequest"]["status"], "APPROVED",
        "{approved}"
    );
    let mut expected: BTreeSet<String> = [BUSINESS, PM]
        .into_iter()
        .chain(COMMITTEE)
        .map(str::to_owned)
        .collect();
    expected.extend(informed);
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(
        step(&mail, &mut seen).await,
        sorted(pairs(&expected, "change_request.approved"))
    );
    let to_business = mail
        .smtp
        .received()
        .into_iter()
        .rev()
        .find(|m| m.rcpt_to == [BUSINESS])
        .unwrap();
    assert!(
        to_business.subject().contains("变更请求"),
        "{}",
        to_business.subject()
    );

    // The gate of the phase in progress; the sponsor reads gate news in her digest, but the
    // ballot reaches her at once.
    complete_gate_items(&app, &pm, &phase).await;
    mail.deliver().await;
    seen = mail.smtp.received_count();
    let data = app.ok(&pm, GATE, json!({ "id": phase })).await;
    assert_eq!(data["phaseGateRequest"]["userErrors"], json!([]), "{data}");
    let decision = data["phaseGateRequest"]["decision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        step(&mail, &mut seen).await,
        sorted(
            [
                pairs(&COMMITTEE, "decision.opened"),
                // The phase's owner is the PM.
                pairs(&[LENA, OMAR, PM], "phase.gate_requested")
            ]
            .concat()
        )
    );
    let to_sponsor = mail
        .smtp
        .received()
        .into_iter()
        .rev()
        .find(|m| m.rcpt_to == [SPONSOR])
        .unwrap();
    assert!(to_sponsor.subject().starts_with("[CRM-DEMO]"));
    assert!(
        to_sponsor.text_body().contains("您好") && to_sponsor.text_body().contains("表决"),
        "{}",
        to_sponsor.text_body()
    );
    let mut decided = false;
    for voter in COMMITTEE {
        let voter = demo_person(&app, voter).await;
        let cast = vote(&app, &voter, &decision, json!({ "choice": "GO" })).await;
        assert_eq!(cast["userErrors"], json!([]), "{cast}");
        let mut expected = pairs(&[PM], "decision.vote_cast");
        if cast["decision"]["status"] == "DECIDED" {
            let everyone = [PM, LENA, OMAR, BUSINESS, IT, QA, VENDOR];
            expected.extend(pairs(&everyone, "phase.gate_decided"));
            decided = true;
        }
        assert_eq!(step(&mail, &mut seen).await, sorted(expected));
        if decided {
            break;
        }
    }
    assert!(decided);

    // A critical defect through its fix-retest loop.
    let data = app.ok(&qa, DEFECT_CREATE, json!({ "p": project })).await;
    assert_eq!(data["defectCreate"]["userErrors"], json!([]), "{data}");
    let defect = data["defectCreate"]["defect"]["id"].clone();
    assert_eq!(
        step(&mail, &mut seen).await,
        sorted(pairs(&[PM, QA], "defect.critical_logged"))
    );
    defect_act(&app, &qa, &defect, json!({ "action": "TRIAGE" })).await;
    defect_act(
        &app,
        &qa,
        &defect,
        json!({ "action": "ASSIGN", "assigneeId": vendor.id }),
    )
    .await;
    assert_eq!(
        step(&mail, &mut seen).await,
        pairs(&[VENDOR], "defect.assigned")
    );
    defect_act(&app, &vendor, &defect, json!({ "action": "START_FIX" })).await;
    defect_act(
        &app,
        &vendor,
        &defect,
        json!({ "action": "MARK_READY_FOR_RETEST" }),
    )
    .await;
    assert_eq!(
        step(&mail, &mut seen).await,
        pairs(&[QA], "defect.ready_for_retest")
    );
    defect_act(
        &app,
        &qa,
        &defect,
        json!({ "action": "REOPEN", "reason": "Still lost" }),
    )
    .await;
    assert_eq!(
        step(&mail, &mut seen).await,
        sorted(pairs(&[PM, VENDOR], "defect.reopened"))
    );
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws connection to `app`'s `/graphql/ws`, initialised with `who`'s token.
async fn socket_of(app: &TestApp, who: &TestUser) -> Socket {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let url = format!("{}/graphql/ws", app.base_url.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", who.token) } });
    socket
        .send(Message::Text(init.to_string().into()))
        .await
        .unwrap();
    socket
}

/// The next text message of `socket`, as JSON.
async fn next_json(socket: &mut Socket) -> Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("readable");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// The WebSocket carries subscriptions only: a query or a mutation sent over it is refused
/// before it runs, since the rate limit, the one sign-in a request and the time limit hold on
/// `POST /graphql` alone.
#[tokio::test]
async fn the_websocket_refuses_queries_and_mutations() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let mut socket = socket_of(&app, &t.pm).await;
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    let before = app.snapshot().await;
    let operations = [
        json!({ "query": format!("mutation {{ sessionCreate(input: {{ email: \"{}\", password: \"wrong-password\" }}) {{ token }} }}", t.qa.email) }),
        json!({ "query": "mutation($p: ID!) { changeRequestCreate(input: { projectId: $p, title: \"By socket\", description: \"d\", justification: \"j\" }) { changeRequest { id } } }", "variables": { "p": t.project } }),
        json!({ "query": "{ me { email } }" }),
        // One named operation, run without its name.
        json!({ "query": format!("mutation SignIn {{ sessionCreate(input: {{ email: \"{}\", password: \"wrong-password\" }}) {{ token }} }}", t.qa.email) }),
        json!({ "query": "subscription S { projectEvents(projectId: \"x\") { kind } } query Q { me { email } }", "operationName": "Q" }),
    ];
    for (id, payload) in operations.into_iter().enumerate() {
        let subscribe = json!({ "id": id.to_string(), "type": "subscribe", "payload": payload });
        socket
            .send(Message::Text(subscribe.to_string().into()))
            .await
            .unwrap();
        let answer = next_json(&mut socket).await;
        assert_eq!(
            (&answer["id"], &answer["type"]),
            (&json!(id.to_string()), &json!("next")),
            "{answer}"
        );
        assert!(answer["payload"]["data"].is_null(), "nothing ran: {answer}");
        assert_eq!(
            answer["payload"]["errors"][0]["extensions"]["code"], "BAD_REQUEST",
            "{answer}"
        );
        let end = next_json(&mut socket).await;
        assert_eq!(end, json!({ "id": id.to_string(), "type": "complete" }));
    }
    assert_eq!(app.snapshot().await, before, "nothing was written");
}

#[tokio::test]
async fn project_events_stream_over_the_websocket_to_members_only() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
        "query": "subscription($p: ID!) { projectEvents(projectId: $p) { kind subjectType } }",
        "variables": { "p": t.project } } })
    .to_string();

    let mut member = socket_of(&app, &t.qa).await;
    assert_eq!(next_json(&mut member).await["type"], "connection_ack");
    member
        .send(Message::Text(subscribe.clone().into()))
        .await
        .unwrap();
    let stranger = app.user("Out Sider", false).await;
    let mut outsider = socket_of(&app, &stranger).await;
    assert_eq!(next_json(&mut outsider).await["type"], "connection_ack");
    outsider
        .send(Message::Text(subscribe.into()))
        .await
        .unwrap();
    let refused = next_json(&mut outsider).await;
    assert!(
        refused.to_string().contains("NOT_FOUND"),
        "a stranger learns nothing: {refused}"
    );

    // Give the subscription a moment to start listening, then change something.
    tokio::time::sleep(Duration::from_millis(300)).await;
    one_email(&app, &t).await;
    let event = next_json(&mut member).await;
    assert_eq!(event["type"], "next", "{event}");
    assert_eq!(
        event["payload"]["data"]["projectEvents"],
        json!({ "kind": "change_request.status_changed", "subjectType": "ChangeRequest" })
    );

    // A subscription signed in with a token it no longer holds hears no more: its stream
    // ends at the next event.
    let created = app
        .ok(
            &t.qa,
            "mutation { apiTokenCreate(input: { name: \"Dashboard\" }) { token apiToken { id } } }",
            json!({}),
        )
        .await;
    let dashboard = TestUser {
        id: t.qa.id.clone(),
        uuid: t.qa.uuid,
        email: t.qa.email.clone(),
        token: created["apiTokenCreate"]["token"]
            .as_str()
            .unwrap()
            .to_owned(),
    };
    let mut watching = socket_of(&app, &dashboard).await;
    assert_eq!(next_json(&mut watching).await["type"], "connection_ack");
    let subscribe = json!({ "id": "2", "type": "subscribe", "payload": {
        "query": "subscription($p: ID!) { projectEvents(projectId: $p) { kind } }",
        "variables": { "p": t.project } } });
    watching
        .send(Message::Text(subscribe.to_string().into()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.ok(
        &t.qa,
        "mutation($id: ID!) { apiTokenRevoke(input: { id: $id }) { userErrors { code } } }",
        json!({ "id": created["apiTokenCreate"]["apiToken"]["id"] }),
    )
    .await;
    one_email(&app, &t).await;
    let ended = next_json(&mut watching).await;
    assert_eq!(ended, json!({ "id": "2", "type": "complete" }));
}

/// A claim reads the due rows only, through the index on (status, next attempt), however many
/// rows wait for a later attempt: on SQLite it reads them holding the one writer.
#[tokio::test]
async fn a_claim_finds_the_due_rows_by_their_time_in_the_index() {
    use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement, TransactionTrait};
    let app = TestApp::spawn().await;
    let backend = app.db().get_database_backend();
    let claim = outbox::due_rows(app.clock.now(), 32).build(backend);
    let txn = app.db().begin().await.unwrap();
    if backend == DbBackend::Postgres {
        // An empty table is read whole otherwise, whatever the indexes.
        txn.execute_unprepared("SET LOCAL enable_seqscan = off")
            .await
            .unwrap();
    }
    let explain = match backend {
        DbBackend::Sqlite => "EXPLAIN QUERY PLAN",
        _ => "EXPLAIN",
    };
    let plan: Vec<String> = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!("{explain} {}", claim.sql),
            claim.values.map(|values| values.0).unwrap_or_default(),
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| match backend {
            DbBackend::Sqlite => row.try_get::<String>("", "detail").unwrap(),
            _ => row.try_get::<String>("", "QUERY PLAN").unwrap(),
        })
        .collect();
    let bounded_by_time = match backend {
        DbBackend::Sqlite => plan
            .iter()
            .any(|line| line.contains("idx_notification_due_at (status=? AND next_attempt_at<?)")),
        _ => plan.windows(2).any(|lines| {
            lines[0].contains("idx_notification_due_at")
                && lines[1].contains("Index Cond")
                && lines[1].contains("next_attempt_at <=")
        }),
    };
    assert!(bounded_by_time, "{plan:#?}");
}

#[tokio::test]
async fn a_cancelled_project_reminds_nobody_of_its_milestones() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    // A milestone that will be a day overdue: its owner and the PM would be reminded of it.
    let due = app.state.clock.now().date_naive() + Days::days(2);
    let created = app
        .ok(&t.pm, "mutation($p: ID!, $o: ID!, $d: NaiveDate!) { milestoneCreate(input: { phaseId: $p, name: \"Data migrated\", ownerId: $o, forecastDate: $d }) { userErrors { code message } } }", json!({ "p": t.phase, "o": t.dev.id, "d": due }))
        .await;
    assert_eq!(
        created["milestoneCreate"]["userErrors"],
        json!([]),
        "{created}"
    );
    // Overdue then, and no longer editable: nobody could stop its reminders.
    assert_eq!(cancelled_then_three_days(&app, &mail, &t).await, got(&[]));
}

/// Cancels the team's project, lets three days pass and runs the scheduler: the emails sent
/// after the cancellation's own.
async fn cancelled_then_three_days(app: &TestApp, mail: &Mail, t: &Team) -> Vec<(String, String)> {
    let cancelled = app
        .ok(&t.pm, "mutation($id: ID!) { projectTransition(input: { id: $id, action: CANCEL, reason: \"Budget withdrawn\" }) { userErrors { code } } }", json!({ "id": t.project }))
        .await;
    assert_eq!(cancelled["projectTransition"]["userErrors"], json!([]));
    mail.deliver().await;
    let seen = mail.smtp.received_count();
    app.clock.advance(Days::hours(72));
    outbox::run_scheduler(&app.state).await.unwrap();
    mail.deliver().await;
    mail.since(seen)
}

/// A milestone is overdue once its forecast date has passed where its project is: the
/// reminder counts the project's days, not UTC's, as the milestone's health does, and comes
/// once in each of them.
#[tokio::test]
async fn a_milestone_is_reminded_of_on_its_projects_days() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let version = app
        .ok(
            &t.pm,
            "query($p: ID!) { project(id: $p) { version } }",
            json!({ "p": t.project }),
        )
        .await["project"]["version"]
        .clone();
    let moved = app
        .ok(&t.pm, "mutation($p: ID!, $v: Int!) { projectUpdate(input: { id: $p, expectedVersion: $v, timeZone: \"America/Los_Angeles\" }) { userErrors { code message } } }", json!({ "p": t.project, "v": version }))
        .await;
    assert_eq!(moved["projectUpdate"]["userErrors"], json!([]), "{moved}");
    // The clock starts on 2027-03-01 at 09:00 UTC.
    let created = app
        .ok(&t.pm, "mutation($p: ID!, $o: ID!) { milestoneCreate(input: { phaseId: $p, name: \"Data migrated\", ownerId: $o, forecastDate: \"2027-03-03\" }) { userErrors { code message } } }", json!({ "p": t.phase, "o": t.dev.id }))
        .await;
    assert_eq!(
        created["milestoneCreate"]["userErrors"],
        json!([]),
        "{created}"
    );
    mail.deliver().await;
    let mut seen = mail.smtp.received_count();
    // 2027-03-04 00:30 UTC: still the 3rd in Los Angeles, where the milestone is not late.
    app.clock.advance(Days::minutes(63 * 60 + 30));
    assert_eq!(overdue_reminders(&app, &mail, &mut seen).await, got(&[]));
    // 09:00 UTC: the 4th there, its first day late.
    app.clock.advance(Days::minutes(8 * 60 + 30));
    assert_eq!(
        overdue_reminders(&app, &mail, &mut seen).await,
        got(&[(&t.pm, "milestone.overdue"), (&t.dev, "milestone.overdue")])
    );
    // 2027-03-05 07:30 UTC, another day in UTC but still the 4th there: not again.
    app.clock.advance(Days::minutes(22 * 60 + 30));
    assert_eq!(overdue_reminders(&app, &mail, &mut seen).await, got(&[]));
}

/// Runs a scheduler pass and delivers: the milestone.overdue emails since `seen`.
async fn overdue_reminders(app: &TestApp, mail: &Mail, seen: &mut usize) -> Vec<(String, String)> {
    outbox::run_scheduler(&app.state).await.unwrap();
    mail.deliver().await;
    let arrived = mail
        .since(*seen)
        .into_iter()
        .filter(|(_, kind)| kind == "milestone.overdue")
        .collect();
    *seen = mail.smtp.received_count();
    arrived
}

/// DOMAIN §12.1: the whole team, committee included, hears the project initiated and its
/// execution started; its close reaches the PM, the sponsor, the committee and finance.
#[tokio::test]
async fn a_project_initiated_started_and_closed_reaches_the_people_its_lifecycle_names() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let sponsor = app.user("Omar Haddad", false).await;
    app.add_member(&t.pm, &t.project, &sponsor, &["SPONSOR"])
        .await;
    let finance = app.user("Ines Duarte", false).await;
    app.add_member(&t.pm, &t.project, &finance, &["FINANCE_REP"])
        .await;
    app.baseline_scope(&t.pm, &t.project, &[&sponsor, &t.informed])
        .await;
    // Execution needs an owner for every milestone.
    let plan = app
        .ok(
            &t.pm,
            "query($p: ID!) { project(id: $p) { phases { milestones { id version } } } }",
            json!({ "p": t.project }),
        )
        .await;
    let milestone = &plan["project"]["phases"][0]["milestones"][0];
    let owned = app
        .ok(&t.pm, "mutation($id: ID!, $v: Int!, $owner: ID!) { milestoneUpdate(input: { id: $id, expectedVersion: $v, ownerId: $owner }) { userErrors { code message } } }", json!({ "id": milestone["id"], "v": milestone["version"], "owner": t.pm.id }))
        .await;
    assert_eq!(owned["milestoneUpdate"]["userErrors"], json!([]), "{owned}");
    let mut seen = 0;
    step(&mail, &mut seen).await;

    let transition = "mutation($input: ProjectTransitionInput!) { projectTransition(input: $input) { userErrors { code message } } }";
    let everyone = [
        &t.pm,
        &sponsor,
        &finance,
        &t.chair,
        &t.member,
        &t.qa,
        &t.dev,
        &t.informed,
    ];
    for (who, action, kind) in [
        (&sponsor, "INITIATE", "project.initiated"),
        (&t.pm, "START_EXECUTION", "project.execution_started"),
    ] {
        let moved = app
            .ok(
                who,
                transition,
                json!({ "input": { "id": t.project, "action": action } }),
            )
            .await;
        assert_eq!(
            moved["projectTransition"]["userErrors"],
            json!([]),
            "{moved}"
        );
        let expected: Vec<(&TestUser, &str)> = everyone.iter().map(|who| (*who, kind)).collect();
        assert_eq!(step(&mail, &mut seen).await, got(&expected), "{action}");
    }
    let initiated = last_email(&mail, &t.chair, "project.initiated");
    assert!(
        initiated.subject().contains("项目已立项"),
        "{}",
        initiated.subject()
    );
    assert!(
        initiated.text_body().contains("Omar Haddad"),
        "{}",
        initiated.text_body()
    );

    // OPTIMIZATION is reached through a go-live plan (go_live.rs); here the row is put there.
    app.put_project_in(&t.project, "OPTIMIZATION").await;
    let closed = app
        .ok(
            &sponsor,
            transition,
            json!({ "input": { "id": t.project, "action": "CLOSE" } }),
        )
        .await;
    assert_eq!(
        closed["projectTransition"]["userErrors"],
        json!([]),
        "{closed}"
    );
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[
            (&t.pm, "project.closed"),
            (&sponsor, "project.closed"),
            (&finance, "project.closed"),
            (&t.chair, "project.closed"),
            (&t.member, "project.closed"),
        ])
    );
}

/// DOMAIN §12.3: a milestone at risk (RED) or missed reaches the sponsor as well as its owner
/// and the PMs; a slip within tolerance (AMBER) stays between the owner and the PMs.
#[tokio::test]
async fn a_milestone_at_risk_or_missed_reaches_the_sponsor_too() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let sponsor = app.user("Omar Haddad", false).await;
    app.add_member(&t.pm, &t.project, &sponsor, &["SPONSOR"])
        .await;
    let data = app
        .ok(
            &t.pm,
            "query($id: ID!) { node(id: $id) { ... on Phase { milestones { id version } } } }",
            json!({ "id": t.phase }),
        )
        .await;
    let milestone = data["node"]["milestones"][0].clone();
    let mut seen = 0;
    step(&mail, &mut seen).await;

    let update = "mutation($input: MilestoneUpdateInput!) { milestoneUpdate(input: $input) { milestone { version health } userErrors { code message } } }";
    let mut version = milestone["version"].clone();
    for (forecast, health, told) in [
        ("2027-04-03", "AMBER", vec![&t.dev, &t.pm]),
        ("2027-05-01", "RED", vec![&t.dev, &t.pm, &sponsor]),
    ] {
        let moved = app
            .ok(&t.pm, update, json!({ "input": { "id": milestone["id"], "expectedVersion": version, "forecastDate": forecast, "ownerId": t.dev.id } }))
            .await;
        let moved = &moved["milestoneUpdate"];
        assert_eq!(moved["userErrors"], json!([]), "{moved}");
        assert_eq!(moved["milestone"]["health"], health);
        version = moved["milestone"]["version"].clone();
        let expected: Vec<(&TestUser, &str)> = told
            .into_iter()
            .map(|who| (who, "milestone.health_changed"))
            .collect();
        assert_eq!(step(&mail, &mut seen).await, got(&expected), "{health}");
    }
    let missed = app
        .ok(&t.pm, "mutation($id: ID!) { milestoneTransition(input: { id: $id, action: MISS }) { userErrors { code message } } }", json!({ "id": milestone["id"] }))
        .await;
    assert_eq!(
        missed["milestoneTransition"]["userErrors"],
        json!([]),
        "{missed}"
    );
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[
            (&t.dev, "milestone.missed"),
            (&t.pm, "milestone.missed"),
            (&sponsor, "milestone.missed"),
        ])
    );
}

/// DOMAIN §12.3: a key milestone reached is the progress bulletin of the whole team; another
/// milestone reached mails nobody.
#[tokio::test]
async fn a_key_milestone_achieved_reaches_every_member_and_another_nobody() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let create = "mutation($p: ID!, $name: String!, $key: Boolean!, $owner: ID!) { milestoneCreate(input: { phaseId: $p, name: $name, ownerId: $owner, forecastDate: \"2027-02-20\", key: $key }) { milestone { id key } userErrors { code message } } }";
    let achieve = "mutation($id: ID!) { milestoneTransition(input: { id: $id, action: ACHIEVE }) { milestone { status } userErrors { code message } } }";
    let mut milestones = Vec::new();
    for (name, key) in [("Pilot region live", true), ("Training room booked", true)] {
        let created = app
            .ok(
                &t.pm,
                create,
                json!({ "p": t.phase, "name": name, "key": key, "owner": t.dev.id }),
            )
            .await;
        let milestone = &created["milestoneCreate"]["milestone"];
        assert_eq!(milestone["key"], key, "{created}");
        milestones.push(milestone["id"].clone());
    }
    // The second turns out not to be one.
    let updated = app
        .ok(&t.pm, "mutation($id: ID!) { milestoneUpdate(input: { id: $id, expectedVersion: 1, key: false }) { milestone { key } userErrors { code message } } }", json!({ "id": milestones[1] }))
        .await;
    assert_eq!(
        updated["milestoneUpdate"]["milestone"]["key"], false,
        "{updated}"
    );
    let mut seen = 0;
    step(&mail, &mut seen).await;

    let reached = app
        .ok(&t.dev, achieve, json!({ "id": milestones[0] }))
        .await;
    assert_eq!(
        reached["milestoneTransition"]["milestone"]["status"], "ACHIEVED",
        "{reached}"
    );
    let kind = "milestone.achieved";
    assert_eq!(
        step(&mail, &mut seen).await,
        got(&[
            (&t.pm, kind),
            (&t.chair, kind),
            (&t.member, kind),
            (&t.qa, kind),
            (&t.dev, kind),
            (&t.informed, kind)
        ])
    );
    let today = app.clock.now().date_naive().to_string();
    let bulletin = last_email(&mail, &t.qa, kind);
    assert_eq!(
        bulletin.subject(),
        "[CRM-MAIL] Milestone achieved: Pilot region live"
    );
    assert!(
        bulletin.text_body().contains(&format!(
            "Key milestone \"Pilot region live\" of project \"CRM rollout\" was achieved on {today}."
        )),
        "{}",
        bulletin.text_body()
    );
    let to_chair = last_email(&mail, &t.chair, kind);
    assert!(
        to_chair
            .text_body()
            .contains("关键里程碑“Pilot region live”"),
        "{}",
        to_chair.text_body()
    );

    let reached = app
        .ok(&t.dev, achieve, json!({ "id": milestones[1] }))
        .await;
    assert_eq!(
        reached["milestoneTransition"]["milestone"]["status"], "ACHIEVED",
        "{reached}"
    );
    assert_eq!(step(&mail, &mut seen).await, [], "not a key milestone");
}

/// DOMAIN §12.8: while a test cycle runs, the PMs and the business representatives get the
/// day's open defects by severity, once a day from the digest hour; nothing once it stops.
#[tokio::test]
async fn while_uat_runs_the_pm_and_the_business_hear_each_day_where_the_defects_stand() {
    let app = TestApp::spawn().await;
    let mail = app.mail().await;
    let t = team(&app).await;
    let report = "defect.open_report";
    let reports = |mail: &Mail, since: usize| -> Vec<(String, String)> {
        mail.since(since)
            .into_iter()
            .filter(|(_, kind)| kind == report)
            .collect()
    };
    // 09:00, after the digest hour: no cycle runs, so no report.
    assert_eq!(
        outbox::run_scheduler(&app.state).await.unwrap().reminders,
        0
    );

    let data = app
        .ok(&t.qa, "mutation($p: ID!) { testCycleCreate(input: { projectId: $p, name: \"Sales UAT\", stage: USER_TRIAL, environment: \"UAT sandbox\" }) { cycle { id } userErrors { code } } }", json!({ "p": t.project }))
        .await;
    let cycle = data["testCycleCreate"]["cycle"]["id"].clone();
    let cycle_action = "mutation($id: ID!, $a: TestCycleAction!) { testCycleTransition(input: { id: $id, action: $a }) { cycle { status } userErrors { code } } }";
    let started = app
        .ok(&t.qa, cycle_action, json!({ "id": cycle, "a": "START" }))
        .await;
    assert_eq!(
        started["testCycleTransition"]["cycle"]["status"], "RUNNING",
        "{started}"
    );
    for severity in [json!("CRITICAL"), json!("MAJOR"), Value::Null] {
        let data = app
            .ok(&t.qa, "mutation($p: ID!, $s: Severity) { defectCreate(input: { projectId: $p, defect: { title: \"Quote total wrong\", stepsToReproduce: \"Add a line\", actualResult: \"Off by one\", severity: $s } }) { userErrors { code message } } }", json!({ "p": t.project, "s": severity }))
            .await;
        assert_eq!(data["defectCreate"]["userErrors"], json!([]), "{data}");
    }
    mail.deliver().await;
    let seen = mail.smtp.received_count();

    let pass = outbox::run_scheduler(&app.state).await.unwrap();
    assert_eq!(pass.reminders, 2, "the PM and the business representative");
    mail.deliver().await;
    assert_eq!(
        reports(&mail, seen),
        got(&[(&t.pm, report), (&t.informed, report)])
    );
    let to_pm = last_email(&mail, &t.pm, report);
    assert_eq!(
        to_pm.subject(),
        "[CRM-MAIL] UAT open defects: 3 (1 critical)"
    );
    let body = to_pm.text_body();
    for line in [
        "while test cycle \"Sales UAT\" runs:",
        "Critical: 1",
        "Major: 1",
        "Minor: 0",
        "Not graded yet: 1",
        "Open in all: 3",
    ] {
        assert!(body.contains(line), "{line} in {body}");
    }

    // Once a day, however many passes; the next day again.
    let seen = mail.smtp.received_count();
    assert_eq!(
        outbox::run_scheduler(&app.state).await.unwrap().reminders,
        0
    );
    app.clock.advance(Days::days(1));
    assert_eq!(
        outbox::run_scheduler(&app.state).await.unwrap().reminders,
        2
    );
    mail.deliver().await;
    assert_eq!(
        reports(&mail, seen),
        got(&[(&t.pm, report), (&t.informed, report)])
    );

    // A reader of defect news in a digest finds the day's report in that day's digest.
    let digested = app
        .ok(
            &t.informed,
            PREFERENCES,
            json!({ "p": [{ "class": "DEFECT", "delivery": "DAILY_DIGEST" }] }),
        )
        .await;
    assert_eq!(
        digested["notificationPreferencesUpdate"]["userErrors"],
        json!([])
    );
    let seen = mail.smtp.received_count();
    app.clock.advance(Days::days(1));
    let pass = outbox::run_scheduler(&app.state).await.unwrap();
    assert_eq!(pass.digests, 1, "{pass:?}");
    mail.deliver().await;
    assert_eq!(
        mail.since(seen),
        got(&[(&t.pm, report), (&t.informed, "digest.daily")])
    );
    let digest = last_email(&mail, &t.informed, "digest.daily");
    assert!(
        digest
            .text_body()
            .contains("UAT open defects: 3 (1 critical)"),
        "{}",
        digest.text_body()
    );

    // A cycle no longer running is reported no more.
    let completed = app
        .ok(&t.qa, cycle_action, json!({ "id": cycle, "a": "COMPLETE" }))
        .await;
    assert_eq!(
        completed["testCycleTransition"]["cycle"]["status"], "COMPLETED",
        "{completed}"
    );
    app.clock.advance(Days::days(1));
    assert_eq!(
        outbox::run_scheduler(&app.state).await.unwrap().reminders,
        0
    );
}
