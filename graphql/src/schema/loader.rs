//! DataLoaders: one batched query per relation and request level, never one per parent.
//!
//! A request makes each loader when a field first asks for it ([`Loaders`]); they keep what
//! they read until its end (a subscription's keep nothing), and [`FreshReadsPerMutation`]
//! empties them before each mutation of a document. What is shown together is read together:
//! a project with the caller's membership, a plan's phases with their milestones, ballots
//! with their votes. Most loaders read the rows of one table whose parent column holds one of
//! their keys (`children_loader!` over [`service::children_of`]); [`ById`] reads rows by their
//! own id, for `nodes(ids:)`.

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ServerResult, Value};
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use sea_orm::{EntityTrait, QueryOrder};
use steerco_entity::{
    api_token, audit_event, change_request, change_request_comment, cost_baseline, cutover_task,
    decision, decision_vote, defect, defect_comment, deliverable, exit_criterion, gate_condition,
    go_live_criterion, go_live_plan, hypercare_metric, metric_reading, milestone,
    milestone_dependency, phase, project, project_member, raci_activity, raci_assignment,
    schedule_baseline, schedule_baseline_entry, scope_signatory, scope_version, test_cycle,
    test_execution, test_scenario, user,
};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use uuid::Uuid;

use crate::service::access::Standing;
use crate::service::milestone::Calendar;
use crate::service::{self, Actor, AppState, IdMap, ServiceError, ServiceResult};

/// Users by id.
pub struct UserLoader(pub AppState);

impl Loader<Uuid> for UserLoader {
    type Value = Arc<user::Model>;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let users = service::user::by_ids(&self.0.db, keys)
            .await
            .map_err(Arc::new)?;
        Ok(users
            .into_iter()
            .map(|user| (user.id, Arc::new(user)))
            .collect())
    }
}

/// How a request names a project.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProjectKey {
    Id(Uuid),
    /// A code as stored (see [`service::project::stored_code`]).
    Code(String),
}

/// Each project a request reaches, by id or by code, with the caller's standing on it, read
/// once per request: the fields that name the same project (a dashboard's `project(code:)`
/// and `raciMatrix(projectId:)`, the health of its milestones) share one statement, and every
/// project read is kept under both its id and its code.
pub struct ProjectAccessLoader {
    state: AppState,
    actor: Option<Actor>,
}

impl Loader<ProjectKey> for ProjectAccessLoader {
    type Value = Arc<Standing>;
    type Error = Arc<ServiceError>;

    async fn load(
        &self,
        keys: &[ProjectKey],
    ) -> Result<HashMap<ProjectKey, Arc<Standing>>, Self::Error> {
        let Some(actor) = &self.actor else {
            return Ok(HashMap::new());
        };
        let mut ids = Vec::new();
        let mut codes = Vec::new();
        for key in keys {
            match key {
                ProjectKey::Id(id) => ids.push(*id),
                ProjectKey::Code(code) => codes.push(code.clone()),
            }
        }
        let standings = service::access::standings(&self.state.db, actor, &ids, &codes)
            .await
            .map_err(Arc::new)?;
        Ok(standings
            .into_iter()
            .flat_map(|standing| {
                let standing = Arc::new(standing);
                [
                    (ProjectKey::Id(standing.project.id), Arc::clone(&standing)),
                    (ProjectKey::Code(standing.project.code.clone()), standing),
                ]
            })
            .collect())
    }
}

