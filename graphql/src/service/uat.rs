//! User acceptance testing: scenarios (with the built-in library and CSV), cycles, executions,
//! defects through their fix–retest loop, metrics and the readiness verdict.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use serde_json::json;
use steerco_entity::{defect, defect_comment, project, test_cycle, test_execution, test_scenario};
use uuid::Uuid;

use super::access::{self};
use super::audit::{AuditEntry, Origin, append_all_in_txn, append_in_txn};
use super::member::ensure_open;
use super::numbering::insert_numbered;
use super::phase::parse_link;
use super::project::today_in;
use super::whole_row;
use super::{
    AppState, Caller, ServiceError, ServiceResult, begin_write, commit, commit_with_events,
    notify::{About, Concerning, Directory},
};
use crate::domain::authz::{ProjectOperation, Subject, permits};
use crate::domain::event::DomainEvent;
use crate::domain::notification::route;
use crate::domain::text::{multi_line, required_multi_line, single_line};
use crate::domain::uat::{
    self as rules, AcceptanceStage, CycleAction, CycleStatus, DefectCategory, DefectCommand,
    DefectFacts, DefectRow, DefectStatus, ExecutionResult, ExecutionRow, Priority, ScenarioDraft,
    Severity, StepDraft,
};
use crate::domain::uat_csv;
use crate::domain::{Refusal, RefusalCode, Refusals};

/// A stored step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredStep {
    pub action: String,
    pub expected_result: String,
}

fn internal(what: &str) -> impl Fn(String) -> ServiceError + '_ {
    move |e| ServiceError::Internal(format!("stored {what}: {e}"))
}

pub fn steps_of(scenario: &test_scenario::Model) -> ServiceResult<Vec<StoredStep>> {
    serde_json::from_str(&scenario.steps).map_err(|e| internal("steps")(e.to_string()))
}

/// The stored scenario as the domain's draft (for CSV export).
pub fn draft_of(scenario: &test_scenario::Model) -> ServiceResult<ScenarioDraft> {
    Ok(ScenarioDraft {
        name: scenario.name.clone(),
        area: scenario.area.parse().map_err(
            |e: <rules::ProcessArea as std::str::FromStr>::Err| internal("area")(e.to_string()),
        )?,
        is_core: scenario.is_core,
        scenario_type: scenario.scenario_type.parse().map_err(
            |e: <rules::ScenarioType as std::str::FromStr>::Err| {
                internal("scenario type")(e.to_string())
            },
        )?,
        steps: steps_of(scenario)?
            .into_iter()
            .map(|s| StepDraft {
                action: s.action,
                expected_result: s.expected_result,
            })
            .collect(),
    })
}

/// Loads the project and checks the caller may manage tests there.
async fn project_for_tests(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    project_id: Uuid,
    field: &[&str],
) -> ServiceResult<(project::Model, Subject)> {
    let (project, subject) = access::project_for(
        conn,
        &caller.actor,
        project_id,
        field,
        ProjectOperation::ManageTests,
    )
    .await?;
    ensure_open(&project, field)?;
    Ok((project, subject))
}

