//! Committee decisions: opening ballots, casting votes, and applying the outcome to the
//! subject the moment the project's rule is met.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::SelectStatement;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QueryTrait,
    Statement,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use steerco_entity::{decision, decision_vote, project, project_member, user};
use uuid::Uuid;

use super::access::{self, stored_roles};
use super::audit::{AuditEntry, Origin, append_in_txn};
use super::rows::JoinedRows;
use super::sql_once::{KEPT_KEY_COUNTS, SqlPerCount};
use super::whole_row;
use super::{AppState, Caller, ServiceError, ServiceResult, begin_write, commit_with_events};
use crate::domain::authz::ProjectOperation;
use crate::domain::change_request::seat;
use crate::domain::committee::{Ballot, Tally, Vote, VoteRefusal, VotingRule};
use crate::domain::decision::{DecisionChoice, DecisionStatus, DecisionSubject, condition_gaps};
use crate::domain::event::DomainEvent;
use crate::domain::role::ProjectRole;
use crate::domain::text::{required_multi_line, single_line};
use crate::domain::{Refusal, RefusalCode, Refusals};

/// A condition proposed with a GO_WITH_CONDITIONS vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposedCondition {
    pub text: String,
    pub owner_id: Option<Uuid>,
    pub due_date: Option<NaiveDate>,
}

/// The project's voting rule as stored.
pub fn rule_of(project: &project::Model) -> ServiceResult<VotingRule> {
    parse_rule(&project.decision_rule, project.decision_quorum).ok_or_else(|| {
        ServiceError::Internal(format!("stored decision rule {:?}", project.decision_rule))
    })
}

/// Reads a rule code and its quorum.
pub fn parse_rule(code: &str, quorum: Option<i32>) -> Option<VotingRule> {
    match (code, quorum) {
        ("UNANIMOUS", _) => Some(VotingRule::Unanimous),
        ("MAJORITY", _) => Some(VotingRule::Majority),
        ("ANY_ONE", _) => Some(VotingRule::AnyOne),
        ("QUORUM", Some(n)) if n > 0 => Some(VotingRule::Quorum(n as u32)),
        _ => None,
    }
}

fn join_ids(ids: &BTreeSet<Uuid>) -> String {
    ids.iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The subjects of a project's open ballots on which `user_id` holds a seat they have not
/// voted in (in their own name or by proxy).
pub(crate) async fn unvoted_seats(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
    user_id: Uuid,
) -> ServiceResult<Vec<String>> {
    let open = decision::Entity::find()
        .filter(decision::Column::ProjectId.eq(project_id))
        .filter(decision::Column::Status.eq(DecisionStatus::Open.as_str()))
        .all(conn)
        .await?;
    let mut seated = Vec::new();
    for ballot in open {
        if eligible_of(&ballot)?.contains(&user_id) {
            seated.push(ballot);
        }
    }
    if seated.is_empty() {
        return Ok(Vec::new());
    }
    let voted: BTreeSet<Uuid> = decision_vote::Entity::find()
        .filter(decision_vote::Column::VoterId.eq(user_id))
        .filter(decision_vote::Column::DecisionId.is_in(seated.iter().map(|b| b.id)))
        .all(conn)
        .await?
        .into_iter()
        .map(|vote| vote.decision_id)
        .collect();
    Ok(seated
        .into_iter()
        .filter(|ballot| !voted.contains(&ballot.id))
        .map(|ballot| ballot.subject_type)
        .collect())
}

pub fn eligible_of(decision: &decision::Model) -> ServiceResult<BTreeSet<Uuid>> {
    decision
        .eligible_voters
        .split(',')
        .filter(|id| !id.is_empty())
        .map(|id| {
            Uuid::try_parse(id).map_err(|e| ServiceError::Internal(format!("stored voter id: {e}")))
        })
        .collect()
}

/// The active members holding the STEERING_COMMITTEE role.
pub(crate) async fn committee_of(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
) -> ServiceResult<BTreeSet<Uuid>> {
    let members = project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(project_id))
        .find_also_related(user::Entity)
        .all(conn)
        .await?;
    let mut committee = BTreeSet::new();
    for (member, person) in members {
        if stored_roles(&member.roles)?.contains(ProjectRole::SteeringCommittee)
            && person.is_some_and(|u| u.active)
        {
            committee.insert(member.user_id);
        }
    }
    Ok(committee)
}