/// Declares a loader of the children of many parents in one query: read by `$fetch`, or the
/// rows of `$entity` whose `$parent` field (column `$column`) is a key, in `$order`.
macro_rules! children_loader {
    ($(#[$meta:meta])* $name:ident, $model:ty, $parent:ident, $fetch:path) => {
        $(#[$meta])*
        pub struct $name(pub AppState);

        impl Loader<Uuid> for $name {
            type Value = Vec<$model>;
            type Error = Arc<ServiceError>;

            async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
                let rows: ServiceResult<Vec<$model>> = $fetch(&self.0, keys).await;
                Ok(service::group(keys, rows.map_err(Arc::new)?, |row| row.$parent))
            }
        }
    };
    ($(#[$meta:meta])* $name:ident, $entity:ident :: $parent:ident = $column:ident,
     |$rows:ident| $order:expr) => {
        $(#[$meta])*
        pub struct $name(pub AppState);

        impl Loader<Uuid> for $name {
            type Value = Vec<$entity::Model>;
            type Error = Arc<ServiceError>;

            async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
                let rows = service::children_of(
                    &self.0,
                    $entity::Column::$column,
                    keys,
                    |$rows: sea_orm::Select<$entity::Entity>| $order,
                )
                .await
                .map_err(Arc::new)?;
                Ok(service::group(keys, rows, |row| row.$parent))
            }
        }
    };
}

children_loader!(
    /// The members of each project.
    MembersLoader, project_member::Model, project_id, service::member::of_projects
);
children_loader!(
    /// The exit criteria of each phase.
    CriteriaLoader, exit_criterion::Model, phase_id, service::phase::criteria_of
);
children_loader!(
    /// The required deliverables of each phase.
    DeliverablesLoader, deliverable::Model, phase_id, service::phase::deliverables_of
);
children_loader!(
    /// The conditions each phase's gate set.
    ConditionsLoader, gate_condition::Model, phase_id, service::phase::conditions_of
);

/// A project's plan: its phases in order, each with its milestones by forecast date.
#[derive(Debug, Default)]
pub struct Plan(Vec<(phase::Model, Vec<milestone::Model>)>);

impl Plan {
    pub fn phases(&self) -> impl Iterator<Item = &phase::Model> {
        self.0.iter().map(|(phase, _)| phase)
    }

    /// The milestones of one phase, by forecast date.
    pub fn milestones_of(&self, phase_id: Uuid) -> &[milestone::Model] {
        self.0
            .iter()
            .find(|(phase, _)| phase.id == phase_id)
            .map_or(&[], |(_, milestones)| milestones.as_slice())
    }

    /// Every milestone of the project, phase by phase.
    pub fn milestones(&self) -> impl Iterator<Item = &milestone::Model> {
        self.0.iter().flat_map(|(_, milestones)| milestones)
    }
}

/// The plan of each project, phases and milestones in one statement: the dashboard, the
/// portfolio's schedule health and the current phase all read from it.
pub struct PlanLoader(pub AppState);

impl Loader<Uuid> for PlanLoader {
    type Value = Arc<Plan>;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Arc<Plan>>, Self::Error> {
        let rows = service::phase::plans_of(&self.0, keys)
            .await
            .map_err(Arc::new)?;
        let mut plans: HashMap<Uuid, Vec<_>> = keys.iter().map(|key| (*key, Vec::new())).collect();
        for (phase, milestones) in rows {
            plans
                .entry(phase.project_id)
                .or_default()
                .push((phase, milestones));
        }
        Ok(plans
            .into_iter()
            .map(|(project, phases)| (project, Arc::new(Plan(phases))))
            .collect())
    }
}
children_loader!(
    /// What the UAT metrics read of each project's defects.
    DefectMetricsLoader, service::uat::DefectMetricRow, project_id, service::uat::defect_metric_rows_for
);
children_loader!(
    /// Each project's open defects counted by severity.
    OpenDefectCountsLoader, service::uat::OpenDefectCount, project_id, service::uat::open_defect_counts_of
);
/// The ballots about each subject (phase, change request), oldest first, with their votes.
pub struct DecisionsLoader(pub AppState);

impl Loader<Uuid> for DecisionsLoader {
    type Value = Vec<(decision::Model, Vec<decision_vote::Model>)>;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = service::decision::with_votes_of_subjects(&self.0, keys)
            .await
            .map_err(Arc::new)?;
        Ok(service::group(keys, rows, |(ballot, _)| ballot.subject_id))
    }
}
children_loader!(
    /// The votes of each ballot, in casting order.
    VotesLoader, decision_vote::Model, decision_id, service::decision::votes_of_many
);
children_loader!(
    /// The comments on each change request, oldest first.
    ChangeRequestCommentsLoader, change_request_comment::change_request_id = ChangeRequestId,
    |rows| rows
        .order_by_asc(change_request_comment::Column::CreatedAt)
        .order_by_asc(change_request_comment::Column::Id)
);
children_loader!(
    /// The comments on each defect, oldest first.
    DefectCommentsLoader, defect_comment::defect_id = DefectId,
    |rows| rows
        .order_by_asc(defect_comment::Column::CreatedAt)
        .order_by_asc(defect_comment::Column::Id)
);
children_loader!(
    /// The go-live plans of each project, oldest first.
    GoLivePlansLoader, go_live_plan::project_id = ProjectId,
    |rows| rows.order_by_asc(go_live_plan::Column::Id)
);
children_loader!(
    /// The runbook tasks of each go-live plan, in runbook order.
    CutoverTasksLoader, cutover_task::plan_id = PlanId,
    |rows| rows.order_by_asc(cutover_task::Column::Position)
);
children_loader!(
    /// The manual go/no-go criteria of each go-live plan.
    ManualCriteriaLoader, go_live_criterion::plan_id = PlanId,
    |rows| rows.order_by_asc(go_live_criterion::Column::Id)
);
children_loader!(
    /// The hypercare metrics of each go-live plan.
    HypercareMetricsLoader, hypercare_metric::plan_id = PlanId,
    |rows| rows.order_by_asc(hypercare_metric::Column::Id)
);
children_loader!(
    /// The readings of each hypercare metric, oldest first.
    MetricReadingsLoader, metric_reading::metric_id = MetricId,
    |rows| rows
        .order_by_asc(metric_reading::Column::TakenAt)
        .order_by_asc(metric_reading::Column::Id)
);
children_loader!(
    /// The UAT scenarios of each project.
    ScenariosLoader, test_scenario::project_id = ProjectId,
    |rows| rows.order_by_asc(test_scenario::Column::Id)
);
children_loader!(
    /// The test cycles of each project.
    CyclesLoader, test_cycle::project_id = ProjectId,
    |rows| rows.order_by_asc(test_cycle::Column::Id)
);
children_loader!(
    /// The executions of each test cycle, in the order they were recorded.
    ExecutionsLoader, test_execution::cycle_id = CycleId,
    |rows| rows.order_by_asc(test_execution::Column::Id)
);
children_loader!(
    /// The milestone links of each project.
    MilestoneLinksLoader, milestone_dependency::project_id = ProjectId,
    |rows| rows.order_by_asc(milestone_dependency::Column::Id)
);
children_loader!(
    /// The schedule baselines of each project, oldest first.
    ScheduleBaselinesLoader, schedule_baseline::project_id = ProjectId,
    |rows| rows.order_by_asc(schedule_baseline::Column::Number)
);
children_loader!(
    /// The entries of each schedule baseline, by baseline date.
    BaselineEntriesLoader, schedule_baseline_entry::baseline_id = BaselineId,
    |rows| rows
        .order_by_asc(schedule_baseline_entry::Column::BaselineDate)
        .order_by_asc(schedule_baseline_entry::Column::Id)
);
children_loader!(
    /// The cost baselines of each project, oldest first.
    CostBaselinesLoader, cost_baseline::project_id = ProjectId,
    |rows| rows.order_by_asc(cost_baseline::Column::Number)
);
children_loader!(
    /// The scope versions of each project, oldest first.
    ScopeVersionsLoader, scope_version::project_id = ProjectId,
    |rows| rows.order_by_asc(scope_version::Column::Number)
);
children_loader!(
    /// The signatories of each scope version.
    SignatoriesLoader, scope_signatory::scope_version_id = ScopeVersionId,
    |rows| rows.order_by_asc(scope_signatory::Column::Id)
);
children_loader!(
    /// The ballots of each project, newest first.
    ProjectDecisionsLoader, decision::project_id = ProjectId,
    |rows| rows.order_by_desc(decision::Column::Id)
);

children_loader!(
    /// The API tokens of each user, newest first.
    ApiTokensLoader, api_token::user_id = UserId,
    |rows| rows.order_by_desc(api_token::Column::Id)
);

/// What the go/no-go criteria of each project's plans are computed from.
pub struct GoLiveCriteriaDataLoader(pub AppState);

impl Loader<Uuid> for GoLiveCriteriaDataLoader {
    type Value = Arc<service::go_live::CriteriaData>;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let data = service::go_live::CriteriaData::read_many(&self.0.db, keys)
            .await
            .map_err(Arc::new)?;
        Ok(data.into_iter().map(|(id, d)| (id, Arc::new(d))).collect())
    }
}

