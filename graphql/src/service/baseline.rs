//! Schedule baselines: numbered, immutable snapshots of the milestones' baseline dates. The
//! first is taken by the PM; every later one needs a committee decision (or, later, an
//! approved change request), and records what caused it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use steerco_entity::{decision, milestone, project, schedule_baseline, schedule_baseline_entry};
use uuid::Uuid;

use super::access;
use super::audit::{AuditEntry, Origin, append_in_txn};
use super::member::ensure_open;
use super::numbering::insert_numbered;
use super::{AppState, Caller, ServiceError, ServiceResult, begin_write, commit_with_events};
use crate::domain::Refusal;
use crate::domain::authz::ProjectOperation;
use crate::domain::decision::{DecisionChoice, DecisionSubject};
use crate::domain::event::DomainEvent;
use crate::domain::schedule::{Variance, compare_baselines};

/// What caused a baseline version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaselineCause {
    Initial,
    CommitteeDecision(Uuid),
    ChangeRequest(Uuid),
}

impl BaselineCause {
    fn kind(self) -> &'static str {
        match self {
            Self::Initial => "INITIAL",
            Self::CommitteeDecision(_) => "COMMITTEE_DECISION",
            Self::ChangeRequest(_) => "CHANGE_REQUEST",
        }
    }

    fn id(self) -> Option<Uuid> {
        match self {
            Self::Initial => None,
            Self::CommitteeDecision(id) | Self::ChangeRequest(id) => Some(id),
        }
    }
}

/// A baseline taken at once, or the committee ballot that will decide on it.
#[derive(Debug, Clone)]
pub struct BaselineRequest {
    pub baseline: Option<schedule_baseline::Model>,
    pub decision: Option<decision::Model>,
    pub events: Vec<DomainEvent>,
}

/// Takes the first baseline, or asks the committee for a re-baseline on current forecasts.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    reason: &str,
) -> ServiceResult<BaselineRequest> {
    let reason = super::decision::parse_note(Some(reason), true)?;
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
    let milestones = super::milestone::milestones_of(&txn, project.id).await?;
    if milestones.is_empty() {
        return Err(
            Refusal::precondition(&["projectId"], "there are no milestones to baseline").into(),
        );
    }
    let now = state.clock.now();
    let origin = Origin::from(caller);
    let request = if super::project::is_baselined(&txn, project.id).await? {
        let ballot = super::decision::open_in_txn(
            &txn,
            origin,
            now,
            &project,
            DecisionSubject::ScheduleRebaseline,
            project.id,
            &reason,
        )
        .await?;
        BaselineRequest {
            baseline: None,
            events: vec![DomainEvent::DecisionOpened {
                decision_id: ballot.id,
                subject: DecisionSubject::ScheduleRebaseline,
            }],
            decision: Some(ballot),
        }
    } else {
        let dates = milestones
            .iter()
            .map(|m| (m.id, m.baseline_date.unwrap_or(m.forecast_date)))
            .collect();
        let (baseline, events) = create_version_in_txn(
            &txn,
            origin,
            now,
            &project,
            &reason,
            BaselineCause::Initial,
            &dates,
        )
        .await?;
        BaselineRequest {
            baseline: Some(baseline),
            decision: None,
            events,
        }
    };
    commit_with_events(state, txn, origin, &project, &request.events).await?;
    Ok(request)
}

/// Writes baseline version N+1 with `dates` (milestone → baseline date) and sets each
/// milestone's baseline date; milestones not in `dates` keep theirs in the snapshot.
pub(crate) async fn create_version_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    project: &project::Model,
    reason: &str,
    cause: BaselineCause,
    dates: &BTreeMap<Uuid, NaiveDate>,
) -> ServiceResult<(schedule_baseline::Model, Vec<DomainEvent>)> {
    let baseline = schedule_baseline::Model {
        id: Uuid::now_v7(),
        project_id: project.id,
        number: 0, // the insert numbers it
        reason: reason.to_owned(),
        cause_kind: cause.kind().to_owned(),
        cause_id: cause.id(),
        created_by: origin.actor_id,
        created_at: now,
    };
    let baseline = insert_numbered(
        txn,
        baseline,
        schedule_baseline::Column::ProjectId,
        schedule_baseline::Column::Number,
    )
    .await?;
    let mut events = Vec::new();
    let mut entries = Vec::new();
    let mut rebased = Vec::new();
    for m in super::milestone::milestones_of(txn, project.id).await? {
        let date = dates
            .get(&m.id)
            .copied()
            .or(m.baseline_date)
            .unwrap_or(m.forecast_date);
        let row = schedule_baseline_entry::Model {
            id: Uuid::now_v7(),
            baseline_id: baseline.id,
            milestone_id: m.id,
            milestone_name: m.name.clone(),
            baseline_date: date,
        };
        entries.push(schedule_baseline_entry::ActiveModel::from(row));
        if m.baseline_date != Some(date) {
            let mut next = milestone::Model {
                baseline_date: Some(date),
                updated_at: now,
                version: m.version + 1,
                ..m.clone()
            };
            let health = super::milestone::health_of(&next, project, now)?;
            let previous = next.last_health.parse().unwrap_or(health);
            if health != previous {
                events.push(DomainEvent::MilestoneHealthChanged {
                    milestone_id: m.id,
                    from: previous,
                    to: health,
                });
                next.last_health = health.as_str().to_owned();
            }
            rebased.push(next);
        }
    }
    let baseline_dates = [
        milestone::Column::BaselineDate,
        milestone::Column::LastHealth,
        milestone::Column::UpdatedAt,
        milestone::Column::Version,
    ];
    super::update_in_batches(txn, rebased, baseline_dates).await?;
    super::insert_in_batches(txn, entries, None).await?;
    append_in_txn(
        txn,
        origin,
        now,
        AuditEntry {
            project_id: Some(project.id),
            entity_type: "ScheduleBaseline",
            entity_id: baseline.id,
            action: "schedule.baselined",
            before: None,
            after: Some(json!({
                "number": baseline.number,
                "reason": baseline.reason,
                "causeKind": baseline.cause_kind,
                "causeId": baseline.cause_id,
                "dates": dates,
            })),
        },
    )
    .await?;
    events.push(DomainEvent::ScheduleBaselined {
        baseline_id: baseline.id,
        number: baseline.number,
    });
    Ok((baseline, events))
}

