//! The `idempotencyKey` argument of mutations: a retried mutation gets its first answer
//! instead of running again.
//!
//! Resolvers only declare the argument (so it is typed, bounded and documented in the SDL);
//! this extension does the work around each top-level mutation field, the same way the HTTP
//! layer does for a whole request with an `Idempotency-Key` header, and in the same table:
//! the key is reserved before the field runs, holds the field's answer afterwards, and a
//! field refused by a top-level error (permission, timeout, internal) frees it again, unless
//! it had written something ([`service::idempotency::end_unanswered`]).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{
    ExecutableDocument, Field, OperationType, Selection, SelectionSet,
};
use async_graphql::{
    InputValueError, InputValueResult, Name, QueryPathNode, QueryPathSegment, Scalar, ScalarType,
    ServerError, ServerResult, Value, Variables,
};
use sha2::{Digest, Sha256};

use super::context::RequestContext;
use super::error::{codes, top_level_server_error};
use crate::domain::idempotency::{IdempotencyKey, Verdict};
use crate::service::idempotency::Reservation;
use crate::service::{self, AppState};

/// The argument's name on every mutation that takes one.
pub const ARGUMENT: &str = "idempotencyKey";

/// A client-chosen key, 1 to 255 visible ASCII characters (a UUID is customary). Sent again
/// by the same user within 24 hours with the same arguments and selection, the mutation
/// answers what it answered the first time without writing anything; with other arguments,
/// while the first call still runs, or after a first call that wrote its changes but timed
/// out or failed before answering, it is refused with `CONFLICT`.
#[derive(Debug, Clone)]
pub struct IdempotencyKeyArg(pub IdempotencyKey);

#[Scalar(name = "IdempotencyKey")]
impl ScalarType for IdempotencyKeyArg {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(raw) => IdempotencyKey::parse(raw)
                .map(Self)
                .map_err(|e| InputValueError::custom(e.to_string())),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.as_str().to_owned())
    }
}

/// Mutations that take no key, by header or argument: their answer holds a secret (a session
/// or API token), which must not be stored.
pub const SECRET_ANSWERS: [&str; 2] = ["sessionCreate", "apiTokenCreate"];

/// Whether a document asks for a field whose answer holds a secret (see [`SECRET_ANSWERS`]);
/// a document that does not parse asks for nothing.
pub fn asks_for_a_secret(query: &str) -> bool {
    async_graphql::parser::parse_query(query).is_ok_and(|document| {
        super::document_limits::fields(&document)
            .iter()
            .any(|field| SECRET_ANSWERS.contains(&field.name.node.as_str()))
    })
}

/// Installs the idempotency handling of mutation fields.
pub struct IdempotentMutations;

impl ExtensionFactory for IdempotentMutations {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest::default())
    }
}

/// One request's variables, kept from parsing so that a field's arguments can be read with
/// their values, and the top-level fields whose answers came back incomplete.
#[derive(Default)]
struct PerRequest {
    variables: Mutex<Variables>,
    /// Response keys of the top-level mutation fields under which some field failed. Such
    /// a field's answer, a null where the failed field was, is not kept: only the field's
    /// value is, and a replay would answer it without the error that explains the null.
    incomplete: Mutex<Vec<String>>,
}

impl PerRequest {
    fn note_failure_under(&self, top_level: &str) {
        let mut incomplete = self.incomplete.lock().unwrap_or_else(|e| e.into_inner());
        if !incomplete.iter().any(|key| key == top_level) {
            incomplete.push(top_level.to_owned());
        }
    }

    fn is_incomplete(&self, top_level: &str) -> bool {
        let incomplete = self.incomplete.lock().unwrap_or_else(|e| e.into_inner());
        incomplete.iter().any(|key| key == top_level)
    }
}

/// The response key of the top-level field a field is resolved under.
fn top_level_key<'a>(mut node: &'a QueryPathNode<'a>) -> Option<&'a str> {
    while let Some(parent) = node.parent {
        node = parent;
    }
    match node.segment {
        QueryPathSegment::Name(key) => Some(key),
        QueryPathSegment::Index(_) => None,
    }
}

