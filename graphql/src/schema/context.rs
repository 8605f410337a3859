//! What a resolver reads from the request: the caller, the request id, the services.

use async_graphql::Context;

use super::error::unauthenticated;
use crate::service::{Actor, AppState, Caller};

/// Per-request data, set by the HTTP layer.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub actor: Option<Actor>,
    pub request_id: String,
}

pub fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub fn request_id<'a>(ctx: &Context<'a>) -> &'a str {
    ctx.data_opt::<RequestContext>()
        .map_or("-", |request| request.request_id.as_str())
}

/// The authenticated actor, or an `UNAUTHENTICATED` error.
pub fn actor<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Actor> {
    ctx.data_opt::<RequestContext>()
        .and_then(|request| request.actor.as_ref())
        .ok_or_else(unauthenticated)
}

/// The authenticated caller with the request id, for commands.
pub fn caller(ctx: &Context<'_>) -> async_graphql::Result<Caller> {
    Ok(Caller {
        actor: actor(ctx)?.clone(),
        request_id: Some(request_id(ctx).to_owned()),
    })
}
