//! The GraphQL API: object types, queries and mutations over the services.
//!
//! Resolvers stay thin: read the caller from the context, turn input into a command, call one
//! service function, map the result. Conventions: opaque global ids ([`id`]), Relay
//! connections capped at 100 ([`page`]), `userErrors` in every payload ([`error`]).
//!
//! The types that come in long lists (milestones, phases, change requests, ballots and their
//! votes, RACI rows, users) resolve their fields one after another, `#[Object(serial)]`:
//! resolving the fields of an object concurrently costs a task and a waker per field (4 % of
//! the CPU of a project dashboard) for fields that read memory or one loader. The items of a
//! list still resolve concurrently, so their loaders still batch across the list. The lists and
//! objects a dashboard answers most of resolve in Steerco's own loop ([`serial`]), without the
//! box per field and the second hash per key that async-graphql's loop costs.

pub mod audit;
pub mod change_request;
mod check_cache;
pub mod context;
pub mod date;
pub mod decision;
pub mod document_limits;
pub mod error;
pub mod go_live;
pub mod id;
pub mod idempotency;
pub mod loader;
pub mod member;
pub mod milestone;
pub mod node;
pub mod notification;
pub mod page;
pub mod phase;
pub mod project;
pub mod raci;
pub mod scope;
pub mod serial;
pub mod uat;
pub mod user;

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{MergedObject, Schema, SchemaBuilder};
use check_cache::Operation;
use notification::SubscriptionRoot;

pub use context::RequestContext;

use crate::service::{Actor, AppState};

#[derive(MergedObject, Default)]
pub struct QueryRoot(
    user::UserQuery,
    project::ProjectQuery,
    phase::PhaseQuery,
    milestone::MilestoneQuery,
    raci::RaciQuery,
    scope::ScopeQuery,
    change_request::ChangeRequestQuery,
    uat::UatQuery,
    audit::AuditQuery,
    notification::NotificationQuery,
    node::NodeQuery,
);

#[derive(MergedObject, Default)]
pub struct MutationRoot(
    user::UserMutation,
    project::ProjectMutation,
    member::MemberMutation,
    phase::PhaseMutation,
    milestone::MilestoneMutation,
    decision::DecisionMutation,
    raci::RaciMutation,
    scope::ScopeMutation,
    change_request::ChangeRequestMutation,
    uat::UatMutation,
    go_live::GoLiveMutation,
    notification::NotificationMutation,
);

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Request limits, enforced before any resolver runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_depth: usize,
    pub max_complexity: usize,
    /// Operations in one batched HTTP request.
    pub max_batch: usize,
    /// Aliased fields in one document.
    pub max_aliases: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // Depth 16 fits GraphiQL's introspection query; complexity 5,000 fits a dashboard
        // of 100 projects with their members and users.
        Self {
            max_depth: 16,
            max_complexity: 5_000,
            max_batch: 10,
            max_aliases: 30,
        }
    }
}

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .register_output_type::<node::Node>()
}

/// The schema with its data, limits and extensions. `production` hides introspection and
/// suggestions.
pub fn build(state: AppState, limits: Limits, production: bool) -> AppSchema {
    let builder = limited(state, limits, production).extension(document_limits::DocumentLimits {
        max_aliases: limits.max_aliases,
    });
    with_mutation_extensions(builder)
        .extension(CheckOnlyGate)
        // Reports each operation's cost and depth in `extensions.analyzer`, so clients see
        // how close they are to the limits.
        .extension(async_graphql::extensions::Analyzer)
        .finish()
}

/// `builder` with the extensions that act on mutations: idempotency keys, and loaders
/// emptied before each mutation.
fn with_mutation_extensions(
    builder: SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot>,
) -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    builder
        .extension(idempotency::IdempotentMutations)
        .extension(loader::FreshReadsPerMutation)
}

/// The builder with its data and the limits async-graphql enforces itself; no extension.
fn limited(
    state: AppState,
    limits: Limits,
    production: bool,
) -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    let builder = builder()
        .data(state)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(32)
        .limit_directives(8);
    if production {
        builder.disable_introspection().disable_suggestions()
    } else {
        builder
    }
}

/// The schema three times, over the same types, data and limits.
///
/// Whenever a schema has an extension, async-graphql runs every field of every operation
/// through the whole chain of extensions: on a project dashboard of a thousand fields that
/// is a fifth of the server's CPU. An operation that has passed [`Schemas::check`] was
/// validated in full there, against its variables, its document limits were checked and its
/// analysis made, so it runs without repeating any of that: a query on `reads`, which has no
/// extension, and a mutation on `writes`, which has only those that act on mutations. The
/// probe of [`Schemas::check`] itself and the WebSocket endpoint's operations run on `full`.
#[derive(Clone)]
pub struct Schemas {
    /// Every extension: the schema of unchecked operations and of the WebSocket endpoint.
    pub full: AppSchema,
    reads: AppSchema,
    writes: AppSchema,
    checked: Arc<check_cache::CheckCache>,
}

