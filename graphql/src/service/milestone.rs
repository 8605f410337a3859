//! Milestones: dates against the baseline, the finish-to-start network, health.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use steerco_entity::{milestone, milestone_dependency, phase, project};
use uuid::Uuid;

use super::access;
use super::audit::{AuditEntry, Origin, append_all_in_txn, append_in_txn};
use super::member::{check_owner, ensure_open};
use super::phase::ensure_gate_open;
use super::project::{is_baselined, today_in};
use super::whole_row;
use super::{
    AppState, Caller, ServiceError, ServiceResult, begin_write, commit, commit_with_events,
    update_in_batches,
};
use crate::domain::authz::{ProjectOperation, permits};
use crate::domain::event::DomainEvent;
use crate::domain::schedule::{
    self as rules, Dependency, ForecastShift, Health, HealthThresholds, MilestoneAction,
    MilestoneDates, MilestoneStatus,
};
use crate::domain::text::single_line;
use crate::domain::{Refusal, Refusals};

/// A milestone change, every milestone it moved, and the events it emitted.
#[derive(Debug, Clone)]
pub struct MilestoneChange {
    pub milestone: milestone::Model,
    pub moved: Vec<Moved>,
    pub events: Vec<DomainEvent>,
}

/// A milestone whose forecast moved, with its dates before and after.
#[derive(Debug, Clone)]
pub struct Moved {
    pub milestone: milestone::Model,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

pub fn dates_of(m: &milestone::Model) -> ServiceResult<MilestoneDates> {
    Ok(MilestoneDates {
        id: m.id,
        baseline: m.baseline_date,
        forecast: m.forecast_date,
        actual: m.actual_date,
        status: status_of(m)?,
    })
}

pub fn status_of(m: &milestone::Model) -> ServiceResult<MilestoneStatus> {
    m.status
        .parse()
        .map_err(|e| ServiceError::Internal(format!("stored milestone status: {e:?}")))
}

/// The project's health thresholds as stored.
pub fn thresholds_of(project: &project::Model) -> HealthThresholds {
    HealthThresholds::new(
        i64::from(project.amber_slip_days),
        i64::from(project.red_slip_days),
    )
    .unwrap_or_default()
}

/// A project's today (in its time zone) and health thresholds: what its milestones' health
/// is judged by.
pub type Calendar = (NaiveDate, HealthThresholds);

/// The project's [`Calendar`] at `now`.
pub fn calendar_of(project: &project::Model, now: DateTime<Utc>) -> Calendar {
    (today_in(project, now), thresholds_of(project))
}

/// The health of a milestone today, where the project is.
pub fn health_of(
    m: &milestone::Model,
    project: &project::Model,
    now: DateTime<Utc>,
) -> ServiceResult<Health> {
    let (today, thresholds) = calendar_of(project, now);
    Ok(rules::health(&dates_of(m)?, today, thresholds))
}

fn snapshot(m: &milestone::Model) -> serde_json::Value {
    json!({
        "phaseId": m.phase_id,
        "name": m.name,
        "ownerId": m.owner_id,
        "baselineDate": m.baseline_date,
        "forecastDate": m.forecast_date,
        "actualDate": m.actual_date,
        "status": m.status,
        "key": m.is_key,
        "version": m.version,
    })
}

fn entry<'a>(
    m: &milestone::Model,
    action: &'a str,
    before: Option<&milestone::Model>,
) -> AuditEntry<'a> {
    AuditEntry {
        project_id: Some(m.project_id),
        entity_type: "Milestone",
        entity_id: m.id,
        action,
        before: before.map(snapshot),
        after: Some(snapshot(m)),
    }
}

/// The audit entry of a milestone whose forecast moved without an edit of its own (pushed by
/// a link from a moved predecessor, or moved by an approved change request): the row before
/// and after, forecasts included.
pub(crate) fn pushed_entry<'a>(
    before: &milestone::Model,
    after: &milestone::Model,
) -> AuditEntry<'a> {
    entry(after, "milestone.pushed", Some(before))
}

/// Saves a milestone, refreshing its health and reporting a change of health once.
async fn save(
    conn: &impl ConnectionTrait,
    project: &project::Model,
    now: DateTime<Utc>,
    next: &mut milestone::Model,
    events: &mut Vec<DomainEvent>,
) -> ServiceResult<()> {
    note_health(project, now, next, events)?;
    whole_row::update(conn, next.clone()).await?;
    Ok(())
}

