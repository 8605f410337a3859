//! Change requests: raising, assessing, deciding (by the committee above the red line, by the
//! PM below it) and applying an approved change to the schedule, scope and cost baselines in
//! the same transaction as the decision.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use serde_json::json;
use steerco_entity::{
    change_request, change_request_comment, cost_baseline, decision, decision_vote, milestone,
    phase, project, schedule_baseline, schedule_baseline_entry, scope_version, vote_delegation,
};
use uuid::Uuid;

use super::access;
use super::audit::{AuditEntry, Origin, append_all_in_txn, append_in_txn};
use super::member::ensure_open;
use super::numbering::insert_numbered;
use super::rows;
use super::whole_row;
use super::{
    AppState, Caller, ServiceError, ServiceResult, backend_of, begin_write, commit,
    commit_with_events, for_update,
};
use crate::domain::authz::{ProjectOperation, permits};
use crate::domain::change_request::{
    self as rules, CrAction, CrCategory, CrParty, CrPriority, CrStatus, Delegation, Impact,
    RedLine, RiskLevel,
};
use crate::domain::decision::{DecisionChoice, DecisionStatus, DecisionSubject};
use crate::domain::event::DomainEvent;
use crate::domain::schedule as schedule_rules;
use crate::domain::scope::{InScopeChange, InScopeConflict, ScopeItem, ScopeStatus};
use crate::domain::text::{multi_line, required_multi_line, single_line};
use crate::domain::{Refusal, RefusalCode, Refusals};

/// What a change request points at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Links {
    #[serde(default)]
    pub scope_item_ids: Vec<Uuid>,
    #[serde(default)]
    pub milestone_ids: Vec<Uuid>,
    pub phase_id: Option<Uuid>,
}

/// The editable fields of a change request, as typed.
#[derive(Debug, Clone, Default)]
pub struct CrFields {
    pub title: Option<String>,
    pub description: Option<String>,
    pub justification: Option<String>,
    pub category: Option<CrCategory>,
    pub priority: Option<CrPriority>,
    pub links: Option<Links>,
}

/// A change request and the events its change emitted.
#[derive(Debug, Clone)]
pub struct CrChange {
    pub change_request: change_request::Model,
    pub events: Vec<DomainEvent>,
}

pub fn status_of(cr: &change_request::Model) -> ServiceResult<CrStatus> {
    cr.status
        .parse()
        .map_err(|e| ServiceError::Internal(format!("stored change request status: {e:?}")))
}

pub fn impact_of(cr: &change_request::Model) -> ServiceResult<Impact> {
    serde_json::from_str(&cr.impact)
        .map_err(|e| ServiceError::Internal(format!("stored impact: {e}")))
}

pub fn links_of(cr: &change_request::Model) -> ServiceResult<Links> {
    serde_json::from_str(&cr.links)
        .map_err(|e| ServiceError::Internal(format!("stored links: {e}")))
}

fn to_json<T: Serialize>(value: &T) -> ServiceResult<String> {
    serde_json::to_string(value).map_err(|e| ServiceError::Internal(e.to_string()))
}

/// The project's red line as stored.
pub fn red_line_of(project: &project::Model) -> RedLine {
    RedLine {
        schedule_days: project.red_line_schedule_days,
        cost: project
            .red_line_cost
            .parse()
            .unwrap_or(RedLine::default().cost),
        risk: project
            .red_line_risk
            .parse()
            .unwrap_or(RedLine::default().risk),
    }
}

/// `CR-001`.
pub fn code_of(cr: &change_request::Model) -> String {
    format!("CR-{:03}", cr.number)
}

fn snapshot(cr: &change_request::Model) -> serde_json::Value {
    json!({
        "number": cr.number,
        "title": cr.title,
        "description": cr.description,
        "justification": cr.justification,
        "category": cr.category,
        "priority": cr.priority,
        "status": cr.status,
        "links": cr.links,
        "impact": cr.impact,
        "impactEditedBy": cr.impact_edited_by,
        "decidedBy": cr.decided_by,
        "version": cr.version,
    })
}

fn entry<'a>(
    cr: &change_request::Model,
    action: &'a str,
    before: Option<&change_request::Model>,
) -> AuditEntry<'a> {
    AuditEntry {
        project_id: Some(cr.project_id),
        entity_type: "ChangeRequest",
        entity_id: cr.id,
        action,
        before: before.map(snapshot),
        after: Some(snapshot(cr)),
    }
}

async fn save(conn: &impl ConnectionTrait, cr: &change_request::Model) -> ServiceResult<()> {
    whole_row::update(conn, cr.clone()).await?;
    Ok(())
}

/// Which of `ids` are milestones of the project: one statement, none for no ids.
async fn milestones_among(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
    ids: &[Uuid],
) -> ServiceResult<BTreeSet<Uuid>> {
    if ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    Ok(milestone::Entity::find()
        .select_only()
        .column(milestone::Column::Id)
        .filter(milestone::Column::ProjectId.eq(project_id))
        .filter(milestone::Column::Id.is_in(ids.iter().copied()))
        .into_tuple::<Uuid>()
        .all(conn)
        .await?
        .into_iter()
        .collect())
}

/// Checks the links point into the project.
async fn check_links(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
    links: &Links,
) -> ServiceResult<()> {
    let mut refusals = Refusals::default();
    let known = milestones_among(conn, project_id, &links.milestone_ids).await?;
    for (index, id) in links.milestone_ids.iter().enumerate() {
        if !known.contains(id) {
            refusals.push(Refusal::not_found(
                &["links", "milestoneIds", &index.to_string()],
                "milestone",
            ));
        }
    }
    if let Some(phase_id) = links.phase_id {
        let found = phase::Entity::find_by_id(phase_id).one(conn).await?;
        if found.is_none_or(|p| p.project_id != project_id) {
            refusals.push(Refusal::not_found(&["links", "phaseId"], "phase"));
        }
    }
    if !links.scope_item_ids.is_empty() {
        let known: BTreeSet<Uuid> = super::scope::baseline_document(conn, project_id)
            .await?
            .map(|document| {
                document
                    .in_scope
                    .iter()
                    .chain(&document.out_of_scope)
                    .map(|item| item.id)
                    .collect()
            })
            .unwrap_or_default();
        for (index, id) in links.scope_item_ids.iter().enumerate() {
            if !known.contains(id) {
                refusals.push(Refusal::not_found(
                    &["links", "scopeItemIds", &index.to_string()],
                    "item of the scope baseline",
                ));
            }
        }
    }
    refusals.finish().map_err(Into::into)
}

struct Texts {
    title: Option<String>,
    description: Option<String>,
    justification: Option<String>,
}