/// The defects of each project, by number.
pub struct DefectsLoader(pub AppState);

impl Loader<Uuid> for DefectsLoader {
    type Value = Arc<Vec<defect::Model>>;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = service::children_of::<defect::Entity>(
            &self.0,
            defect::Column::ProjectId,
            keys,
            |rows| rows.order_by_asc(defect::Column::Number),
        )
        .await
        .map_err(Arc::new)?;
        Ok(service::group(keys, rows, |row| row.project_id)
            .into_iter()
            .map(|(project, defects)| (project, Arc::new(defects)))
            .collect())
    }
}

/// A project's change requests under one filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChangeRequestsKey {
    pub project_id: Uuid,
    pub filter: service::change_request::CrFilter,
}

/// The change requests of each project under each filter asked, newest number last: one
/// statement per filter (a page of projects asks them all with one), read for the caller.
pub struct ChangeRequestListLoader {
    state: AppState,
    actor: Option<Actor>,
}

impl Loader<ChangeRequestsKey> for ChangeRequestListLoader {
    type Value = Arc<Vec<change_request::Model>>;
    type Error = Arc<ServiceError>;

    async fn load(
        &self,
        keys: &[ChangeRequestsKey],
    ) -> Result<HashMap<ChangeRequestsKey, Self::Value>, Self::Error> {
        let Some(actor) = &self.actor else {
            return Ok(HashMap::new());
        };
        let mut by_filter: HashMap<&service::change_request::CrFilter, Vec<Uuid>> = HashMap::new();
        for key in keys {
            by_filter
                .entry(&key.filter)
                .or_default()
                .push(key.project_id);
        }
        let mut found = HashMap::with_capacity(keys.len());
        for (filter, project_ids) in by_filter {
            let lists = service::change_request::lists_of(&self.state, actor, &project_ids, filter)
                .await
                .map_err(Arc::new)?;
            found.extend(lists.into_iter().map(|(project_id, list)| {
                let key = ChangeRequestsKey {
                    project_id,
                    filter: filter.clone(),
                };
                (key, Arc::new(list))
            }));
        }
        Ok(found)
    }
}