/// Records in `next` the health it has now, with an event when that changed.
fn note_health(
    project: &project::Model,
    now: DateTime<Utc>,
    next: &mut milestone::Model,
    events: &mut Vec<DomainEvent>,
) -> ServiceResult<()> {
    let health = health_of(next, project, now)?;
    let previous: Health = next.last_health.parse().unwrap_or(Health::Green);
    if health != previous {
        events.push(DomainEvent::MilestoneHealthChanged {
            milestone_id: next.id,
            from: previous,
            to: health,
        });
        next.last_health = health.as_str().to_owned();
    }
    Ok(())
}

pub async fn milestones_of(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
) -> ServiceResult<Vec<milestone::Model>> {
    Ok(milestone::Entity::find()
        .filter(milestone::Column::ProjectId.eq(project_id))
        .order_by_asc(milestone::Column::ForecastDate)
        .order_by_asc(milestone::Column::Id)
        .all(conn)
        .await?)
}

pub async fn links_of(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
) -> ServiceResult<Vec<milestone_dependency::Model>> {
    Ok(milestone_dependency::Entity::find()
        .filter(milestone_dependency::Column::ProjectId.eq(project_id))
        .order_by_asc(milestone_dependency::Column::Id)
        .all(conn)
        .await?)
}

/// The links between the project's milestones, as the schedule's rules take them.
pub(crate) async fn dependencies_of(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
) -> ServiceResult<Vec<Dependency>> {
    Ok(links_of(conn, project_id)
        .await?
        .iter()
        .map(as_dependency)
        .collect())
}

fn as_dependency(link: &milestone_dependency::Model) -> Dependency {
    Dependency {
        predecessor: link.predecessor_id,
        successor: link.successor_id,
        lag_days: link.lag_days,
    }
}

/// Loads a milestone and its project for a command; `operation` is checked on the project.
async fn milestone_for(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    milestone_id: Uuid,
    field: &[&str],
    operation: ProjectOperation,
) -> ServiceResult<(milestone::Model, project::Model)> {
    let (found, project, _) = access::row_for::<milestone::Entity>(
        conn,
        &caller.actor,
        (milestone_id, "milestone"),
        field,
        operation,
    )
    .await?;
    ensure_open(&project, field)?;
    Ok((found, project))
}

/// Input for a new milestone.
#[derive(Debug, Clone, Default)]
pub struct NewMilestone {
    pub phase_id: Uuid,
    pub name: String,
    pub owner_id: Option<Uuid>,
    pub forecast_date: Option<NaiveDate>,
    /// Only before the first baseline; later, baselines set it.
    pub baseline_date: Option<NaiveDate>,
    /// Whether its achievement is announced to the whole team.
    pub key: bool,
}

/// Adds a milestone to a phase. Its forecast defaults to its planned (baseline) date.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    input: NewMilestone,
) -> ServiceResult<MilestoneChange> {
    let mut refusals = Refusals::default();
    let name = refusals.field(&["name"], single_line(&input.name, 200));
    let forecast = input.forecast_date.or(input.baseline_date);
    if forecast.is_none() {
        refusals.push(Refusal::bad_input(
            &["forecastDate"],
            "give a forecast date (or a planned baseline date)",
        ));
    }
    refusals.finish()?;
    let (Some(name), Some(forecast)) = (name, forecast) else {
        return Err(ServiceError::Internal("checked above".into()));
    };

    let txn = begin_write(&state.writer).await?;
    // The phase is read once the project is locked, so that its gate is judged as it stands:
    // a gate request that committed while this command queued keeps the milestone out.
    let (phase, project, _) = access::row_for::<phase::Entity>(
        &txn,
        &caller.actor,
        (input.phase_id, "phase"),
        &["phaseId"],
        ProjectOperation::ManagePlan,
    )
    .await?;
    ensure_open(&project, &["phaseId"])?;
    ensure_gate_open(&phase, &["phaseId"])?;
    if input.baseline_date.is_some() && is_baselined(&txn, project.id).await? {
        return Err(baselined_refusal().into());
    }
    check_owner(&txn, project.id, input.owner_id, &["ownerId"]).await?;
    let now = state.clock.now();
    let mut created = milestone::Model {
        id: Uuid::now_v7(),
        project_id: project.id,
        phase_id: phase.id,
        name,
        owner_id: input.owner_id,
        baseline_date: input.baseline_date,
        forecast_date: forecast,
        actual_date: None,
        status: MilestoneStatus::Planned.as_str().to_owned(),
        last_health: Health::Green.as_str().to_owned(),
        created_at: now,
        updated_at: now,
        version: 1,
        is_key: input.key,
    };
    created.last_health = health_of(&created, &project, now)?.as_str().to_owned();
    whole_row::insert(&txn, created.clone()).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        entry(&created, "milestone.created", None),
    )
    .await?;
    commit(txn).await?;
    Ok(MilestoneChange {
        milestone: created,
        moved: Vec::new(),
        events: Vec::new(),
    })
}

