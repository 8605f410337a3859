//! Limits async-graphql does not enforce itself, checked on the parsed document before
//! validation and before any resolver or SQL runs:
//!
//! - **aliases**: without a bound one request could ask for the same costly field under
//!   hundreds of names ("alias overloading");
//! - **input bounds**: no string argument longer than [`MAX_TEXT_CHARS`] (a CSV file
//!   [`MAX_FILE_CHARS`]) and no list longer than [`MAX_LIST_ITEMS`], in literals and in
//!   variables alike. Each field's own, tighter bound (a name's 200 characters, a scope
//!   section's 200 entries) is checked by its domain rule and answered as a `userErrors`
//!   entry; this ceiling keeps what no field accepts from reaching the rules at all;
//! - **page sizes**: no `first` or `last` above [`MAX_PAGE_SIZE`], so that a huge page is
//!   refused before the token is looked up, as its cost is counted as a full page (see
//!   [`super::page::cost`]) and would pass the complexity limit.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{Name, ServerResult, Value, Variables};

use super::error::{codes, top_level_server_error};
use super::page::MAX_PAGE_SIZE;
use crate::domain::uat_csv::MAX_CSV_BYTES;

/// Longest string argument, in characters: the longest text any field accepts.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Longest string of a file argument (`testScenarioCsvImport`'s `csv`).
pub const MAX_FILE_CHARS: usize = MAX_CSV_BYTES;
/// Most items of a list argument: the largest list any field accepts.
pub const MAX_LIST_ITEMS: usize = 200;
/// Fields whose arguments carry a file rather than text.
const FILE_FIELDS: [&str; 1] = ["testScenarioCsvImport"];

/// Refuses documents with more than `max_aliases` aliased fields, or an argument beyond the
/// input bounds.
pub struct DocumentLimits {
    pub max_aliases: usize,
}

impl ExtensionFactory for DocumentLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DocumentLimitsExtension {
            max_aliases: self.max_aliases,
        })
    }
}

struct DocumentLimitsExtension {
    max_aliases: usize,
}

#[async_trait::async_trait]
impl Extension for DocumentLimitsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let fields = fields(&document);
        let aliases = count_aliases(&fields);
        if aliases > self.max_aliases {
            let message = format!(
                "the document uses {aliases} aliases; at most {} are allowed",
                self.max_aliases
            );
            return Err(top_level_server_error(codes::LIMIT_EXCEEDED, &message));
        }
        check_input_bounds(&fields, variables)
            .map_err(|message| top_level_server_error(codes::LIMIT_EXCEEDED, &message))?;
        Ok(document)
    }
}

/// Every field of every operation and fragment definition of a document, as written.
pub fn fields(document: &ExecutableDocument) -> Vec<&Field> {
    fn collect<'a>(set: &'a SelectionSet, out: &mut Vec<&'a Field>) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    out.push(&field.node);
                    collect(&field.node.selection_set.node, out);
                }
                Selection::InlineFragment(fragment) => {
                    collect(&fragment.node.selection_set.node, out);
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    for (_, operation) in document.operations.iter() {
        collect(&operation.node.selection_set.node, &mut out);
    }
    for fragment in document.fragments.values() {
        collect(&fragment.node.selection_set.node, &mut out);
    }
    out
}

/// Aliased fields among a document's [`fields`].
pub fn count_aliases(fields: &[&Field]) -> usize {
    fields.iter().filter(|field| field.alias.is_some()).count()
}

/// Arguments that size a page of a connection.
const PAGE_SIZE_ARGUMENTS: [&str; 2] = ["first", "last"];

/// Checks every argument written on a document's [`fields`] and every variable against the
/// bounds.
pub fn check_input_bounds(fields: &[&Field], variables: &Variables) -> Result<(), String> {
    let mut file_variables = HashSet::new();
    for field in fields {
        let file = FILE_FIELDS.contains(&field.name.node.as_str());
        for (name, value) in &field.arguments {
            if PAGE_SIZE_ARGUMENTS.contains(&name.node.as_str()) {
                let Ok(size) = value.node.clone().into_const_with(|variable: Name| {
                    Ok::<_, Infallible>(variables.get(&variable).cloned().unwrap_or(Value::Null))
                });
                within_page_size(&size).map_err(|problem| {
                    format!(
                        "argument `{}` of `{}`: {problem}",
                        name.node, field.name.node
                    )
                })?;
            }
            // Variables are checked below, once, with the bound of where they are used.
            let literal = value.node.clone().into_const_with(|variable: Name| {
                if file {
                    file_variables.insert(variable);
                }
                Ok::<_, Infallible>(Value::Null)
            });
            let Ok(literal) = literal;
            within_bounds(&literal, if file { MAX_FILE_CHARS } else { MAX_TEXT_CHARS }).map_err(
                |problem| {
                    format!(
                        "argument `{}` of `{}`: {problem}",
                        name.node, field.name.node
                    )
                },
            )?;
        }
    }
    for (name, value) in variables.iter() {
        let max_chars = if file_variables.contains(name) {
            MAX_FILE_CHARS
        } else {
            MAX_TEXT_CHARS
        };
        within_bounds(value, max_chars)
            .map_err(|problem| format!("variable `${name}`: {problem}"))?;
    }
    Ok(())
}

