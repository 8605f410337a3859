//! Go-live plans: the cutover runbook, go/no-go criteria computed from live data and frozen at
//! the committee's decision, rollback, and hypercare with its metrics.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement, Value,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use steerco_entity::{
    change_request, cutover_task, decision, go_live_criterion, go_live_plan, hypercare_metric,
    metric_reading, milestone, project, scope_version,
};
use uuid::Uuid;

use super::access;
use super::audit::{AuditEntry, Origin, append_in_txn};
use super::member::{check_owner, ensure_open};
use super::whole_row;
use super::{
    AppState, Caller, ServiceError, ServiceResult, WriteTxn, backend_of, begin_write, commit,
    commit_with_events, for_update,
};
use crate::domain::authz::ProjectOperation;
use crate::domain::decision::{DecisionChoice, DecisionSubject};
use crate::domain::event::DomainEvent;
use crate::domain::go_live::{
    self as rules, CriteriaFacts, Criterion, Direction, PlanAction, PlanStatus, ProjectPosition,
    Strategy, Task, TaskStatus,
};
use crate::domain::scope::ScopeStatus;
use crate::domain::text::{multi_line, required_multi_line, single_line};
use crate::domain::{Refusal, RefusalCode, Refusals};

/// The rollback plan, stored as JSON on the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RollbackPlan {
    /// When to roll back: a condition, optionally with a metric and threshold.
    pub triggers: Vec<RollbackTrigger>,
    /// Who may start a rollback.
    pub authority_ids: Vec<Uuid>,
    pub max_minutes: u32,
    pub steps: Vec<OwnedStep>,
    /// Reconciling records created in the new system during the window.
    pub reconciliation_steps: Vec<OwnedStep>,
    pub rehearsed_on: Option<NaiveDate>,
    pub rehearsal_passed: Option<bool>,
    pub approved_by: Option<Uuid>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackTrigger {
    pub condition: String,
    pub metric: Option<String>,
    pub threshold: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnedStep {
    pub text: String,
    pub owner_id: Option<Uuid>,
}

/// One War Room seat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WarRoomSeat {
    pub user_id: Uuid,
    pub shift: String,
    pub contact: String,
}

/// A plan and what its change emitted.
#[derive(Debug, Clone)]
pub struct PlanChange {
    pub plan: go_live_plan::Model,
    pub decision: Option<decision::Model>,
    pub events: Vec<DomainEvent>,
}

fn parse_json<T: for<'de> Deserialize<'de> + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}

fn to_json<T: Serialize>(value: &T) -> ServiceResult<String> {
    serde_json::to_string(value).map_err(|e| ServiceError::Internal(e.to_string()))
}

pub fn rollback_of(plan: &go_live_plan::Model) -> RollbackPlan {
    parse_json(&plan.rollback)
}

pub fn war_room_of(plan: &go_live_plan::Model) -> Vec<WarRoomSeat> {
    parse_json(&plan.war_room)
}

pub fn hypercare_exit_of(plan: &go_live_plan::Model) -> Vec<String> {
    parse_json(&plan.hypercare_exit)
}

pub fn status_of(plan: &go_live_plan::Model) -> ServiceResult<PlanStatus> {
    plan.status
        .parse()
        .map_err(|e: <PlanStatus as std::str::FromStr>::Err| {
            ServiceError::Internal(format!("stored plan status: {e}"))
        })
}

fn entry<'a>(
    plan: &go_live_plan::Model,
    action: &'a str,
    before: Option<&go_live_plan::Model>,
) -> AuditEntry<'a> {
    let snap = |p: &go_live_plan::Model| {
        json!({
            "status": p.status, "strategy": p.strategy, "plannedGoLive": p.planned_go_live, "cutoverStart": p.cutover_start,
            "cutoverEnd": p.cutover_end, "freezeStart": p.freeze_start, "freezeEnd": p.freeze_end, "rollback": p.rollback,
            "warRoom": p.war_room, "hypercareExit": p.hypercare_exit, "communications": p.communications,
            "maxOpenCritical": p.max_open_critical, "maxOpenMajor": p.max_open_major,
            "overrideReason": p.override_reason, "statusReason": p.status_reason,
            "decisionSnapshot": p.decision_snapshot, "attempt": p.attempt, "version": p.version,
        })
    };
    AuditEntry {
        project_id: Some(plan.project_id),
        entity_type: "GoLivePlan",
        entity_id: plan.id,
        action,
        before: before.map(snap),
        after: Some(snap(plan)),
    }
}

async fn save(conn: &impl ConnectionTrait, plan: &go_live_plan::Model) -> ServiceResult<()> {
    whole_row::update(conn, plan.clone()).await?;
    Ok(())
}

/// Saves a changed plan with its audit record (the plan before and after).
async fn save_audited(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    before: &go_live_plan::Model,
    after: &go_live_plan::Model,
    action: &str,
) -> ServiceResult<()> {
    save(txn, after).await?;
    append_in_txn(txn, origin, now, entry(after, action, Some(before))).await?;
    Ok(())
}

/// Commits a change of the plan's settings (no status change, so no event) with its audit.
async fn commit_setting(
    txn: WriteTxn,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    before: &go_live_plan::Model,
    after: go_live_plan::Model,
    action: &str,
) -> ServiceResult<PlanChange> {
    save_audited(&txn, origin, now, before, &after, action).await?;
    commit(txn).await?;
    Ok(PlanChange {
        plan: after,
        decision: None,
        events: Vec::new(),
    })
}

/// Every other plan still heading for or in go-live, with its change freeze.
///
/// A plan's dates are checked against other projects' plans, which their own project locks do
/// not guard: on PostgreSQL the read first takes a lock of its own for the whole go-live
/// calendar, held until the command ends, so that two plans dated at once in two projects
/// cannot each pass the check without seeing the other. It is taken after the command's
/// project, and whoever holds it waits for no other project, so it adds no deadlock.
async fn other_plans(
    conn: &impl ConnectionTrait,
    except: Option<Uuid>,
) -> ServiceResult<Vec<rules::OtherPlan>> {
    if backend_of(conn) == DbBackend::Postgres {
        conn.execute_raw(Statement::from_string(
            DbBackend::Postgres,
            GO_LIVE_CALENDAR_LOCK,
        ))
        .await?;
    }
    let mut on_the_calendar = go_live_plan::Entity::find()
        .select_only()
        .columns([
            go_live_plan::Column::PlannedGoLive,
            go_live_plan::Column::FreezeStart,
            go_live_plan::Column::FreezeEnd,
        ])
        .filter(
            go_live_plan::Column::Status.is_not_in(rules::OFF_THE_CALENDAR.map(PlanStatus::as_str)),
        );
    if let Some(except) = except {
        on_the_calendar = on_the_calendar.filter(go_live_plan::Column::Id.ne(except));
    }
    Ok(on_the_calendar
        .into_tuple::<(DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>)>()
        .all(conn)
        .await?
        .into_iter()
        .map(|(go_live, freeze_start, freeze_end)| rules::OtherPlan {
            go_live,
            freeze: freeze_start.zip(freeze_end),
        })
        .collect())
}