/// Applies a closed re-baseline ballot: APPROVE takes the current forecasts as the new
/// baseline; anything else changes nothing.
pub(crate) async fn apply_rebaseline_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    decision: &decision::Model,
    outcome: Option<DecisionChoice>,
) -> ServiceResult<Vec<DomainEvent>> {
    if outcome != Some(DecisionChoice::Approve) {
        return Ok(Vec::new());
    }
    let project = project::Entity::find_by_id(decision.project_id)
        .one(txn)
        .await?
        .ok_or_else(|| ServiceError::Internal("decision without project".into()))?;
    let dates = super::milestone::milestones_of(txn, project.id)
        .await?
        .into_iter()
        .map(|m| (m.id, m.forecast_date))
        .collect();
    let cause = BaselineCause::CommitteeDecision(decision.id);
    let (_, events) =
        create_version_in_txn(txn, origin, now, &project, &decision.note, cause, &dates).await?;
    Ok(events)
}

pub async fn of_project(
    state: &AppState,
    project_id: Uuid,
) -> ServiceResult<Vec<schedule_baseline::Model>> {
    Ok(schedule_baseline::Entity::find()
        .filter(schedule_baseline::Column::ProjectId.eq(project_id))
        .order_by_asc(schedule_baseline::Column::Number)
        .all(&state.db)
        .await?)
}

pub async fn entries_of(
    state: &AppState,
    baseline_id: Uuid,
) -> ServiceResult<Vec<schedule_baseline_entry::Model>> {
    Ok(schedule_baseline_entry::Entity::find()
        .filter(schedule_baseline_entry::Column::BaselineId.eq(baseline_id))
        .order_by_asc(schedule_baseline_entry::Column::BaselineDate)
        .all(&state.db)
        .await?)
}

/// A baseline, if the viewer may see its project.
pub async fn visible(
    state: &AppState,
    viewer: &super::Actor,
    id: Uuid,
) -> ServiceResult<Option<schedule_baseline::Model>> {
    let Some(found) = schedule_baseline::Entity::find_by_id(id)
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    Ok(access::visible_project(&state.db, viewer, found.project_id)
        .await?
        .map(|_| found))
}

/// One row of a baseline comparison, with the milestone's name.
#[derive(Debug, Clone)]
pub struct NamedVariance {
    pub variance: Variance,
    pub name: String,
}

/// The variance per milestone between two baseline versions of one project.
pub async fn compare(
    state: &AppState,
    viewer: &super::Actor,
    from: Uuid,
    to: Uuid,
) -> ServiceResult<Vec<NamedVariance>> {
    let from_baseline = visible(state, viewer, from)
        .await?
        .ok_or_else(|| Refusal::not_found(&["fromId"], "baseline"))?;
    let to_baseline = visible(state, viewer, to)
        .await?
        .ok_or_else(|| Refusal::not_found(&["toId"], "baseline"))?;
    if from_baseline.project_id != to_baseline.project_id {
        return Err(Refusal::bad_input(
            &["toId"],
            "both baselines must belong to the same project",
        )
        .into());
    }
    let from_entries = entries_of(state, from).await?;
    let to_entries = entries_of(state, to).await?;
    let mut names: BTreeMap<Uuid, String> = BTreeMap::new();
    for entry in from_entries.iter().chain(&to_entries) {
        names.insert(entry.milestone_id, entry.milestone_name.clone());
    }
    let dates = |entries: &[schedule_baseline_entry::Model]| -> BTreeMap<Uuid, NaiveDate> {
        entries
            .iter()
            .map(|e| (e.milestone_id, e.baseline_date))
            .collect()
    };
    Ok(
        compare_baselines(&dates(&from_entries), &dates(&to_entries))
            .into_iter()
            .map(|variance| NamedVariance {
                name: names.get(&variance.id).cloned().unwrap_or_default(),
                variance,
            })
            .collect(),
    )
}