/// The open ballot on `subject_id`, a `subject`, if there is one.
pub(crate) async fn open_ballot_on(
    conn: &impl ConnectionTrait,
    subject: DecisionSubject,
    subject_id: Uuid,
) -> ServiceResult<Option<decision::Model>> {
    Ok(decision::Entity::find()
        .filter(decision::Column::SubjectId.eq(subject_id))
        .filter(decision::Column::SubjectType.eq(subject.as_str()))
        .filter(decision::Column::Status.eq(DecisionStatus::Open.as_str()))
        .one(conn)
        .await?)
}

/// Marks `open`, an open ballot, SUPERSEDED (its votes kept, no longer counting), with its
/// audit event; `why` names what superseded it in the event.
pub(crate) async fn supersede_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    open: &decision::Model,
    why: serde_json::Value,
) -> ServiceResult<()> {
    let superseded = decision::Model {
        status: DecisionStatus::Superseded.as_str().to_owned(),
        decided_at: Some(now),
        version: open.version + 1,
        ..open.clone()
    };
    whole_row::update(txn, superseded).await?;
    append_in_txn(
        txn,
        origin,
        now,
        AuditEntry {
            project_id: Some(open.project_id),
            entity_type: "Decision",
            entity_id: open.id,
            action: "decision.superseded",
            before: None,
            after: Some(why),
        },
    )
    .await?;
    Ok(())
}

/// Opens a ballot of the project's steering committee, inside the caller's transaction.
pub(crate) async fn open_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    project: &project::Model,
    subject: DecisionSubject,
    subject_id: Uuid,
    note: &str,
) -> ServiceResult<decision::Model> {
    let eligible = committee_of(txn, project.id).await?;
    open_with_electorate_in_txn(
        txn, origin, now, project, subject, subject_id, note, eligible,
    )
    .await
}

/// Opens a ballot whose voters are `eligible` (the committee less anyone recused).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn open_with_electorate_in_txn(
    txn: &impl ConnectionTrait,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    project: &project::Model,
    subject: DecisionSubject,
    subject_id: Uuid,
    note: &str,
    eligible: BTreeSet<Uuid>,
) -> ServiceResult<decision::Model> {
    if open_ballot_on(txn, subject, subject_id).await?.is_some() {
        return Err(Refusal::conflict(&[], "a committee decision on this is already open").into());
    }
    let rule = rule_of(project)?;
    Ballot::<DecisionChoice>::open(eligible.clone(), rule).map_err(|refusal| match refusal {
        VoteRefusal::NoVoters => Refusal::precondition(
            &[],
            "the project has no active STEERING_COMMITTEE member who may decide this",
        ),
        other => Refusal::precondition(
            &[],
            format!("the project's decision rule cannot be applied: {other}"),
        ),
    })?;
    let model = decision::Model {
        id: Uuid::now_v7(),
        project_id: project.id,
        subject_type: subject.as_str().to_owned(),
        subject_id,
        choices: subject
            .choices()
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(","),
        rule: rule.as_str().to_owned(),
        quorum: match rule {
            VotingRule::Quorum(n) => Some(n as i32),
            _ => None,
        },
        eligible_voters: join_ids(&eligible),
        status: DecisionStatus::Open.as_str().to_owned(),
        outcome: None,
        note: note.to_owned(),
        opened_by: origin.actor_id,
        opened_at: now,
        decided_at: None,
        version: 1,
    };
    whole_row::insert(txn, model.clone()).await?;
    append_in_txn(txn, origin, now, entry(&model, "decision.opened", None)).await?;
    Ok(model)
}