/// The PostgreSQL lock of the go-live calendar ([`other_plans`]).
pub const GO_LIVE_CALENDAR_LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('steerco.go_live_calendar', 0))";

/// A plan's dates and settings as typed.
#[derive(Debug, Clone)]
pub struct PlanInput {
    pub strategy: Strategy,
    pub planned_go_live: DateTime<Utc>,
    pub cutover: (DateTime<Utc>, DateTime<Utc>),
    pub freeze: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub communications: String,
    pub max_open_critical: u32,
    pub max_open_major: u32,
}

/// Drafts a go-live plan for a project (one open plan at a time). PROJECT_MANAGER.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    input: PlanInput,
) -> ServiceResult<PlanChange> {
    let communications = multi_line(&input.communications, 10_000)
        .map_err(|e| Refusal::bad_input(&["communications"], e.to_string()))?;
    let txn = begin_write(&state.writer).await?;
    let (project, _) = access::project_for(
        &txn,
        &caller.actor,
        project_id,
        &["projectId"],
        ProjectOperation::ManagePlan,
    )
    .await?;
    ensure_open(&project, &["projectId"])?;
    let now = state.clock.now();
    rules::check_dates(
        input.planned_go_live,
        now,
        input.cutover,
        input.freeze,
        &other_plans(&txn, None).await?,
    )?;
    let open = go_live_plan::Entity::find()
        .filter(go_live_plan::Column::ProjectId.eq(project_id))
        .all(&txn)
        .await?
        .into_iter()
        .any(|p| p.status != PlanStatus::Closed.as_str());
    if open {
        return Err(Refusal::conflict(
            &["projectId"],
            "the project already has a go-live plan; replan it instead",
        )
        .into());
    }
    let plan = go_live_plan::Model {
        id: Uuid::now_v7(),
        project_id,
        status: PlanStatus::Draft.as_str().to_owned(),
        strategy: input.strategy.as_str().to_owned(),
        planned_go_live: input.planned_go_live,
        cutover_start: input.cutover.0,
        cutover_end: input.cutover.1,
        freeze_start: input.freeze.map(|f| f.0),
        freeze_end: input.freeze.map(|f| f.1),
        communications,
        max_open_critical: i32::try_from(input.max_open_critical).unwrap_or(i32::MAX),
        max_open_major: i32::try_from(input.max_open_major).unwrap_or(i32::MAX),
        rollback: to_json(&RollbackPlan::default())?,
        war_room: "[]".to_owned(),
        hypercare_exit: "[]".to_owned(),
        decision_snapshot: None,
        override_reason: None,
        status_reason: None,
        rollback_forced: false,
        attempt: 1,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    whole_row::insert(&txn, plan.clone()).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        entry(&plan, "go_live.planned", None),
    )
    .await?;
    commit(txn).await?;
    Ok(PlanChange {
        plan,
        decision: None,
        events: Vec::new(),
    })
}

/// Loads a plan and its project for a command, refusing at `field`, the input that led to it.
async fn plan_for(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    plan_id: Uuid,
    field: &[&str],
    operation: ProjectOperation,
) -> ServiceResult<(
    go_live_plan::Model,
    project::Model,
    crate::domain::authz::Subject,
)> {
    let (plan, project, subject) = access::row_for::<go_live_plan::Entity>(
        conn,
        &caller.actor,
        (plan_id, "go-live plan"),
        field,
        operation,
    )
    .await?;
    ensure_open(&project, field)?;
    Ok((plan, project, subject))
}

/// Refuses the sponsor's approval of the rollback plan once the cutover has started. The
/// approval adds a sign-off to the plan as it stands and changes none of it, so it is still
/// taken after the committee's GO.
fn ensure_rollback_approvable(plan: &go_live_plan::Model) -> ServiceResult<()> {
    if !matches!(
        plan.status.as_str(),
        "DRAFT" | "READY_FOR_DECISION" | "APPROVED_GO"
    ) {
        return Err(Refusal::precondition(
            &["planId"],
            format!("a {} plan can no longer be prepared", plan.status),
        )
        .into());
    }
    Ok(())
}

/// Refuses, at `field`, a change to the plan's content once the committee has decided (see
/// [`rules::check_content_editable`]).
fn ensure_content_editable(plan: &go_live_plan::Model, field: &[&str]) -> ServiceResult<()> {
    Ok(rules::check_content_editable(status_of(plan)?, field)?)
}

/// Settings of the plan's preparation: rollback plan, War Room, hypercare exit criteria. Each
/// `Some` replaces what was there. PROJECT_MANAGER, until cutover.
#[derive(Debug, Clone, Default)]
pub struct Preparation {
    pub rollback: Option<RollbackPlan>,
    pub war_room: Option<Vec<WarRoomSeat>>,
    pub hypercare_exit: Option<Vec<String>>,
    pub communications: Option<String>,
}

pub async fn prepare(
    state: &AppState,
    caller: &Caller,
    plan_id: Uuid,
    input: Preparation,
) -> ServiceResult<PlanChange> {
    let txn = begin_write(&state.writer).await?;
    let (current, project, _) = plan_for(
        &txn,
        caller,
        plan_id,
        &["planId"],
        ProjectOperation::ManagePlan,
    )
    .await?;
    ensure_content_editable(&current, &["planId"])?;
    let mut next = current.clone();
    let mut refusals = Refusals::default();
    if let Some(mut rollback) = input.rollback {
        for (i, trigger) in rollback.triggers.iter().enumerate() {
            refusals.field(
                &["rollbackPlan", "triggers", &i.to_string(), "condition"],
                single_line(&trigger.condition, 500),
            );
        }
        let steps = rollback
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| ("steps", i, step));
        let reconciliation = rollback
            .reconciliation_steps
            .iter()
            .enumerate()
            .map(|(i, step)| ("reconciliationSteps", i, step));
        for (list, i, step) in steps.chain(reconciliation) {
            let index = i.to_string();
            refusals.field(
                &["rollbackPlan", list, &index, "text"],
                single_line(&step.text, 500),
            );
            match check_owner(
                &txn,
                project.id,
                step.owner_id,
                &["rollbackPlan", list, &index, "ownerId"],
            )
            .await
            {
                Ok(_) => {}
                Err(ServiceError::Refused(found)) => {
                    found.into_iter().for_each(|r| refusals.push(r))
                }
                Err(other) => return Err(other),
            }
        }
        for (i, authority) in rollback.authority_ids.iter().enumerate() {
            if !super::member::is_member(&txn, project.id, *authority).await? {
                refusals.push(Refusal::bad_input(
                    &["rollbackPlan", "authorityIds", &i.to_string()],
                    "the decision authority must be a project member",
                ));
            }
        }
        // A changed rollback plan needs approving again.
        let previous = rollback_of(&current);
        rollback.approved_by = previous.approved_by.filter(|_| {
            RollbackPlan {
                approved_by: None,
                ..rollback.clone()
            } == RollbackPlan {
                approved_by: None,
                ..previous.clone()
            }
        });
        next.rollback = to_json(&rollback)?;
    }
    if let Some(seats) = input.war_room {
        for (i, seat) in seats.iter().enumerate() {
            if !super::member::is_member(&txn, project.id, seat.user_id).await? {
                refusals.push(Refusal::bad_input(
                    &["warRoom", &i.to_string(), "userId"],
                    "War Room seats are for project members",
                ));
            }
            refusals.field(
                &["warRoom", &i.to_string(), "shift"],
                single_line(&seat.shift, 100),
            );
        }
        next.war_room = to_json(&seats)?;
    }
    if let Some(exit) = input.hypercare_exit {
        for (i, text) in exit.iter().enumerate() {
            refusals.field(&["hypercareExit", &i.to_string()], single_line(text, 500));
        }
        next.hypercare_exit = to_json(&exit)?;
    }
    if let Some(text) = input.communications {
        next.communications = refusals
            .field(&["communications"], multi_line(&text, 10_000))
            .unwrap_or_default();
    }
    refusals.finish()?;
    let now = state.clock.now();
    next.updated_at = now;
    next.version += 1;
    let changed = (
        &next.rollback,
        &next.war_room,
        &next.hypercare_exit,
        &next.communications,
    ) != (
        &current.rollback,
        &current.war_room,
        &current.hypercare_exit,
        &current.communications,
    );
    if !changed {
        return commit_setting(
            txn,
            Origin::from(caller),
            now,
            &current,
            next,
            "go_live.prepared",
        )
        .await;
    }
    let origin = Origin::from(caller);
    save_audited(&txn, origin, now, &current, &next, "go_live.prepared").await?;
    let (decision, events) = supersede_votes_cast(&txn, origin, now, &project, &current).await?;
    commit_with_events(state, txn, origin, project.id, &events).await?;
    Ok(PlanChange {
        plan: next,
        decision,
        events,
    })
}

