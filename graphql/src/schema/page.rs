//! Relay connections: argument checks, cursors, and the cost of a list field.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{OutputType, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::{codes, limit_exceeded, top_level};
use crate::service::page::{Page, Window};

/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: i32 = 100;
/// The page size when a client names none.
pub const DEFAULT_PAGE_SIZE: i32 = 20;

/// Fields every connection carries besides edges and page info.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct ConnectionFields {
    /// How many items match, across all pages.
    pub total_count: u64,
}

pub type Conn<T> = Connection<String, T, ConnectionFields>;

/// What an unpaginated list (members, tokens) is assumed to hold when costing a query.
pub const UNBOUNDED_LIST_ESTIMATE: usize = 10;

/// The cost of an unpaginated list field.
pub fn list_cost(child_complexity: usize) -> usize {
    UNBOUNDED_LIST_ESTIMATE * child_complexity + 1
}

/// The cost of a list field for the complexity limit: its children times the page size asked.
pub fn cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first
        .or(last)
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(0, MAX_PAGE_SIZE) as usize;
    size.max(1) * child_complexity + 1
}

/// A key that can be written into and read back from an opaque cursor.
pub trait CursorKey: Sized {
    fn to_cursor(&self) -> String;
    fn from_cursor(text: &str) -> Option<Self>;
}

impl CursorKey for uuid::Uuid {
    fn to_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.as_bytes())
    }
    fn from_cursor(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        uuid::Uuid::from_slice(&bytes).ok()
    }
}

impl CursorKey for i64 {
    fn to_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.to_string())
    }
    fn from_cursor(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        std::str::from_utf8(&bytes).ok()?.parse().ok()
    }
}

/// Relay pagination arguments as received.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl PageArgs {
    /// Checks the arguments: sizes within 0..=100, not both `first` and `last`, cursors ours.
    pub fn window<K: CursorKey>(&self) -> async_graphql::Result<Window<K>> {
        if self.first.is_some() && self.last.is_some() {
            return Err(top_level(
                codes::BAD_REQUEST,
                "pass either first or last, not both",
            ));
        }
        let size = self.first.or(self.last).unwrap_or(DEFAULT_PAGE_SIZE);
        if size < 0 {
            return Err(top_level(
                codes::BAD_REQUEST,
                "first and last must not be negative",
            ));
        }
        if size > MAX_PAGE_SIZE {
            return Err(limit_exceeded(&format!(
                "a page holds at most {MAX_PAGE_SIZE} items"
            )));
        }
        let cursor = |text: &Option<String>| -> async_graphql::Result<Option<K>> {
            text.as_deref()
                .map(|text| {
                    K::from_cursor(text)
                        .ok_or_else(|| top_level(codes::BAD_REQUEST, "invalid cursor"))
                })
                .transpose()
        };
        Ok(Window {
            limit: size as u64,
            after: cursor(&self.after)?,
            before: cursor(&self.before)?,
            from_end: self.last.is_some(),
        })
    }
}

/// Builds a connection from a page, naming each edge's cursor by its key.
pub fn connection<M, T: OutputType, K: CursorKey>(
    page: Page<M>,
    key: impl Fn(&M) -> K,
    node: impl Fn(M) -> T,
) -> Conn<T> {
    let mut connection = Connection::with_additional_fields(
        page.has_previous_page,
        page.has_next_page,
        ConnectionFields {
            total_count: page.total_count,
        },
    );
    connection.edges.extend(
        page.items
            .into_iter()
            .map(|item| Edge::new(key(&item).to_cursor(), node(item))),
    );
    connection
}

/// Pages a list already in memory; each item's cursor is its position in the list.
pub fn in_memory<M>(items: Vec<M>, window: &Window<i64>) -> Page<(i64, M)> {
    let total_count = items.len() as u64;
    let numbered: Vec<(i64, M)> = items
        .into_iter()
        .enumerate()
        .map(|(i, m)| (i as i64, m))
        .collect();
    let in_range: Vec<(i64, M)> = numbered
        .into_iter()
        .filter(|(i, _)| {
            window.after.is_none_or(|after| *i > after)
                && window.before.is_none_or(|before| *i < before)
        })
        .collect();
    let limit = window.limit as usize;
    let more = in_range.len() > limit;
    let items: Vec<(i64, M)> = if window.from_end {
        let skip = in_range.len().saturating_sub(limit);
        in_range.into_iter().skip(skip).collect()
    } else {
        in_range.into_iter().take(limit).collect()
    };
    let (has_previous_page, has_next_page) = if window.from_end {
        (more, window.before.is_some())
    } else {
        (window.after.is_some(), more)
    };
    Page {
        items,
        has_previous_page,
        has_next_page,
        total_count,
    }
}
