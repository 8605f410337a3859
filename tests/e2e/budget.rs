//! Statement budgets of the read workloads: the dashboard (W1) and the portfolio (W2) issue the
//! same number of SQL statements on a small portfolio and on one ten times larger, with more
//! change requests awaiting a decision, and stay within their budgets (no N+1 anywhere). So
//! does logging a critical defect (W3), whose emails go to more people on a larger team; and
//! triaging it takes its own exact budget. A committee's reads, a page of ballots with their
//! tallies and a voter's pending votes, keep theirs too, and so does `nodes(ids:)`, whatever
//! the number of ids. A scenario import writes its rows and their audit events a few hundred
//! to a statement, and so do a project created from a template, a RACI matrix seeded for its
//! team, a milestone pushing a chain of others and the first baseline of a schedule.
//!
//! Each budget counts a request whose token is read, the most a request takes: the servers
//! here remember no token ([`app`]). A caller's next requests within the server's token memory
//! skip that statement (`auth::a_token_used_lately_is_not_read_again`).

use std::time::Duration;

use sea_orm::DbBackend;
use serde_json::{Value, json};
use steerco::seed::bench::{BenchSize, bench};

use crate::support::{TestApp, TestUser};

#[path = "../../benches/workloads/documents.rs"]
mod documents;

/// The portfolio's budget: the token, the page count, the page, and one batched statement
/// each for the plans (phases with their milestones), open change requests and defects.
const W2_BUDGET: u64 = 6;
/// The dashboard's budget: the token, the project with the caller's membership (shared by
/// every field that names it), the plan (phases with milestones), the page of change requests,
/// their ballots with votes, the defect rows, the go-live plans, and the RACI matrix with its
/// active members.
const W1_BUDGET: u64 = 8;
/// Logging a critical defect's budget: the token, the project with the caller's membership,
/// the defect (numbered after the project's last in the same statement), the audit event
/// (inserted on the condition that its chain still ends at the event this process last appended
/// to it: no read of the chain's head first), the project's members with their users and
/// delivery preferences, and the outbox rows.
/// PostgreSQL adds [`POSTGRES_AUDIT_STATEMENTS`].
const W3_BUDGET: u64 = 6;
/// What an audited command costs more on PostgreSQL: the audit chain's lock, which SQLite's
/// one-at-a-time writers need not take, and the read of the chain's head, which several
/// servers may append to there, so that none trusts its memory of it.
const POSTGRES_AUDIT_STATEMENTS: u64 = 2;
/// Of those, the statements SQLite's writer runs in the command's turn: all but the token.
/// The team is read in the turn when no other command holds the writer, as here; under load
/// it is read on the reading pool before the command asks for its turn.
const W3_IN_TURN: u64 = 5;

const DEFECT_CREATE: &str = "mutation($p: ID!) { defectCreate(input: { projectId: $p, defect: { title: \"Orders lost on save\", stepsToReproduce: \"Save an order\", actualResult: \"Gone\", severity: CRITICAL, priority: P1 } }) { defect { id } userErrors { code message } } }";
const PREFERENCES: &str = "mutation($p: [NotificationPreferenceInput!]!) { notificationPreferencesUpdate(input: { preferences: $p }) { userErrors { code field } } }";

/// A server that reads every request's token, as the budgets count.
async fn app() -> TestApp {
    TestApp::spawn_with(|config| config.token_memory = Duration::ZERO).await
}

/// `app` with a bench portfolio of `projects` seeded.
async fn on_bench(app: TestApp, projects: usize) -> TestApp {
    bench(app.db(), BenchSize { projects, seed: 42 })
        .await
        .expect("bench data");
    app
}

/// Runs `document` as `user` and returns how many statements it took. The user's token has
/// been used before, by a mutation, which records a token's first use within the request: a
/// query records it on a task beside the request, whose statement could be counted with the
/// next request's when that task runs late. So the count is the request's own.
async fn statements(app: &TestApp, user: &TestUser, document: &str, variables: Value) -> u64 {
    first_use_recorded(app, user).await;
    app.token_use_recorded(user).await;
    let before = app.statements.total();
    let response = app.gql(Some(&user.token), document, variables).await;
    assert!(response.get("errors").is_none(), "{response:#}");
    app.statements.total() - before
}

/// Statements of W1 on the busiest bench project and of W2, on a portfolio of `projects`.
async fn dashboard_and_portfolio(projects: usize) -> (u64, u64) {
    let app = on_bench(app().await, projects).await;
    let admin = app.user("Ada Admin", true).await;
    // The project with the most change requests awaiting a decision: at ten times the data,
    // the dashboard shows more of them, which is where a statement per row would show.
    let portfolio = app
        .ok(
            &admin,
            "{ projects(first: 100) { edges { node { id code openChangeRequestCount } } } }",
            json!({}),
        )
        .await;
    let busiest = portfolio["projects"]["edges"]
        .as_array()
        .expect("projects")
        .iter()
        .map(|edge| &edge["node"])
        .max_by_key(|node| node["openChangeRequestCount"].as_i64())
        .expect("a project")
        .clone();
    let w1 = statements(
        &app,
        &admin,
        documents::W1_DASHBOARD,
        json!({ "code": busiest["code"], "projectId": busiest["id"] }),
    )
    .await;
    let w2 = statements(&app, &admin, documents::W2_PORTFOLIO, json!({})).await;
    (w1, w2)
}

#[tokio::test]
async fn the_dashboard_and_the_portfolio_cost_the_same_statements_at_ten_times_the_data() {
    let (w1_small, w2_small) = dashboard_and_portfolio(4).await;
    let (w1_large, w2_large) = dashboard_and_portfolio(40).await;
    assert_eq!(w2_small, w2_large, "the portfolio grows with its projects");
    assert_eq!(w1_small, w1_large, "the dashboard grows with the data");
    assert!(
        w2_large <= W2_BUDGET,
        "the portfolio took {w2_large} statements"
    );
    assert!(
        w1_large <= W1_BUDGET,
        "the dashboard took {w1_large} statements"
    );
}

/// A committee's read: a page of change requests with each current ballot's recused members
/// and tally, and a voter's ballots still waiting for their vote.
const BALLOT_PAGE: &str = r#"query($code: String!) { project(code: $code) { changeRequests(first: 50) { edges { node { id
  ballot { recused { id name } tally { approve reject abstain } decision { canIVote } } } } } } }"#;