fn check_texts(fields: &CrFields, creating: bool) -> Result<Texts, Vec<Refusal>> {
    let mut refusals = Refusals::default();
    let title = match (&fields.title, creating) {
        (Some(raw), _) => refusals.field(&["title"], single_line(raw, 200)),
        (None, true) => refusals.field(&["title"], single_line("", 200)),
        (None, false) => None,
    };
    let description = fields
        .description
        .as_deref()
        .and_then(|raw| refusals.field(&["description"], multi_line(raw, 10_000)));
    let justification = match (&fields.justification, creating) {
        (Some(raw), _) => refusals.field(&["justification"], required_multi_line(raw, 10_000)),
        (None, true) => refusals.field(&["justification"], required_multi_line("", 10_000)),
        (None, false) => None,
    };
    refusals.finish()?;
    Ok(Texts {
        title,
        description,
        justification,
    })
}

/// Raises a change request in DRAFT. Any member but a mere VIEWER.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    fields: CrFields,
) -> ServiceResult<CrChange> {
    let texts = check_texts(&fields, true)?;
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
    let links = fields.links.clone().unwrap_or_default();
    check_links(&txn, project_id, &links).await?;
    let now = state.clock.now();
    let cr = change_request::Model {
        id: Uuid::now_v7(),
        project_id,
        number: 0, // the insert numbers it
        title: texts.title.unwrap_or_default(),
        description: texts.description.unwrap_or_default(),
        justification: texts.justification.unwrap_or_default(),
        category: fields
            .category
            .unwrap_or(CrCategory::Scope)
            .as_str()
            .to_owned(),
        priority: fields
            .priority
            .unwrap_or(CrPriority::Should)
            .as_str()
            .to_owned(),
        requester_id: caller.actor.user_id,
        status: CrStatus::Draft.as_str().to_owned(),
        links: to_json(&links)?,
        impact: to_json(&Impact::default())?,
        impact_edited_by: None,
        info_request: None,
        decided_by: None,
        decision_note: None,
        schedule_baseline_id: None,
        scope_version_id: None,
        cost_baseline_id: None,
        created_at: now,
        updated_at: now,
        decided_at: None,
        version: 1,
        approved_at: None,
    };
    let cr = insert_numbered(
        &txn,
        cr,
        change_request::Column::ProjectId,
        change_request::Column::Number,
    )
    .await
    .map_err(super::unique_violation_as(
        &["projectId"],
        "another change request took this number; try again",
    ))?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        entry(&cr, "change_request.created", None),
    )
    .await?;
    commit(txn).await?;
    Ok(CrChange {
        change_request: cr,
        events: Vec::new(),
    })
}

/// Loads a change request and its project for a command (the caller must see the project).
async fn cr_for(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    cr_id: Uuid,
) -> ServiceResult<(change_request::Model, project::Model, bool)> {
    let (cr, project, subject) = access::row_for::<change_request::Entity>(
        conn,
        &caller.actor,
        (cr_id, "change request"),
        &["id"],
        ProjectOperation::Read,
    )
    .await?;
    ensure_open(&project, &["id"])?;
    let is_pm = permits(&subject, ProjectOperation::ManagePlan);
    Ok((cr, project, is_pm))
}

/// Refuses an edit once the change is decided.
fn ensure_undecided(cr: &change_request::Model) -> ServiceResult<CrStatus> {
    let status = status_of(cr)?;
    if !status.is_pre_decision() {
        return Err(
            Refusal::invalid_transition(&["id"], status.as_str(), "EDIT", Vec::new()).into(),
        );
    }
    Ok(status)
}

/// The open ballot of a change request, if any.
async fn open_ballot(
    conn: &impl ConnectionTrait,
    cr_id: Uuid,
) -> ServiceResult<Option<decision::Model>> {
    super::decision::open_ballot_on(conn, DecisionSubject::ChangeRequest, cr_id).await
}

/// Whether a ballot was ever opened on the change request, superseded or not: from then on the
/// committee decides it (see [`rules::committee_decides`]).
async fn sent_to_committee(conn: &impl ConnectionTrait, cr_id: Uuid) -> ServiceResult<bool> {
    Ok(decision::Entity::find()
        .select_only()
        .column(decision::Column::Id)
        .filter(decision::Column::SubjectId.eq(cr_id))
        .filter(decision::Column::SubjectType.eq(DecisionSubject::ChangeRequest.as_str()))
        .into_tuple::<Uuid>()
        .one(conn)
        .await?
        .is_some())
}

/// The ballots of a change request, oldest first.
pub async fn ballots_of(
    conn: &impl ConnectionTrait,
    cr_id: Uuid,
) -> ServiceResult<Vec<decision::Model>> {
    Ok(decision::Entity::find()
        .filter(decision::Column::SubjectId.eq(cr_id))
        .filter(decision::Column::SubjectType.eq(DecisionSubject::ChangeRequest.as_str()))
        .order_by_asc(decision::Column::Id)
        .all(conn)
        .await?)
}

/// Who may not vote on a change request: its requester and the last assessor.
pub async fn recused_for(
    conn: &impl ConnectionTrait,
    cr_id: Uuid,
) -> ServiceResult<BTreeSet<Uuid>> {
    let cr = change_request::Entity::find_by_id(cr_id)
        .one(conn)
        .await?
        .ok_or_else(|| ServiceError::Internal("ballot without change request".into()))?;
    Ok(recused_of(&cr))
}

/// [`recused_for`] of a change request already loaded.
pub fn recused_of(cr: &change_request::Model) -> BTreeSet<Uuid> {
    [Some(cr.requester_id), cr.impact_edited_by]
        .into_iter()
        .flatten()
        .collect()
}

/// Marks the open ballot superseded and, when the change still needs the committee, opens a
/// new round for the current version. A change whose ballot is superseded was sent to the
/// committee, so it always gets a new round, whatever the red line now says.
async fn restart_ballot_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    project: &project::Model,
    cr: &change_request::Model,
) -> ServiceResult<Vec<DomainEvent>> {
    let mut events = Vec::new();
    // Read before superseding: whether the committee has had this change at all.
    let sent_to_committee = sent_to_committee(txn, cr.id).await?;
    if let Some(open) = open_ballot(txn, cr.id).await? {
        super::decision::supersede_in_txn(
            txn,
            origin,
            now,
            &open,
            json!({ "changeRequestId": cr.id, "reason": "material edit while awaiting the decision" }),
        )
        .await?;
        events.push(DomainEvent::ChangeRequestVotesSuperseded {
            change_request_id: cr.id,
            decision_id: open.id,
        });
    }
    if status_of(cr)? == CrStatus::AwaitingDecision
        && rules::committee_decides(&impact_of(cr)?, &red_line_of(project), sent_to_committee)
    {
        let ballot = open_committee_ballot(txn, origin, now, project, cr).await?;
        events.push(DomainEvent::DecisionOpened {
            decision_id: ballot.id,
            subject: DecisionSubject::ChangeRequest,
        });
    }
    Ok(events)
}

