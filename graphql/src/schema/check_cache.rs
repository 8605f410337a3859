//! What [`Schemas::check`](super::Schemas::check) remembers of the operations it has checked.
//!
//! Clients send a handful of documents over and over: a dashboard polls one query for one
//! project. Parsing a document of a thousand fields and validating it against every rule
//! gives the same answer each time, since the schema and its limits do not change while the
//! server runs, and on such a dashboard it cost 14 % of the server's CPU. So the parsed
//! documents are kept by their text, and the queries that passed by their text, operation name
//! and variables (the complexity of `first: $n` and the input bounds depend on the variables).
//! Both caches are bounded and evict the least useful entries (S3-FIFO); refusals are never
//! kept, nor documents longer than [`LONGEST_KEPT`].

use async_graphql::parser::types::ExecutableDocument;
use quick_cache::{Equivalent, sync::Cache};

use super::Passed;

/// Parsed documents kept.
const DOCUMENTS: usize = 64;
/// Operations that passed kept: a few per document, one per set of variables.
const PASSED: usize = 512;
/// Documents (and variables, as JSON) longer than this, in bytes, are parsed and checked
/// each time: they are not what a client polls, and they would make the caches large.
pub const LONGEST_KEPT: usize = 16 * 1024;

pub struct CheckCache {
    documents: Cache<String, ExecutableDocument>,
    passed: Cache<PassedKey, Passed>,
}

impl Default for CheckCache {
    fn default() -> Self {
        Self {
            documents: Cache::new(DOCUMENTS),
            passed: Cache::new(PASSED),
        }
    }
}

/// One operation of a request, as far as its check depends on it.
#[derive(Hash)]
pub struct Operation<'a> {
    query: &'a str,
    operation_name: Option<&'a str>,
    /// The variables as JSON.
    variables: &'a str,
}

/// An [`Operation`] as a key of the cache; hashes as the operation it was made from.
#[derive(Hash, PartialEq, Eq)]
struct PassedKey {
    query: String,
    operation_name: Option<String>,
    variables: String,
}

impl Equivalent<PassedKey> for Operation<'_> {
    fn equivalent(&self, key: &PassedKey) -> bool {
        self.query == key.query
            && self.operation_name == key.operation_name.as_deref()
            && self.variables == key.variables
    }
}

impl<'a> Operation<'a> {
    /// The operation `request` runs, with its variables as JSON.
    pub fn of(request: &'a async_graphql::Request, variables: &'a str) -> Self {
        Self {
            query: &request.query,
            operation_name: request.operation_name.as_deref(),
            variables,
        }
    }

    fn is_kept(&self) -> bool {
        self.query.len() <= LONGEST_KEPT && self.variables.len() <= LONGEST_KEPT
    }
}

impl CheckCache {
    /// The document parsed from `query`, if it was kept.
    pub fn document(&self, query: &str) -> Option<ExecutableDocument> {
        self.documents.get(query)
    }

    /// Keeps the document parsed from `query`, unless `query` is too long.
    pub fn keep_document(&self, query: &str, document: &ExecutableDocument) {
        if query.len() <= LONGEST_KEPT {
            self.documents.insert(query.to_owned(), document.clone());
        }
    }

    /// What the check of `operation` found, if it passed and was kept.
    pub fn passed(&self, operation: &Operation<'_>) -> Option<Passed> {
        if !operation.is_kept() {
            return None;
        }
        self.passed.get(operation)
    }

    /// Keeps what the check of `operation` found, unless it is too long.
    pub fn keep_passed(&self, operation: &Operation<'_>, passed: &Passed) {
        if operation.is_kept() {
            let key = PassedKey {
                query: operation.query.to_owned(),
                operation_name: operation.operation_name.map(str::to_owned),
                variables: operation.variables.to_owned(),
            };
            self.passed.insert(key, passed.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, RandomState};

    fn operation<'a>(query: &'a str, name: Option<&'a str>, variables: &'a str) -> Operation<'a> {
        Operation {
            query,
            operation_name: name,
            variables,
        }
    }

    fn passed() -> Passed {
        Passed {
            is_query: true,
            analysis: None,
            sign_ins: 0,
        }
    }

    #[test]
    fn an_operation_hashes_as_the_key_made_from_it() {
        let hasher = RandomState::new();
        let looked_up = operation("query Q { me { id } }", Some("Q"), r#"{"a":1}"#);
        let key = PassedKey {
            query: "query Q { me { id } }".to_owned(),
            operation_name: Some("Q".to_owned()),
            variables: r#"{"a":1}"#.to_owned(),
        };
        assert_eq!(hasher.hash_one(&looked_up), hasher.hash_one(&key));
        assert!(looked_up.equivalent(&key));
    }

    #[test]
    fn a_check_is_found_only_for_the_same_text_name_and_variables() {
        let cache = CheckCache::default();
        let kept = operation("query Q { me { id } }", Some("Q"), "{}");
        cache.keep_passed(&kept, &passed());
        assert!(cache.passed(&kept).is_some());
        for other in [
            operation("query Q { me { id name } }", Some("Q"), "{}"),
            operation("query Q { me { id } }", None, "{}"),
            operation("query Q { me { id } }", Some("Q"), r#"{"first":100000}"#),
        ] {
            assert!(cache.passed(&other).is_none());
        }
    }

    #[test]
    fn long_documents_are_not_kept() {
        let cache = CheckCache::default();
        let long = format!("{{ me {{ id }} }}{}", " ".repeat(LONGEST_KEPT));
        let document = async_graphql::parser::parse_query(&long).expect("a document");
        cache.keep_document(&long, &document);
        assert!(cache.document(&long).is_none());
        let operation = operation(&long, None, "{}");
        cache.keep_passed(&operation, &passed());
        assert!(cache.passed(&operation).is_none());

        cache.keep_document("{ me { id } }", &document);
        assert!(cache.document("{ me { id } }").is_some());
    }
}