const PENDING_VOTES: &str = "{ me { pendingVotes { id status } } }";
/// The page of ballots' budget: the token, the project, the page of change requests, their
/// ballots with the votes, and the recused members of all of them.
const BALLOT_PAGE_BUDGET: u64 = 5;
/// The pending votes' budget: the token, the caller, and the open ballots that list the caller
/// as a voter and hold no vote of theirs.
const PENDING_VOTES_BUDGET: u64 = 3;

/// What the committee's reads took on a portfolio of `projects`: statements for the page of
/// ballots and for the pending votes, and how many votes were pending.
#[derive(Debug)]
struct CommitteeReads {
    page: u64,
    pending: u64,
    waiting: usize,
}

async fn committee_reads(projects: usize) -> CommitteeReads {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use steerco_entity::decision;

    let app = on_bench(app().await, projects).await;
    // The voter with the most open ballots: at ten times the data they wait on more of them.
    let mut ballots_of = std::collections::HashMap::<uuid::Uuid, usize>::new();
    for ballot in decision::Entity::find()
        .filter(decision::Column::Status.eq("OPEN"))
        .all(app.db())
        .await
        .expect("ballots")
    {
        for voter in steerco_graphql::service::decision::eligible_of(&ballot).expect("voters") {
            *ballots_of.entry(voter).or_default() += 1;
        }
    }
    let (&voter, _) = ballots_of
        .iter()
        .max_by_key(|(id, count)| (**count, **id))
        .expect("an open ballot");
    let issued =
        steerco_graphql::service::token::issue_for_operator(&app.state, voter, "budget test")
            .await
            .expect("a token");
    let voter = TestUser {
        id: steerco_graphql::schema::id::encode(steerco_graphql::schema::id::Kind::User, voter)
            .to_string(),
        uuid: voter,
        email: String::new(),
        token: issued.token,
    };
    let admin = app.user("Ada Admin", true).await;
    let busiest: String = {
        use sea_orm::{ConnectionTrait, Statement};
        let row = app
            .db()
            .query_one_raw(Statement::from_string(
                app.db().get_database_backend(),
                "SELECT p.code FROM project p JOIN change_request c ON c.project_id = p.id \
                 JOIN decision d ON d.subject_id = c.id \
                 GROUP BY p.code ORDER BY COUNT(*) DESC, p.code LIMIT 1",
            ))
            .await
            .expect("the busiest project")
            .expect("a project with ballots");
        row.try_get("", "code").expect("its code")
    };
    let page = statements(&app, &admin, BALLOT_PAGE, json!({ "code": busiest })).await;
    let pending = statements(&app, &voter, PENDING_VOTES, json!({})).await;
    let answer = app.ok(&voter, PENDING_VOTES, json!({})).await;
    let waiting = answer["me"]["pendingVotes"].as_array().expect("a list");
    assert!(
        waiting.iter().all(|ballot| ballot["status"] == "OPEN"),
        "{answer}"
    );
    CommitteeReads {
        page,
        pending,
        waiting: waiting.len(),
    }
}

#[tokio::test]
async fn a_page_of_ballots_and_a_voters_pending_votes_cost_the_same_statements_at_ten_times_the_data()
 {
    let small = committee_reads(4).await;
    let large = committee_reads(40).await;
    assert!(large.waiting > small.waiting, "{small:?} {large:?}");
    assert_eq!(small.page, large.page, "{small:?} {large:?}");
    assert!(large.page <= BALLOT_PAGE_BUDGET, "{large:?}");
    assert!(large.pending <= PENDING_VOTES_BUDGET, "{large:?}");
    assert_eq!(small.pending, large.pending, "{small:?} {large:?}");
}

const COMMENTED: &str = r#"query($p: ID!) { project(id: $p) {
  defects(first: 50) { edges { node { id comments { body } } } }
  changeRequests(first: 50) { edges { node { id comments { body } } } } } }"#;

/// The statements of a page of defects and one of change requests, with their comments, on a
/// project with `items` of each, every one commented on.
async fn commented_pages(items: usize) -> u64 {
    let app = app().await;
    let pm = app.user("Pam Manager", false).await;
    let project = app.project(&pm, "CMT").await;
    for n in 0..items {
        let logged = app.ok(&pm, DEFECT_CREATE, json!({ "p": project })).await;
        let defect = &logged["defectCreate"]["defect"]["id"];
        let said = app
            .ok(&pm, "mutation($d: ID!) { defectComment(input: { id: $d, body: \"Seen on staging\" }) { userErrors { code } } }", json!({ "d": defect }))
            .await;
        assert_eq!(said["defectComment"]["userErrors"], json!([]), "{said}");
        let cr = crate::change_requests::raise(&app, &pm, &project, &format!("Change {n}")).await;
        let said = app
            .ok(&pm, "mutation($c: ID!) { changeRequestComment(input: { id: $c, body: \"Which team?\" }) { userErrors { code } } }", json!({ "c": cr["id"] }))
            .await;
        assert_eq!(
            said["changeRequestComment"]["userErrors"],
            json!([]),
            "{said}"
        );
    }
    let taken = statements(&app, &pm, COMMENTED, json!({ "p": project })).await;
    let page = app.ok(&pm, COMMENTED, json!({ "p": project })).await;
    for list in ["defects", "changeRequests"] {
        let edges = page["project"][list]["edges"].as_array().expect("a page");
        assert_eq!(edges.len(), items, "{page}");
        assert!(
            edges
                .iter()
                .all(|edge| edge["node"]["comments"].as_array().map(Vec::len) == Some(1)),
            "{page}"
        );
    }
    taken
}

#[tokio::test]
async fn the_comments_of_a_page_cost_the_same_statements_for_one_item_and_for_five() {
    assert_eq!(commented_pages(1).await, commented_pages(5).await);
}

const CHANGE_SUMMARIES: &str = "{ projects(first: 50) { edges { node { code changeSummary { approvedCost approvedScheduleDays scheduleDriftDays costDrift scopeItemsAdded byStatus { status count } } } } } }";
/// A page of change summaries' budget: the token, the page with its count, and the change
/// requests, schedule baselines, the first and last baselines' entries (read when a project
/// has one), cost baselines and scope versions of all its projects.
const CHANGE_SUMMARIES_BUDGET: u64 = 8;