async fn open_committee_ballot(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    project: &project::Model,
    cr: &change_request::Model,
) -> ServiceResult<decision::Model> {
    let committee = super::decision::committee_of(txn, project.id).await?;
    let (eligible, _) = rules::electorate(&committee, cr.requester_id, cr.impact_edited_by);
    let note = format!("{} {}", code_of(cr), cr.title);
    super::decision::open_with_electorate_in_txn(
        txn,
        origin,
        now,
        project,
        DecisionSubject::ChangeRequest,
        cr.id,
        &note,
        eligible,
    )
    .await
}

/// Sends to the committee each change waiting for the PM's decision that the project's red
/// line, just changed from `before`'s, now puts at or above it: the PM may no longer decide it
/// alone, and without a ballot it would wait for a decision nobody may take. Each such change
/// records why it went (`change_request.sent_to_committee`, with both red lines). A change the
/// committee cannot take (nobody on it may vote, or the decision rule asks for more voters than
/// may vote) refuses the new red line, every such change named at once.
pub(crate) async fn send_past_the_red_line_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    before: &project::Model,
    project: &project::Model,
) -> ServiceResult<Vec<DomainEvent>> {
    let line = red_line_of(project);
    let waiting = change_request::Entity::find()
        .filter(change_request::Column::ProjectId.eq(project.id))
        .filter(change_request::Column::Status.eq(CrStatus::AwaitingDecision.as_str()))
        .order_by_asc(change_request::Column::Number)
        .all(txn)
        .await?;
    let mut events = Vec::new();
    let mut refusals = Vec::new();
    for cr in waiting {
        if !rules::committee_decides(&impact_of(&cr)?, &line, false)
            || sent_to_committee(txn, cr.id).await?
        {
            continue;
        }
        let ballot = match open_committee_ballot(txn, origin, now, project, &cr).await {
            Ok(ballot) => ballot,
            Err(ServiceError::Refused(refused)) => {
                refusals.extend(refused.into_iter().map(|refusal| Refusal {
                    field: vec!["redLine".to_owned()],
                    message: format!(
                        "{} would go to the steering committee: {}",
                        code_of(&cr),
                        refusal.message
                    ),
                    ..refusal
                }));
                continue;
            }
            Err(other) => return Err(other),
        };
        append_in_txn(
            txn,
            origin,
            now,
            AuditEntry {
                project_id: Some(cr.project_id),
                entity_type: "ChangeRequest",
                entity_id: cr.id,
                action: "change_request.sent_to_committee",
                before: Some(json!({ "redLine": red_line_json(before) })),
                after: Some(json!({ "redLine": red_line_json(project), "decisionId": ballot.id })),
            },
        )
        .await?;
        events.push(DomainEvent::DecisionOpened {
            decision_id: ballot.id,
            subject: DecisionSubject::ChangeRequest,
        });
    }
    if refusals.is_empty() {
        Ok(events)
    } else {
        Err(refusals.into())
    }
}

/// A project's red line as its audit entries show it.
fn red_line_json(project: &project::Model) -> serde_json::Value {
    let (schedule_days, cost, risk) = red_line(project);
    json!({ "scheduleDays": schedule_days, "cost": cost.to_string(), "risk": risk.as_str() })
}

/// Edits a change request's description, category, priority or links: the requester while it
/// is a draft or back for information, the PM until the decision. New links while awaiting the
/// decision supersede the votes cast.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    cr_id: Uuid,
    expected_version: i64,
    fields: CrFields,
) -> ServiceResult<CrChange> {
    let texts = check_texts(&fields, false)?;
    let txn = begin_write(&state.writer).await?;
    let (current, project, is_pm) = cr_for(&txn, caller, cr_id).await?;
    let status = ensure_undecided(&current)?;
    let is_requester = current.requester_id == caller.actor.user_id;
    let requester_may = is_requester && matches!(status, CrStatus::Draft | CrStatus::InfoRequested);
    if !(is_pm || requester_may) {
        return Err(ServiceError::Forbidden);
    }
    if current.version != expected_version {
        return Err(Refusal::stale_version(current.version).into());
    }
    let mut next = current.clone();
    if let Some(title) = texts.title {
        next.title = title;
    }
    if let Some(description) = texts.description {
        next.description = description;
    }
    if let Some(justification) = texts.justification {
        next.justification = justification;
    }
    if let Some(category) = fields.category {
        next.category = category.as_str().to_owned();
    }
    if let Some(priority) = fields.priority {
        next.priority = priority.as_str().to_owned();
    }
    let mut material = false;
    if let Some(links) = &fields.links {
        check_links(&txn, current.project_id, links).await?;
        let links = to_json(links)?;
        material = links != current.links;
        next.links = links;
    }
    let now = state.clock.now();
    next.updated_at = now;
    next.version += 1;
    save(&txn, &next).await?;
    let origin = Origin::from(caller);
    append_in_txn(
        &txn,
        origin,
        now,
        entry(&next, "change_request.updated", Some(&current)),
    )
    .await?;
    let events = if material && status == CrStatus::AwaitingDecision {
        restart_ballot_in_txn(&txn, origin, now, &project, &next).await?
    } else {
        Vec::new()
    };
    commit_with_events(state, txn, Origin::from(caller), next.project_id, &events).await?;
    Ok(CrChange {
        change_request: next,
        events,
    })
}

