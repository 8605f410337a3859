//! `steerco seed bench`: a deterministic portfolio of CRM projects for benchmarks.
//!
//! Owns the shape of the benchmark data, its generation from a seed and its bulk insertion.
//! Per project: a team of 10 members drawn from a shared pool of 330 users, 10 phases with
//! 5 milestones each, a RACI matrix of 20 activities, 30 change requests with their committee
//! ballots, 100 defects (5 / 15 / 40 / 40 % CRITICAL / MAJOR / MINOR / TRIVIAL) and a go-live
//! plan with its rollback plan. Statuses come in decks of 20 projects: 14 in execution, one
//! each proposed, initiated, live in hypercare, in optimisation, on hold and cancelled.
//!
//! **Deterministic.** Every choice and id comes from [`rng::SeededRng`], one stream for the user
//! pool and one per project, and every date from [`calendar::AS_OF`], never the clock: the same
//! seed gives the same rows, and a project's rows do not depend on the project count.
//!
//! **Direct.** Rows are written with multi-row INSERTs, one transaction per
//! [`PROJECTS_PER_TRANSACTION`] projects, bypassing the services: no audit events and no
//! notifications are written, since they record mutations and none happened. The data still
//! obeys the rules the API reads it by (ballots are counted by the committee engine, health by
//! the schedule rules, role sets and RACI letters by the domain), with one exception: projects
//! past PROPOSED have no scope statement, which the API asks for at initiation. No workload
//! reads one, and leaving it out keeps the portfolio comparable with earlier runs.
//!
//! **Once.** A database that holds bench data (a `BENCH-` project or a bench user) is refused
//! before anything is written. A run that fails part-way leaves the transactions committed so
//! far: seed a fresh database then.

mod ballot;
mod calendar;
mod change_requests;
mod defects;
mod go_live;
mod people;
mod raci;
mod rng;
mod schedule;
mod text;

use std::fmt;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityName, EntityTrait, IntoActiveModel, Iterable, QueryFilter, TransactionTrait,
};
use steerco_entity::{
    change_request, decision, decision_vote, defect, go_live_plan, milestone, phase, project,
    project_member, raci_activity, raci_assignment, user,
};
use steerco_graphql::domain::change_request::RedLine;
use steerco_graphql::domain::committee::VotingRule;
use steerco_graphql::domain::project::ProjectStatus;
use steerco_graphql::domain::schedule::HealthThresholds;
use thiserror::Error;

use self::ballot::StoredBallot;
use self::calendar::{AS_OF, History, at, plus_days};
use self::people::{Team, UserPool};
use self::rng::SeededRng;
use self::schedule::Timeline;
use self::text::{BENCH_EMAIL_DOMAIN, COMPANIES, LOCATIONS, PROJECT_SCOPES};

/// Bench projects are coded `BENCH-0001`, `BENCH-0002`, ...
pub const BENCH_CODE_PREFIX: &str = "BENCH-";
/// Projects written per transaction: big enough to amortise the commit, small enough to keep
/// a failed run's loss and the memory held small.
pub const PROJECTS_PER_TRANSACTION: usize = 50;

/// How much to generate, and from which seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchSize {
    pub projects: usize,
    pub seed: u64,
}

/// What a run wrote and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchReport {
    pub size: BenchSize,
    /// Rows written per table, in the order the tables were first written.
    pub tables: Vec<TableRows>,
    /// Generating and writing, from the first row to the last commit.
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRows {
    pub table: &'static str,
    pub rows: u64,
}