/// Inserts a project's new scenarios with their audit events: a few statements however many
/// there are (an import brings hundreds).
async fn insert_scenarios(
    conn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    project_id: Uuid,
    drafts: &[ScenarioDraft],
    owner_id: Option<Uuid>,
) -> ServiceResult<Vec<test_scenario::Model>> {
    let mut rows = Vec::with_capacity(drafts.len());
    let mut afters = Vec::with_capacity(drafts.len());
    for draft in drafts {
        let steps: Vec<StoredStep> = draft
            .steps
            .iter()
            .map(|s| StoredStep {
                action: s.action.clone(),
                expected_result: s.expected_result.clone(),
            })
            .collect();
        let row = test_scenario::Model {
            id: Uuid::now_v7(),
            project_id,
            name: draft.name.clone(),
            area: draft.area.as_str().to_owned(),
            is_core: draft.is_core,
            scenario_type: draft.scenario_type.as_str().to_owned(),
            steps: serde_json::to_string(&steps)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            owner_id,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        afters.push(json!({ "name": row.name, "area": row.area, "isCore": row.is_core, "type": row.scenario_type, "steps": steps }));
        rows.push(row);
    }
    super::insert_in_batches(conn, super::active_models(rows.clone()), None)
        .await
        .map_err(super::unique_violation_as(
            &["name"],
            "the project already has a scenario with this name",
        ))?;
    let entries: Vec<AuditEntry> = rows
        .iter()
        .zip(afters)
        .map(|(row, after)| AuditEntry {
            project_id: Some(project_id),
            entity_type: "TestScenario",
            entity_id: row.id,
            action: "test_scenario.created",
            before: None,
            after: Some(after),
        })
        .collect();
    append_all_in_txn(conn, origin, now, &entries).await?;
    Ok(rows)
}

pub async fn scenarios_of(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
) -> ServiceResult<Vec<test_scenario::Model>> {
    Ok(test_scenario::Entity::find()
        .filter(test_scenario::Column::ProjectId.eq(project_id))
        .order_by_asc(test_scenario::Column::Id)
        .all(conn)
        .await?)
}

/// Adds a scenario. PM, QA, business representatives, super users.
pub async fn scenario_create(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    draft: ScenarioDraft,
    owner_id: Option<Uuid>,
) -> ServiceResult<test_scenario::Model> {
    let draft = rules::check_scenario(&draft)?;
    let txn = begin_write(&state.writer).await?;
    project_for_tests(&txn, caller, project_id, &["projectId"]).await?;
    super::member::check_owner(&txn, project_id, owner_id, &["ownerId"]).await?;
    if scenarios_of(&txn, project_id)
        .await?
        .iter()
        .any(|s| s.name.eq_ignore_ascii_case(&draft.name))
    {
        return Err(Refusal::conflict(
            &["name"],
            "the project already has a scenario with this name",
        )
        .into());
    }
    let mut created = insert_scenarios(
        &txn,
        Origin::from(caller),
        state.clock.now(),
        project_id,
        std::slice::from_ref(&draft),
        owner_id,
    )
    .await?;
    commit(txn).await?;
    created
        .pop()
        .ok_or_else(|| ServiceError::Internal("scenario not inserted".into()))
}

/// Imports the built-in library; scenarios whose name the project already uses are skipped.
pub async fn library_import(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
) -> ServiceResult<Vec<test_scenario::Model>> {
    let txn = begin_write(&state.writer).await?;
    project_for_tests(&txn, caller, project_id, &["projectId"]).await?;
    let existing: Vec<String> = scenarios_of(&txn, project_id)
        .await?
        .into_iter()
        .map(|s| s.name.to_lowercase())
        .collect();
    let missing: Vec<ScenarioDraft> = rules::library()
        .into_iter()
        .filter(|draft| !existing.contains(&draft.name.to_lowercase()))
        .collect();
    let now = state.clock.now();
    let created =
        insert_scenarios(&txn, Origin::from(caller), now, project_id, &missing, None).await?;
    commit(txn).await?;
    Ok(created)
}

/// Imports scenarios from CSV: all of them, or none with every bad row reported as a
/// BAD_USER_INPUT on `["csv", line, column]`.
pub async fn csv_import(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    file: &str,
) -> ServiceResult<Vec<test_scenario::Model>> {
    let drafts = uat_csv::parse(file).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| {
                let line = e.line.to_string();
                let mut field = vec!["csv", line.as_str()];
                if let Some(column) = e.column {
                    field.push(column);
                }
                Refusal::bad_input(&field, e.reason)
            })
            .collect::<Vec<_>>()
    })?;
    let txn = begin_write(&state.writer).await?;
    project_for_tests(&txn, caller, project_id, &["projectId"]).await?;
    let existing: Vec<String> = scenarios_of(&txn, project_id)
        .await?
        .into_iter()
        .map(|s| s.name.to_lowercase())
        .collect();
    let taken: Vec<Refusal> = drafts
        .iter()
        .filter(|d| existing.contains(&d.name.to_lowercase()))
        .map(|d| {
            Refusal::conflict(
                &["csv", "scenario"],
                format!("the project already has a scenario named {}", d.name),
            )
        })
        .collect();
    if !taken.is_empty() {
        return Err(taken.into());
    }
    let now = state.clock.now();
    let created =
        insert_scenarios(&txn, Origin::from(caller), now, project_id, &drafts, None).await?;
    commit(txn).await?;
    Ok(created)
}

/// A project's scenarios, in order, as CSV (the import format).
pub fn csv_of(scenarios: &[test_scenario::Model]) -> ServiceResult<String> {
    let drafts = scenarios
        .iter()
        .map(draft_of)
        .collect::<ServiceResult<Vec<_>>>()?;
    Ok(uat_csv::write(&drafts))
}

fn cycle_status(cycle: &test_cycle::Model) -> ServiceResult<CycleStatus> {
    cycle
        .status
        .parse()
        .map_err(|e: <CycleStatus as std::str::FromStr>::Err| {
            internal("cycle status")(e.to_string())
        })
}

/// A test cycle as typed.
#[derive(Debug, Clone)]
pub struct NewCycle {
    pub name: String,
    pub stage: AcceptanceStage,
    pub environment: String,
    pub planned_start: Option<NaiveDate>,
    pub planned_end: Option<NaiveDate>,
}

/// Plans a test cycle. PM, QA, business representatives, super users.
pub async fn cycle_create(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    input: NewCycle,
) -> ServiceResult<test_cycle::Model> {
    let NewCycle {
        name,
        stage,
        environment,
        planned_start,
        planned_end,
    } = input;
    let (name, environment) = (name.as_str(), environment.as_str());
    let mut refusals = Refusals::default();
    let name = refusals.field(&["name"], single_line(name, 200));
    let environment = refusals.field(&["environment"], single_line(environment, 200));
    if let (Some(start), Some(end)) = (planned_start, planned_end)
        && end < start
    {
        refusals.push(Refusal::bad_input(
            &["plannedEnd"],
            "the planned end is before the planned start",
        ));
    }
    refusals.finish()?;
    let txn = begin_write(&state.writer).await?;
    project_for_tests(&txn, caller, project_id, &["projectId"]).await?;
    let now = state.clock.now();
    let row = test_cycle::Model {
        id: Uuid::now_v7(),
        project_id,
        name: name.unwrap_or_default(),
        stage: stage.as_str().to_owned(),
        environment: environment.unwrap_or_default(),
        planned_start,
        planned_end,
        status: CycleStatus::Planned.as_str().to_owned(),
        signed_off_by: None,
        signed_off_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    whole_row::insert(&txn, row.clone()).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        cycle_entry(&row, "test_cycle.created", None),
    )
    .await?;
    commit(txn).await?;
    Ok(row)
}