/// The PM records the impact assessment (whole, replacing the previous one). While awaiting
/// the decision it must be complete, and a new impact or a new assessor supersedes the votes
/// cast; the assessor is recused from the vote.
pub async fn assess(
    state: &AppState,
    caller: &Caller,
    cr_id: Uuid,
    expected_version: i64,
    impact: Impact,
) -> ServiceResult<CrChange> {
    let txn = begin_write(&state.writer).await?;
    let (current, project, is_pm) = cr_for(&txn, caller, cr_id).await?;
    if !is_pm {
        return Err(ServiceError::Forbidden);
    }
    let status = ensure_undecided(&current)?;
    if !matches!(
        status,
        CrStatus::UnderAssessment | CrStatus::AwaitingDecision
    ) {
        return Err(Refusal::invalid_transition(
            &["id"],
            status.as_str(),
            "ASSESS",
            rules::allowed_actions(status)
                .into_iter()
                .map(|a| a.as_str().to_owned()),
        )
        .into());
    }
    if current.version != expected_version {
        return Err(Refusal::stale_version(current.version).into());
    }
    let in_scope = baseline_in_scope(&txn, project.id).await?;
    rules::check_impact(&impact, project.budget_currency.as_deref(), &in_scope)?;
    if status == CrStatus::AwaitingDecision {
        rules::check_assessed(&impact, &[])?;
    }
    check_impact_targets(&txn, &project, &impact, &in_scope).await?;
    let now = state.clock.now();
    let next = change_request::Model {
        impact: to_json(&impact)?,
        impact_edited_by: Some(caller.actor.user_id),
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    save(&txn, &next).await?;
    let origin = Origin::from(caller);
    append_in_txn(
        &txn,
        origin,
        now,
        entry(&next, "change_request.assessed", Some(&current)),
    )
    .await?;
    let mut events = vec![DomainEvent::ChangeRequestImpactAssessed {
        change_request_id: next.id,
    }];
    // Another assessor changes who is recused from the vote, even with the same impact.
    if status == CrStatus::AwaitingDecision
        && (next.impact != current.impact || next.impact_edited_by != current.impact_edited_by)
    {
        events.extend(restart_ballot_in_txn(&txn, origin, now, &project, &next).await?);
    }
    commit_with_events(state, txn, Origin::from(caller), next.project_id, &events).await?;
    Ok(CrChange {
        change_request: next,
        events,
    })
}

/// The in-scope items of the project's current scope baseline; none without one.
async fn baseline_in_scope(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
) -> ServiceResult<Vec<ScopeItem>> {
    Ok(super::scope::baseline_document(conn, project_id)
        .await?
        .map(|document| document.in_scope)
        .unwrap_or_default())
}

/// The milestones shifted and the scope items removed (among `in_scope`, the baseline's) must
/// exist in the project.
async fn check_impact_targets(
    conn: &impl ConnectionTrait,
    project: &project::Model,
    impact: &Impact,
    in_scope: &[ScopeItem],
) -> ServiceResult<()> {
    let mut refusals = Refusals::default();
    if let Some(schedule) = &impact.schedule {
        let shifted: Vec<Uuid> = schedule
            .milestone_shifts
            .iter()
            .map(|shift| shift.milestone_id)
            .collect();
        let known = milestones_among(conn, project.id, &shifted).await?;
        for (index, id) in shifted.iter().enumerate() {
            if !known.contains(id) {
                refusals.push(Refusal::not_found(
                    &[
                        "schedule",
                        "milestoneShifts",
                        &index.to_string(),
                        "milestoneId",
                    ],
                    "milestone",
                ));
            }
        }
    }
    if let Some(scope) = &impact.scope {
        let in_scope: BTreeSet<Uuid> = in_scope.iter().map(|item| item.id).collect();
        for (index, id) in scope.remove.iter().enumerate() {
            if !in_scope.contains(id) {
                refusals.push(Refusal::not_found(
                    &["scope", "remove", &index.to_string()],
                    "in-scope item of the baseline",
                ));
            }
        }
    }
    refusals.finish().map_err(Into::into)
}

/// Moves a change request through its lifecycle. Who may take each action is checked here:
/// the requester, the PM, or (for approve, reject and defer) the PM on the red-line fast path.
pub async fn transition(
    state: &AppState,
    caller: &Caller,
    cr_id: Uuid,
    action: CrAction,
    note: Option<&str>,
) -> ServiceResult<CrChange> {
    let note = note
        .map(|raw| multi_line(raw, 4_000).map_err(|e| Refusal::bad_input(&["note"], e.to_string())))
        .transpose()?;
    let txn = begin_write(&state.writer).await?;
    let (current, project, is_pm) = cr_for(&txn, caller, cr_id).await?;
    let from = status_of(&current)?;
    let to = rules::transition(from, action)?;
    let is_requester = current.requester_id == caller.actor.user_id;
    let allowed = rules::parties(action).iter().any(|party| match party {
        CrParty::Requester => is_requester,
        CrParty::ProjectManager | CrParty::Decider => is_pm,
    });
    if !allowed {
        return Err(ServiceError::Forbidden);
    }
    let impact = impact_of(&current)?;
    let red_line = red_line_of(&project);
    let sent_to_committee = sent_to_committee(&txn, current.id).await?;
    let now = state.clock.now();
    let origin = Origin::from(caller);
    let mut next = change_request::Model {
        status: to.as_str().to_owned(),
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    let mut events = vec![DomainEvent::ChangeRequestStatusChanged {
        change_request_id: current.id,
        from,
        to,
    }];
    match action {
        CrAction::RequestInfo => {
            let question = note
                .clone()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| Refusal::bad_input(&["note"], "say what information is needed"))?;
            next.info_request = Some(question);
            if let Some(open) = open_ballot(&txn, current.id).await? {
                events.extend(supersede_only(&txn, origin, now, &current, open).await?);
            }
        }
        CrAction::ProvideInfo => {
            next.info_request = None;
            // The answer stays with the change, in its comments, after the question goes.
            if let Some(answer) = note.clone().filter(|n| !n.is_empty()) {
                comment_in_txn(&txn, origin, now, &current, answer).await?;
            }
        }
        CrAction::RequestDecision => rules::check_assessed(&impact, &["impact"])?,
        CrAction::Approve | CrAction::Reject | CrAction::Defer => {
            if sent_to_committee {
                return Err(Refusal::precondition(
                    &["action"],
                    "this change went to the steering committee: the committee decides it by vote, whatever the red line says now",
                )
                .into());
            }
            if rules::changes_scope(&impact) {
                return Err(Refusal::precondition(
                    &["action"],
                    "this change adds or removes scope items: the steering committee decides it by vote",
                )
                .into());
            }
            if !rules::within_red_line(&impact, &red_line) {
                return Err(Refusal::precondition(
                    &["action"],
                    "this change is at or above the red line: the steering committee decides it by vote",
                )
                .into());
            }
            if action == CrAction::Reject && note.as_deref().is_none_or(str::is_empty) {
                return Err(Refusal::bad_input(&["note"], "a rejection needs a reason").into());
            }
            next.decided_by = Some("PROJECT_MANAGER".to_owned());
            next.decision_note = note.clone();
            next.decided_at = Some(now);
        }
        CrAction::Withdraw => {
            if let Some(open) = open_ballot(&txn, current.id).await? {
                events.extend(supersede_only(&txn, origin, now, &current, open).await?);
            }
        }
        CrAction::Submit
        | CrAction::StartAssessment
        | CrAction::Resubmit
        | CrAction::StartImplementation
        | CrAction::CompleteImplementation
        | CrAction::Close => {}
    }
    if action == CrAction::Approve {
        events.extend(apply_in_txn(&txn, origin, now, &project, &mut next, &impact).await?);
    }
    save(&txn, &next).await?;
    let audit_action = format!("change_request.{}", action.as_str().to_ascii_lowercase());
    append_in_txn(
        &txn,
        origin,
        now,
        entry(&next, &audit_action, Some(&current)),
    )
    .await?;
    if action == CrAction::RequestDecision
        && rules::committee_decides(&impact, &red_line, sent_to_committee)
    {
        let ballot = open_committee_ballot(&txn, origin, now, &project, &next).await?;
        events.push(DomainEvent::DecisionOpened {
            decision_id: ballot.id,
            subject: DecisionSubject::ChangeRequest,
        });
    }
    commit_with_events(state, txn, Origin::from(caller), next.project_id, &events).await?;
    Ok(CrChange {
        change_request: next,
        events,
    })
}

/// Closes an open ballot without a new round (withdrawal, information requested).
async fn supersede_only(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    cr: &change_request::Model,
    open: decision::Model,
) -> ServiceResult<Vec<DomainEvent>> {
    super::decision::supersede_in_txn(txn, origin, now, &open, json!({ "changeRequestId": cr.id }))
        .await?;
    Ok(vec![DomainEvent::ChangeRequestVotesSuperseded {
        change_request_id: cr.id,
        decision_id: open.id,
    }])
}

/// Applies a closed committee ballot to its change request: APPROVE approves and applies the
/// impact, REJECT rejects, a deadlock defers.
pub(crate) async fn apply_decision_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    decision: &decision::Model,
    outcome: Option<DecisionChoice>,
) -> ServiceResult<Vec<DomainEvent>> {
    let current = for_update(
        change_request::Entity::find_by_id(decision.subject_id),
        backend_of(txn),
    )
    .one(txn)
    .await?
    .ok_or_else(|| ServiceError::Internal("ballot without change request".into()))?;
    let project = project::Entity::find_by_id(current.project_id)
        .one(txn)
        .await?
        .ok_or_else(|| ServiceError::Internal("change request without project".into()))?;
    let action = match outcome {
        Some(DecisionChoice::Approve) => CrAction::Approve,
        Some(DecisionChoice::Reject) => CrAction::Reject,
        _ => CrAction::Defer,
    };
    let from = status_of(&current)?;
    let to = rules::transition(from, action)?;
    let mut next = change_request::Model {
        status: to.as_str().to_owned(),
        decided_by: Some("COMMITTEE".to_owned()),
        decided_at: Some(now),
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    let mut events = vec![DomainEvent::ChangeRequestStatusChanged {
        change_request_id: current.id,
        from,
        to,
    }];
    if action == CrAction::Approve {
        let impact = impact_of(&current)?;
        events.extend(apply_in_txn(txn, origin, now, &project, &mut next, &impact).await?);
    }
    save(txn, &next).await?;
    let audit_action = format!("change_request.{}", action.as_str().to_ascii_lowercase());
    append_in_txn(
        txn,
        origin,
        now,
        entry(&next, &audit_action, Some(&current)),
    )
    .await?;
    Ok(events)
}

/// Records when `cr` was approved and moves the baselines it touches, in the caller's
/// transaction: milestones shift and a schedule baseline version names the change; scope items
/// change in a new baselined scope version; the budget changes in a new cost baseline version.
/// Any failure refuses the whole decision.
async fn apply_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    project: &project::Model,
    cr: &mut change_request::Model,
    impact: &Impact,
) -> ServiceResult<Vec<DomainEvent>> {
    let mut events = Vec::new();
    cr.approved_at = Some(now);
    let reason = format!("{}: {}", code_of(cr), cr.title);
    let cannot = |why: String| -> ServiceError {
        Refusal::precondition(
            &["decisionId"],
            format!("the approved change cannot be applied: {why}"),
        )
        .into()
    };

    if let Some(schedule) = impact
        .schedule
        .as_ref()
        .filter(|s| !s.milestone_shifts.is_empty())
    {
        let milestones = super::milestone::milestones_of(txn, project.id).await?;
        let by_id: HashMap<Uuid, &milestone::Model> =
            milestones.iter().map(|m| (m.id, m)).collect();
        // The new baseline moves each milestone by as much as the change moves its forecast:
        // by its shift, or as far as the links pushed it; an achieved one, whose forecast
        // stays, by its shift.
        let baseline_after = |milestone: &milestone::Model, days: i64| {
            milestone
                .baseline_date
                .unwrap_or(milestone.forecast_date)
                .checked_add_signed(Duration::days(days))
                .ok_or_else(|| cannot(format!("{} would move off the calendar", milestone.name)))
        };
        let mut dates = BTreeMap::new();
        let mut shifts = Vec::with_capacity(schedule.milestone_shifts.len());
        for shift in &schedule.milestone_shifts {
            let Some(before) = by_id.get(&shift.milestone_id) else {
                return Err(cannot(format!(
                    "milestone {} no longer exists",
                    shift.milestone_id
                )));
            };
            dates.insert(before.id, baseline_after(before, i64::from(shift.days))?);
            shifts.push((before.id, shift.days));
        }
        let plan = milestones
            .iter()
            .map(super::milestone::dates_of)
            .collect::<ServiceResult<Vec<_>>>()?;
        let links = super::milestone::dependencies_of(txn, project.id).await?;
        let name = |id: Uuid| by_id.get(&id).map_or("a milestone", |m| m.name.as_str());
        let forecasts = schedule_rules::shift_all(&plan, &links, &shifts).map_err(|refused| {
            cannot(format!(
                "it moves {} to {}, before {}, which its link from {} allows",
                name(refused.id),
                refused.asked,
                refused.earliest,
                name(refused.predecessor)
            ))
        })?;
        let mut moved = Vec::with_capacity(forecasts.len());
        let mut pushed = Vec::with_capacity(forecasts.len());
        for forecast in forecasts {
            let Some(before) = by_id.get(&forecast.id) else {
                continue;
            };
            let days = (forecast.to - forecast.from).num_days();
            dates.insert(before.id, baseline_after(before, days)?);
            let next = milestone::Model {
                forecast_date: forecast.to,
                updated_at: now,
                version: before.version + 1,
                ..(*before).clone()
            };
            // Logged as a forecast pushed by hand is, so a milestone's trail shows every move.
            pushed.push(super::milestone::pushed_entry(before, &next));
            moved.push(next);
        }
        let forecast = [
            milestone::Column::ForecastDate,
            milestone::Column::UpdatedAt,
            milestone::Column::Version,
        ];
        super::update_in_batches(txn, moved, forecast).await?;
        append_all_in_txn(txn, origin, now, &pushed).await?;
        let (baseline, baseline_events) = super::baseline::create_version_in_txn(
            txn,
            origin,
            now,
            project,
            &reason,
            super::baseline::BaselineCause::ChangeRequest(cr.id),
            &dates,
        )
        .await?;
        cr.schedule_baseline_id = Some(baseline.id);
        events.extend(baseline_events);
    }

    if let Some(scope) = impact
        .scope
        .as_ref()
        .filter(|s| !s.add.is_empty() || !s.remove.is_empty())
    {
        let Some(current) = super::scope::current_baseline(txn, project.id).await? else {
            return Err(cannot(
                "the project has no scope baseline to change".to_owned(),
            ));
        };
        let change = InScopeChange {
            removed: scope.remove.clone(),
            added: scope
                .add
                .iter()
                .map(|addition| ScopeItem {
                    id: Uuid::now_v7(),
                    category: addition.category,
                    // The document holds trimmed texts, as a draft's editor would type them.
                    text: addition.text.trim().to_owned(),
                })
                .collect(),
        };
        let mut document = super::scope::document_of(&current)?;
        change
            .apply_to_baseline(&mut document)
            .map_err(|conflict| match conflict {
                InScopeConflict::RemovedItemGone(id) => cannot(format!(
                    "the in-scope item {id} is no longer in the scope baseline"
                )),
                InScopeConflict::AlreadyInScope(text) => cannot(format!(
                    "\"{text}\" is already in scope in the scope baseline"
                )),
            })?;
        let (version, scope_events) = super::scope::baseline_from_change_request_in_txn(
            txn, origin, now, project.id, cr.id, &document, &change,
        )
        .await?;
        cr.scope_version_id = Some(version.id);
        events.extend(scope_events);
    }

    if let Some(cost) = rules::cost_moved(impact) {
        let baseline = cost_version_in_txn(
            txn,
            origin,
            now,
            project,
            cr,
            cost.amount,
            &cost.currency,
            &reason,
        )
        .await
        .map_err(|e| match e {
            ServiceError::Refused(r) => ServiceError::Refused(r),
            other => other,
        })?;
        cr.cost_baseline_id = Some(baseline.id);
    }
    events.push(DomainEvent::ChangeRequestApplied {
        change_request_id: cr.id,
    });
    Ok(events)
}

