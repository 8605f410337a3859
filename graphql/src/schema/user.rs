//! Users, API tokens and sign-in.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use steerco_entity::{api_token, user};

use super::context::{actor, caller, request_id, state};
use super::error::{Payload, UserError, payload, respond, to_top_level};
use super::id::{GlobalId, Kind, decode};
use super::idempotency::IdempotencyKeyArg;
use crate::domain::credential::TokenKind;
use crate::domain::user::Locale as DomainLocale;
use crate::service::{self, ServiceError};

/// The languages Steerco writes to people in.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::user::Locale")]
pub enum Locale {
    /// English (`en`).
    En,
    /// Simplified Chinese (`zh-CN`).
    ZhCn,
}

/// A person who signs in.
///
/// A dashboard resolves a user for every cell of its RACI matrix, and async-graphql moves
/// each field's future, which is as large as the largest of the object's fields, once per
/// field. The fields that read the database therefore keep their reads on the heap (`Box::pin`),
/// so that `id` and `name` do not each move a few kilobytes.
///
/// Shared: a user the request's loader read, or that a RACI matrix lists, answers wherever it
/// is named (a dashboard's RACI matrix names some eighty people) without a copy of its row.
#[derive(Clone, Debug)]
pub struct User(pub Arc<user::Model>);

impl From<user::Model> for User {
    fn from(model: user::Model) -> Self {
        Self(Arc::new(model))
    }
}

