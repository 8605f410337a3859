//! Objects whose fields resolve in Steerco's own loop, one after another, rather than in
//! async-graphql's.
//!
//! async-graphql resolves an object by boxing the future of each selected field, then puts each
//! answer in the object's map after looking its key up (two SipHash hashes of the key, in a map
//! that starts empty and grows as it fills). A project dashboard answers some thousand fields,
//! most of them of the items of lists (phases, milestones, RACI rows and their people, ballots
//! and votes). A [`SerialList`] answers as the `Vec` it holds would, and a [`SerialObject`] as
//! the object it holds, but each resolves an object's fields in place: no box per field, one
//! hash per key, a map sized once. The lists took a dashboard from 4.65 M instructions to
//! 3.93 M, and the objects within them to 3.85 M.
//!
//! A list works out once which fields its items answer, fragments spread, and hashes each
//! answer's key once: every item's map is made with the same keys for SipHash
//! ([`answer_map`]), so one hash serves all the items.
//!
//! The answers are async-graphql 7.2.1's (the version the workspace pins), checked by the tests
//! below on one schema: fragments on the type, on an interface it implements and on a union
//! (which async-graphql does not match), `__typename`, aliases, a key asked twice and merged, a
//! failing field left out with its error and path, an object with no field answered as `null`.
//!
//! Only for object types whose fields resolve one after another anyway (`#[Object(serial)]`)
//! or are plain values (`SimpleObject`): an object whose fields wait on several loaders needs
//! them polled together, so that they batch. The items of a list still resolve concurrently,
//! as async-graphql's own lists do, so that a loader batches across the list.
//!
//! The loop leaves out what async-graphql runs around each field when a schema has extensions
//! (their `resolve` hooks) or custom directives (Steerco declares none). So it runs only on a
//! schema that says it has neither, with [`NoFieldHooks`] in its data: the copy that runs
//! checked queries ([`super::Schemas`]). On any other schema these types resolve through
//! async-graphql's own functions, exactly as `Vec<T>` and `T` do.
//!
//! A type that reaches itself through them (`A` answering a `SerialObject<A>`) does not compile:
//! its future would hold itself. Such a field answers the plain type, which async-graphql boxes.

use std::borrow::Cow;
use std::hash::{BuildHasher, RandomState};
use std::sync::LazyLock;

use async_graphql::indexmap::IndexMap;
use async_graphql::indexmap::map::raw_entry_v1::{RawEntryApiV1, RawEntryMut};
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{resolve_container_serial, resolve_list};
use async_graphql::{
    ContextSelectionSet, Name, ObjectType, OutputType, Positioned, ServerError, ServerResult, Value,
};

/// Schema data saying that the schema runs no extension's `resolve` hook and no custom
/// directive, so that [`SerialList`] and [`SerialObject`] may resolve in their own loop.
#[derive(Debug, Clone, Copy)]
pub struct NoFieldHooks;

/// Whether the schema running `ctx` has no field hooks ([`NoFieldHooks`]).
fn own_loop_allowed(ctx: &ContextSelectionSet<'_>) -> bool {
    ctx.schema_env
        .data
        .get(&std::any::TypeId::of::<NoFieldHooks>())
        .is_some()
}

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

impl<T: ObjectType> OutputType for SerialList<T> {
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
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        if !own_loop_allowed(ctx) {
            return resolve_list(ctx, field, &self.0, Some(self.0.len())).await;
        }
        if self.0.is_empty() {
            return Ok(Value::List(Vec::new()));
        }
        // Every item is a `T` under the same selection, so they all answer the same fields.
        let selected = &select::<T>(ctx)?;
        let items = self.0.iter().enumerate().map(|(index, item)| async move {
            resolve_object(&ctx.with_index(index), item, selected).await
        });
        Ok(Value::List(futures_util::future::join_all(items).await))
    }
}

/// An object of type `T`, the same type in the schema as `T` itself (see the module's
/// documentation for which `T` may use it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialObject<T>(pub T);

