//! Go-live rules (DOMAIN §9, §12.11): the go-live plan lifecycle, the cutover runbook (task
//! lifecycle and schedule), the go/no-go criteria and the GO guard, the rollback guard,
//! hypercare metric breaches, and the checks on the go-live date and its windows.
//!
//! ```text
//! DRAFT ─submitForDecision─▶ READY_FOR_DECISION ─decideGo─▶ APPROVED_GO
//!                            READY_FOR_DECISION ─decideNoGo─▶ NO_GO ─reschedule─▶ DRAFT
//! APPROVED_GO ─startCutover─▶ CUTOVER_IN_PROGRESS ─goLive─▶ LIVE ─closeHypercare─▶ CLOSED
//! CUTOVER_IN_PROGRESS or LIVE ─startRollback─▶ ROLLBACK_IN_PROGRESS
//! ROLLBACK_IN_PROGRESS ─completeRollback─▶ ROLLED_BACK ─replan─▶ DRAFT
//! ```
//!
//! LIVE is the hypercare period: the War Room is on standby and the rollback plan can still be
//! used to switch back to the old system (§9.1), so rollback stays possible until hypercare
//! closes.
//!
//! **Go/no-go.** The sources list no criteria (§9.2); the automatic ones here are computed from
//! facts the service gathers (UAT readiness, open defects, milestones, scope baseline, pending
//! changes, rollback plan, War Room) and the manual ones are ticked by people. A GO while any
//! criterion fails is allowed, but only as a recorded override with a reason.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::coded::coded_enum;
use crate::domain::error::{Refusal, RefusalCode, Refusals};
use crate::domain::text::{self, TextError};

/// The longest override or rollback reason, in characters.
pub const MAX_REASON_CHARS: usize = 2_000;

coded_enum! {
    /// How the new system reaches its users (§9.1: S2 pilots with seed users first).
    Strategy, "go-live strategy" {
        BigBang => "BIG_BANG",
        Phased => "PHASED",
        PilotThenFull => "PILOT_THEN_FULL",
    }
}

// ---------------------------------------------------------------------------------------------
// Plan lifecycle
// ---------------------------------------------------------------------------------------------

coded_enum! {
    PlanStatus, "plan status" {
        Draft => "DRAFT",
        ReadyForDecision => "READY_FOR_DECISION",
        ApprovedGo => "APPROVED_GO",
        NoGo => "NO_GO",
        CutoverInProgress => "CUTOVER_IN_PROGRESS",
        /// In hypercare.
        Live => "LIVE",
        Closed => "CLOSED",
        RollbackInProgress => "ROLLBACK_IN_PROGRESS",
        RolledBack => "ROLLED_BACK",
    }
}

coded_enum! {
    PlanAction, "plan action" {
        SubmitForDecision => "SUBMIT_FOR_DECISION",
        DecideGo => "DECIDE_GO",
        DecideNoGo => "DECIDE_NO_GO",
        Reschedule => "RESCHEDULE",
        StartCutover => "START_CUTOVER",
        GoLive => "GO_LIVE",
        CloseHypercare => "CLOSE_HYPERCARE",
        StartRollback => "START_ROLLBACK",
        CompleteRollback => "COMPLETE_ROLLBACK",
        Replan => "REPLAN",
    }
}

/// The next status, or None when the lifecycle has no such edge (see the module diagram).
pub fn plan_target(from: PlanStatus, action: PlanAction) -> Option<PlanStatus> {
    use PlanAction as A;
    use PlanStatus as S;
    match (from, action) {
        (S::Draft, A::SubmitForDecision) => Some(S::ReadyForDecision),
        (S::ReadyForDecision, A::DecideGo) => Some(S::ApprovedGo),
        (S::ReadyForDecision, A::DecideNoGo) => Some(S::NoGo),
        (S::NoGo, A::Reschedule) => Some(S::Draft),
        (S::ApprovedGo, A::StartCutover) => Some(S::CutoverInProgress),
        (S::CutoverInProgress, A::GoLive) => Some(S::Live),
        (S::Live, A::CloseHypercare) => Some(S::Closed),
        (S::CutoverInProgress | S::Live, A::StartRollback) => Some(S::RollbackInProgress),
        (S::RollbackInProgress, A::CompleteRollback) => Some(S::RolledBack),
        (S::RolledBack, A::Replan) => Some(S::Draft),
        (
            S::ReadyForDecision
            | S::ApprovedGo
            | S::NoGo
            | S::CutoverInProgress
            | S::Live
            | S::Closed
            | S::RollbackInProgress
            | S::RolledBack,
            A::SubmitForDecision,
        )
        | (
            S::Draft
            | S::ApprovedGo
            | S::NoGo
            | S::CutoverInProgress
            | S::Live
            | S::Closed
            | S::RollbackInProgress
            | S::RolledBack,
            A::DecideGo | A::DecideNoGo,
        )
        | (
            S::Draft
            | S::ReadyForDecision
            | S::ApprovedGo
            | S::CutoverInProgress
            | S::Live
            | S::Closed
            | S::RollbackInProgress
            | S::RolledBack,
            A::Reschedule,
        )
        | (
            S::Draft
            | S::ReadyForDecision
            | S::NoGo
            | S::CutoverInProgress
            | S::Live
            | S::Closed
            | S::RollbackInProgress
            | S::RolledBack,
            A::StartCutover,
        )
        | (
            S::Draft
            | S::ReadyForDecision
            | S::ApprovedGo
            | S::NoGo
            | S::Live
            | S::Closed
            | S::RollbackInProgress
            | S::RolledBack,
            A::GoLive,
        )
        | (
            S::Draft
            | S::ReadyForDecision
            | S::ApprovedGo
            | S::NoGo
            | S::CutoverInProgress
            | S::Closed
            | S::RollbackInProgress
            | S::RolledBack,
            A::CloseHypercare,
        )
        | (
            S::Draft
            | S::ReadyForDecision
            | S::ApprovedGo
            | S::NoGo
            | S::Closed
            | S::RollbackInProgress
            | S::RolledBack,
            A::StartRollback,
        )
        | (
            S::Draft
            | S::ReadyForDecision
            | S::ApprovedGo
            | S::NoGo
            | S::CutoverInProgress
            | S::Live
            | S::Closed
            | S::RolledBack,
            A::CompleteRollback,
        )
        | (
            S::Draft
            | S::ReadyForDecision
            | S::ApprovedGo
            | S::NoGo
            | S::CutoverInProgress
            | S::Live
            | S::Closed
            | S::RollbackInProgress,
            A::Replan,
        ) => None,
    }
}

