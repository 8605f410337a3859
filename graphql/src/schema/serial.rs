//! Objects whose fields resolve in Steerco's own loop, one after another, rather than in
//! async-graphql's.
//!
//! async-graphql resolves an object by boxing the future of each selected field, then puts each
//! answer in the object's map after looking its key up (two SipHash hashes of the key, in a map
//! that starts empty and grows as it fills). A project dashboard answers some thousand fields,
//! most of them of the items of lists (phases, milestones, RACI rows and their people, ballots
//! and votes). A [`SerialList`] answers as the `Vec` it holds would, and a [`SerialObject`] as
//! the object it holds, to the byte (the tests below compare them on one schema), but each
//! resolves an object's fields in place: no box per field, one hash per key, a map sized once.
//! On those lists they took a dashboard from 4.65 M instructions to 3.85 M.
//!
//! A type that reaches itself through them (`A` answering a `SerialObject<A>`) does not compile:
//! its future would hold itself. Such a field answers the plain type, which async-graphql boxes.
//!
//! Only for objects whose fields resolve one after another anyway (`#[Object(serial)]`) or are
//! plain values (`SimpleObject`): an object whose fields wait on several loaders needs them
//! polled together, so that they batch. The items of a list still resolve concurrently, as
//! async-graphql's own lists do, so that a loader batches across the list.
//!
//! Left out of async-graphql's loop, and why that changes nothing here:
//! - extensions' `resolve` hooks, which async-graphql runs around every field when a schema has
//!   any extension: the schema that runs queries has none, and the hooks of the others act on
//!   top-level mutation fields alone;
//! - custom directives: the schema declares none (`@skip` and `@include` are applied before any
//!   field resolves, and a field they leave in resolves as any other).
//!
//! It reads async-graphql's execution context through fields the crate documents as hidden,
//! which Cargo.lock pins; the tests below fail if a new version resolves differently.

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::indexmap::map::Entry;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    ContainerType, ContextSelectionSet, Name, OutputType, Positioned, ServerError, ServerResult,
    Value,
};

/// A GraphQL list of `T`, the same type in the schema as `Vec<T>` (see the module's
/// documentation for which `T` may use it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialList<T>(pub Vec<T>);

impl<T> From<Vec<T>> for SerialList<T> {
    fn from(items: Vec<T>) -> Self {
        Self(items)
    }
}

impl<T> FromIterator<T> for SerialList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        Self(items.into_iter().collect())
    }
}

impl<T: ContainerType> OutputType for SerialList<T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let items = self.0.iter().enumerate().map(|(index, item)| async move {
            let ctx_item = ctx.with_index(index);
            resolve_object(&ctx_item, item)
                .await
                .map_err(|error| ctx_item.set_error_path(error))
        });
        Ok(Value::List(
            futures_util::future::try_join_all(items).await?,
        ))
    }
}

/// An object of type `T`, the same type in the schema as `T` itself (see the module's
/// documentation for which `T` may use it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialObject<T>(pub T);

impl<T: ContainerType> OutputType for SerialObject<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_object(ctx, &self.0).await
    }
}

/// The answer of `object` to the selection of `ctx`, as async-graphql's serial container gives
/// it: each field in the order selected, a failed field left out with its error recorded, and
/// `null` for an object with no field selected.
async fn resolve_object<T: ContainerType>(
    ctx: &ContextSelectionSet<'_>,
    object: &T,
) -> ServerResult<Value> {
    let type_name = T::type_name();
    let mut selected = Vec::with_capacity(ctx.item.node.items.len());
    select_fields(ctx, &type_name, ctx.item, &mut selected)?;
    let mut answers = IndexMap::with_capacity(selected.len());
    for field in selected {
        let key = field.node.response_key().node.clone();
        let answer = if field.node.name.node == "__typename" {
            Value::String(object.introspection_type_name().into_owned())
        } else {
            match object.resolve_field(&ctx.with_field(field)).await {
                Ok(answer) => answer.unwrap_or_default(),
                Err(error) => {
                    ctx.add_error(error);
                    continue;
                }
            }
        };
        merge(&mut answers, key, answer);
    }
    Ok(if answers.is_empty() {
        Value::Null
    } else {
        Value::Object(answers)
    })
}

