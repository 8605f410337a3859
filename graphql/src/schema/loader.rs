//! DataLoaders: one batched query per relation and request level, never one per parent.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use steerco_entity::{
    decision, decision_vote, deliverable, exit_criterion, gate_condition, milestone, phase,
    project, project_member, user,
};
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

/// Adds fresh loaders for one request or subscription. A delay of zero: batching happens
/// per resolver level anyway, and a delay would be paid on every level.
pub fn insert_all(data: &mut async_graphql::Data, state: &AppState) {
    fn loader<T: Loader<Uuid>>(loader: T) -> DataLoader<T> {
        DataLoader::new(loader, tokio::spawn).delay(Duration::ZERO)
    }
    data.insert(loader(UserLoader(state.clone())));
    data.insert(loader(ProjectLoader(state.clone())));
    data.insert(loader(MembersLoader(state.clone())));
    data.insert(loader(PhasesLoader(state.clone())));
    data.insert(loader(CriteriaLoader(state.clone())));
    data.insert(loader(DeliverablesLoader(state.clone())));
    data.insert(loader(ConditionsLoader(state.clone())));
    data.insert(loader(MilestonesLoader(state.clone())));
    data.insert(loader(ProjectMilestonesLoader(state.clone())));
    data.insert(loader(DefectMetricsLoader(state.clone())));
    data.insert(loader(OpenChangeRequestCountLoader(state.clone())));
    data.insert(loader(DecisionsLoader(state.clone())));
    data.insert(loader(VotesLoader(state.clone())));
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