/// The statements of a page of change summaries on a bench portfolio of `projects`, and how
/// many change requests the page counted.
async fn change_summaries(projects: usize) -> (u64, i64) {
    let app = on_bench(app().await, projects).await;
    let admin = app.user("Ada Admin", true).await;
    let taken = statements(&app, &admin, CHANGE_SUMMARIES, json!({})).await;
    let page = app.ok(&admin, CHANGE_SUMMARIES, json!({})).await;
    let counted = page["projects"]["edges"]
        .as_array()
        .expect("a page")
        .iter()
        .flat_map(|edge| {
            edge["node"]["changeSummary"]["byStatus"]
                .as_array()
                .expect("counts by status")
                .iter()
                .map(|by| by["count"].as_i64().expect("a count"))
                .collect::<Vec<_>>()
        })
        .sum();
    (taken, counted)
}

#[tokio::test]
async fn a_page_of_change_summaries_costs_the_same_statements_at_ten_times_the_data() {
    let (small, small_counted) = change_summaries(4).await;
    let (large, large_counted) = change_summaries(40).await;
    assert!(
        large_counted > small_counted,
        "{small_counted} {large_counted}"
    );
    assert_eq!(small, large);
    assert!(large <= CHANGE_SUMMARIES_BUDGET, "{large} statements");
}

const GO_LIVE_PAGE: &str = "{ projects(first: 50) { edges { node {
  goLivePlans { id plannedCutoverEnd runbook { id } manualCriteria { id } metrics { id readings { value } }
    criteria { key holds value } }
  testScenarios { id } testScenariosCsv
  testCycles { id passRate { percent } corePassRate { percent } executions { id } } } } } }";
const BASELINES_PAGE: &str = "{ projects(first: 50) { edges { node {
  milestones(first: 20, filter: { overdue: false }) { totalCount edges { node { id } } }
  members { user { id raci { letter activityName } apiTokens { id } } }
  milestoneDependencies { id } scheduleBaselines { id entries { baselineDate } }
  costBaselines { number } decisions { id } scope { id signatories { signedAt } }
  scopeVersions { id signatories { signedAt } causedBy { id } } } } } }";

const LISTS_PAGE: &str = "{ projects(first: 50) { edges { node {
  changeRequests(first: 5, filter: { status: [SUBMITTED, AWAITING_DECISION] }) { totalCount edges { node { id } } }
  mine: changeRequests(first: 5, filter: { awaitingMyVote: true }) { totalCount }
  defects(first: 5, filter: { open: true }) { totalCount edges { node { id severity } } } } } } }";

/// Gives every bench project's go-live plan two runbook tasks and a metric with two readings,
/// and every project two UAT scenarios and a cycle that ran both (`tester` testing), which the
/// bench data has not: so the fields below them run too.
async fn with_runbooks_metrics_and_cycles(app: &TestApp, tester: uuid::Uuid) {
    use chrono::Utc;
    use sea_orm::{ActiveValue::Set, EntityTrait};
    use steerco_entity::{
        cutover_task, go_live_plan, hypercare_metric, metric_reading, test_cycle, test_execution,
        test_scenario,
    };
    let now = Utc::now();
    let id = uuid::Uuid::now_v7;
    let (mut tasks, mut metrics, mut readings) = (Vec::new(), Vec::new(), Vec::new());
    for plan in go_live_plan::Entity::find().all(app.db()).await.unwrap() {
        for position in 1..=2 {
            tasks.push(cutover_task::ActiveModel {
                id: Set(id()),
                plan_id: Set(plan.id),
                position: Set(position),
                name: Set(format!("Step {position}")),
                owner_id: Set(None),
                duration_minutes: Set(30),
                depends_on: Set("[]".to_owned()),
                status: Set("PENDING".to_owned()),
                point_of_no_return: Set(false),
                actual_start: Set(None),
                actual_end: Set(None),
                version: Set(1),
            });
        }
        let metric = id();
        metrics.push(hypercare_metric::ActiveModel {
            id: Set(metric),
            plan_id: Set(plan.id),
            name: Set("Orders per hour".to_owned()),
            unit: Set("orders".to_owned()),
            target: Set("100".to_owned()),
            direction: Set("AT_LEAST".to_owned()),
        });
        for value in ["90", "120"] {
            readings.push(metric_reading::ActiveModel {
                id: Set(id()),
                metric_id: Set(metric),
                value: Set(value.to_owned()),
                breached: Set(value == "90"),
                taken_at: Set(now),
            });
        }
    }
    let (mut scenarios, mut cycles, mut executions) = (Vec::new(), Vec::new(), Vec::new());
    for project in steerco_entity::project::Entity::find()
        .all(app.db())
        .await
        .unwrap()
    {
        let cycle = id();
        cycles.push(test_cycle::ActiveModel {
            id: Set(cycle),
            project_id: Set(project.id),
            name: Set("Cycle 1".to_owned()),
            stage: Set("USER_TRIAL".to_owned()),
            environment: Set("UAT".to_owned()),
            planned_start: Set(None),
            planned_end: Set(None),
            status: Set("PLANNED".to_owned()),
            signed_off_by: Set(None),
            signed_off_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            version: Set(1),
        });
        for (n, result) in ["PASSED", "FAILED"].into_iter().enumerate() {
            let scenario = id();
            scenarios.push(test_scenario::ActiveModel {
                id: Set(scenario),
                project_id: Set(project.id),
                name: Set(format!("Scenario {n}")),
                area: Set("SALES".to_owned()),
                is_core: Set(n == 0),
                scenario_type: Set("TYPICAL".to_owned()),
                steps: Set("[]".to_owned()),
                owner_id: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                version: Set(1),
            });
            executions.push(test_execution::ActiveModel {
                id: Set(id()),
                project_id: Set(project.id),
                cycle_id: Set(cycle),
                scenario_id: Set(scenario),
                tester_id: Set(tester),
                result: Set(result.to_owned()),
                notes: Set(String::new()),
                evidence_url: Set(None),
                executed_at: Set(now),
                version: Set(1),
            });
        }
    }
    // A few hundred rows a statement at most: within SQLite's bound on a statement's values.
    macro_rules! insert_all {
        ($entity:path, $rows:expr) => {
            for chunk in $rows.chunks(100) {
                <$entity>::insert_many(chunk.to_vec())
                    .exec_without_returning(app.db())
                    .await
                    .unwrap();
            }
        };
    }
    insert_all!(cutover_task::Entity, tasks);
    insert_all!(hypercare_metric::Entity, metrics);
    insert_all!(metric_reading::Entity, readings);
    insert_all!(test_scenario::Entity, scenarios);
    insert_all!(test_cycle::Entity, cycles);
    insert_all!(test_execution::Entity, executions);
}

