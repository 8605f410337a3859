//! W3 (logging a critical defect: defect, audit event and outbox emails in one transaction,
//! from 1, 8 and 32 clients) and W4 (32 committee members racing to approve a change request:
//! exactly one decision per ballot).

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use steerco::worker::{Worker, WorkerConfig};
use steerco_entity::{audit_event, defect, notification};
use tokio::sync::{Barrier, oneshot};

use crate::Error;
use crate::harness::{Api, Percentiles, ProcessLoad, Run, drive, peak_rss_mb, reset_peak_rss};
use crate::report::{Row, Table};
use crate::setup::{Bench, user_with_token};
use crate::smtp::SmtpServer;

const DEFECT_CREATE: &str = "mutation($input: DefectCreateInput!) {
  defectCreate(input: $input) { defect { id } userErrors { code message } }
}";

/// W3FLOOR's request: everything a defect's request takes but its command.
const FLOOR: &str = "{ __typename }";

/// The W3 target: transactions per second on SQLite, with no busy error.
const W3_TARGET_PER_SECOND: f64 = 2_000.0;

/// Who delivers W3's emails while it runs: nobody (W3 alone measures the writes), or a
/// delivery worker sending them to a loopback SMTP server as they are queued (`W3MAIL`: the
/// worker's own writes, claiming rows and marking them sent, then compete for SQLite's one
/// writer with the defects). The worker delivers as the server's does, woken by each commit
/// that queued emails, but runs no reminder scheduler, whose pass would write in the run.
#[derive(Clone, Copy)]
pub enum Delivery<'a> {
    Off,
    To(&'a SmtpServer),
}

/// W3 at each client count: every client logs CRITICAL defects (which email the project
/// manager and QA) on projects in execution, each request on the next project in turn.
pub async fn defects(
    bench: &Bench,
    client_counts: &[usize],
    duration: Duration,
    delivery: Delivery<'_>,
    table: &mut Table,
) -> Result<(), Error> {
    let projects: Arc<[String]> = bench
        .in_execution()
        .into_iter()
        .map(|project| project.id)
        .collect();
    if projects.is_empty() {
        return Err("W3 needs a project in execution; seed more projects".into());
    }
    for &clients in client_counts {
        let counts_before = counts(bench).await?;
        let groups_before = bench.state.writer.group_stats();
        let busy_before = bench.state.writer.busy_times();
        let log_before = bench.log.count();
        reset_peak_rss(None);
        let worker = match delivery {
            Delivery::Off => None,
            Delivery::To(server) => Some(DeliveryRun::start(bench, server)?),
        };
        let load_before = ProcessLoad::now();
        let api = bench.api.clone();
        let list = Arc::clone(&projects);
        let run = drive(
            clients,
            duration,
            &bench.statements,
            move |client, iteration| {
                let api = api.clone();
                let project = list[(client + iteration as usize * clients) % list.len()].clone();
                async move {
                    let input = json!({
                        "projectId": project,
                        "defect": {
                            "title": format!("Bench defect {client}-{iteration}"),
                            "stepsToReproduce": "1. Open an account\n2. Change its owner\n3. Save",
                            "expectedResult": "The new owner is saved",
                            "actualResult": "The page reloads with the old owner",
                            "severity": "CRITICAL",
                            "priority": "P1",
                            "environment": "UAT"
                        }
                    });
                    let payload = api
                        .mutate("defectCreate", DEFECT_CREATE, json!({ "input": input }))
                        .await?;
                    if payload["defect"]["id"].is_null() {
                        return Err("defectCreate answered no defect".to_owned());
                    }
                    Ok(())
                }
            },
        )
        .await?;
        let received = worker.as_ref().map(DeliveryRun::received);
        let load = ProcessLoad::per_op_since(load_before, run.ops);
        let rss = peak_rss_mb(None);
        let log = bench.log.count().since(log_before);
        let written = counts(bench).await?.since(counts_before);
        let grouped = bench
            .state
            .writer
            .group_stats()
            .zip(groups_before)
            .map(|(now, before)| now.since(before))
            .map(|done| {
                format!(
                    "; {:.1} commands per commit",
                    done.commands as f64 / done.commits.max(1) as f64
                )
            })
            .unwrap_or_default();
        let busy = bench
            .state
            .writer
            .busy_times()
            .zip(busy_before)
            .map(|(now, before)| now.since(before))
            .map(|spent| {
                format!(
                    "; writer's transaction open {:.0} % of the run, a command's turn {:.2} ms",
                    spent.open.as_secs_f64() * 100.0 / run.elapsed.as_secs_f64().max(f64::EPSILON),
                    spent.holding.as_secs_f64() * 1000.0 / spent.turns.max(1) as f64
                )
            })
            .unwrap_or_default();
        let ok = run.ops - run.errors;
        let (label, delivered) = match received {
            None => ("W3 defectCreate (CRITICAL)", String::new()),
            Some(received) => (
                "W3MAIL defectCreate, worker mailing",
                format!(
                    "; the worker's SMTP server received {received} emails during the run ({:.0}/s), {:.0} % of those queued",
                    received as f64 / run.elapsed.as_secs_f64().max(f64::EPSILON),
                    received as f64 * 100.0 / written.outbox.max(1) as f64,
                ),
            ),
        };
        let mut row = Row::from_run(label, &run, rss)
            .note(format!(
                "busy/locked {}; per tx: {:.2} defect, {:.2} audit, {:.2} outbox rows{grouped}{busy}{delivered}{}",
                log.busy,
                written.defects as f64 / ok.max(1) as f64,
                written.audit as f64 / ok.max(1) as f64,
                written.outbox as f64 / ok.max(1) as f64,
                if log.events > log.busy {
                    format!("; {} other server errors", log.events - log.busy)
                } else {
                    String::new()
                }
            ))
            .note(load.unwrap_or_default());
        if received.is_some() {
            // The worker's statements are counted with the defects'.
            row.statements = None;
        }
        table.push(row);
        if !bench.postgres && matches!(delivery, Delivery::Off) {
            table.judge(
                if clients == 1 {
                    "W3 SQLite >= 2,000 tx/s, no busy error (1 client)"
                } else if clients <= 8 {
                    "W3 SQLite >= 2,000 tx/s, no busy error (8 clients)"
                } else {
                    "W3 SQLite >= 2,000 tx/s, no busy error (32 clients)"
                },
                format!(
                    "{:.0} tx/s with {clients} client(s), {} busy, {} errors",
                    run.per_second(),
                    log.busy,
                    run.errors
                ),
                run.per_second() >= W3_TARGET_PER_SECOND && log.busy == 0 && run.errors == 0,
            );
        }
        if let Some(worker) = worker {
            worker.stop().await?;
        }
    }
    Ok(())
}

