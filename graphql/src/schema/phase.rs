//! Phases, their exit criteria, deliverables and gate conditions; phase templates.

use super::serial::SerialList;
use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use steerco_entity::{deliverable, exit_criterion, gate_condition, phase};

use super::context::{actor, caller, state};
use super::date::Date;
use super::decision::Decision;
use super::error::{Payload, UserError, payload, respond};
use super::id::{GlobalId, Kind, decode};
use super::idempotency::IdempotencyKeyArg;
use super::loader::{ConditionsLoader, CriteriaLoader, DeliverablesLoader, PlanLoader};
use super::milestone::Milestone;
use super::user::User;
use crate::domain::phase::{
    CriterionStatus as DomainCriterion, DeliverableStatus as DomainDeliverable,
};
use crate::domain::{Refusal, Refusals, phase_template};
use crate::service::phase::{PhaseChange, PhaseFields};
use crate::service::{self, ServiceError};

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::phase_template::TemplateKey")]
pub enum PhaseTemplateKey {
    /// Five phases (Zhidao): strategy to value assessment.
    FivePhase,
    /// Six phases (FanRuan), with typical durations.
    SixPhase,
    /// Eight stages (Jiandaoyun); the default.
    EightStage,
}

/// A shipped list of phases a project can start from.
pub struct PhaseTemplate(&'static phase_template::PhaseTemplate);

#[Object]
impl PhaseTemplate {
    async fn key(&self) -> PhaseTemplateKey {
        self.0.key.into()
    }
    async fn name(&self) -> &str {
        self.0.name
    }
    async fn description(&self) -> &str {
        self.0.description
    }
    async fn phases(&self) -> Vec<PhaseDefinition> {
        self.0.phases.iter().map(PhaseDefinition).collect()
    }
}

pub struct PhaseDefinition(&'static phase_template::PhaseDefinition);

#[Object]
impl PhaseDefinition {
    async fn name(&self) -> &str {
        self.0.name
    }
    async fn name_zh(&self) -> &str {
        self.0.name_zh
    }
    async fn typical_duration(&self) -> Option<&str> {
        self.0.typical_duration
    }
    async fn deliverables(&self) -> Vec<&str> {
        self.0.deliverables.to_vec()
    }
    async fn exit_criteria(&self) -> Vec<&str> {
        self.0.exit_criteria.to_vec()
    }
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::phase::PhaseStatus")]
pub enum PhaseStatus {
    NotStarted,
    InProgress,
    AwaitingGateReview,
    Completed,
    Skipped,
}

/// A stage of the project, closed by a steering committee gate decision.
#[derive(Clone, Debug)]
pub struct Phase(pub phase::Model);

#[Object(serial)]
impl Phase {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::Phase, self.0.id)
    }
    async fn project_id(&self) -> GlobalId {
        GlobalId(Kind::Project, self.0.project_id)
    }
    /// 1 for the first phase.
    async fn position(&self) -> i32 {
        self.0.position
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(owner) = self.0.owner_id else {
            return Ok(None);
        };
        Ok(super::loader::user(ctx, owner).await?.map(User))
    }
    async fn status(&self) -> Option<PhaseStatus> {
        self.0
            .status
            .parse::<crate::domain::phase::PhaseStatus>()
            .ok()
            .map(Into::into)
    }
    /// Why the phase was skipped, or why its last gate said NO_GO.
    async fn status_reason(&self) -> Option<&str> {
        self.0.status_reason.as_deref()
    }
    async fn planned_start(&self) -> Option<Date> {
        self.0.planned_start.map(Date)
    }
    async fn planned_end(&self) -> Option<Date> {
        self.0.planned_end.map(Date)
    }
    async fn actual_start(&self) -> Option<Date> {
        self.0.actual_start.map(Date)
    }
    async fn actual_end(&self) -> Option<Date> {
        self.0.actual_end.map(Date)
    }
    async fn version(&self) -> i64 {
        self.0.version
    }
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn exit_criteria(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ExitCriterion>> {
        Ok(super::loader::children::<CriteriaLoader>(ctx, self.0.id)
            .await?
            .into_iter()
            .map(ExitCriterion)
            .collect())
    }
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn deliverables(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Deliverable>> {
        Ok(
            super::loader::children::<DeliverablesLoader>(ctx, self.0.id)
                .await?
                .into_iter()
                .map(Deliverable)
                .collect(),
        )
    }
    /// The milestones of this phase, by forecast date.
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn milestones(&self, ctx: &Context<'_>) -> async_graphql::Result<SerialList<Milestone>> {
        Ok(
            super::loader::children::<PlanLoader>(ctx, self.0.project_id)
                .await?
                .milestones_of(self.0.id)
                .iter()
                .cloned()
                .map(Milestone)
                .collect(),
        )
    }
    /// Conditions set by this phase's GO_WITH_CONDITIONS gate; open ones block the next gate.
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn conditions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<GateCondition>> {
        Ok(super::loader::children::<ConditionsLoader>(ctx, self.0.id)
            .await?
            .into_iter()
            .map(GateCondition)
            .collect())
    }
    /// Gate and skip ballots about this phase, oldest first.
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn decisions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Decision>> {
        Ok(super::loader::ballots(ctx, self.0.id)
            .await?
            .into_iter()
            .map(Decision)
            .collect())
    }
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::phase::CriterionStatus")]
pub enum CriterionStatus {
    NotMet,
    Met,
    /// Not met, but accepted as not needed, with a reason.
    Waived,
}

/// A condition the phase must meet (or have waived) to pass its gate.
#[derive(Clone, Debug)]
pub struct ExitCriterion(pub exit_criterion::Model);

#[Object]
impl ExitCriterion {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::ExitCriterion, self.0.id)
    }
    async fn text(&self) -> &str {
        &self.0.text
    }
    async fn status(&self) -> Option<CriterionStatus> {
        self.0
            .status
            .parse::<DomainCriterion>()
            .ok()
            .map(Into::into)
    }
    async fn waiver_reason(&self) -> Option<&str> {
        self.0.waiver_reason.as_deref()
    }
    async fn evidence_url(&self) -> Option<&str> {
        self.0.evidence_url.as_deref()
    }
    /// Who set the status last.
    async fn decided_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.decided_by else {
            return Ok(None);
        };
        Ok(super::loader::user(ctx, id).await?.map(User))
    }
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }
    async fn version(&self) -> i64 {
        self.0.version
    }
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::phase::DeliverableStatus")]
pub enum DeliverableStatus {
    Draft,
    InReview,
    Approved,
}

/// A document or artefact the phase must have approved to pass its gate.
#[derive(Clone, Debug)]
pub struct Deliverable(pub deliverable::Model);

#[Object]
impl Deliverable {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::Deliverable, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.owner_id else {
            return Ok(None);
        };
        Ok(super::loader::user(ctx, id).await?.map(User))
    }
    async fn status(&self) -> Option<DeliverableStatus> {
        self.0
            .status
            .parse::<DomainDeliverable>()
            .ok()
            .map(Into::into)
    }
    async fn link(&self) -> Option<&str> {
        self.0.link.as_deref()
    }
    async fn version(&self) -> i64 {
        self.0.version
    }
}