/// After a change to the content of a plan awaiting the committee, the votes already cast were
/// cast on another plan: as a material edit of a change request does, the change supersedes
/// the open ballot (its votes no longer count) and opens a new round on the plan as it now
/// stands. A ballot nobody has voted on yet stands, as nothing was judged on the old content.
/// The override reason stays: it is the sponsor's or PM's acceptance of the failing criteria,
/// which the GO guard checks against the criteria when the new round decides. Returns the new
/// round, if one was opened, and its event.
async fn supersede_votes_cast(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    project: &project::Model,
    plan: &go_live_plan::Model,
) -> ServiceResult<(Option<decision::Model>, Vec<DomainEvent>)> {
    if status_of(plan)? != PlanStatus::ReadyForDecision {
        return Ok((None, Vec::new()));
    }
    let open = super::decision::open_ballot_on(txn, DecisionSubject::GoLive, plan.id).await?;
    let Some(open) = open else {
        return Ok((None, Vec::new()));
    };
    if super::decision::votes_of(txn, open.id).await?.is_empty() {
        return Ok((None, Vec::new()));
    }
    super::decision::supersede_in_txn(
        txn,
        origin,
        now,
        &open,
        json!({ "goLivePlanId": plan.id, "reason": "the plan changed while awaiting the decision" }),
    )
    .await?;
    let ballot = super::decision::open_in_txn(
        txn,
        origin,
        now,
        project,
        DecisionSubject::GoLive,
        plan.id,
        &open.note,
    )
    .await?;
    let events = vec![DomainEvent::DecisionOpened {
        decision_id: ballot.id,
        subject: DecisionSubject::GoLive,
    }];
    Ok((Some(ballot), events))
}

