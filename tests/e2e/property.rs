//! The request path under arbitrary input: documents built from the schema itself (every
//! query and mutation, their arguments well typed, badly typed, hostile or missing, inline or
//! as variables, with arbitrary selections) never make the server fail, and every error it
//! answers carries a stable code other than `INTERNAL`.
//!
//! Proptest draws a list of choices; the document builder consumes it one choice at a time
//! (zeros once it runs out), so shrinking the list shrinks the document and a failure is
//! reported as the smallest operation that still fails.

use std::collections::HashMap;

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{
    BaseType, FieldDefinition, InputValueDefinition, Type, TypeKind, TypeSystemDefinition,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use crate::support::{TestApp, TestUser};

/// The API's types, read from the checked-in SDL.
struct Model {
    kinds: HashMap<String, TypeKind>,
    query: Vec<FieldDefinition>,
    mutation: Vec<FieldDefinition>,
}

impl Model {
    fn load() -> Self {
        let sdl = include_str!("../../graphql/schema.graphql");
        let document = parse_schema(sdl).expect("the SDL parses");
        let mut kinds = HashMap::new();
        for definition in document.definitions {
            if let TypeSystemDefinition::Type(ty) = definition {
                kinds.insert(ty.node.name.node.to_string(), ty.node.kind);
            }
        }
        let fields_of = |kinds: &HashMap<String, TypeKind>, name: &str| match kinds.get(name) {
            Some(TypeKind::Object(object)) => {
                object.fields.iter().map(|f| f.node.clone()).collect()
            }
            _ => panic!("{name} is an object type"),
        };
        Self {
            query: fields_of(&kinds, "QueryRoot"),
            mutation: fields_of(&kinds, "MutationRoot"),
            kinds,
        }
    }
}

/// Reads choices in order; past the end every choice is the first option, so any list of
/// choices builds a finite document.
struct Choices<'a> {
    drawn: &'a [u16],
    at: usize,
}

impl Choices<'_> {
    fn pick(&mut self, options: usize) -> usize {
        let drawn = self.drawn.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        usize::from(drawn) % options.max(1)
    }

    fn one_of<'b, T>(&mut self, options: &'b [T]) -> &'b T {
        &options[self.pick(options.len())]
    }
}

/// A GraphQL input value, written either as a literal in the document or as JSON variables.
#[derive(Debug, Clone)]
enum Input {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    EnumValue(String),
    List(Vec<Input>),
    Object(Vec<(String, Input)>),
}

impl Input {
    fn to_json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => json!(b),
            Self::Int(i) => json!(i),
            Self::Float(f) => json!(f),
            Self::Text(s) | Self::EnumValue(s) => json!(s),
            Self::List(items) => Value::Array(items.iter().map(Self::to_json).collect()),
            Self::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(name, value)| (name.clone(), value.to_json()))
                    .collect(),
            ),
        }
    }

    fn to_literal(&self) -> String {
        match self {
            Self::Null => "null".to_owned(),
            Self::Bool(b) => b.to_string(),
            Self::Int(i) => i.to_string(),
            Self::Float(f) if f.is_finite() => format!("{f:e}"),
            Self::Float(_) => "1e400".to_owned(),
            Self::Text(s) => json!(s).to_string(),
            Self::EnumValue(name) => name.clone(),
            Self::List(items) => {
                let items: Vec<String> = items.iter().map(Self::to_literal).collect();
                format!("[{}]", items.join(", "))
            }
            Self::Object(fields) => {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{name}: {}", value.to_literal()))
                    .collect();
                format!("{{{}}}", fields.join(", "))
            }
        }
    }
}

const TEXTS: &[&str] = &[
    "CRM-1",
    "Sales Cloud",
    "",
    "   ",
    "a\u{0}b",
    "line\nbreak",
    "\u{202e}evil",
    "😀",
    "'; DROP TABLE project; --",
    "%00%ff",
    "../../etc/passwd",
    "UHJvamVjdDowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA=",
];
const INTS: &[i64] = &[
    0,
    1,
    -1,
    20,
    100,
    101,
    i32::MAX as i64,
    i32::MIN as i64,
    1 << 40,
];
const DECIMALS: &[&str] = &[
    "0",
    "1.5",
    "-3",
    "1e400",
    "NaN",
    "99999999999999999999999999999.99",
];
const DATES: &[&str] = &[
    "2027-03-01",
    "2027-02-30",
    "0000-00-00",
    "+275760-09-13",
    "today",
];
const INSTANTS: &[&str] = &[
    "2027-03-01T09:00:00Z",
    "2027-03-01",
    "9999-12-31T23:59:59+14:00",
];