fn snapshot(decision: &decision::Model) -> serde_json::Value {
    json!({
        "subjectType": decision.subject_type,
        "subjectId": decision.subject_id,
        "rule": decision.rule,
        "quorum": decision.quorum,
        "eligibleVoters": decision.eligible_voters,
        "status": decision.status,
        "outcome": decision.outcome,
        "note": decision.note,
    })
}

fn entry<'a>(
    decision: &decision::Model,
    action: &'a str,
    before: Option<&decision::Model>,
) -> AuditEntry<'a> {
    AuditEntry {
        project_id: Some(decision.project_id),
        entity_type: "Decision",
        entity_id: decision.id,
        action,
        before: before.map(snapshot),
        after: Some(snapshot(decision)),
    }
}

/// A vote as typed.
#[derive(Debug, Clone, Default)]
pub struct VoteInput {
    /// `None` abstains.
    pub choice: Option<DecisionChoice>,
    pub comment: Option<String>,
    pub conditions: Vec<ProposedCondition>,
    /// Vote in the seat of a committee member who delegated their vote to the caller.
    pub on_behalf_of: Option<Uuid>,
}

/// The ballot after a vote, and what its closing changed.
#[derive(Debug, Clone)]
pub struct VoteOutcome {
    pub decision: decision::Model,
    pub events: Vec<DomainEvent>,
}

fn vote_code(choice: Option<DecisionChoice>) -> &'static str {
    choice.map_or("ABSTAIN", DecisionChoice::as_str)
}

/// Reads stored votes back into the engine's form.
pub fn stored_votes(
    votes: &[decision_vote::Model],
) -> ServiceResult<BTreeMap<Uuid, Vote<DecisionChoice>>> {
    votes
        .iter()
        .map(|vote| {
            let choice = match vote.choice.as_str() {
                "ABSTAIN" => Vote::Abstain,
                code => Vote::For(
                    code.parse()
                        .map_err(|e| ServiceError::Internal(format!("stored vote: {e}")))?,
                ),
            };
            Ok((vote.voter_id, choice))
        })
        .collect()
}

pub async fn votes_of(
    conn: &impl ConnectionTrait,
    decision_id: Uuid,
) -> ServiceResult<Vec<decision_vote::Model>> {
    Ok(decision_vote::Entity::find()
        .filter(decision_vote::Column::DecisionId.eq(decision_id))
        .order_by_asc(decision_vote::Column::CastAt)
        .order_by_asc(decision_vote::Column::Id)
        .all(conn)
        .await?)
}