/// How many open change requests each project has.
pub struct OpenChangeRequestCountLoader(pub AppState);

impl Loader<Uuid> for OpenChangeRequestCountLoader {
    type Value = i64;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, i64>, Self::Error> {
        let counts = service::change_request::open_counts_of(&self.0, keys)
            .await
            .map_err(Arc::new)?;
        Ok(counts.into_iter().collect())
    }
}

/// A row found by its id: what [`ById`] reads.
pub trait Row: sea_orm::FromQueryResult + Clone + Send + Sync + 'static {
    type Entity: EntityTrait<Model = Self>;
    /// The column of the row's id.
    const ID: <Self::Entity as EntityTrait>::Column;
    fn id(&self) -> Uuid;
}

/// Declares [`Row`] for models whose id is the column `Id`.
macro_rules! rows {
    ($($entity:ident),* $(,)?) => {$(
        impl Row for $entity::Model {
            type Entity = $entity::Entity;
            const ID: $entity::Column = $entity::Column::Id;
            fn id(&self) -> Uuid {
                self.id
            }
        }
    )*};
}

rows!(
    api_token,
    audit_event,
    change_request,
    decision,
    defect,
    deliverable,
    exit_criterion,
    gate_condition,
    go_live_plan,
    milestone,
    milestone_dependency,
    phase,
    project_member,
    raci_activity,
    schedule_baseline,
    scope_version,
    test_cycle,
    test_scenario,
);

/// Rows of one table by id: the objects of `nodes(ids:)`, a baseline's causing change.
pub struct ById<M>(AppState, PhantomData<fn() -> M>);

impl<M> ById<M> {
    fn new(state: AppState) -> Self {
        Self(state, PhantomData)
    }
}

impl<M: Row> Loader<Uuid> for ById<M> {
    type Value = M;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, M>, Self::Error> {
        let rows = service::children_of::<M::Entity>(&self.0, M::ID, keys, |rows| rows)
            .await
            .map_err(Arc::new)?;
        Ok(rows.into_iter().map(|row| (row.id(), row)).collect())
    }
}

/// The RACI assignments of each user, with their activities.
pub struct UserRaciLoader(pub AppState);

impl Loader<Uuid> for UserRaciLoader {
    type Value = Vec<(raci_assignment::Model, raci_activity::Model)>;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = service::raci::assignments_of_users(&self.0, keys)
            .await
            .map_err(Arc::new)?;
        Ok(service::group(keys, rows, |(assignment, _)| {
            assignment.user_id
        }))
    }
}

/// The change summary of each project.
pub struct ChangeSummaryLoader(pub AppState);

impl Loader<Uuid> for ChangeSummaryLoader {
    type Value = Arc<service::change_request::ChangeSummary>;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let summaries = service::change_request::summaries_of(&self.0, keys)
            .await
            .map_err(Arc::new)?;
        Ok(summaries
            .into_iter()
            .map(|(id, summary)| (id, Arc::new(summary)))
            .collect())
    }
}

