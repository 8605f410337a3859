//! The HTTP server: `/graphql` (POST JSON), GraphiQL, `/graphql/ws`, `/health`, and the
//! pages email links open (`/notifications/preferences`, `/objects/{id}`).
//!
//! Two runtimes share the work in `steerco serve`. The one that opened the database runs
//! everything that touches it: authentication, operations, the pages, the health check. The
//! HTTP front ([`FrontRuntime`]) accepts connections, reads bodies, checks every operation
//! against the limits and writes the answers, so that abuse is refused at once even while the
//! operations keep every core busy. The database stays on one runtime because a connection
//! belongs to the runtime that opened it: an answer read on another would wake a task across
//! runtimes, which cost 15 % more CPU per dashboard when operations were the ones moved.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, ErrorExtensions, ServerError};
use async_graphql_poem::{GraphQLProtocol, GraphQLWebSocket};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use poem::error::ReadBodyError;
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::websocket::WebSocket;
use poem::web::{Data as PoemData, Html, Json};
use poem::{Body, EndpointExt, IntoResponse, Request, Response, Route, get, handler};
use serde_json::json;
use steerco_graphql::domain::credential::bearer_token;
use steerco_graphql::domain::idempotency::{IdempotencyKey, Verdict};
use steerco_graphql::schema::error::codes;
use steerco_graphql::schema::{self, Check, Schemas};
use steerco_graphql::service::idempotency::Reservation;
use steerco_graphql::service::{self, Actor, AppState};
use tokio::runtime::Handle;
use tracing::{Instrument, Span};

use crate::answer;
use crate::config::ServerConfig;
use crate::cpu_latency::{CpuLatency, CpuLatencyRequest};
use crate::rate_limit::{RateKey, RateLimiter};

/// Everything the handlers share.
struct Shared {
    state: AppState,
    schemas: Schemas,
    config: ServerConfig,
    rate_limiter: Option<RateLimiter>,
    /// The runtime that opened the database, where everything that uses it runs.
    operations: Handle,
    /// Keeps the processors quick to wake while requests come, when configured.
    cpu_latency: Option<CpuLatency>,
}

/// The id of one HTTP request, in logs, responses (`x-request-id`) and audit events.
#[derive(Clone)]
struct RequestId(String);

const REQUEST_ID_HEADER: &str = "x-request-id";

/// A bound, not yet running server.
pub struct BoundServer {
    /// Handed to the runtime that runs the server, which then polls it.
    listener: std::net::TcpListener,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
}

impl BoundServer {
    /// Binds `config.addr` (port 0 picks a free port). Database work will run on the calling
    /// runtime, wherever [`run`](Self::run) is spawned.
    pub async fn bind(config: ServerConfig, mut state: AppState) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await?
            .into_std()?;
        let local_addr = listener.local_addr()?;
        // The memory is shared by every clone of `state`: it serves this server.
        state.tokens.last_for(config.token_memory);
        state.operation_time_limit = Some(config.request_timeout);
        let schemas = Schemas::build(state.clone(), config.limits, config.production);
        let cpu_latency = config.cpu_latency.as_ref().and_then(hold_cpu_latency);
        Ok(Self {
            listener,
            local_addr,
            shared: Arc::new(Shared {
                state,
                schemas,
                rate_limiter: config.rate_limit.map(RateLimiter::new),
                config,
                operations: Handle::current(),
                cpu_latency,
            }),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish for up to the
    /// configured grace period (`connections::serve`). The runtime polling this future is
    /// the HTTP front: see the module's documentation.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let timeouts = crate::connections::Timeouts {
            grace: self.shared.config.shutdown_grace,
            read: self.shared.config.read_timeout,
        };
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        crate::connections::serve(listener, routes(self.shared), shutdown, timeouts).await
    }
}

fn routes(shared: Arc<Shared>) -> impl poem::Endpoint {
    let graphql = if shared.config.production {
        poem::post(graphql_post)
    } else {
        get(graphiql).post(graphql_post)
    };
    let operations = shared.operations.clone();
    let on_operations = move |endpoint, request| on_runtime(operations.clone(), endpoint, request);
    Route::new()
        .at("/graphql", graphql)
        .at("/graphql/ws", get(graphql_ws).around(on_operations.clone()))
        .at("/health", get(health).around(on_operations.clone()))
        .at(
            "/notifications/preferences",
            get(crate::links::preferences_page)
                .post(crate::links::preferences_update)
                .around(on_operations.clone()),
        )
        .at(
            "/objects/:id",
            get(crate::links::object_page).around(on_operations),
        )
        .data(shared.state.clone())
        .data(crate::links::ReadTimeout(shared.config.read_timeout))
        .data(Arc::clone(&shared))
        .around(move |endpoint, request| {
            if let Some(latency) = &shared.cpu_latency {
                latency.busy();
            }
            with_request_id(endpoint, request)
        })
}

