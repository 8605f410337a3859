//! Scope statements: drafting, review with named signatories, sign-off into a baseline, and
//! supersession by the next baseline.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use steerco_entity::{project, project_member, scope_signatory, scope_version, user};
use uuid::Uuid;

use super::access::{self, stored_roles};
use super::audit::{AuditEntry, Origin, append_in_txn};
use super::member::ensure_open;
use super::whole_row;
use super::{
    AppState, Caller, ServiceError, ServiceResult, begin_write, commit, commit_with_events,
};
use crate::domain::authz::ProjectOperation;
use crate::domain::event::DomainEvent;
use crate::domain::scope::{
    self as rules, DocumentInput, InScopeChange, ScopeCommand, ScopeDifference, ScopeDocument,
    ScopeStatus,
};
use crate::domain::text::required_multi_line;
use crate::domain::{Refusal, RefusalCode};

/// A scope version and the events its change emitted.
#[derive(Debug, Clone)]
pub struct ScopeChange {
    pub version: scope_version::Model,
    pub events: Vec<DomainEvent>,
}

pub fn document_of(version: &scope_version::Model) -> ServiceResult<ScopeDocument> {
    serde_json::from_str(&version.content)
        .map_err(|e| ServiceError::Internal(format!("stored scope document: {e}")))
}

fn encode(document: &ScopeDocument) -> ServiceResult<String> {
    serde_json::to_string(document)
        .map_err(|e| ServiceError::Internal(format!("scope document: {e}")))
}

pub fn status_of(version: &scope_version::Model) -> ServiceResult<ScopeStatus> {
    version
        .status
        .parse()
        .map_err(|e| ServiceError::Internal(format!("stored scope status: {e:?}")))
}

fn entry<'a>(
    version: &scope_version::Model,
    action: &'a str,
    detail: serde_json::Value,
) -> AuditEntry<'a> {
    AuditEntry {
        project_id: Some(version.project_id),
        entity_type: "ScopeVersion",
        entity_id: version.id,
        action,
        before: None,
        after: Some(json!({
            "number": version.number,
            "status": version.status,
            "content": version.content,
            "detail": detail,
        })),
    }
}

async fn save(conn: &impl ConnectionTrait, version: &scope_version::Model) -> ServiceResult<()> {
    whole_row::update(conn, version.clone()).await?;
    Ok(())
}

pub async fn versions_of(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
) -> ServiceResult<Vec<scope_version::Model>> {
    Ok(scope_version::Entity::find()
        .filter(scope_version::Column::ProjectId.eq(project_id))
        .order_by_asc(scope_version::Column::Number)
        .all(conn)
        .await?)
}

/// The current baseline of a project's scope, if it has one.
pub async fn current_baseline(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
) -> ServiceResult<Option<scope_version::Model>> {
    Ok(scope_version::Entity::find()
        .filter(scope_version::Column::ProjectId.eq(project_id))
        .filter(scope_version::Column::Status.eq(ScopeStatus::Baselined.as_str()))
        .one(conn)
        .await?)
}

/// The document of a project's current scope baseline, if it has one.
pub async fn baseline_document(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
) -> ServiceResult<Option<ScopeDocument>> {
    current_baseline(conn, project_id)
        .await?
        .as_ref()
        .map(document_of)
        .transpose()
}

/// Loads a version and its project for a command; `operation` is checked on the project.
async fn version_for(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    version_id: Uuid,
    operation: ProjectOperation,
) -> ServiceResult<(scope_version::Model, project::Model)> {
    let (found, project, _) = access::row_for::<scope_version::Entity>(
        conn,
        &caller.actor,
        (version_id, "scope version"),
        &["id"],
        operation,
    )
    .await?;
    ensure_open(&project, &["id"])?;
    Ok((found, project))
}

/// [`rules::check_boundary_kept`] for `version`, against the project's scope baseline, read
/// only once the project is initiated. (A version is drafted from the baseline, and a change
/// request that baselines a new one carries its change into the open version.)
async fn check_boundary_kept(
    conn: &impl ConnectionTrait,
    project: &project::Model,
    version: &scope_version::Model,
    field: &[&str],
) -> ServiceResult<Result<(), Refusal>> {
    let initiated = super::project::position_of(project)?.is_initiated();
    let baseline = match initiated {
        true => baseline_document(conn, project.id).await?,
        false => None,
    };
    Ok(rules::check_boundary_kept(
        initiated,
        baseline.as_ref(),
        &document_of(version)?,
        field,
    ))
}