/// Builds one operation from choices.
struct Builder<'a> {
    model: &'a Model,
    choices: Choices<'a>,
    /// Ids that exist, so that some calls reach real objects.
    ids: &'a [String],
    variables: Vec<(String, String, Value)>,
}

impl Builder<'_> {
    fn operation(&mut self) -> (String, Value) {
        let (keyword, roots) = if self.choices.pick(2) == 0 {
            ("query", &self.model.query)
        } else {
            ("mutation", &self.model.mutation)
        };
        let mut selections = Vec::new();
        for index in 0..1 + self.choices.pick(2) {
            let field = &roots[self.choices.pick(roots.len())];
            selections.push(format!("f{index}: {}", self.field(field, 0)));
        }
        let declared: Vec<String> = self
            .variables
            .iter()
            .map(|(name, ty, _)| format!("${name}: {ty}"))
            .collect();
        let header = if declared.is_empty() {
            String::new()
        } else {
            format!("({})", declared.join(", "))
        };
        let values = self
            .variables
            .drain(..)
            .map(|(name, _, value)| (name, value))
            .collect();
        (
            format!("{keyword}{header} {{ {} }}", selections.join(" ")),
            Value::Object(values),
        )
    }

    /// A field with arguments and a selection of its type.
    fn field(&mut self, field: &FieldDefinition, depth: usize) -> String {
        let mut arguments = Vec::new();
        for argument in &field.arguments {
            if let Some(written) = self.argument(&argument.node) {
                arguments.push(format!("{}: {written}", argument.node.name.node));
            }
        }
        let arguments = if arguments.is_empty() {
            String::new()
        } else {
            format!("({})", arguments.join(", "))
        };
        format!(
            "{}{arguments}{}",
            field.name.node,
            self.selection(&field.ty.node, depth)
        )
    }

    /// An argument's value as written (inline or `$variable`), or `None` to leave it out.
    fn argument(&mut self, argument: &InputValueDefinition) -> Option<String> {
        if argument.ty.node.nullable && self.choices.pick(3) == 0 {
            return None;
        }
        let value = self.value(&argument.ty.node, 0);
        if self.choices.pick(2) == 0 {
            Some(value.to_literal())
        } else {
            let name = format!("v{}", self.variables.len());
            let written = format!("${name}");
            self.variables
                .push((name, argument.ty.node.to_string(), value.to_json()));
            Some(written)
        }
    }

    /// Mostly a value of the declared type; sometimes null or a value of another type.
    fn value(&mut self, ty: &Type, depth: usize) -> Input {
        match self.choices.pick(10) {
            8 => return Input::Null,
            9 => return self.hostile(),
            _ => {}
        }
        match &ty.base {
            BaseType::List(item) => Input::List(
                (0..self.choices.pick(4))
                    .map(|_| self.value(item, depth + 1))
                    .collect(),
            ),
            BaseType::Named(name) => self.named(name, depth),
        }
    }

    fn named(&mut self, name: &str, depth: usize) -> Input {
        match self.model.kinds.get(name) {
            Some(TypeKind::Enum(values)) => {
                let names: Vec<String> = values
                    .values
                    .iter()
                    .map(|v| v.node.value.node.to_string())
                    .chain(["NOT_A_VALUE".to_owned()])
                    .collect();
                Input::EnumValue(self.choices.one_of(&names).clone())
            }
            Some(TypeKind::InputObject(object)) if depth < 4 => {
                let mut fields = Vec::new();
                for field in &object.fields {
                    let field = &field.node;
                    if field.ty.node.nullable && self.choices.pick(3) == 0 {
                        continue;
                    }
                    let value = self.value(&field.ty.node, depth + 1);
                    fields.push((field.name.node.to_string(), value));
                }
                Input::Object(fields)
            }
            Some(TypeKind::InputObject(_)) => Input::Null,
            _ => self.scalar(name),
        }
    }

    fn scalar(&mut self, name: &str) -> Input {
        let text = |s: &&str| Input::Text((*s).to_owned());
        match name {
            "Int" => Input::Int(*self.choices.one_of(INTS)),
            "Float" => Input::Float([0.0, -1.5, 1e300][self.choices.pick(3)]),
            "Boolean" => Input::Bool(self.choices.pick(2) == 1),
            "ID" if !self.ids.is_empty() && self.choices.pick(3) > 0 => {
                Input::Text(self.choices.one_of(self.ids).clone())
            }
            "Decimal" => text(self.choices.one_of(DECIMALS)),
            "NaiveDate" => text(self.choices.one_of(DATES)),
            "DateTime" => text(self.choices.one_of(INSTANTS)),
            _ => match self.choices.pick(6) {
                0 => Input::Text("x".repeat(20_000)),
                _ => text(self.choices.one_of(TEXTS)),
            },
        }
    }

    fn hostile(&mut self) -> Input {
        match self.choices.pick(6) {
            0 => Input::Int(i64::MAX),
            1 => Input::Float(f64::INFINITY),
            2 => Input::Text("\u{0}".repeat(100)),
            3 => Input::List(vec![Input::Null; 3]),
            4 => Input::Object(vec![("__proto__".to_owned(), Input::Bool(true))]),
            _ => Input::EnumValue("UNKNOWN".to_owned()),
        }
    }

    /// A selection of the fields of an object type (always `__typename`, then a few more).
    fn selection(&mut self, ty: &Type, depth: usize) -> String {
        let name = match &ty.base {
            BaseType::Named(name) => name.to_string(),
            BaseType::List(item) => return self.selection(item, depth),
        };
        let fields: Vec<FieldDefinition> = match self.model.kinds.get(&name) {
            Some(TypeKind::Object(object)) => {
                object.fields.iter().map(|f| f.node.clone()).collect()
            }
            Some(TypeKind::Interface(interface)) => {
                interface.fields.iter().map(|f| f.node.clone()).collect()
            }
            Some(TypeKind::Union(_)) => return " { __typename }".to_owned(),
            _ => return String::new(),
        };
        let mut items = vec!["__typename".to_owned()];
        if depth < 3 {
            for index in 0..self.choices.pick(4) {
                let field = &fields[self.choices.pick(fields.len())];
                items.push(format!(
                    "s{depth}_{index}: {}",
                    self.field(field, depth + 1)
                ));
            }
        }
        format!(" {{ {} }}", items.join(" "))
    }
}

