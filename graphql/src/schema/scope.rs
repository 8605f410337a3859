//! Scope statements: versions, the document, sign-off, and differences between versions.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use steerco_entity::{scope_signatory, scope_version};

use super::context::{actor, caller, state};
use super::error::{payload, respond, to_top_level};
use super::id::{GlobalId, Kind, decode, encode};
use super::idempotency::IdempotencyKeyArg;
use super::user::User;
use crate::domain::scope::{
    self as rules, DocumentInput, ItemInput, ObjectiveInput, ScopeDocument, StatementInput,
};
use crate::domain::{Refusal, Refusals};
use crate::service::{self, ServiceError};

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::scope::ItemCategory")]
pub enum ScopeItemCategory {
    Department,
    Process,
    Module,
    Integration,
    DataObject,
    Report,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::scope::ScopeStatus")]
pub enum ScopeStatus {
    Draft,
    /// Waiting for its signatories.
    InReview,
    /// Signed by every required signatory; immutable.
    Baselined,
    /// Replaced by a newer baseline.
    Superseded,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::scope::Change")]
pub enum ScopeChangeKind {
    Added,
    Removed,
    Changed,
}

/// A measurable goal: "raise lead conversion from 8% to 12%".
#[derive(SimpleObject, Clone, Debug)]
pub struct ScopeObjective {
    pub id: ID,
    pub text: String,
    pub kpi: Option<String>,
    pub baseline: Option<String>,
    pub target: Option<String>,
}

/// Something in or out of scope, with a stable id across versions.
#[derive(SimpleObject, Clone, Debug)]
pub struct ScopeItem {
    pub id: ID,
    pub category: ScopeItemCategory,
    pub text: String,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct ScopeStatement {
    pub id: ID,
    pub text: String,
}

/// A required signatory and when they signed.
pub struct ScopeSignature(scope_signatory::Model);

#[Object]
impl ScopeSignature {
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(super::loader::user(ctx, self.0.user_id).await?.map(User))
    }
    async fn signed_at(&self) -> Option<DateTime<Utc>> {
        self.0.signed_at
    }
}

/// One version of the project's scope statement.
#[derive(Clone, Debug)]
pub struct ScopeVersion(pub scope_version::Model);

impl ScopeVersion {
    fn document(&self) -> ScopeDocument {
        service::scope::document_of(&self.0).unwrap_or_default()
    }
}

fn item_id(id: uuid::Uuid) -> ID {
    ID(id.to_string())
}

fn statements(list: Vec<rules::Statement>) -> Vec<ScopeStatement> {
    list.into_iter()
        .map(|s| ScopeStatement {
            id: item_id(s.id),
            text: s.text,
        })
        .collect()
}

fn items(list: Vec<rules::ScopeItem>) -> Vec<ScopeItem> {
    list.into_iter()
        .map(|i| ScopeItem {
            id: item_id(i.id),
            category: i.category.into(),
            text: i.text,
        })
        .collect()
}

#[Object]
impl ScopeVersion {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::ScopeVersion, self.0.id)
    }
    async fn number(&self) -> i32 {
        self.0.number
    }
    async fn status(&self) -> Option<ScopeStatus> {
        self.0
            .status
            .parse::<rules::ScopeStatus>()
            .ok()
            .map(Into::into)
    }
    async fn objectives(&self) -> Vec<ScopeObjective> {
        self.document()
            .objectives
            .into_iter()
            .map(|o| ScopeObjective {
                id: item_id(o.id),
                text: o.text,
                kpi: o.kpi,
                baseline: o.baseline,
                target: o.target,
            })
            .collect()
    }
    async fn in_scope(&self) -> Vec<ScopeItem> {
        items(self.document().in_scope)
    }
    async fn out_of_scope(&self) -> Vec<ScopeItem> {
        items(self.document().out_of_scope)
    }
    async fn deliverables(&self) -> Vec<ScopeStatement> {
        statements(self.document().deliverables)
    }
    async fn assumptions(&self) -> Vec<ScopeStatement> {
        statements(self.document().assumptions)
    }
    async fn constraints(&self) -> Vec<ScopeStatement> {
        statements(self.document().constraints)
    }
    async fn acceptance_criteria(&self) -> Vec<ScopeStatement> {
        statements(self.document().acceptance_criteria)
    }
    /// The required signatories (while in review and once baselined) and their signatures.
    async fn signatories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ScopeSignature>> {
        let rows =
            super::loader::children::<super::loader::SignatoriesLoader>(ctx, self.0.id).await?;
        Ok(rows.into_iter().map(ScopeSignature).collect())
    }
    /// The baseline this version started from.
    async fn based_on_id(&self) -> Option<GlobalId> {
        self.0.based_on.map(|id| GlobalId(Kind::ScopeVersion, id))
    }
    /// The version that replaced this baseline.
    async fn superseded_by_id(&self) -> Option<ID> {
        self.0
            .superseded_by
            .map(|id| encode(Kind::ScopeVersion, id))
    }
    /// DRAFTED, or CHANGE_REQUEST when an approved change request produced it.
    async fn cause(&self) -> &str {
        &self.0.cause_kind
    }
    async fn cause_id(&self) -> Option<ID> {
        let id = self.0.cause_id?;
        Some(match self.0.cause_kind.as_str() {
            "CHANGE_REQUEST" => encode(Kind::ChangeRequest, id),
            _ => ID(id.to_string()),
        })
    }
    /// The approved change request that produced this version, if one did.
    async fn caused_by(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<super::change_request::ChangeRequest>> {
        super::change_request::caused_by(
            ctx,
            self.0.project_id,
            self.0
                .cause_id
                .filter(|_| self.0.cause_kind == "CHANGE_REQUEST"),
        )
        .await
    }
    /// Why the last signatory who rejected it did so.
    async fn rejection_comment(&self) -> Option<&str> {
        self.0.rejection_comment.as_deref()
    }
    async fn rejected_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.rejected_by else {
            return Ok(None);
        };
        Ok(super::loader::user(ctx, id).await?.map(User))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn baselined_at(&self) -> Option<DateTime<Utc>> {
        self.0.baselined_at
    }
    async fn version(&self) -> i64 {
        self.0.version
    }
}

/// One difference between two scope versions.
#[derive(SimpleObject)]
pub struct ScopeDifference {
    /// objectives, inScope, outOfScope, deliverables, assumptions, constraints or
    /// acceptanceCriteria.
    pub section: String,
    pub item_id: ID,
    pub change: ScopeChangeKind,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Default)]