/// A condition set by a GO_WITH_CONDITIONS gate decision.
#[derive(Clone, Debug)]
pub struct GateCondition(pub gate_condition::Model);

#[Object]
impl GateCondition {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::GateCondition, self.0.id)
    }
    async fn text(&self) -> &str {
        &self.0.text
    }
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.owner_id else {
            return Ok(None);
        };
        Ok(super::loader::user(ctx, id).await?.map(User))
    }
    async fn due_date(&self) -> Option<Date> {
        self.0.due_date.map(Date)
    }
    /// OPEN or CLOSED.
    async fn status(&self) -> &str {
        &self.0.status
    }
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
}

#[derive(Default)]
pub struct PhaseQuery;

#[Object]
impl PhaseQuery {
    /// The shipped phase templates.
    async fn phase_templates(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<PhaseTemplate>> {
        actor(ctx)?;
        Ok(phase_template::all()
            .into_iter()
            .map(PhaseTemplate)
            .collect())
    }
}

#[derive(InputObject)]
pub struct PhaseCreateInput {
    pub project_id: ID,
    pub name: String,
    pub owner_id: Option<ID>,
    pub planned_start: Option<Date>,
    pub planned_end: Option<Date>,
}

payload!(PhaseCreatePayload { phase: Phase });

/// Left-out fields are kept; `null` clears owner or dates.
#[derive(InputObject)]
pub struct PhaseUpdateInput {
    pub id: ID,
    pub expected_version: i64,
    /// Only before the schedule is first baselined.
    pub name: Option<String>,
    pub owner_id: MaybeUndefined<ID>,
    pub planned_start: MaybeUndefined<Date>,
    pub planned_end: MaybeUndefined<Date>,
}

payload!(PhaseUpdatePayload { phase: Phase });

#[derive(InputObject)]
pub struct PhaseReorderInput {
    pub project_id: ID,
    /// Every phase of the project, once, in the new order.
    pub phase_ids: Vec<ID>,
}

/// The phases in their new order.
#[derive(SimpleObject)]
pub struct PhaseReorderPayload {
    pub phases: Option<Vec<Phase>>,
    pub user_errors: Vec<UserError>,
}

impl Payload for PhaseReorderPayload {
    type Value = Vec<Phase>;
    fn ok(phases: Vec<Phase>) -> Self {
        Self {
            phases: Some(phases),
            user_errors: Vec::new(),
        }
    }
    fn refused(user_errors: Vec<UserError>) -> Self {
        Self {
            phases: None,
            user_errors,
        }
    }
}

#[derive(InputObject)]
pub struct PhaseIdInput {
    pub phase_id: ID,
}

payload!(PhaseRemovePayload { phase: Phase });
payload!(PhaseStartPayload { phase: Phase });

#[derive(InputObject)]
pub struct PhaseGateRequestInput {
    pub phase_id: ID,
    /// A note for the committee.
    pub note: Option<String>,
}

#[derive(InputObject)]
pub struct PhaseSkipRequestInput {
    pub phase_id: ID,
    /// Why the phase should be skipped (required).
    pub reason: String,
}

/// The phase and the committee ballot that now decides on it.
#[derive(SimpleObject)]
pub struct PhaseDecisionRequestPayload {
    pub phase: Option<Phase>,
    pub decision: Option<Decision>,
    pub user_errors: Vec<UserError>,
}

impl Payload for PhaseDecisionRequestPayload {
    type Value = PhaseChange;
    fn ok(change: PhaseChange) -> Self {
        Self {
            phase: Some(Phase(change.phase)),
            decision: change.decision.map(Decision),
            user_errors: Vec::new(),
        }
    }
    fn refused(user_errors: Vec<UserError>) -> Self {
        Self {
            phase: None,
            decision: None,
            user_errors,
        }
    }
}

#[derive(InputObject)]
pub struct ExitCriterionAddInput {
    pub phase_id: ID,
    pub text: String,
}

payload!(ExitCriterionAddPayload {
    exit_criterion: ExitCriterion
});

#[derive(InputObject)]
pub struct ExitCriterionSetInput {
    pub id: ID,
    pub status: CriterionStatus,
    /// Required with WAIVED.
    pub waiver_reason: Option<String>,
    /// An http(s) link to the evidence.
    pub evidence_url: Option<String>,
}

payload!(ExitCriterionSetPayload {
    exit_criterion: ExitCriterion
});

#[derive(InputObject)]
pub struct DeliverableAddInput {
    pub phase_id: ID,
    pub name: String,
    pub owner_id: Option<ID>,
}

payload!(DeliverableAddPayload {
    deliverable: Deliverable
});

#[derive(InputObject)]
pub struct DeliverableUpdateInput {
    pub id: ID,
    pub expected_version: i64,
    /// DRAFT → IN_REVIEW → APPROVED, or IN_REVIEW → DRAFT.
    pub status: Option<DeliverableStatus>,
    pub link: Option<String>,
    pub owner_id: MaybeUndefined<ID>,
}

payload!(DeliverableUpdatePayload {
    deliverable: Deliverable
});

#[derive(InputObject)]
pub struct GateConditionCloseInput {
    pub id: ID,
}

payload!(GateConditionClosePayload {
    condition: GateCondition
});

/// Decodes an optional user id, recording a refusal when it is not one.
fn optional_user(refusals: &mut Refusals, id: Option<&ID>, field: &str) -> Option<uuid::Uuid> {
    id.and_then(|id| {
        decode(id, Kind::User, &[field])
            .map_err(|r| refusals.push(r))
            .ok()
    })
}

fn maybe_user(
    refusals: &mut Refusals,
    id: MaybeUndefined<ID>,
    field: &str,
) -> Option<Option<uuid::Uuid>> {
    match id {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(id) => decode(&id, Kind::User, &[field])
            .map_err(|r| refusals.push(r))
            .ok()
            .map(Some),
    }
}

/// The refusals gathered while decoding ids.
fn refused<T>(refusals: Refusals) -> Result<T, ServiceError> {
    Err(ServiceError::Refused(
        refusals
            .finish()
            .err()
            .unwrap_or_else(|| vec![Refusal::bad_input(&[], "bad id")]),
    ))
}

#[derive(Default)]
pub struct PhaseMutation;

#[Object]
impl PhaseMutation {
    /// Adds a phase at the end of the plan. PROJECT_MANAGER; before the first baseline.
    async fn phase_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: PhaseCreateInput,
    ) -> async_graphql::Result<PhaseCreatePayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let project_id = decode(&input.project_id, Kind::Project, &["projectId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let owner = optional_user(&mut refusals, input.owner_id.as_ref(), "ownerId");
        let fields = PhaseFields {
            name: Some(input.name),
            owner_id: Some(owner),
            planned_start: Some(input.planned_start.map(Into::into)),
            planned_end: Some(input.planned_end.map(Into::into)),
        };
        let result = match project_id.filter(|_| refusals.is_empty()) {
            Some(id) => service::phase::add(state(ctx), &caller, id, fields).await,
            None => refused(refusals),
        };
        respond(ctx, result.map(|change| Phase(change.phase)))
    }

    /// Edits a phase. PROJECT_MANAGER; renaming only before the first baseline.
    async fn phase_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: PhaseUpdateInput,
    ) -> async_graphql::Result<PhaseUpdatePayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let id = decode(&input.id, Kind::Phase, &["id"])
            .map_err(|r| refusals.push(r))
            .ok();
        let fields = PhaseFields {
            name: input.name,
            owner_id: maybe_user(&mut refusals, input.owner_id, "ownerId"),
            planned_start: input.planned_start.map_value(|date| date.0).into(),
            planned_end: input.planned_end.map_value(|date| date.0).into(),
        };
        let version = input.expected_version;
        let result = match id.filter(|_| refusals.is_empty()) {
            Some(id) => service::phase::update(state(ctx), &caller, id, version, fields).await,
            None => refused(refusals),
        };
        respond(ctx, result.map(|change| Phase(change.phase)))
    }

    /// Puts the phases in a new order. PROJECT_MANAGER; before the first baseline.
    async fn phase_reorder(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: PhaseReorderInput,
    ) -> async_graphql::Result<PhaseReorderPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let project_id = decode(&input.project_id, Kind::Project, &["projectId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let order: Vec<uuid::Uuid> = input
            .phase_ids
            .iter()
            .enumerate()
            .filter_map(|(i, id)| {
                decode(id, Kind::Phase, &["phaseIds", &i.to_string()])
                    .map_err(|r| refusals.push(r))
                    .ok()
            })
            .collect();
        let result = match project_id.filter(|_| refusals.is_empty()) {
            Some(id) => service::phase::reorder(state(ctx), &caller, id, &order).await,
            None => refused(refusals),
        };
        respond(
            ctx,
            result.map(|phases| phases.into_iter().map(Phase).collect()),
        )
    }

    /// Removes a phase that has not started and holds no milestones. PROJECT_MANAGER; before
    /// the first baseline.
    async fn phase_remove(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: PhaseIdInput,
    ) -> async_graphql::Result<PhaseRemovePayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.phase_id, Kind::Phase, &["phaseId"]) {
            Ok(id) => service::phase::remove(state(ctx), &caller, id).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(|change| Phase(change.phase)))
    }

    /// Starts a phase once every earlier phase is completed or skipped. PROJECT_MANAGER.
    async fn phase_start(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: PhaseIdInput,
    ) -> async_graphql::Result<PhaseStartPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.phase_id, Kind::Phase, &["phaseId"]) {
            Ok(id) => service::phase::start(state(ctx), &caller, id).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(|change| Phase(change.phase)))
    }

    /// Asks the steering committee to pass the phase's gate. PROJECT_MANAGER. Refused while
    /// anything is open, with one PRECONDITION_FAILED error per open item.
    async fn phase_gate_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: PhaseGateRequestInput,
    ) -> async_graphql::Result<PhaseDecisionRequestPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.phase_id, Kind::Phase, &["phaseId"]) {
            Ok(id) => {
                service::phase::request_gate(state(ctx), &caller, id, input.note.as_deref()).await
            }
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result)
    }

    /// Asks the steering committee to skip a phase. PROJECT_MANAGER.
    async fn phase_skip_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: PhaseSkipRequestInput,
    ) -> async_graphql::Result<PhaseDecisionRequestPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.phase_id, Kind::Phase, &["phaseId"]) {
            Ok(id) => {
                service::phase::request_skip(state(ctx), &caller, id, Some(&input.reason)).await
            }
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result)
    }

    /// Adds an exit criterion. PROJECT_MANAGER.
    async fn exit_criterion_add(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ExitCriterionAddInput,
    ) -> async_graphql::Result<ExitCriterionAddPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.phase_id, Kind::Phase, &["phaseId"]) {
            Ok(id) => service::phase::criterion_add(state(ctx), &caller, id, &input.text).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(ExitCriterion))
    }

    /// Sets an exit criterion MET, NOT_MET or WAIVED (with a reason). PROJECT_MANAGER.
    async fn exit_criterion_set(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ExitCriterionSetInput,
    ) -> async_graphql::Result<ExitCriterionSetPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::ExitCriterion, &["id"]) {
            Ok(id) => {
                service::phase::criterion_set(
                    state(ctx),
                    &caller,
                    id,
                    input.status.into(),
                    input.waiver_reason.as_deref(),
                    input.evidence_url.as_deref(),
                )
                .await
            }
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(ExitCriterion))
    }

    /// Adds a required deliverable. PROJECT_MANAGER.
    async fn deliverable_add(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: DeliverableAddInput,
    ) -> async_graphql::Result<DeliverableAddPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let phase_id = decode(&input.phase_id, Kind::Phase, &["phaseId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let owner = optional_user(&mut refusals, input.owner_id.as_ref(), "ownerId");
        let name = input.name;
        let result = match phase_id.filter(|_| refusals.is_empty()) {
            Some(id) => {
                service::phase::deliverable_add(state(ctx), &caller, id, &name, owner).await
            }
            None => refused(refusals),
        };
        respond(ctx, result.map(Deliverable))
    }

    /// Moves a deliverable through review, sets its link or owner. PROJECT_MANAGER.
    async fn deliverable_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: DeliverableUpdateInput,
    ) -> async_graphql::Result<DeliverableUpdatePayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let id = decode(&input.id, Kind::Deliverable, &["id"])
            .map_err(|r| refusals.push(r))
            .ok();
        let owner = maybe_user(&mut refusals, input.owner_id, "ownerId");
        let (version, status, link) = (
            input.expected_version,
            input.status.map(Into::into),
            input.link,
        );
        let result = match id.filter(|_| refusals.is_empty()) {
            Some(id) => {
                service::phase::deliverable_update(
                    state(ctx),
                    &caller,
                    id,
                    version,
                    status,
                    link.as_deref(),
                    owner,
                )
                .await
            }
            None => refused(refusals),
        };
        respond(ctx, result.map(Deliverable))
    }

    /// Closes a gate condition. PROJECT_MANAGER or the condition's owner.
    async fn gate_condition_close(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: GateConditionCloseInput,
    ) -> async_graphql::Result<GateConditionClosePayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::GateCondition, &["id"]) {
            Ok(id) => service::phase::condition_close(state(ctx), &caller, id).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(GateCondition))
    }
}