fn baselined_refusal() -> Refusal {
    Refusal::precondition(
        &["baselineDate"],
        "the schedule is baselined: baseline dates change only through a new baseline version",
    )
}

/// Edits to a milestone; absent fields are kept.
#[derive(Debug, Clone, Default)]
pub struct MilestoneChanges {
    pub name: Option<String>,
    pub owner_id: Option<Option<Uuid>>,
    pub phase_id: Option<Uuid>,
    pub forecast_date: Option<NaiveDate>,
    pub baseline_date: Option<Option<NaiveDate>>,
    pub key: Option<bool>,
}

/// Edits a milestone. A new forecast pushes the dependants that would otherwise start early;
/// the result lists every milestone that moved.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    milestone_id: Uuid,
    expected_version: i64,
    changes: MilestoneChanges,
) -> ServiceResult<MilestoneChange> {
    let mut refusals = Refusals::default();
    let name = changes
        .name
        .as_deref()
        .map(|raw| refusals.field(&["name"], single_line(raw, 200)));
    refusals.finish()?;
    let txn = begin_write(&state.writer).await?;
    let (current, project) = milestone_for(
        &txn,
        caller,
        milestone_id,
        &["id"],
        ProjectOperation::ManagePlan,
    )
    .await?;
    if current.version != expected_version {
        return Err(Refusal::stale_version(current.version).into());
    }
    if changes
        .baseline_date
        .is_some_and(|d| d != current.baseline_date)
        && is_baselined(&txn, project.id).await?
    {
        return Err(baselined_refusal().into());
    }
    let mut next = current.clone();
    if let Some(Some(name)) = name {
        next.name = name;
    }
    if let Some(owner) = changes.owner_id {
        check_owner(&txn, project.id, owner, &["ownerId"]).await?;
        next.owner_id = owner;
    }
    if let Some(key) = changes.key {
        next.is_key = key;
    }
    if let Some(phase_id) = changes.phase_id.filter(|id| *id != current.phase_id) {
        let target = phase::Entity::find_by_id(phase_id)
            .one(&txn)
            .await?
            .filter(|p| p.project_id == project.id)
            .ok_or_else(|| Refusal::not_found(&["phaseId"], "phase"))?;
        let left = phase::Entity::find_by_id(current.phase_id)
            .one(&txn)
            .await?
            .ok_or_else(|| ServiceError::Internal("a milestone without its phase".into()))?;
        // Neither the phase it leaves nor the one it joins may have its gate under way.
        ensure_gate_open(&left, &["phaseId"])?;
        ensure_gate_open(&target, &["phaseId"])?;
        next.phase_id = phase_id;
    }
    if let Some(baseline) = changes.baseline_date {
        next.baseline_date = baseline;
    }
    let now = state.clock.now();
    let origin = Origin::from(caller);
    let mut events = Vec::new();
    let mut moved = Vec::new();
    if let Some(forecast) = changes
        .forecast_date
        .filter(|d| *d != current.forecast_date)
    {
        if status_of(&current)? == MilestoneStatus::Achieved {
            return Err(Refusal::precondition(
                &["forecastDate"],
                "an achieved milestone keeps its dates",
            )
            .into());
        }
        let all = milestones_of(&txn, project.id).await?;
        let links = dependencies_of(&txn, project.id).await?;
        let dates = all
            .iter()
            .map(dates_of)
            .collect::<ServiceResult<Vec<_>>>()?;
        if let Some((earliest, predecessor)) = rules::earliest_forecast(&dates, &links, current.id)
            && forecast < earliest
        {
            let name = all
                .iter()
                .find(|m| m.id == predecessor)
                .map_or("a predecessor", |m| m.name.as_str());
            return Err(Refusal::precondition(
                &["forecastDate"],
                format!("the forecast may not be before {earliest}, set by its link from {name}"),
            )
            .into());
        }
        let shifts = rules::propagate(&dates, &links, current.id, forecast);
        next.forecast_date = forecast;
        moved = apply_shifts(
            &txn,
            origin,
            now,
            &project,
            &all,
            &shifts,
            current.id,
            &mut events,
        )
        .await?;
    }
    next.updated_at = now;
    next.version += 1;
    save(&txn, &project, now, &mut next, &mut events).await?;
    append_in_txn(
        &txn,
        origin,
        now,
        entry(&next, "milestone.updated", Some(&current)),
    )
    .await?;
    if current.forecast_date != next.forecast_date {
        moved.insert(
            0,
            Moved {
                milestone: next.clone(),
                from: current.forecast_date,
                to: next.forecast_date,
            },
        );
    }
    commit_with_events(state, txn, origin, &project, &events).await?;
    Ok(MilestoneChange {
        milestone: next,
        moved,
        events,
    })
}