/// What [`Schemas::check`] found.
#[derive(Debug)]
pub enum Check {
    /// The answer that refuses the operation: it breaks a limit or does not validate.
    Refused(async_graphql::Response),
    /// The operation may run.
    Passed(Passed),
}

/// An operation that passed [`Schemas::check`].
#[derive(Debug, Clone)]
pub struct Passed {
    is_query: bool,
    analysis: Option<async_graphql::Value>,
    /// How many times the operation signs in (`sessionCreate`): each is a password tried.
    sign_ins: usize,
}

impl Passed {
    /// Whether the operation is a query, which only reads.
    pub fn is_query(&self) -> bool {
        self.is_query
    }

    /// How many passwords the operation tries (`sessionCreate` fields, aliases included).
    pub fn sign_ins(&self) -> usize {
        self.sign_ins
    }
}

/// The mutation that tries a password.
pub const SIGN_IN: &str = "sessionCreate";

/// The key of an operation's analysis (cost and depth) in a response's `extensions`.
const ANALYSIS: &str = "analyzer";

impl Schemas {
    pub fn build(state: AppState, limits: Limits, production: bool) -> Self {
        let checked = || {
            limited(state.clone(), limits, production)
                .validation_mode(async_graphql::ValidationMode::Fast)
        };
        // With no extension and no custom directive, its lists and objects may resolve in
        // Steerco's own loop; an extension added here must drop `NoFieldHooks`.
        let reads = checked().data(serial::NoFieldHooks).finish();
        let writes = with_mutation_extensions(checked()).finish();
        Self {
            full: build(state, limits, production),
            reads,
            writes,
            checked: Arc::default(),
        }
    }

    /// Parses and validates an operation against every limit (depth, complexity, aliases,
    /// input bounds, directives) without running it. Needs neither the caller nor the
    /// database, so the HTTP layer refuses abuse before it looks up a token. The parsed
    /// document is kept in `request` and not parsed again; a document seen before is not
    /// parsed at all, and a query seen before with the same variables is not checked again
    /// ([`check_cache`]).
    pub async fn check(&self, request: &mut async_graphql::Request) -> Check {
        // A document that does not parse is left to the probe below, which reports its error.
        let document = self.checked.document(&request.query).or_else(|| {
            let parsed = async_graphql::parser::parse_query(&request.query).ok()?;
            self.checked.keep_document(&request.query, &parsed);
            Some(parsed)
        });
        let is_query = document.as_ref().is_some_and(|document| {
            operation_type(document, request.operation_name.as_deref())
                == Some(OperationType::Query)
        });
        let sign_ins = match &document {
            Some(document) if !is_query => document_limits::fields(document)
                .iter()
                .filter(|field| field.name.node == SIGN_IN)
                .count(),
            _ => 0,
        };
        // Only queries are kept, by their variables as JSON: a mutation's variables (a new
        // defect's title, say) are seldom sent twice.
        let variables = is_query
            .then(|| serde_json::to_string(&request.variables).ok())
            .flatten();
        let kept = variables
            .as_deref()
            .and_then(|variables| self.checked.passed(&Operation::of(request, variables)));
        if let Some(passed) = kept {
            if let Some(document) = document {
                request.set_parsed_query(document);
            }
            return Check::Passed(passed);
        }
        let mut probe = async_graphql::Request::new(request.query.clone())
            .variables(request.variables.clone())
            .data(CheckOnly);
        probe.operation_name.clone_from(&request.operation_name);
        if let Some(document) = document {
            probe.set_parsed_query(document.clone());
            request.set_parsed_query(document);
        }
        // Boxed: inline, the whole execution's future would be moved with every request's
        // check, though a check kept from before never runs it.
        let mut answer = Box::pin(self.full.execute(probe)).await;
        if !answer.errors.is_empty() {
            return Check::Refused(answer);
        }
        let passed = Passed {
            is_query,
            analysis: answer.extensions.remove(ANALYSIS),
            sign_ins,
        };
        if let Some(variables) = &variables {
            self.checked
                .keep_passed(&Operation::of(request, variables), &passed);
        }
        Check::Passed(passed)
    }