/// Casts the caller's vote; closes the ballot and applies its outcome when the rule is met.
pub async fn cast(
    state: &AppState,
    caller: &Caller,
    decision_id: Uuid,
    input: VoteInput,
) -> ServiceResult<VoteOutcome> {
    let now = state.clock.now();
    let txn = begin_write(&state.writer).await?;
    let (current, project, _) = access::row_for::<decision::Entity>(
        &txn,
        &caller.actor,
        (decision_id, "decision"),
        &["decisionId"],
        ProjectOperation::Read,
    )
    .await?;
    let subject: DecisionSubject = current
        .subject_type
        .parse()
        .map_err(|e| ServiceError::Internal(format!("stored subject: {e}")))?;

    let mut refusals = Refusals::default();
    if let Some(choice) = input.choice.filter(|c| !subject.choices().contains(c)) {
        let offered = subject
            .choices()
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        refusals.push(Refusal::bad_input(
            &["choice"],
            format!("{choice} is not a choice here; choose {offered} or abstain"),
        ));
    }
    let comment = match input.comment.as_deref() {
        Some(raw) => refusals
            .field(&["comment"], crate::domain::text::multi_line(raw, 4_000))
            .unwrap_or_default(),
        None => String::new(),
    };
    if input.choice.is_some_and(DecisionChoice::needs_comment) && comment.is_empty() {
        refusals.push(Refusal::bad_input(
            &["comment"],
            format!("{} needs a comment", vote_code(input.choice)),
        ));
    }
    let conditions = check_conditions(
        &txn,
        &mut refusals,
        current.project_id,
        input.choice,
        &input.conditions,
    )
    .await?;
    refusals.finish()?;

    let eligible = eligible_of(&current)?;
    let rule = parse_rule(&current.rule, current.quorum)
        .ok_or_else(|| ServiceError::Internal(format!("stored rule {:?}", current.rule)))?;
    let existing = votes_of(&txn, current.id).await?;
    let mut ballot = Ballot::restore(eligible, rule, stored_votes(&existing)?)
        .map_err(|e| ServiceError::Internal(format!("stored ballot: {e}")))?;
    if current.status != DecisionStatus::Open.as_str() {
        return Err(Refusal::new(
            RefusalCode::InvalidTransition,
            &["decisionId"],
            format!("the ballot is closed ({})", current.status),
        )
        .into());
    }
    // A closed or cancelled project is read-only: a vote would still decide the ballot and
    // apply what it approves (a change's new baselines, a go-live plan's GO).
    super::project::refuse_if_read_only(&project, &["decisionId"], |status| {
        format!("the project is {status}: its ballots take no more votes")
    })?;
    let seat = match input.on_behalf_of {
        None => caller.actor.user_id,
        Some(delegator) => {
            let today = super::project::today_in(&project, now);
            let delegations =
                super::change_request::delegations_of(&txn, current.project_id).await?;
            seat(caller.actor.user_id, Some(delegator), &delegations, today).map_err(|e| {
                Refusal::new(RefusalCode::NotEligible, &["onBehalfOf"], e.to_string())
            })?
        }
    };
    // A recused person may not vote in their own seat, nor in someone else's by proxy.
    if subject == DecisionSubject::ChangeRequest
        && super::change_request::recused_for(&txn, current.subject_id)
            .await?
            .iter()
            .any(|recused| *recused == seat || *recused == caller.actor.user_id)
    {
        return Err(Refusal::new(
            RefusalCode::ForbiddenSeparationOfDuties,
            &["decisionId"],
            "the requester and whoever last assessed the impact do not vote on this change",
        )
        .into());
    }
    let vote = input.choice.map_or(Vote::Abstain, Vote::For);
    let tally = ballot.cast(seat, vote).map_err(|refusal| match refusal {
        VoteRefusal::NotEligible => Refusal::new(
            RefusalCode::NotEligible,
            &["decisionId"],
            "only the steering committee members named when the ballot opened may vote",
        ),
        VoteRefusal::AlreadyVoted => {
            Refusal::conflict(&["decisionId"], "you have already voted on this ballot")
        }
        VoteRefusal::Closed => Refusal::new(
            RefusalCode::InvalidTransition,
            &["decisionId"],
            format!("the ballot is closed ({})", current.status),
        ),
        other => Refusal::precondition(&["decisionId"], other.to_string()),
    })?;

    let detail = (!conditions.is_empty())
        .then(|| serde_json::to_string(&conditions))
        .transpose()
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let vote_row = decision_vote::Model {
        id: Uuid::now_v7(),
        decision_id: current.id,
        voter_id: seat,
        choice: vote_code(input.choice).to_owned(),
        comment,
        detail,
        cast_at: now,
        cast_by: input.on_behalf_of.map(|_| caller.actor.user_id),
    };
    whole_row::insert(&txn, vote_row.clone())
        .await
        .map_err(super::unique_violation_as(
            &["decisionId"],
            "you have already voted on this ballot",
        ))?;
    let origin = Origin::from(caller);
    append_in_txn(
        &txn,
        origin,
        now,
        AuditEntry {
            project_id: Some(current.project_id),
            entity_type: "DecisionVote",
            entity_id: vote_row.id,
            action: "decision.vote_cast",
            before: None,
            after: Some(json!({ "decisionId": current.id, "choice": vote_row.choice, "comment": vote_row.comment, "detail": vote_row.detail })),
        },
    )
    .await?;
    let mut events = vec![DomainEvent::VoteCast {
        decision_id: current.id,
        voter_id: seat,
    }];

    let (status, outcome) = match tally {
        Tally::Open => (DecisionStatus::Open, None),
        Tally::Decided(choice) => (DecisionStatus::Decided, Some(choice)),
        Tally::Deadlocked => (DecisionStatus::Deadlocked, None),
    };
    let mut decided = current.clone();
    if status != DecisionStatus::Open {
        decided.status = status.as_str().to_owned();
        decided.outcome = outcome.map(|c| c.as_str().to_owned());
        decided.decided_at = Some(now);
        decided.version += 1;
        whole_row::update(&txn, decided.clone()).await?;
        append_in_txn(
            &txn,
            origin,
            now,
            entry(&decided, "decision.closed", Some(&current)),
        )
        .await?;
        events.push(DomainEvent::DecisionClosed {
            decision_id: decided.id,
            subject,
            outcome,
        });
        let mut votes = existing;
        votes.push(vote_row);
        let effects = match subject {
            DecisionSubject::PhaseGate => {
                super::phase::apply_gate_in_txn(&txn, origin, now, &decided, outcome, &votes)
                    .await?
            }
            DecisionSubject::PhaseSkip => {
                super::phase::apply_skip_in_txn(&txn, origin, now, &decided, outcome).await?
            }
            DecisionSubject::ScheduleRebaseline => {
                super::baseline::apply_rebaseline_in_txn(&txn, origin, now, &decided, outcome)
                    .await?
            }
            DecisionSubject::GoLive => {
                super::go_live::apply_decision_in_txn(&txn, origin, now, &decided, outcome, &votes)
                    .await?
            }
            DecisionSubject::ChangeRequest => {
                super::change_request::apply_decision_in_txn(&txn, origin, now, &decided, outcome)
                    .await?
            }
        };
        events.extend(effects);
    }
    commit_with_events(state, txn, origin, current.project_id, &events).await?;
    Ok(VoteOutcome {
        decision: decided,
        events,
    })
}