impl<T: ObjectType> OutputType for SerialObject<T> {
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
        if own_loop_allowed(ctx) {
            Ok(resolve_object(ctx, &self.0, &select::<T>(ctx)?).await)
        } else {
            resolve_container_serial(ctx, &self.0).await
        }
    }
}

/// One field an object of the selection answers: the field, the key of its answer, and the
/// key's hash in an [`answer_map`].
struct Selected<'a> {
    field: &'a Positioned<Field>,
    key: &'a Name,
    hash: u64,
}

/// The fields that an object of type `T` answers to the selection of `ctx`, in order.
fn select<'a, T: ObjectType>(ctx: &ContextSelectionSet<'a>) -> ServerResult<Vec<Selected<'a>>> {
    let mut fields = Vec::with_capacity(ctx.item.node.items.len());
    select_fields(ctx, &T::type_name(), ctx.item, &mut fields)?;
    Ok(fields
        .into_iter()
        .map(|field| {
            let key = &field.node.response_key().node;
            Selected {
                field,
                key,
                hash: ANSWER_KEYS.hash_one(key),
            }
        })
        .collect())
}

/// The keys of SipHash in the maps this module makes, the same for all of them so that a key
/// hashed once serves every map ([`Selected::hash`]). A map's own keys are otherwise drawn anew
/// for each map.
static ANSWER_KEYS: LazyLock<RandomState> = LazyLock::new(RandomState::new);

/// An empty map of answers for `fields` keys, hashing with [`ANSWER_KEYS`].
fn answer_map(fields: usize) -> IndexMap<Name, Value> {
    IndexMap::with_capacity_and_hasher(fields, ANSWER_KEYS.clone())
}

