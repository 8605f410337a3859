//! The README's GraphQL examples are documentation that users copy: every operation of every
//! `graphql` block must parse and validate against the schema the server serves, within its
//! default limits, as the HTTP front checks a request before it runs it.

use std::sync::Arc;

use steerco_graphql::domain::clock::SystemClock;
use steerco_graphql::schema::{Check, Limits, Schemas};
use steerco_graphql::service::AppState;

const README: &str = include_str!("../../README.md");

/// The blocks of `markdown` fenced as `graphql` (the fence's first word, in any case), each with
/// the line its fence opens on.
fn graphql_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (open.as_mut(), fence) {
            (None, Some(info)) => {
                let language = info.split_whitespace().next().unwrap_or_default();
                // Another block is skipped whole, its closing fence with it: line 0.
                let line = if language.eq_ignore_ascii_case("graphql") {
                    index + 1
                } else {
                    0
                };
                open = Some((line, String::new()));
            }
            (None, None) => {}
            (Some(_), Some(_)) => blocks.extend(open.take().filter(|(line, _)| *line > 0)),
            (Some((_, text)), None) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(
        open.is_none(),
        "a fenced block of the README is never closed"
    );
    blocks
}

/// Where the splitter stands in a block's text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lexing {
    Code,
    String,
    BlockString,
    Comment,
}

/// The operations of one block, which may hold several one after another: each runs from
/// where the one before ended to where its outermost braces close, outside any parentheses
/// (an argument's object literal). Braces in strings, block strings and comments do not count.
/// A fragment would be split off as an operation of its own: the README has none.
fn operations(block: &str) -> Vec<String> {
    let mut operations = Vec::new();
    let (mut braces, mut parentheses) = (0_usize, 0_usize);
    let mut lexing = Lexing::Code;
    // Read as bytes: every byte that matters is ASCII, which no other character's bytes are,
    // so an operation ends at a character's boundary.
    let bytes = block.as_bytes();
    let mut start = 0;
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let byte = rest[0];
        let mut step = 1;
        lexing = match lexing {
            Lexing::Code if rest.starts_with(b"\"\"\"") => {
                step = 3;
                Lexing::BlockString
            }
            Lexing::Code => {
                match byte {
                    b'(' => parentheses += 1,
                    b')' => parentheses = closing(parentheses, block),
                    b'{' => braces += 1,
                    b'}' => {
                        braces = closing(braces, block);
                        if braces == 0 && parentheses == 0 {
                            operations.push(block[start..=at].trim().to_owned());
                            start = at + 1;
                        }
                    }
                    _ => {}
                }
                match byte {
                    b'"' => Lexing::String,
                    b'#' => Lexing::Comment,
                    _ => Lexing::Code,
                }
            }
            Lexing::String if byte == b'\\' => {
                step = 2;
                Lexing::String
            }
            Lexing::String if byte == b'"' => Lexing::Code,
            Lexing::BlockString if rest.starts_with(b"\\\"\"\"") => {
                step = 4;
                Lexing::BlockString
            }
            Lexing::BlockString if rest.starts_with(b"\"\"\"") => {
                step = 3;
                Lexing::Code
            }
            Lexing::Comment if byte == b'\n' => Lexing::Code,
            unchanged => unchanged,
        };
        at += step;
    }
    let left = block[start..]
        .lines()
        .all(|line| line.trim().is_empty() || line.trim_start().starts_with('#'));
    assert!(
        braces == 0 && parentheses == 0 && lexing != Lexing::BlockString && left,
        "an operation is left open in:\n{block}"
    );
    operations
}

/// `depth` after a closing bracket; one that closes nothing fails the test.
fn closing(depth: usize, block: &str) -> usize {
    depth
        .checked_sub(1)
        .unwrap_or_else(|| panic!("a bracket closes nothing in:\n{block}"))
}

#[test]
fn a_block_splits_into_its_operations_whatever_its_strings_hold() {
    let block = concat!(
        "mutation { a(input: { text: \"a } and a { \\\" \" }) { b } }\n",
        "# a { comment\n",
        "query($i: In = { a: 1 }) { c(note: \"\"\"a \"} block\\\"\"\" { \"\"\") }\n",
        "# a comment after the last\n",
    );
    assert_eq!(
        operations(block),
        [
            "mutation { a(input: { text: \"a } and a { \\\" \" }) { b } }",
            "# a { comment\nquery($i: In = { a: 1 }) { c(note: \"\"\"a \"} block\\\"\"\" { \"\"\") }",
        ]
    );
}

#[test]
fn only_blocks_fenced_as_graphql_are_taken() {
    let markdown = "```sh\n{ not: graphql }\n```\n```GraphQL title\n{ a }\n```\n```\n{ b }\n```\n";
    assert_eq!(graphql_blocks(markdown), [(4, "{ a }\n".to_owned())]);
}

#[tokio::test]
async fn every_graphql_example_of_the_readme_validates_against_the_schema() {
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    let state = AppState::new(db, Arc::new(SystemClock));
    // In production mode, as deployed: no introspection, which no example needs.
    let production = true;
    let schemas = Schemas::build(state, Limits::default(), production);
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
        blocks.len() >= 40 && checked >= blocks.len(),
        "{} blocks, {checked} operations",
        blocks.len()
    );
    assert!(refused.is_empty(), "{}", refused.join("\n\n"));
}