/// The statements of `document`, a page of projects with lists in lists, on a bench portfolio
/// of `projects` given runbooks, metrics and UAT cycles, and how many projects the page showed.
/// The bench has no baseline nor scope version: of those, the lists of a project are counted
/// at ten times the data, the fields below them (entries, signatories, causes) run in the
/// feature tests, which check their answers.
async fn page_of_projects(projects: usize, document: &str) -> (u64, Value) {
    // Lists in lists in lists, each counted at its largest: more than a client's limit allows.
    let app = TestApp::spawn_with(|config| {
        config.token_memory = Duration::ZERO;
        config.limits.max_complexity = 1_000_000;
    })
    .await;
    let app = on_bench(app, projects).await;
    let admin = app.user("Ada Admin", true).await;
    with_runbooks_metrics_and_cycles(&app, admin.uuid).await;
    let taken = statements(&app, &admin, document, json!({})).await;
    let page = app.ok(&admin, document, json!({})).await;
    (taken, page)
}

#[tokio::test]
async fn a_page_of_projects_with_their_plans_cycles_baselines_and_lists_costs_the_same_statements_at_ten_times_the_data()
 {
    let shown = |page: &Value| page["projects"]["edges"].as_array().expect("a page").len();
    for document in [GO_LIVE_PAGE, BASELINES_PAGE, LISTS_PAGE] {
        let (small, small_page) = page_of_projects(4, document).await;
        let (large, large_page) = page_of_projects(40, document).await;
        assert!(shown(&large_page) > shown(&small_page));
        assert_eq!(small, large, "{document}");
        if document == LISTS_PAGE {
            // Each project's own lists, paged.
            let projects = large_page["projects"]["edges"].as_array().expect("a page");
            for project in projects.iter().map(|edge| &edge["node"]) {
                let defects = &project["defects"];
                assert_eq!(
                    defects["edges"].as_array().map(Vec::len),
                    Some(5),
                    "{project}"
                );
                assert!(defects["totalCount"].as_u64() > Some(5), "{project}");
                let changes = &project["changeRequests"];
                let count = changes["totalCount"].as_u64().expect("a count");
                let edges = changes["edges"].as_array().map(Vec::len).expect("edges");
                assert_eq!(edges as u64, count.min(5), "{project}");
            }
            let changes = |page: &Value| -> u64 {
                page["projects"]["edges"]
                    .as_array()
                    .expect("a page")
                    .iter()
                    .map(|edge| {
                        edge["node"]["changeRequests"]["totalCount"]
                            .as_u64()
                            .unwrap_or(0)
                    })
                    .sum()
            };
            assert!(changes(&large_page) > changes(&small_page));
        }
        if document == GO_LIVE_PAGE {
            // The fields below the lists ran, on the rows given to every project.
            let project = &large_page["projects"]["edges"][0]["node"];
            let plan = &project["goLivePlans"][0];
            assert_eq!(plan["runbook"].as_array().map(Vec::len), Some(2), "{plan}");
            let readings = &plan["metrics"][0]["readings"];
            assert_eq!(readings.as_array().map(Vec::len), Some(2), "{plan}");
            let cycle = &project["testCycles"][0];
            assert_eq!(
                cycle["executions"].as_array().map(Vec::len),
                Some(2),
                "{cycle}"
            );
            assert_eq!(cycle["passRate"]["percent"], 50.0, "{cycle}");
            assert_eq!(cycle["corePassRate"]["percent"], 100.0, "{cycle}");
            let criteria = plan["criteria"].as_array().expect("criteria");
            assert!(
                criteria.iter().any(|c| c["key"] == "UAT_READY"),
                "{criteria:?}"
            );
        }
    }
}

const NODES: &str = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }";
/// A `nodes` call's budget: the token, one statement per table of the seven kinds asked besides
/// projects and users, the caller's standing on every project named, asked or owning a row,
/// and the users: which of them the caller may see (an administrator sees everyone), or
/// their rows (the outsider sees none).
const NODES_BUDGET: u64 = 10;

/// Global ids of nine kinds of objects on a bench portfolio, kind after kind in turn, as
/// many as `nodes` takes.
async fn ids_of_many_kinds(app: &TestApp, admin: &TestUser) -> Vec<Value> {
    let page = app
        .ok(
            admin,
            "{ projects(first: 20) { edges { node { id members { id user { id } } decisions { id }
               phases { id milestones { id } } goLivePlans { id }
               changeRequests(first: 20) { edges { node { id } } }
               defects(first: 20) { edges { node { id } } } } } } }",
            json!({}),
        )
        .await;
    let projects = page["projects"]["edges"].as_array().expect("projects");
    let node = |edge: &Value| edge["node"].clone();
    let mut kinds: Vec<Vec<Value>> = vec![Vec::new(); 9];
    for project in projects.iter().map(node) {
        kinds[0].push(project["id"].clone());
        let ids = |list: &Value| -> Vec<Value> {
            list.as_array()
                .expect("a list")
                .iter()
                .map(|item| item.get("node").unwrap_or(item)["id"].clone())
                .collect()
        };
        kinds[1].extend(ids(&project["members"]));
        kinds[2].extend(ids(&project["decisions"]));
        kinds[3].extend(ids(&project["phases"]));
        for phase in project["phases"].as_array().expect("phases") {
            kinds[4].extend(ids(&phase["milestones"]));
        }
        kinds[5].extend(ids(&project["goLivePlans"]));
        kinds[6].extend(ids(&project["changeRequests"]["edges"]));
        kinds[7].extend(ids(&project["defects"]["edges"]));
        for member in project["members"].as_array().expect("members") {
            kinds[8].push(member["user"]["id"].clone());
        }
    }
    let longest = kinds.iter().map(Vec::len).max().unwrap_or(0);
    let mut mixed: Vec<Value> = (0..longest)
        .flat_map(|n| kinds.iter().filter_map(move |ids| ids.get(n).cloned()))
        .collect();
    assert!(kinds.iter().all(|ids| !ids.is_empty()), "{kinds:?}");
    mixed.truncate(100);
    mixed
}