/// Starts holding `request` while requests come; a server that cannot still serves.
fn hold_cpu_latency(request: &CpuLatencyRequest) -> Option<CpuLatency> {
    match CpuLatency::start(request) {
        Ok(latency) => {
            tracing::info!(
                bound_us = request.bound_us,
                "the processors' wake-up latency is bounded while requests come"
            );
            Some(latency)
        }
        Err(error) => {
            tracing::warn!(
                %error,
                device = %request.device.display(),
                "cannot bound the processors' wake-up latency; serving without"
            );
            None
        }
    }
}

/// Calls `endpoint` on the `runtime` given (a WebSocket's session too: it is spawned where
/// its upgrade is answered).
async fn on_runtime<E: poem::Endpoint + 'static>(
    runtime: Handle,
    endpoint: Arc<E>,
    request: Request,
) -> poem::Result<Response> {
    let call = async move {
        match endpoint.call(request).await {
            Ok(output) => output.into_response(),
            Err(error) => error.into_response(),
        }
    };
    Ok(run_on(&runtime, Box::pin(call)).await)
}

/// Runs `work` on `runtime` within the current request's span; a panic is an internal error.
///
/// An operation's future runs to kilobytes. A task's is moved whole into its cell and its
/// stages (spawned, finished, read), and a future awaited inline is moved with every future
/// that holds it, up to poem's boxes of each endpoint's: so it comes boxed, moved once.
async fn run_on(runtime: &Handle, work: BoxFuture<'static, Response>) -> Response {
    match runtime.spawn(work.instrument(Span::current())).await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, "a request's task failed");
            error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                codes::INTERNAL,
                "internal error; the request id is in the server log",
            )
        }
    }
}

/// The runtime `steerco serve` answers HTTP on, one thread apart from those that run
/// operations (see the module's documentation).
pub struct FrontRuntime {
    /// Taken only when dropped.
    runtime: Option<tokio::runtime::Runtime>,
    handle: Handle,
}