/// The sponsor (or an admin) approves the rollback plan as it stands.
pub async fn approve_rollback(
    state: &AppState,
    caller: &Caller,
    plan_id: Uuid,
) -> ServiceResult<PlanChange> {
    let txn = begin_write(&state.writer).await?;
    let (current, _, subject) =
        plan_for(&txn, caller, plan_id, &["planId"], ProjectOperation::Read).await?;
    if !(subject.admin
        || subject
            .roles
            .contains(crate::domain::role::ProjectRole::Sponsor))
    {
        return Err(ServiceError::Forbidden);
    }
    ensure_rollback_approvable(&current)?;
    let mut rollback = rollback_of(&current);
    if rollback.steps.is_empty() || rollback.authority_ids.is_empty() {
        return Err(Refusal::precondition(
            &["planId"],
            "a rollback plan needs steps and a decision authority before approval",
        )
        .into());
    }
    rollback.approved_by = Some(caller.actor.user_id);
    let now = state.clock.now();
    let next = go_live_plan::Model {
        rollback: to_json(&rollback)?,
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    commit_setting(
        txn,
        Origin::from(caller),
        now,
        &current,
        next,
        "go_live.rollback_approved",
    )
    .await
}

pub async fn tasks_of(
    conn: &impl ConnectionTrait,
    plan_id: Uuid,
) -> ServiceResult<Vec<cutover_task::Model>> {
    Ok(cutover_task::Entity::find()
        .filter(cutover_task::Column::PlanId.eq(plan_id))
        .order_by_asc(cutover_task::Column::Position)
        .all(conn)
        .await?)
}

pub fn depends_on(task: &cutover_task::Model) -> Vec<Uuid> {
    parse_json(&task.depends_on)
}

fn as_task(task: &cutover_task::Model) -> Task {
    Task {
        id: task.id,
        duration_minutes: u32::try_from(task.duration_minutes).unwrap_or(0),
        depends_on: depends_on(task),
    }
}

/// A runbook task as typed.
#[derive(Debug, Clone, Default)]
pub struct NewTask {
    pub name: String,
    pub owner_id: Option<Uuid>,
    pub duration_minutes: u32,
    pub dependencies: Vec<Uuid>,
    pub point_of_no_return: bool,
}

/// Adds a runbook task; a dependency that would close a cycle is refused naming it.
pub async fn task_add(
    state: &AppState,
    caller: &Caller,
    plan_id: Uuid,
    input: NewTask,
) -> ServiceResult<cutover_task::Model> {
    let NewTask {
        name,
        owner_id,
        duration_minutes,
        dependencies,
        point_of_no_return,
    } = input;
    let name = single_line(&name, 200).map_err(|e| Refusal::bad_input(&["name"], e.to_string()))?;
    if duration_minutes == 0 || duration_minutes > 7 * 24 * 60 {
        return Err(Refusal::bad_input(
            &["durationMinutes"],
            "a task lasts from 1 minute to 7 days",
        )
        .into());
    }
    let txn = begin_write(&state.writer).await?;
    let (plan, project, _) = plan_for(
        &txn,
        caller,
        plan_id,
        &["planId"],
        ProjectOperation::ManagePlan,
    )
    .await?;
    ensure_content_editable(&plan, &["planId"])?;
    check_owner(&txn, project.id, owner_id, &["ownerId"]).await?;
    let tasks = tasks_of(&txn, plan.id).await?;
    if point_of_no_return && tasks.iter().any(|t| t.point_of_no_return) {
        return Err(Refusal::conflict(
            &["pointOfNoReturn"],
            "the runbook already has a point of no return",
        )
        .into());
    }
    let mut planned: Vec<Task> = tasks.iter().map(as_task).collect();
    let row = cutover_task::Model {
        id: Uuid::now_v7(),
        plan_id: plan.id,
        position: tasks.len() as i32 + 1,
        name,
        owner_id,
        duration_minutes: duration_minutes as i32,
        depends_on: to_json(&dependencies)?,
        status: TaskStatus::Pending.as_str().to_owned(),
        point_of_no_return,
        actual_start: None,
        actual_end: None,
        version: 1,
    };
    planned.push(as_task(&row));
    if let Err(path) = rules::schedule_runbook(&planned) {
        let names: Vec<String> = path
            .iter()
            .map(|id| {
                tasks
                    .iter()
                    .find(|t| t.id == *id)
                    .map_or_else(|| row.name.clone(), |t| t.name.clone())
            })
            .collect();
        return Err(Refusal::bad_input(
            &["dependsOn"],
            format!("unknown task or dependency cycle: {}", names.join(" → ")),
        )
        .into());
    }
    whole_row::insert(&txn, row.clone()).await?;
    let (origin, now) = (Origin::from(caller), state.clock.now());
    append_in_txn(
        &txn,
        origin,
        now,
        AuditEntry {
            project_id: Some(project.id),
            entity_type: "CutoverTask",
            entity_id: row.id,
            action: "go_live.task_added",
            before: None,
            after: Some(json!({ "name": row.name, "durationMinutes": row.duration_minutes, "dependsOn": row.depends_on, "pointOfNoReturn": row.point_of_no_return })),
        },
    )
    .await?;
    let (_, events) = supersede_votes_cast(&txn, origin, now, &project, &plan).await?;
    commit_with_events(state, txn, origin, project.id, &events).await?;
    Ok(row)
}

/// Moves a runbook task during cutover: its owner or the PM.
pub async fn task_set_status(
    state: &AppState,
    caller: &Caller,
    task_id: Uuid,
    status: TaskStatus,
) -> ServiceResult<cutover_task::Model> {
    let txn = begin_write(&state.writer).await?;
    let task = cutover_task::Entity::find_by_id(task_id)
        .one(&txn)
        .await?
        .ok_or_else(|| Refusal::not_found(&["id"], "cutover task"))?;
    let (plan, project, subject) =
        plan_for(&txn, caller, task.plan_id, &["id"], ProjectOperation::Read).await?;
    // Read again under the project's lock: a concurrent move of the same task committed first.
    let task = for_update(cutover_task::Entity::find_by_id(task_id), backend_of(&txn))
        .one(&txn)
        .await?
        .ok_or_else(|| Refusal::not_found(&["id"], "cutover task"))?;
    if !(crate::domain::authz::permits(&subject, ProjectOperation::ManagePlan)
        || task.owner_id == Some(caller.actor.user_id))
    {
        return Err(ServiceError::Forbidden);
    }
    if status_of(&plan)? != PlanStatus::CutoverInProgress {
        return Err(Refusal::precondition(&["id"], "runbook tasks move during cutover").into());
    }
    let from: TaskStatus =
        task.status
            .parse()
            .map_err(|e: <TaskStatus as std::str::FromStr>::Err| {
                ServiceError::Internal(e.to_string())
            })?;
    if !rules::task_may_become(from, status) {
        return Err(Refusal::invalid_transition(
            &["status"],
            from.as_str(),
            status.as_str(),
            Vec::new(),
        )
        .into());
    }
    if status == TaskStatus::InProgress {
        let tasks = tasks_of(&txn, plan.id).await?;
        let waiting: Vec<&str> = depends_on(&task)
            .iter()
            .filter_map(|id| tasks.iter().find(|t| t.id == *id))
            .filter(|t| !matches!(t.status.as_str(), "DONE" | "SKIPPED"))
            .map(|t| t.name.as_str())
            .collect();
        if !waiting.is_empty() {
            return Err(Refusal::precondition(
                &["id"],
                format!("waiting for: {}", waiting.join(", ")),
            )
            .into());
        }
    }
    let now = state.clock.now();
    let mut next = cutover_task::Model {
        status: status.as_str().to_owned(),
        version: task.version + 1,
        ..task.clone()
    };
    if status == TaskStatus::InProgress {
        next.actual_start = Some(now);
    }
    if matches!(
        status,
        TaskStatus::Done | TaskStatus::Failed | TaskStatus::Skipped
    ) {
        next.actual_end = Some(now);
    }
    whole_row::update(&txn, next.clone()).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        AuditEntry {
            project_id: Some(project.id),
            entity_type: "CutoverTask",
            entity_id: next.id,
            action: "go_live.task_moved",
            before: Some(json!({ "status": task.status })),
            after: Some(json!({ "status": next.status })),
        },
    )
    .await?;
    commit(txn).await?;
    Ok(next)
}

pub async fn manual_criteria_of(
    conn: &impl ConnectionTrait,
    plan_id: Uuid,
) -> ServiceResult<Vec<go_live_criterion::Model>> {
    Ok(go_live_criterion::Entity::find()
        .filter(go_live_criterion::Column::PlanId.eq(plan_id))
        .order_by_asc(go_live_criterion::Column::Id)
        .all(conn)
        .await?)
}

/// Adds a manual criterion (data migration validated, training delivered, ...). PM.
pub async fn manual_criterion_add(
    state: &AppState,
    caller: &Caller,
    plan_id: Uuid,
    name: &str,
    owner_id: Option<Uuid>,
) -> ServiceResult<go_live_criterion::Model> {
    let name = single_line(name, 200).map_err(|e| Refusal::bad_input(&["name"], e.to_string()))?;
    let txn = begin_write(&state.writer).await?;
    let (plan, project, _) = plan_for(
        &txn,
        caller,
        plan_id,
        &["planId"],
        ProjectOperation::ManagePlan,
    )
    .await?;
    ensure_content_editable(&plan, &["planId"])?;
    check_owner(&txn, project.id, owner_id, &["ownerId"]).await?;
    let row = go_live_criterion::Model {
        id: Uuid::now_v7(),
        plan_id,
        name,
        owner_id,
        done: false,
    };
    whole_row::insert(&txn, row.clone()).await?;
    let (origin, now) = (Origin::from(caller), state.clock.now());
    append_in_txn(
        &txn,
        origin,
        now,
        AuditEntry {
            project_id: Some(project.id),
            entity_type: "GoLiveCriterion",
            entity_id: row.id,
            action: "go_live.criterion_added",
            before: None,
            after: Some(json!({ "name": row.name })),
        },
    )
    .await?;
    let (_, events) = supersede_votes_cast(&txn, origin, now, &project, &plan).await?;
    commit_with_events(state, txn, origin, project.id, &events).await?;
    Ok(row)
}