#[tokio::test]
async fn nodes_of_nine_kinds_cost_the_same_statements_for_one_of_each_and_for_a_hundred() {
    // The page the ids are gathered from asks more than a client's limit allows.
    let app = TestApp::spawn_with(|config| {
        config.token_memory = Duration::ZERO;
        config.limits.max_complexity = 1_000_000;
    })
    .await;
    let app = on_bench(app, 10).await;
    let admin = app.user("Ada Admin", true).await;
    let outsider = app.user("Otto Outsider", false).await;
    let ids = ids_of_many_kinds(&app, &admin).await;
    assert_eq!(ids.len(), 100);
    let mut taken = Vec::new();
    for asked in [&ids[..9], &ids[..]] {
        let variables = json!({ "ids": asked });
        taken.push(statements(&app, &admin, NODES, variables.clone()).await);
        let found = app.ok(&admin, NODES, variables.clone()).await;
        let found: Vec<&Value> = found["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|node| &node["id"])
            .collect();
        assert_eq!(
            found,
            asked.iter().collect::<Vec<_>>(),
            "in the order asked"
        );
        // Someone on none of the projects sees none of it, and costs no more.
        taken.push(statements(&app, &outsider, NODES, variables.clone()).await);
        let hidden = app.ok(&outsider, NODES, variables).await;
        assert!(
            hidden["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .all(Value::is_null),
            "{hidden}"
        );
    }
    assert!(
        taken.iter().all(|&n| n == taken[0]),
        "statements for 9 and 100 ids, by the admin and the outsider: {taken:?}"
    );
    assert!(taken[0] <= NODES_BUDGET, "{taken:?}");
}

const CSV_IMPORT: &str = "mutation($p: ID!, $csv: String!) { testScenarioCsvImport(input: { projectId: $p, csv: $csv }) { scenarios { id } userErrors { code field message } } }";
const VERIFY_CHAIN: &str =
    "query($p: ID!) { auditChainVerify(projectId: $p) { valid eventCount } }";

/// A CSV of `scenarios` two-step scenarios.
fn scenarios_csv(scenarios: usize) -> String {
    let mut csv = String::from("scenario,area,core,type,step,action,expected_result\n");
    for n in 0..scenarios {
        for step in 1..=2 {
            csv.push_str(&format!(
                "Scenario {n},SALES,{},TYPICAL,{step},Do step {step},Step {step} done\n",
                n % 2 == 0
            ));
        }
    }
    csv
}

/// The statements of importing `scenarios` scenarios, and the project's audit chain after.
async fn scenario_import(scenarios: usize) -> (u64, Value) {
    let app = app().await;
    let pm = app.user("Pam Manager", false).await;
    let project = app.project(&pm, "CSV").await;
    let variables = json!({ "p": project, "csv": scenarios_csv(scenarios) });
    let taken = statements(&app, &pm, CSV_IMPORT, variables).await;
    let listed = app
        .ok(
            &pm,
            "query($p: ID!) { project(id: $p) { testScenarios { id } } }",
            json!({ "p": project }),
        )
        .await;
    assert_eq!(
        listed["project"]["testScenarios"].as_array().map(Vec::len),
        Some(scenarios)
    );
    let chain = app.ok(&pm, VERIFY_CHAIN, json!({ "p": project })).await;
    (taken, chain["auditChainVerify"].clone())
}

#[tokio::test]
async fn importing_six_hundred_scenarios_costs_the_statements_of_importing_five() {
    // Past one insert's worth of rows: the scenarios and their events take two each.
    let (few, few_chain) = scenario_import(5).await;
    let (many, many_chain) = scenario_import(600).await;
    assert_eq!(many, few + 2, "{few} for 5 scenarios, {many} for 600");
    assert!(few <= 8, "{few}");
    assert_eq!(few_chain["valid"], true, "{few_chain}");
    assert_eq!(many_chain["valid"], true, "{many_chain}");
    let events = |chain: &Value| chain["eventCount"].as_u64().expect("a count");
    assert_eq!(
        events(&many_chain) - events(&few_chain),
        595,
        "an event per scenario"
    );
}

/// What logging a critical defect took.
#[derive(Debug, PartialEq, Eq)]
struct Logged {
    statements: u64,
    /// Those SQLite's writer ran; `None` on PostgreSQL.
    in_turn: Option<u64>,
    emails: i64,
    postgres: bool,
}

/// One critical defect logged by a QA member (or by an administrator outside the team), on a
/// project with `others` more members (QA, project managers and sponsors in turn, each with
/// delivery preferences for several classes, which urgent news ignores).
async fn critical_defect(others: usize, reporter: Reporter) -> Logged {
    let app = app().await;
    let pm = app.user("Pam Manager", false).await;
    let project = app.project(&pm, "W3").await;
    let qa = app.user("Quinn Tester", false).await;
    app.add_member(&pm, &project, &qa, &["QA"]).await;
    first_use_recorded(&app, &qa).await;
    let mut expected = 2;
    for n in 0..others {
        let member = app.user(&format!("Member {n}"), false).await;
        let role = ["QA", "PROJECT_MANAGER", "SPONSOR"][n % 3];
        app.add_member(&pm, &project, &member, &[role]).await;
        if role != "SPONSOR" {
            expected += 1;
        }
        let set = app
            .ok(
                &member,
                PREFERENCES,
                json!({ "p": [
                    { "class": "DEFECT", "delivery": "OFF" },
                    { "class": "SCOPE", "delivery": "DAILY_DIGEST" },
                    { "class": "MILESTONE", "delivery": "OFF" },
                ] }),
            )
            .await;
        assert_eq!(
            set["notificationPreferencesUpdate"]["userErrors"],
            json!([])
        );
    }
    let reporter = match reporter {
        Reporter::QaMember => qa,
        Reporter::AdministratorOutsideTheTeam => {
            let admin = app.user("Olga Admin", true).await;
            first_use_recorded(&app, &admin).await;
            admin
        }
    };
    let outbox_before = app.count("notification").await;
    let before = app.statements.total();
    let in_turn_before = app.writer_statements.as_ref().map(|c| c.total());
    let data = app
        .ok(&reporter, DEFECT_CREATE, json!({ "p": project }))
        .await;
    let statements = app.statements.total() - before;
    let in_turn = app
        .writer_statements
        .as_ref()
        .zip(in_turn_before)
        .map(|(counter, before)| counter.total() - before);
    assert_eq!(data["defectCreate"]["userErrors"], json!([]), "{data}");
    let emails = app.count("notification").await - outbox_before;
    assert_eq!(emails, expected, "every project manager and QA member");
    Logged {
        statements,
        in_turn,
        emails,
        postgres: app.db().get_database_backend() == DbBackend::Postgres,
    }
}

#[tokio::test]
async fn logging_a_critical_defect_costs_the_same_statements_on_a_team_six_times_larger() {
    let small = critical_defect(2, Reporter::QaMember).await;
    let large = critical_defect(12, Reporter::QaMember).await;
    let budget = W3_BUDGET + POSTGRES_AUDIT_STATEMENTS * u64::from(large.postgres);
    assert!(large.emails > small.emails);
    assert_eq!(
        (small.statements, small.in_turn),
        (large.statements, large.in_turn),
        "the defect's emails read a statement per person"
    );
    assert!(large.statements <= budget, "{large:?}");
    if let Some(in_turn) = large.in_turn {
        assert_eq!(in_turn, W3_IN_TURN, "{large:?}");
    }
    // The token's lookup gave the administrator's name, which the emails show.
    let by_admin = critical_defect(2, Reporter::AdministratorOutsideTheTeam).await;
    assert_eq!(
        (by_admin.statements, by_admin.in_turn),
        (small.statements, small.in_turn),
        "an administrator outside the team is read apart"
    );
}

/// Triaging a defect's budget, a transition like most: the token, the defect, the project with
/// the caller's membership, the defect written back, and the new audit event after the chain's
/// head as this process last wrote it. PostgreSQL adds [`POSTGRES_AUDIT_STATEMENTS`].
const TRIAGE_BUDGET: u64 = 5;

const DEFECT_TRIAGE: &str = "mutation($d: ID!) { defectTransition(input: { id: $d, action: TRIAGE }) { defect { id status } userErrors { code message } } }";

#[tokio::test]
async fn triaging_a_defect_takes_its_budget_of_statements() {
    let app = app().await;
    let pm = app.user("Pam Manager", false).await;
    let project = app.project(&pm, "TRI").await;
    let qa = app.user("Quinn Tester", false).await;
    app.add_member(&pm, &project, &qa, &["QA"]).await;
    first_use_recorded(&app, &qa).await;
    let logged = app.ok(&qa, DEFECT_CREATE, json!({ "p": project })).await;
    let defect = logged["defectCreate"]["defect"]["id"].clone();
    let before = app.statements.total();
    let data = app.ok(&qa, DEFECT_TRIAGE, json!({ "d": defect })).await;
    let taken = app.statements.total() - before;
    assert_eq!(data["defectTransition"]["userErrors"], json!([]), "{data}");
    assert_eq!(data["defectTransition"]["defect"]["status"], "TRIAGED");
    let postgres = app.db().get_database_backend() == DbBackend::Postgres;
    assert_eq!(
        taken,
        TRIAGE_BUDGET + POSTGRES_AUDIT_STATEMENTS * u64::from(postgres),
        "triaging a defect took {taken} statements"
    );
}

/// Uses `who`'s token once: a token's first use stamps it, and later ones, like those of the
/// bench, do not. The use is a mutation because a request of queries only stamps on a task of
/// its own, which could still be running among the statements counted next.
async fn first_use_recorded(app: &TestApp, who: &TestUser) {
    app.ok(who, "mutation { __typename }", json!({})).await;
}

enum Reporter {
    QaMember,
    AdministratorOutsideTheTeam,
}

const PROJECT_CREATE: &str = "mutation($code: String!, $template: PhaseTemplateKey) { projectCreate(input: { code: $code, name: \"Rollout\", template: $template }) { project { id } userErrors { code field message } } }";
const TEMPLATES: &str = "{ phaseTemplates { key phases { name deliverables exitCriteria } } }";
const PLAN_CREATED: &str = "query($code: String!) { project(code: $code) { id phases { name exitCriteria { text } deliverables { name } } } }";

/// Each template's phases as `phaseTemplates` lists them, with their deliverables and exit
/// criteria, in the shape [`PLAN_CREATED`] reads a project's plan.
fn as_listed(template: &Value) -> Value {
    let phases = template["phases"].as_array().expect("phases").iter();
    Value::Array(
        phases
            .map(|phase| {
                let named = |key: &str, field: &str| -> Value {
                    let items = phase[field].as_array().expect("a list").iter();
                    Value::Array(items.map(|item| json!({ key: item })).collect())
                };
                json!({
                    "name": phase["name"],
                    "exitCriteria": named("text", "exitCriteria"),
                    "deliverables": named("name", "deliverables"),
                })
            })
            .collect(),
    )
}

#[tokio::test]
async fn creating_a_project_from_a_template_costs_the_same_statements_for_five_phases_as_for_eight()
{
    let app = app().await;
    let pm = app.user("Pam Manager", false).await;
    let templates = app.ok(&pm, TEMPLATES, json!({})).await;
    let plain = statements(
        &app,
        &pm,
        PROJECT_CREATE,
        json!({ "code": "PLAIN", "template": null }),
    )
    .await;
    let mut taken = Vec::new();
    for template in templates["phaseTemplates"].as_array().expect("templates") {
        let key = template["key"].as_str().expect("a key");
        let code = key.replace('_', "-");
        let variables = json!({ "code": code, "template": key });
        taken.push(statements(&app, &pm, PROJECT_CREATE, variables).await);
        let plan = app.ok(&pm, PLAN_CREATED, json!({ "code": code })).await;
        assert_eq!(plan["project"]["phases"], as_listed(template), "{key}");
        let project = plan["project"]["id"].clone();
        let chain = app.ok(&pm, VERIFY_CHAIN, json!({ "p": project })).await;
        assert_eq!(chain["auditChainVerify"]["valid"], true, "{key}: {chain}");
        // The project, its manager's membership, and each phase.
        let phases = template["phases"].as_array().map_or(0, Vec::len) as u64;
        assert_eq!(chain["auditChainVerify"]["eventCount"], 2 + phases, "{key}");
    }
    // FIVE_PHASE, SIX_PHASE and EIGHT_STAGE: phases, the first phase's audit event (on
    // PostgreSQL after the chain's lock and head), the others' events, exit criteria and
    // deliverables.
    let postgres = app.db().get_database_backend() == DbBackend::Postgres;
    let template = 5 + if postgres {
        POSTGRES_AUDIT_STATEMENTS
    } else {
        0
    };
    assert_eq!(
        taken,
        [plain + template; 3],
        "{plain} statements without a template"
    );
}

const MILESTONE_CREATE: &str = "mutation($p: ID!, $name: String!, $date: NaiveDate!) { milestoneCreate(input: { phaseId: $p, name: $name, forecastDate: $date }) { milestone { id } userErrors { code } } }";
const MILESTONE_LINK: &str = "mutation($p: ID!, $s: ID!) { milestoneDependencyAdd(input: { predecessorId: $p, successorId: $s, lagDays: 1 }) { userErrors { code } } }";
const BASELINE: &str = "mutation($p: ID!) { scheduleBaselineCreate(input: { projectId: $p, reason: \"Plan agreed\" }) { baseline { number } userErrors { code } } }";
const MILESTONES: &str = "query($code: String!) { project(code: $code) { id phases { id milestones { name baselineDate forecastDate version } } } }";

/// The first day of [`chain`]'s milestones.
fn chain_start() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2027, 5, 1).expect("a date")
}