impl FrontRuntime {
    pub fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("steerco-http")
            .enable_all()
            .build()?;
        Ok(Self {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    /// Serves `server` on this runtime until `shutdown` resolves.
    pub fn spawn(
        &self,
        server: BoundServer,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<std::io::Result<()>> {
        self.handle.spawn(server.run(shutdown))
    }
}

impl Drop for FrontRuntime {
    /// A runtime cannot be dropped the blocking way from async code; once the server has
    /// stopped, nothing is left for it to wait on.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Names each request, logs it, and echoes its id in the response.
async fn with_request_id<E: poem::Endpoint>(
    endpoint: Arc<E>,
    mut request: Request,
) -> poem::Result<Response> {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| {
            !value.is_empty()
                && value.len() <= 64
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    async move {
        let started = Instant::now();
        let mut response = match endpoint.call(request).await {
            Ok(output) => output.into_response(),
            Err(error) => error.into_response(),
        };
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "handled"
        );
        Ok(response)
    }
    .instrument(span)
    .await
}

fn error_body(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

/// Who sent the request: `Ok(None)` without a token, `Err` with a bad one.
async fn authenticate(
    state: &AppState,
    authorization: Option<&str>,
) -> Result<Option<Actor>, Response> {
    let Some(header) = authorization else {
        return Ok(None);
    };
    let unauthenticated = || {
        error_body(
            StatusCode::UNAUTHORIZED,
            codes::UNAUTHENTICATED,
            "the bearer token is invalid, expired or revoked",
        )
    };
    let Some(token) = bearer_token(header) else {
        return Err(unauthenticated());
    };
    match service::token::authenticate(state, token).await {
        Ok(Some(actor)) => Ok(Some(actor)),
        Ok(None) => Err(unauthenticated()),
        Err(error) => {
            tracing::error!(%error, "authentication failed");
            Err(error_body(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::INTERNAL,
                "internal error",
            ))
        }
    }
}

#[handler]
async fn graphql_post(request: &Request, body: Body, shared: PoemData<&Arc<Shared>>) -> Response {
    let is_json = request
        .content_type()
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        // Only JSON: a form or text/plain POST is what a cross-site page can send unasked.
        return error_body(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::BAD_REQUEST,
            "send application/json",
        );
    }
    let config = &shared.config;
    let bytes = match read_body(body, config.body_limit, config.read_timeout).await {
        Ok(bytes) => bytes,
        Err(UnreadBody::TooSlow) => {
            return error_body(
                StatusCode::REQUEST_TIMEOUT,
                codes::LIMIT_EXCEEDED,
                "the request body did not arrive within the read timeout",
            );
        }
        Err(UnreadBody::TooLarge) => {
            return error_body(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::LIMIT_EXCEEDED,
                "request body too large",
            );
        }
        Err(UnreadBody::Broken) => {
            return error_body(
                StatusCode::BAD_REQUEST,
                codes::BAD_REQUEST,
                "the request body could not be read",
            );
        }
    };
    let batch: BatchRequest = match serde_json::from_slice(&bytes) {
        Ok(batch) => batch,
        Err(_) => {
            return error_body(
                StatusCode::BAD_REQUEST,
                codes::BAD_REQUEST,
                "the body is not a GraphQL request",
            );
        }
    };
    let mut requests = match batch {
        BatchRequest::Single(single) => vec![single],
        BatchRequest::Batch(many) => {
            let max = shared.config.limits.max_batch;
            if many.len() > max {
                let message = format!("a batch holds at most {max} operations");
                return error_body(StatusCode::BAD_REQUEST, codes::LIMIT_EXCEEDED, &message);
            }
            if many.is_empty() {
                return error_body(
                    StatusCode::BAD_REQUEST,
                    codes::BAD_REQUEST,
                    "the batch is empty",
                );
            }
            many
        }
    };
    // The body parsed as JSON above, so it is an array exactly when it opens with `[`: a batch
    // is answered with a list even when async-graphql read it as one operation.
    let is_batch = bytes.trim_ascii_start().first() == Some(&b'[');
    let authorization = request.header(header::AUTHORIZATION);
    // Operations that break a limit or do not validate are answered here, before the token
    // is looked up: refusing abuse costs no SQL and waits behind no operation.
    let mut checks = Vec::with_capacity(requests.len());
    for single in &mut requests {
        checks.push(shared.schemas.check(single).await);
    }
    if checks
        .iter()
        .all(|check| matches!(check, Check::Refused(_)))
    {
        let mut refusals: Vec<_> = checks
            .into_iter()
            .filter_map(|check| match check {
                Check::Refused(refusal) => Some(refusal),
                Check::Passed(_) => None,
            })
            .collect();
        for refusal in &mut refusals {
            classify_errors(&mut refusal.errors);
        }
        return answer::json(is_batch, &refusals).map_or_else(|_| unwritable(), json_response);
    }
    // The rate limit counts requests: a request that tried many passwords (aliased sign-ins,
    // a batch of them) would try them all for one place in it.
    let sign_ins: usize = checks
        .iter()
        .map(|check| match check {
            Check::Passed(passed) => passed.sign_ins(),
            Check::Refused(_) => 0,
        })
        .sum();
    if sign_ins > 1 {
        return error_body(
            StatusCode::BAD_REQUEST,
            codes::LIMIT_EXCEEDED,
            &format!(
                "a request signs in once at most ({sign_ins} sessionCreate here): each password tried takes a request of its own, and its place in the rate limit"
            ),
        );
    }
    let admitted = Admitted {
        requests,
        checks,
        is_batch,
        authorization: authorization.map(str::to_owned),
        remote_ip: request.remote_addr().as_socket_addr().map(SocketAddr::ip),
        request_id: request
            .extensions()
            .get::<RequestId>()
            .map_or_else(String::new, |id| id.0.clone()),
        idempotency: request
            .header(IDEMPOTENCY_KEY_HEADER)
            .map(|key| (key.to_owned(), hex_sha256(&bytes))),
    };
    let shared = Arc::clone(&shared);
    let operations = shared.operations.clone();
    run_on(&operations, Box::pin(run_admitted(shared, admitted))).await
}

/// Why a request's body was not had.
pub(crate) enum UnreadBody {
    /// Longer than the limit.
    TooLarge,
    /// Not all there within the read timeout.
    TooSlow,
    /// Cut off, or otherwise unreadable.
    Broken,
}

/// A request's whole body: at most `limit` bytes, counted while reading, so that neither a
/// false `Content-Length` nor a chunked body gets past, and all of it `within` the read
/// timeout, so that a body sent a byte at a time does not hold its connection.
pub(crate) async fn read_body(
    body: Body,
    limit: usize,
    within: std::time::Duration,
) -> Result<bytes::Bytes, UnreadBody> {
    match tokio::time::timeout(within, body.into_bytes_limit(limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(ReadBodyError::PayloadTooLarge)) => Err(UnreadBody::TooLarge),
        Ok(Err(_)) => Err(UnreadBody::Broken),
        Err(_) => Err(UnreadBody::TooSlow),
    }
}

/// A request that passed the checks the HTTP front makes, with what the rest needs of it.
struct Admitted {
    requests: Vec<async_graphql::Request>,
    /// What the front's check found, one per request.
    checks: Vec<Check>,
    is_batch: bool,
    authorization: Option<String>,
    remote_ip: Option<IpAddr>,
    request_id: String,
    /// The `Idempotency-Key` sent, and the body's fingerprint it is kept with.
    idempotency: Option<(String, String)>,
}

/// Takes a request from `key`'s bucket; the answer that refuses it when the bucket is empty.
fn rate_limited(shared: &Shared, key: RateKey) -> Option<Response> {
    let wait = shared.rate_limiter.as_ref()?.check(key).err()?;
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = error_body(
        StatusCode::TOO_MANY_REQUESTS,
        codes::RATE_LIMITED,
        &format!("too many requests; retry in {seconds} s"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    Some(response)
}

/// Authenticates, rate-limits and runs an admitted request's operations, on the runtime
/// that opened the database.
async fn run_admitted(shared: Arc<Shared>, admitted: Admitted) -> Response {
    let Admitted {
        requests,
        checks,
        is_batch,
        authorization,
        remote_ip,
        request_id,
        idempotency,
    } = admitted;
    // A request of queries only reads, its token included, on one connection of the pool
    // (`service::Db`); one with a mutation or a subscription reads on the pool, and so does
    // one with an `Idempotency-Key`, whose record needs a connection besides (on PostgreSQL,
    // where the writer is the same pool).
    let reads_only = idempotency.is_none()
        && checks.iter().all(|check| match check {
            Check::Refused(_) => true,
            Check::Passed(passed) => passed.is_query(),
        });
    let state = if reads_only {
        shared.state.holding_one_connection()
    } else {
        shared.state.clone()
    };
    let actor = match authenticate(&state, authorization.as_deref()).await {
        Ok(actor) => actor,
        // A token that is not one draws from its address's bucket, as a request without one.
        Err(refused) => {
            return remote_ip
                .and_then(|address| rate_limited(&shared, RateKey::address(address)))
                .unwrap_or(refused);
        }
    };
    let key = match (&actor, remote_ip) {
        (Some(actor), _) => Some(RateKey::User(actor.user_id)),
        (None, Some(address)) => Some(RateKey::address(address)),
        (None, None) => None,
    };
    if let Some(response) = key.and_then(|key| rate_limited(&shared, key)) {
        return response;
    }
    let reserved = match &idempotency {
        None => None,
        Some(_)
            if requests
                .iter()
                .any(|r| schema::idempotency::asks_for_a_secret(&r.query)) =>
        {
            return error_body(
                StatusCode::BAD_REQUEST,
                codes::BAD_REQUEST,
                "an Idempotency-Key cannot be used with sessionCreate or apiTokenCreate: their answers hold a token, which is never stored",
            );
        }
        Some((raw, fingerprint)) => {
            // The operations run one after another, each cut off at the time limit.
            let operations = u32::try_from(requests.len()).unwrap_or(u32::MAX);
            let time_limit = shared.config.request_timeout.saturating_mul(operations);
            match reserve(&shared.state, actor.as_ref(), raw, fingerprint, time_limit).await {
                Ok(reservation) => Some(reservation),
                Err(answer) => return answer,
            }
        }
    };

    // Operations of a batch run one after another, never concurrently: a batch must not
    // multiply the load one request can put on the database.
    let operations = async {
        let mut responses = Vec::with_capacity(requests.len());
        for (single, check) in requests.into_iter().zip(checks) {
            let timeout = shared.config.request_timeout;
            let response = match check {
                Check::Refused(refusal) => refusal,
                Check::Passed(passed) => {
                    let run = shared.schemas.execute_checked(
                        single,
                        passed,
                        &state,
                        actor.clone(),
                        request_id.clone(),
                    );
                    execute_within(timeout, run).await
                }
            };
            responses.push(response);
        }
        responses
    };
    let mut responses = match &reserved {
        Some(reservation) => {
            service::idempotency::marking_writes(reservation.clone(), operations).await
        }
        None => operations.await,
    };
    // The connection a request of queries held goes back before its answer is written.
    drop(state);
    for response in &mut responses {
        classify_errors(&mut response.errors);
    }
    // Our failures (a timeout, an internal error) leave a retry free to run again, unless
    // something was written.
    let ours = responses.iter().flat_map(|r| &r.errors).any(|error| {
        error
            .extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .is_some_and(|code| {
                *code == async_graphql::Value::from(codes::INTERNAL)
                    || *code == async_graphql::Value::from(codes::LIMIT_EXCEEDED)
            })
    });
    let Ok(json) = answer::json(is_batch, &responses) else {
        return unwritable();
    };
    if let Some(reservation) = reserved {
        let writer = &shared.state.writer;
        let kept = if ours {
            service::idempotency::end_unanswered(writer, &reservation).await
        } else {
            service::idempotency::finish(writer, &reservation, &json).await
        };
        if let Err(error) = kept {
            tracing::error!(%error, "recording an idempotency key");
        }
    }
    json_response(json)
}

fn unwritable() -> Response {
    error_body(
        StatusCode::INTERNAL_SERVER_ERROR,
        codes::INTERNAL,
        "the response could not be written",
    )
}

fn json_response(json: String) -> Response {
    Response::builder()
        .content_type("application/json")
        .body(json)
}

const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// Reserves an `Idempotency-Key` for this request, or answers for it: the first answer again
/// for a retry, `CONFLICT` for a key in use.
async fn reserve(
    state: &AppState,
    actor: Option<&Actor>,
    raw: &str,
    fingerprint: &str,
    time_limit: std::time::Duration,
) -> Result<Reservation, Response> {
    let Some(actor) = actor else {
        return Err(error_body(
            StatusCode::BAD_REQUEST,
            codes::BAD_REQUEST,
            "an Idempotency-Key needs a bearer token",
        ));
    };
    let key = IdempotencyKey::parse(raw)
        .map_err(|e| error_body(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, &e.to_string()))?;
    let now = state.clock.now();
    let reservation = Reservation::new(actor.user_id, key);
    let verdict = service::idempotency::begin(
        &state.writer,
        &reservation,
        fingerprint,
        now,
        Some(time_limit),
    )
    .await;
    match verdict {
        Ok(Verdict::Run) => Ok(reservation),
        Ok(Verdict::Replay(json)) => {
            let mut response = json_response(json);
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Err(response)
        }
        Ok(Verdict::InProgress) => Err(error_body(
            StatusCode::CONFLICT,
            codes::CONFLICT,
            "the first request with this Idempotency-Key has not finished",
        )),
        Ok(Verdict::WrittenUnanswered) => Err(error_body(
            StatusCode::CONFLICT,
            codes::CONFLICT,
            "the first request with this Idempotency-Key wrote its changes, then timed out, failed or lost its server before it could answer; read what it wrote instead of sending it again",
        )),
        Ok(Verdict::Reused) => Err(error_body(
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::CONFLICT,
            "this Idempotency-Key was used for a different request",
        )),
        Err(error) => {
            tracing::error!(%error, "reserving an idempotency key");
            Err(error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                codes::INTERNAL,
                "internal error; the request id is in the server log",
            ))
        }
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Runs one operation, or answers `LIMIT_EXCEEDED` once `timeout` has passed. Dropping the
/// operation's future drops its open transaction, which rolls it back.
async fn execute_within(
    timeout: std::time::Duration,
    operation: impl std::future::Future<Output = async_graphql::Response>,
) -> async_graphql::Response {
    match tokio::time::timeout(timeout, operation).await {
        Ok(response) => response,
        Err(_) => {
            let message = format!(
                "the operation ran longer than {} ms and was cancelled",
                timeout.as_millis()
            );
            let coded = async_graphql::Error::new(message.clone())
                .extend_with(|_, ext| ext.set("code", codes::LIMIT_EXCEEDED));
            let mut error = ServerError::new(message, None);
            error.extensions = coded.extensions;
            async_graphql::Response::from_errors(vec![error])
        }
    }
}

/// Gives every top-level error a stable `extensions.code`: errors raised by resolvers carry
/// one already; those of the parser and validator do not.
fn classify_errors(errors: &mut [ServerError]) {
    for error in errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if has_code {
            continue;
        }
        let code = if error.message.contains("nested too deep")
            || error.message.contains("too complex")
            || error.message.contains("recursion")
            || error.message.contains("directives")
        {
            codes::LIMIT_EXCEEDED
        } else {
            "GRAPHQL_VALIDATION_FAILED"
        };
        let extended = async_graphql::Error::new(error.message.clone())
            .extend_with(|_, ext| ext.set("code", code));
        error.extensions = extended.extensions;
    }
}

#[handler]
fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .title("Steerco GraphQL")
            .finish(),
    )
}

/// graphql-transport-ws: the token travels in the `connection_init` payload
/// (`{"Authorization": "Bearer stc_…"}`), since browsers cannot set headers on WebSockets.
#[handler]
async fn graphql_ws(
    request: &Request,
    websocket: WebSocket,
    protocol: GraphQLProtocol,
    shared: PoemData<&Arc<Shared>>,
) -> impl IntoResponse {
    let shared = Arc::clone(&shared);
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map_or_else(String::new, |id| id.0.clone());
    websocket
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            let schema = SubscriptionsOnly(shared.schemas.full.clone());
            GraphQLWebSocket::new(stream, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let header = payload
                        .get("Authorization")
                        .or_else(|| payload.get("authorization"))
                        .and_then(|value| value.as_str())
                        .map(str::to_owned);
                    let actor = authenticate(&shared.state, header.as_deref())
                        .await
                        .map_err(|_| {
                            async_graphql::Error::new(
                                "the bearer token is invalid, expired or revoked",
                            )
                        })?
                        .ok_or_else(|| async_graphql::Error::new("a bearer token is required"))?;
                    let mut data =
                        schema::subscription_data(&shared.state, Some(actor), request_id);
                    if let Some(token) = header.as_deref().and_then(bearer_token) {
                        data.insert(schema::SubscriberToken(token.to_owned()));
                    }
                    Ok(data)
                })
                .serve()
        })
}

/// The WebSocket's executor: subscriptions only. A query or mutation sent over the socket is
/// refused, since the rate limit, the one sign-in a request and the time limit apply to
/// `POST /graphql` alone: thirty passwords to a message, as fast as messages go, otherwise.
#[derive(Clone)]
struct SubscriptionsOnly(schema::AppSchema);

impl async_graphql::Executor for SubscriptionsOnly {
    async fn execute(&self, _request: async_graphql::Request) -> async_graphql::Response {
        only_subscriptions()
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<async_graphql::Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        if runs_other_than_a_subscription(&request) {
            return futures_util::stream::once(async { only_subscriptions() }).boxed();
        }
        async_graphql::Executor::execute_stream(&self.0, request, session_data)
    }
}

/// Whether `request` would run a query or a mutation. A document that does not parse, or
/// does not say which of its operations to run, is left to the schema, which refuses it
/// without running it.
fn runs_other_than_a_subscription(request: &async_graphql::Request) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    schema::operation_type(&document, request.operation_name.as_deref())
        .is_some_and(|kind| kind != OperationType::Subscription)
}