/// W3FLOOR at each of W3's client counts: the administrator's `{ __typename }`, which takes
/// everything a defect's request takes but its command: the HTTP exchange on loopback with
/// the bench's own clients, the token's check, the document's parse and validation, the
/// answer's JSON. No request that writes passes this rate from as many clients, whatever its
/// command costs. The same request without a token tells the token's check apart.
pub async fn floor(
    bench: &Bench,
    client_counts: &[usize],
    duration: Duration,
    table: &mut Table,
) -> Result<(), Error> {
    let callers = [
        ("W3FLOOR { __typename }, token", bench.api.clone()),
        (
            "W3FLOOR { __typename }, anonymous",
            bench.api.with_token(None),
        ),
    ];
    for (label, api) in callers {
        for &clients in client_counts {
            reset_peak_rss(None);
            let load_before = ProcessLoad::now();
            let api = api.clone();
            let run = drive(clients, duration, &bench.statements, move |_, _| {
                let api = api.clone();
                async move {
                    let data = api.data(FLOOR, json!({})).await?;
                    if data["__typename"].is_string() {
                        Ok(())
                    } else {
                        Err("{ __typename } answered no type name".to_owned())
                    }
                }
            })
            .await?;
            let load = ProcessLoad::per_op_since(load_before, run.ops);
            table
                .push(Row::from_run(label, &run, peak_rss_mb(None)).note(load.unwrap_or_default()));
        }
    }
    Ok(())
}

/// A delivery worker running beside W3, and the SMTP server's count of messages when it
/// started.
struct DeliveryRun<'a> {
    server: &'a SmtpServer,
    received_before: usize,
    stop: oneshot::Sender<()>,
    running: tokio::task::JoinHandle<Result<(), String>>,
}

impl<'a> DeliveryRun<'a> {
    /// Starts a worker with the server's default settings, sending to `server`.
    fn start(bench: &Bench, server: &'a SmtpServer) -> Result<Self, Error> {
        let worker = Worker::new(
            bench.state.clone(),
            WorkerConfig {
                smtp_url: Some(server.url()),
                mail_from: "Steerco <steerco@steerco.bench>".to_owned(),
                ..WorkerConfig::default()
            },
        )?;
        let woken = Arc::clone(&bench.state.outbox_written);
        let (stop, mut stopped) = oneshot::channel::<()>();
        let running = tokio::spawn(async move {
            loop {
                worker.drain().await.map_err(|error| error.to_string())?;
                tokio::select! {
                    _ = &mut stopped => break,
                    () = woken.notified() => {}
                }
            }
            // What the run queued last, so that the next run starts with nothing due.
            worker.drain().await.map_err(|error| error.to_string())?;
            Ok(())
        });
        Ok(Self {
            server,
            received_before: server.received_count(),
            stop,
            running,
        })
    }

