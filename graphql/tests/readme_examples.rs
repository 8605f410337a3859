//! The README's GraphQL examples are documentation that users copy: every operation of every
//! `graphql` block must parse and validate against the schema the server serves, within its
//! default limits, as the HTTP front checks a request before it runs it.

use std::sync::Arc;

use steerco_graphql::domain::clock::SystemClock;
use steerco_graphql::schema::{Check, Limits, Schemas};
use steerco_graphql::service::AppState;

const README: &str = include_str!("../../README.md");

/// The blocks of `markdown` fenced as `graphql`, each with the line its fence opens on.
fn graphql_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (index, line) in markdown.lines().enumerate() {
        match open.as_mut() {
            None if line.trim_start() == "```graphql" => open = Some((index + 1, String::new())),
            None => {}
            Some(_) if line.trim_start().starts_with("```") => blocks.extend(open.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(
        open.is_none(),
        "a graphql block of the README is never closed"
    );
    blocks
}

/// The operations of one block, which may hold several one after another: each runs from
/// where the one before ended to where its outermost braces close. Braces in strings and
/// comments do not count.
fn operations(block: &str) -> Vec<String> {
    let mut operations = Vec::new();
    let mut current = String::new();
    let mut depth = 0_usize;
    let mut in_string = false;
    let mut in_comment = false;
    let mut escaped = false;
    for c in block.chars() {
        current.push(c);
        if in_comment {
            in_comment = c != '\n';
        } else if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else {
            match c {
                '"' => in_string = true,
                '#' => in_comment = true,
                '{' => depth += 1,
                '}' => {
                    depth = depth
                        .checked_sub(1)
                        .unwrap_or_else(|| panic!("a brace closes nothing in:\n{block}"));
                    if depth == 0 {
                        operations.push(current.trim().to_owned());
                        current.clear();
                    }
                }
                _ => {}
            }
        }
    }
    assert!(
        depth == 0 && current.trim().is_empty(),
        "an operation is left open in:\n{block}"
    );
    operations
}

#[test]
fn a_block_splits_into_its_operations_whatever_its_strings_hold() {
    let block =
        "mutation { a(input: { text: \"a } and a { \\\" \" }) { b } }\n# a { comment\n{ c }\n";
    assert_eq!(
        operations(block),
        [
            "mutation { a(input: { text: \"a } and a { \\\" \" }) { b } }",
            "# a { comment\n{ c }",
        ]
    );
}

#[tokio::test]
async fn every_graphql_example_of_the_readme_validates_against_the_schema() {
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    let state = AppState::new(db, Arc::new(SystemClock));
    let schemas = Schemas::build(state, Limits::default(), true);
    let blocks = graphql_blocks(README);
    let mut checked = 0;
    let mut refused = Vec::new();
    for (line, block) in &blocks {
        for operation in operations(block) {
            checked += 1;
            let mut request = async_graphql::Request::new(operation.clone());
            if let Check::Refused(answer) = schemas.check(&mut request).await {
                let errors: Vec<String> = answer.errors.iter().map(|e| e.message.clone()).collect();
                refused.push(format!(
                    "the block at README line {line}:\n{operation}\n  {}",
                    errors.join("\n  ")
                ));
            }
        }
    }
    // Guards against a parser that finds nothing: the README has a block per capability.
    assert!(
        blocks.len() >= 40 && checked >= 70,
        "{} blocks, {checked} operations",
        blocks.len()
    );
    assert!(refused.is_empty(), "{}", refused.join("\n\n"));
}