/// Writes cost baseline N+1 = N + `delta` (the first one records the budget before any change)
/// and updates the project's budget.
#[allow(clippy::too_many_arguments)]
async fn cost_version_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    project: &project::Model,
    cr: &change_request::Model,
    delta: Decimal,
    currency: &str,
    reason: &str,
) -> ServiceResult<cost_baseline::Model> {
    let mut versions = cost_baselines_of(txn, project.id).await?;
    if versions.is_empty() {
        let initial = cost_baseline::Model {
            id: Uuid::now_v7(),
            project_id: project.id,
            number: 1,
            amount: project
                .budget_amount
                .clone()
                .unwrap_or_else(|| "0".to_owned()),
            currency: project
                .budget_currency
                .clone()
                .unwrap_or_else(|| currency.to_owned()),
            reason: "Budget before the first approved change".to_owned(),
            cause_kind: "INITIAL".to_owned(),
            cause_id: None,
            created_at: now,
        };
        whole_row::insert(txn, initial.clone()).await?;
        versions.push(initial);
    }
    let Some(last) = versions.last() else {
        return Err(ServiceError::Internal("no cost baseline".into()));
    };
    if last.currency != currency {
        return Err(Refusal::precondition(
            &["decisionId"],
            format!(
                "the budget is in {}, the change in {currency}",
                last.currency
            ),
        )
        .into());
    }
    let previous: Decimal = last
        .amount
        .parse()
        .map_err(|_| ServiceError::Internal("stored cost baseline amount".into()))?;
    let amount = previous + delta;
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(Refusal::precondition(
            &["decisionId"],
            "the change would make the budget negative",
        )
        .into());
    }
    let next = cost_baseline::Model {
        id: Uuid::now_v7(),
        project_id: project.id,
        number: last.number + 1,
        amount: amount.to_string(),
        currency: currency.to_owned(),
        reason: reason.to_owned(),
        cause_kind: "CHANGE_REQUEST".to_owned(),
        cause_id: Some(cr.id),
        created_at: now,
    };
    whole_row::insert(txn, next.clone()).await?;
    let updated = project::Model {
        budget_amount: Some(next.amount.clone()),
        budget_currency: Some(next.currency.clone()),
        updated_at: now,
        version: project.version + 1,
        ..project.clone()
    };
    whole_row::update(txn, updated.clone()).await?;
    append_in_txn(
        txn,
        origin,
        now,
        AuditEntry {
            project_id: Some(project.id),
            entity_type: "CostBaseline",
            entity_id: next.id,
            action: "cost.baselined",
            before: Some(json!({ "amount": last.amount, "currency": last.currency })),
            after: Some(json!({ "number": next.number, "amount": next.amount, "currency": next.currency, "causeId": cr.id })),
        },
    )
    .await?;
    Ok(next)
}

