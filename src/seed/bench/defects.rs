//! A bench project's hundred UAT defects: graded 5 / 15 / 40 / 40 CRITICAL / MAJOR / MINOR /
//! TRIVIAL in every project, and spread over the fix–retest lifecycle, about half still open:
//! most of the older ones are settled, most of the recent ones are not.
//!
//! Simplified: no test scenarios, cycles or executions are generated, so defects name none.

use chrono::{DateTime, Utc};
use steerco_entity::defect;
use steerco_graphql::domain::uat::{
    DefectCategory, DefectStatus, Priority, RejectReason, Severity,
};
use uuid::Uuid;

use super::calendar::History;
use super::people::{Seat, Team};
use super::rng::SeededRng;
use super::text::{DEFECT_SUBJECTS, DEFECT_SYMPTOMS};

/// Defects of every project, graded by [`SEVERITY_MIX`].
const SEVERITY_MIX: [(Severity, usize); 4] = [
    (Severity::Critical, 5),
    (Severity::Major, 15),
    (Severity::Minor, 40),
    (Severity::Trivial, 40),
];

/// Defects per project.
pub const PER_PROJECT: usize = {
    let mut total = 0;
    let mut row = 0;
    while row < SEVERITY_MIX.len() {
        total += SEVERITY_MIX[row].1;
        row += 1;
    }
    total
};

/// How likely each status is, in percent, for a defect found in the first part of the
/// project's history: most have been dealt with (15 % still open).
const SETTLED_WEIGHTS: [(DefectStatus, usize); 10] = [
    (DefectStatus::New, 2),
    (DefectStatus::Triaged, 2),
    (DefectStatus::Assigned, 2),
    (DefectStatus::InFix, 4),
    (DefectStatus::ReadyForRetest, 3),
    (DefectStatus::Reopened, 2),
    (DefectStatus::Verified, 10),
    (DefectStatus::Closed, 60),
    (DefectStatus::Deferred, 8),
    (DefectStatus::Rejected, 7),
];

/// The same for a recent defect: most are still being worked on (85 % open).
const RECENT_WEIGHTS: [(DefectStatus, usize); 10] = [
    (DefectStatus::New, 22),
    (DefectStatus::Triaged, 15),
    (DefectStatus::Assigned, 15),
    (DefectStatus::InFix, 18),
    (DefectStatus::ReadyForRetest, 10),
    (DefectStatus::Reopened, 5),
    (DefectStatus::Verified, 6),
    (DefectStatus::Closed, 5),
    (DefectStatus::Deferred, 2),
    (DefectStatus::Rejected, 2),
];

/// A critical or major defect found before a go-live: the committee said GO with none of
/// them open, so each was fixed or turned out not to be one.
const RESOLVED_WEIGHTS: [(DefectStatus, usize); 3] = [
    (DefectStatus::Verified, 15),
    (DefectStatus::Closed, 75),
    (DefectStatus::Rejected, 10),
];

/// Defects found before this fraction of the history count as settled: about half of them.
const SETTLED_BEFORE: f64 = 0.6;

/// Defects are found over this stretch of the project's history, oldest number first.
const FOUND_FROM: f64 = 0.25;
const FOUND_UNTIL: f64 = 0.95;
/// Each lifecycle step takes this fraction of the history.
const STEP: f64 = 0.004;

/// What every defect of a project refers to.
pub struct Context<'a> {
    pub project_id: Uuid,
    pub team: &'a Team,
    pub history: History,
    /// When the project went live, if it has: defects found later are production defects.
    pub went_live: Option<DateTime<Utc>>,
}

pub fn generate(rng: &mut SeededRng, context: &Context) -> Vec<defect::Model> {
    let mut severities: Vec<Severity> = SEVERITY_MIX
        .iter()
        .flat_map(|&(severity, count)| std::iter::repeat_n(severity, count))
        .collect();
    rng.shuffle(&mut severities);
    let mut rows: Vec<defect::Model> = Vec::with_capacity(severities.len());
    for (index, severity) in severities.into_iter().enumerate() {
        let found =
            FOUND_FROM + (FOUND_UNTIL - FOUND_FROM) * (index as f64 + 0.5) / PER_PROJECT as f64;
        let status = status_for(rng, context, severity, found);
        let row = defect_row(rng, context, &rows, index, severity, status, found);
        rows.push(row);
    }
    rows
}

/// Old defects are mostly settled and recent ones mostly open; a go-live left no critical or
/// major defect open behind it.
fn status_for(
    rng: &mut SeededRng,
    context: &Context,
    severity: Severity,
    found: f64,
) -> DefectStatus {
    let found_at = context.history.at(found);
    let before_go_live = context.went_live.is_some_and(|live| found_at < live);
    if before_go_live && severity.blocks_go_live() {
        rng.weighted(&RESOLVED_WEIGHTS)
    } else if found < SETTLED_BEFORE {
        rng.weighted(&SETTLED_WEIGHTS)
    } else {
        rng.weighted(&RECENT_WEIGHTS)
    }
}