pub struct ScopeQuery;

#[Object]
impl ScopeQuery {
    /// Items added, removed and changed between two versions of a project's scope. Null when a
    /// version is not visible.
    async fn scope_diff(
        &self,
        ctx: &Context<'_>,
        from_id: ID,
        to_id: ID,
    ) -> async_graphql::Result<Option<Vec<ScopeDifference>>> {
        let viewer = actor(ctx)?;
        let (Ok(from), Ok(to)) = (
            decode(&from_id, Kind::ScopeVersion, &["fromId"]),
            decode(&to_id, Kind::ScopeVersion, &["toId"]),
        ) else {
            return Ok(None);
        };
        match service::scope::diff(state(ctx), viewer, from, to).await {
            Ok(differences) => Ok(Some(
                differences
                    .into_iter()
                    .map(|d| ScopeDifference {
                        section: d.section.to_owned(),
                        item_id: item_id(d.item_id),
                        change: d.change.into(),
                        before: d.before,
                        after: d.after,
                    })
                    .collect(),
            )),
            Err(ServiceError::Refused(refusals))
                if refusals
                    .iter()
                    .all(|r| r.code == crate::domain::RefusalCode::NotFound) =>
            {
                Ok(None)
            }
            Err(error) => Err(to_top_level(ctx, error)),
        }
    }
}

#[derive(InputObject)]
pub struct ScopeDraftCreateInput {
    pub project_id: ID,
}

payload!(ScopeVersionPayload {
    scope: ScopeVersion
});

#[derive(InputObject)]
pub struct ScopeObjectiveInput {
    /// The id of an existing objective to keep it across versions; leave out for a new one.
    pub id: Option<ID>,
    pub text: String,
    pub kpi: Option<String>,
    pub baseline: Option<String>,
    pub target: Option<String>,
}

#[derive(InputObject)]
pub struct ScopeItemInput {
    pub id: Option<ID>,
    pub category: ScopeItemCategory,
    pub text: String,
}

#[derive(InputObject)]
pub struct ScopeStatementInput {
    pub id: Option<ID>,
    pub text: String,
}

/// The whole document of a draft; every list replaces the draft's list.
#[derive(InputObject)]
pub struct ScopeDraftUpdateInput {
    pub id: ID,
    pub expected_version: i64,
    #[graphql(default)]
    pub objectives: Vec<ScopeObjectiveInput>,
    #[graphql(default)]
    pub in_scope: Vec<ScopeItemInput>,
    #[graphql(default)]
    pub out_of_scope: Vec<ScopeItemInput>,
    #[graphql(default)]
    pub deliverables: Vec<ScopeStatementInput>,
    #[graphql(default)]
    pub assumptions: Vec<ScopeStatementInput>,
    #[graphql(default)]
    pub constraints: Vec<ScopeStatementInput>,
    #[graphql(default)]
    pub acceptance_criteria: Vec<ScopeStatementInput>,
}

#[derive(InputObject)]
pub struct ScopeReviewSubmitInput {
    pub id: ID,
    pub expected_version: i64,
    /// Who must sign: at least a SPONSOR and a BUSINESS_REP of the project.
    pub signatory_ids: Vec<ID>,
}

#[derive(InputObject)]
pub struct ScopeSignInput {
    pub id: ID,
}

#[derive(InputObject)]
pub struct ScopeRejectInput {
    pub id: ID,
    /// Why (required).
    pub comment: String,
}

fn refused<T>(refusals: Refusals) -> Result<T, ServiceError> {
    Err(ServiceError::Refused(
        refusals
            .finish()
            .err()
            .unwrap_or_else(|| vec![Refusal::bad_input(&[], "bad id")]),
    ))
}