/// A project `CHAIN` with a chain of `length` milestones in its first phase, each forecast for
/// the day after the one before and following it a day later, without a baseline; its id and
/// theirs.
async fn chain(app: &TestApp, pm: &TestUser, length: usize) -> (Value, Vec<Value>) {
    let variables = json!({ "code": "CHAIN", "template": "FIVE_PHASE" });
    let created = app.ok(pm, PROJECT_CREATE, variables).await;
    assert_eq!(created["projectCreate"]["userErrors"], json!([]));
    let plan = app.ok(pm, MILESTONES, json!({ "code": "CHAIN" })).await;
    let phase = plan["project"]["phases"][0]["id"].clone();
    let mut ids = Vec::new();
    for n in 0..length {
        let variables = json!({
            "p": phase,
            "name": format!("M{n:02}"),
            "date": chain_start() + chrono::Days::new(n as u64),
        });
        let data = app.ok(pm, MILESTONE_CREATE, variables).await;
        assert_eq!(data["milestoneCreate"]["userErrors"], json!([]));
        ids.push(data["milestoneCreate"]["milestone"]["id"].clone());
    }
    for pair in ids.windows(2) {
        let data = app
            .ok(pm, MILESTONE_LINK, json!({ "p": pair[0], "s": pair[1] }))
            .await;
        assert_eq!(data["milestoneDependencyAdd"]["userErrors"], json!([]));
    }
    (plan["project"]["id"].clone(), ids)
}