/// What a shift changes of a milestone.
const SHIFTED: [milestone::Column; 4] = [
    milestone::Column::ForecastDate,
    milestone::Column::LastHealth,
    milestone::Column::UpdatedAt,
    milestone::Column::Version,
];

/// Writes the forecasts that propagation moved (all but `except`, which the caller saves):
/// the moved rows in one statement and their audit events in one append, however many moved.
#[allow(clippy::too_many_arguments)]
async fn apply_shifts(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    project: &project::Model,
    all: &[milestone::Model],
    shifts: &[ForecastShift],
    except: Uuid,
    events: &mut Vec<DomainEvent>,
) -> ServiceResult<Vec<Moved>> {
    let by_id: HashMap<Uuid, &milestone::Model> = all.iter().map(|m| (m.id, m)).collect();
    let mut moved = Vec::new();
    let mut pushed = Vec::new();
    for shift in shifts.iter().filter(|s| s.id != except) {
        let Some(before) = by_id.get(&shift.id) else {
            continue;
        };
        let mut next = milestone::Model {
            forecast_date: shift.to,
            updated_at: now,
            version: before.version + 1,
            ..(*before).clone()
        };
        note_health(project, now, &mut next, events)?;
        pushed.push(pushed_entry(before, &next));
        moved.push(Moved {
            milestone: next,
            from: shift.from,
            to: shift.to,
        });
    }
    let rows = moved.iter().map(|m| m.milestone.clone()).collect();
    update_in_batches(txn, rows, SHIFTED).await?;
    append_all_in_txn(txn, origin, now, &pushed).await?;
    Ok(moved)
}

/// Moves a milestone through its lifecycle: the PM or the milestone's owner. Achieving records
/// the actual date (today where the project is, unless given; never in the future).
pub async fn transition(
    state: &AppState,
    caller: &Caller,
    milestone_id: Uuid,
    action: MilestoneAction,
    actual_date: Option<NaiveDate>,
) -> ServiceResult<MilestoneChange> {
    let txn = begin_write(&state.writer).await?;
    let (current, project) =
        milestone_for(&txn, caller, milestone_id, &["id"], ProjectOperation::Read).await?;
    let subject = access::subject_on(&txn, &caller.actor, project.id).await?;
    if !(permits(&subject, ProjectOperation::ManagePlan)
        || current.owner_id == Some(caller.actor.user_id))
    {
        return Err(ServiceError::Forbidden);
    }
    let from = status_of(&current)?;
    let Some(to) = rules::milestone_target(from, action) else {
        let allowed = rules::milestone_allowed_actions(from)
            .into_iter()
            .map(|a| a.as_str().to_owned());
        return Err(Refusal::invalid_transition(
            &["action"],
            from.as_str(),
            action.as_str(),
            allowed,
        )
        .into());
    };
    let now = state.clock.now();
    let today = today_in(&project, now);
    let mut next = current.clone();
    if action == MilestoneAction::Achieve {
        let actual = actual_date.unwrap_or(today);
        if actual > today {
            return Err(Refusal::bad_input(
                &["actualDate"],
                "an actual date cannot be in the future",
            )
            .into());
        }
        next.actual_date = Some(actual);
    } else if actual_date.is_some() {
        return Err(
            Refusal::bad_input(&["actualDate"], "an actual date goes with ACHIEVE only").into(),
        );
    }
    next.status = to.as_str().to_owned();
    next.updated_at = now;
    next.version += 1;
    let origin = Origin::from(caller);
    let mut events = match to {
        MilestoneStatus::Achieved => vec![DomainEvent::MilestoneAchieved {
            milestone_id: next.id,
            key: next.is_key,
        }],
        MilestoneStatus::Missed => vec![DomainEvent::MilestoneMissed {
            milestone_id: next.id,
        }],
        MilestoneStatus::Planned | MilestoneStatus::InProgress => Vec::new(),
    };
    save(&txn, &project, now, &mut next, &mut events).await?;
    append_in_txn(
        &txn,
        origin,
        now,
        entry(
            &next,
            &format!("milestone.{}", action.as_str().to_ascii_lowercase()),
            Some(&current),
        ),
    )
    .await?;
    // An achievement earlier or later than forecast moves what waits on it.
    let mut moved = Vec::new();
    if to == MilestoneStatus::Achieved {
        let all = milestones_of(&txn, project.id).await?;
        let links = dependencies_of(&txn, project.id).await?;
        let shifts = rules::propagate(
            &all.iter()
                .map(dates_of)
                .collect::<ServiceResult<Vec<_>>>()?,
            &links,
            next.id,
            next.forecast_date,
        );
        moved = apply_shifts(
            &txn,
            origin,
            now,
            &project,
            &all,
            &shifts,
            next.id,
            &mut events,
        )
        .await?;
    }
    commit_with_events(state, txn, origin, &project, &events).await?;
    Ok(MilestoneChange {
        milestone: next,
        moved,
        events,
    })
}

