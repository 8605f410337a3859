//! Committee decisions: ballots, votes, and casting a vote.

use super::serial::SerialList;
use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use steerco_entity::{decision, decision_vote};

use super::context::{actor, caller, state};
use super::date::Date;
use super::error::{payload, respond};
use super::id::{GlobalId, Kind, decode, encode};
use super::idempotency::IdempotencyKeyArg;
use super::loader::VotesLoader;
use super::user::User;
use crate::domain::Refusals;
use crate::service::decision::{ProposedCondition, VoteInput, eligible_of};
use crate::service::{self, ServiceError};

/// How a committee decides.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum VotingRuleKind {
    /// Every eligible voter votes, and all who do not abstain agree.
    Unanimous,
    /// One choice holds more than half of the eligible voters.
    Majority,
    /// At least `quorum` votes are cast, and one choice holds more than half of the votes that
    /// are not abstentions.
    Quorum,
    /// The first vote that is not an abstention decides.
    AnyOne,
}

impl VotingRuleKind {
    pub fn code(self) -> &'static str {
        match self {
            Self::Unanimous => "UNANIMOUS",
            Self::Majority => "MAJORITY",
            Self::Quorum => "QUORUM",
            Self::AnyOne => "ANY_ONE",
        }
    }

    pub fn from_code(code: &str) -> Self {
        match code {
            "UNANIMOUS" => Self::Unanimous,
            "QUORUM" => Self::Quorum,
            "ANY_ONE" => Self::AnyOne,
            _ => Self::Majority,
        }
    }
}

/// A choice on a ballot.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::decision::DecisionChoice")]
pub enum DecisionChoice {
    Go,
    NoGo,
    GoWithConditions,
    Approve,
    Reject,
}

/// What a ballot decides.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::decision::DecisionSubject")]
pub enum DecisionSubject {
    PhaseGate,
    PhaseSkip,
    ScheduleRebaseline,
    ChangeRequest,
    GoLive,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::decision::DecisionStatus")]
pub enum DecisionStatus {
    Open,
    Decided,
    /// Closed without a decision: the rule could no longer be met.
    Deadlocked,
    /// Replaced by a new round after a material edit of what is decided.
    Superseded,
}

/// A steering committee ballot.
#[derive(Clone, Debug)]
pub struct Decision(pub decision::Model);

#[Object(serial)]
impl Decision {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::Decision, self.0.id)
    }
    async fn subject_type(&self) -> Option<DecisionSubject> {
        self.0
            .subject_type
            .parse::<crate::domain::decision::DecisionSubject>()
            .ok()
            .map(Into::into)
    }
    /// The global id of what is decided (a Phase or a Project).
    async fn subject_id(&self) -> ID {
        match self.0.subject_type.as_str() {
            "SCHEDULE_REBASELINE" => encode(Kind::Project, self.0.subject_id),
            "CHANGE_REQUEST" => encode(Kind::ChangeRequest, self.0.subject_id),
            "GO_LIVE" => encode(Kind::GoLivePlan, self.0.subject_id),
            _ => encode(Kind::Phase, self.0.subject_id),
        }
    }
    /// The choices offered (abstaining is always possible).
    async fn choices(&self) -> Vec<DecisionChoice> {
        self.0
            .choices
            .split(',')
            .filter_map(|c| c.parse::<crate::domain::decision::DecisionChoice>().ok())
            .map(Into::into)
            .collect()
    }
    async fn rule(&self) -> VotingRuleKind {
        VotingRuleKind::from_code(&self.0.rule)
    }
    async fn quorum(&self) -> Option<i32> {
        self.0.quorum
    }
    /// The committee members who may vote, fixed when the ballot opened.
    async fn eligible_voters(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<User>> {
        let ids = eligible_of(&self.0).map_err(|e| super::error::to_top_level(ctx, e))?;
        let voters = super::loader::users(ctx, ids).await?;
        Ok(voters.into_iter().map(User).collect())
    }
    async fn status(&self) -> DecisionStatus {
        self.0
            .status
            .parse::<crate::domain::decision::DecisionStatus>()
            .map(Into::into)
            .unwrap_or(DecisionStatus::Open)
    }
    async fn outcome(&self) -> Option<DecisionChoice> {
        self.0
            .outcome
            .as_deref()
            .and_then(|c| c.parse::<crate::domain::decision::DecisionChoice>().ok())
            .map(Into::into)
    }
    /// Why the ballot was opened, as written by whoever asked.
    async fn note(&self) -> &str {
        &self.0.note
    }
    async fn opened_at(&self) -> DateTime<Utc> {
        self.0.opened_at
    }
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn votes(&self, ctx: &Context<'_>) -> async_graphql::Result<SerialList<Vote>> {
        Ok(super::loader::children::<VotesLoader>(ctx, self.0.id)
            .await?
            .into_iter()
            .map(Vote)
            .collect())
    }
    /// Whether the signed-in user may still vote here.
    async fn can_i_vote(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let viewer = actor(ctx)?;
        if self.0.status != "OPEN"
            || !eligible_of(&self.0).is_ok_and(|ids| ids.contains(&viewer.user_id))
        {
            return Ok(false);
        }
        let votes = super::loader::children::<VotesLoader>(ctx, self.0.id).await?;
        if votes.iter().any(|v| v.voter_id == viewer.user_id) {
            return Ok(false);
        }
        // The vote needs the project in sight and open (`service::decision::cast`).
        let project =
            super::loader::visible_project(ctx, super::loader::ProjectKey::Id(self.0.project_id))
                .await?;
        Ok(project.is_some_and(|project| {
            service::project::parse_status(&project.status)
                .is_ok_and(|status| !status.is_terminal())
        }))
    }
}