/// What a command on [`chain`] took: its statements, the milestones after, the audit chain.
struct OnChain {
    length: usize,
    statements: u64,
    milestones: Value,
    audit: Value,
}

/// Asserts that the same command cost `many` the statements it cost `few`, left both audit
/// chains valid, and appended `more_events` more events on the longer chain.
fn assert_same_cost(few: &OnChain, many: &OnChain, more_events: u64) {
    assert_eq!(
        many.statements, few.statements,
        "{} statements for {} milestones, {} for {}",
        few.statements, few.length, many.statements, many.length
    );
    assert_eq!(few.audit["valid"], true, "{}", few.audit);
    assert_eq!(many.audit["valid"], true, "{}", many.audit);
    let events = |audit: &Value| audit["eventCount"].as_u64().expect("a count");
    assert_eq!(events(&many.audit) - events(&few.audit), more_events);
}

/// Runs `document` as the PM on a [`chain`] of `length` milestones, with `variables` and the
/// project as `p`, the first milestone as `first`.
async fn on_chain(length: usize, document: &str, variables: Value) -> OnChain {
    let app = app().await;
    let pm = app.user("Pam Manager", false).await;
    let (project, ids) = chain(&app, &pm, length).await;
    let mut variables = variables;
    variables["p"] = project.clone();
    variables["first"] = ids[0].clone();
    let statements = statements(&app, &pm, document, variables).await;
    let plan = app.ok(&pm, MILESTONES, json!({ "code": "CHAIN" })).await;
    let audit = app.ok(&pm, VERIFY_CHAIN, json!({ "p": project })).await;
    OnChain {
        length,
        statements,
        milestones: plan["project"]["phases"][0]["milestones"].clone(),
        audit: audit["auditChainVerify"].clone(),
    }
}

/// The milestones of a chain of `length` as [`MILESTONES`] reads them: each forecast `shift`
/// days later than [`chain`] made it, baselined on that day if `baselined`, at `version`.
fn chain_after(length: u64, shift: u64, baselined: bool, version: i64) -> Value {
    (0..length)
        .map(|n| {
            let forecast = chain_start() + chrono::Days::new(n + shift);
            json!({
                "name": format!("M{n:02}"),
                "baselineDate": baselined.then_some(forecast),
                "forecastDate": forecast,
                "version": version,
            })
        })
        .collect()
}

#[tokio::test]
async fn pushing_a_milestone_moves_a_chain_of_twelve_for_the_statements_of_a_chain_of_three() {
    const PUSH: &str = "mutation($first: ID!, $date: NaiveDate!) { milestoneUpdate(input: { id: $first, expectedVersion: 1, forecastDate: $date }) { moved { to } userErrors { code } } }";
    let pushed = json!({ "date": chain_start() + chrono::Days::new(30) });
    // Two and eleven moved: past one, the moves' audit events take one insert however many.
    let few = on_chain(3, PUSH, pushed.clone()).await;
    let many = on_chain(12, PUSH, pushed).await;
    // Nine more milestones, links and pushes.
    assert_same_cost(&few, &many, 27);
    assert_eq!(many.milestones, chain_after(12, 30, false, 2));
}

#[tokio::test]
async fn the_first_baseline_of_twelve_milestones_costs_the_statements_of_two() {
    let few = on_chain(2, BASELINE, json!({})).await;
    let many = on_chain(12, BASELINE, json!({})).await;
    // Ten more milestones and links, and one event for the baseline however many it dates.
    assert_same_cost(&few, &many, 10 + 10);
    assert_eq!(many.milestones, chain_after(12, 0, true, 2));
}

const RACI_SEED: &str = "mutation($p: ID!) { raciSeed(input: { projectId: $p }) { activities { name assignments { letter } } userErrors { code } } }";

/// The statements of seeding the RACI matrix of a project whose team is the PM and one
/// member of each of the first `roles` roles, the assignments it made, and the audit chain.
async fn seeded_matrix(roles: usize) -> (u64, usize, Value) {
    let app = app().await;
    let pm = app.user("Pam Manager", false).await;
    let project = app.project(&pm, "RACI").await;
    let team = [
        "SPONSOR",
        "STEERING_COMMITTEE",
        "BUSINESS_REP",
        "IT_REP",
        "FINANCE_REP",
        "QA",
        "SUPER_USER",
        "VENDOR",
    ];
    for role in &team[..roles] {
        let member = app.user(&format!("Member {role}"), false).await;
        app.add_member(&pm, &project, &member, &[role]).await;
    }
    let taken = statements(&app, &pm, RACI_SEED, json!({ "p": project })).await;
    let matrix = app.ok(&pm, RACI_SEED, json!({ "p": project })).await;
    assert_eq!(matrix["raciSeed"]["userErrors"][0]["code"], "CONFLICT");
    let seeded = app
        .ok(
            &pm,
            "query($p: ID!) { raciMatrix(projectId: $p) { activities { assignments { letter } } } }",
            json!({ "p": project }),
        )
        .await;
    let assignments = seeded["raciMatrix"]["activities"]
        .as_array()
        .expect("activities")
        .iter()
        .map(|a| a["assignments"].as_array().map_or(0, Vec::len))
        .sum();
    let chain = app.ok(&pm, VERIFY_CHAIN, json!({ "p": project })).await;
    (taken, assignments, chain["auditChainVerify"].clone())
}