/// Checks the conditions of a GO_WITH_CONDITIONS vote: at least one, each with text, an owner
/// who is a member, a due date (see [`condition_gaps`]).
async fn check_conditions(
    conn: &impl ConnectionTrait,
    refusals: &mut Refusals,
    project_id: Uuid,
    choice: Option<DecisionChoice>,
    conditions: &[ProposedCondition],
) -> ServiceResult<Vec<ProposedCondition>> {
    if choice != Some(DecisionChoice::GoWithConditions) {
        if !conditions.is_empty() {
            refusals.push(Refusal::bad_input(
                &["conditions"],
                "conditions go with GO_WITH_CONDITIONS only",
            ));
        }
        return Ok(Vec::new());
    }
    if conditions.is_empty() {
        refusals.push(Refusal::bad_input(
            &["conditions"],
            "GO_WITH_CONDITIONS needs at least one condition",
        ));
    }
    let mut checked = Vec::new();
    for (index, condition) in conditions.iter().enumerate() {
        let index = index.to_string();
        let text = refusals.field(
            &["conditions", &index, "text"],
            single_line(&condition.text, 500),
        );
        for (field, message) in
            condition_gaps(condition.owner_id.is_some(), condition.due_date.is_some())
        {
            refusals.push(Refusal::bad_input(&["conditions", &index, field], message));
        }
        if let Some(owner) = condition.owner_id
            && !super::member::is_member(conn, project_id, owner).await?
        {
            refusals.push(Refusal::bad_input(
                &["conditions", &index, "ownerId"],
                "the owner must be a project member",
            ));
        }
        if let Some(text) = text {
            checked.push(ProposedCondition {
                text,
                ..condition.clone()
            });
        }
    }
    Ok(checked)
}