/// The fields of `set` that apply to an object of `type_name`, fragments spread in place.
/// A fragment applies when it has no type condition, or one that names the type or an interface
/// it implements (async-graphql's rule: a union's name does not match its members).
fn select_fields<'a>(
    ctx: &ContextSelectionSet<'a>,
    type_name: &str,
    set: &'a Positioned<SelectionSet>,
    selected: &mut Vec<&'a Positioned<Field>>,
) -> ServerResult<()> {
    for selection in &set.node.items {
        let (condition, fragment_set) = match &selection.node {
            Selection::Field(field) => {
                selected.push(field);
                continue;
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                let Some(fragment) = ctx.query_env.fragments.get(name) else {
                    return Err(ServerError::new(
                        format!(r#"Unknown fragment "{name}"."#),
                        Some(spread.pos),
                    ));
                };
                (
                    Some(&fragment.node.type_condition),
                    &fragment.node.selection_set,
                )
            }
            Selection::InlineFragment(fragment) => (
                fragment.node.type_condition.as_ref(),
                &fragment.node.selection_set,
            ),
        };
        let applies = condition.is_none_or(|condition| {
            let on = condition.node.on.node.as_str();
            on == type_name
                || ctx
                    .schema_env
                    .registry
                    .implements
                    .get(type_name)
                    .is_some_and(|interfaces| interfaces.contains(on))
        });
        if applies {
            select_fields(ctx, type_name, fragment_set, selected)?;
        }
    }
    Ok(())
}

/// Puts `answer` under `key`, merging it into an object or list already there as async-graphql
/// does when one key is selected twice (`a { x } a { y }`).
fn merge(answers: &mut IndexMap<Name, Value>, key: Name, answer: Value) {
    match answers.entry(key) {
        Entry::Vacant(vacant) => {
            vacant.insert(answer);
        }
        Entry::Occupied(occupied) => match (occupied.into_mut(), answer) {
            (Value::Object(into), Value::Object(from)) => {
                for (key, answer) in from {
                    merge(into, key, answer);
                }
            }
            (Value::List(into), Value::List(from)) => {
                for (into, from) in into.iter_mut().zip(from) {
                    if let (Value::Object(into), Value::Object(from)) = (into, from) {
                        for (key, answer) in from {
                            merge(into, key, answer);
                        }
                    }
                }
            }
            _ => {}
        },
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{
        EmptyMutation, EmptySubscription, Interface, Object, Schema, SimpleObject, Union,
    };

    use super::*;

    #[derive(SimpleObject, Clone)]
    struct Tag {
        label: String,
    }

    #[derive(Clone)]
    struct Item {
        number: i32,
    }

    #[Object(serial)]
    impl Item {
        async fn number(&self) -> i32 {
            self.number
        }
        async fn name(&self) -> String {
            format!("item {}", self.number)
        }
        async fn tags(&self) -> Vec<Tag> {
            tags(self.number)
        }
        async fn tag_list(&self) -> SerialList<Tag> {
            tags(self.number).into()
        }
        async fn half(&self) -> async_graphql::Result<i32> {
            if self.number % 2 == 0 {
                Ok(self.number / 2)
            } else {
                Err("odd".into())
            }
        }
        async fn twin(&self) -> Option<Item> {
            (self.number < 3).then(|| Item {
                number: self.number + 10,
            })
        }
        async fn first_tag(&self) -> Option<Tag> {
            tags(self.number).into_iter().next()
        }
        async fn fast_first_tag(&self) -> Option<SerialObject<Tag>> {
            tags(self.number).into_iter().next().map(SerialObject)
        }
    }

    fn tags(count: i32) -> Vec<Tag> {
        (0..count)
            .map(|n| Tag {
                label: format!("t{n}"),
            })
            .collect()
    }

    #[derive(Interface)]
    #[graphql(field(name = "number", ty = "i32"))]
    enum Numbered {
        Item(Item),
    }

    #[derive(Union)]
    enum Thing {
        Item(Item),
        Tag(Tag),
    }

    struct Query;

    #[Object]
    impl Query {
        async fn slow(&self) -> Vec<Item> {
            items()
        }
        async fn fast(&self) -> SerialList<Item> {
            items().into()
        }
        async fn slow_one(&self) -> Item {
            Item { number: 2 }
        }
        async fn fast_one(&self) -> SerialObject<Item> {
            SerialObject(Item { number: 2 })
        }
        async fn fast_none(&self) -> Option<SerialObject<Item>> {
            None
        }
        async fn numbered(&self) -> Vec<Numbered> {
            items().into_iter().map(Numbered::Item).collect()
        }
        async fn things(&self) -> Vec<Thing> {
            vec![Thing::Tag(Tag { label: "x".into() })]
        }
    }

    fn items() -> Vec<Item> {
        (0..4).map(|number| Item { number }).collect()
    }

    /// The JSON answer to `selection` asked of the field `slow` and of the field `fast`, each
    /// under the alias `list`, so that errors' paths read the same.
    async fn both(slow: &str, fast: &str, selection: &str, fragments: &str) -> (String, String) {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
        let ask = |field: &str| {
            let schema = schema.clone();
            let query = format!("{{ list: {field} {selection} }} {fragments}");
            async move { serde_json::to_string(&schema.execute(query).await).unwrap() }
        };
        (ask(slow).await, ask(fast).await)
    }

    #[tokio::test]
    async fn a_serial_list_answers_as_the_vec_it_holds() {
        let selections = [
            ("{ number name }", ""),
            ("{ name number number n: number __typename }", ""),
            ("{ number tags { label } tagList { label } }", ""),
            ("{ number half name }", ""),
            ("{ twin { number } twin { name } number }", ""),
            ("{ tags { label } tags { l: label } }", ""),
            (
                "{ ...Parts name }",
                "fragment Parts on Item { number tags { label } }",
            ),
            ("{ ... on Item { number } ... { name } }", ""),
            ("{ ... on Numbered { number } }", ""),
            ("{ ... on Thing { __typename } number }", ""),
            ("{ number @include(if: true) name @skip(if: true) }", ""),
            (
                "{ ...Missing }",
                "fragment Missing on Item { ...Parts } fragment Parts on Item { half }",
            ),
        ];
        for (selection, fragments) in selections {
            for (slow, fast) in [("slow", "fast"), ("slowOne", "fastOne")] {
                let (slow, fast) = both(slow, fast, selection, fragments).await;
                assert_eq!(fast, slow, "{selection} {fragments}");
            }
        }
    }

    #[tokio::test]
    async fn a_serial_object_answers_as_the_object_it_holds_or_null() {
        let selections = [
            "{ number firstTag { label } }",
            "{ firstTag { label } firstTag { l: label __typename } }",
        ];
        for selection in selections {
            let fast = selection.replace("firstTag {", "firstTag: fastFirstTag {");
            let (slow, _) = both("slow", "slow", selection, "").await;
            let (_, fast) = both("slow", "slow", &fast, "").await;
            assert_eq!(fast, slow, "{selection}");
        }
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
        let answer = schema.execute("{ fastNone { number } }").await;
        let data = answer.data.into_json().unwrap();
        assert_eq!(data["fastNone"], serde_json::Value::Null);
    }

    #[tokio::test]
    async fn an_empty_serial_list_answers_an_empty_list() {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
        let answer = schema.execute("{ fast { tagList { label } } }").await;
        let first = &answer.data.into_json().unwrap()["fast"][0];
        assert_eq!(first["tagList"], serde_json::json!([]));
    }

    #[test]
    fn a_serial_list_is_a_vec_in_the_schema() {
        assert_eq!(
            <SerialList<Item> as OutputType>::qualified_type_name(),
            <Vec<Item> as OutputType>::qualified_type_name()
        );
        let sdl = Schema::build(Query, EmptyMutation, EmptySubscription)
            .finish()
            .sdl();
        assert!(sdl.contains("slow: [Item!]!"), "{sdl}");
        assert!(sdl.contains("fast: [Item!]!"), "{sdl}");
    }
}