/// The actions the lifecycle allows from a status, in [`PlanAction::ALL`] order.
pub fn plan_allowed_actions(from: PlanStatus) -> Vec<PlanAction> {
    PlanAction::ALL
        .into_iter()
        .filter(|action| plan_target(from, *action).is_some())
        .collect()
}

/// The next status, or an InvalidTransition refusal on `["action"]` naming the current status
/// and the actions it allows.
pub fn plan_transition(from: PlanStatus, action: PlanAction) -> Result<PlanStatus, Refusal> {
    plan_target(from, action).ok_or_else(|| {
        Refusal::invalid_transition(
            &["action"],
            from.as_str(),
            action.as_str(),
            plan_allowed_actions(from)
                .into_iter()
                .map(|allowed| allowed.as_str().to_owned()),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Runbook tasks
// ---------------------------------------------------------------------------------------------

coded_enum! {
    TaskStatus, "task status" {
        Pending => "PENDING",
        InProgress => "IN_PROGRESS",
        Done => "DONE",
        Failed => "FAILED",
        Skipped => "SKIPPED",
    }
}

/// PENDING → IN_PROGRESS → DONE | FAILED; PENDING → SKIPPED; FAILED → IN_PROGRESS (a retry).
/// Staying in the same status is not a move.
pub fn task_may_become(from: TaskStatus, to: TaskStatus) -> bool {
    use TaskStatus as T;
    match (from, to) {
        (T::Pending, T::InProgress | T::Skipped)
        | (T::InProgress, T::Done | T::Failed)
        | (T::Failed, T::InProgress) => true,
        (T::Pending, T::Pending | T::Done | T::Failed)
        | (T::InProgress, T::Pending | T::InProgress | T::Skipped)
        | (T::Done | T::Skipped, _)
        | (T::Failed, T::Pending | T::Done | T::Failed | T::Skipped) => false,
    }
}

/// A runbook task as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: Uuid,
    pub duration_minutes: u32,
    pub depends_on: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookSchedule {
    /// Minutes from the cutover start at which each task can start at the earliest.
    pub earliest_start: BTreeMap<Uuid, u32>,
    /// Minutes from the cutover start at which the last task ends.
    pub total_minutes: u32,
    /// The longest chain of tasks, first to last (ties: the one first in input order).
    pub critical_path: Vec<Uuid>,
}

/// Earliest starts, total length and critical path of a runbook whose dependencies are
/// finish-to-start.
///
/// Refusals, as the list of ids at fault:
/// - a dependency cycle: the cycle in dependency order, ending where it began (`[a, a]` for a
///   task depending on itself);
/// - a dependency on an id that is not a task of the runbook: `[that id]`;
/// - an id used by two tasks: `[that id]`, since which of them a dependency meant is unknowable.
///
/// Among chains of equal length the critical path prefers the one with more tasks (a
/// zero-minute sign-off at the end still belongs to it), then the task first in input order.
pub fn schedule_runbook(tasks: &[Task]) -> Result<RunbookSchedule, Vec<Uuid>> {
    let mut index_of: HashMap<Uuid, usize> = HashMap::with_capacity(tasks.len());
    for (index, task) in tasks.iter().enumerate() {
        if index_of.insert(task.id, index).is_some() {
            return Err(vec![task.id]);
        }
    }

    // Predecessor indices per task, each once, in input order so tie-breaks are stable.
    let mut predecessors: Vec<Vec<usize>> = Vec::with_capacity(tasks.len());
    for task in tasks {
        let mut seen = HashSet::new();
        let mut indices = Vec::new();
        for dependency in &task.depends_on {
            let &index = index_of.get(dependency).ok_or_else(|| vec![*dependency])?;
            if seen.insert(index) {
                indices.push(index);
            }
        }
        indices.sort_unstable();
        predecessors.push(indices);
    }

    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    let mut waiting_on: Vec<usize> = predecessors.iter().map(Vec::len).collect();
    for (index, preds) in predecessors.iter().enumerate() {
        for &pred in preds {
            successors[pred].push(index);
        }
    }

    let mut ready: VecDeque<usize> = (0..tasks.len()).filter(|&i| waiting_on[i] == 0).collect();
    let mut order = Vec::with_capacity(tasks.len());
    while let Some(index) = ready.pop_front() {
        order.push(index);
        for &next in &successors[index] {
            waiting_on[next] -= 1;
            if waiting_on[next] == 0 {
                ready.push_back(next);
            }
        }
    }
    if order.len() < tasks.len() {
        return Err(cycle_among_unscheduled(tasks, &predecessors, &waiting_on));
    }

    let mut start = vec![0_u32; tasks.len()];
    let mut finish = vec![0_u32; tasks.len()];
    let mut chain_len = vec![1_usize; tasks.len()];
    let mut critical_predecessor: Vec<Option<usize>> = vec![None; tasks.len()];
    for &index in &order {
        let best = predecessors[index]
            .iter()
            .copied()
            .min_by_key(|&pred| (std::cmp::Reverse((finish[pred], chain_len[pred])), pred));
        if let Some(pred) = best {
            start[index] = finish[pred];
            chain_len[index] = chain_len[pred] + 1;
            critical_predecessor[index] = Some(pred);
        }
        // Saturating: u32 minutes is millennia, far beyond any real runbook.
        finish[index] = start[index].saturating_add(tasks[index].duration_minutes);
    }

    let last = (0..tasks.len()).min_by_key(|&i| (std::cmp::Reverse((finish[i], chain_len[i])), i));
    let mut critical_path = Vec::new();
    let mut cursor = last;
    while let Some(index) = cursor {
        critical_path.push(tasks[index].id);
        cursor = critical_predecessor[index];
    }
    critical_path.reverse();

    Ok(RunbookSchedule {
        earliest_start: tasks
            .iter()
            .enumerate()
            .map(|(index, task)| (task.id, start[index]))
            .collect(),
        total_minutes: last.map_or(0, |index| finish[index]),
        critical_path,
    })
}

/// After a topological sort stalls, every task left waiting has a waiting predecessor, so
/// walking predecessors from the first such task must come round to a task already visited.
fn cycle_among_unscheduled(
    tasks: &[Task],
    predecessors: &[Vec<usize>],
    waiting_on: &[usize],
) -> Vec<Uuid> {
    let is_unscheduled = |index: usize| waiting_on[index] > 0;
    let Some(first) = (0..tasks.len()).find(|&i| is_unscheduled(i)) else {
        return Vec::new();
    };
    let mut walk = vec![first];
    let mut position_in_walk: HashMap<usize, usize> = HashMap::from([(first, 0)]);
    let mut current = first;
    loop {
        let Some(&pred) = predecessors[current].iter().find(|&&p| is_unscheduled(p)) else {
            // Unreachable by the argument above; an empty answer is still a refusal.
            return Vec::new();
        };
        if let Some(&position) = position_in_walk.get(&pred) {
            // The walk ran against the dependencies, so read it backwards to list each task
            // before its dependant, starting and ending at the task that closed the loop.
            let mut cycle = vec![tasks[pred].id];
            cycle.extend(walk[position..].iter().rev().map(|&i| tasks[i].id));
            return cycle;
        }
        position_in_walk.insert(pred, walk.len());
        walk.push(pred);
        current = pred;
    }
}

// ---------------------------------------------------------------------------------------------
// Go/no-go criteria
// ---------------------------------------------------------------------------------------------

/// The facts automatic go/no-go criteria are computed from, gathered by the service.
#[derive(Debug, Clone, Default)]
pub struct CriteriaFacts {
    pub uat_ready: bool,
    pub open_critical: u32,
    pub open_major: u32,
    pub max_open_critical: u32,
    pub max_open_major: u32,
    /// Names of milestones due before go-live and not achieved.
    pub milestones_not_achieved: Vec<String>,
    pub scope_baselined: bool,
    /// Codes of change requests awaiting a decision that touch a go-live milestone.
    pub pending_changes: Vec<String>,
    pub rollback_approved: bool,
    pub rollback_rehearsed: bool,
    pub war_room_size: u32,
    /// (name, done) of each manual criterion.
    pub manual: Vec<(String, bool)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Criterion {
    pub key: String,
    pub description: String,
    pub automatic: bool,
    pub value: String,
    pub threshold: String,
    pub holds: bool,
}

/// The key every manual criterion shares; its description tells them apart.
pub const MANUAL_KEY: &str = "MANUAL";

fn automatic(
    key: &str,
    description: String,
    value: String,
    threshold: String,
    holds: bool,
) -> Criterion {
    Criterion {
        key: key.to_owned(),
        description,
        automatic: true,
        value,
        threshold,
        holds,
    }
}

fn with_names(description: &str, label: &str, names: &[String]) -> String {
    if names.is_empty() {
        description.to_owned()
    } else {
        format!("{description} ({label}: {})", names.join(", "))
    }
}

/// The automatic criteria, in a fixed order, then one criterion per manual item.
///
/// Each automatic criterion holds exactly up to its threshold: `open_critical ==
/// max_open_critical` holds, one more does not.
pub fn evaluate(facts: &CriteriaFacts) -> Vec<Criterion> {
    let rollback_ready = facts.rollback_approved && facts.rollback_rehearsed;
    let rollback_gaps: Vec<String> = [
        (!facts.rollback_approved).then_some("not approved"),
        (!facts.rollback_rehearsed).then_some("not rehearsed"),
    ]
    .into_iter()
    .flatten()
    .map(str::to_owned)
    .collect();

    let mut criteria = vec![
        automatic(
            "UAT_READY",
            "User acceptance testing is ready for go-live".to_owned(),
            facts.uat_ready.to_string(),
            "true".to_owned(),
            facts.uat_ready,
        ),
        automatic(
            "OPEN_CRITICAL_DEFECTS",
            "Open critical defects are within the limit".to_owned(),
            facts.open_critical.to_string(),
            format!("≤ {}", facts.max_open_critical),
            facts.open_critical <= facts.max_open_critical,
        ),
        automatic(
            "OPEN_MAJOR_DEFECTS",
            "Open major defects are within the limit".to_owned(),
            facts.open_major.to_string(),
            format!("≤ {}", facts.max_open_major),
            facts.open_major <= facts.max_open_major,
        ),
        automatic(
            "MILESTONES_ACHIEVED",
            with_names(
                "Milestones due before go-live are achieved",
                "not achieved",
                &facts.milestones_not_achieved,
            ),
            facts.milestones_not_achieved.len().to_string(),
            "0".to_owned(),
            facts.milestones_not_achieved.is_empty(),
        ),
        automatic(
            "SCOPE_BASELINED",
            "The scope is baselined".to_owned(),
            facts.scope_baselined.to_string(),
            "true".to_owned(),
            facts.scope_baselined,
        ),
        automatic(
            "NO_PENDING_CHANGES",
            with_names(
                "No change request touching a go-live milestone awaits a decision",
                "pending",
                &facts.pending_changes,
            ),
            facts.pending_changes.len().to_string(),
            "0".to_owned(),
            facts.pending_changes.is_empty(),
        ),
        automatic(
            "ROLLBACK_APPROVED_AND_REHEARSED",
            with_names(
                "The rollback plan is approved and rehearsed",
                "rollback plan",
                &rollback_gaps,
            ),
            rollback_ready.to_string(),
            "true".to_owned(),
            rollback_ready,
        ),
        automatic(
            "WAR_ROOM_STAFFED",
            "The War Room roster is staffed".to_owned(),
            facts.war_room_size.to_string(),
            "≥ 1".to_owned(),
            facts.war_room_size >= 1,
        ),
    ];
    criteria.extend(facts.manual.iter().map(|(name, done)| Criterion {
        key: MANUAL_KEY.to_owned(),
        description: name.clone(),
        automatic: false,
        value: if *done { "DONE" } else { "PENDING" }.to_owned(),
        threshold: "DONE".to_owned(),
        holds: *done,
    }));
    criteria
}

pub fn all_hold(criteria: &[Criterion]) -> bool {
    criteria.iter().all(|criterion| criterion.holds)
}

/// Whether a GO overrides failing criteria (automatic or manual).
///
/// A GO while any criterion fails needs an override reason of 1..=2000 characters, so the
/// decision record says why the committee went ahead anyway. A blank reason counts as none:
/// PreconditionFailed on `["overrideReason"]` naming the failing criteria. A reason that is too
/// long or has control characters is BadUserInput, whether or not it was needed.
pub fn check_go(criteria: &[Criterion], override_reason: Option<&str>) -> Result<bool, Refusal> {
    let reason = match override_reason.map(|raw| text::required_multi_line(raw, MAX_REASON_CHARS)) {
        None | Some(Err(TextError::Empty)) => None,
        Some(Ok(reason)) => Some(reason),
        Some(Err(error)) => return Err(Refusal::bad_input(&["overrideReason"], error.to_string())),
    };
    let failing: Vec<&str> = criteria
        .iter()
        .filter(|criterion| !criterion.holds)
        .map(|criterion| {
            if criterion.automatic {
                criterion.key.as_str()
            } else {
                criterion.description.as_str()
            }
        })
        .collect();
    if failing.is_empty() {
        return Ok(false);
    }
    if reason.is_none() {
        return Err(Refusal::precondition(
            &["overrideReason"],
            format!(
                "a GO while criteria fail needs an override reason; failing: {}",
                failing.join(", ")
            ),
        ));
    }
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// Rollback
// ---------------------------------------------------------------------------------------------

/// Rollback may start only during cutover or hypercare, by the decision authority, always with
/// a reason (everyone is told to switch back, §12.11); after the point of no return it also
/// needs `force`, because switching back then loses work done in the new system.
///
/// Every broken rule is reported: InvalidTransition on `["action"]` for the state, NotEligible
/// on `[]` for authority, PreconditionFailed on `["force"]`, BadUserInput on `["reason"]`.
pub fn check_rollback_start(
    status: PlanStatus,
    is_authority: bool,
    past_point_of_no_return: bool,
    force: bool,
    reason: &str,
) -> Result<(), Vec<Refusal>> {
    let mut refusals = Refusals::default();
    if let Err(refusal) = plan_transition(status, PlanAction::StartRollback) {
        refusals.push(refusal);
    }
    if !is_authority {
        refusals.push(Refusal::new(
            RefusalCode::NotEligible,
            &[],
            "only the plan's decision authority may start a rollback",
        ));
    }
    if past_point_of_no_return && !force {
        refusals.push(Refusal::precondition(
            &["force"],
            "the point of no return has passed; starting a rollback now needs force",
        ));
    }
    refusals.field(
        &["reason"],
        text::required_multi_line(reason, MAX_REASON_CHARS),
    );
    refusals.finish()
}

// ---------------------------------------------------------------------------------------------
// Hypercare metrics
// ---------------------------------------------------------------------------------------------

coded_enum! {
    /// Which side of its target a metric must stay on.
    Direction, "metric direction" {
        /// Higher is better: login rate, data growth.
        AtLeast => "AT_LEAST",
        /// Lower is better: response time, error rate, open tickets.
        AtMost => "AT_MOST",
    }
}

/// Whether a reading misses its target; a reading equal to the target meets it.
pub fn breached(direction: Direction, target: Decimal, value: Decimal) -> bool {
    match direction {
        Direction::AtLeast => value < target,
        Direction::AtMost => value > target,
    }
}

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

/// Go-live date checks, every problem at once:
/// - the go-live is after `now` (BadUserInput on `["plannedGoLive"]`);
/// - it is not inside another plan's change-freeze window, ends included (Conflict on
///   `["plannedGoLive"]`), since that freeze exists to keep changes out;
/// - the cutover and freeze windows start no later than they end (BadUserInput on
///   `["cutoverWindow"]`, `["freezeWindow"]`).
pub fn check_dates(
    planned_go_live: DateTime<Utc>,
    now: DateTime<Utc>,
    cutover: (DateTime<Utc>, DateTime<Utc>),
    freeze: Option<(DateTime<Utc>, DateTime<Utc>)>,
    other_freezes: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Result<(), Vec<Refusal>> {
    let mut refusals = Refusals::default();
    if planned_go_live <= now {
        refusals.push(Refusal::bad_input(
            &["plannedGoLive"],
            "the go-live must be in the future",
        ));
    }
    if let Some((start, end)) = other_freezes
        .iter()
        .find(|(start, end)| (*start..=*end).contains(&planned_go_live))
    {
        refusals.push(Refusal::conflict(
            &["plannedGoLive"],
            format!(
                "the go-live falls inside another plan's change freeze ({} to {})",
                start.to_rfc3339(),
                end.to_rfc3339()
            ),
        ));
    }
    if cutover.0 > cutover.1 {
        refusals.push(Refusal::bad_input(
            &["cutoverWindow"],
            "the cutover window must start no later than it ends",
        ));
    }
    if let Some((start, end)) = freeze
        && start > end
    {
        refusals.push(Refusal::bad_input(
            &["freezeWindow"],
            "the freeze window must start no later than it ends",
        ));
    }
    refusals.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn task(n: u128, duration_minutes: u32, depends_on: &[u128]) -> Task {
        Task {
            id: id(n),
            duration_minutes,
            depends_on: depends_on.iter().map(|&d| id(d)).collect(),
        }
    }

    fn at(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap() + TimeDelta::hours(hours)
    }

    fn codes(refusals: &[Refusal]) -> Vec<(RefusalCode, Vec<String>)> {
        refusals.iter().map(|r| (r.code, r.field.clone())).collect()
    }

    fn field(path: &[&str]) -> Vec<String> {
        path.iter().map(|p| (*p).to_owned()).collect()
    }

    #[test]
    fn every_code_round_trips_and_unknown_codes_are_named() {
        for s in Strategy::ALL {
            assert_eq!(s.as_str().parse::<Strategy>(), Ok(s));
        }
        for s in PlanStatus::ALL {
            assert_eq!(s.as_str().parse::<PlanStatus>(), Ok(s));
        }
        for a in PlanAction::ALL {
            assert_eq!(a.as_str().parse::<PlanAction>(), Ok(a));
        }
        for t in TaskStatus::ALL {
            assert_eq!(t.as_str().parse::<TaskStatus>(), Ok(t));
        }
        for d in Direction::ALL {
            assert_eq!(d.as_str().parse::<Direction>(), Ok(d));
        }
        let error = "LIVE_ISH".parse::<PlanStatus>().unwrap_err();
        assert!(error.to_string().contains("LIVE_ISH"));
        assert!(error.to_string().contains("ROLLED_BACK"));
    }

    #[test]
    fn every_status_and_action_pair_follows_the_lifecycle_table() {
        use PlanAction as A;
        use PlanStatus as S;
        let edges = [
            (S::Draft, A::SubmitForDecision, S::ReadyForDecision),
            (S::ReadyForDecision, A::DecideGo, S::ApprovedGo),
            (S::ReadyForDecision, A::DecideNoGo, S::NoGo),
            (S::NoGo, A::Reschedule, S::Draft),
            (S::ApprovedGo, A::StartCutover, S::CutoverInProgress),
            (S::CutoverInProgress, A::GoLive, S::Live),
            (S::Live, A::CloseHypercare, S::Closed),
            (
                S::CutoverInProgress,
                A::StartRollback,
                S::RollbackInProgress,
            ),
            (S::Live, A::StartRollback, S::RollbackInProgress),
            (S::RollbackInProgress, A::CompleteRollback, S::RolledBack),
            (S::RolledBack, A::Replan, S::Draft),
        ];
        for from in S::ALL {
            for action in A::ALL {
                let expected = edges
                    .iter()
                    .find(|(f, a, _)| *f == from && *a == action)
                    .map(|(_, _, to)| *to);
                assert_eq!(plan_target(from, action), expected, "{from} {action}");
                match (plan_transition(from, action), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want),
                    (Err(refusal), None) => {
                        assert_eq!(refusal.code, RefusalCode::InvalidTransition);
                        assert_eq!(refusal.field, field(&["action"]));
                        assert_eq!(refusal.current_state.as_deref(), Some(from.as_str()));
                        let allowed: Vec<String> = plan_allowed_actions(from)
                            .iter()
                            .map(|a| a.as_str().to_owned())
                            .collect();
                        assert_eq!(refusal.allowed_actions, allowed);
                    }
                    (got, want) => panic!("{from} {action}: got {got:?}, want {want:?}"),
                }
            }
        }
        assert!(plan_allowed_actions(S::Closed).is_empty());
        assert_eq!(
            plan_allowed_actions(S::Live),
            vec![A::CloseHypercare, A::StartRollback]
        );
    }

    #[test]
    fn tasks_move_only_along_the_runbook_lifecycle() {
        use TaskStatus as T;
        let allowed = [
            (T::Pending, T::InProgress),
            (T::Pending, T::Skipped),
            (T::InProgress, T::Done),
            (T::InProgress, T::Failed),
            (T::Failed, T::InProgress),
        ];
        for from in T::ALL {
            for to in T::ALL {
                assert_eq!(
                    task_may_become(from, to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn a_diamond_runbook_starts_each_task_after_its_slowest_predecessor() {
        // 1 (30) → 2 (60) → 4 (15); 1 → 3 (20) → 4.
        let tasks = [
            task(1, 30, &[]),
            task(2, 60, &[1]),
            task(3, 20, &[1]),
            task(4, 15, &[2, 3]),
        ];
        let schedule = schedule_runbook(&tasks).unwrap();
        assert_eq!(
            schedule.earliest_start,
            BTreeMap::from([(id(1), 0), (id(2), 30), (id(3), 30), (id(4), 90)])
        );
        assert_eq!(schedule.total_minutes, 105);
        assert_eq!(schedule.critical_path, vec![id(1), id(2), id(4)]);
    }

    #[test]
    fn equal_branches_put_the_first_in_input_order_on_the_critical_path() {
        let tasks = [
            task(1, 10, &[]),
            task(3, 20, &[1]),
            task(2, 20, &[1]),
            task(4, 5, &[2, 3]),
        ];
        let schedule = schedule_runbook(&tasks).unwrap();
        assert_eq!(schedule.critical_path, vec![id(1), id(3), id(4)]);
    }

    #[test]
    fn a_zero_minute_sign_off_at_the_end_stays_on_the_critical_path() {
        let tasks = [task(1, 60, &[]), task(2, 0, &[1])];
        let schedule = schedule_runbook(&tasks).unwrap();
        assert_eq!(schedule.total_minutes, 60);
        assert_eq!(schedule.critical_path, vec![id(1), id(2)]);
    }

    #[test]
    fn an_empty_runbook_takes_no_time() {
        let schedule = schedule_runbook(&[]).unwrap();
        assert_eq!(schedule.total_minutes, 0);
        assert!(schedule.critical_path.is_empty());
        assert!(schedule.earliest_start.is_empty());
    }

    #[test]
    fn runbook_refusals_name_the_ids_at_fault() {
        let cases: [(&str, Vec<Task>, Vec<Uuid>); 4] = [
            (
                "a cycle, in dependency order",
                vec![
                    task(9, 5, &[]),
                    task(1, 5, &[3, 9]),
                    task(2, 5, &[1]),
                    task(3, 5, &[2]),
                ],
                vec![id(1), id(2), id(3), id(1)],
            ),
            (
                "a task depending on itself",
                vec![task(1, 5, &[1])],
                vec![id(1), id(1)],
            ),
            (
                "an unknown dependency",
                vec![task(1, 5, &[]), task(2, 5, &[1, 77])],
                vec![id(77)],
            ),
            (
                "an id used twice",
                vec![task(1, 5, &[]), task(1, 9, &[])],
                vec![id(1)],
            ),
        ];
        for (case, tasks, expected) in cases {
            assert_eq!(schedule_runbook(&tasks), Err(expected), "{case}");
        }
    }

    fn healthy_facts() -> CriteriaFacts {
        CriteriaFacts {
            uat_ready: true,
            open_critical: 0,
            open_major: 2,
            max_open_critical: 0,
            max_open_major: 2,
            milestones_not_achieved: Vec::new(),
            scope_baselined: true,
            pending_changes: Vec::new(),
            rollback_approved: true,
            rollback_rehearsed: true,
            war_room_size: 1,
            manual: vec![("Sponsor sign-off".to_owned(), true)],
        }
    }

    fn criterion<'a>(criteria: &'a [Criterion], key: &str) -> &'a Criterion {
        criteria.iter().find(|c| c.key == key).unwrap()
    }

    #[test]
    fn criteria_come_in_a_fixed_order_with_manual_ones_last() {
        let criteria = evaluate(&healthy_facts());
        let keys: Vec<&str> = criteria.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "UAT_READY",
                "OPEN_CRITICAL_DEFECTS",
                "OPEN_MAJOR_DEFECTS",
                "MILESTONES_ACHIEVED",
                "SCOPE_BASELINED",
                "NO_PENDING_CHANGES",
                "ROLLBACK_APPROVED_AND_REHEARSED",
                "WAR_ROOM_STAFFED",
                "MANUAL",
            ]
        );
        assert!(all_hold(&criteria));
        let manual = &criteria[8];
        assert!(!manual.automatic);
        assert_eq!(manual.description, "Sponsor sign-off");
        assert_eq!(manual.value, "DONE");
        let critical = criterion(&criteria, "OPEN_CRITICAL_DEFECTS");
        assert_eq!(
            (critical.value.as_str(), critical.threshold.as_str()),
            ("0", "≤ 0")
        );
    }

    #[test]
    fn each_criterion_flips_exactly_at_its_threshold() {
        type Tweak = fn(&mut CriteriaFacts);
        let cases: [(&str, Tweak, &str); 10] = [
            ("UAT_READY", |f| f.uat_ready = false, "false"),
            ("OPEN_CRITICAL_DEFECTS", |f| f.open_critical = 1, "1"),
            ("OPEN_MAJOR_DEFECTS", |f| f.open_major = 3, "3"),
            (
                "MILESTONES_ACHIEVED",
                |f| f.milestones_not_achieved = vec!["Data migrated".to_owned()],
                "1",
            ),
            ("SCOPE_BASELINED", |f| f.scope_baselined = false, "false"),
            (
                "NO_PENDING_CHANGES",
                |f| f.pending_changes = vec!["CR-7".to_owned()],
                "1",
            ),
            (
                "ROLLBACK_APPROVED_AND_REHEARSED",
                |f| f.rollback_approved = false,
                "false",
            ),
            (
                "ROLLBACK_APPROVED_AND_REHEARSED",
                |f| f.rollback_rehearsed = false,
                "false",
            ),
            ("WAR_ROOM_STAFFED", |f| f.war_room_size = 0, "0"),
            ("MANUAL", |f| f.manual[0].1 = false, "PENDING"),
        ];
        // healthy_facts sits exactly on every threshold, so each tweak crosses one.
        for (key, tweak, value) in cases {
            let mut facts = healthy_facts();
            tweak(&mut facts);
            let criteria = evaluate(&facts);
            let failing: Vec<&Criterion> = criteria.iter().filter(|c| !c.holds).collect();
            assert_eq!(failing.len(), 1, "{key}");
            assert_eq!(failing[0].key, key);
            assert_eq!(failing[0].value, value, "{key}");
            assert!(!all_hold(&criteria));
        }
    }

    #[test]
    fn failing_list_criteria_name_what_is_missing() {
        let mut facts = healthy_facts();
        facts.milestones_not_achieved = vec!["Data migrated".to_owned(), "Training".to_owned()];
        facts.pending_changes = vec!["CR-7".to_owned()];
        let criteria = evaluate(&facts);
        assert!(
            criterion(&criteria, "MILESTONES_ACHIEVED")
                .description
                .contains("Data migrated, Training")
        );
        assert!(
            criterion(&criteria, "NO_PENDING_CHANGES")
                .description
                .contains("CR-7")
        );
    }

    #[test]
    fn go_needs_an_override_reason_only_while_a_criterion_fails() {
        let healthy = evaluate(&healthy_facts());
        let mut facts = healthy_facts();
        facts.open_critical = 2;
        facts.manual[0].1 = false;
        let failing = evaluate(&facts);
        let too_long = "x".repeat(MAX_REASON_CHARS + 1);
        let longest = "x".repeat(MAX_REASON_CHARS);

        type Case<'a> = (
            &'a str,
            &'a [Criterion],
            Option<&'a str>,
            Result<bool, RefusalCode>,
        );
        let cases: [Case; 7] = [
            ("all hold, no reason", &healthy, None, Ok(false)),
            (
                "all hold, with reason",
                &healthy,
                Some("just in case"),
                Ok(false),
            ),
            (
                "failing, no reason",
                &failing,
                None,
                Err(RefusalCode::PreconditionFailed),
            ),
            (
                "failing, blank reason",
                &failing,
                Some("  "),
                Err(RefusalCode::PreconditionFailed),
            ),
            (
                "failing, reason",
                &failing,
                Some("Sponsor accepts the risk"),
                Ok(true),
            ),
            (
                "failing, longest reason",
                &failing,
                Some(&longest),
                Ok(true),
            ),
            (
                "failing, too long",
                &failing,
                Some(&too_long),
                Err(RefusalCode::BadUserInput),
            ),
        ];
        for (case, criteria, reason, expected) in cases {
            let got = check_go(criteria, reason).map_err(|r| {
                assert_eq!(r.field, field(&["overrideReason"]), "{case}");
                r.code
            });
            assert_eq!(got, expected, "{case}");
        }

        let refusal = check_go(&failing, None).unwrap_err();
        assert!(refusal.message.contains("OPEN_CRITICAL_DEFECTS"));
        assert!(refusal.message.contains("Sponsor sign-off"));
    }

    #[test]
    fn rollback_start_reports_every_broken_rule() {
        use PlanStatus as S;
        use RefusalCode as C;
        // (case, status, is authority, past the point of no return, force, reason, refusals)
        type Case<'a> = (
            &'a str,
            PlanStatus,
            bool,
            bool,
            bool,
            &'a str,
            Vec<(RefusalCode, Vec<String>)>,
        );
        let cases: [Case; 8] = [
            (
                "during cutover",
                S::CutoverInProgress,
                true,
                false,
                false,
                "Data corrupted",
                vec![],
            ),
            (
                "during hypercare",
                S::Live,
                true,
                false,
                false,
                "Logins failing",
                vec![],
            ),
            (
                "forced past the point",
                S::Live,
                true,
                true,
                true,
                "Logins failing",
                vec![],
            ),
            (
                "not in cutover or hypercare",
                S::ApprovedGo,
                true,
                false,
                false,
                "why",
                vec![(C::InvalidTransition, field(&["action"]))],
            ),
            (
                "not the authority",
                S::Live,
                false,
                false,
                false,
                "why",
                vec![(C::NotEligible, vec![])],
            ),
            (
                "past the point without force",
                S::Live,
                true,
                true,
                false,
                "why",
                vec![(C::PreconditionFailed, field(&["force"]))],
            ),
            (
                "no reason",
                S::CutoverInProgress,
                true,
                false,
                false,
                "   ",
                vec![(C::BadUserInput, field(&["reason"]))],
            ),
            (
                "everything wrong",
                S::Closed,
                false,
                true,
                false,
                "",
                vec![
                    (C::InvalidTransition, field(&["action"])),
                    (C::NotEligible, vec![]),
                    (C::PreconditionFailed, field(&["force"])),
                    (C::BadUserInput, field(&["reason"])),
                ],
            ),
        ];
        for (case, status, authority, past, force, reason, expected) in cases {
            let got = check_rollback_start(status, authority, past, force, reason)
                .err()
                .map(|refusals| codes(&refusals))
                .unwrap_or_default();
            assert_eq!(got, expected, "{case}");
        }
    }

    #[test]
    fn a_reading_equal_to_its_target_is_not_a_breach() {
        let target = Decimal::new(95, 0);
        let cases = [
            (Direction::AtLeast, Decimal::new(9499, 2), true),
            (Direction::AtLeast, Decimal::new(95, 0), false),
            (Direction::AtLeast, Decimal::new(9501, 2), false),
            (Direction::AtMost, Decimal::new(9499, 2), false),
            (Direction::AtMost, Decimal::new(9500, 2), false),
            (Direction::AtMost, Decimal::new(9501, 2), true),
        ];
        for (direction, value, expected) in cases {
            assert_eq!(
                breached(direction, target, value),
                expected,
                "{direction} {value}"
            );
        }
    }

    #[test]
    fn go_live_dates_are_checked_together() {
        let now = at(0);
        let cutover = (at(40), at(47));
        let other = [(at(100), at(120))];
        type Case<'a> = (
            &'a str,
            DateTime<Utc>,
            (DateTime<Utc>, DateTime<Utc>),
            Option<(DateTime<Utc>, DateTime<Utc>)>,
            Vec<(RefusalCode, Vec<String>)>,
        );
        let cases: [Case; 9] = [
            (
                "in the future",
                at(48),
                cutover,
                Some((at(24), at(72))),
                vec![],
            ),
            (
                "right now",
                now,
                (now, now),
                None,
                vec![(RefusalCode::BadUserInput, field(&["plannedGoLive"]))],
            ),
            (
                "in the past",
                at(-1),
                (at(-3), at(-2)),
                None,
                vec![(RefusalCode::BadUserInput, field(&["plannedGoLive"]))],
            ),
            (
                "at the start of another freeze",
                at(100),
                cutover,
                None,
                vec![(RefusalCode::Conflict, field(&["plannedGoLive"]))],
            ),
            (
                "at the end of another freeze",
                at(120),
                cutover,
                None,
                vec![(RefusalCode::Conflict, field(&["plannedGoLive"]))],
            ),
            ("just after another freeze", at(121), cutover, None, vec![]),
            (
                "a backwards cutover window",
                at(48),
                (at(47), at(40)),
                None,
                vec![(RefusalCode::BadUserInput, field(&["cutoverWindow"]))],
            ),
            (
                "a backwards freeze window",
                at(48),
                cutover,
                Some((at(72), at(24))),
                vec![(RefusalCode::BadUserInput, field(&["freezeWindow"]))],
            ),
            (
                "zero-length windows",
                at(48),
                (at(40), at(40)),
                Some((at(24), at(24))),
                vec![],
            ),
        ];
        for (case, go_live, cutover, freeze, expected) in cases {
            let got = check_dates(go_live, now, cutover, freeze, &other)
                .err()
                .map(|refusals| codes(&refusals))
                .unwrap_or_default();
            assert_eq!(got, expected, "{case}");
        }
    }
}
