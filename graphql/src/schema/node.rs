//! The `Node` interface and the `node` / `nodes` roots.

use async_graphql::{Context, ID, Interface, Object};

use super::audit::AuditEvent;
use super::change_request::ChangeRequest;
use super::context::{actor, state};
use super::decision::Decision;
use super::error::{limit_exceeded, to_top_level};
use super::go_live::GoLivePlan;
use super::id::{Kind, decode_any};
use super::member::ProjectMember;
use super::milestone::{Milestone, MilestoneDependency, ScheduleBaseline};
use super::page::MAX_PAGE_SIZE;
use super::phase::{Deliverable, ExitCriterion, GateCondition, Phase};
use super::project::Project;
use super::raci::RaciActivity;
use super::scope::ScopeVersion;
use super::uat::{Defect, TestCycle, TestScenario};
use super::user::{ApiToken, User};
use crate::service::{self, Actor, AppState, ServiceResult};

/// An object with a global id, fetchable with `node(id)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    User(User),
    ApiToken(ApiToken),
    Project(Project),
    ProjectMember(ProjectMember),
    AuditEvent(AuditEvent),
    Phase(Phase),
    Milestone(Milestone),
    MilestoneDependency(MilestoneDependency),
    ScheduleBaseline(ScheduleBaseline),
    Decision(Decision),
    ExitCriterion(ExitCriterion),
    Deliverable(Deliverable),
    GateCondition(GateCondition),
    RaciActivity(RaciActivity),
    ScopeVersion(ScopeVersion),
    ChangeRequest(ChangeRequest),
    TestScenario(TestScenario),
    TestCycle(TestCycle),
    Defect(Defect),
    GoLivePlan(GoLivePlan),
}

/// Resolves a global id to an object the viewer may see; everything else is `None`, so a
/// hidden object looks exactly like a missing one.
async fn resolve(app: &AppState, viewer: &Actor, id: &ID) -> ServiceResult<Option<Node>> {
    let Some((kind, uuid)) = decode_any(id) else {
        return Ok(None);
    };
    Ok(match kind {
        Kind::User => {
            if service::user::can_see(&app.db, viewer, uuid).await? {
                service::user::find_by_id(&app.db, uuid)
                    .await?
                    .map(|u| Node::User(User::from(u)))
            } else {
                None
            }
        }
        Kind::ApiToken => service::token::visible(app, viewer, uuid)
            .await?
            .map(|t| Node::ApiToken(ApiToken(t))),
        Kind::Project => service::project::by_id(app, viewer, uuid)
            .await?
            .map(|p| Node::Project(Project(p))),
        Kind::ProjectMember => service::member::visible(app, viewer, uuid)
            .await?
            .map(|m| Node::ProjectMember(ProjectMember(m))),
        Kind::AuditEvent => service::audit::visible_event(&app.db, viewer, uuid)
            .await?
            .map(|e| Node::AuditEvent(AuditEvent(e))),
        Kind::Phase => service::phase::visible(app, viewer, uuid)
            .await?
            .map(|p| Node::Phase(Phase(p))),
        Kind::Milestone => service::milestone::visible(app, viewer, uuid)
            .await?
            .map(|m| Node::Milestone(Milestone(m))),
        Kind::MilestoneDependency => service::milestone::visible_link(app, viewer, uuid)
            .await?
            .map(|l| Node::MilestoneDependency(MilestoneDependency(l))),
        Kind::ScheduleBaseline => service::baseline::visible(app, viewer, uuid)
            .await?
            .map(|b| Node::ScheduleBaseline(ScheduleBaseline(b))),
        Kind::Decision => service::decision::visible(app, viewer, uuid)
            .await?
            .map(|d| Node::Decision(Decision(d))),
        Kind::ExitCriterion => service::phase::visible_criterion(app, viewer, uuid)
            .await?
            .map(|c| Node::ExitCriterion(ExitCriterion(c))),
        Kind::Deliverable => service::phase::visible_deliverable(app, viewer, uuid)
            .await?
            .map(|d| Node::Deliverable(Deliverable(d))),
        Kind::GateCondition => service::phase::visible_condition(app, viewer, uuid)
            .await?
            .map(|c| Node::GateCondition(GateCondition(c))),
        Kind::RaciActivity => service::raci::visible_activity(app, viewer, uuid)
            .await?
            .map(|row| Node::RaciActivity(RaciActivity::from(row))),
        Kind::ScopeVersion => service::scope::visible(app, viewer, uuid)
            .await?
            .map(|v| Node::ScopeVersion(ScopeVersion(v))),
        Kind::ChangeRequest => service::change_request::visible(app, viewer, uuid)
            .await?
            .map(|c| Node::ChangeRequest(ChangeRequest(c))),
        Kind::TestScenario => service::uat::visible_scenario(app, viewer, uuid)
            .await?
            .map(|x| Node::TestScenario(TestScenario(x))),
        Kind::TestCycle => service::uat::visible_cycle(app, viewer, uuid)
            .await?
            .map(|x| Node::TestCycle(TestCycle(x))),
        Kind::Defect => service::uat::visible_defect(app, viewer, uuid)
            .await?
            .map(|x| Node::Defect(Defect(x))),
        Kind::GoLivePlan => service::go_live::visible(app, viewer, uuid)
            .await?
            .map(|p| Node::GoLivePlan(GoLivePlan(p))),
        // Executions are reached through their cycle; runbook tasks, manual criteria and
        // metrics through their plan.
        // Emails through their project's `notifications`.
        Kind::TestExecution
        | Kind::CutoverTask
        | Kind::ManualCriterion
        | Kind::HypercareMetric
        | Kind::Notification => None,
    })
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global id; null when it does not exist or is not visible.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        let viewer = actor(ctx)?;
        resolve(state(ctx), viewer, &id)
            .await
            .map_err(|e| to_top_level(ctx, e))
    }

    /// Several objects by global id, in the order asked (at most 100); null where not found.
    #[graphql(complexity = "ids.len().max(1) * child_complexity")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        let viewer = actor(ctx)?;
        if ids.len() > MAX_PAGE_SIZE as usize {
            return Err(limit_exceeded(&format!(
                "nodes takes at most {MAX_PAGE_SIZE} ids"
            )));
        }
        let mut found = Vec::with_capacity(ids.len());
        for id in &ids {
            found.push(
                resolve(state(ctx), viewer, id)
                    .await
                    .map_err(|e| to_top_level(ctx, e))?,
            );
        }
        Ok(found)
    }
}
