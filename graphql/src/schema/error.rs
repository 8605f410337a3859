//! Errors at the GraphQL boundary, mapped here once.
//!
//! Refusals become typed `userErrors` in mutation payloads; authentication, permission,
//! limit and internal failures become top-level errors with a stable `extensions.code`.

use async_graphql::{Enum, ErrorExtensions, SimpleObject};

use crate::domain::{Refusal, RefusalCode};
use crate::service::ServiceError;

/// Stable codes of `UserError`s.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::RefusalCode")]
pub enum UserErrorCode {
    /// A value is malformed, empty, too long or out of range.
    BadUserInput,
    /// The object does not exist, or is not visible to the caller.
    NotFound,
    /// A unique value is taken, or the object changed since it was read (see `currentVersion`).
    Conflict,
    /// The lifecycle does not allow the action now (see `currentState`, `allowedActions`).
    InvalidTransition,
    /// The action is allowed in this state but a guard is not met; one error per unmet item.
    PreconditionFailed,
    /// Email and password do not match an active user.
    InvalidCredentials,
    /// The caller may not vote on this ballot (not on the committee when it opened).
    NotEligible,
    /// The caller is party to what is decided (the requester, or who assessed the impact).
    ForbiddenSeparationOfDuties,
}

/// Why a mutation changed nothing. A payload lists every problem found, not only the first.
#[derive(SimpleObject, Clone, Debug)]
pub struct UserError {
    pub code: UserErrorCode,
    /// Path of the argument at fault, e.g. `["input", "name"]`; empty when no single field is.
    pub field: Vec<String>,
    pub message: String,
    /// With `CONFLICT` on a stale `expectedVersion`: the version the object has now.
    pub current_version: Option<i64>,
    /// With `INVALID_TRANSITION`: the state the object is in.
    pub current_state: Option<String>,
    /// With `INVALID_TRANSITION`: the actions the current state allows.
    pub allowed_actions: Vec<String>,
}

impl UserError {
    /// Maps a refusal whose field path is relative to the mutation's `input` argument.
    pub fn from_input_refusal(refusal: Refusal) -> Self {
        let field = if refusal.field.is_empty() {
            Vec::new()
        } else {
            std::iter::once("input".to_owned())
                .chain(refusal.field)
                .collect()
        };
        Self {
            code: refusal.code.into(),
            field,
            message: refusal.message,
            current_version: refusal.current_version,
            current_state: refusal.current_state,
            allowed_actions: refusal.allowed_actions,
        }
    }
}

/// Stable `extensions.code` values of top-level errors.
pub mod codes {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const LIMIT_EXCEEDED: &str = "LIMIT_EXCEEDED";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    /// An `Idempotency-Key` reused for another request, or whose first request still runs.
    pub const CONFLICT: &str = "CONFLICT";
    pub const INTERNAL: &str = "INTERNAL";
}

pub fn top_level(code: &'static str, message: &str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, extensions| extensions.set("code", code))
}

/// The same, for the extensions that refuse a request before or around its resolvers.
pub fn top_level_server_error(code: &'static str, message: &str) -> async_graphql::ServerError {
    let mut error = async_graphql::ServerError::new(message, None);
    error.extensions = top_level(code, message).extensions;
    error
}

pub fn unauthenticated() -> async_graphql::Error {
    top_level(codes::UNAUTHENTICATED, "a valid bearer token is required")
}

pub fn forbidden() -> async_graphql::Error {
    top_level(codes::FORBIDDEN, "your project roles do not allow this")
}

pub fn limit_exceeded(message: &str) -> async_graphql::Error {
    top_level(codes::LIMIT_EXCEEDED, message)
}

/// Logs the real cause with the request id; the caller sees only that something failed.
pub fn internal(cause: &dyn std::fmt::Display, request_id: &str) -> async_graphql::Error {
    tracing::error!(request_id, error = %cause, "internal error");
    top_level(
        codes::INTERNAL,
        "internal error; the request id is in the server log",
    )
}

/// A mutation's payload: the changed object, or the reasons nothing changed.
pub trait Payload: Sized {
    type Value;
    fn ok(value: Self::Value) -> Self;
    fn refused(user_errors: Vec<UserError>) -> Self;
}

/// Turns a service result into a payload, or a top-level error for what is not the caller's
/// data.
pub fn respond<P: Payload>(
    ctx: &async_graphql::Context<'_>,
    result: Result<P::Value, ServiceError>,
) -> async_graphql::Result<P> {
    match result {
        Ok(value) => Ok(P::ok(value)),
        Err(error) => match error {
            ServiceError::Refused(refusals) => Ok(P::refused(
                refusals
                    .into_iter()
                    .map(UserError::from_input_refusal)
                    .collect(),
            )),
            other => Err(to_top_level(ctx, other)),
        },
    }
}

/// Maps a service error in a query (where there is no payload) to a top-level error.
pub fn to_top_level(ctx: &async_graphql::Context<'_>, error: ServiceError) -> async_graphql::Error {
    match error {
        ServiceError::Forbidden => forbidden(),
        ServiceError::Refused(refusals) => {
            let message = refusals
                .first()
                .map_or("refused", |r| r.message.as_str())
                .to_owned();
            let code = refusals
                .first()
                .map_or(RefusalCode::BadUserInput, |r| r.code);
            top_level(code.as_str(), &message)
        }
        ServiceError::Database(cause) => internal(&cause, super::context::request_id(ctx)),
        ServiceError::Internal(cause) => internal(&cause, super::context::request_id(ctx)),
        ServiceError::RateLimited { what, retry_after } => {
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            top_level(
                codes::RATE_LIMITED,
                &format!("{what}; retry in {seconds} s"),
            )
            .extend_with(|_, extensions| extensions.set("retryAfterSeconds", seconds))
        }
    }
}

/// Declares a mutation payload: one optional field for the changed object, plus `userErrors`.
macro_rules! payload {
    ($(#[$meta:meta])* $name:ident { $field:ident : $ty:ty }) => {
        $(#[$meta])*
        #[derive(async_graphql::SimpleObject)]
        pub struct $name {
            pub $field: Option<$ty>,
            pub user_errors: Vec<$crate::schema::error::UserError>,
        }

        impl $crate::schema::error::Payload for $name {
            type Value = $ty;
            fn ok(value: $ty) -> Self {
                Self { $field: Some(value), user_errors: Vec::new() }
            }
            fn refused(user_errors: Vec<$crate::schema::error::UserError>) -> Self {
                Self { $field: None, user_errors }
            }
        }
    };
}
pub(crate) use payload;