/// Marks a manual criterion done or not: its owner or the PM.
pub async fn manual_criterion_set(
    state: &AppState,
    caller: &Caller,
    criterion_id: Uuid,
    done: bool,
) -> ServiceResult<go_live_criterion::Model> {
    let txn = begin_write(&state.writer).await?;
    let row = go_live_criterion::Entity::find_by_id(criterion_id)
        .one(&txn)
        .await?
        .ok_or_else(|| Refusal::not_found(&["id"], "criterion"))?;
    let (plan, project, subject) =
        plan_for(&txn, caller, row.plan_id, &["id"], ProjectOperation::Read).await?;
    // Read again under the project's lock so the audit's "before" is what this change replaced.
    let row = for_update(
        go_live_criterion::Entity::find_by_id(criterion_id),
        backend_of(&txn),
    )
    .one(&txn)
    .await?
    .ok_or_else(|| Refusal::not_found(&["id"], "criterion"))?;
    if !(crate::domain::authz::permits(&subject, ProjectOperation::ManagePlan)
        || row.owner_id == Some(caller.actor.user_id))
    {
        return Err(ServiceError::Forbidden);
    }
    ensure_content_editable(&plan, &["id"])?;
    let next = go_live_criterion::Model {
        done,
        ..row.clone()
    };
    whole_row::update(&txn, next.clone()).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        state.clock.now(),
        AuditEntry {
            project_id: Some(project.id),
            entity_type: "GoLiveCriterion",
            entity_id: row.id,
            action: "go_live.criterion_set",
            before: Some(json!({ "done": row.done })),
            after: Some(json!({ "done": done })),
        },
    )
    .await?;
    commit(txn).await?;
    Ok(next)
}

/// What the go/no-go criteria of a project's plans are computed from, besides each plan and
/// its manual criteria.
#[derive(Debug, Clone)]
pub struct CriteriaData {
    pub project: project::Model,
    pub uat: super::uat::UatData,
    /// Every milestone of the project, in any order.
    pub milestones: Vec<milestone::Model>,
    /// The project's change requests awaiting a decision.
    pub awaiting_decision: Vec<change_request::Model>,
    pub scope_baselined: bool,
}

impl CriteriaData {
    /// Reads the criteria data of those of `project_ids` that exist: eight statements whatever
    /// their number, read apart from the loaders of the fields beside them, so that a page's
    /// statements do not hang on which of its batches ends first.
    pub async fn read_many(
        conn: &impl ConnectionTrait,
        project_ids: &[Uuid],
    ) -> ServiceResult<HashMap<Uuid, Self>> {
        let in_projects = || project_ids.iter().copied();
        let projects = project::Entity::find()
            .filter(project::Column::Id.is_in(in_projects()))
            .all(conn)
            .await?;
        let mut uat = super::uat::UatData::read_many(conn, project_ids).await?;
        let milestones = milestone::Entity::find()
            .filter(milestone::Column::ProjectId.is_in(in_projects()))
            .all(conn)
            .await?;
        let mut milestones = super::group(project_ids, milestones, |m| m.project_id);
        let awaiting = awaiting_decision(
            change_request::Entity::find()
                .filter(change_request::Column::ProjectId.is_in(in_projects())),
        )
        .all(conn)
        .await?;
        let mut awaiting = super::group(project_ids, awaiting, |change| change.project_id);
        let baselined: BTreeSet<Uuid> = scope_version::Entity::find()
            .select_only()
            .column(scope_version::Column::ProjectId)
            .filter(scope_version::Column::ProjectId.is_in(in_projects()))
            .filter(scope_version::Column::Status.eq(ScopeStatus::Baselined.as_str()))
            .into_tuple::<Uuid>()
            .all(conn)
            .await?
            .into_iter()
            .collect();
        Ok(projects
            .into_iter()
            .map(|project| {
                let id = project.id;
                let data = Self {
                    uat: uat.remove(&id).unwrap_or_default(),
                    milestones: milestones.remove(&id).unwrap_or_default(),
                    awaiting_decision: awaiting.remove(&id).unwrap_or_default(),
                    scope_baselined: baselined.contains(&id),
                    project,
                };
                (id, data)
            })
            .collect())
    }
}

/// Those of `rows` awaiting the committee's decision, oldest first.
fn awaiting_decision(
    rows: sea_orm::Select<change_request::Entity>,
) -> sea_orm::Select<change_request::Entity> {
    rows.filter(
        change_request::Column::Status
            .eq(crate::domain::change_request::CrStatus::AwaitingDecision.as_str()),
    )
    .order_by_asc(change_request::Column::Id)
}

/// The go/no-go criteria of a plan, computed from the project's data now.
pub async fn evaluate(
    conn: &impl ConnectionTrait,
    plan: &go_live_plan::Model,
) -> ServiceResult<Vec<Criterion>> {
    let data = CriteriaData::read_many(conn, &[plan.project_id])
        .await?
        .remove(&plan.project_id)
        .ok_or_else(|| ServiceError::Internal("plan without project".into()))?;
    let manual = manual_criteria_of(conn, plan.id).await?;
    criteria_from(plan, &data, &manual)
}

/// The go/no-go criteria of a plan from the data they are computed from.
pub fn criteria_from(
    plan: &go_live_plan::Model,
    data: &CriteriaData,
    manual: &[go_live_criterion::Model],
) -> ServiceResult<Vec<Criterion>> {
    let go_live_day = super::project::today_in(&data.project, plan.planned_go_live);
    let (readiness, defects) = data.uat.readiness(&data.project)?;
    let (open_critical, open_major) = rules::open_critical_and_major(&defects);
    // Milestones due before go-live.
    let mut due_milestones: Vec<&milestone::Model> = data
        .milestones
        .iter()
        .filter(|m| m.forecast_date <= go_live_day)
        .collect();
    due_milestones.sort_by_key(|m| (m.forecast_date, m.id));
    let not_achieved: Vec<String> = due_milestones
        .iter()
        .filter(|m| m.status != "ACHIEVED")
        .map(|m| m.name.clone())
        .collect();
    let due: BTreeSet<Uuid> = due_milestones.iter().map(|m| m.id).collect();
    // Change requests awaiting a decision that touch a milestone due before go-live.
    let pending: Vec<String> = data
        .awaiting_decision
        .iter()
        .filter(|cr| {
            let links = super::change_request::links_of(cr).unwrap_or_default();
            let impact = super::change_request::impact_of(cr).unwrap_or_default();
            links.milestone_ids.iter().any(|id| due.contains(id))
                || impact
                    .schedule
                    .iter()
                    .flat_map(|s| &s.milestone_shifts)
                    .any(|s| due.contains(&s.milestone_id))
        })
        .map(super::change_request::code_of)
        .collect();
    let rollback = rollback_of(plan);
    let manual = manual.iter().map(|c| (c.name.clone(), c.done)).collect();
    Ok(rules::evaluate(&CriteriaFacts {
        uat_ready: readiness.ready,
        open_critical,
        open_major,
        max_open_critical: u32::try_from(plan.max_open_critical).unwrap_or(0),
        max_open_major: u32::try_from(plan.max_open_major).unwrap_or(0),
        milestones_not_achieved: not_achieved,
        scope_baselined: data.scope_baselined,
        pending_changes: pending,
        rollback_approved: rollback.approved_by.is_some(),
        rollback_rehearsed: rollback.rehearsal_passed == Some(true),
        war_room_size: war_room_of(plan).len() as u32,
        manual,
    }))
}