fn cycle_entry<'a>(
    c: &test_cycle::Model,
    action: &'a str,
    before: Option<&test_cycle::Model>,
) -> AuditEntry<'a> {
    let snap = |c: &test_cycle::Model| json!({ "name": c.name, "stage": c.stage, "environment": c.environment, "status": c.status, "signedOffBy": c.signed_off_by });
    AuditEntry {
        project_id: Some(c.project_id),
        entity_type: "TestCycle",
        entity_id: c.id,
        action,
        before: before.map(snap),
        after: Some(snap(c)),
    }
}

/// Moves a cycle: start, complete and fail for those who manage tests; sign-off for a
/// business representative (or an admin).
pub async fn cycle_transition(
    state: &AppState,
    caller: &Caller,
    cycle_id: Uuid,
    action: CycleAction,
) -> ServiceResult<(test_cycle::Model, Vec<DomainEvent>)> {
    let txn = begin_write(&state.writer).await?;
    let (current, project, subject) = access::row_for::<test_cycle::Entity>(
        &txn,
        &caller.actor,
        (cycle_id, "test cycle"),
        &["id"],
        ProjectOperation::Read,
    )
    .await?;
    let allowed = match action {
        CycleAction::SignOff => subject.admin || rules::may_sign_off(&subject.roles),
        CycleAction::Start | CycleAction::Complete | CycleAction::Fail => {
            permits(&subject, ProjectOperation::ManageTests)
        }
    };
    if !allowed {
        return Err(ServiceError::Forbidden);
    }
    ensure_open(&project, &["id"])?;
    let from = cycle_status(&current)?;
    let to = rules::cycle_transition(from, action)?;
    let now = state.clock.now();
    let mut next = test_cycle::Model {
        status: to.as_str().to_owned(),
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    if action == CycleAction::SignOff {
        next.signed_off_by = Some(caller.actor.user_id);
        next.signed_off_at = Some(now);
    }
    whole_row::update(&txn, next.clone()).await?;
    let audit_action = format!("test_cycle.{}", action.as_str().to_ascii_lowercase());
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        cycle_entry(&next, &audit_action, Some(&current)),
    )
    .await?;
    let events = vec![DomainEvent::TestCycleStatusChanged {
        cycle_id: next.id,
        from,
        to,
    }];
    commit_with_events(state, txn, Origin::from(caller), next.project_id, &events).await?;
    Ok((next, events))
}

/// A defect as reported.
#[derive(Debug, Clone, Default)]
pub struct NewDefect {
    pub title: String,
    pub steps_to_reproduce: String,
    pub expected_result: String,
    pub actual_result: String,
    pub category: Option<DefectCategory>,
    pub severity: Option<Severity>,
    pub priority: Option<Priority>,
    pub environment: String,
    pub found_in_cycle_id: Option<Uuid>,
    pub scenario_id: Option<Uuid>,
    /// `None`: whether the project is live when the defect is logged
    /// ([`rules::found_after_go_live`]).
    pub found_after_go_live: Option<bool>,
}

struct CheckedDefect {
    title: String,
    steps: String,
    expected: String,
    actual: String,
    environment: String,
}

fn check_defect(input: &NewDefect, prefix: &str) -> Result<CheckedDefect, Vec<Refusal>> {
    let path = |field: &'static str| -> Vec<String> {
        if prefix.is_empty() {
            vec![field.to_owned()]
        } else {
            vec![prefix.to_owned(), field.to_owned()]
        }
    };
    let mut refusals = Vec::new();
    let mut take = |field: &'static str, result: Result<String, crate::domain::text::TextError>| {
        match result {
            Ok(value) => value,
            Err(error) => {
                let p = path(field);
                let p: Vec<&str> = p.iter().map(String::as_str).collect();
                refusals.push(Refusal::bad_input(&p, error.to_string()));
                String::new()
            }
        }
    };
    let title = take("title", single_line(&input.title, 200));
    let steps = take(
        "stepsToReproduce",
        required_multi_line(&input.steps_to_reproduce, 10_000),
    );
    let expected = take("expectedResult", multi_line(&input.expected_result, 10_000));
    let actual = take(
        "actualResult",
        required_multi_line(&input.actual_result, 10_000),
    );
    let environment = take("environment", multi_line(&input.environment, 200));
    if refusals.is_empty() {
        Ok(CheckedDefect {
            title,
            steps,
            expected,
            actual,
            environment,
        })
    } else {
        Err(refusals)
    }
}

#[allow(clippy::too_many_arguments)] // every way a defect is born passes through here
async fn insert_defect(
    conn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    project: &project::Model,
    reporter: Uuid,
    input: &NewDefect,
    checked: CheckedDefect,
    execution_id: Option<Uuid>,
) -> ServiceResult<(defect::Model, Vec<DomainEvent>)> {
    let position = super::project::position_of(project)?;
    let found_after_go_live = rules::found_after_go_live(
        input.found_after_go_live,
        position.status,
        position.held_from,
    );
    let row = defect::Model {
        id: Uuid::now_v7(),
        project_id: project.id,
        number: 0, // the insert numbers it
        title: checked.title,
        steps_to_reproduce: checked.steps,
        expected_result: checked.expected,
        actual_result: checked.actual,
        category: input
            .category
            .unwrap_or(DefectCategory::Other)
            .as_str()
            .to_owned(),
        severity: input.severity.map(|s| s.as_str().to_owned()),
        priority: input.priority.map(|p| p.as_str().to_owned()),
        environment: checked.environment,
        found_in_cycle_id: input.found_in_cycle_id,
        scenario_id: input.scenario_id,
        execution_id,
        reporter_id: reporter,
        assignee_id: None,
        found_after_go_live,
        status: DefectStatus::New.as_str().to_owned(),
        reject_reason: None,
        duplicate_of: None,
        status_reason: None,
        reopen_count: 0,
        created_at: now,
        updated_at: now,
        closed_at: None,
        version: 1,
    };
    let row = insert_numbered(conn, row, defect::Column::ProjectId, defect::Column::Number)
        .await
        .map_err(super::unique_violation_as(
            &["projectId"],
            "another defect took this number; try again",
        ))?;
    append_in_txn(conn, origin, now, defect_entry(&row, "defect.logged", None)).await?;
    Ok((row.clone(), vec![logged_event(row.id, input.severity)]))
}