/// The answer of `object` to the `selected` fields, as async-graphql's serial container gives
/// it: each field in the order selected, a failed field left out with its error recorded, and
/// `null` for an object with no field selected.
async fn resolve_object<'a, T: ObjectType>(
    ctx: &ContextSelectionSet<'a>,
    object: &T,
    selected: &[Selected<'a>],
) -> Value {
    let mut answers = answer_map(selected.len());
    for &Selected { field, key, hash } in selected {
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
        merge(&mut answers, hash, key, answer);
    }
    if answers.is_empty() {
        Value::Null
    } else {
        Value::Object(answers)
    }
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

/// Puts `answer` under `key`, whose hash in `answers` is `hash`, merging it into an object or
/// list already there as async-graphql does when one key is selected twice (`a { x } a { y }`).
fn merge(answers: &mut IndexMap<Name, Value>, hash: u64, key: &Name, answer: Value) {
    match answers
        .raw_entry_mut_v1()
        .from_key_hashed_nocheck(hash, key)
    {
        RawEntryMut::Vacant(vacant) => {
            vacant.insert_hashed_nocheck(hash, key.clone(), answer);
        }
        RawEntryMut::Occupied(occupied) => merge_into(occupied.into_mut(), answer),
    }
}

/// Merges `answer` into the answer already under its key: an object's keys into the object's,
/// a list's objects into the list's, one by one; anything else stays as it was.
fn merge_into(into: &mut Value, answer: Value) {
    match (into, answer) {
        (Value::Object(into), Value::Object(from)) => merge_all(into, from),
        (Value::List(into), Value::List(from)) => {
            for (into, from) in into.iter_mut().zip(from) {
                if let (Value::Object(into), Value::Object(from)) = (into, from) {
                    merge_all(into, from);
                }
            }
        }
        _ => {}
    }
}

/// [`merge`]s every answer of `from` into `into`, hashing each key as `into` does (the maps
/// may come from async-graphql, whose keys differ from [`ANSWER_KEYS`]).
fn merge_all(into: &mut IndexMap<Name, Value>, from: IndexMap<Name, Value>) {
    for (key, answer) in from {
        let hash = into.hasher().hash_one(&key);
        merge(into, hash, &key, answer);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_graphql::dataloader::{DataLoader, Loader};
    use async_graphql::extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
    };
    use async_graphql::{
        Context, EmptyMutation, EmptySubscription, Interface, Object, Schema, SimpleObject, Union,
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
        /// Read through a loader, which batches the keys of the items that ask together.
        async fn loaded(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i32>> {
            let loader = ctx.data_unchecked::<DataLoader<Doubler>>();
            Ok(loader.load_one(self.number).await?)
        }
    }

    fn tags(count: i32) -> Vec<Tag> {
        (0..count)
            .map(|n| Tag {
                label: format!("t{n}"),
            })
            .collect()
    }

    /// Doubles its keys, counting the batches it is asked.
    struct Doubler(Arc<AtomicUsize>);

    impl Loader<i32> for Doubler {
        type Value = i32;
        type Error = Arc<String>;

        async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, i32>, Self::Error> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(keys.iter().map(|&key| (key, key * 2)).collect())
        }
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
            Item { number: 3 }
        }
        async fn fast_one(&self) -> SerialObject<Item> {
            SerialObject(Item { number: 3 })
        }
        async fn slow_none(&self) -> Option<Item> {
            None
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

    /// Counts the fields its `resolve` hook sees.
    struct CountFields(Arc<AtomicUsize>);

    impl ExtensionFactory for CountFields {
        fn create(&self) -> Arc<dyn Extension> {
            Arc::new(CountFields(Arc::clone(&self.0)))
        }
    }

    #[async_trait::async_trait]
    impl Extension for CountFields {
        async fn resolve(
            &self,
            ctx: &ExtensionContext<'_>,
            info: ResolveInfo<'_>,
            next: NextResolve<'_>,
        ) -> ServerResult<Option<Value>> {
            self.0.fetch_add(1, Ordering::Relaxed);
            next.run(ctx, info).await
        }
    }

    /// The test schema as the server's query schema has it: no field hooks, its own loop on.
    fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
        Schema::build(Query, EmptyMutation, EmptySubscription)
            .data(NoFieldHooks)
            .finish()
    }

    /// The JSON answer of `schema` to `{ list: field selection } fragments`, with a fresh
    /// loader, and the number of batches the loader was asked.
    async fn answer(
        schema: &Schema<Query, EmptyMutation, EmptySubscription>,
        field: &str,
        selection: &str,
        fragments: &str,
    ) -> (String, usize) {
        let batches = Arc::new(AtomicUsize::new(0));
        let loader = DataLoader::new(Doubler(Arc::clone(&batches)), tokio::spawn);
        let query = format!("{{ list: {field} {selection} }} {fragments}");
        let request = async_graphql::Request::new(query).data(loader);
        let text = serde_json::to_string(&schema.execute(request).await).unwrap();
        (text, batches.load(Ordering::Relaxed))
    }

    const SELECTIONS: [(&str, &str); 14] = [
        ("{ number name }", ""),
        ("{ name number number n: number __typename }", ""),
        ("{ number tags { label } tagList { label } }", ""),
        ("{ number half name }", ""),
        ("{ half }", ""),
        ("{ twin { number } twin { name } number }", ""),
        ("{ tags { label } tags { l: label } }", ""),
        ("{ number loaded }", ""),
        (
            "{ ...Parts name }",
            "fragment Parts on Item { number tags { label } }",
        ),
        ("{ ... on Item { number } ... { name } }", ""),
        ("{ ... on Numbered { number } }", ""),
        ("{ ... on Thing { __typename } number }", ""),
        ("{ number @include(if: true) name @skip(if: true) }", ""),
        (
            "{ ...Outer }",
            "fragment Outer on Item { ...Inner } fragment Inner on Item { half }",
        ),
    ];

    #[tokio::test]
    async fn a_serial_list_answers_as_the_vec_it_holds() {
        let schema = schema();
        for (selection, fragments) in SELECTIONS {
            for (slow, fast) in [("slow", "fast"), ("slowOne", "fastOne")] {
                let (slow, _) = answer(&schema, slow, selection, fragments).await;
                let (fast, _) = answer(&schema, fast, selection, fragments).await;
                assert_eq!(fast, slow, "{selection} {fragments}");
            }
        }
    }

    #[tokio::test]
    async fn the_items_of_a_serial_list_still_batch_their_loads() {
        let schema = schema();
        for field in ["slow", "fast"] {
            let (text, batches) = answer(&schema, field, "{ loaded }", "").await;
            assert_eq!(batches, 1, "{field}: {text}");
            assert!(text.contains(r#"{"loaded":6}"#), "{text}");
        }
    }

    #[tokio::test]
    async fn a_serial_object_answers_as_the_object_it_holds_or_null() {
        let schema = schema();
        for selection in [
            "{ number firstTag { label } }",
            "{ firstTag { label } firstTag { l: label __typename } }",
        ] {
            let with_serial = selection.replace("firstTag {", "firstTag: fastFirstTag {");
            let (slow, _) = answer(&schema, "slow", selection, "").await;
            let (fast, _) = answer(&schema, "slow", &with_serial, "").await;
            assert_eq!(fast, slow, "{selection}");
        }
        let (slow, _) = answer(&schema, "slowNone", "{ number }", "").await;
        let (fast, _) = answer(&schema, "fastNone", "{ number }", "").await;
        assert_eq!(fast, slow);
        assert!(fast.contains(r#""list":null"#), "{fast}");
    }

    #[tokio::test]
    async fn on_a_schema_with_field_hooks_they_resolve_through_async_graphql() {
        let counted = Arc::new(AtomicUsize::new(0));
        let hooked = Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(CountFields(Arc::clone(&counted)))
            .finish();
        let mut seen = Vec::new();
        for field in ["slow", "fast", "slowOne", "fastOne"] {
            counted.store(0, Ordering::Relaxed);
            let (text, _) = answer(&hooked, field, "{ number half }", "").await;
            seen.push((text, counted.load(Ordering::Relaxed)));
        }
        assert_eq!(seen[1], seen[0], "a list");
        assert_eq!(seen[3], seen[2], "an object");
        // The list field, each item and each item's two fields.
        assert_eq!(seen[1].1, 1 + 4 + 4 * 2);
    }

    /// The keys hashed once for a whole list are the keys each item's map finds by itself.
    #[tokio::test]
    async fn the_answers_of_the_loop_are_found_by_their_keys() {
        let request = async_graphql::Request::new(
            "{ fast { number n: name number } fastOne { number __typename } }",
        );
        let response = schema().execute(request).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let Value::Object(data) = response.data else {
            panic!("no data")
        };
        let Some(Value::List(items)) = data.get("fast") else {
            panic!("no list in {data:?}")
        };
        let mut objects: Vec<_> = items.iter().collect();
        objects.extend(data.get("fastOne"));
        for object in objects {
            let Value::Object(answers) = object else {
                panic!("{object:?}")
            };
            let keys: Vec<_> = answers.keys().map(Name::as_str).collect();
            for key in keys {
                assert!(answers.contains_key(key), "{key} in {answers:?}");
            }
            assert!(!answers.contains_key("name"), "{answers:?}");
        }
        assert_eq!(items.len(), 4);
    }

    #[tokio::test]
    async fn an_empty_serial_list_answers_an_empty_list() {
        let (text, _) = answer(&schema(), "fast", "{ tagList { label } }", "").await;
        assert!(text.contains(r#"[{"tagList":[]},"#), "{text}");
    }

    #[test]
    fn they_are_the_types_they_hold_in_the_schema() {
        assert_eq!(
            <SerialList<Item> as OutputType>::qualified_type_name(),
            <Vec<Item> as OutputType>::qualified_type_name()
        );
        let sdl = schema().sdl();
        for line in [
            "slow: [Item!]!",
            "fast: [Item!]!",
            "slowOne: Item!",
            "fastOne: Item!",
            "slowNone: Item",
            "fastNone: Item",
            "tags: [Tag!]!",
            "tagList: [Tag!]!",
            "firstTag: Tag",
            "fastFirstTag: Tag",
        ] {
            assert!(sdl.contains(line), "{line} in {sdl}");
        }
    }
}