    /// Emails the SMTP server has received since the worker started.
    fn received(&self) -> usize {
        self.server.received_count() - self.received_before
    }

    /// Stops the worker once it has sent every email due, the backlog the run left included.
    async fn stop(self) -> Result<(), Error> {
        let _ = self.stop.send(());
        Ok(self.running.await??)
    }
}

/// Row counts W3 checks its transactions by.
#[derive(Debug, Clone, Copy)]
struct Counts {
    defects: u64,
    audit: u64,
    outbox: u64,
}

impl Counts {
    fn since(self, earlier: Counts) -> Counts {
        Counts {
            defects: self.defects - earlier.defects,
            audit: self.audit - earlier.audit,
            outbox: self.outbox - earlier.outbox,
        }
    }
}

async fn counts(bench: &Bench) -> Result<Counts, Error> {
    let db = &bench.state.db;
    Ok(Counts {
        defects: defect::Entity::find().count(db).await?,
        audit: audit_event::Entity::find().count(db).await?,
        outbox: notification::Entity::find().count(db).await?,
    })
}

const COMMITTEE: usize = 32;
/// Votes a MAJORITY ballot of 32 takes: the 17th decides, the 15 after it come too late.
const MAJORITY: usize = COMMITTEE / 2 + 1;

const CR_FIELDS: &str = "id version status ballot { decision { id status } }";
const VOTE: &str = "mutation($input: DecisionVoteCastInput!) {
  decisionVoteCast(input: $input) { decision { status outcome } userErrors { code field message } }
}";

/// W4: a project whose committee has 32 members; per round, a change request above the red
/// line is raised, assessed and sent to the committee, then all 32 vote APPROVE at once.
/// Checks per round: 17 votes accepted, 15 refused as late, one vote saw the decision, one
/// `decision.closed` and one `change_request.approve` audit event.
pub async fn ballots(bench: &Bench, rounds: usize, table: &mut Table) -> Result<(), Error> {
    let admin = &bench.api;
    let created = admin
        .mutate(
            "projectCreate",
            "mutation { projectCreate(input: { code: \"W4-BALLOT\", name: \"W4 ballot race\", template: null }) { project { id } userErrors { code message } } }",
            json!({}),
        )
        .await?;
    let project = created["project"]["id"].clone();
    let mut voters = Vec::with_capacity(COMMITTEE);
    for n in 0..COMMITTEE {
        let (uuid, token) = user_with_token(
            &bench.state,
            &format!("Committee Member {n}"),
            &format!("w4.committee.{n}@example.com"),
            false,
        )
        .await?;
        let user_id =
            steerco_graphql::schema::id::encode(steerco_graphql::schema::id::Kind::User, uuid)
                .to_string();
        admin
            .mutate(
                "projectMemberAdd",
                "mutation($input: ProjectMemberAddInput!) { projectMemberAdd(input: $input) { member { id } userErrors { code message } } }",
                json!({ "input": { "projectId": project, "userId": user_id, "roles": ["STEERING_COMMITTEE"] } }),
            )
            .await?;
        voters.push(admin.with_token(Some(token)));
    }
    // One connection per voter, open before the first race.
    let warm = futures_util::future::join_all(
        voters
            .iter()
            .map(|voter| voter.data("{ me { id } }", json!({}))),
    )
    .await;
    if let Some(Err(error)) = warm.into_iter().find(Result::is_err) {
        return Err(format!("W4 voter: {error}").into());
    }

    reset_peak_rss(None);
    let mut votes = Run {
        clients: COMMITTEE,
        ..Run::default()
    };
    let mut to_decision = Vec::with_capacity(rounds);
    let mut bad_rounds = 0u64;
    let log_before = bench.log.count();
    for round in 0..rounds {
        let decision = open_ballot(admin, &project, round).await?;
        let closed_before = audit_count(bench, "decision.closed").await?;
        let approved_before = audit_count(bench, "change_request.approve").await?;
        let statements_before = bench.statements.total();
        let barrier = Arc::new(Barrier::new(COMMITTEE + 1));
        let tasks: Vec<_> = voters
            .iter()
            .map(|voter| {
                let voter = voter.clone();
                let barrier = Arc::clone(&barrier);
                let decision = decision.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let sent = Instant::now();
                    let answer = voter
                        .data(
                            VOTE,
                            json!({ "input": { "decisionId": decision, "choice": "APPROVE" } }),
                        )
                        .await;
                    (sent, Instant::now(), answer)
                })
            })
            .collect();
        let started = Instant::now();
        barrier.wait().await;
        let (mut accepted, mut late, mut decisive) = (0usize, 0usize, 0usize);
        let mut decided_at = None;
        for task in tasks {
            let (sent, answered, answer) = task.await?;
            votes.latencies.push(answered - sent);
            let payload = match answer {
                Ok(data) => data["decisionVoteCast"].clone(),
                Err(reason) => {
                    votes.errors += 1;
                    Run::sample(&mut votes.error_samples, reason);
                    continue;
                }
            };
            match payload["userErrors"][0]["code"].as_str() {
                None => {
                    accepted += 1;
                    if payload["decision"]["status"] == "DECIDED" {
                        decisive += 1;
                        decided_at = Some(answered - started);
                    }
                }
                Some("INVALID_TRANSITION") => late += 1,
                Some(code) => {
                    votes.errors += 1;
                    Run::sample(&mut votes.error_samples, format!("vote refused: {code}"));
                }
            }
        }
        votes.elapsed += started.elapsed();
        votes.statements += bench.statements.total() - statements_before;
        let closed = audit_count(bench, "decision.closed").await? - closed_before;
        let approved = audit_count(bench, "change_request.approve").await? - approved_before;
        if (accepted, late, decisive, closed, approved) != (MAJORITY, COMMITTEE - MAJORITY, 1, 1, 1)
        {
            bad_rounds += 1;
            Run::sample(
                &mut votes.error_samples,
                format!(
                    "round {round}: {accepted} accepted, {late} late, {decisive} decisive, {closed} closed, {approved} approved"
                ),
            );
        }
        if let Some(elapsed) = decided_at {
            to_decision.push(elapsed);
        }
    }
    votes.ops = votes.latencies.len() as u64;
    let rss = peak_rss_mb(None);
    let busy = bench.log.count().since(log_before).busy;
    table.push(
        Row::from_run("W4 decisionVoteCast (32 racing)", &votes, rss).note(format!(
            "busy/locked {busy}; {rounds} ballots, {bad_rounds} not exactly one decision"
        )),
    );
    let decided = Percentiles::of(&to_decision);
    table.push(Row {
        workload: "W4 time to decision (per ballot)".to_owned(),
        clients: COMMITTEE.to_string(),
        ops: to_decision.len() as u64,
        rate: None,
        latency: decided,
        statements: None,
        errors: bad_rounds,
        rss_mb: rss,
        note: format!(
            "{MAJORITY} of {COMMITTEE} approve under MAJORITY; from release to the deciding answer"
        ),
    });
    Ok(())
}