pub async fn cost_baselines_of(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
) -> ServiceResult<Vec<cost_baseline::Model>> {
    Ok(cost_baseline::Entity::find()
        .filter(cost_baseline::Column::ProjectId.eq(project_id))
        .order_by_asc(cost_baseline::Column::Number)
        .all(conn)
        .await?)
}

/// Adds a comment. Any member but a mere VIEWER.
pub async fn comment(
    state: &AppState,
    caller: &Caller,
    cr_id: Uuid,
    body: &str,
) -> ServiceResult<change_request_comment::Model> {
    let body = required_multi_line(body, 10_000)
        .map_err(|e| Refusal::bad_input(&["body"], e.to_string()))?;
    let txn = begin_write(&state.writer).await?;
    let cr = change_request::Entity::find_by_id(cr_id)
        .one(&txn)
        .await?
        .ok_or_else(|| Refusal::not_found(&["id"], "change request"))?;
    access::project_for(
        &txn,
        &caller.actor,
        cr.project_id,
        &["id"],
        ProjectOperation::RaiseChange,
    )
    .await?;
    let row = comment_in_txn(&txn, Origin::from(caller), state.clock.now(), &cr, body).await?;
    commit(txn).await?;
    Ok(row)
}

/// Adds `body`, by the origin's actor, to the comments of `cr`, with its audit entry.
async fn comment_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    cr: &change_request::Model,
    body: String,
) -> ServiceResult<change_request_comment::Model> {
    let author_id = origin
        .actor_id
        .ok_or_else(|| ServiceError::Internal("a comment without an author".into()))?;
    let row = change_request_comment::Model {
        id: Uuid::now_v7(),
        change_request_id: cr.id,
        author_id,
        body,
        created_at: now,
    };
    whole_row::insert(txn, row.clone()).await?;
    append_in_txn(
        txn,
        origin,
        now,
        AuditEntry {
            project_id: Some(cr.project_id),
            entity_type: "ChangeRequestComment",
            entity_id: row.id,
            action: "change_request.commented",
            before: None,
            after: Some(json!({ "changeRequestId": cr.id, "body": row.body })),
        },
    )
    .await?;
    Ok(row)
}