    /// Runs an operation that passed [`Schemas::check`] for `actor`, with the analysis the
    /// check made: a query on `reads`, anything else on `writes`. `request` must be the one
    /// the check was given, unchanged: neither schema validates it in full again. Its
    /// resolvers read through `state`: for a query, best a state that holds one connection
    /// ([`AppState::holding_one_connection`]).
    pub async fn execute_checked(
        &self,
        request: async_graphql::Request,
        passed: Passed,
        state: &AppState,
        actor: Option<Actor>,
        request_id: String,
    ) -> async_graphql::Response {
        let schema = if passed.is_query {
            &self.reads
        } else {
            &self.writes
        };
        let mut response = execute(schema, request, state, actor, request_id).await;
        if let Some(analysis) = passed.analysis {
            response.extensions.insert(ANALYSIS.to_owned(), analysis);
        }
        response
    }
}

/// The type of the operation a request runs, when the document names it unambiguously.
pub fn operation_type(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<OperationType> {
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => operation,
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name)?,
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()?
        }
        (DocumentOperations::Multiple(_), None) => return None,
    };
    Some(operation.node.ty)
}

/// The SDL of the public API, as checked in at `graphql/schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// The caller and fresh DataLoaders for a subscription, whose resolvers run as events arrive
/// (its loaders' batches are spawned on the runtime).
pub fn subscription_data(
    state: &AppState,
    actor: Option<Actor>,
    request_id: String,
) -> async_graphql::Data {
    let mut data = async_graphql::Data::default();
    loader::insert_all(&mut data, state, actor.as_ref(), &loader::Batching::Spawned);
    data.insert(RequestContext { actor, request_id });
    data
}

/// The bearer token a WebSocket signed in with. A subscription checks it again before each
/// event it delivers, so that a token revoked or expired since, or a user no longer allowed
/// to see the project, hears no more ([`subscription_data`] alone checks only the actor).
#[derive(Clone)]
pub struct SubscriberToken(pub String);

/// A subscription request with its [`subscription_data`].
pub fn prepare_subscription(
    mut request: async_graphql::Request,
    state: &AppState,
    actor: Option<Actor>,
    request_id: String,
) -> async_graphql::Request {
    request.data = subscription_data(state, actor, request_id);
    request
}

/// Marks an operation sent through the schema only to be checked.
struct CheckOnly;

/// Stops a [`CheckOnly`] operation once it has been parsed and validated.
struct CheckOnlyGate;

impl ExtensionFactory for CheckOnlyGate {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CheckOnlyGate)
    }
}

#[async_trait::async_trait]
impl Extension for CheckOnlyGate {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        if ctx.data_opt::<CheckOnly>().is_some() {
            return async_graphql::Response::new(async_graphql::Value::Null);
        }
        next.run(ctx, operation_name).await
    }
}

/// Runs one operation for `actor` on `state` (which stands for the schema's own, so that a
/// query's resolvers and loaders read on the connection it holds), with fresh DataLoaders
/// whose batches run in this task.
pub async fn execute(
    schema: &AppSchema,
    request: async_graphql::Request,
    state: &AppState,
    actor: Option<Actor>,
    request_id: String,
) -> async_graphql::Response {
    let (batching, batches) = loader::Batching::in_request();
    let mut request = request;
    loader::insert_all(&mut request.data, state, actor.as_ref(), &batching);
    let request = request
        .data(state.clone())
        .data(RequestContext { actor, request_id });
    batches.drive(schema.execute(request)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operation(query: &str, name: Option<&str>) -> Option<OperationType> {
        let document = async_graphql::parser::parse_query(query).expect("a document");
        operation_type(&document, name)
    }

    #[test]
    fn a_lone_operation_runs_when_no_other_is_named() {
        assert_eq!(operation("{ me { id } }", None), Some(OperationType::Query));
        assert_eq!(
            operation("{ me { id } }", Some("Q")),
            Some(OperationType::Query)
        );
        let named = "mutation M { x }";
        assert_eq!(operation(named, None), Some(OperationType::Mutation));
        assert_eq!(operation(named, Some("M")), Some(OperationType::Mutation));
        assert_eq!(operation(named, Some("Other")), None);
    }

    #[test]
    fn among_several_operations_the_named_one_runs() {
        let document = "query Q { me { id } } mutation M { x }";
        assert_eq!(operation(document, Some("Q")), Some(OperationType::Query));
        assert_eq!(
            operation(document, Some("M")),
            Some(OperationType::Mutation)
        );
        assert_eq!(operation(document, Some("Missing")), None);
        assert_eq!(operation(document, None), None);
    }
}