/// Opens a new draft: a copy of the current baseline, or an empty document for the first one.
pub async fn draft(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
) -> ServiceResult<ScopeChange> {
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
    let versions = versions_of(&txn, project_id).await?;
    if let Some(open) = versions
        .iter()
        .find(|v| matches!(v.status.as_str(), "DRAFT" | "IN_REVIEW"))
    {
        return Err(Refusal::conflict(
            &["projectId"],
            format!(
                "version {} is still {}; finish or edit it instead",
                open.number, open.status
            ),
        )
        .into());
    }
    let baseline = versions
        .iter()
        .find(|v| v.status == ScopeStatus::Baselined.as_str());
    let content = match baseline {
        Some(baseline) => baseline.content.clone(),
        None => encode(&ScopeDocument::default())?,
    };
    let now = state.clock.now();
    let version = scope_version::Model {
        id: Uuid::now_v7(),
        project_id,
        number: versions.last().map_or(1, |v| v.number + 1),
        status: ScopeStatus::Draft.as_str().to_owned(),
        content,
        based_on: baseline.map(|b| b.id),
        superseded_by: None,
        cause_kind: "DRAFTED".to_owned(),
        cause_id: None,
        rejection_comment: None,
        rejected_by: None,
        created_by: Some(caller.actor.user_id),
        created_at: now,
        updated_at: now,
        baselined_at: None,
        version: 1,
    };
    whole_row::insert(&txn, version.clone())
        .await
        .map_err(super::unique_violation_as(
            &["projectId"],
            "another draft was opened at the same time",
        ))?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        entry(
            &version,
            "scope.drafted",
            json!({ "basedOn": version.based_on }),
        ),
    )
    .await?;
    commit(txn).await?;
    Ok(ScopeChange {
        version,
        events: Vec::new(),
    })
}

/// Replaces a draft's document. Items keep their identity through their ids.
pub async fn update_draft(
    state: &AppState,
    caller: &Caller,
    version_id: Uuid,
    expected_version: i64,
    input: DocumentInput,
) -> ServiceResult<ScopeChange> {
    let txn = begin_write(&state.writer).await?;
    let (current, _) = version_for(&txn, caller, version_id, ProjectOperation::ManagePlan).await?;
    rules::transition(status_of(&current)?, ScopeCommand::Edit)?;
    if current.version != expected_version {
        return Err(Refusal::stale_version(current.version).into());
    }
    let previous = document_of(&current)?;
    let mut new_id = Uuid::now_v7;
    let document = rules::build_document(input, Some(&previous), &mut new_id)?;
    let now = state.clock.now();
    let next = scope_version::Model {
        content: encode(&document)?,
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    save(&txn, &next).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        entry(&next, "scope.edited", json!({})),
    )
    .await?;
    commit(txn).await?;
    Ok(ScopeChange {
        version: next,
        events: Vec::new(),
    })
}