/// The event of a defect logged with `severity`.
fn logged_event(defect_id: Uuid, severity: Option<Severity>) -> DomainEvent {
    DomainEvent::DefectLogged {
        defect_id,
        critical: severity == Some(Severity::Critical),
    }
}

fn defect_entry<'a>(
    d: &defect::Model,
    action: &'a str,
    before: Option<&defect::Model>,
) -> AuditEntry<'a> {
    let snap = |d: &defect::Model| {
        json!({
            "number": d.number, "title": d.title, "category": d.category, "severity": d.severity, "priority": d.priority,
            "status": d.status, "assigneeId": d.assignee_id, "rejectReason": d.reject_reason, "duplicateOf": d.duplicate_of,
            "statusReason": d.status_reason, "reopenCount": d.reopen_count, "foundAfterGoLive": d.found_after_go_live,
        })
    };
    AuditEntry {
        project_id: Some(d.project_id),
        entity_type: "Defect",
        entity_id: d.id,
        action,
        before: before.map(snap),
        after: Some(snap(d)),
    }
}

/// Checks the cycle and scenario a defect or execution points at belong to the project.
async fn check_targets(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
    cycle_id: Option<Uuid>,
    scenario_id: Option<Uuid>,
    prefix: &[&str],
) -> ServiceResult<()> {
    let mut refusals = Refusals::default();
    let with = |field: &str| -> Vec<String> {
        prefix
            .iter()
            .map(|s| (*s).to_owned())
            .chain([field.to_owned()])
            .collect()
    };
    if let Some(id) = cycle_id {
        let found = test_cycle::Entity::find_by_id(id).one(conn).await?;
        if found.is_none_or(|c| c.project_id != project_id) {
            let p = with("foundInCycleId");
            refusals.push(Refusal::not_found(
                &p.iter().map(String::as_str).collect::<Vec<_>>(),
                "test cycle",
            ));
        }
    }
    if let Some(id) = scenario_id {
        let found = test_scenario::Entity::find_by_id(id).one(conn).await?;
        if found.is_none_or(|s| s.project_id != project_id) {
            let p = with("scenarioId");
            refusals.push(Refusal::not_found(
                &p.iter().map(String::as_str).collect::<Vec<_>>(),
                "test scenario",
            ));
        }
    }
    refusals.finish().map_err(Into::into)
}

/// Logs a defect (NEW). Any member but a mere VIEWER.
pub async fn defect_create(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    input: NewDefect,
) -> ServiceResult<(defect::Model, Vec<DomainEvent>)> {
    let checked = check_defect(&input, "")?;
    // Where commands take turns at one writer and others hold it, a defect that is mailed reads
    // its team before its turn rather than in it (see `Directory`). At a free writer the read
    // joins the turn: one statement on the writer's connection, rather than one on a reading
    // connection and the round trip sqlx makes to check that connection on its return. The
    // caller is checked in the turn: a refused caller's read is wasted, and tells them nothing.
    let mailed = route(&logged_event(Uuid::nil(), input.severity)).is_some();
    let team = if mailed && state.writer.is_busy() {
        Some(Directory::of_project(&state.db, project_id).await?)
    } else {
        None
    };
    let txn = begin_write(&state.writer).await?;
    let (project, _) = access::project_for(
        &txn,
        &caller.actor,
        project_id,
        &["projectId"],
        ProjectOperation::RaiseChange,
    )
    .await?;
    ensure_open(&project, &["projectId"])?;
    check_targets(
        &txn,
        project_id,
        input.found_in_cycle_id,
        input.scenario_id,
        &[],
    )
    .await?;
    let result = insert_defect(
        &txn,
        Origin::from(caller),
        state.clock.now(),
        &project,
        caller.actor.user_id,
        &input,
        checked,
        None,
    )
    .await?;
    let concerning = Concerning {
        project: About::Row(&project),
        defect: Some(&result.0),
        team: team.as_ref(),
    };
    commit_with_events(state, txn, Origin::from(caller), concerning, &result.1).await?;
    Ok(result)
}

/// One tester's result for a scenario in a running cycle; a failure may log a linked defect in
/// the same transaction.
/// One execution result as typed.
#[derive(Debug, Clone)]
pub struct ExecutionInput {
    pub cycle_id: Uuid,
    pub scenario_id: Uuid,
    pub result: ExecutionResult,
    pub notes: Option<String>,
    pub evidence_url: Option<String>,
    /// A defect to log with a FAILED result.
    pub defect: Option<NewDefect>,
}

