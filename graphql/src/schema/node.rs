//! The `Node` interface and the `node` / `nodes` roots.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, Interface, Object};
use futures_util::future::try_join_all;
use steerco_entity::{
    api_token, audit_event, change_request, decision, defect, deliverable, exit_criterion,
    gate_condition, go_live_plan, milestone, milestone_dependency, phase, project, project_member,
    raci_activity, schedule_baseline, scope_version, test_cycle, test_scenario,
};
use uuid::Uuid;

use super::audit::AuditEvent;
use super::change_request::ChangeRequest;
use super::context::{actor, state};
use super::decision::Decision;
use super::error::{limit_exceeded, to_top_level};
use super::go_live::GoLivePlan;
use super::id::{Kind, decode_any};
use super::loader::{self, ById, ProjectKey, RequestLoader, Row};
use super::member::ProjectMember;
use super::milestone::{Milestone, MilestoneDependency, ScheduleBaseline};
use super::page::MAX_PAGE_SIZE;
use super::phase::{Deliverable, ExitCriterion, GateCondition, Phase};
use super::project::Project;
use super::raci::RaciActivity;
use super::scope::ScopeVersion;
use super::uat::{Defect, TestCycle, TestScenario};
use super::user::{ApiToken, User};
use crate::service::{self, Actor, ServiceError};

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

/// An object read by its id, before the check of its project.
enum Read {
    /// Checked already, by rules of its own.
    Checked(Node),
    /// A user, shown to themselves, to those sharing a project with them, to administrators.
    User(Uuid),
    /// A project, shown when the viewer sees it.
    Project(Uuid),
    /// Shown when the viewer sees the project.
    InProject(Uuid, Node),
    /// Shown when the viewer sees the phase's project.
    InPhase(Uuid, Node),
    /// An event outside any project: shown to administrators.
    AdminOnly(Node),
    /// A RACI activity of the project, shown when the viewer sees the project, with the rule
    /// violations its project's matrix gives it.
    RaciActivity(Uuid, Uuid),
}

/// Resolves global ids to the objects the viewer may see, in the order of `ids`; everything
/// else is `None`, so a hidden object looks exactly like a missing one. The ids are read in
/// three steps, each of which waits for the whole of the one before: the rows, through the
/// request's by-id loaders (one statement per table); the phases of exit criteria,
/// deliverables and gate conditions; and the caller's standing on every project named (one
/// statement), beside the users the caller may see and their rows (two). A loader asked for
/// a key that one of its batches is still reading reads it again; no step starts before
/// every batch of the one before has ended, so none does. RACI activities, shown with their
/// rule violations, then read their projects' matrices: a statement for each project the
/// viewer sees, however many of its activities are asked.
async fn resolve(ctx: &Context<'_>, ids: &[ID]) -> async_graphql::Result<Vec<Option<Node>>> {
    let viewer = actor(ctx)?;
    let read = try_join_all(ids.iter().map(|id| read(ctx, viewer, id))).await?;
    let read = try_join_all(read.into_iter().map(|read| async move {
        Ok::<_, async_graphql::Error>(match read {
            Some(Read::InPhase(phase_id, node)) => loader::by_id::<phase::Model>(ctx, phase_id)
                .await?
                .map(|phase| Read::InProject(phase.project_id, node)),
            other => other,
        })
    }))
    .await?;
    let mut projects: Vec<Uuid> = read
        .iter()
        .filter_map(|read| match read {
            Some(Read::Project(id) | Read::InProject(id, _) | Read::RaciActivity(id, _)) => {
                Some(*id)
            }
            _ => None,
        })
        .collect();
    projects.sort_unstable();
    projects.dedup();
    let users: Vec<Uuid> = read
        .iter()
        .filter_map(|read| match read {
            Some(Read::User(id)) => Some(*id),
            _ => None,
        })
        .collect();
    let (visible, users) = tokio::try_join!(
        try_join_all(
            projects
                .into_iter()
                .map(|id| loader::visible_project(ctx, ProjectKey::Id(id))),
        ),
        visible_users(ctx, viewer, &users),
    )?;
    let visible: HashMap<Uuid, project::Model> = visible
        .into_iter()
        .flatten()
        .map(|project| (project.id, project))
        .collect();
    let mut matrices: Vec<Uuid> = read
        .iter()
        .filter_map(|read| match read {
            Some(Read::RaciActivity(project_id, _)) if visible.contains_key(project_id) => {
                Some(*project_id)
            }
            _ => None,
        })
        .collect();
    matrices.sort_unstable();
    matrices.dedup();
    let db = &state(ctx).db;
    let activities: HashMap<Uuid, service::raci::ActivityRow> =
        try_join_all(matrices.into_iter().map(|id| service::raci::matrix(db, id)))
            .await
            .map_err(|e| to_top_level(ctx, e))?
            .into_iter()
            .flatten()
            .map(|row| (row.activity.id, row))
            .collect();
    Ok(read
        .into_iter()
        .map(|read| match read? {
            Read::Checked(node) => Some(node),
            Read::User(id) => users.get(&id).cloned().map(|u| Node::User(User(u))),
            Read::Project(id) => visible.get(&id).cloned().map(|p| Node::Project(Project(p))),
            Read::InProject(project_id, node) => visible.contains_key(&project_id).then_some(node),
            Read::InPhase(..) => None,
            Read::AdminOnly(node) => viewer.admin.then_some(node),
            Read::RaciActivity(_, id) => activities
                .get(&id)
                .cloned()
                .map(|row| Node::RaciActivity(RaciActivity::from(row))),
        })
        .collect())
}