/// Sends a draft to its required signatories (at least a sponsor and a business
/// representative).
pub async fn submit(
    state: &AppState,
    caller: &Caller,
    version_id: Uuid,
    expected_version: i64,
    signatories: &[Uuid],
) -> ServiceResult<ScopeChange> {
    let txn = begin_write(&state.writer).await?;
    let (current, project) =
        version_for(&txn, caller, version_id, ProjectOperation::ManagePlan).await?;
    let status = rules::transition(status_of(&current)?, ScopeCommand::SubmitForReview)?;
    if current.version != expected_version {
        return Err(Refusal::stale_version(current.version).into());
    }
    let mut refusals = Vec::new();
    if let Err(found) = rules::check_ready_for_review(&document_of(&current)?) {
        refusals.extend(found);
    }
    if let Err(found) = check_boundary_kept(&txn, &project, &current, &["inScope"]).await? {
        refusals.push(found);
    }
    let members = project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(current.project_id))
        .find_also_related(user::Entity)
        .all(&txn)
        .await?;
    let mut candidates = Vec::with_capacity(members.len());
    for (member, person) in &members {
        candidates.push((
            member.user_id,
            stored_roles(&member.roles)?,
            person.as_ref().is_some_and(|u| u.active),
        ));
    }
    if let Err(found) = rules::check_signatories(signatories, &candidates) {
        refusals.extend(found);
    }
    if !refusals.is_empty() {
        return Err(refusals.into());
    }
    for signer in signatories {
        let row = scope_signatory::Model {
            id: Uuid::now_v7(),
            scope_version_id: current.id,
            user_id: *signer,
            signed_at: None,
        };
        whole_row::insert(&txn, row).await?;
    }
    let now = state.clock.now();
    let next = scope_version::Model {
        status: status.as_str().to_owned(),
        rejection_comment: None,
        rejected_by: None,
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    save(&txn, &next).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        entry(
            &next,
            "scope.review_opened",
            json!({ "signatories": signatories }),
        ),
    )
    .await?;
    let events = vec![DomainEvent::ScopeReviewOpened {
        version_id: next.id,
    }];
    commit_with_events(state, txn, Origin::from(caller), next.project_id, &events).await?;
    Ok(ScopeChange {
        events,
        version: next,
    })
}

pub async fn signatories_of(
    conn: &impl ConnectionTrait,
    version_id: Uuid,
) -> ServiceResult<Vec<scope_signatory::Model>> {
    Ok(scope_signatory::Entity::find()
        .filter(scope_signatory::Column::ScopeVersionId.eq(version_id))
        .order_by_asc(scope_signatory::Column::Id)
        .all(conn)
        .await?)
}

/// The numbers of the project's versions in review that `user_id` must still sign (or
/// reject): only they can, so until then they stay on the project.
pub(crate) async fn unsigned_reviews(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
    user_id: Uuid,
) -> ServiceResult<Vec<i32>> {
    let in_review = scope_version::Entity::find()
        .filter(scope_version::Column::ProjectId.eq(project_id))
        .filter(scope_version::Column::Status.eq(ScopeStatus::InReview.as_str()))
        .order_by_asc(scope_version::Column::Number)
        .all(conn)
        .await?;
    if in_review.is_empty() {
        return Ok(Vec::new());
    }
    let unsigned: Vec<Uuid> = scope_signatory::Entity::find()
        .filter(scope_signatory::Column::UserId.eq(user_id))
        .filter(scope_signatory::Column::SignedAt.is_null())
        .filter(scope_signatory::Column::ScopeVersionId.is_in(in_review.iter().map(|v| v.id)))
        .all(conn)
        .await?
        .into_iter()
        .map(|row| row.scope_version_id)
        .collect();
    Ok(in_review
        .into_iter()
        .filter(|version| unsigned.contains(&version.id))
        .map(|version| version.number)
        .collect())
}

/// The caller's own row among the required signatories, or a NOT_ELIGIBLE refusal.
fn own_row(
    rows: &[scope_signatory::Model],
    caller: &Caller,
) -> ServiceResult<scope_signatory::Model> {
    rows.iter()
        .find(|row| row.user_id == caller.actor.user_id)
        .cloned()
        .ok_or_else(|| {
            Refusal::new(
                RefusalCode::NotEligible,
                &["id"],
                "only the named signatories sign this version",
            )
            .into()
        })
}