pub async fn execution_record(
    state: &AppState,
    caller: &Caller,
    input: ExecutionInput,
) -> ServiceResult<(
    test_execution::Model,
    Option<defect::Model>,
    Vec<DomainEvent>,
)> {
    let ExecutionInput {
        cycle_id,
        scenario_id,
        result,
        notes,
        evidence_url,
        defect,
    } = input;
    let (notes, evidence_url) = (notes.as_deref(), evidence_url.as_deref());
    let mut refusals = Refusals::default();
    let notes = refusals
        .field(&["notes"], multi_line(notes.unwrap_or(""), 10_000))
        .unwrap_or_default();
    let evidence = evidence_url.and_then(|raw| refusals.field(&["evidenceUrl"], parse_link(raw)));
    if defect.is_some() && result != ExecutionResult::Failed {
        refusals.push(Refusal::bad_input(
            &["defect"],
            "a defect goes with a FAILED execution",
        ));
    }
    let checked = match &defect {
        Some(input) => match check_defect(input, "defect") {
            Ok(checked) => Some(checked),
            Err(found) => {
                for refusal in found {
                    refusals.push(refusal);
                }
                None
            }
        },
        None => None,
    };
    refusals.finish()?;
    let txn = begin_write(&state.writer).await?;
    let (cycle, project, _) = access::row_for::<test_cycle::Entity>(
        &txn,
        &caller.actor,
        (cycle_id, "test cycle"),
        &["cycleId"],
        ProjectOperation::ManageTests,
    )
    .await?;
    ensure_open(&project, &["cycleId"])?;
    let scenario = test_scenario::Entity::find_by_id(scenario_id)
        .one(&txn)
        .await?
        .filter(|s| s.project_id == cycle.project_id)
        .ok_or_else(|| {
            Refusal::not_found(&["scenarioId"], "test scenario of the cycle's project")
        })?;
    if cycle_status(&cycle)? != CycleStatus::Running {
        return Err(Refusal::precondition(
            &["cycleId"],
            format!(
                "results are recorded while the cycle is RUNNING; it is {}",
                cycle.status
            ),
        )
        .into());
    }
    let now = state.clock.now();
    let existing = test_execution::Entity::find()
        .filter(test_execution::Column::CycleId.eq(cycle.id))
        .filter(test_execution::Column::ScenarioId.eq(scenario.id))
        .filter(test_execution::Column::TesterId.eq(caller.actor.user_id))
        .one(&txn)
        .await?;
    let execution = match existing {
        Some(previous) => {
            let next = test_execution::Model {
                result: result.as_str().to_owned(),
                notes,
                evidence_url: evidence,
                executed_at: now,
                version: previous.version + 1,
                ..previous
            };
            whole_row::update(&txn, next.clone()).await?;
            next
        }
        None => {
            let row = test_execution::Model {
                id: Uuid::now_v7(),
                project_id: cycle.project_id,
                cycle_id: cycle.id,
                scenario_id: scenario.id,
                tester_id: caller.actor.user_id,
                result: result.as_str().to_owned(),
                notes,
                evidence_url: evidence,
                executed_at: now,
                version: 1,
            };
            whole_row::insert(&txn, row.clone()).await?;
            row
        }
    };
    let origin = Origin::from(caller);
    append_in_txn(
        &txn,
        origin,
        now,
        AuditEntry {
            project_id: Some(cycle.project_id),
            entity_type: "TestExecution",
            entity_id: execution.id,
            action: "test_execution.recorded",
            before: None,
            after: Some(json!({ "cycleId": cycle.id, "scenarioId": scenario.id, "result": execution.result, "notes": execution.notes })),
        },
    )
    .await?;
    let mut events = vec![DomainEvent::TestExecutionRecorded {
        execution_id: execution.id,
    }];
    let mut logged = None;
    if let (Some(mut input), Some(checked)) = (defect, checked) {
        input.found_in_cycle_id = Some(cycle.id);
        input.scenario_id = Some(scenario.id);
        let (row, defect_events) = insert_defect(
            &txn,
            origin,
            now,
            &project,
            caller.actor.user_id,
            &input,
            checked,
            Some(execution.id),
        )
        .await?;
        events.extend(defect_events);
        logged = Some(row);
    }
    let concerning = Concerning {
        project: About::Id(cycle.project_id),
        defect: logged.as_ref(),
        team: None,
    };
    commit_with_events(state, txn, origin, concerning, &events).await?;
    Ok((execution, logged, events))
}

pub fn defect_status(d: &defect::Model) -> ServiceResult<DefectStatus> {
    d.status
        .parse()
        .map_err(|e: <DefectStatus as std::str::FromStr>::Err| {
            internal("defect status")(e.to_string())
        })
}

/// `DEF-12`.
pub fn key_of(d: &defect::Model) -> String {
    format!("DEF-{}", d.number)
}

/// Grades an open defect: severity and priority, by the PM or QA (or the reporter while it is
/// NEW).
pub async fn defect_grade(
    state: &AppState,
    caller: &Caller,
    defect_id: Uuid,
    expected_version: i64,
    severity: Option<Severity>,
    priority: Option<Priority>,
    category: Option<DefectCategory>,
) -> ServiceResult<defect::Model> {
    let txn = begin_write(&state.writer).await?;
    let (subject, current) = defect_for(&txn, caller, defect_id).await?;
    let triager = subject.admin
        || subject
            .roles
            .contains(crate::domain::role::ProjectRole::ProjectManager)
        || subject.roles.contains(crate::domain::role::ProjectRole::Qa);
    let status = defect_status(&current)?;
    if !(triager || (current.reporter_id == caller.actor.user_id && status == DefectStatus::New)) {
        return Err(ServiceError::Forbidden);
    }
    rules::check_gradable(&key_of(&current), status)?;
    let severity_of = |d: &defect::Model| d.severity.as_deref().and_then(|s| s.parse().ok());
    let deferrer = subject.admin
        || subject
            .roles
            .contains(crate::domain::role::ProjectRole::ProjectManager);
    if !deferrer && rules::downgrade_needs_project_manager(severity_of(&current), severity) {
        return Err(ServiceError::Forbidden);
    }
    if current.version != expected_version {
        return Err(Refusal::stale_version(current.version).into());
    }
    let now = state.clock.now();
    let next = defect::Model {
        severity: severity
            .map(|s| s.as_str().to_owned())
            .or(current.severity.clone()),
        priority: priority
            .map(|p| p.as_str().to_owned())
            .or(current.priority.clone()),
        category: category.map_or(current.category.clone(), |c| c.as_str().to_owned()),
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    whole_row::update(&txn, next.clone()).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        defect_entry(&next, "defect.graded", Some(&current)),
    )
    .await?;
    let events = if rules::grading_escalates(status, severity_of(&current), severity_of(&next)) {
        vec![DomainEvent::DefectEscalated { defect_id: next.id }]
    } else {
        Vec::new()
    };
    let concerning = Concerning {
        project: About::Id(next.project_id),
        defect: Some(&next),
        team: None,
    };
    commit_with_events(state, txn, Origin::from(caller), concerning, &events).await?;
    Ok(next)
}