/// One voter's vote.
#[derive(Clone, Debug)]
pub struct Vote(pub decision_vote::Model);

#[Object(serial)]
impl Vote {
    async fn voter(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(super::loader::user(ctx, self.0.voter_id).await?.map(User))
    }
    /// Null for an abstention.
    async fn choice(&self) -> Option<DecisionChoice> {
        self.0
            .choice
            .parse::<crate::domain::decision::DecisionChoice>()
            .ok()
            .map(Into::into)
    }
    /// Who actually cast it, when a delegate voted on the voter's behalf.
    async fn cast_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.cast_by else {
            return Ok(None);
        };
        Ok(super::loader::user(ctx, id).await?.map(User))
    }
    async fn abstained(&self) -> bool {
        self.0.choice == "ABSTAIN"
    }
    async fn comment(&self) -> &str {
        &self.0.comment
    }
    async fn cast_at(&self) -> DateTime<Utc> {
        self.0.cast_at
    }
}

/// A condition proposed with a GO_WITH_CONDITIONS vote.
#[derive(InputObject)]
pub struct ConditionInput {
    pub text: String,
    /// Required: a project member, who answers for closing the condition. Nullable so that a
    /// missing owner is a `BAD_USER_INPUT` on this field, listed with the vote's other problems.
    pub owner_id: Option<ID>,
    /// Required: the date by which the condition is closed (nullable for the same reason).
    pub due_date: Option<Date>,
}

#[derive(InputObject)]
pub struct DecisionVoteCastInput {
    pub decision_id: ID,
    /// Leave out (or null) to abstain.
    pub choice: Option<DecisionChoice>,
    /// Required for NO_GO and REJECT.
    pub comment: Option<String>,
    /// Required (at least one) with GO_WITH_CONDITIONS.
    #[graphql(default)]
    pub conditions: Vec<ConditionInput>,
    /// Vote in the seat of a committee member who delegated their vote to you.
    pub on_behalf_of: Option<ID>,
}

payload!(DecisionVoteCastPayload { decision: Decision });

#[derive(Default)]
pub struct DecisionMutation;

#[Object]
impl DecisionMutation {
    /// Casts the signed-in user's vote. Steering committee members named when the ballot
    /// opened, once each. The ballot is decided the moment the project's rule is met, and the
    /// decision takes effect at once (a gate passes, a baseline is taken, ...).
    async fn decision_vote_cast(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: DecisionVoteCastInput,
    ) -> async_graphql::Result<DecisionVoteCastPayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        let decision_id = decode(&input.decision_id, Kind::Decision, &["decisionId"])
            .map_err(|r| refusals.push(r))
            .ok();
        let mut conditions = Vec::with_capacity(input.conditions.len());
        for (index, condition) in input.conditions.into_iter().enumerate() {
            let index = index.to_string();
            let owner_id = condition
                .owner_id
                .map(|id| decode(&id, Kind::User, &["conditions", &index, "ownerId"]))
                .transpose()
                .map_err(|r| refusals.push(r))
                .ok()
                .flatten();
            conditions.push(ProposedCondition {
                text: condition.text,
                owner_id,
                due_date: condition.due_date.map(Into::into),
            });
        }
        let on_behalf_of = input.on_behalf_of.as_ref().and_then(|id| {
            decode(id, Kind::User, &["onBehalfOf"])
                .map_err(|r| refusals.push(r))
                .ok()
        });
        let result = match decision_id.filter(|_| refusals.is_empty()) {
            Some(id) => {
                let vote = VoteInput {
                    choice: input.choice.map(Into::into),
                    comment: input.comment,
                    conditions,
                    on_behalf_of,
                };
                service::decision::cast(state(ctx), &caller, id, vote)
                    .await
                    .map(|outcome| Decision(outcome.decision))
            }
            None => Err(ServiceError::Refused(
                refusals.finish().err().unwrap_or_default(),
            )),
        };
        respond(ctx, result)
    }
}