/// Decisions about several subjects at once (for loaders), newest last.
/// The ballots about the subjects, oldest first, each with its votes in casting order, in one
/// statement: a ballot is hardly ever shown without its votes.
pub async fn with_votes_of_subjects(
    state: &AppState,
    subject_ids: &[Uuid],
) -> ServiceResult<Vec<(decision::Model, Vec<decision_vote::Model>)>> {
    let statement = with_votes_of_subjects_statement(subject_ids, super::backend_of(&state.db));
    Ok(JoinedRows::fetch_statement(&state.db, statement)
        .await?
        .parents_with_children(decision::Column::Id)?)
}

/// [`with_votes_of_subjects_query`] as a statement, its text kept per number of keys.
fn with_votes_of_subjects_statement(subject_ids: &[Uuid], backend: DbBackend) -> Statement {
    static KEPT: SqlPerCount<KEPT_KEY_COUNTS> = SqlPerCount::new();
    KEPT.statement(
        backend,
        subject_ids.len(),
        || JoinedRows::statement(with_votes_of_subjects_query(subject_ids), backend),
        || subject_ids.iter().map(|id| (*id).into()).collect(),
    )
}

/// The ballots about the subjects, each with its votes in casting order.
fn with_votes_of_subjects_query(subject_ids: &[Uuid]) -> SelectStatement {
    decision::Entity::find()
        .find_also_related(decision_vote::Entity)
        .filter(decision::Column::SubjectId.is_in(subject_ids.iter().copied()))
        .order_by_asc(decision::Column::Id)
        .order_by_asc(decision_vote::Column::CastAt)
        .order_by_asc(decision_vote::Column::Id)
        .into_query()
}

/// A reason text for gate and skip requests.
pub fn parse_note(raw: Option<&str>, required: bool) -> Result<String, Refusal> {
    match (raw, required) {
        (Some(raw), true) => required_multi_line(raw, 4_000)
            .map_err(|e| Refusal::bad_input(&["reason"], format!("reason {e}"))),
        (None, true) => Err(Refusal::bad_input(&["reason"], "a reason is required")),
        (raw, false) => crate::domain::text::multi_line(raw.unwrap_or(""), 4_000)
            .map_err(|e| Refusal::bad_input(&["note"], format!("note {e}"))),
    }
}

/// The votes of several ballots at once (for loaders).
pub async fn votes_of_many(
    state: &AppState,
    decision_ids: &[Uuid],
) -> ServiceResult<Vec<decision_vote::Model>> {
    Ok(decision_vote::Entity::find()
        .filter(decision_vote::Column::DecisionId.is_in(decision_ids.iter().copied()))
        .order_by_asc(decision_vote::Column::CastAt)
        .order_by_asc(decision_vote::Column::Id)
        .all(&state.db)
        .await?)
}

/// A project's ballots, newest first, optionally in one status.
pub async fn of_project(
    state: &AppState,
    project_id: Uuid,
    status: Option<&str>,
) -> ServiceResult<Vec<decision::Model>> {
    let mut select = decision::Entity::find().filter(decision::Column::ProjectId.eq(project_id));
    if let Some(status) = status {
        select = select.filter(decision::Column::Status.eq(status));
    }
    Ok(select
        .order_by_desc(decision::Column::Id)
        .all(&state.db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::sql_once::assert_kept_per_key_count_is_fresh;

    #[test]
    fn each_kept_ballots_statement_is_the_one_sea_orm_builds_with_each_callers_keys() {
        assert_kept_per_key_count_is_fresh(with_votes_of_subjects_statement, |keys, backend| {
            JoinedRows::statement(with_votes_of_subjects_query(keys), backend)
        });
    }
}