fn defect_row(
    rng: &mut SeededRng,
    context: &Context,
    earlier: &[defect::Model],
    index: usize,
    severity: Severity,
    status: DefectStatus,
    found: f64,
) -> defect::Model {
    let created_at = context.history.at(found);
    let reopen_count = reopen_count(rng, status);
    // Every reopening beyond the one a REOPENED defect is in adds a round of reopen, assign,
    // fix and retest.
    let extra_rounds = reopen_count - i32::from(status == DefectStatus::Reopened);
    let changes = steps_to(status) + 4 * i64::from(extra_rounds);
    let updated_at = context.history.at(found + STEP * changes as f64);
    let (reject_reason, duplicate_of) = rejection(rng, status, earlier);
    let found_after_go_live = context.went_live.is_some_and(|live| created_at > live);
    let subject = *rng.pick(DEFECT_SUBJECTS);
    let symptom = *rng.pick(DEFECT_SYMPTOMS);
    defect::Model {
        id: rng.id_at(created_at),
        project_id: context.project_id,
        number: index as i32 + 1,
        title: format!("{subject} {symptom}"),
        steps_to_reproduce: format!(
            "1. Sign in as a sales user.\n2. Open {subject} for a large account.\n3. Save."
        ),
        expected_result: "The step completes as the solution design specifies.".to_owned(),
        actual_result: format!("{subject} {symptom}."),
        category: rng
            .weighted(&[
                (DefectCategory::LogicDeviation, 35),
                (DefectCategory::DataFlow, 20),
                (DefectCategory::Ux, 20),
                (DefectCategory::Permission, 10),
                (DefectCategory::Performance, 10),
                (DefectCategory::Other, 5),
            ])
            .as_str()
            .to_owned(),
        severity: Some(severity.as_str().to_owned()),
        priority: Some(priority_for(rng, severity).as_str().to_owned()),
        environment: if found_after_go_live {
            "Production"
        } else {
            *rng.pick(&["UAT", "UAT", "SIT"])
        }
        .to_owned(),
        found_in_cycle_id: None,
        scenario_id: None,
        execution_id: None,
        reporter_id: context.team.get(*rng.pick(&REPORTERS)),
        assignee_id: has_assignee(status).then(|| context.team.get(*rng.pick(&FIXERS))),
        found_after_go_live,
        status: status.as_str().to_owned(),
        reject_reason: reject_reason.map(|reason| reason.as_str().to_owned()),
        duplicate_of,
        status_reason: match status {
            DefectStatus::Deferred => Some("Moved to the backlog after go-live".to_owned()),
            DefectStatus::Reopened => Some("Still fails on the mobile app".to_owned()),
            _ => None,
        },
        reopen_count,
        created_at,
        updated_at,
        closed_at: (status == DefectStatus::Closed).then_some(updated_at),
        version: 1 + changes,
    }
}

/// Who finds defects: mostly QA, also the business testers.
const REPORTERS: [Seat; 5] = [
    Seat::Qa,
    Seat::Qa,
    Seat::Qa,
    Seat::BusinessLead,
    Seat::BusinessRep,
];

/// Who fixes them: mostly the vendor, sometimes in-house IT.
const FIXERS: [Seat; 3] = [Seat::Vendor, Seat::Vendor, Seat::ItLead];

/// Lifecycle steps from NEW to `status` on the shortest path: triage, assign, start the fix,
/// mark ready for retest, then verify (and close) or reopen; defer and reject follow triage.
fn steps_to(status: DefectStatus) -> i64 {
    match status {
        DefectStatus::New => 0,
        DefectStatus::Triaged => 1,
        DefectStatus::Assigned | DefectStatus::Deferred | DefectStatus::Rejected => 2,
        DefectStatus::InFix => 3,
        DefectStatus::ReadyForRetest => 4,
        DefectStatus::Verified | DefectStatus::Reopened => 5,
        DefectStatus::Closed => 6,
    }
}

/// From ASSIGNED on, someone owns the fix.
fn has_assignee(status: DefectStatus) -> bool {
    !matches!(
        status,
        DefectStatus::New | DefectStatus::Triaged | DefectStatus::Deferred | DefectStatus::Rejected
    )
}

/// A reopened defect was reopened once or twice; some fixed ones failed a retest first.
fn reopen_count(rng: &mut SeededRng, status: DefectStatus) -> i32 {
    match status {
        DefectStatus::Reopened => 1 + i32::from(rng.percent(20)),
        DefectStatus::Verified | DefectStatus::Closed => i32::from(rng.percent(12)),
        _ => 0,
    }
}

/// Why a rejected defect was rejected; a duplicate names an earlier defect of the project.
fn rejection(
    rng: &mut SeededRng,
    status: DefectStatus,
    earlier: &[defect::Model],
) -> (Option<RejectReason>, Option<Uuid>) {
    if status != DefectStatus::Rejected {
        return (None, None);
    }
    if !earlier.is_empty() && rng.percent(40) {
        return (Some(RejectReason::Duplicate), Some(rng.pick(earlier).id));
    }
    let reason = *rng.pick(&[RejectReason::NotADefect, RejectReason::WorksAsDesigned]);
    (Some(reason), None)
}

/// Urgency follows impact, with some spread.
fn priority_for(rng: &mut SeededRng, severity: Severity) -> Priority {
    match severity {
        Severity::Critical => Priority::P1,
        Severity::Major => *rng.pick(&[Priority::P1, Priority::P2, Priority::P2]),
        Severity::Minor => *rng.pick(&[Priority::P2, Priority::P3, Priority::P3]),
        Severity::Trivial => *rng.pick(&[Priority::P3, Priority::P4]),
    }
}
