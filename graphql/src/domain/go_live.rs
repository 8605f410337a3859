//! Go-live rules (DOMAIN §9, §12.11): the go-live plan lifecycle, the cutover runbook (task
//! lifecycle and schedule), the go/no-go criteria and the GO guard, the rollback guard,
//! hypercare metric breaches, and the checks on the go-live date and its windows.
//!
//! ```text
//! DRAFT ─submitForDecision─▶ READY_FOR_DECISION ─decideGo─▶ APPROVED_GO
//!                            READY_FOR_DECISION ─decideNoGo─▶ NO_GO ─reschedule─▶ DRAFT
//! APPROVED_GO ─reschedule─▶ DRAFT (the GO withdrawn, to change the plan)
//! APPROVED_GO ─startCutover─▶ CUTOVER_IN_PROGRESS ─goLive─▶ LIVE ─closeHypercare─▶ CLOSED
//! CUTOVER_IN_PROGRESS or LIVE ─startRollback─▶ ROLLBACK_IN_PROGRESS
//! ROLLBACK_IN_PROGRESS ─completeRollback─▶ ROLLED_BACK ─replan─▶ DRAFT
//! ```
//!
//! LIVE is the hypercare period: the War Room is on standby and the rollback plan can still be
//! used to switch back to the old system (§9.1), so rollback stays possible until hypercare
//! closes.
//!
//! **What the committee approved is what is executed.** The plan's content (its preparation,
//! runbook and manual criteria) changes only until the committee decides; an approved plan is
//! changed by rescheduling it to DRAFT, which withdraws the GO and needs a new decision.
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
use crate::domain::project::ProjectStatus;
use crate::domain::text::{self, TextError};
use crate::domain::uat::{DefectRow, Severity, is_open};

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
        (S::NoGo | S::ApprovedGo, A::Reschedule) => Some(S::Draft),
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

/// Refuses, at `field`, a change to the plan's content (its preparation, its runbook's tasks,
/// its manual criteria) once the committee has decided: after a GO, what the committee approved
/// is what is executed, so changing it withdraws the GO (RESCHEDULE back to DRAFT, then a new
/// decision); after a NO_GO or a rollback the plan is rescheduled or replanned first; from the
/// cutover on, the plan is being executed. Task progress during cutover is not content.
pub fn check_content_editable(status: PlanStatus, field: &[&str]) -> Result<(), Refusal> {
    use PlanStatus as S;
    let refusal = |message: String| Err(Refusal::precondition(field, message));
    match status {
        S::Draft | S::ReadyForDecision => Ok(()),
        S::ApprovedGo => refusal(
            "the committee approved this plan with a GO, and what it approved is what is executed: \
             to change it, RESCHEDULE it back to DRAFT (withdrawing the GO) and ask for a new decision"
                .to_owned(),
        ),
        S::NoGo => refusal(
            "the committee said NO_GO to this plan: RESCHEDULE it back to DRAFT to change it"
                .to_owned(),
        ),
        S::RolledBack => refusal(
            "this plan was rolled back: REPLAN it (a new attempt in DRAFT) to change it".to_owned(),
        ),
        S::CutoverInProgress | S::Live | S::Closed | S::RollbackInProgress => refusal(format!(
            "a {} plan is being executed or is over and can no longer be prepared",
            status.as_str()
        )),
    }
}

/// Where a project stands in its lifecycle: its status, and while `ON_HOLD` the status a
/// resumption returns to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectPosition {
    pub status: ProjectStatus,
    pub held_from: Option<ProjectStatus>,
}

impl ProjectPosition {
    /// Whether the project was initiated: it is past PROPOSED, or on hold from a later state.
    /// A closed or cancelled project counts as initiated, whenever it stopped: it changes
    /// nothing any more.
    pub fn is_initiated(self) -> bool {
        self.held_from.unwrap_or(self.status) != ProjectStatus::Proposed
    }
}