#[derive(Debug, Error)]
pub enum BenchError {
    #[error("bench data is already in this database ({0}); seed an empty database instead")]
    AlreadySeeded(String),
    #[error("a bench portfolio needs at least one project")]
    NoProjects,
    /// The generator made data the domain refuses: a bug of the generator.
    #[error("inconsistent bench data: {0}")]
    Inconsistent(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// Generates and writes the portfolio, unless the database already holds bench data.
pub async fn bench(db: &DatabaseConnection, size: BenchSize) -> Result<BenchReport, BenchError> {
    if size.projects == 0 {
        return Err(BenchError::NoProjects);
    }
    refuse_if_seeded(db).await?;
    let started = Instant::now();
    let mut tables = Vec::new();
    let (users, pool) = people::user_pool(&mut SeededRng::stream(size.seed, USER_STREAM));
    let txn = db.begin().await?;
    insert(&txn, users, &mut tables).await?;
    txn.commit().await?;
    for first in (0..size.projects).step_by(PROJECTS_PER_TRANSACTION) {
        let mut batch = Batch::default();
        for index in first..size.projects.min(first + PROJECTS_PER_TRANSACTION) {
            generate_project(size.seed, index, &pool, &mut batch)?;
        }
        let txn = db.begin().await?;
        batch.write(&txn, &mut tables).await?;
        txn.commit().await?;
    }
    Ok(BenchReport {
        size,
        tables,
        elapsed: started.elapsed(),
    })
}

async fn refuse_if_seeded(db: &DatabaseConnection) -> Result<(), BenchError> {
    let project = project::Entity::find()
        .filter(project::Column::Code.starts_with(BENCH_CODE_PREFIX))
        .one(db)
        .await?;
    if let Some(project) = project {
        return Err(BenchError::AlreadySeeded(format!(
            "project {}",
            project.code
        )));
    }
    let user = user::Entity::find()
        .filter(user::Column::Email.ends_with(format!("@{BENCH_EMAIL_DOMAIN}")))
        .one(db)
        .await?;
    match user {
        Some(user) => Err(BenchError::AlreadySeeded(format!("user {}", user.email))),
        None => Ok(()),
    }
}

/// Random streams: the user pool, each project (from `PROJECT_STREAMS + index`), and each deck
/// of statuses (from `DECK_STREAMS + deck`).
const USER_STREAM: u64 = 0;
const PROJECT_STREAMS: u64 = 1;
const DECK_STREAMS: u64 = 1 << 62;

/// Each run of [`DECK_SIZE`] consecutive projects holds exactly these statuses, shuffled: 70 %
/// in execution, and every other status a portfolio shows at least once.
const STATUS_DECK: [(ProjectStatus, usize); 7] = [
    (ProjectStatus::InExecution, 14),
    (ProjectStatus::Proposed, 1),
    (ProjectStatus::Initiated, 1),
    (ProjectStatus::LiveHypercare, 1),
    (ProjectStatus::Optimization, 1),
    (ProjectStatus::OnHold, 1),
    (ProjectStatus::Cancelled, 1),
];
const DECK_SIZE: usize = 20;

/// The status of project `index` (from 0).
fn status_of(seed: u64, index: usize) -> ProjectStatus {
    let deck_number = (index / DECK_SIZE) as u64;
    let mut rng = SeededRng::stream(seed, DECK_STREAMS + deck_number);
    let mut deck: Vec<ProjectStatus> = STATUS_DECK
        .iter()
        .flat_map(|&(status, count)| std::iter::repeat_n(status, count))
        .collect();
    debug_assert_eq!(deck.len(), DECK_SIZE);
    rng.shuffle(&mut deck);
    deck[index % DECK_SIZE]
}

/// Everything of project `index`, added to `batch`.
fn generate_project(
    seed: u64,
    index: usize,
    pool: &UserPool,
    batch: &mut Batch,
) -> Result<(), BenchError> {
    let status = status_of(seed, index);
    let rng = &mut SeededRng::stream(seed, PROJECT_STREAMS + index as u64);
    let timeline = Timeline::draw(rng, status);
    let team = Team::draw(rng, pool);
    // 200,000 to 3,000,000 in steps of 5,000.
    let budget = rng.between(40, 600) * 5_000;
    let project = project_row(rng, index, status, &timeline, budget);
    let created_at = project.created_at;
    let history = History::until_snapshot(created_at);
    let after_hours = |hours: i64| created_at + chrono::Duration::hours(hours);

    let members = team.members(rng, project.id, created_at)?;
    let phases = timeline.phases(rng, project.id, &team, after_hours(1));
    let milestones = timeline.milestones(rng, &phases, &team, after_hours(2));
    let (activities, assignments) = raci::matrix(rng, project.id, &team, &phases, after_hours(24));
    let change_requests = change_requests::generate(
        rng,
        &change_requests::Context {
            project_id: project.id,
            currency: project.budget_currency.as_deref().unwrap_or("EUR"),
            budget,
            team: &team,
            phases: &phases,
            history,
        },
    )?;
    let defects = defects::generate(
        rng,
        &defects::Context {
            project_id: project.id,
            team: &team,
            history,
            went_live: timeline
                .went_live_on()
                .map(|day| at(day, go_live::GO_LIVE_HOUR)),
        },
    );
    let go_live = go_live::generate(
        rng,
        &go_live::Context {
            project_id: project.id,
            status,
            team: &team,
            timeline: &timeline,
            drafted_at: after_hours(25),
        },
    )?;

    batch.projects.push(project);
    batch.members.extend(members);
    batch.phases.extend(phases);
    batch.milestones.extend(milestones);
    batch.raci_activities.extend(activities);
    batch.raci_assignments.extend(assignments);
    batch.change_requests.extend(change_requests.rows);
    change_requests
        .ballots
        .into_iter()
        .chain(go_live.ballot)
        .for_each(|ballot| batch.add_ballot(ballot));
    batch.defects.extend(defects);
    batch.go_live_plans.push(go_live.plan);
    Ok(())
}

fn project_row(
    rng: &mut SeededRng,
    index: usize,
    status: ProjectStatus,
    timeline: &Timeline,
    budget: i64,
) -> project::Model {
    let (time_zone, currency) = *rng.pick(LOCATIONS);
    let company = *rng.pick(COMPANIES);
    let scope = *rng.pick(PROJECT_SCOPES);
    // Created three weeks before its plan starts, and at least 20 days before the snapshot,
    // so that even a project still being proposed has a history to lay its requests and
    // defects out on.
    let proposed_days_ago = rng.between(20, 60);
    let created_on =
        plus_days(timeline.planned_start(), -21).min(plus_days(AS_OF, -proposed_days_ago));
    let created_at = at(created_on, 9);
    project::Model {
        id: rng.id_at(created_at),
        code: format!("{BENCH_CODE_PREFIX}{:04}", index + 1),
        name: format!("{company} {scope}"),
        description: format!(
            "{scope} for {company}: one CRM for sales, marketing and service, replacing \
             spreadsheets and the legacy call-centre tool."
        ),
        time_zone: time_zone.to_owned(),
        planned_start: Some(timeline.planned_start()),
        target_go_live: Some(timeline.target_go_live()),
        // Exact decimal text, as the services store a budget entered with cents.
        budget_amount: Some(Decimal::new(budget * 100, 2).to_string()),
        budget_currency: Some(currency.to_owned()),
        status: status.as_str().to_owned(),
        status_reason: match status {
            ProjectStatus::OnHold => Some("Waiting for the budget review of the next fiscal year"),
            ProjectStatus::Cancelled => Some("Merged into the group-wide CRM programme"),
            _ => None,
        }
        .map(str::to_owned),
        status_before_hold: (status == ProjectStatus::OnHold)
            .then(|| ProjectStatus::InExecution.as_str().to_owned()),
        // The defaults of a new project: ballots and health are computed by them.
        decision_rule: VotingRule::Majority.as_str().to_owned(),
        decision_quorum: None,
        amber_slip_days: HealthThresholds::default().amber_slip_days as i32,
        red_slip_days: HealthThresholds::default().red_slip_days as i32,
        red_line_schedule_days: RedLine::default().schedule_days,
        red_line_cost: RedLine::default().cost.to_string(),
        red_line_risk: RedLine::default().risk.as_str().to_owned(),
        created_at,
        updated_at: at(plus_days(AS_OF, -rng.between(1, 14)), 12).max(created_at),
        version: lifecycle_changes(status) + 1,
    }
}

/// Lifecycle transitions that led to `status`: initiate, start execution, go live, start
/// optimisation; holding and cancelling follow execution.
fn lifecycle_changes(status: ProjectStatus) -> i64 {
    match status {
        ProjectStatus::Proposed => 0,
        ProjectStatus::Initiated => 1,
        ProjectStatus::InExecution => 2,
        ProjectStatus::LiveHypercare | ProjectStatus::OnHold | ProjectStatus::Cancelled => 3,
        ProjectStatus::Optimization => 4,
        ProjectStatus::Closed => 5,
    }
}

/// The rows of a run of projects, per table.
#[derive(Default)]
struct Batch {
    projects: Vec<project::Model>,
    members: Vec<project_member::Model>,
    phases: Vec<phase::Model>,
    milestones: Vec<milestone::Model>,
    raci_activities: Vec<raci_activity::Model>,
    raci_assignments: Vec<raci_assignment::Model>,
    change_requests: Vec<change_request::Model>,
    decisions: Vec<decision::Model>,
    votes: Vec<decision_vote::Model>,
    defects: Vec<defect::Model>,
    go_live_plans: Vec<go_live_plan::Model>,
}

impl Batch {
    fn add_ballot(&mut self, ballot: StoredBallot) {
        self.decisions.push(ballot.decision);
        self.votes.extend(ballot.votes);
    }

    /// Writes every table, parents before children.
    async fn write(
        self,
        txn: &impl ConnectionTrait,
        tables: &mut Vec<TableRows>,
    ) -> Result<(), DbErr> {
        insert(txn, self.projects, tables).await?;
        insert(txn, self.members, tables).await?;
        insert(txn, self.phases, tables).await?;
        insert(txn, self.milestones, tables).await?;
        insert(txn, self.raci_activities, tables).await?;
        insert(txn, self.raci_assignments, tables).await?;
        insert(txn, self.change_requests, tables).await?;
        insert(txn, self.decisions, tables).await?;
        insert(txn, self.votes, tables).await?;
        insert(txn, self.defects, tables).await?;
        insert(txn, self.go_live_plans, tables).await
    }
}

/// Inserts `rows` with as few statements as the bind limit allows, and counts them.
async fn insert<M, A>(
    txn: &impl ConnectionTrait,
    rows: Vec<M>,
    tables: &mut Vec<TableRows>,
) -> Result<(), DbErr>
where
    M: IntoActiveModel<A>,
    A: ActiveModelTrait,
{
    let table = A::Entity::default().table_name();
    let columns = <A::Entity as EntityTrait>::Column::iter().count();
    let rows_per_statement = (max_binds(txn.get_database_backend()) / columns).max(1);
    count_rows(tables, table, rows.len());
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let statement = rows
            .by_ref()
            .take(rows_per_statement)
            .map(IntoActiveModel::into_active_model);
        A::Entity::insert_many(statement)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// Bind parameters per INSERT, just below the backend's limit: every statement costs a round
/// trip, and over TCP to PostgreSQL also a delayed acknowledgement (about 40 ms), since the
/// driver leaves Nagle's algorithm on.
fn max_binds(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Postgres => 65_000,
        // SQLite's SQLITE_MAX_VARIABLE_NUMBER is 32,766.
        _ => 32_000,
    }
}

fn count_rows(tables: &mut Vec<TableRows>, table: &'static str, rows: usize) {
    match tables.iter_mut().find(|counted| counted.table == table) {
        Some(counted) => counted.rows += rows as u64,
        None => tables.push(TableRows {
            table,
            rows: rows as u64,
        }),
    }
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, BenchError> {
    serde_json::to_string(value).map_err(|e| BenchError::Inconsistent(e.to_string()))
}

impl BenchReport {
    /// Rows written to `table` (0 when none).
    pub fn rows_in(&self, table: &str) -> u64 {
        self.tables
            .iter()
            .find(|counted| counted.table == table)
            .map_or(0, |counted| counted.rows)
    }

    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|counted| counted.rows).sum()
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        let total = self.total_rows();
        writeln!(
            f,
            "Seeded {} bench projects (seed {}, as of {AS_OF}) in {seconds:.2} s: {} rows, {} rows/s.",
            self.size.projects,
            self.size.seed,
            grouped(total),
            grouped((total as f64 / seconds.max(f64::EPSILON)) as u64),
        )?;
        for counted in &self.tables {
            writeln!(f, "  {:<16} {:>10}", counted.table, grouped(counted.rows))?;
        }
        Ok(())
    }
}

/// 1234567 → "1,234,567".
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_deck_of_twenty_holds_the_same_statuses() {
        for seed in [1, 42] {
            let mut statuses: Vec<&str> = (20..40).map(|i| status_of(seed, i).as_str()).collect();
            statuses.sort_unstable();
            let in_execution = statuses.iter().filter(|s| **s == "IN_EXECUTION").count();
            assert_eq!(in_execution, 14);
            statuses.dedup();
            assert_eq!(statuses.len(), STATUS_DECK.len());
        }
    }

    #[test]
    fn raci_outlines_name_two_different_people() {
        for outline in &text::RACI_ACTIVITIES {
            assert_ne!(outline.accountable, outline.responsible, "{}", outline.name);
        }
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