/// Reads the object `id` names, leaving the check of its project to [`resolve`].
async fn read(ctx: &Context<'_>, viewer: &Actor, id: &ID) -> async_graphql::Result<Option<Read>> {
    let Some((kind, uuid)) = decode_any(id) else {
        return Ok(None);
    };
    Ok(match kind {
        Kind::User => Some(Read::User(uuid)),
        // A token is shown to its holder and to administrators.
        Kind::ApiToken => loader::by_id::<api_token::Model>(ctx, uuid)
            .await?
            .filter(|token| viewer.admin || token.user_id == viewer.user_id)
            .map(|token| Read::Checked(Node::ApiToken(ApiToken(token)))),
        Kind::RaciActivity => {
            row(ctx, uuid, |a: raci_activity::Model| {
                Read::RaciActivity(a.project_id, a.id)
            })
            .await?
        }
        Kind::Project => Some(Read::Project(uuid)),
        Kind::ProjectMember => {
            row(ctx, uuid, |m: project_member::Model| {
                Read::InProject(m.project_id, Node::ProjectMember(ProjectMember(m)))
            })
            .await?
        }
        Kind::AuditEvent => {
            row(ctx, uuid, |e: audit_event::Model| match e.project_id {
                Some(project_id) => Read::InProject(project_id, Node::AuditEvent(AuditEvent(e))),
                None => Read::AdminOnly(Node::AuditEvent(AuditEvent(e))),
            })
            .await?
        }
        Kind::Phase => {
            row(ctx, uuid, |p: phase::Model| {
                Read::InProject(p.project_id, Node::Phase(Phase(p)))
            })
            .await?
        }
        Kind::Milestone => {
            row(ctx, uuid, |m: milestone::Model| {
                Read::InProject(m.project_id, Node::Milestone(Milestone(m)))
            })
            .await?
        }
        Kind::MilestoneDependency => {
            row(ctx, uuid, |l: milestone_dependency::Model| {
                Read::InProject(
                    l.project_id,
                    Node::MilestoneDependency(MilestoneDependency(l)),
                )
            })
            .await?
        }
        Kind::ScheduleBaseline => {
            row(ctx, uuid, |b: schedule_baseline::Model| {
                Read::InProject(b.project_id, Node::ScheduleBaseline(ScheduleBaseline(b)))
            })
            .await?
        }
        Kind::Decision => {
            row(ctx, uuid, |d: decision::Model| {
                Read::InProject(d.project_id, Node::Decision(Decision(d)))
            })
            .await?
        }
        Kind::ExitCriterion => {
            row(ctx, uuid, |c: exit_criterion::Model| {
                Read::InPhase(c.phase_id, Node::ExitCriterion(ExitCriterion(c)))
            })
            .await?
        }
        Kind::Deliverable => {
            row(ctx, uuid, |d: deliverable::Model| {
                Read::InPhase(d.phase_id, Node::Deliverable(Deliverable(d)))
            })
            .await?
        }
        Kind::GateCondition => {
            row(ctx, uuid, |c: gate_condition::Model| {
                Read::InPhase(c.phase_id, Node::GateCondition(GateCondition(c)))
            })
            .await?
        }
        Kind::ScopeVersion => {
            row(ctx, uuid, |v: scope_version::Model| {
                Read::InProject(v.project_id, Node::ScopeVersion(ScopeVersion(v)))
            })
            .await?
        }
        Kind::ChangeRequest => {
            row(ctx, uuid, |c: change_request::Model| {
                Read::InProject(c.project_id, Node::ChangeRequest(ChangeRequest(c)))
            })
            .await?
        }
        Kind::TestScenario => {
            row(ctx, uuid, |x: test_scenario::Model| {
                Read::InProject(x.project_id, Node::TestScenario(TestScenario(x)))
            })
            .await?
        }
        Kind::TestCycle => {
            row(ctx, uuid, |x: test_cycle::Model| {
                Read::InProject(x.project_id, Node::TestCycle(TestCycle(x)))
            })
            .await?
        }
        Kind::Defect => {
            row(ctx, uuid, |x: defect::Model| {
                Read::InProject(x.project_id, Node::Defect(Defect(x)))
            })
            .await?
        }
        Kind::GoLivePlan => {
            row(ctx, uuid, |p: go_live_plan::Model| {
                Read::InProject(p.project_id, Node::GoLivePlan(GoLivePlan(p)))
            })
            .await?
        }
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

/// The row `id` of `M`, if it exists, as `read` makes of it.
async fn row<M: Row>(
    ctx: &Context<'_>,
    id: Uuid,
    read: impl FnOnce(M) -> Read,
) -> async_graphql::Result<Option<Read>>
where
    ById<M>: RequestLoader + Loader<Uuid, Value = M, Error = Arc<ServiceError>>,
{
    Ok(loader::by_id::<M>(ctx, id).await?.map(read))
}

/// Those of `ids` the viewer may see, by id.
async fn visible_users(
    ctx: &Context<'_>,
    viewer: &Actor,
    ids: &[Uuid],
) -> async_graphql::Result<HashMap<Uuid, Arc<steerco_entity::user::Model>>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let visible = service::user::visible_among(&state(ctx).db, viewer, ids)
        .await
        .map_err(|e| to_top_level(ctx, e))?;
    Ok(loader::users(ctx, visible)
        .await?
        .into_iter()
        .map(|user| (user.id, user))
        .collect())
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global id; null when it does not exist or is not visible.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        Ok(resolve(ctx, std::slice::from_ref(&id))
            .await?
            .pop()
            .flatten())
    }

    /// Several objects by global id, in the order asked (at most 100); null where not found.
    #[graphql(complexity = "ids.len().max(1) * child_complexity")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        actor(ctx)?;
        if ids.len() > MAX_PAGE_SIZE as usize {
            return Err(limit_exceeded(&format!(
                "nodes takes at most {MAX_PAGE_SIZE} ids"
            )));
        }
        resolve(ctx, &ids).await
    }
}