pub async fn delegations_of(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
) -> ServiceResult<Vec<Delegation>> {
    Ok(vote_delegation::Entity::find()
        .filter(vote_delegation::Column::ProjectId.eq(project_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|d| Delegation {
            delegator: d.delegator_id,
            delegate: d.delegate_id,
            from: d.starts_on,
            to: d.ends_on,
        })
        .collect())
}

/// A committee member lends their vote to another member for a period.
pub async fn delegate(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    delegate_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> ServiceResult<vote_delegation::Model> {
    let txn = begin_write(&state.writer).await?;
    let (project, _) = access::project_for(
        &txn,
        &caller.actor,
        project_id,
        &["projectId"],
        ProjectOperation::Read,
    )
    .await?;
    ensure_open(&project, &["projectId"])?;
    let committee = super::decision::committee_of(&txn, project_id).await?;
    if !committee.contains(&caller.actor.user_id) {
        return Err(Refusal::new(
            RefusalCode::NotEligible,
            &["projectId"],
            "only steering committee members delegate votes",
        )
        .into());
    }
    if !super::member::is_member(&txn, project_id, delegate_id).await? {
        return Err(Refusal::bad_input(
            &["delegateId"],
            "the delegate must be a member of the project",
        )
        .into());
    }
    let new = Delegation {
        delegator: caller.actor.user_id,
        delegate: delegate_id,
        from,
        to,
    };
    rules::check_delegation(&new, &delegations_of(&txn, project_id).await?)
        .map_err(|e| Refusal::bad_input(&["delegateId"], e.to_string()))?;
    let now = state.clock.now();
    let row = vote_delegation::Model {
        id: Uuid::now_v7(),
        project_id,
        delegator_id: new.delegator,
        delegate_id,
        starts_on: from,
        ends_on: to,
        created_at: now,
    };
    whole_row::insert(&txn, row.clone()).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        AuditEntry {
            project_id: Some(project_id),
            entity_type: "VoteDelegation",
            entity_id: row.id,
            action: "vote.delegated",
            before: None,
            after: Some(json!({ "delegatorId": row.delegator_id, "delegateId": row.delegate_id, "from": from, "to": to })),
        },
    )
    .await?;
    commit(txn).await?;
    Ok(row)
}

/// Filters for a project's change requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CrFilter {
    pub statuses: Vec<CrStatus>,
    pub categories: Vec<CrCategory>,
    pub requester_id: Option<Uuid>,
    /// Only those whose open ballot waits for the viewer's vote.
    pub awaiting_my_vote: bool,
}

/// The change requests of each of `project_ids` (each is in the answer) that pass `filter`,
/// newest number last: one statement for all the projects, and one more for the viewer's
/// pending ballots when `filter` asks for them.
///
/// States, categories and requester narrow the statement itself: a dashboard asks for the
/// few open requests of a project with dozens, and decoding the rest was most of the time
/// the list took.
pub async fn lists_of(
    state: &AppState,
    viewer: &super::Actor,
    project_ids: &[Uuid],
    filter: &CrFilter,
) -> ServiceResult<HashMap<Uuid, Vec<change_request::Model>>> {
    let mut select = change_request::Entity::find()
        .filter(change_request::Column::ProjectId.is_in(project_ids.iter().copied()))
        .order_by_asc(change_request::Column::Number);
    if !filter.statuses.is_empty() {
        select = select.filter(
            change_request::Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())),
        );
    }
    if !filter.categories.is_empty() {
        select = select.filter(
            change_request::Column::Category.is_in(filter.categories.iter().map(|c| c.as_str())),
        );
    }
    if let Some(requester_id) = filter.requester_id {
        select = select.filter(change_request::Column::RequesterId.eq(requester_id));
    }
    let mut matching = rows::all_by_position(&state.db, select).await?;
    if filter.awaiting_my_vote {
        let waiting: BTreeSet<Uuid> = pending_decisions(state, viewer.user_id)
            .await?
            .into_iter()
            .map(|d| d.subject_id)
            .collect();
        matching.retain(|cr| waiting.contains(&cr.id));
    }
    Ok(super::group(project_ids, matching, |change| {
        change.project_id
    }))
}

/// Open ballots (of any kind) that wait for `user_id`'s vote, oldest first. One statement
/// however many ballots are open: a ballot the user voted on is left out by a probe of the
/// votes' `(decision_id, voter_id)` index, not by reading each ballot's votes.
pub async fn pending_decisions(
    state: &AppState,
    user_id: Uuid,
) -> ServiceResult<Vec<decision::Model>> {
    let voted = Query::select()
        .expr(Expr::val(1))
        .from(decision_vote::Entity)
        .and_where(
            Expr::col((decision_vote::Entity, decision_vote::Column::DecisionId))
                .equals((decision::Entity, decision::Column::Id)),
        )
        .and_where(Expr::col((decision_vote::Entity, decision_vote::Column::VoterId)).eq(user_id))
        .to_owned();
    // The text match finds the candidates; eligibility is decided by the parsed list below.
    let open = decision::Entity::find()
        .filter(decision::Column::Status.eq(DecisionStatus::Open.as_str()))
        .filter(decision::Column::EligibleVoters.contains(user_id.to_string()))
        .filter(Expr::exists(voted).not())
        .filter(
            decision::Column::ProjectId.not_in_subquery(super::project::read_only_project_ids()),
        )
        .order_by_asc(decision::Column::Id)
        .all(&state.db)
        .await?;
    let mut pending = Vec::with_capacity(open.len());
    for ballot in open {
        if super::decision::eligible_of(&ballot)?.contains(&user_id) {
            pending.push(ballot);
        }
    }
    Ok(pending)
}

/// A change request, if the viewer may see its project.
pub async fn visible(
    state: &AppState,
    viewer: &super::Actor,
    id: Uuid,
) -> ServiceResult<Option<change_request::Model>> {
    let Some(found) = change_request::Entity::find_by_id(id)
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    Ok(access::visible_project(&state.db, viewer, found.project_id)
        .await?
        .map(|_| found))
}

/// Totals of the changes approved, and how far the baselines moved from the first ones.
#[derive(Debug, Clone, Default)]
pub struct ChangeSummary {
    pub by_status: BTreeMap<&'static str, u32>,
    pub approved_schedule_days: i64,
    pub approved_cost: Decimal,
    pub approved_effort: Decimal,
    /// category → (count, schedule days, cost, effort)
    pub by_category: BTreeMap<String, (u32, i64, Decimal, Decimal)>,
    pub schedule_drift_days: i64,
    pub cost_drift: Option<Decimal>,
    pub cost_currency: Option<String>,
    pub scope_items_added: u32,
    pub scope_items_removed: u32,
}