/// Item ids are plain UUIDs (stable across versions); a malformed one is refused on its field.
fn item_uuid(
    refusals: &mut Refusals,
    id: Option<ID>,
    section: &str,
    index: usize,
) -> Option<uuid::Uuid> {
    let id = id?;
    match uuid::Uuid::try_parse(&id) {
        Ok(uuid) => Some(uuid),
        Err(_) => {
            refusals.push(Refusal::bad_input(
                &[section, &index.to_string(), "id"],
                "not an item id",
            ));
            None
        }
    }
}

fn document_input(input: ScopeDraftUpdateInput, refusals: &mut Refusals) -> DocumentInput {
    let objectives = input
        .objectives
        .into_iter()
        .enumerate()
        .map(|(i, o)| ObjectiveInput {
            id: item_uuid(refusals, o.id, "objectives", i),
            text: o.text,
            kpi: o.kpi,
            baseline: o.baseline,
            target: o.target,
        })
        .collect();
    let mut items = |list: Vec<ScopeItemInput>, section: &str| -> Vec<ItemInput> {
        list.into_iter()
            .enumerate()
            .map(|(i, item)| ItemInput {
                id: item_uuid(refusals, item.id, section, i),
                category: item.category.into(),
                text: item.text,
            })
            .collect()
    };
    let in_scope = items(input.in_scope, "inScope");
    let out_of_scope = items(input.out_of_scope, "outOfScope");
    let mut statements = |list: Vec<ScopeStatementInput>, section: &str| -> Vec<StatementInput> {
        list.into_iter()
            .enumerate()
            .map(|(i, s)| StatementInput {
                id: item_uuid(refusals, s.id, section, i),
                text: s.text,
            })
            .collect()
    };
    DocumentInput {
        objectives,
        in_scope,
        out_of_scope,
        deliverables: statements(input.deliverables, "deliverables"),
        assumptions: statements(input.assumptions, "assumptions"),
        constraints: statements(input.constraints, "constraints"),
        acceptance_criteria: statements(input.acceptance_criteria, "acceptanceCriteria"),
    }
}

#[derive(Default)]
pub struct ScopeMutation;

#[Object]
impl ScopeMutation {
    /// Opens a draft: a copy of the current baseline, or an empty document. PROJECT_MANAGER.
    async fn scope_draft_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ScopeDraftCreateInput,
    ) -> async_graphql::Result<ScopeVersionPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.project_id, Kind::Project, &["projectId"]) {
            Ok(id) => service::scope::draft(state(ctx), &caller, id).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(|change| ScopeVersion(change.version)))
    }

    /// Replaces a draft's document. PROJECT_MANAGER; drafts only (a baseline is immutable).
    async fn scope_draft_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ScopeDraftUpdateInput,
    ) -> async_graphql::Result<ScopeVersionPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let id = decode(&input.id, Kind::ScopeVersion, &["id"])
            .map_err(|r| refusals.push(r))
            .ok();
        let version = input.expected_version;
        let document = document_input(input, &mut refusals);
        let result = match id.filter(|_| refusals.is_empty()) {
            Some(id) => {
                service::scope::update_draft(state(ctx), &caller, id, version, document).await
            }
            None => refused(refusals),
        };
        respond(ctx, result.map(|change| ScopeVersion(change.version)))
    }

    /// Sends a draft to its required signatories. PROJECT_MANAGER.
    async fn scope_review_submit(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ScopeReviewSubmitInput,
    ) -> async_graphql::Result<ScopeVersionPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let id = decode(&input.id, Kind::ScopeVersion, &["id"])
            .map_err(|r| refusals.push(r))
            .ok();
        let signatories: Vec<uuid::Uuid> = input
            .signatory_ids
            .iter()
            .enumerate()
            .filter_map(|(i, id)| {
                decode(id, Kind::User, &["signatoryIds", &i.to_string()])
                    .map_err(|r| refusals.push(r))
                    .ok()
            })
            .collect();
        let result = match id.filter(|_| refusals.is_empty()) {
            Some(id) => {
                service::scope::submit(
                    state(ctx),
                    &caller,
                    id,
                    input.expected_version,
                    &signatories,
                )
                .await
            }
            None => refused(refusals),
        };
        respond(ctx, result.map(|change| ScopeVersion(change.version)))
    }

    /// Signs a version in review; the last required signature makes it the baseline. Named
    /// signatories only.
    async fn scope_sign(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ScopeSignInput,
    ) -> async_graphql::Result<ScopeVersionPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::ScopeVersion, &["id"]) {
            Ok(id) => service::scope::sign(state(ctx), &caller, id).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(|change| ScopeVersion(change.version)))
    }

    /// Sends a version in review back to draft with a comment, clearing every signature.
    /// Named signatories only.
    async fn scope_reject(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ScopeRejectInput,
    ) -> async_graphql::Result<ScopeVersionPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::ScopeVersion, &["id"]) {
            Ok(id) => service::scope::reject(state(ctx), &caller, id, &input.comment).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(|change| ScopeVersion(change.version)))
    }
}