/// Where the loaders of a request run their batches.
#[derive(Clone)]
pub enum Batching {
    /// As runtime tasks: for subscriptions, whose resolvers run as events arrive.
    Spawned,
    /// Inside the request's own task, run by [`Batches::drive`] only once the resolvers have
    /// gone as far as they can without data. Every resolver of a level has then asked for its
    /// keys, so a level is one statement however the runtime schedules; a batch spawned on
    /// the runtime could start on the other core while its siblings still register keys, and
    /// split a list of fifty into batches of two.
    InRequest(UnboundedSender<BoxFuture<'static, ()>>),
}

impl Batching {
    /// Batching in the request's task, and the batches to drive beside it.
    pub fn in_request() -> (Self, Batches) {
        let (queue, queued) = tokio::sync::mpsc::unbounded_channel();
        (Self::InRequest(queue), Batches(queued))
    }

    fn spawner(&self) -> impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static {
        let queue = match self {
            Self::Spawned => None,
            Self::InRequest(queue) => Some(queue.clone()),
        };
        move |batch| match &queue {
            None => drop(tokio::spawn(batch)),
            // The receiver lives as long as the request it serves; a batch queued after it
            // ended has nobody waiting for it.
            Some(queue) => drop(queue.send(batch)),
        }
    }
}

/// The batches a request's loaders queued, not yet run.
pub struct Batches(UnboundedReceiver<BoxFuture<'static, ()>>);

/// Times a request that keeps waking itself is polled again before its batches run: a list
/// resolves its items in a `FuturesUnordered`, which yields after every two items that wake
/// themselves, and a page holds at most 100.
const MAX_REPOLLS: usize = 1_000;

impl Batches {
    /// Runs `request` to its end, running the queued batches whenever it waits for them.
    pub async fn drive<F: Future>(mut self, request: F) -> F::Output {
        let mut request = std::pin::pin!(request);
        let mut running = FuturesUnordered::new();
        let noticing = Arc::new(NoticingWaker::default());
        std::future::poll_fn(move |cx| {
            noticing.wake_also(cx.waker());
            let waker = Waker::from(noticing.clone());
            let mut request_cx = Context::from_waker(&waker);
            for _ in 0..MAX_REPOLLS {
                noticing.woken.store(false, Ordering::SeqCst);
                if let Poll::Ready(output) = request.as_mut().poll(&mut request_cx) {
                    return Poll::Ready(output);
                }
                // Woken by the runtime's budget running out, it would only be woken again.
                if !noticing.woken.load(Ordering::SeqCst)
                    || !tokio::task::coop::has_budget_remaining()
                {
                    break;
                }
            }
            while let Poll::Ready(Some(batch)) = self.0.poll_recv(cx) {
                running.push(batch);
            }
            while let Poll::Ready(Some(())) = running.poll_next_unpin(cx) {}
            Poll::Pending
        })
        .await
    }
}

/// Wakes the task, and notes that it did: a request that woke itself while being polled has
/// more to do before it needs its batches.
#[derive(Default)]
struct NoticingWaker {
    woken: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl NoticingWaker {
    fn wake_also(&self, task: &Waker) {
        let mut current = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if !current.as_ref().is_some_and(|known| known.will_wake(task)) {
            *current = Some(task.clone());
        }
    }
}

impl Wake for NoticingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        if let Some(task) = self.task.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            task.wake_by_ref();
        }
    }
}

/// Declares [`Loaders`]: every loader of a request built from the application state alone
/// (the project access loader, which also needs the caller, is added beside them), each made
/// when a field first asks for it, since a request uses a few of them.
macro_rules! request_loaders {
    ($($field:ident: $name:ident),* $(,)?;
     by id: $($row_field:ident: $entity:ident),* $(,)?) => {
        /// The loaders of one request or subscription, each made on its first use.
        pub struct Loaders {
            state: AppState,
            batching: Batching,
            $($field: OnceLock<DataLoader<$name, HashMapCache>>,)*
            $($row_field: OnceLock<DataLoader<ById<$entity::Model>, HashMapCache>>,)*
        }

        impl Loaders {
            fn new(state: &AppState, batching: &Batching) -> Self {
                Self {
                    state: state.clone(),
                    batching: batching.clone(),
                    $($field: OnceLock::new(),)*
                    $($row_field: OnceLock::new(),)*
                }
            }

            /// Empties the cache of every loader made so far.
            fn forget(&self) {
                $(if let Some(loader) = self.$field.get() {
                    loader.clear::<Uuid>();
                })*
                $(if let Some(loader) = self.$row_field.get() {
                    loader.clear::<Uuid>();
                })*
            }
        }

        $(impl RequestLoader for $name {
            fn of(loaders: &Loaders) -> &DataLoader<Self, HashMapCache> {
                loaders
                    .$field
                    .get_or_init(|| cached::<Uuid, _>(&loaders.batching, $name(loaders.state.clone())))
            }
        })*

        $(impl RequestLoader for ById<$entity::Model> {
            fn of(loaders: &Loaders) -> &DataLoader<Self, HashMapCache> {
                loaders.$row_field.get_or_init(|| {
                    cached::<Uuid, _>(&loaders.batching, ById::new(loaders.state.clone()))
                })
            }
        })*
    };
}