/// The change summaries of `project_ids`, in five statements however many there are: their
/// change requests, schedule baselines, the first and last baselines' entries, cost
/// baselines and scope versions, each read for all of them at once. Every asked project has a
/// summary, empty when it has no changes.
pub async fn summaries_of(
    state: &AppState,
    project_ids: &[Uuid],
) -> ServiceResult<HashMap<Uuid, ChangeSummary>> {
    use super::children_of;
    let crs = children_of::<change_request::Entity>(
        state,
        change_request::Column::ProjectId,
        project_ids,
        |rows| rows,
    )
    .await?;
    let baselines = children_of::<schedule_baseline::Entity>(
        state,
        schedule_baseline::Column::ProjectId,
        project_ids,
        |rows| rows.order_by_asc(schedule_baseline::Column::Number),
    )
    .await?;
    let firsts_and_lasts = first_and_last_by_project(&baselines, |b| b.project_id);
    let mut entries: HashMap<Uuid, Vec<schedule_baseline_entry::Model>> = HashMap::new();
    if !firsts_and_lasts.is_empty() {
        let ends: Vec<Uuid> = firsts_and_lasts
            .values()
            .flat_map(|(first, last)| [first.id, last.id])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for entry in children_of::<schedule_baseline_entry::Entity>(
            state,
            schedule_baseline_entry::Column::BaselineId,
            &ends,
            |rows| rows,
        )
        .await?
        {
            entries.entry(entry.baseline_id).or_default().push(entry);
        }
    }
    let costs = children_of::<cost_baseline::Entity>(
        state,
        cost_baseline::Column::ProjectId,
        project_ids,
        |rows| rows.order_by_asc(cost_baseline::Column::Number),
    )
    .await?;
    let versions = children_of::<scope_version::Entity>(
        state,
        scope_version::Column::ProjectId,
        project_ids,
        |rows| rows.order_by_asc(scope_version::Column::Number),
    )
    .await?;

    let mut summaries: HashMap<Uuid, ChangeSummary> = project_ids
        .iter()
        .map(|id| (*id, ChangeSummary::default()))
        .collect();
    for cr in &crs {
        if let Some(summary) = summaries.get_mut(&cr.project_id) {
            count_change(summary, cr)?;
        }
    }
    for (project_id, (first, last)) in firsts_and_lasts {
        let (Some(summary), Some(first)) = (summaries.get_mut(&project_id), entries.get(&first.id))
        else {
            continue;
        };
        let last: HashMap<Uuid, NaiveDate> = entries
            .get(&last.id)
            .into_iter()
            .flatten()
            .map(|e| (e.milestone_id, e.baseline_date))
            .collect();
        summary.schedule_drift_days = first
            .iter()
            .filter_map(|e| {
                last.get(&e.milestone_id)
                    .map(|d| (*d - e.baseline_date).num_days())
            })
            .max()
            .unwrap_or(0);
    }
    for (project_id, (first, last)) in first_and_last_by_project(&costs, |c| c.project_id) {
        if let Some(summary) = summaries.get_mut(&project_id) {
            let first_amount: Decimal = first.amount.parse().unwrap_or_default();
            let last_amount: Decimal = last.amount.parse().unwrap_or_default();
            summary.cost_drift = Some(last_amount - first_amount);
            summary.cost_currency = Some(last.currency.clone());
        }
    }
    // Per project: the first version ever baselined, and the one baselined now.
    let mut scope_ends: HashMap<
        Uuid,
        (Option<&scope_version::Model>, Option<&scope_version::Model>),
    > = HashMap::new();
    for version in &versions {
        let (first, current) = scope_ends.entry(version.project_id).or_default();
        if version.baselined_at.is_some() && first.is_none() {
            *first = Some(version);
        }
        if version.status == ScopeStatus::Baselined.as_str() {
            *current = Some(version);
        }
    }
    for (project_id, ends) in scope_ends {
        let (Some(summary), (Some(first), Some(current))) = (summaries.get_mut(&project_id), ends)
        else {
            continue;
        };
        let differences = crate::domain::scope::diff(
            &super::scope::document_of(first)?,
            &super::scope::document_of(current)?,
        );
        for difference in differences.iter().filter(|d| d.section == "inScope") {
            match difference.change {
                crate::domain::scope::Change::Added => summary.scope_items_added += 1,
                crate::domain::scope::Change::Removed => summary.scope_items_removed += 1,
                crate::domain::scope::Change::Changed => {}
            }
        }
    }
    Ok(summaries)
}

/// The first and the last of `rows` of each project, in the rows' order.
fn first_and_last_by_project<T>(
    rows: &[T],
    project: impl Fn(&T) -> Uuid,
) -> HashMap<Uuid, (&T, &T)> {
    let mut ends: HashMap<Uuid, (&T, &T)> = HashMap::new();
    for row in rows {
        ends.entry(project(row))
            .and_modify(|(_, last)| *last = row)
            .or_insert((row, row));
    }
    ends
}

/// Counts `cr` in `summary` by its status, and its impact in the approved totals when it was
/// approved (closed after its implementation too).
fn count_change(summary: &mut ChangeSummary, cr: &change_request::Model) -> ServiceResult<()> {
    let status = status_of(cr)?;
    *summary.by_status.entry(status.as_str()).or_default() += 1;
    let approved = matches!(
        status,
        CrStatus::Approved | CrStatus::InImplementation | CrStatus::Implemented
    ) || (status == CrStatus::Closed && cr.approved_at.is_some());
    if !approved {
        return Ok(());
    }
    let impact = impact_of(cr)?;
    let days = impact.schedule.as_ref().map_or(0, |s| i64::from(s.days));
    let cost = impact.cost.as_ref().map_or(Decimal::ZERO, |c| c.amount);
    let effort = impact
        .effort
        .as_ref()
        .map_or(Decimal::ZERO, |e| e.person_days);
    summary.approved_schedule_days += days;
    summary.approved_cost += cost;
    summary.approved_effort += effort;
    let row = summary.by_category.entry(cr.category.clone()).or_default();
    row.0 += 1;
    row.1 += days;
    row.2 += cost;
    row.3 += effort;
    Ok(())
}

/// The project's red line, as the GraphQL layer reads it.
pub fn red_line(project: &project::Model) -> (i32, Decimal, RiskLevel) {
    let line = red_line_of(project);
    (line.schedule_days, line.cost, line.risk)
}

/// How many open change requests (raised, not yet decided) each project has, in one
/// statement; projects without any are left out.
pub async fn open_counts_of(
    state: &AppState,
    project_ids: &[Uuid],
) -> ServiceResult<Vec<(Uuid, i64)>> {
    let open = CrStatus::ALL
        .into_iter()
        .filter(|status| status.is_open())
        .map(CrStatus::as_str);
    Ok(change_request::Entity::find()
        .select_only()
        .column(change_request::Column::ProjectId)
        .column_as(change_request::Column::Id.count(), "open")
        .filter(change_request::Column::ProjectId.is_in(project_ids.iter().copied()))
        .filter(change_request::Column::Status.is_in(open))
        .group_by(change_request::Column::ProjectId)
        .into_tuple()
        .all(&state.db)
        .await?)
}