/// Signs a version in review; the last signature baselines it and supersedes the previous
/// baseline.
pub async fn sign(
    state: &AppState,
    caller: &Caller,
    version_id: Uuid,
) -> ServiceResult<ScopeChange> {
    let txn = begin_write(&state.writer).await?;
    let (current, project) = version_for(&txn, caller, version_id, ProjectOperation::Read).await?;
    rules::transition(status_of(&current)?, ScopeCommand::Sign)?;
    let rows = signatories_of(&txn, current.id).await?;
    let mine = own_row(&rows, caller)?;
    if mine.signed_at.is_some() {
        return Err(Refusal::conflict(&["id"], "you have already signed this version").into());
    }
    // Sent for review before the project was initiated, a version that redraws the scope can
    // no longer become its baseline, so it takes no more signatures: a signatory rejects it,
    // and a change request makes the change.
    check_boundary_kept(&txn, &project, &current, &["id"]).await??;
    let now = state.clock.now();
    let signed = scope_signatory::Model {
        signed_at: Some(now),
        ..mine.clone()
    };
    whole_row::update(&txn, signed).await?;
    let origin = Origin::from(caller);
    append_in_txn(
        &txn,
        origin,
        now,
        entry(
            &current,
            "scope.signed",
            json!({ "signerId": caller.actor.user_id }),
        ),
    )
    .await?;
    let mut events = vec![DomainEvent::ScopeSigned {
        version_id: current.id,
        signer_id: caller.actor.user_id,
    }];

    let required: Vec<Uuid> = rows.iter().map(|r| r.user_id).collect();
    let mut done: Vec<Uuid> = rows
        .iter()
        .filter(|r| r.signed_at.is_some())
        .map(|r| r.user_id)
        .collect();
    done.push(caller.actor.user_id);
    let mut next = current.clone();
    if rules::all_signed(&required, &done) {
        events.extend(baseline_in_txn(&txn, origin, now, &mut next).await?);
    }
    commit_with_events(state, txn, origin, next.project_id, &events).await?;
    Ok(ScopeChange {
        version: next,
        events,
    })
}

/// Makes `version` the baseline and supersedes the previous one.
async fn baseline_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: chrono::DateTime<chrono::Utc>,
    version: &mut scope_version::Model,
) -> ServiceResult<Vec<DomainEvent>> {
    let mut events = Vec::new();
    if let Some(previous) = current_baseline(txn, version.project_id)
        .await?
        .filter(|b| b.id != version.id)
    {
        let status = rules::transition(status_of(&previous)?, ScopeCommand::Supersede)?;
        let superseded = scope_version::Model {
            status: status.as_str().to_owned(),
            superseded_by: Some(version.id),
            updated_at: now,
            version: previous.version + 1,
            ..previous.clone()
        };
        save(txn, &superseded).await?;
        append_in_txn(
            txn,
            origin,
            now,
            entry(
                &superseded,
                "scope.superseded",
                json!({ "successor": version.id }),
            ),
        )
        .await?;
        events.push(DomainEvent::ScopeSuperseded {
            version_id: superseded.id,
            successor_id: version.id,
        });
    }
    version.status = ScopeStatus::Baselined.as_str().to_owned();
    version.baselined_at = Some(now);
    version.updated_at = now;
    version.version += 1;
    save(txn, version).await?;
    append_in_txn(
        txn,
        origin,
        now,
        entry(version, "scope.baselined", json!({})),
    )
    .await?;
    events.push(DomainEvent::ScopeBaselined {
        version_id: version.id,
        number: version.number,
    });
    Ok(events)
}

/// A signatory sends the version back to draft with a comment; every signature is cleared.
pub async fn reject(
    state: &AppState,
    caller: &Caller,
    version_id: Uuid,
    comment: &str,
) -> ServiceResult<ScopeChange> {
    let comment = required_multi_line(comment, 4_000)
        .map_err(|e| Refusal::bad_input(&["comment"], format!("comment {e}")))?;
    let txn = begin_write(&state.writer).await?;
    let (current, _) = version_for(&txn, caller, version_id, ProjectOperation::Read).await?;
    let status = rules::transition(status_of(&current)?, ScopeCommand::Reject)?;
    let rows = signatories_of(&txn, current.id).await?;
    own_row(&rows, caller)?;
    scope_signatory::Entity::delete_many()
        .filter(scope_signatory::Column::ScopeVersionId.eq(current.id))
        .exec(&txn)
        .await?;
    let now = state.clock.now();
    let next = scope_version::Model {
        status: status.as_str().to_owned(),
        rejection_comment: Some(comment.clone()),
        rejected_by: Some(caller.actor.user_id),
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    save(&txn, &next).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        entry(&next, "scope.rejected", json!({ "comment": comment })),
    )
    .await?;
    let events = vec![DomainEvent::ScopeRejected {
        version_id: next.id,
        by: caller.actor.user_id,
    }];
    commit_with_events(state, txn, Origin::from(caller), next.project_id, &events).await?;
    Ok(ScopeChange {
        events,
        version: next,
    })
}