/// A loader of a request's [`Loaders`].
pub trait RequestLoader: Loader<Uuid> + Sized {
    /// The request's loader of this kind, made if this is its first use.
    fn of(loaders: &Loaders) -> &DataLoader<Self, HashMapCache>;
}

/// The request's loader `T`.
fn loader<'a, T: RequestLoader>(
    ctx: &async_graphql::Context<'a>,
) -> &'a DataLoader<T, HashMapCache> {
    T::of(ctx.data_unchecked::<Loaders>())
}

/// Empties every loader's cache.
fn forget_everything(ctx: &ExtensionContext<'_>) {
    if let Some(loaders) = ctx.data_opt::<Loaders>() {
        loaders.forget();
    }
    if let Some(loader) = ctx.data_opt::<DataLoader<ProjectAccessLoader, HashMapCache>>() {
        loader.clear::<ProjectKey>();
    }
    if let Some(loader) = ctx.data_opt::<DataLoader<ChangeRequestListLoader, HashMapCache>>() {
        loader.clear::<ChangeRequestsKey>();
    }
    if let Some(calendars) = ctx.data_opt::<ProjectCalendars>() {
        calendars.forget();
    }
}

request_loaders!(
    users: UserLoader,
    members: MembersLoader,
    plans: PlanLoader,
    criteria: CriteriaLoader,
    deliverables: DeliverablesLoader,
    conditions: ConditionsLoader,
    defect_metrics: DefectMetricsLoader,
    open_defect_counts: OpenDefectCountsLoader,
    open_change_request_counts: OpenChangeRequestCountLoader,
    decisions: DecisionsLoader,
    votes: VotesLoader,
    change_request_comments: ChangeRequestCommentsLoader,
    defect_comments: DefectCommentsLoader,
    change_summaries: ChangeSummaryLoader,
    go_live_plans: GoLivePlansLoader,
    cutover_tasks: CutoverTasksLoader,
    manual_criteria: ManualCriteriaLoader,
    hypercare_metrics: HypercareMetricsLoader,
    metric_readings: MetricReadingsLoader,
    scenarios: ScenariosLoader,
    cycles: CyclesLoader,
    executions: ExecutionsLoader,
    milestone_links: MilestoneLinksLoader,
    schedule_baselines: ScheduleBaselinesLoader,
    baseline_entries: BaselineEntriesLoader,
    cost_baselines: CostBaselinesLoader,
    scope_versions: ScopeVersionsLoader,
    signatories: SignatoriesLoader,
    project_decisions: ProjectDecisionsLoader,
    go_live_criteria_data: GoLiveCriteriaDataLoader,
    defects: DefectsLoader,
    api_tokens_of_users: ApiTokensLoader,
    user_raci: UserRaciLoader;
    by id:
    api_tokens: api_token,
    audit_events: audit_event,
    change_requests: change_request,
    decisions_by_id: decision,
    defects_by_id: defect,
    deliverables_by_id: deliverable,
    exit_criteria: exit_criterion,
    gate_conditions: gate_condition,
    go_live_plans_by_id: go_live_plan,
    milestones: milestone,
    milestone_links_by_id: milestone_dependency,
    phases: phase,
    project_members: project_member,
    raci_activities: raci_activity,
    schedule_baselines_by_id: schedule_baseline,
    scope_versions_by_id: scope_version,
    test_cycles: test_cycle,
    test_scenarios: test_scenario,
);

/// A loader with a delay of zero, which keeps what it read for the rest of a request. No
/// delay: it would be paid on every level, and [`Batching::InRequest`] batches a level without
/// one. A subscription lives for hours and must see memberships and votes as they change: its
/// loaders keep nothing.
fn cached<K, T>(batching: &Batching, loader: T) -> DataLoader<T, HashMapCache>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    T: Loader<K>,
{
    let loader = DataLoader::with_cache(loader, batching.spawner(), HashMapCache::default())
        .delay(Duration::ZERO);
    loader.enable_all_cache(matches!(batching, Batching::InRequest(_)));
    loader
}