#[tokio::test]
async fn seeding_the_raci_matrix_of_a_team_of_nine_costs_the_statements_of_a_team_of_one() {
    let (alone, alone_assigned, _) = seeded_matrix(0).await;
    let (team, team_assigned, chain) = seeded_matrix(8).await;
    assert_eq!(
        team, alone,
        "{alone} statements for the PM alone, {team} for nine"
    );
    assert!(
        team_assigned > alone_assigned,
        "{alone_assigned} letters for the PM alone, {team_assigned} for nine"
    );
    assert_eq!(chain["valid"], true, "{chain}");
    // The project, the manager's membership, eight members', and an event per activity.
    assert_eq!(chain["eventCount"], 2 + 8 + 18, "{chain}");
}

const PUSH_AT: &str = "mutation($first: ID!, $v: Int!, $date: NaiveDate!) { milestoneUpdate(input: { id: $first, expectedVersion: $v, forecastDate: $date }) { userErrors { code } } }";
const HEALTH_MAILS: &str =
    "query($p: ID!) { notifications(projectId: $p, first: 100) { edges { node { kind } } } }";

/// The emails queued on the project about a milestone's health.
async fn health_mails(app: &TestApp, pm: &TestUser, project: &Value) -> Vec<Value> {
    let data = app.ok(pm, HEALTH_MAILS, json!({ "p": project })).await;
    data["notifications"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter(|edge| edge["node"]["kind"] == "milestone.health_changed")
        .cloned()
        .collect()
}

/// On a baselined [`chain`] of `length`, the statements of pushing the first milestone by thirty days, past the red threshold, which turns each red;
/// the health emails that push queued; and those a second push by a day queued.
async fn reddened_chain(length: usize) -> (u64, usize, usize) {
    let app = app().await;
    let pm = app.user("Pam Manager", false).await;
    let (project, ids) = chain(&app, &pm, length).await;
    let baselined = app.ok(&pm, BASELINE, json!({ "p": project })).await;
    assert_eq!(baselined["scheduleBaselineCreate"]["userErrors"], json!([]));
    let before = health_mails(&app, &pm, &project).await.len();
    let push = |version: i64, days: u64| json!({ "first": ids[0], "v": version, "date": chain_start() + chrono::Days::new(days) });
    let taken = statements(&app, &pm, PUSH_AT, push(2, 30)).await;
    let reddened = health_mails(&app, &pm, &project).await;
    let again = app.ok(&pm, PUSH_AT, push(3, 31)).await;
    assert_eq!(again["milestoneUpdate"]["userErrors"], json!([]));
    let after = health_mails(&app, &pm, &project).await.len();
    (taken, reddened.len() - before, after - reddened.len())
}

#[tokio::test]
async fn a_push_that_turns_twelve_milestones_red_costs_the_statements_of_three_and_mails_once() {
    let (few, few_mails, _) = reddened_chain(3).await;
    let (many, many_mails, mailed_again) = reddened_chain(12).await;
    assert_eq!(
        many, few,
        "{few} statements for 3 milestones, {many} for 12"
    );
    // One email to the project manager per milestone turned red.
    assert_eq!((few_mails, many_mails), (3, 12));
    // Each milestone remembers it is red: moving them again tells nobody.
    assert_eq!(mailed_again, 0);
}

const RACI_NODES: &str = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on RaciActivity { name version violations { rule } accountable { id } } } }";
const RACI_ACTIVITIES: &str = "query($p: ID!) { raciMatrix(projectId: $p) { activities { id name version violations { rule } accountable { id } } } }";

#[tokio::test]
async fn raci_activities_in_nodes_read_a_matrix_per_project_however_many_are_asked() {
    let app = app().await;
    let pm = app.user("Pam Manager", false).await;
    let outsider = app.user("Otto Outsider", false).await;
    let mut activities = Vec::new();
    for code in ["RACI-A", "RACI-B"] {
        let project = app.project(&pm, code).await;
        let sponsor = app.user(&format!("Sponsor {code}"), false).await;
        app.add_member(&pm, &project, &sponsor, &["SPONSOR"]).await;
        app.ok(&pm, RACI_SEED, json!({ "p": project })).await;
        let matrix = app.ok(&pm, RACI_ACTIVITIES, json!({ "p": project })).await;
        activities.push(matrix["raciMatrix"]["activities"].clone());
    }
    let ids = |list: &Value| -> Vec<Value> {
        let items = list.as_array().expect("activities").iter();
        items.map(|activity| activity["id"].clone()).collect()
    };
    let (first, second) = (ids(&activities[0]), ids(&activities[1]));
    let one = json!({ "ids": &first[..1] });
    let all_of_one = json!({ "ids": first });
    let both: Vec<Value> = first.iter().chain(&second).cloned().collect();
    let taken = [
        statements(&app, &pm, RACI_NODES, one.clone()).await,
        statements(&app, &pm, RACI_NODES, all_of_one.clone()).await,
        statements(&app, &pm, RACI_NODES, json!({ "ids": both })).await,
    ];
    assert_eq!(
        [taken[1], taken[2]],
        [taken[0], taken[0] + 1],
        "one activity, eighteen of one project, thirty-six of two: {taken:?}"
    );
    // Each node is its activity as the matrix shows it, violations included.
    let found = app.ok(&pm, RACI_NODES, all_of_one.clone()).await;
    assert_eq!(found["nodes"], activities[0]);
    // An outsider sees none, and neither a matrix nor the accountable people are read.
    let hidden = app.ok(&outsider, RACI_NODES, all_of_one.clone()).await;
    assert!(
        hidden["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .all(Value::is_null),
        "{hidden}"
    );
    assert_eq!(
        statements(&app, &outsider, RACI_NODES, all_of_one).await,
        taken[0] - 2
    );
}