/// Sends the plan to the steering committee: DRAFT → READY_FOR_DECISION with a GO_LIVE ballot.
pub async fn request_decision(
    state: &AppState,
    caller: &Caller,
    plan_id: Uuid,
) -> ServiceResult<PlanChange> {
    let txn = begin_write(&state.writer).await?;
    let (current, project, _) = plan_for(
        &txn,
        caller,
        plan_id,
        &["planId"],
        ProjectOperation::ManagePlan,
    )
    .await?;
    let from = status_of(&current)?;
    let to = rules::plan_transition(from, PlanAction::SubmitForDecision)?;
    let now = state.clock.now();
    let origin = Origin::from(caller);
    let next = go_live_plan::Model {
        status: to.as_str().to_owned(),
        override_reason: None,
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    save_audited(
        &txn,
        origin,
        now,
        &current,
        &next,
        "go_live.decision_requested",
    )
    .await?;
    let note = format!(
        "Go-live on {} (attempt {})",
        next.planned_go_live.format("%Y-%m-%d %H:%M UTC"),
        next.attempt
    );
    let ballot = super::decision::open_in_txn(
        &txn,
        origin,
        now,
        &project,
        DecisionSubject::GoLive,
        next.id,
        &note,
    )
    .await?;
    let events = vec![
        DomainEvent::GoLiveStatusChanged {
            plan_id: next.id,
            from,
            to,
        },
        DomainEvent::DecisionOpened {
            decision_id: ballot.id,
            subject: DecisionSubject::GoLive,
        },
    ];
    commit_with_events(state, txn, origin, project.id, &events).await?;
    Ok(PlanChange {
        events,
        plan: next,
        decision: Some(ballot),
    })
}

/// Records why a GO may override failing criteria. PM or sponsor, while the decision is open.
pub async fn set_override(
    state: &AppState,
    caller: &Caller,
    plan_id: Uuid,
    reason: &str,
) -> ServiceResult<PlanChange> {
    let reason = required_multi_line(reason, 2_000)
        .map_err(|e| Refusal::bad_input(&["reason"], e.to_string()))?;
    let txn = begin_write(&state.writer).await?;
    let (current, _, subject) =
        plan_for(&txn, caller, plan_id, &["planId"], ProjectOperation::Read).await?;
    let may = subject.admin
        || subject
            .roles
            .contains(crate::domain::role::ProjectRole::ProjectManager)
        || subject
            .roles
            .contains(crate::domain::role::ProjectRole::Sponsor);
    if !may {
        return Err(ServiceError::Forbidden);
    }
    if status_of(&current)? != PlanStatus::ReadyForDecision {
        return Err(Refusal::invalid_transition(
            &["planId"],
            &current.status,
            "OVERRIDE",
            Vec::new(),
        )
        .into());
    }
    let now = state.clock.now();
    let next = go_live_plan::Model {
        override_reason: Some(reason),
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    commit_setting(
        txn,
        Origin::from(caller),
        now,
        &current,
        next,
        "go_live.override_recorded",
    )
    .await
}

/// Applies a closed GO_LIVE ballot: the evaluation is frozen into the plan; GO needs every
/// criterion to hold or an override reason on record; NO_GO (or a deadlock) records why.
pub(crate) async fn apply_decision_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    decision: &decision::Model,
    outcome: Option<DecisionChoice>,
    votes: &[steerco_entity::decision_vote::Model],
) -> ServiceResult<Vec<DomainEvent>> {
    let current = for_update(
        go_live_plan::Entity::find_by_id(decision.subject_id),
        backend_of(txn),
    )
    .one(txn)
    .await?
    .ok_or_else(|| ServiceError::Internal("ballot without plan".into()))?;
    let criteria = evaluate(txn, &current).await?;
    let from = status_of(&current)?;
    let mut next = go_live_plan::Model {
        decision_snapshot: Some(to_json(&criteria)?),
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    let to =
        if outcome == Some(DecisionChoice::Go) {
            let overridden = rules::check_go(&criteria, current.override_reason.as_deref())
                .map_err(|refusal| Refusal {
                    field: vec!["decisionId".to_owned()],
                    ..refusal
                })?;
            if !overridden {
                next.override_reason = None;
            }
            rules::plan_transition(from, PlanAction::DecideGo)?
        } else {
            let reasons: Vec<&str> = votes
                .iter()
                .filter(|v| v.choice == "NO_GO")
                .map(|v| v.comment.as_str())
                .collect();
            next.status_reason = Some(if reasons.is_empty() {
                "the committee did not reach a decision".to_owned()
            } else {
                reasons.join("\n")
            });
            rules::plan_transition(from, PlanAction::DecideNoGo)?
        };
    next.status = to.as_str().to_owned();
    save_audited(txn, origin, now, &current, &next, "go_live.decided").await?;
    Ok(vec![DomainEvent::GoLiveStatusChanged {
        plan_id: next.id,
        from,
        to,
    }])
}

/// Moves the project with its go-live, in the same transaction, where
/// [`rules::project_after`] has it go.
async fn move_project(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    project: &project::Model,
    to: ProjectPosition,
) -> ServiceResult<Vec<DomainEvent>> {
    let from = super::project::parse_status(&project.status)?;
    let status_reason = if to.status == from {
        project.status_reason.clone()
    } else {
        None
    };
    let next = project::Model {
        status: to.status.as_str().to_owned(),
        status_before_hold: to.held_from.map(|status| status.as_str().to_owned()),
        status_reason,
        updated_at: now,
        version: project.version + 1,
        ..project.clone()
    };
    whole_row::update(txn, next.clone()).await?;
    append_in_txn(
        txn,
        origin,
        now,
        AuditEntry {
            project_id: Some(project.id),
            entity_type: "Project",
            entity_id: project.id,
            action: "project.moved_by_go_live",
            before: Some(
                json!({ "status": project.status, "statusBeforeHold": project.status_before_hold }),
            ),
            after: Some(
                json!({ "status": next.status, "statusBeforeHold": next.status_before_hold }),
            ),
        },
    )
    .await?;
    if to.status == from {
        return Ok(Vec::new());
    }
    Ok(vec![DomainEvent::ProjectStatusChanged {
        from,
        to: to.status,
        reason: None,
    }])
}

/// The PM's lifecycle moves: reschedule after NO_GO (or withdraw a GO to change the plan),
/// start cutover, go live, close hypercare, complete a rollback, replan after a rollback.
pub async fn transition(
    state: &AppState,
    caller: &Caller,
    plan_id: Uuid,
    action: PlanAction,
    new_go_live: Option<DateTime<Utc>>,
) -> ServiceResult<PlanChange> {
    if matches!(
        action,
        PlanAction::DecideGo
            | PlanAction::DecideNoGo
            | PlanAction::SubmitForDecision
            | PlanAction::StartRollback
    ) {
        return Err(Refusal::bad_input(&["action"], "this move has its own mutation").into());
    }
    let txn = begin_write(&state.writer).await?;
    let (current, project, subject) =
        plan_for(&txn, caller, plan_id, &["planId"], ProjectOperation::Read).await?;
    let is_pm = crate::domain::authz::permits(&subject, ProjectOperation::ManagePlan);
    let is_authority = rollback_of(&current)
        .authority_ids
        .contains(&caller.actor.user_id);
    let allowed = match action {
        PlanAction::CompleteRollback => is_pm || is_authority,
        _ => is_pm,
    };
    if !allowed {
        return Err(ServiceError::Forbidden);
    }
    let from = status_of(&current)?;
    let to = rules::plan_transition(from, action)?;
    let project_move = rules::project_after(action, super::project::position_of(&project)?)?;
    let now = state.clock.now();
    let origin = Origin::from(caller);
    let mut next = go_live_plan::Model {
        status: to.as_str().to_owned(),
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    let mut events = vec![DomainEvent::GoLiveStatusChanged {
        plan_id: current.id,
        from,
        to,
    }];
    match action {
        PlanAction::Reschedule | PlanAction::Replan => {
            // Keeping the date is allowed, but it must still pass the checks of a new one:
            // after a NO_GO or a rollback the old date has often gone by.
            let go_live = new_go_live.unwrap_or(current.planned_go_live);
            let shift = go_live - current.planned_go_live;
            rules::check_dates(
                go_live,
                now,
                (current.cutover_start + shift, current.cutover_end + shift),
                current
                    .freeze_start
                    .zip(current.freeze_end)
                    .map(|(s, e)| (s + shift, e + shift)),
                &other_plans(&txn, Some(current.id)).await?,
            )
            .map_err(|refusals| {
                // The windows move with the go-live: whatever clashes, the new date is the
                // one input of the command to change.
                refusals
                    .into_iter()
                    .map(|refusal| Refusal {
                        field: vec!["newGoLive".to_owned()],
                        ..refusal
                    })
                    .collect::<Vec<_>>()
            })?;
            next.planned_go_live = go_live;
            next.cutover_start = current.cutover_start + shift;
            next.cutover_end = current.cutover_end + shift;
            next.freeze_start = current.freeze_start.map(|s| s + shift);
            next.freeze_end = current.freeze_end.map(|e| e + shift);
            next.decision_snapshot = None;
            next.override_reason = None;
            if action == PlanAction::Replan {
                next.attempt += 1;
                next.rollback_forced = false;
                // Every task of the runbook back to PENDING, in one statement.
                let no_time = || Expr::value(Value::ChronoDateTimeUtc(None));
                cutover_task::Entity::update_many()
                    .col_expr(
                        cutover_task::Column::Status,
                        Expr::value(TaskStatus::Pending.as_str()),
                    )
                    .col_expr(cutover_task::Column::ActualStart, no_time())
                    .col_expr(cutover_task::Column::ActualEnd, no_time())
                    .col_expr(
                        cutover_task::Column::Version,
                        Expr::col(cutover_task::Column::Version).add(1),
                    )
                    .filter(cutover_task::Column::PlanId.eq(current.id))
                    .exec(&txn)
                    .await?;
            }
        }
        PlanAction::GoLive => {
            let open: Vec<String> = tasks_of(&txn, current.id)
                .await?
                .into_iter()
                .filter(|t| !matches!(t.status.as_str(), "DONE" | "SKIPPED"))
                .map(|t| t.name)
                .collect();
            if !open.is_empty() {
                return Err(Refusal::precondition(
                    &["action"],
                    format!("runbook tasks not done: {}", open.join(", ")),
                )
                .into());
            }
        }
        PlanAction::CloseHypercare => {
            rules::check_hypercare_exit(&metrics_since_live(&txn, current.id).await?)?;
        }
        PlanAction::CompleteRollback | PlanAction::StartCutover => {}
        PlanAction::SubmitForDecision
        | PlanAction::DecideGo
        | PlanAction::DecideNoGo
        | PlanAction::StartRollback => {}
    }
    if let Some(to) = project_move {
        events.extend(move_project(&txn, origin, now, &project, to).await?);
    }
    let audit_action = format!("go_live.{}", action.as_str().to_ascii_lowercase());
    save_audited(&txn, origin, now, &current, &next, &audit_action).await?;
    commit_with_events(state, txn, origin, project.id, &events).await?;
    Ok(PlanChange {
        plan: next,
        decision: None,
        events,
    })
}

/// Starts rolling back to the old system: the rollback plan's decision authority, during
/// cutover or hypercare; past the point of no return only with `force`.
pub async fn rollback_start(
    state: &AppState,
    caller: &Caller,
    plan_id: Uuid,
    reason: &str,
    force: bool,
) -> ServiceResult<PlanChange> {
    let txn = begin_write(&state.writer).await?;
    let (current, _, subject) =
        plan_for(&txn, caller, plan_id, &["planId"], ProjectOperation::Read).await?;
    let from = status_of(&current)?;
    let is_authority = subject.admin
        || rollback_of(&current)
            .authority_ids
            .contains(&caller.actor.user_id);
    let past = tasks_of(&txn, current.id)
        .await?
        .iter()
        .any(|t| t.point_of_no_return && t.status == "DONE")
        || from == PlanStatus::Live;
    match rules::check_rollback_start(from, is_authority, past, force, reason) {
        Ok(()) => {}
        Err(refusals)
            if refusals
                .iter()
                .any(|r| r.code == RefusalCode::NotEligible && r.field.is_empty()) =>
        {
            return Err(Refusal::new(
                RefusalCode::NotEligible,
                &["planId"],
                "only the rollback plan's decision authority starts a rollback",
            )
            .into());
        }
        Err(refusals) => return Err(refusals.into()),
    }
    let to = rules::plan_transition(from, PlanAction::StartRollback)?;
    let now = state.clock.now();
    let next = go_live_plan::Model {
        status: to.as_str().to_owned(),
        status_reason: Some(reason.trim().to_owned()),
        rollback_forced: force && past,
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    save_audited(
        &txn,
        Origin::from(caller),
        now,
        &current,
        &next,
        "go_live.rollback_started",
    )
    .await?;
    // The rollback's own, louder event goes first.
    let events = vec![
        DomainEvent::RollbackStarted {
            plan_id: next.id,
            forced: next.rollback_forced,
        },
        DomainEvent::GoLiveStatusChanged {
            plan_id: next.id,
            from,
            to,
        },
    ];
    commit_with_events(state, txn, Origin::from(caller), next.project_id, &events).await?;
    Ok(PlanChange {
        events,
        plan: next,
        decision: None,
    })
}

pub async fn metrics_of(
    conn: &impl ConnectionTrait,
    plan_id: Uuid,
) -> ServiceResult<Vec<hypercare_metric::Model>> {
    Ok(hypercare_metric::Entity::find()
        .filter(hypercare_metric::Column::PlanId.eq(plan_id))
        .order_by_asc(hypercare_metric::Column::Id)
        .all(conn)
        .await?)
}

pub async fn readings_of(
    conn: &impl ConnectionTrait,
    metric_id: Uuid,
) -> ServiceResult<Vec<metric_reading::Model>> {
    Ok(metric_reading::Entity::find()
        .filter(metric_reading::Column::MetricId.eq(metric_id))
        .order_by_asc(metric_reading::Column::TakenAt)
        .order_by_asc(metric_reading::Column::Id)
        .all(conn)
        .await?)
}

/// When the committee last said GO to the plan: every reading taken since then was taken in
/// the hypercare of the current attempt, because readings are taken only while the plan is
/// LIVE and an earlier attempt's hypercare ended (rollback, REPLAN) before the ballot that
/// approved this one. `None` for a plan never approved by a ballot.
async fn last_go_decided_at(
    conn: &impl ConnectionTrait,
    plan_id: Uuid,
) -> ServiceResult<Option<DateTime<Utc>>> {
    Ok(decision::Entity::find()
        .filter(decision::Column::SubjectType.eq(DecisionSubject::GoLive.as_str()))
        .filter(decision::Column::SubjectId.eq(plan_id))
        .filter(decision::Column::Outcome.eq(DecisionChoice::Go.as_str()))
        .filter(decision::Column::DecidedAt.is_not_null())
        .order_by_desc(decision::Column::DecidedAt)
        .one(conn)
        .await?
        .and_then(|ballot| ballot.decided_at))
}

/// The plan's metrics, each with the latest of its readings taken since the plan last went
/// live, as [`rules::check_hypercare_exit`] judges them.
async fn metrics_since_live(
    conn: &impl ConnectionTrait,
    plan_id: Uuid,
) -> ServiceResult<Vec<rules::MetricSinceLive>> {
    let metrics = metrics_of(conn, plan_id).await?;
    if metrics.is_empty() {
        return Ok(Vec::new());
    }
    let mut readings = metric_reading::Entity::find()
        .filter(metric_reading::Column::MetricId.is_in(metrics.iter().map(|m| m.id)));
    if let Some(since) = last_go_decided_at(conn, plan_id).await? {
        readings = readings.filter(metric_reading::Column::TakenAt.gte(since));
    }
    // Every reading in one statement, oldest first: the last one seen for a metric is its
    // latest.
    let mut latest_breached: HashMap<Uuid, bool> = HashMap::new();
    for reading in readings
        .order_by_asc(metric_reading::Column::TakenAt)
        .order_by_asc(metric_reading::Column::Id)
        .all(conn)
        .await?
    {
        latest_breached.insert(reading.metric_id, reading.breached);
    }
    Ok(metrics
        .into_iter()
        .map(|metric| rules::MetricSinceLive {
            latest_breached: latest_breached.get(&metric.id).copied(),
            name: metric.name,
        })
        .collect())
}

/// Adds a metric the War Room watches. PM, until hypercare closes.
pub async fn metric_add(
    state: &AppState,
    caller: &Caller,
    plan_id: Uuid,
    name: &str,
    unit: &str,
    target: Decimal,
    direction: Direction,
) -> ServiceResult<hypercare_metric::Model> {
    let mut refusals = Refusals::default();
    let name = refusals.field(&["name"], single_line(name, 200));
    let unit = refusals.field(&["unit"], single_line(unit, 32));
    refusals.finish()?;
    let txn = begin_write(&state.writer).await?;
    let (plan, project, _) = plan_for(
        &txn,
        caller,
        plan_id,
        &["planId"],
        ProjectOperation::ManagePlan,
    )
    .await?;
    if matches!(
        status_of(&plan)?,
        PlanStatus::Closed | PlanStatus::RollbackInProgress | PlanStatus::RolledBack
    ) {
        return Err(Refusal::precondition(
            &["planId"],
            "metrics are for a plan heading for or in hypercare",
        )
        .into());
    }
    let row = hypercare_metric::Model {
        id: Uuid::now_v7(),
        plan_id,
        name: name.unwrap_or_default(),
        unit: unit.unwrap_or_default(),
        target: target.to_string(),
        direction: direction.as_str().to_owned(),
    };
    whole_row::insert(&txn, row.clone()).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        state.clock.now(),
        AuditEntry {
            project_id: Some(project.id),
            entity_type: "HypercareMetric",
            entity_id: row.id,
            action: "go_live.metric_added",
            before: None,
            after: Some(
                json!({ "name": row.name, "target": row.target, "direction": row.direction }),
            ),
        },
    )
    .await?;
    commit(txn).await?;
    Ok(row)
}

/// Records a reading; a reading that misses the target is flagged. Anyone on the War Room or
/// the PM, during hypercare.
pub async fn reading_record(
    state: &AppState,
    caller: &Caller,
    metric_id: Uuid,
    value: Decimal,
) -> ServiceResult<(metric_reading::Model, Vec<DomainEvent>)> {
    let txn = begin_write(&state.writer).await?;
    let metric = hypercare_metric::Entity::find_by_id(metric_id)
        .one(&txn)
        .await?
        .ok_or_else(|| Refusal::not_found(&["metricId"], "metric"))?;
    let (plan, project, subject) = plan_for(
        &txn,
        caller,
        metric.plan_id,
        &["metricId"],
        ProjectOperation::Read,
    )
    .await?;
    let on_duty = war_room_of(&plan)
        .iter()
        .any(|seat| seat.user_id == caller.actor.user_id);
    if !(on_duty || crate::domain::authz::permits(&subject, ProjectOperation::ManagePlan)) {
        return Err(ServiceError::Forbidden);
    }
    if status_of(&plan)? != PlanStatus::Live {
        return Err(
            Refusal::precondition(&["metricId"], "readings are taken during hypercare").into(),
        );
    }
    let direction: Direction =
        metric
            .direction
            .parse()
            .map_err(|e: <Direction as std::str::FromStr>::Err| {
                ServiceError::Internal(e.to_string())
            })?;
    let target: Decimal = metric
        .target
        .parse()
        .map_err(|_| ServiceError::Internal("stored metric target".into()))?;
    let now = state.clock.now();
    let row = metric_reading::Model {
        id: Uuid::now_v7(),
        metric_id,
        value: value.to_string(),
        breached: rules::breached(direction, target, value),
        taken_at: now,
    };
    whole_row::insert(&txn, row.clone()).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        AuditEntry {
            project_id: Some(project.id),
            entity_type: "HypercareMetric",
            entity_id: metric.id,
            action: "go_live.metric_read",
            before: None,
            after: Some(json!({ "value": row.value, "breached": row.breached })),
        },
    )
    .await?;
    let events = if row.breached {
        vec![DomainEvent::HypercareMetricBreached { metric_id }]
    } else {
        Vec::new()
    };
    commit_with_events(state, txn, Origin::from(caller), project.id, &events).await?;
    Ok((row, events))
}