/// Adds fresh loaders for one request or subscription.
pub fn insert_all(
    data: &mut async_graphql::Data,
    state: &AppState,
    actor: Option<&Actor>,
    batching: &Batching,
) {
    data.insert(Loaders::new(state, batching));
    if matches!(batching, Batching::InRequest(_)) {
        data.insert(ProjectCalendars::default());
    }
    data.insert(cached::<ProjectKey, _>(
        batching,
        ProjectAccessLoader {
            state: state.clone(),
            actor: actor.cloned(),
        },
    ));
    data.insert(cached::<ChangeRequestsKey, _>(
        batching,
        ChangeRequestListLoader {
            state: state.clone(),
            actor: actor.cloned(),
        },
    ));
}

/// Empties the request's loaders before each top-level mutation field: a mutation may change
/// anything they read, and its payload must show it as it is now.
pub struct FreshReadsPerMutation;

impl ExtensionFactory for FreshReadsPerMutation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(FreshReadsPerMutation)
    }
}

#[async_trait::async_trait]
impl Extension for FreshReadsPerMutation {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.parent_type == "MutationRoot" && info.path_node.parent.is_none() {
            forget_everything(ctx);
        }
        next.run(ctx, info).await
    }
}

/// Loads the children of `parent` through the loader `T`.
pub async fn children<T>(
    ctx: &async_graphql::Context<'_>,
    parent: Uuid,
) -> async_graphql::Result<T::Value>
where
    T: RequestLoader + Loader<Uuid, Error = Arc<ServiceError>>,
    T::Value: Default,
{
    one::<T>(ctx, parent).await.map(Option::unwrap_or_default)
}

/// What the loader `T` holds for `key`, if anything.
async fn one<T>(
    ctx: &async_graphql::Context<'_>,
    key: Uuid,
) -> async_graphql::Result<Option<T::Value>>
where
    T: RequestLoader + Loader<Uuid, Error = Arc<ServiceError>>,
{
    loader::<T>(ctx)
        .load_one(key)
        .await
        .map_err(|e| super::error::to_top_level(ctx, ServiceError::Internal(e.to_string())))
}

fn access_loader<'a>(
    ctx: &async_graphql::Context<'a>,
) -> &'a DataLoader<ProjectAccessLoader, HashMapCache> {
    ctx.data_unchecked::<DataLoader<ProjectAccessLoader, HashMapCache>>()
}

/// The caller's standing on a project, read at most once per request and shared by every
/// field that asks (each milestone's health asks for its project).
async fn standing(
    ctx: &async_graphql::Context<'_>,
    key: ProjectKey,
) -> async_graphql::Result<Option<Arc<Standing>>> {
    access_loader(ctx)
        .load_one(key)
        .await
        .map_err(|e| super::error::to_top_level(ctx, ServiceError::Internal(e.to_string())))
}

/// A project, when the caller may see it.
pub async fn visible_project(
    ctx: &async_graphql::Context<'_>,
    key: ProjectKey,
) -> async_graphql::Result<Option<project::Model>> {
    Ok(standing(ctx, key)
        .await?
        .and_then(|standing| Standing::visible(Arc::unwrap_or_clone(standing))))
}

/// Those of `project_ids` the caller may see, their standings read with the request's others.
pub async fn visible_projects(
    ctx: &async_graphql::Context<'_>,
    project_ids: impl IntoIterator<Item = Uuid>,
) -> async_graphql::Result<HashSet<Uuid>> {
    let standings = access_loader(ctx)
        .load_many(project_ids.into_iter().map(ProjectKey::Id))
        .await
        .map_err(|e| super::error::to_top_level(ctx, ServiceError::Internal(e.to_string())))?;
    Ok(standings
        .into_iter()
        .filter_map(|(key, standing)| match key {
            ProjectKey::Id(id) => Standing::visible(Arc::unwrap_or_clone(standing)).map(|_| id),
            ProjectKey::Code(_) => None,
        })
        .collect())
}

/// Each project's today (in its time zone) and health thresholds, worked out once per request
/// for the health of all its milestones: a dashboard shows fifty, and looking the project up
/// in its loader and reading the clock for each was 3 % of the dashboard's instructions. Like
/// the loaders' caches, kept by requests only (a subscription's today must move with the
/// clock) and emptied before each mutation.
#[derive(Default)]
pub struct ProjectCalendars(Mutex<IdMap<Calendar>>);