/// A new finish-to-start link, refused when it would close a cycle; the successor (and what
/// follows it) is pushed if it would otherwise start early.
pub async fn link(
    state: &AppState,
    caller: &Caller,
    predecessor_id: Uuid,
    successor_id: Uuid,
    lag_days: i32,
) -> ServiceResult<(milestone_dependency::Model, Vec<Moved>)> {
    let lag_days =
        rules::check_lag(lag_days).map_err(|e| Refusal::bad_input(&["lagDays"], e.to_string()))?;
    let txn = begin_write(&state.writer).await?;
    let (predecessor, project) = milestone_for(
        &txn,
        caller,
        predecessor_id,
        &["predecessorId"],
        ProjectOperation::ManagePlan,
    )
    .await?;
    let successor = milestone::Entity::find_by_id(successor_id)
        .one(&txn)
        .await?
        .filter(|m| m.project_id == project.id)
        .ok_or_else(|| Refusal::not_found(&["successorId"], "milestone in the same project"))?;
    let links = links_of(&txn, project.id).await?;
    if links
        .iter()
        .any(|l| l.predecessor_id == predecessor.id && l.successor_id == successor.id)
    {
        return Err(
            Refusal::conflict(&["successorId"], "these milestones are already linked").into(),
        );
    }
    let new_link = Dependency {
        predecessor: predecessor.id,
        successor: successor.id,
        lag_days,
    };
    let all = milestones_of(&txn, project.id).await?;
    if let Some(cycle) = rules::find_cycle(
        &links.iter().map(as_dependency).collect::<Vec<_>>(),
        new_link,
    ) {
        let names: HashMap<Uuid, &str> = all.iter().map(|m| (m.id, m.name.as_str())).collect();
        let path = cycle
            .iter()
            .map(|id| names.get(id).copied().unwrap_or("?"))
            .collect::<Vec<_>>()
            .join(" → ");
        return Err(Refusal::bad_input(
            &["successorId"],
            format!("this link would close a cycle: {path}"),
        )
        .into());
    }
    let row = milestone_dependency::Model {
        id: Uuid::now_v7(),
        project_id: project.id,
        predecessor_id: predecessor.id,
        successor_id: successor.id,
        lag_days,
    };
    whole_row::insert(&txn, row.clone())
        .await
        .map_err(super::unique_violation_as(
            &["successorId"],
            "these milestones are already linked",
        ))?;
    let now = state.clock.now();
    let origin = Origin::from(caller);
    append_in_txn(
        &txn,
        origin,
        now,
        AuditEntry {
            project_id: Some(project.id),
            entity_type: "MilestoneDependency",
            entity_id: row.id,
            action: "milestone.linked",
            before: None,
            after: Some(json!({ "predecessorId": row.predecessor_id, "successorId": row.successor_id, "lagDays": row.lag_days })),
        },
    )
    .await?;
    let mut all_links: Vec<Dependency> = links.iter().map(as_dependency).collect();
    all_links.push(new_link);
    let shifts = rules::propagate(
        &all.iter()
            .map(dates_of)
            .collect::<ServiceResult<Vec<_>>>()?,
        &all_links,
        predecessor.id,
        predecessor.forecast_date,
    );
    let mut events = Vec::new();
    let moved = apply_shifts(
        &txn,
        origin,
        now,
        &project,
        &all,
        &shifts,
        predecessor.id,
        &mut events,
    )
    .await?;
    commit_with_events(state, txn, origin, &project, &events).await?;
    Ok((row, moved))
}