#[async_trait::async_trait]
impl Extension for PerRequest {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        // Only mutation fields read them; a query need not pay for the copy.
        let has_mutation = document
            .operations
            .iter()
            .any(|(_, operation)| operation.node.ty == OperationType::Mutation);
        if has_mutation {
            *self.variables.lock().unwrap_or_else(|e| e.into_inner()) = variables.clone();
        }
        Ok(document)
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let top_level_mutation =
            info.parent_type == "MutationRoot" && info.path_node.parent.is_none();
        if !top_level_mutation {
            let path = info.path_node;
            let answer = next.run(ctx, info).await;
            if answer.is_err()
                && let Some(top_level) = top_level_key(path)
            {
                self.note_failure_under(top_level);
            }
            return answer;
        }
        let user_id = ctx
            .data_opt::<RequestContext>()
            .and_then(|request| request.actor.as_ref())
            .map(|actor| actor.user_id);
        let (Some(user_id), Some(state), true) =
            (user_id, ctx.data_opt::<AppState>(), top_level_mutation)
        else {
            return next.run(ctx, info).await;
        };
        let keyed = {
            let variables = self.variables.lock().unwrap_or_else(|e| e.into_inner());
            key_and_fingerprint(info.field, &variables)
        };
        // Without a (well-formed) key the field runs as usual; a malformed one is then
        // refused by the argument's own type.
        let Some((key, fingerprint)) = keyed else {
            return next.run(ctx, info).await;
        };
        let now = state.clock.now();
        let reservation = Reservation::new(user_id, key);
        // A field runs within its operation, which the server cuts off at its time limit.
        let verdict = service::idempotency::begin(
            &state.writer,
            &reservation,
            &fingerprint,
            now,
            state.operation_time_limit,
        )
        .await
        .map_err(internal)?;
        match verdict {
            Verdict::Run => {
                let held = Held {
                    state,
                    reservation: reservation.clone(),
                    settled: false,
                };
                let response_key = info.path_node.field_name().to_owned();
                let answer =
                    service::idempotency::marking_writes(reservation, next.run(ctx, info)).await;
                let whole = answer.is_ok() && !self.is_incomplete(&response_key);
                held.settle(whole.then_some(&answer)).await;
                answer
            }
            Verdict::Replay(json) => serde_json::from_str(&json).map(Some).map_err(internal),
            Verdict::InProgress => Err(conflict(
                "the first call with this idempotencyKey has not finished",
            )),
            Verdict::WrittenUnanswered => Err(conflict(
                "the first call with this idempotencyKey wrote its changes, but its answer was not kept (it timed out, or came with an error, or its server stopped); read what it wrote instead of calling again",
            )),
            Verdict::Reused => Err(conflict(
                "this idempotencyKey was used for a different call",
            )),
        }
    }
}

/// A key reserved for a field. Settled with the field's answer; dropped unsettled (the
/// request was cancelled by its timeout), the reservation ends without one: freed so that the
/// client's retry runs, unless the field had written.
struct Held<'a> {
    state: &'a AppState,
    reservation: Reservation,
    settled: bool,
}

impl Held<'_> {
    /// Keeps the answer, or ends the reservation without one when there is none to keep
    /// (`None`, or an error).
    /// The bookkeeping runs on a task of its own, which the request's timeout does not stop.
    async fn settle(mut self, answer: Option<&ServerResult<Option<Value>>>) {
        self.settled = true;
        let writer = self.state.writer.clone();
        let reservation = self.reservation.clone();
        let answer = answer
            .and_then(|answer| answer.as_ref().ok())
            .and_then(|value| value.as_ref().map(serde_json::to_string));
        let keeping = tokio::spawn(async move {
            match answer {
                Some(Ok(json)) => service::idempotency::finish(&writer, &reservation, &json).await,
                _ => service::idempotency::end_unanswered(&writer, &reservation).await,
            }
        });
        match keeping.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "recording an idempotency key"),
            Err(error) => tracing::error!(%error, "recording an idempotency key"),
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let writer = self.state.writer.clone();
        let reservation = self.reservation.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let ended = service::idempotency::end_unanswered(&writer, &reservation).await;
                if let Err(error) = ended {
                    tracing::error!(%error, "ending an idempotency key's reservation");
                }
            });
        }
    }
}

/// The field's key, and a fingerprint of everything else that makes the call: its name,
/// its other arguments with their values, and what it selects (a replay answers the first
/// call's selection, so another selection is another call).
fn key_and_fingerprint(field: &Field, variables: &Variables) -> Option<(IdempotencyKey, String)> {
    // Most calls carry no key: they cost no fingerprint.
    if !field
        .arguments
        .iter()
        .any(|(name, _)| name.node == ARGUMENT)
    {
        return None;
    }
    let mut key = None;
    let mut arguments = serde_json::Map::new();
    for (name, value) in &field.arguments {
        let Ok(value) = value.node.clone().into_const_with(|name: Name| {
            Ok::<_, std::convert::Infallible>(variables.get(&name).cloned().unwrap_or(Value::Null))
        });
        if name.node == ARGUMENT {
            key = match value {
                Value::String(raw) => IdempotencyKey::parse(&raw).ok(),
                _ => None,
            };
        } else {
            // serde_json's map is ordered by key: the same arguments in another order, or
            // an input object's fields in another order, give the same fingerprint.
            arguments.insert(name.node.to_string(), serde_json::to_value(value).ok()?);
        }
    }
    let mut call = format!(
        "{}{}",
        field.name.node,
        serde_json::Value::Object(arguments)
    );
    write_selection(&field.selection_set.node, &mut call);
    let fingerprint = hex::encode(Sha256::digest(call.as_bytes()));
    Some((key?, fingerprint))
}