/// Loads a defect of an open project for a command, after its project, with the caller's
/// standing there.
async fn defect_for(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    defect_id: Uuid,
) -> ServiceResult<(Subject, defect::Model)> {
    let (current, project, subject) = access::row_for::<defect::Entity>(
        conn,
        &caller.actor,
        (defect_id, "defect"),
        &["id"],
        ProjectOperation::Read,
    )
    .await?;
    ensure_open(&project, &["id"])?;
    Ok((subject, current))
}

/// Moves a defect through its fix–retest loop; the domain decides and checks who may.
pub async fn defect_transition(
    state: &AppState,
    caller: &Caller,
    defect_id: Uuid,
    command: DefectCommand,
) -> ServiceResult<(defect::Model, Vec<DomainEvent>)> {
    let txn = begin_write(&state.writer).await?;
    let (subject, current) = defect_for(&txn, caller, defect_id).await?;
    let from = defect_status(&current)?;
    let facts = DefectFacts {
        status: from,
        severity: current.severity.as_deref().and_then(|s| s.parse().ok()),
        priority: current.priority.as_deref().and_then(|p| p.parse().ok()),
        reporter: current.reporter_id,
        assignee: current.assignee_id,
    };
    let who = rules::Caller {
        user_id: caller.actor.user_id,
        roles: subject.roles.clone(),
        admin: subject.admin,
    };
    let decided = match rules::defect_decide(&facts, &who, &command) {
        Ok(decided) => decided,
        Err(refusals)
            if refusals
                .iter()
                .any(|r| r.code == RefusalCode::NotEligible && r.field.is_empty()) =>
        {
            return Err(ServiceError::Forbidden);
        }
        Err(refusals) => return Err(refusals.into()),
    };
    match &command {
        DefectCommand::Assign { assignee }
            if !super::member::is_member(&txn, current.project_id, *assignee).await? =>
        {
            return Err(Refusal::bad_input(
                &["assigneeId"],
                "the assignee must be a member of the project",
            )
            .into());
        }
        DefectCommand::Reject {
            duplicate_of: Some(other),
            ..
        } => {
            let found = defect::Entity::find_by_id(*other)
                .one(&txn)
                .await?
                .filter(|d| d.project_id == current.project_id);
            let Some(original) = found else {
                return Err(
                    Refusal::not_found(&["duplicateOf"], "defect of the same project").into(),
                );
            };
            rules::check_duplicate_original(&key_of(&original), defect_status(&original)?)?;
        }
        _ => {}
    }
    let now = state.clock.now();
    let mut next = defect::Model {
        status: decided.status.as_str().to_owned(),
        reopen_count: current.reopen_count + i32::from(decided.reopened),
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    let mut events = vec![DomainEvent::DefectStatusChanged {
        defect_id: current.id,
        from,
        to: decided.status,
    }];
    match &command {
        DefectCommand::Assign { assignee } => {
            next.assignee_id = Some(*assignee);
            events.push(DomainEvent::DefectAssigned {
                defect_id: current.id,
                assignee_id: *assignee,
            });
        }
        DefectCommand::MarkReadyForRetest => events.push(DomainEvent::DefectReadyForRetest {
            defect_id: current.id,
        }),
        DefectCommand::Reopen { reason } => {
            next.status_reason = Some(reason.clone());
            events.push(DomainEvent::DefectReopened {
                defect_id: current.id,
            });
        }
        DefectCommand::Defer { reason } => next.status_reason = Some(reason.clone()),
        DefectCommand::Reject {
            reason,
            duplicate_of,
            ..
        } => {
            next.reject_reason = Some(reason.as_str().to_owned());
            next.duplicate_of = *duplicate_of;
        }
        DefectCommand::Close => next.closed_at = Some(now),
        DefectCommand::Triage | DefectCommand::StartFix | DefectCommand::Verify => {}
    }
    whole_row::update(&txn, next.clone()).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        defect_entry(&next, "defect.transitioned", Some(&current)),
    )
    .await?;
    let concerning = Concerning {
        project: About::Id(next.project_id),
        defect: Some(&next),
        team: None,
    };
    commit_with_events(state, txn, Origin::from(caller), concerning, &events).await?;
    Ok((next, events))
}