/// Removes a link.
pub async fn unlink(
    state: &AppState,
    caller: &Caller,
    link_id: Uuid,
) -> ServiceResult<milestone_dependency::Model> {
    let txn = begin_write(&state.writer).await?;
    let (link, project, _) = access::row_for::<milestone_dependency::Entity>(
        &txn,
        &caller.actor,
        (link_id, "milestone dependency"),
        &["id"],
        ProjectOperation::ManagePlan,
    )
    .await?;
    ensure_open(&project, &["id"])?;
    milestone_dependency::Entity::delete_by_id(link.id)
        .exec(&txn)
        .await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        state.clock.now(),
        AuditEntry {
            project_id: Some(project.id),
            entity_type: "MilestoneDependency",
            entity_id: link.id,
            action: "milestone.unlinked",
            before: Some(json!({ "predecessorId": link.predecessor_id, "successorId": link.successor_id, "lagDays": link.lag_days })),
            after: None,
        },
    )
    .await?;
    commit(txn).await?;
    Ok(link)
}

// ---- reads -----------------------------------------------------------------------------

/// Filters for a project's milestones.
#[derive(Debug, Clone, Default)]
pub struct MilestoneFilter {
    pub statuses: Vec<MilestoneStatus>,
    pub health: Vec<Health>,
    pub owner_id: Option<Uuid>,
    /// Forecast on or before this date.
    pub due_before: Option<NaiveDate>,
    pub overdue: Option<bool>,
}

/// Those of `milestones`, a project's, that match `filter` at `now`, by forecast date (ties by
/// id).
pub fn filtered<'a>(
    project: &project::Model,
    milestones: impl IntoIterator<Item = &'a milestone::Model>,
    filter: &MilestoneFilter,
    now: DateTime<Utc>,
) -> ServiceResult<Vec<&'a milestone::Model>> {
    let (today, thresholds) = calendar_of(project, now);
    let mut matching = Vec::new();
    for m in milestones {
        let dates = dates_of(m)?;
        let keep = (filter.statuses.is_empty() || filter.statuses.contains(&dates.status))
            && (filter.health.is_empty()
                || filter
                    .health
                    .contains(&rules::health(&dates, today, thresholds)))
            && filter
                .owner_id
                .is_none_or(|owner| m.owner_id == Some(owner))
            && filter
                .due_before
                .is_none_or(|before| m.forecast_date <= before)
            && filter
                .overdue
                .is_none_or(|overdue| rules::is_overdue(&dates, today) == overdue);
        if keep {
            matching.push(m);
        }
    }
    matching.sort_by_key(|m| (m.forecast_date, m.id));
    Ok(matching)
}

/// The schedule at a glance.
#[derive(Debug, Clone, Default)]
pub struct ScheduleHealth {
    pub green: u32,
    pub amber: u32,
    pub red: u32,
    pub overdue: u32,
    /// Sum of positive slips of open milestones, in days.
    pub total_slip_days: i64,
    pub next_milestone: Option<milestone::Model>,
}

/// The health of a project's schedule from its milestones (as loaded in batches by the
/// caller), today in the project's time zone.
pub fn schedule_health<'a>(
    project: &project::Model,
    milestones: impl IntoIterator<Item = &'a milestone::Model>,
    now: DateTime<Utc>,
) -> ServiceResult<ScheduleHealth> {
    let (today, thresholds) = calendar_of(project, now);
    let mut summary = ScheduleHealth::default();
    for m in milestones {
        let dates = dates_of(m)?;
        match rules::health(&dates, today, thresholds) {
            Health::Green => summary.green += 1,
            Health::Amber => summary.amber += 1,
            Health::Red => summary.red += 1,
        }
        let open = !matches!(dates.status, MilestoneStatus::Achieved);
        if rules::is_overdue(&dates, today) {
            summary.overdue += 1;
        }
        if open {
            summary.total_slip_days += rules::slip_days(&dates).max(0);
            // The earliest forecast, the first id among equals, in whatever order they come.
            let sooner = summary
                .next_milestone
                .as_ref()
                .is_none_or(|n| (m.forecast_date, m.id) < (n.forecast_date, n.id));
            if sooner && dates.status != MilestoneStatus::Missed {
                summary.next_milestone = Some(m.clone());
            }
        }
    }
    Ok(summary)
}