/// Writes a selection set without positions or whitespace, so that only what is asked counts.
fn write_selection(set: &SelectionSet, out: &mut String) {
    out.push('{');
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                if let Some(alias) = &field.alias {
                    let _ = write!(out, "{}:", alias.node);
                }
                out.push_str(&field.name.node);
                for (name, value) in &field.arguments {
                    let _ = write!(out, "({}={})", name.node, value.node);
                }
                if !field.selection_set.node.items.is_empty() {
                    write_selection(&field.selection_set.node, out);
                }
            }
            Selection::FragmentSpread(spread) => {
                let _ = write!(out, "...{}", spread.node.fragment_name.node);
            }
            Selection::InlineFragment(fragment) => {
                out.push_str("...");
                if let Some(condition) = &fragment.node.type_condition {
                    let _ = write!(out, "on {}", condition.node.on.node);
                }
                write_selection(&fragment.node.selection_set.node, out);
            }
        }
        out.push(' ');
    }
    out.push('}');
}

fn conflict(message: &str) -> ServerError {
    top_level_server_error(codes::CONFLICT, message)
}

fn internal(error: impl std::fmt::Display) -> ServerError {
    tracing::error!(%error, "idempotency key");
    top_level_server_error(
        codes::INTERNAL,
        "internal error; the request id is in the server log",
    )
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::types::{Selection, TypeSystemDefinition};
    use async_graphql::parser::{parse_query, parse_schema};

    use super::*;

    #[test]
    fn every_other_mutation_takes_an_idempotency_key() {
        let document = parse_schema(super::super::sdl()).expect("the SDL parses");
        let mutation = document
            .definitions
            .iter()
            .find_map(|definition| match definition {
                TypeSystemDefinition::Type(ty) if ty.node.name.node == "MutationRoot" => {
                    Some(ty.node.clone())
                }
                _ => None,
            })
            .expect("a mutation root");
        let async_graphql::parser::types::TypeKind::Object(object) = mutation.kind else {
            panic!("the mutation root is an object");
        };
        for field in &object.fields {
            let name = field.node.name.node.as_str();
            let keyed = field.node.arguments.iter().any(|argument| {
                argument.node.name.node == ARGUMENT
                    && argument.node.ty.node.to_string() == "IdempotencyKey"
            });
            assert_eq!(keyed, !SECRET_ANSWERS.contains(&name), "{name}");
        }
    }

    fn fingerprint(document: &str, variables: serde_json::Value) -> Option<String> {
        let document = parse_query(document).expect("the document parses");
        let (_, operation) = document.operations.iter().next().expect("an operation");
        let Selection::Field(field) = &operation.node.selection_set.node.items[0].node else {
            panic!("a field");
        };
        let variables = Variables::from_json(variables);
        key_and_fingerprint(&field.node, &variables).map(|(key, print)| {
            assert_eq!(key.as_str(), "k");
            print
        })
    }

    #[test]
    fn the_fingerprint_is_what_is_asked_not_how_it_is_written() {
        let literal = fingerprint(
            r#"mutation { m(idempotencyKey: "k", input: { b: 2, a: "x" }) { x { y } } }"#,
            serde_json::json!({}),
        );
        let reordered = fingerprint(
            r#"mutation($in: I!, $k: IdempotencyKey) { m(input: $in, idempotencyKey: $k) {
                x {
                    y
                }
            } }"#,
            serde_json::json!({ "k": "k", "in": { "a": "x", "b": 2 } }),
        );
        assert!(literal.is_some());
        assert_eq!(literal, reordered);
        let other_input = fingerprint(
            r#"mutation { m(idempotencyKey: "k", input: { b: 3, a: "x" }) { x { y } } }"#,
            serde_json::json!({}),
        );
        let other_selection = fingerprint(
            r#"mutation { m(idempotencyKey: "k", input: { b: 2, a: "x" }) { x { z } } }"#,
            serde_json::json!({}),
        );
        let other_field = fingerprint(
            r#"mutation { n(idempotencyKey: "k", input: { b: 2, a: "x" }) { x { y } } }"#,
            serde_json::json!({}),
        );
        for other in [other_input, other_selection, other_field] {
            assert!(other.is_some());
            assert_ne!(other, literal);
        }
    }

    #[test]
    fn documents_asking_for_a_token_are_recognised() {
        assert!(asks_for_a_secret(
            "mutation { sessionCreate(input: {}) { token } }"
        ));
        assert!(asks_for_a_secret(
            "mutation M { ...F } fragment F on MutationRoot { apiTokenCreate(input: {}) { token } }"
        ));
        assert!(!asks_for_a_secret(
            "mutation { projectCreate(input: {}) { project { id } } }"
        ));
        assert!(!asks_for_a_secret("not graphql"));
    }

    #[test]
    fn a_call_without_a_well_formed_key_is_not_keyed() {
        assert_eq!(
            fingerprint("mutation { m { x } }", serde_json::json!({})),
            None
        );
        assert_eq!(
            fingerprint(
                r#"mutation($k: IdempotencyKey) { m(idempotencyKey: $k) { x } }"#,
                serde_json::json!({ "k": "two words" })
            ),
            None
        );
    }
}