/// Comments on a defect. Any member but a mere VIEWER.
pub async fn defect_comment(
    state: &AppState,
    caller: &Caller,
    defect_id: Uuid,
    body: &str,
) -> ServiceResult<defect::Model> {
    let body = required_multi_line(body, 10_000)
        .map_err(|e| Refusal::bad_input(&["body"], e.to_string()))?;
    let txn = begin_write(&state.writer).await?;
    let found = defect::Entity::find_by_id(defect_id)
        .one(&txn)
        .await?
        .ok_or_else(|| Refusal::not_found(&["id"], "defect"))?;
    access::project_for(
        &txn,
        &caller.actor,
        found.project_id,
        &["id"],
        ProjectOperation::RaiseChange,
    )
    .await?;
    let now = state.clock.now();
    let row = defect_comment::Model {
        id: Uuid::now_v7(),
        defect_id,
        author_id: caller.actor.user_id,
        body,
        created_at: now,
    };
    whole_row::insert(&txn, row.clone()).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        AuditEntry {
            project_id: Some(found.project_id),
            entity_type: "DefectComment",
            entity_id: row.id,
            action: "defect.commented",
            before: None,
            after: Some(json!({ "defectId": defect_id, "body": row.body })),
        },
    )
    .await?;
    commit(txn).await?;
    Ok(found)
}

pub async fn defects_of(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
) -> ServiceResult<Vec<defect::Model>> {
    Ok(defect::Entity::find()
        .filter(defect::Column::ProjectId.eq(project_id))
        .order_by_asc(defect::Column::Number)
        .all(conn)
        .await?)
}

/// Every scenario of a project with its worst result in a cycle of `executions` (NOT_RUN for a
/// scenario the cycle did not run).
pub fn execution_rows_from(
    scenarios: &[test_scenario::Model],
    executions: &[test_execution::Model],
) -> ServiceResult<Vec<ExecutionRow>> {
    let mut worst: HashMap<Uuid, ExecutionResult> = HashMap::new();
    for execution in executions {
        let result: ExecutionResult = execution.result.parse().map_err(
            |e: <ExecutionResult as std::str::FromStr>::Err| {
                internal("execution result")(e.to_string())
            },
        )?;
        let rank = |r: ExecutionResult| match r {
            ExecutionResult::Failed => 3,
            ExecutionResult::Blocked => 2,
            ExecutionResult::NotRun => 1,
            ExecutionResult::Passed => 0,
        };
        worst
            .entry(execution.scenario_id)
            .and_modify(|current| {
                if rank(result) > rank(*current) {
                    *current = result;
                }
            })
            .or_insert(result);
    }
    Ok(scenarios
        .iter()
        .map(|s| ExecutionRow {
            scenario_id: s.id,
            is_core: s.is_core,
            result: worst.get(&s.id).copied().unwrap_or(ExecutionResult::NotRun),
        })
        .collect())
}

/// What the UAT metrics read of a stored defect: its state and dates, not its texts.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct DefectMetricRow {
    pub project_id: Uuid,
    status: String,
    severity: Option<String>,
    created_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    reopen_count: i32,
    found_after_go_live: bool,
    /// Null when the defect names no scenario.
    on_core_scenario: Option<bool>,
}

/// The metric rows of the defects of many projects, in one statement whatever their number.
pub async fn defect_metric_rows_of(
    conn: &impl ConnectionTrait,
    project_ids: &[Uuid],
) -> ServiceResult<Vec<DefectMetricRow>> {
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let core_scenarios = Query::select()
        .column(test_scenario::Column::Id)
        .from(test_scenario::Entity)
        .and_where(Expr::col(test_scenario::Column::ProjectId).is_in(project_ids.iter().copied()))
        .and_where(Expr::col(test_scenario::Column::IsCore).eq(true))
        .to_owned();
    Ok(defect::Entity::find()
        .select_only()
        .columns([
            defect::Column::ProjectId,
            defect::Column::Status,
            defect::Column::Severity,
            defect::Column::CreatedAt,
            defect::Column::ClosedAt,
            defect::Column::ReopenCount,
            defect::Column::FoundAfterGoLive,
        ])
        .column_as(
            Expr::col((defect::Entity, defect::Column::ScenarioId)).in_subquery(core_scenarios),
            "on_core_scenario",
        )
        .filter(defect::Column::ProjectId.is_in(project_ids.iter().copied()))
        .into_model::<DefectMetricRow>()
        .all(conn)
        .await?)
}

/// [`defect_metric_rows_of`] on the state's connection, for the loader.
pub async fn defect_metric_rows_for(
    state: &AppState,
    project_ids: &[Uuid],
) -> ServiceResult<Vec<DefectMetricRow>> {
    defect_metric_rows_of(&state.db, project_ids).await
}

/// How many open defects of one stored severity a project has.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct OpenDefectCount {
    pub project_id: Uuid,
    severity: Option<String>,
    count: i64,
}

/// The open defects of many projects counted by severity in the database, in one statement:
/// a portfolio asks for them over thousands of defects, of which it needs a handful of numbers.
pub async fn open_defect_counts_of(
    state: &AppState,
    project_ids: &[Uuid],
) -> ServiceResult<Vec<OpenDefectCount>> {
    open_defect_counts_in(&state.db, project_ids).await
}

/// [`open_defect_counts_of`] on any connection.
pub async fn open_defect_counts_in(
    conn: &impl ConnectionTrait,
    project_ids: &[Uuid],
) -> ServiceResult<Vec<OpenDefectCount>> {
    let open = DefectStatus::ALL
        .into_iter()
        .filter(|status| rules::is_open(*status))
        .map(DefectStatus::as_str);
    Ok(defect::Entity::find()
        .select_only()
        .columns([defect::Column::ProjectId, defect::Column::Severity])
        .column_as(defect::Column::Id.count(), "count")
        .filter(defect::Column::ProjectId.is_in(project_ids.iter().copied()))
        .filter(defect::Column::Status.is_in(open))
        .group_by(defect::Column::ProjectId)
        .group_by(defect::Column::Severity)
        .into_model::<OpenDefectCount>()
        .all(conn)
        .await?)
}