/// Raises a change request above the red line and sends it to the committee; returns the id
/// of its ballot.
async fn open_ballot(admin: &Api, project: &Value, round: usize) -> Result<Value, Error> {
    let created = admin
        .mutate(
            "changeRequestCreate",
            &format!("mutation($input: ChangeRequestCreateInput!) {{ changeRequestCreate(input: $input) {{ changeRequest {{ {CR_FIELDS} }} userErrors {{ code message }} }} }}"),
            json!({ "input": { "projectId": project, "title": format!("Raced change {round}"), "justification": "The committee decides", "category": "SCHEDULE", "priority": "SHOULD" } }),
        )
        .await?;
    let id = created["changeRequest"]["id"].clone();
    let mut change = created["changeRequest"].clone();
    for action in ["SUBMIT", "START_ASSESSMENT"] {
        change = transition(admin, &id, action).await?;
    }
    admin
        .mutate(
            "changeRequestAssess",
            &format!("mutation($input: ChangeRequestAssessInput!) {{ changeRequestAssess(input: $input) {{ changeRequest {{ {CR_FIELDS} }} userErrors {{ code message }} }} }}"),
            json!({ "input": {
                "id": id,
                "expectedVersion": change["version"],
                "schedule": { "days": 30 },
                "cost": { "amount": "2000", "currency": "EUR", "budgetLine": "Configuration" },
                "effort": { "personDays": "2" },
                "risk": { "level": "LOW", "description": "A report layout" }
            } }),
        )
        .await?;
    let waiting = transition(admin, &id, "REQUEST_DECISION").await?;
    let decision = waiting["ballot"]["decision"]["id"].clone();
    if decision.is_null() {
        return Err(format!("W4: REQUEST_DECISION opened no ballot: {waiting}").into());
    }
    Ok(decision)
}

async fn transition(admin: &Api, id: &Value, action: &str) -> Result<Value, Error> {
    let payload = admin
        .mutate(
            "changeRequestTransition",
            &format!("mutation($id: ID!, $a: ChangeRequestAction!) {{ changeRequestTransition(input: {{ id: $id, action: $a }}) {{ changeRequest {{ {CR_FIELDS} }} userErrors {{ code message }} }} }}"),
            json!({ "id": id, "a": action }),
        )
        .await?;
    Ok(payload["changeRequest"].clone())
}

async fn audit_count(bench: &Bench, action: &str) -> Result<u64, Error> {
    Ok(audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .count(&bench.state.db)
        .await?)
}