fn only_subscriptions() -> async_graphql::Response {
    async_graphql::Response::from_errors(vec![schema::error::top_level_server_error(
        codes::BAD_REQUEST,
        "the WebSocket carries subscriptions only; send queries and mutations to POST /graphql",
    )])
}

#[handler]
async fn health(shared: PoemData<&Arc<Shared>>) -> Response {
    match shared.state.db.pool().ping().await {
        Ok(()) => Json(json!({ "status": "ok", "database": "up" })).into_response(),
        Err(error) => {
            tracing::warn!(%error, "health check: database unreachable");
            let body = Json(json!({ "status": "unavailable", "database": "down" }));
            (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn an_operation_past_its_time_is_cancelled_with_a_code() {
        let response = execute_within(Duration::from_millis(10), std::future::pending()).await;
        assert_eq!(response.errors.len(), 1);
        let code = response.errors[0]
            .extensions
            .as_ref()
            .and_then(|ext| ext.get("code").cloned());
        assert_eq!(
            code,
            Some(async_graphql::Value::from(codes::LIMIT_EXCEEDED))
        );
    }

    #[tokio::test]
    async fn an_operation_in_time_is_answered_as_it_is() {
        let answered = async_graphql::Response::new(async_graphql::Value::from("done"));
        let response = execute_within(Duration::from_secs(10), async { answered }).await;
        assert!(response.errors.is_empty());
        assert_eq!(response.data, async_graphql::Value::from("done"));
    }
}