#[Object(serial)]
impl User {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::User, self.0.id)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn locale(&self) -> Locale {
        self.0
            .locale
            .parse::<DomainLocale>()
            .unwrap_or_default()
            .into()
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    async fn admin(&self) -> bool {
        self.0.admin
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Open ballots of every kind that wait for this user's vote (visible to the user only).
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn pending_votes(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::decision::Decision>> {
        let viewer = actor(ctx)?;
        if viewer.user_id != self.0.id {
            return Ok(Vec::new());
        }
        let pending = Box::pin(service::change_request::pending_decisions(
            state(ctx),
            viewer.user_id,
        ))
        .await
        .map_err(|e| to_top_level(ctx, e))?;
        Ok(pending.into_iter().map(super::decision::Decision).collect())
    }
    /// The user's RACI assignments across the projects the viewer can see.
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn raci(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::raci::MyRaciAssignment>> {
        actor(ctx)?;
        let rows = super::loader::children::<super::loader::UserRaciLoader>(ctx, self.0.id).await?;
        let projects: Vec<uuid::Uuid> = rows.iter().map(|(_, a)| a.project_id).collect();
        let visible = super::loader::visible_projects(ctx, projects).await?;
        Ok(rows
            .into_iter()
            .filter(|(_, activity)| visible.contains(&activity.project_id))
            .map(|(assignment, activity)| super::raci::MyRaciAssignment {
                assignment,
                activity,
            })
            .collect())
    }
    /// How each class of email reaches the user; visible to the user only.
    async fn notification_preferences(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::notification::NotificationPreference>> {
        let viewer = actor(ctx)?;
        if viewer.user_id != self.0.id {
            return Ok(Vec::new());
        }
        Box::pin(super::notification::preferences_of(ctx, self.0.id)).await
    }
    /// The user's tokens, newest first; visible to the user and to admins.
    #[graphql(complexity = "super::page::list_cost(child_complexity)")]
    async fn api_tokens(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiToken>> {
        let viewer = actor(ctx)?;
        if !(viewer.admin || viewer.user_id == self.0.id) {
            return Ok(Vec::new());
        }
        let tokens =
            super::loader::children::<super::loader::ApiTokensLoader>(ctx, self.0.id).await?;
        Ok(tokens.into_iter().map(ApiToken).collect())
    }
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::credential::TokenKind")]
pub enum ApiTokenKind {
    /// Long-lived, created with `apiTokenCreate`.
    Api,
    /// Issued by `sessionCreate`; expires.
    Session,
}

/// A bearer token's record. The token itself is shown once, when it is created.
#[derive(Clone, Debug)]
pub struct ApiToken(pub api_token::Model);

#[Object]
impl ApiToken {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::ApiToken, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn kind(&self) -> ApiTokenKind {
        TokenKind::parse(&self.0.kind)
            .unwrap_or(TokenKind::Api)
            .into()
    }
    /// The first characters of the token, to tell tokens apart.
    async fn display_prefix(&self) -> &str {
        &self.0.display_prefix
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let viewer = actor(ctx)?;
        service::user::find_by_id(&state(ctx).db, viewer.user_id)
            .await
            .map_err(|e| to_top_level(ctx, e))?
            .map(User::from)
            .ok_or_else(super::error::unauthenticated)
    }
}

#[derive(InputObject)]
pub struct UserCreateInput {
    pub email: String,
    pub name: String,
    /// Defaults to `EN`.
    pub locale: Option<Locale>,
    #[graphql(default)]
    pub admin: bool,
    /// Optional: lets the user sign in with `sessionCreate`. At least 12 characters.
    #[graphql(secret)]
    pub password: Option<String>,
}

payload!(UserCreatePayload { user: User });

#[derive(InputObject)]
pub struct ApiTokenCreateInput {
    /// What the token is for, e.g. "CI pipeline".
    pub name: String,
    /// Optional expiry; never expires when absent.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new token: `token` is shown here once and never again.
#[derive(SimpleObject)]
pub struct ApiTokenCreatePayload {
    pub token: Option<String>,
    pub api_token: Option<ApiToken>,
    pub user_errors: Vec<UserError>,
}

impl Payload for ApiTokenCreatePayload {
    type Value = service::token::IssuedToken;
    fn ok(issued: Self::Value) -> Self {
        Self {
            token: Some(issued.token),
            api_token: Some(ApiToken(issued.record)),
            user_errors: Vec::new(),
        }
    }
    fn refused(user_errors: Vec<UserError>) -> Self {
        Self {
            token: None,
            api_token: None,
            user_errors,
        }
    }
}

#[derive(InputObject)]
pub struct ApiTokenRevokeInput {
    pub id: ID,
}

payload!(ApiTokenRevokePayload {
    api_token: ApiToken
});

#[derive(InputObject)]
pub struct SessionCreateInput {
    pub email: String,
    #[graphql(secret)]
    pub password: String,
}

/// A session: use `token` as a bearer token until `expiresAt`.
#[derive(SimpleObject)]
pub struct SessionCreatePayload {
    pub token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub user: Option<User>,
    pub user_errors: Vec<UserError>,
}

impl Payload for SessionCreatePayload {
    type Value = (service::token::IssuedToken, Option<user::Model>);
    fn ok((issued, user): Self::Value) -> Self {
        Self {
            token: Some(issued.token),
            expires_at: issued.record.expires_at,
            user: user.map(User::from),
            user_errors: Vec::new(),
        }
    }
    fn refused(user_errors: Vec<UserError>) -> Self {
        Self {
            token: None,
            expires_at: None,
            user: None,
            user_errors,
        }
    }
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Creates a user. Admins only.
    async fn user_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: UserCreateInput,
    ) -> async_graphql::Result<UserCreatePayload> {
        let caller = caller(ctx)?;
        let result = service::user::create(
            state(ctx),
            Some(&caller),
            service::user::NewUser {
                email: input.email,
                name: input.name,
                locale: input
                    .locale
                    .map(|l| DomainLocale::from(l).as_str().to_owned()),
                admin: input.admin,
                password: input.password,
            },
        )
        .await;
        respond(ctx, result.map(User::from))
    }

    /// Creates an API token for the signed-in user.
    async fn api_token_create(
        &self,
        ctx: &Context<'_>,
        input: ApiTokenCreateInput,
    ) -> async_graphql::Result<ApiTokenCreatePayload> {
        let caller = caller(ctx)?;
        let result =
            service::token::create(state(ctx), &caller, &input.name, input.expires_at).await;
        respond(ctx, result)
    }

    /// Revokes one of the signed-in user's tokens (admins: anyone's).
    async fn api_token_revoke(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: ApiTokenRevokeInput,
    ) -> async_graphql::Result<ApiTokenRevokePayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::ApiToken, &["id"]) {
            Ok(id) => service::token::revoke(state(ctx), &caller, id).await,
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result.map(ApiToken))
    }

    /// Signs in with email and password. Needs no token.
    async fn session_create(
        &self,
        ctx: &Context<'_>,
        input: SessionCreateInput,
    ) -> async_graphql::Result<SessionCreatePayload> {
        let app = state(ctx);
        let result: Result<_, ServiceError> = async {
            let issued = service::token::create_session(
                app,
                &input.email,
                &input.password,
                Some(request_id(ctx)),
            )
            .await?;
            let user = service::user::find_by_id(&app.db, issued.record.user_id).await?;
            Ok((issued, user))
        }
        .await;
        respond(ctx, result)
    }
}