/// Every error carries a code, none of them `INTERNAL`.
fn check(response: &Value) -> Result<(), String> {
    if response.get("data").is_none() && response.get("errors").is_none() {
        return Err("neither data nor errors".to_owned());
    }
    for error in response["errors"].as_array().into_iter().flatten() {
        match error["extensions"]["code"].as_str() {
            None => return Err(format!("an error without a code: {error}")),
            Some("INTERNAL") => return Err(format!("an internal error: {error}")),
            Some(_) => {}
        }
    }
    Ok(())
}

async fn send(app: &TestApp, user: &TestUser, document: &str, variables: Value) -> Value {
    let response = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth(&user.token)
        .json(&json!({ "query": document, "variables": variables }))
        .send()
        .await
        .expect("send");
    let status = response.status();
    let body = response.text().await.expect("body");
    assert!(!status.is_server_error(), "{status}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("{status}: not JSON: {body}"))
}

#[test]
fn arbitrary_operations_from_the_schema_never_fail_internally() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let model = Model::load();
    let (app, user, ids) = runtime.block_on(async {
        let app = TestApp::spawn().await;
        let pm = app.user("Anna Berg", false).await;
        let project = app.project(&pm, "CRM-1").await;
        let data = app
            .ok(
                &pm,
                "query($id: ID!) { node(id: $id) { ... on Project { phases { id } } } }",
                json!({ "id": project }),
            )
            .await;
        let mut ids = vec![project, pm.id.clone()];
        ids.extend(
            data["node"]["phases"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|phase| phase["id"].as_str().map(str::to_owned)),
        );
        (app, pm, ids)
    });
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&prop::collection::vec(any::<u16>(), 0..160), |drawn| {
        let mut builder = Builder {
            model: &model,
            choices: Choices {
                drawn: &drawn,
                at: 0,
            },
            ids: &ids,
            variables: Vec::new(),
        };
        let (document, variables) = builder.operation();
        let response = runtime.block_on(send(&app, &user, &document, variables.clone()));
        check(&response).map_err(|problem| {
            TestCaseError::fail(format!(
                "{problem}\ndocument: {document}\nvariables: {variables}"
            ))
        })
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    // Still serving.
    let me = runtime.block_on(send(&app, &user, "{ me { id } }", json!({})));
    assert_eq!(me["data"]["me"]["id"], json!(user.id));
}