/// A project's open defects by severity (see [`rules::open_by_severity`]); a severity no
/// longer known counts as none, like an untriaged defect.
pub fn open_by_severity(counts: &[OpenDefectCount]) -> Vec<(Option<Severity>, u32)> {
    rules::open_by_severity(counts.iter().map(|row| {
        (
            row.severity.as_deref().and_then(|s| s.parse().ok()),
            u32::try_from(row.count).unwrap_or(u32::MAX),
        )
    }))
}

/// The metrics' view of a project's defects, with dates as days in its time zone.
pub fn defect_rows_from(
    project: &project::Model,
    stored: &[DefectMetricRow],
) -> ServiceResult<Vec<DefectRow>> {
    stored
        .iter()
        .map(|d| {
            Ok(DefectRow {
                status: d.status.parse().map_err(
                    |e: <DefectStatus as std::str::FromStr>::Err| {
                        internal("defect status")(e.to_string())
                    },
                )?,
                severity: d.severity.as_deref().and_then(|s| s.parse().ok()),
                created_on: today_in(project, d.created_at),
                closed_on: d.closed_at.map(|at| today_in(project, at)),
                reopen_count: u32::try_from(d.reopen_count).unwrap_or(0),
                found_after_go_live: d.found_after_go_live,
                on_core_scenario: d.on_core_scenario == Some(true),
            })
        })
        .collect()
}

/// What a project's UAT readiness is computed from.
#[derive(Debug, Clone, Default)]
pub struct UatData {
    /// Oldest first: the last is the latest cycle.
    pub cycles: Vec<test_cycle::Model>,
    pub scenarios: Vec<test_scenario::Model>,
    pub defects: Vec<DefectMetricRow>,
    /// The executions of the latest cycle.
    pub latest_executions: Vec<test_execution::Model>,
}

impl UatData {
    /// Reads the UAT data of `project_ids` (each is in the answer): four statements whatever
    /// their number.
    pub async fn read_many(
        conn: &impl ConnectionTrait,
        project_ids: &[Uuid],
    ) -> ServiceResult<HashMap<Uuid, Self>> {
        let in_projects = || project_ids.iter().copied();
        let cycles = test_cycle::Entity::find()
            .filter(test_cycle::Column::ProjectId.is_in(in_projects()))
            .order_by_asc(test_cycle::Column::Id)
            .all(conn)
            .await?;
        let mut cycles = super::group(project_ids, cycles, |cycle| cycle.project_id);
        let latest: Vec<Uuid> = cycles
            .values()
            .filter_map(|of_project| Some(of_project.last()?.id))
            .collect();
        let executions = if latest.is_empty() {
            Vec::new()
        } else {
            test_execution::Entity::find()
                .filter(test_execution::Column::CycleId.is_in(latest.iter().copied()))
                .order_by_asc(test_execution::Column::Id)
                .all(conn)
                .await?
        };
        let mut executions = super::group(&latest, executions, |e| e.cycle_id);
        let scenarios = test_scenario::Entity::find()
            .filter(test_scenario::Column::ProjectId.is_in(in_projects()))
            .order_by_asc(test_scenario::Column::Id)
            .all(conn)
            .await?;
        let mut scenarios = super::group(project_ids, scenarios, |s| s.project_id);
        let defects = defect_metric_rows_of(conn, project_ids).await?;
        let mut defects = super::group(project_ids, defects, |d| d.project_id);
        Ok(project_ids
            .iter()
            .map(|id| {
                let cycles = cycles.remove(id).unwrap_or_default();
                let latest_executions = cycles
                    .last()
                    .and_then(|latest| executions.remove(&latest.id))
                    .unwrap_or_default();
                let data = Self {
                    cycles,
                    scenarios: scenarios.remove(id).unwrap_or_default(),
                    defects: defects.remove(id).unwrap_or_default(),
                    latest_executions,
                };
                (*id, data)
            })
            .collect())
    }

    /// DOMAIN §6.2 readiness, with the project's defects as the rules see them.
    pub fn readiness(
        &self,
        project: &project::Model,
    ) -> ServiceResult<(rules::Readiness, Vec<DefectRow>)> {
        let core: Vec<Uuid> = self
            .scenarios
            .iter()
            .filter(|s| s.is_core)
            .map(|s| s.id)
            .collect();
        let defects = defect_rows_from(project, &self.defects)?;
        let latest = match self.cycles.last() {
            Some(cycle) => Some((
                cycle_status(cycle)?,
                execution_rows_from(&self.scenarios, &self.latest_executions)?,
            )),
            None => None,
        };
        let readiness = rules::readiness(
            &core,
            latest
                .as_ref()
                .map(|(status, rows)| (*status, rows.as_slice())),
            &defects,
        );
        Ok((readiness, defects))
    }
}

/// DOMAIN §6.2 readiness of a project's UAT, computed from live data.
pub async fn readiness(
    state: &AppState,
    project: &project::Model,
) -> ServiceResult<rules::Readiness> {
    let data = UatData::read_many(&state.db, &[project.id])
        .await?
        .remove(&project.id)
        .unwrap_or_default();
    Ok(data.readiness(project)?.0)
}
