//! The audit trail: reading it and verifying its hash chain.

use async_graphql::{Context, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use steerco_entity::audit_event;

use super::context::{actor, state};
use super::error::to_top_level;
use super::id::{GlobalId, Kind, decode};
use super::page::{Conn, PageArgs, connection};
use super::user::User;
use crate::domain::RefusalCode;
use crate::domain::audit::ChainBreak;
use crate::service::{self, ServiceError};

/// One recorded change. Append-only: the database refuses to alter or delete it.
#[derive(Clone, Debug)]
pub struct AuditEvent(pub audit_event::Model);

fn parse_json(text: Option<&str>) -> Option<Json<serde_json::Value>> {
    text.and_then(|text| serde_json::from_str(text).ok())
        .map(Json)
}

#[Object]
impl AuditEvent {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::AuditEvent, self.0.id)
    }
    /// Position in the project's chain, from 1.
    async fn seq(&self) -> i64 {
        self.0.seq
    }
    /// Who made the change; null for the operator at the command line.
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(actor_id) = self.0.actor_id else {
            return Ok(None);
        };
        Ok(super::loader::user(ctx, actor_id).await?.map(User))
    }
    /// The changed object's type, e.g. "Project".
    async fn entity_type(&self) -> &str {
        &self.0.entity_type
    }
    /// The changed object's UUID.
    async fn entity_id(&self) -> uuid::Uuid {
        self.0.entity_id
    }
    /// What happened, e.g. "project.initiate".
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn before(&self) -> Option<Json<serde_json::Value>> {
        parse_json(self.0.before.as_deref())
    }
    async fn after(&self) -> Option<Json<serde_json::Value>> {
        parse_json(self.0.after.as_deref())
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    /// The id of the HTTP request that made the change, as logged by the server.
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }
    async fn prev_hash(&self) -> &str {
        &self.0.prev_hash
    }
    async fn hash(&self) -> &str {
        &self.0.hash
    }
}

/// The outcome of re-hashing a project's audit chain.
#[derive(SimpleObject)]
pub struct AuditChainVerification {
    /// True when every event's hash matches its content and links to the one before.
    pub valid: bool,
    pub event_count: i64,
    /// Events checked before the first break (all of them when valid).
    pub verified_count: i64,
    /// The `seq` of the first event that fails, if any.
    pub broken_at_seq: Option<i64>,
    /// What is wrong there: GAP (an event missing or inserted), UNLINKED or ALTERED.
    pub problem: Option<String>,
}

#[derive(Default)]
pub struct AuditQuery;

fn missing_project(ctx: &Context<'_>, error: ServiceError) -> Option<async_graphql::Error> {
    match error {
        ServiceError::Refused(refusals)
            if refusals.iter().all(|r| r.code == RefusalCode::NotFound) =>
        {
            None
        }
        other => Some(to_top_level(ctx, other)),
    }
}

#[Object]
impl AuditQuery {
    /// A project's audit trail, oldest first. Null when the project is not visible.
    #[graphql(complexity = "super::page::cost(first, last, child_complexity)")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Option<Conn<AuditEvent>>> {
        let viewer = actor(ctx)?;
        let window = PageArgs {
            first,
            after,
            last,
            before,
        }
        .window()?;
        let Ok(project_id) = decode(&project_id, Kind::Project, &["projectId"]) else {
            return Ok(None);
        };
        match service::audit::project_events(&state(ctx).db, viewer, project_id, &window).await {
            Ok(page) => Ok(Some(connection(page, |e| e.seq, AuditEvent))),
            Err(error) => missing_project(ctx, error).map_or(Ok(None), Err),
        }
    }

    /// Re-hashes a project's whole audit chain. Null when the project is not visible.
    async fn audit_chain_verify(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
    ) -> async_graphql::Result<Option<AuditChainVerification>> {
        let viewer = actor(ctx)?;
        let Ok(project_id) = decode(&project_id, Kind::Project, &["projectId"]) else {
            return Ok(None);
        };
        match service::audit::verify_project_chain(&state(ctx).db, viewer, project_id).await {
            Ok(report) => Ok(Some(AuditChainVerification {
                valid: report.is_valid(),
                event_count: report.event_count,
                verified_count: report.verified_count,
                broken_at_seq: report.first_break.as_ref().map(ChainBreak::seq),
                problem: report.first_break.map(|broken| {
                    match broken {
                        ChainBreak::Gap { .. } => "GAP",
                        ChainBreak::Unlinked { .. } => "UNLINKED",
                        ChainBreak::Altered { .. } => "ALTERED",
                    }
                    .to_owned()
                }),
            })),
            Err(error) => missing_project(ctx, error).map_or(Ok(None), Err),
        }
    }
}
