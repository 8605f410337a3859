//! DataLoaders: one batched query per relation and request level, never one per parent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use steerco_entity::{
    decision, decision_vote, deliverable, exit_criterion, gate_condition, milestone, phase,
    project, project_member, user,
};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use uuid::Uuid;

use crate::service::{self, AppState, ServiceError, ServiceResult};

/// Users by id.
pub struct UserLoader(pub AppState);

impl Loader<Uuid> for UserLoader {
    type Value = user::Model;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, user::Model>, Self::Error> {
        let users = service::user::by_ids(&self.0.db, keys)
            .await
            .map_err(Arc::new)?;
        Ok(users.into_iter().map(|user| (user.id, user)).collect())
    }
}

/// Projects by id (for objects that need their project's settings, such as health).
pub struct ProjectLoader(pub AppState);

impl Loader<Uuid> for ProjectLoader {
    type Value = project::Model;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, project::Model>, Self::Error> {
        let projects = service::project::by_ids(&self.0.db, keys)
            .await
            .map_err(Arc::new)?;
        Ok(projects
            .into_iter()
            .map(|project| (project.id, project))
            .collect())
    }
}

/// Groups rows by a parent key, giving every asked key a (possibly empty) list.
fn group<M>(keys: &[Uuid], rows: Vec<M>, parent: impl Fn(&M) -> Uuid) -> HashMap<Uuid, Vec<M>> {
    let mut grouped: HashMap<Uuid, Vec<M>> = keys.iter().map(|key| (*key, Vec::new())).collect();
    for row in rows {
        grouped.entry(parent(&row)).or_default().push(row);
    }
    grouped
}

/// Declares a loader of the children of many parents in one query.
macro_rules! children_loader {
    ($(#[$meta:meta])* $name:ident, $model:ty, $parent:ident, $fetch:path) => {
        $(#[$meta])*
        pub struct $name(pub AppState);

        impl Loader<Uuid> for $name {
            type Value = Vec<$model>;
            type Error = Arc<ServiceError>;

            async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
                let rows: ServiceResult<Vec<$model>> = $fetch(&self.0, keys).await;
                Ok(group(keys, rows.map_err(Arc::new)?, |row| row.$parent))
            }
        }
    };
}

children_loader!(
    /// The members of each project.
    MembersLoader, project_member::Model, project_id, service::member::of_projects
);
children_loader!(
    /// The phases of each project, in order.
    PhasesLoader, phase::Model, project_id, service::phase::of_projects
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
children_loader!(
    /// The milestones of each phase, by forecast date.
    MilestonesLoader, milestone::Model, phase_id, service::milestone::of_phases
);
children_loader!(
    /// The milestones of each project, by forecast date.
    ProjectMilestonesLoader, milestone::Model, project_id, service::milestone::of_projects
);
children_loader!(
    /// What the UAT metrics read of each project's defects.
    DefectMetricsLoader, service::uat::DefectMetricRow, project_id, service::uat::defect_metric_rows_for
);
children_loader!(
    /// The ballots about each subject (phase, project), oldest first.
    DecisionsLoader, decision::Model, subject_id, service::decision::of_subjects
);
children_loader!(
    /// The votes of each ballot, in casting order.
    VotesLoader, decision_vote::Model, decision_id, service::decision::votes_of_many
);

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

/// Adds fresh loaders for one request or subscription. A delay of zero: a delay would be paid
/// on every level, and [`Batching::InRequest`] batches a level without one.
pub fn insert_all(data: &mut async_graphql::Data, state: &AppState, batching: &Batching) {
    fn loader<T: Loader<Uuid>>(batching: &Batching, loader: T) -> DataLoader<T> {
        DataLoader::new(loader, batching.spawner()).delay(Duration::ZERO)
    }
    data.insert(loader(batching, UserLoader(state.clone())));
    data.insert(loader(batching, ProjectLoader(state.clone())));
    data.insert(loader(batching, MembersLoader(state.clone())));
    data.insert(loader(batching, PhasesLoader(state.clone())));
    data.insert(loader(batching, CriteriaLoader(state.clone())));
    data.insert(loader(batching, DeliverablesLoader(state.clone())));
    data.insert(loader(batching, ConditionsLoader(state.clone())));
    data.insert(loader(batching, MilestonesLoader(state.clone())));
    data.insert(loader(batching, ProjectMilestonesLoader(state.clone())));
    data.insert(loader(batching, DefectMetricsLoader(state.clone())));
    data.insert(loader(
        batching,
        OpenChangeRequestCountLoader(state.clone()),
    ));
    data.insert(loader(batching, DecisionsLoader(state.clone())));
    data.insert(loader(batching, VotesLoader(state.clone())));
}

/// Loads the children of `parent` through the loader `T`.
pub async fn children<T>(
    ctx: &async_graphql::Context<'_>,
    parent: Uuid,
) -> async_graphql::Result<T::Value>
where
    T: Loader<Uuid, Error = Arc<ServiceError>>,
    T::Value: Default,
{
    ctx.data_unchecked::<DataLoader<T>>()
        .load_one(parent)
        .await
        .map_err(|e| super::error::to_top_level(ctx, ServiceError::Internal(e.to_string())))
        .map(Option::unwrap_or_default)
}

/// Loads one project by id (the caller has already seen something of it).
pub async fn project(
    ctx: &async_graphql::Context<'_>,
    id: Uuid,
) -> async_graphql::Result<project::Model> {
    ctx.data_unchecked::<DataLoader<ProjectLoader>>()
        .load_one(id)
        .await
        .map_err(|e| super::error::to_top_level(ctx, ServiceError::Internal(e.to_string())))?
        .ok_or_else(|| {
            super::error::to_top_level(ctx, ServiceError::Internal("project vanished".into()))
        })
}

/// Loads one user by id.
pub async fn user(
    ctx: &async_graphql::Context<'_>,
    id: Uuid,
) -> async_graphql::Result<Option<user::Model>> {
    ctx.data_unchecked::<DataLoader<UserLoader>>()
        .load_one(id)
        .await
        .map_err(|e| super::error::to_top_level(ctx, ServiceError::Internal(e.to_string())))
}