/// Where a plan's move takes its project, or why the project's lifecycle refuses it.
/// `Ok(None)`: the project stays where it is.
///
/// - A project on hold, or not yet in execution (PROPOSED, INITIATED), neither starts a
///   cutover nor goes live nor leaves hypercare: held, it stays held until it is resumed.
/// - Going live takes the project to LIVE_HYPERCARE: from IN_EXECUTION, or from OPTIMIZATION
///   for a later wave (a phased roll-out's next plan); one already in hypercare stays there.
/// - Closing hypercare takes a LIVE_HYPERCARE project to OPTIMIZATION; one already moved on by
///   hand, or back in execution with another plan, stays where it is.
/// - A completed rollback takes a live project (LIVE_HYPERCARE or OPTIMIZATION) back to
///   IN_EXECUTION. It is an emergency and is never refused: a project held meanwhile stays
///   ON_HOLD, to resume IN_EXECUTION.
pub fn project_after(
    action: PlanAction,
    project: ProjectPosition,
) -> Result<Option<ProjectPosition>, Refusal> {
    use ProjectStatus as S;
    let moved = |status: S| {
        Some(ProjectPosition {
            status,
            held_from: None,
        })
    };
    let moving = matches!(
        action,
        PlanAction::StartCutover | PlanAction::GoLive | PlanAction::CloseHypercare
    );
    if moving
        && !matches!(
            project.status,
            S::InExecution | S::LiveHypercare | S::Optimization
        )
    {
        return Err(Refusal::precondition(
            &["action"],
            format!(
                "{} needs the project in execution or live; it is {}",
                action.as_str(),
                project.status.as_str()
            ),
        ));
    }
    Ok(match action {
        PlanAction::GoLive if project.status != S::LiveHypercare => moved(S::LiveHypercare),
        PlanAction::CloseHypercare if project.status == S::LiveHypercare => moved(S::Optimization),
        PlanAction::CompleteRollback => match project {
            ProjectPosition {
                status: S::OnHold,
                held_from: Some(held_from),
            } if held_from.is_live() => Some(ProjectPosition {
                status: S::OnHold,
                held_from: Some(S::InExecution),
            }),
            ProjectPosition { status, .. } if status.is_live() => moved(S::InExecution),
            ProjectPosition { .. } => None,
        },
        PlanAction::GoLive
        | PlanAction::CloseHypercare
        | PlanAction::StartCutover
        | PlanAction::SubmitForDecision
        | PlanAction::DecideGo
        | PlanAction::DecideNoGo
        | PlanAction::Reschedule
        | PlanAction::StartRollback
        | PlanAction::Replan => None,
    })
}

/// Plans in these statuses no longer hold a place on the go-live calendar: a closed plan's
/// hypercare is over and a rolled-back plan's dates are void until it is replanned. Every
/// other plan's go-live and freeze are checked against a new or moved plan's dates.
pub const OFF_THE_CALENDAR: [PlanStatus; 2] = [PlanStatus::Closed, PlanStatus::RolledBack];

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
            "Open critical (or not yet graded) defects are within the limit".to_owned(),
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

/// The open defects the go/no-go criteria count, as (critical, major). A defect not graded yet
/// may be critical, so it counts as one, as UAT readiness counts it against the exit: a
/// defect logged and left ungraded must not slip past the committee.
pub fn open_critical_and_major(defects: &[DefectRow]) -> (u32, u32) {
    defects.iter().filter(|defect| is_open(defect.status)).fold(
        (0, 0),
        |(critical, major), defect| match defect.severity {
            Some(Severity::Critical) | None => (critical + 1, major),
            Some(Severity::Major) => (critical, major + 1),
            Some(Severity::Minor | Severity::Trivial) => (critical, major),
        },
    )
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

/// A hypercare metric as the exit from hypercare sees it: its name, and whether the latest of
/// its readings taken since the plan last went live missed the target (`None`: no reading
/// since; readings of an attempt rolled back say nothing of this one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricSinceLive {
    pub name: String,
    pub latest_breached: Option<bool>,
}

/// Hypercare closes only on evidence: every metric the War Room watches has been read since the
/// plan last went live, and the latest of those readings is on target. One
/// PRECONDITION_FAILED on `["action"]` per kind of metric still waiting, naming them.
pub fn check_hypercare_exit(metrics: &[MetricSinceLive]) -> Result<(), Vec<Refusal>> {
    let names = |wanted: Option<bool>| -> Vec<&str> {
        metrics
            .iter()
            .filter(|metric| metric.latest_breached == wanted)
            .map(|metric| metric.name.as_str())
            .collect()
    };
    let mut refusals = Vec::new();
    let unread = names(None);
    if !unread.is_empty() {
        refusals.push(Refusal::precondition(
            &["action"],
            format!(
                "metrics not read since the plan went live: {}",
                unread.join(", ")
            ),
        ));
    }
    let off_target = names(Some(true));
    if !off_target.is_empty() {
        refusals.push(Refusal::precondition(
            &["action"],
            format!("metrics still off target: {}", off_target.join(", ")),
        ));
    }
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(refusals)
    }
}

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

/// Another open plan, as a new or moved plan's dates are checked against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtherPlan {
    pub go_live: DateTime<Utc>,
    pub freeze: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// Go-live date checks, every problem at once:
/// - the go-live is after `now` (BadUserInput on `["plannedGoLive"]`);
/// - it is not inside another plan's change-freeze window, ends included (Conflict on
///   `["plannedGoLive"]`), since that freeze exists to keep changes out;
/// - the plan's own freeze covers no other plan's go-live, ends included (Conflict on
///   `["freezeStart"]`): the same clash seen from the other side, so that which of the two
///   plans came first does not decide whether it is allowed;
/// - the cutover and freeze windows start no later than they end (BadUserInput on
///   `["cutoverEnd"]`, `["freezeEnd"]`).
pub fn check_dates(
    planned_go_live: DateTime<Utc>,
    now: DateTime<Utc>,
    cutover: (DateTime<Utc>, DateTime<Utc>),
    freeze: Option<(DateTime<Utc>, DateTime<Utc>)>,
    others: &[OtherPlan],
) -> Result<(), Vec<Refusal>> {
    let mut refusals = Refusals::default();
    if planned_go_live <= now {
        refusals.push(Refusal::bad_input(
            &["plannedGoLive"],
            "the go-live must be in the future",
        ));
    }
    if let Some((start, end)) = others
        .iter()
        .filter_map(|other| other.freeze)
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
    if let Some((start, end)) = freeze
        && let Some(covered) = others
            .iter()
            .find(|other| (start..=end).contains(&other.go_live))
    {
        refusals.push(Refusal::conflict(
            &["freezeStart"],
            format!(
                "the change freeze covers another plan's go-live ({})",
                covered.go_live.to_rfc3339()
            ),
        ));
    }
    if cutover.0 > cutover.1 {
        refusals.push(Refusal::bad_input(
            &["cutoverEnd"],
            "the cutover window must start no later than it ends",
        ));
    }
    if let Some((start, end)) = freeze
        && start > end
    {
        refusals.push(Refusal::bad_input(
            &["freezeEnd"],
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
            (S::ApprovedGo, A::Reschedule, S::Draft),
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

    /// The plan's content changes until the committee decides, and never after: a GO approves
    /// the plan as it stands, so the refusal says how to change it (RESCHEDULE, or REPLAN
    /// after a rollback), each way being an edge the lifecycle has.
    #[test]
    fn the_plan_is_prepared_until_the_committee_decides() {
        use PlanAction as A;
        use PlanStatus as S;
        for status in S::ALL {
            let outcome = check_content_editable(status, &["planId"]);
            match status {
                S::Draft | S::ReadyForDecision => assert_eq!(outcome, Ok(()), "{status}"),
                _ => {
                    let refusal = outcome.unwrap_err();
                    assert_eq!(refusal.code, RefusalCode::PreconditionFailed, "{status}");
                    assert_eq!(refusal.field, field(&["planId"]));
                    for action in A::ALL {
                        if refusal.message.contains(action.as_str()) {
                            assert_eq!(plan_target(status, action), Some(S::Draft), "{status}");
                        }
                    }
                }
            }
        }
        let approved = check_content_editable(S::ApprovedGo, &["id"]).unwrap_err();
        assert_eq!(approved.field, field(&["id"]));
        assert!(
            approved
                .message
                .contains("what it approved is what is executed"),
            "{}",
            approved.message
        );
        assert!(approved.message.contains("RESCHEDULE"));
        assert!(
            check_content_editable(S::RolledBack, &["planId"])
                .unwrap_err()
                .message
                .contains("REPLAN")
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

    /// An ungraded open defect may be critical: the go/no-go counts it as one, as readiness
    /// does; closed, deferred and rejected defects count for nothing.
    #[test]
    fn an_open_defect_not_graded_yet_counts_as_critical() {
        use crate::domain::uat::DefectStatus as D;
        let defect = |status, severity| DefectRow {
            status,
            severity,
            created_on: chrono::NaiveDate::from_ymd_opt(2027, 1, 4).unwrap(),
            closed_on: None,
            reopen_count: 0,
            found_after_go_live: false,
            on_core_scenario: false,
        };
        assert_eq!(open_critical_and_major(&[]), (0, 0));
        let defects = [
            defect(D::New, None),
            defect(D::Triaged, Some(Severity::Critical)),
            defect(D::InFix, Some(Severity::Major)),
            defect(D::Reopened, Some(Severity::Minor)),
            defect(D::New, Some(Severity::Trivial)),
            defect(D::Deferred, Some(Severity::Critical)),
            defect(D::Rejected, None),
            defect(D::Closed, Some(Severity::Major)),
            defect(D::Verified, Some(Severity::Critical)),
        ];
        assert_eq!(open_critical_and_major(&defects), (2, 1));
    }

    #[test]
    fn hypercare_closes_only_when_every_metric_is_read_since_go_live_and_on_target() {
        let metric = |name: &str, latest_breached| MetricSinceLive {
            name: name.to_owned(),
            latest_breached,
        };
        assert_eq!(check_hypercare_exit(&[]), Ok(()));
        assert_eq!(
            check_hypercare_exit(&[metric("Login rate", Some(false))]),
            Ok(())
        );
        let refusals = check_hypercare_exit(&[
            metric("Login rate", Some(false)),
            metric("Order errors", None),
            metric("Response time", Some(true)),
            metric("Tickets", None),
        ])
        .unwrap_err();
        let messages: Vec<&str> = refusals.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "metrics not read since the plan went live: Order errors, Tickets",
                "metrics still off target: Response time",
            ]
        );
        for refusal in &refusals {
            assert_eq!(refusal.code, RefusalCode::PreconditionFailed);
            assert_eq!(refusal.field, field(&["action"]));
        }
    }

    #[test]
    fn go_live_dates_are_checked_together() {
        let now = at(0);
        let cutover = (at(40), at(47));
        let other = [OtherPlan {
            go_live: at(110),
            freeze: Some((at(100), at(120))),
        }];
        type Case<'a> = (
            &'a str,
            DateTime<Utc>,
            (DateTime<Utc>, DateTime<Utc>),
            Option<(DateTime<Utc>, DateTime<Utc>)>,
            Vec<(RefusalCode, Vec<String>)>,
        );
        let cases: [Case; 13] = [
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
                vec![(RefusalCode::BadUserInput, field(&["cutoverEnd"]))],
            ),
            (
                "a backwards freeze window",
                at(48),
                cutover,
                Some((at(72), at(24))),
                vec![(RefusalCode::BadUserInput, field(&["freezeEnd"]))],
            ),
            (
                "a freeze ending at another go-live",
                at(48),
                cutover,
                Some((at(24), at(110))),
                vec![(RefusalCode::Conflict, field(&["freezeStart"]))],
            ),
            (
                "a freeze starting at another go-live",
                at(130),
                (at(125), at(128)),
                Some((at(110), at(140))),
                vec![(RefusalCode::Conflict, field(&["freezeStart"]))],
            ),
            (
                "a freeze ending just before another go-live",
                at(48),
                cutover,
                Some((at(24), at(109))),
                vec![],
            ),
            (
                "a go-live in another freeze and a freeze over its go-live",
                at(105),
                cutover,
                Some((at(104), at(112))),
                vec![
                    (RefusalCode::Conflict, field(&["plannedGoLive"])),
                    (RefusalCode::Conflict, field(&["freezeStart"])),
                ],
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

    fn position(status: ProjectStatus, held_from: Option<ProjectStatus>) -> ProjectPosition {
        ProjectPosition { status, held_from }
    }

    #[test]
    fn a_project_is_initiated_once_past_its_proposal_held_or_not() {
        use ProjectStatus as S;
        assert!(!position(S::Proposed, None).is_initiated());
        assert!(!position(S::OnHold, Some(S::Proposed)).is_initiated());
        assert!(position(S::OnHold, Some(S::Initiated)).is_initiated());
        for status in [
            S::Initiated,
            S::InExecution,
            S::LiveHypercare,
            S::Optimization,
        ] {
            assert!(position(status, None).is_initiated(), "{status:?}");
        }
    }

    #[test]
    fn a_plan_moves_its_project_only_along_the_project_lifecycle() {
        use PlanAction as A;
        use ProjectStatus as S;
        let at = |status| position(status, None);
        let live = Some(at(S::LiveHypercare));
        for status in [S::InExecution, S::LiveHypercare, S::Optimization] {
            assert_eq!(project_after(A::StartCutover, at(status)), Ok(None));
        }
        assert_eq!(project_after(A::GoLive, at(S::InExecution)), Ok(live));
        // A later wave's go-live: hypercare again, or still.
        assert_eq!(project_after(A::GoLive, at(S::Optimization)), Ok(live));
        assert_eq!(project_after(A::GoLive, at(S::LiveHypercare)), Ok(None));
        assert_eq!(
            project_after(A::CloseHypercare, at(S::LiveHypercare)),
            Ok(Some(at(S::Optimization)))
        );
        for stays in [S::InExecution, S::Optimization] {
            assert_eq!(project_after(A::CloseHypercare, at(stays)), Ok(None));
        }
        let held = position(S::OnHold, Some(S::InExecution));
        for refused in [at(S::Proposed), at(S::Initiated), held] {
            for action in [A::StartCutover, A::GoLive, A::CloseHypercare] {
                let refusal = project_after(action, refused).unwrap_err();
                assert_eq!(refusal.code, RefusalCode::PreconditionFailed);
                assert_eq!(refusal.field, ["action"]);
                assert!(
                    refusal
                        .message
                        .contains("needs the project in execution or live")
                );
            }
        }
        // Moves that do not touch the project.
        for action in [
            A::SubmitForDecision,
            A::DecideGo,
            A::Reschedule,
            A::StartRollback,
        ] {
            assert_eq!(project_after(action, at(S::Proposed)), Ok(None));
        }
    }

    #[test]
    fn a_completed_rollback_takes_a_live_project_back_to_execution_even_on_hold() {
        use PlanAction as A;
        use ProjectStatus as S;
        let back = Some(position(S::InExecution, None));
        for live in [S::LiveHypercare, S::Optimization] {
            assert_eq!(
                project_after(A::CompleteRollback, position(live, None)),
                Ok(back)
            );
            assert_eq!(
                project_after(A::CompleteRollback, position(S::OnHold, Some(live))),
                Ok(Some(position(S::OnHold, Some(S::InExecution))))
            );
        }
        // Rolled back during cutover: the project never left execution.
        for stays in [
            position(S::InExecution, None),
            position(S::OnHold, Some(S::InExecution)),
        ] {
            assert_eq!(project_after(A::CompleteRollback, stays), Ok(None));
        }
    }
}

#[cfg(test)]
mod properties {
    //! Arbitrary command sequences driven through the go-live plan lifecycle (GO through its
    //! criteria guard, rollback through its own guard, as the service applies them), through
    //! runbook tasks, and arbitrary runbooks scheduled, with the invariants checked after
    //! every step.

    // Explicit imports: the module's go-live `Strategy` would clash with proptest's.
    use proptest::prelude::*;
    use proptest::sample::Index;
    use uuid::Uuid;

    use super::{
        CriteriaFacts, MAX_REASON_CHARS, PlanAction, PlanStatus, Task, TaskStatus, all_hold,
        check_go, check_rollback_start, evaluate, plan_allowed_actions, plan_transition,
        schedule_runbook, task_may_become,
    };
    use crate::domain::error::{Refusal, RefusalCode};

    use PlanAction as A;
    use PlanStatus as S;

    /// The plan lifecycle of the module diagram, edge by edge, independently of `plan_target`.
    const EDGES: [(PlanStatus, PlanAction, PlanStatus); 12] = [
        (S::Draft, A::SubmitForDecision, S::ReadyForDecision),
        (S::ReadyForDecision, A::DecideGo, S::ApprovedGo),
        (S::ReadyForDecision, A::DecideNoGo, S::NoGo),
        (S::NoGo, A::Reschedule, S::Draft),
        (S::ApprovedGo, A::Reschedule, S::Draft),
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

    fn expected_target(from: PlanStatus, action: PlanAction) -> Option<PlanStatus> {
        EDGES
            .iter()
            .find(|(edge_from, edge_action, _)| *edge_from == from && *edge_action == action)
            .map(|(_, _, to)| *to)
    }

    /// Facts around each threshold, so that every automatic criterion both holds and fails.
    fn criteria_facts() -> impl Strategy<Value = CriteriaFacts> {
        // Usually nothing is listed, so that every criterion holding is not a rare case.
        let names = |name: &'static str| {
            prop::option::weighted(0.2, Just(name.to_owned())).prop_map(Vec::from_iter)
        };
        let defects = (0_u32..3, 0_u32..3, 0_u32..3, 0_u32..3);
        let readiness = (
            prop::bool::weighted(0.8),
            prop::bool::weighted(0.8),
            prop::bool::weighted(0.8),
            prop::bool::weighted(0.8),
            0_u32..3,
        );
        let manual = prop::collection::vec(
            (
                prop::sample::select(vec!["Hypercare roster signed", "Key users trained"])
                    .prop_map(str::to_owned),
                prop::bool::weighted(0.8),
            ),
            0..3,
        );
        (
            defects,
            readiness,
            names("Data migration signed off"),
            names("CR-7"),
            manual,
        )
            .prop_map(
                |(
                    (open_critical, max_open_critical, open_major, max_open_major),
                    (
                        scope_baselined,
                        rollback_approved,
                        rollback_rehearsed,
                        uat_ready,
                        war_room_size,
                    ),
                    milestones_not_achieved,
                    pending_changes,
                    manual,
                )| CriteriaFacts {
                    uat_ready,
                    open_critical,
                    open_major,
                    max_open_critical,
                    max_open_major,
                    milestones_not_achieved,
                    scope_baselined,
                    pending_changes,
                    rollback_approved,
                    rollback_rehearsed,
                    war_room_size,
                    manual,
                },
            )
    }

    /// Whether every criterion holds, recomputed from the facts.
    fn naive_all_hold(facts: &CriteriaFacts) -> bool {
        facts.uat_ready
            && facts.open_critical <= facts.max_open_critical
            && facts.open_major <= facts.max_open_major
            && facts.milestones_not_achieved.is_empty()
            && facts.scope_baselined
            && facts.pending_changes.is_empty()
            && facts.rollback_approved
            && facts.rollback_rehearsed
            && facts.war_room_size >= 1
            && facts.manual.iter().all(|(_, done)| *done)
    }

    /// No reason, blank ones, a real one, and malformed ones (too long, a control character).
    fn reason() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            1 => Just(None),
            1 => Just(Some(String::new())),
            1 => Just(Some("   ".to_owned())),
            4 => Just(Some(
                "the payment interface is late; we go with manual exports".to_owned()
            )),
            1 => Just(Some("x".repeat(MAX_REASON_CHARS + 1))),
            1 => Just(Some("line\u{7}bell".to_owned())),
        ]
    }

    fn is_blank(reason: Option<&str>) -> bool {
        reason.is_none_or(|r| r.trim().is_empty())
    }

    fn is_well_formed(reason: &str) -> bool {
        let reason = reason.trim();
        reason.chars().count() <= MAX_REASON_CHARS
            && !reason
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    }

    /// Who asks for a rollback, and in which circumstances.
    #[derive(Debug, Clone)]
    struct RollbackRequest {
        is_authority: bool,
        /// A point-of-no-return task of the runbook is done.
        no_return_task_done: bool,
        force: bool,
        reason: Option<String>,
    }

    fn rollback_request() -> impl Strategy<Value = RollbackRequest> {
        (any::<bool>(), any::<bool>(), any::<bool>(), reason()).prop_map(
            |(is_authority, no_return_task_done, force, reason)| RollbackRequest {
                is_authority,
                no_return_task_done,
                force,
                reason,
            },
        )
    }

    #[derive(Debug, Clone)]
    struct Step {
        action: PlanAction,
        /// When set, the action is replaced by one the current status allows, so that
        /// sequences get to cutover, hypercare and rollback.
        steer: Option<Index>,
        /// The evaluation frozen when a GO ballot closes, and the override reason on record.
        criteria: CriteriaFacts,
        override_reason: Option<String>,
        rollback: RollbackRequest,
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        let step = (
            prop::sample::select(PlanAction::ALL.to_vec()),
            prop::option::weighted(0.7, any::<Index>()),
            criteria_facts(),
            reason(),
            rollback_request(),
        )
            .prop_map(
                |(action, steer, criteria, override_reason, rollback)| Step {
                    action,
                    steer,
                    criteria,
                    override_reason,
                    rollback,
                },
            );
        prop::collection::vec(step, 0..40)
    }

    /// One step applied: the status before, what was asked and what came of it.
    struct Visit {
        before: PlanStatus,
        action: PlanAction,
        step: Step,
        /// For a GO: whether it went ahead as an override of failing criteria.
        overridden: Option<bool>,
        /// For a rollback: whether the point of no return had passed.
        past_point_of_no_return: bool,
        outcome: Result<PlanStatus, Vec<Refusal>>,
    }

    /// Applies the steps from DRAFT as the service does: a GO from a plan awaiting it must
    /// pass `check_go` on the frozen evaluation, a rollback `check_rollback_start` (which also
    /// checks the state), where LIVE counts as past the point of no return.
    fn replay(steps: &[Step]) -> Vec<Visit> {
        let mut status = S::Draft;
        let mut visits = Vec::with_capacity(steps.len());
        for step in steps {
            let allowed = plan_allowed_actions(status);
            let action = match step.steer {
                Some(index) if !allowed.is_empty() => allowed[index.index(allowed.len())],
                _ => step.action,
            };
            let mut overridden = None;
            let past_point_of_no_return = step.rollback.no_return_task_done || status == S::Live;
            let outcome = match action {
                // The ballot is applied to a plan awaiting its decision; only then does the
                // frozen evaluation matter.
                A::DecideGo => plan_transition(status, action)
                    .map_err(|refusal| vec![refusal])
                    .and_then(|approved| {
                        let criteria = evaluate(&step.criteria);
                        let went_over = check_go(&criteria, step.override_reason.as_deref())
                            .map_err(|refusal| vec![refusal])?;
                        overridden = Some(went_over);
                        Ok(approved)
                    }),
                A::StartRollback => {
                    let request = &step.rollback;
                    check_rollback_start(
                        status,
                        request.is_authority,
                        past_point_of_no_return,
                        request.force,
                        request.reason.as_deref().unwrap_or(""),
                    )
                    .and_then(|()| plan_transition(status, action).map_err(|refusal| vec![refusal]))
                }
                _ => plan_transition(status, action).map_err(|refusal| vec![refusal]),
            };
            let before = status;
            if let Ok(after) = outcome {
                status = after;
            }
            visits.push(Visit {
                before,
                action,
                step: step.clone(),
                overridden,
                past_point_of_no_return,
                outcome,
            });
        }
        visits
    }

    // --- runbooks --------------------------------------------------------------------------

    fn task_id(position: usize) -> Uuid {
        Uuid::from_u128(u128::try_from(position).expect("small") + 1)
    }

    /// Up to seven tasks, each depending on a few others; when `acyclic`, only on earlier
    /// tasks, which rules out cycles.
    fn runbook(acyclic: bool) -> impl Strategy<Value = Vec<Task>> {
        let task = (0_u32..=120, prop::collection::vec(any::<Index>(), 0..3));
        prop::collection::vec(task, 1..=7).prop_map(move |specs| {
            specs
                .iter()
                .enumerate()
                .map(|(position, (duration_minutes, dependencies))| {
                    let candidates = if acyclic { position } else { specs.len() };
                    Task {
                        id: task_id(position),
                        duration_minutes: *duration_minutes,
                        depends_on: if candidates == 0 {
                            Vec::new()
                        } else {
                            dependencies
                                .iter()
                                .map(|d| task_id(d.index(candidates)))
                                .collect()
                        },
                    }
                })
                .collect()
        })
    }

    fn task_named<'a>(tasks: &'a [Task], id: &Uuid) -> &'a Task {
        tasks
            .iter()
            .find(|task| task.id == *id)
            .expect("a task of the runbook")
    }

    /// Whether the dependencies close a cycle: peel off tasks whose dependencies are all
    /// peeled until none is left (no cycle) or none can be peeled (a cycle).
    fn has_cycle(tasks: &[Task]) -> bool {
        let mut peeled: Vec<Uuid> = Vec::new();
        loop {
            let ready: Vec<Uuid> = tasks
                .iter()
                .filter(|t| {
                    !peeled.contains(&t.id) && t.depends_on.iter().all(|d| peeled.contains(d))
                })
                .map(|t| t.id)
                .collect();
            if ready.is_empty() {
                return peeled.len() < tasks.len();
            }
            peeled.extend(ready);
        }
    }

    fn task_status() -> impl Strategy<Value = TaskStatus> {
        prop::sample::select(TaskStatus::ALL.to_vec())
    }

    proptest! {
        /// Every accepted command follows an edge of the lifecycle table (whatever its guard
        /// said); a command without an edge is refused as an invalid transition, and
        /// `plan_allowed_actions` offers exactly the actions with an edge. CLOSED is final.
        #[test]
        fn accepted_commands_follow_the_lifecycle_table(steps in steps()) {
            for visit in replay(&steps) {
                let (before, action) = (visit.before, visit.action);
                let expected = expected_target(before, action);
                let offered = plan_allowed_actions(before);
                prop_assert_eq!(offered.contains(&action), expected.is_some());
                match &visit.outcome {
                    Ok(after) => prop_assert_eq!(Some(*after), expected),
                    Err(refusals) => {
                        let invalid = refusals
                            .iter()
                            .any(|r| r.code == RefusalCode::InvalidTransition);
                        let context = format!("{before} {action}: {refusals:?}");
                        prop_assert_eq!(invalid, expected.is_none(), "{}", context);
                    }
                }
                if before == S::Closed {
                    prop_assert!(visit.outcome.is_err());
                    prop_assert!(offered.is_empty());
                }
            }
        }

        /// GO requires the criteria unless overridden: a plan is approved only when every
        /// criterion held or a non-blank, well-formed override reason was on record, and the
        /// decision is flagged as an override exactly when some criterion failed. With every
        /// criterion holding, the guard never stands in the way of a GO.
        #[test]
        fn go_requires_the_criteria_unless_overridden(steps in steps()) {
            for visit in replay(&steps) {
                if visit.action != A::DecideGo {
                    continue;
                }
                let criteria_hold = naive_all_hold(&visit.step.criteria);
                prop_assert_eq!(all_hold(&evaluate(&visit.step.criteria)), criteria_hold);
                let reason = visit.step.override_reason.as_deref();
                let malformed = !is_blank(reason) && !reason.is_some_and(is_well_formed);
                let guard_passes = !malformed && (criteria_hold || !is_blank(reason));
                let has_edge = expected_target(visit.before, visit.action).is_some();
                let approved = visit.outcome.is_ok();
                prop_assert_eq!(approved, guard_passes && has_edge, "{:?}", visit.outcome);
                if guard_passes && has_edge {
                    prop_assert_eq!(visit.overridden, Some(!criteria_hold));
                }
            }
        }

        /// Rolling back switches everyone back to the old system, so it starts only during
        /// cutover or hypercare, by the decision authority, with a reason, and once the point
        /// of no return has passed (a point-of-no-return task done, or the plan LIVE) only
        /// with force. When all of that holds, nothing else stops it.
        #[test]
        fn a_rollback_starts_only_when_its_rules_allow(steps in steps()) {
            for visit in replay(&steps) {
                if visit.action != A::StartRollback {
                    continue;
                }
                let request = &visit.step.rollback;
                let reason = request.reason.as_deref();
                let allowed = matches!(visit.before, S::CutoverInProgress | S::Live)
                    && request.is_authority
                    && (!visit.past_point_of_no_return || request.force)
                    && !is_blank(reason)
                    && reason.is_some_and(is_well_formed);
                let context = format!("{} {request:?}: {:?}", visit.before, visit.outcome);
                prop_assert_eq!(visit.outcome.is_ok(), allowed, "{}", context);
                if visit.before == S::Live {
                    prop_assert!(visit.past_point_of_no_return);
                }
            }
        }

        /// A cutover always rests on a GO taken since the plan was last (re)drafted: after a
        /// NO_GO or a rollback, the plan goes back through DRAFT and a new decision before the
        /// old system can be switched off again.
        #[test]
        fn every_cutover_follows_a_fresh_go(steps in steps()) {
            let mut go_since_draft = false;
            for visit in replay(&steps) {
                let Ok(after) = visit.outcome else { continue };
                match after {
                    S::Draft => go_since_draft = false,
                    S::ApprovedGo => go_since_draft = true,
                    S::CutoverInProgress => prop_assert!(go_since_draft),
                    _ => {}
                }
            }
        }

        /// Runbook tasks move only forward (a failed task may be retried): a task is DONE only
        /// from IN_PROGRESS, and DONE and SKIPPED are final, so a finished cutover step cannot
        /// be silently reopened.
        #[test]
        fn runbook_tasks_finish_only_after_running_and_stay_finished(
            targets in prop::collection::vec(task_status(), 0..40)
        ) {
            let mut status = TaskStatus::Pending;
            for to in targets {
                if !task_may_become(status, to) {
                    continue;
                }
                prop_assert!(!matches!(status, TaskStatus::Done | TaskStatus::Skipped));
                prop_assert_ne!(status, to);
                if to == TaskStatus::Done {
                    prop_assert_eq!(status, TaskStatus::InProgress);
                }
                status = to;
            }
        }

        /// The runbook schedule respects every dependency: each task starts exactly when the
        /// last of its dependencies has finished (at 0 with none), the runbook lasts until the
        /// last task ends, and the critical path is a chain of dependencies whose durations add
        /// up to that total.
        #[test]
        fn the_schedule_respects_every_dependency(tasks in runbook(true)) {
            let schedule = schedule_runbook(&tasks);
            prop_assert!(schedule.is_ok(), "{:?}", schedule);
            let schedule = schedule.expect("checked above");
            let task = |id: &Uuid| task_named(&tasks, id);
            let finish = |id: &Uuid| schedule.earliest_start[id] + task(id).duration_minutes;
            for t in &tasks {
                let ready_at = t.depends_on.iter().map(finish).max().unwrap_or(0);
                prop_assert_eq!(schedule.earliest_start[&t.id], ready_at);
            }
            let last_finish = tasks.iter().map(|t| finish(&t.id)).max().unwrap_or(0);
            prop_assert_eq!(schedule.total_minutes, last_finish);
            let path = &schedule.critical_path;
            prop_assert!(!path.is_empty());
            prop_assert_eq!(schedule.earliest_start[&path[0]], 0);
            for pair in path.windows(2) {
                prop_assert!(task(&pair[1]).depends_on.contains(&pair[0]));
            }
            let path_minutes: u32 = path.iter().map(|id| task(id).duration_minutes).sum();
            prop_assert_eq!(path_minutes, schedule.total_minutes);
        }

        /// A runbook with a dependency cycle cannot be scheduled, and the refusal names a real
        /// cycle, each task before its dependant and ending where it began; one without a
        /// cycle is always scheduled.
        #[test]
        fn a_dependency_cycle_is_refused_and_named(tasks in runbook(false)) {
            match schedule_runbook(&tasks) {
                Ok(_) => prop_assert!(!has_cycle(&tasks)),
                Err(cycle) => {
                    prop_assert!(has_cycle(&tasks));
                    prop_assert!(cycle.len() >= 2, "{:?}", cycle);
                    prop_assert_eq!(cycle.first(), cycle.last());
                    for pair in cycle.windows(2) {
                        let dependant = task_named(&tasks, &pair[1]);
                        prop_assert!(dependant.depends_on.contains(&pair[0]), "{:?}", cycle);
                    }
                }
            }
        }
    }
}