/// A page size is at most [`MAX_PAGE_SIZE`]; one that is not a number is left to validation.
fn within_page_size(size: &Value) -> Result<(), String> {
    match size {
        Value::Number(size)
            if size
                .as_f64()
                .is_some_and(|size| size > f64::from(MAX_PAGE_SIZE)) =>
        {
            Err(format!(
                "{size}; a page holds at most {MAX_PAGE_SIZE} items"
            ))
        }
        _ => Ok(()),
    }
}

fn within_bounds(value: &Value, max_chars: usize) -> Result<(), String> {
    match value {
        Value::String(text) => {
            let chars = text.chars().count();
            if chars > max_chars {
                return Err(format!(
                    "a string of {chars} characters; at most {max_chars} are accepted"
                ));
            }
            Ok(())
        }
        Value::List(items) => {
            if items.len() > MAX_LIST_ITEMS {
                return Err(format!(
                    "a list of {} items; at most {MAX_LIST_ITEMS} are accepted",
                    items.len()
                ));
            }
            items
                .iter()
                .try_for_each(|item| within_bounds(item, max_chars))
        }
        Value::Object(fields) => fields
            .values()
            .try_for_each(|field| within_bounds(field, max_chars)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use serde_json::json;

    use super::*;

    fn aliases(query: &str) -> usize {
        count_aliases(&fields(&parse_query(query).unwrap()))
    }

    #[test]
    fn aliases_are_counted_in_operations_nested_fields_inline_fragments_and_fragments() {
        assert_eq!(aliases("{ me { id } }"), 0);
        assert_eq!(aliases("{ a: me { id } b: me { x: id } }"), 3);
        assert_eq!(
            aliases("query Q { me { ...F ... on User { y: id } } } fragment F on User { z: name }"),
            2
        );
        assert_eq!(
            aliases("query A { a: me { id } } query B { b: me { id } }"),
            2
        );
    }

    fn bounded(query: &str, variables: serde_json::Value) -> Result<(), String> {
        check_input_bounds(
            &fields(&parse_query(query).unwrap()),
            &Variables::from_json(variables),
        )
    }

    #[test]
    fn strings_and_lists_are_bounded_in_literals_variables_and_nested_inputs() {
        let longest = "x".repeat(MAX_TEXT_CHARS);
        let too_long = "x".repeat(MAX_TEXT_CHARS + 1);
        let literal = |text: &str| {
            format!(r#"mutation {{ m(input: {{ a: [{{ b: "{text}" }}] }}) {{ x }} }}"#)
        };
        assert_eq!(bounded(&literal(&longest), json!({})), Ok(()));
        let refused = bounded(&literal(&too_long), json!({})).unwrap_err();
        assert!(refused.contains("argument `input` of `m`"), "{refused}");
        // Characters, not bytes: the bound is the same in any script.
        assert_eq!(
            bounded(&literal(&"é".repeat(MAX_TEXT_CHARS)), json!({})),
            Ok(())
        );

        let query = "mutation($i: I!) { m(input: $i) { x } }";
        assert_eq!(bounded(query, json!({ "i": { "a": [longest] } })), Ok(()));
        let refused = bounded(query, json!({ "i": { "a": [too_long] } })).unwrap_err();
        assert!(refused.contains("variable `$i`"), "{refused}");
        // Even a variable no argument uses.
        assert!(bounded("{ me { id } }", json!({ "unused": too_long })).is_err());

        let list = |n: usize| json!({ "i": { "ids": vec!["a"; n] } });
        assert_eq!(bounded(query, list(MAX_LIST_ITEMS)), Ok(()));
        assert!(bounded(query, list(MAX_LIST_ITEMS + 1)).is_err());
    }

    #[test]
    fn a_csv_file_may_be_longer_than_text() {
        let file = "x".repeat(MAX_TEXT_CHARS * 10);
        let import = "mutation($csv: String!) { testScenarioCsvImport(input: { projectId: \"p\", csv: $csv }) { x } }";
        assert_eq!(bounded(import, json!({ "csv": file })), Ok(()));
        let other = "mutation($csv: String!) { defectComment(input: { body: $csv }) { x } }";
        assert!(bounded(other, json!({ "csv": file })).is_err());
        let too_big = "x".repeat(MAX_FILE_CHARS + 1);
        assert!(bounded(import, json!({ "csv": too_big })).is_err());
    }

    #[test]
    fn a_page_is_at_most_a_hundred_items_asked_by_literal_or_variable() {
        let literal = |size: i64| format!("{{ projects(first: {size}) {{ totalCount }} }}");
        assert_eq!(
            bounded(&literal(i64::from(MAX_PAGE_SIZE)), json!({})),
            Ok(())
        );
        let refused = bounded(&literal(100_000_000), json!({})).unwrap_err();
        assert!(
            refused.contains("argument `first` of `projects`"),
            "{refused}"
        );
        let by_variable =
            "query($n: Int) { project(code: \"A\") { defects(last: $n) { totalCount } } }";
        assert_eq!(bounded(by_variable, json!({ "n": 100 })), Ok(()));
        assert_eq!(bounded(by_variable, json!({})), Ok(()));
        let refused = bounded(by_variable, json!({ "n": 101 })).unwrap_err();
        assert!(
            refused.contains("argument `last` of `defects`"),
            "{refused}"
        );
        // Other arguments named otherwise may be larger; negative sizes are the resolver's.
        assert_eq!(bounded("{ m(days: 3650) { x } }", json!({})), Ok(()));
        assert_eq!(bounded(&literal(-1), json!({})), Ok(()));
    }
}