/// Baselines the scope an approved change request makes, `document` (the baseline with
/// `change` applied), superseding the baseline it changed: no sign-off round, the approval
/// is the sign-off. A version drafted from that
/// baseline and still open (DRAFT or IN_REVIEW) takes the change too and is based on the
/// new baseline, so that baselining it later does not undo an approved change; one in review
/// goes back to DRAFT, its signatures gone, as they were given to a document without the
/// change: the project manager submits it again, naming its signatories afresh (one may have
/// left the project meanwhile).
pub async fn baseline_from_change_request_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: chrono::DateTime<chrono::Utc>,
    project_id: Uuid,
    change_request_id: Uuid,
    document: &ScopeDocument,
    change: &InScopeChange,
) -> ServiceResult<(scope_version::Model, Vec<DomainEvent>)> {
    let versions = versions_of(txn, project_id).await?;
    let baseline = versions
        .iter()
        .find(|v| v.status == ScopeStatus::Baselined.as_str());
    let mut version = scope_version::Model {
        id: Uuid::now_v7(),
        project_id,
        number: versions.last().map_or(1, |v| v.number + 1),
        status: ScopeStatus::Draft.as_str().to_owned(),
        content: encode(document)?,
        based_on: baseline.map(|b| b.id),
        superseded_by: None,
        cause_kind: "CHANGE_REQUEST".to_owned(),
        cause_id: Some(change_request_id),
        rejection_comment: None,
        rejected_by: None,
        created_by: origin.actor_id,
        created_at: now,
        updated_at: now,
        baselined_at: None,
        version: 1,
    };
    whole_row::insert(txn, version.clone()).await?;
    let mut events = baseline_in_txn(txn, origin, now, &mut version).await?;
    let open = versions
        .iter()
        .filter(|v| matches!(v.status.as_str(), "DRAFT" | "IN_REVIEW"));
    for draft in open {
        let mut carried = document_of(draft)?;
        change.carry_into_draft(&mut carried);
        let in_review = draft.status == ScopeStatus::InReview.as_str();
        // Back to DRAFT as a rejection takes it there: its signatures no longer hold.
        let status = if in_review {
            rules::transition(ScopeStatus::InReview, ScopeCommand::Reject)?
        } else {
            ScopeStatus::Draft
        };
        let next = scope_version::Model {
            status: status.as_str().to_owned(),
            content: encode(&carried)?,
            based_on: Some(version.id),
            updated_at: now,
            version: draft.version + 1,
            ..draft.clone()
        };
        save(txn, &next).await?;
        if in_review {
            scope_signatory::Entity::delete_many()
                .filter(scope_signatory::Column::ScopeVersionId.eq(draft.id))
                .exec(txn)
                .await?;
        }
        events.push(DomainEvent::ScopeRebased {
            version_id: draft.id,
            change_request_id,
            back_to_draft: in_review,
        });
        append_in_txn(
            txn,
            origin,
            now,
            entry(
                &next,
                "scope.rebased",
                json!({
                    "basedOn": version.id,
                    "changeRequestId": change_request_id,
                    "backToDraft": in_review,
                }),
            ),
        )
        .await?;
    }
    Ok((version, events))
}

/// A version, if the viewer may see its project.
pub async fn visible(
    state: &AppState,
    viewer: &super::Actor,
    id: Uuid,
) -> ServiceResult<Option<scope_version::Model>> {
    let Some(found) = scope_version::Entity::find_by_id(id).one(&state.db).await? else {
        return Ok(None);
    };
    Ok(access::visible_project(&state.db, viewer, found.project_id)
        .await?
        .map(|_| found))
}

/// The differences between two versions of one project's scope.
pub async fn diff(
    state: &AppState,
    viewer: &super::Actor,
    from: Uuid,
    to: Uuid,
) -> ServiceResult<Vec<ScopeDifference>> {
    let from_version = visible(state, viewer, from)
        .await?
        .ok_or_else(|| Refusal::not_found(&["fromId"], "scope version"))?;
    let to_version = visible(state, viewer, to)
        .await?
        .ok_or_else(|| Refusal::not_found(&["toId"], "scope version"))?;
    if from_version.project_id != to_version.project_id {
        return Err(
            Refusal::bad_input(&["toId"], "both versions must belong to the same project").into(),
        );
    }
    Ok(rules::diff(
        &document_of(&from_version)?,
        &document_of(&to_version)?,
    ))
}
