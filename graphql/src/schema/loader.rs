//! DataLoaders: one batched query per relation and request level, never one per parent.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use steerco_entity::{project_member, user};
use uuid::Uuid;

use crate::service::{self, AppState, ServiceError};

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

/// The members of each project.
pub struct MembersLoader(pub AppState);

impl Loader<Uuid> for MembersLoader {
    type Value = Vec<project_member::Model>;
    type Error = Arc<ServiceError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let members = service::member::of_projects(&self.0, keys)
            .await
            .map_err(Arc::new)?;
        let mut by_project: HashMap<Uuid, Self::Value> =
            keys.iter().map(|key| (*key, Vec::new())).collect();
        for member in members {
            by_project
                .entry(member.project_id)
                .or_default()
                .push(member);
        }
        Ok(by_project)
    }
}

/// Fresh loaders for one request. A delay of zero: batching happens per resolver level
/// anyway, and a delay would be paid on every level.
pub fn for_request(state: &AppState) -> (DataLoader<UserLoader>, DataLoader<MembersLoader>) {
    (
        DataLoader::new(UserLoader(state.clone()), tokio::spawn).delay(Duration::ZERO),
        DataLoader::new(MembersLoader(state.clone()), tokio::spawn).delay(Duration::ZERO),
    )
}