impl ProjectCalendars {
    fn get(&self, project_id: Uuid) -> Option<Calendar> {
        self.0.lock().ok()?.get(&project_id).copied()
    }

    fn keep(&self, project_id: Uuid, calendar: Calendar) {
        if let Ok(mut kept) = self.0.lock() {
            kept.insert(project_id, calendar);
        }
    }

    fn forget(&self) {
        if let Ok(mut kept) = self.0.lock() {
            kept.clear();
        }
    }
}

/// The project's today and health thresholds, the same for the rest of the request (or until
/// its next mutation).
pub async fn calendar(
    ctx: &async_graphql::Context<'_>,
    project_id: Uuid,
) -> async_graphql::Result<Calendar> {
    let kept = ctx.data_opt::<ProjectCalendars>();
    if let Some(calendar) = kept.and_then(|kept| kept.get(project_id)) {
        return Ok(calendar);
    }
    let standing = project(ctx, project_id).await?;
    let calendar =
        service::milestone::calendar_of(&standing.project, super::context::state(ctx).clock.now());
    if let Some(kept) = kept {
        kept.keep(project_id, calendar);
    }
    Ok(calendar)
}

/// Loads one project by id (the caller has already seen something of it); its model is
/// `.project` of the standing.
pub async fn project(
    ctx: &async_graphql::Context<'_>,
    id: Uuid,
) -> async_graphql::Result<Arc<Standing>> {
    standing(ctx, ProjectKey::Id(id)).await?.ok_or_else(|| {
        super::error::to_top_level(ctx, ServiceError::Internal("project vanished".into()))
    })
}

/// The ballots about a subject, oldest first; their votes, read with them, are kept for the
/// rest of the request.
pub async fn ballots(
    ctx: &async_graphql::Context<'_>,
    subject_id: Uuid,
) -> async_graphql::Result<Vec<decision::Model>> {
    let ballots = children::<DecisionsLoader>(ctx, subject_id).await?;
    let mut models = Vec::with_capacity(ballots.len());
    let mut votes = Vec::with_capacity(ballots.len());
    for (ballot, cast) in ballots {
        votes.push((ballot.id, cast));
        models.push(ballot);
    }
    loader::<VotesLoader>(ctx).feed_many(votes).await;
    Ok(models)
}

/// A project's change requests that pass `filter`, newest number last.
pub async fn change_requests(
    ctx: &async_graphql::Context<'_>,
    project_id: Uuid,
    filter: service::change_request::CrFilter,
) -> async_graphql::Result<Arc<Vec<change_request::Model>>> {
    let found = ctx
        .data_unchecked::<DataLoader<ChangeRequestListLoader, HashMapCache>>()
        .load_one(ChangeRequestsKey { project_id, filter })
        .await
        .map_err(|e| super::error::to_top_level(ctx, ServiceError::Internal(e.to_string())))?;
    Ok(found.unwrap_or_default())
}

/// What the go/no-go criteria of a project's plans are computed from.
pub async fn criteria_data(
    ctx: &async_graphql::Context<'_>,
    project_id: Uuid,
) -> async_graphql::Result<Arc<service::go_live::CriteriaData>> {
    one::<GoLiveCriteriaDataLoader>(ctx, project_id)
        .await?
        .ok_or_else(|| {
            super::error::to_top_level(ctx, ServiceError::Internal("plan without project".into()))
        })
}

/// Loads one row by id.
pub async fn by_id<M: Row>(
    ctx: &async_graphql::Context<'_>,
    id: Uuid,
) -> async_graphql::Result<Option<M>>
where
    ById<M>: RequestLoader + Loader<Uuid, Value = M, Error = Arc<ServiceError>>,
{
    one::<ById<M>>(ctx, id).await
}

/// The users of `ids` that exist, in the order of `ids`, loaded together: the users of every
/// item of a page asking at once share one statement.
pub async fn users(
    ctx: &async_graphql::Context<'_>,
    ids: impl IntoIterator<Item = Uuid>,
) -> async_graphql::Result<Vec<Arc<user::Model>>> {
    let found = futures_util::future::try_join_all(ids.into_iter().map(|id| user(ctx, id))).await?;
    Ok(found.into_iter().flatten().collect())
}

/// Loads one user by id.
pub async fn user(
    ctx: &async_graphql::Context<'_>,
    id: Uuid,
) -> async_graphql::Result<Option<Arc<user::Model>>> {
    one::<UserLoader>(ctx, id).await
}
