//! Users: creation by an admin or the operator, and sign-in with a password.

use std::collections::HashSet;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;
use steerco_entity::user;
use uuid::Uuid;

use super::audit::{AuditEntry, Origin, append_in_txn};
use super::whole_row;
use super::{
    AppState, Caller, ServiceError, ServiceResult, begin_write, commit, unique_violation_as,
};
use crate::domain::user::{EmailAddress, Locale, Password, PersonName};
use crate::domain::{Refusal, Refusals};

/// Input for a new user, as typed.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub locale: Option<String>,
    pub admin: bool,
    pub password: Option<String>,
}

/// Creates a user. `caller` is `None` for the operator at the command line; otherwise it must
/// be an admin.
pub async fn create(
    state: &AppState,
    caller: Option<&Caller>,
    input: NewUser,
) -> ServiceResult<user::Model> {
    if caller.is_some_and(|caller| !caller.actor.admin) {
        return Err(ServiceError::Forbidden);
    }
    let mut refusals = Refusals::default();
    let email = refusals.field(&["email"], EmailAddress::parse(&input.email));
    let name = refusals.field(&["name"], PersonName::parse(&input.name));
    let locale = refusals.field(
        &["locale"],
        input.locale.as_deref().map_or(Ok(Locale::En), str::parse),
    );
    let password = match input.password.as_deref() {
        Some(raw) => refusals
            .field(&["password"], Password::parse(raw))
            .map(Some),
        None => Some(None),
    };
    let (Some(email), Some(name), Some(locale), Some(password)) = (email, name, locale, password)
    else {
        return Err(refusals.finish().err().unwrap_or_default().into());
    };
    let password_hash = match password {
        Some(password) => Some(off_the_runtime(move || hash_password(&password)).await??),
        None => None,
    };

    let txn = begin_write(&state.writer).await?;
    if find_by_email(&txn, &email).await?.is_some() {
        return Err(Refusal::conflict(&["email"], "a user with this email already exists").into());
    }
    let now = state.clock.now();
    let model = user::Model {
        id: Uuid::now_v7(),
        email: email.as_str().to_owned(),
        name: name.as_str().to_owned(),
        locale: locale.as_str().to_owned(),
        active: true,
        admin: input.admin,
        password_hash,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    whole_row::insert(&txn, model.clone())
        .await
        .map_err(unique_violation_as(
            &["email"],
            "a user with this email already exists",
        ))?;
    let origin = caller.map_or(Origin::OPERATOR, Origin::from);
    append_in_txn(
        &txn,
        origin,
        now,
        AuditEntry {
            project_id: None,
            entity_type: "User",
            entity_id: model.id,
            action: "user.created",
            before: None,
            after: Some(snapshot(&model)),
        },
    )
    .await?;
    commit(txn).await?;
    Ok(model)
}

/// What the audit trail records of a user (never the password hash).
pub fn snapshot(user: &user::Model) -> serde_json::Value {
    json!({
        "email": user.email,
        "name": user.name,
        "locale": user.locale,
        "active": user.active,
        "admin": user.admin,
        "hasPassword": user.password_hash.is_some(),
        "version": user.version,
    })
}

pub async fn find_by_email(
    conn: &impl ConnectionTrait,
    email: &EmailAddress,
) -> ServiceResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(conn)
        .await?)
}

pub async fn find_by_id(
    conn: &impl ConnectionTrait,
    id: Uuid,
) -> ServiceResult<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(conn).await?)
}

fn hash_password(password: &Password) -> ServiceResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ServiceError::Internal(format!("password hashing: {e}")))
}

/// A hash to verify against when no user matches, so that the answer takes as long for an
/// unknown email as for a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"steerco decoy password", &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

/// Runs Argon2, which spends tens of milliseconds of CPU by design, on Tokio's blocking threads:
/// run on a worker of the runtime, a few sign-ins at once would hold up every other request.
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> ServiceResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ServiceError::Internal(format!("password hashing: {error}")))
}

/// The active user whose password this is, or `None`.
pub async fn check_password(
    conn: &impl ConnectionTrait,
    email: &str,
    password: &str,
) -> ServiceResult<Option<user::Model>> {
    let user = match EmailAddress::parse(email) {
        Ok(email) => find_by_email(conn, &email).await?,
        Err(_) => None,
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let password = password.to_owned();
    let matches = off_the_runtime(move || {
        let stored: &str = match &stored {
            Some(hash) => hash,
            None => decoy_hash(),
        };
        PasswordHash::new(stored).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await?;
    Ok(user.filter(|u| matches && u.active && u.password_hash.is_some()))
}

/// Users by id, for loaders.
pub async fn by_ids(conn: &impl ConnectionTrait, ids: &[Uuid]) -> ServiceResult<Vec<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?)
}

/// Those of `user_ids` that `viewer` may see: themselves, and people sharing a project with
/// them; an administrator, everyone. One statement at most, whatever their number.
pub async fn visible_among(
    conn: &impl ConnectionTrait,
    viewer: &super::Actor,
    user_ids: &[Uuid],
) -> ServiceResult<HashSet<Uuid>> {
    use sea_orm::QuerySelect;
    use steerco_entity::project_member;
    if viewer.admin {
        return Ok(user_ids.iter().copied().collect());
    }
    let mut seen = HashSet::new();
    let mut others = Vec::with_capacity(user_ids.len());
    for &id in user_ids {
        if id == viewer.user_id {
            seen.insert(id);
        } else {
            others.push(id);
        }
    }
    if others.is_empty() {
        return Ok(seen);
    }
    let sharing: Vec<Uuid> = project_member::Entity::find()
        .select_only()
        .column(project_member::Column::UserId)
        .distinct()
        .filter(project_member::Column::UserId.is_in(others))
        .filter(
            project_member::Column::ProjectId
                .in_subquery(super::access::projects_of_member(viewer.user_id)),
        )
        .into_tuple()
        .all(conn)
        .await?;
    seen.extend(sharing);
    Ok(seen)
}
