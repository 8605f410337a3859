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

/// Pages a list already in memory; each item's cursor is its position in the list. Only the
/// page's items are cloned.
pub fn in_memory<M: Clone>(items: &[M], window: &Window<i64>) -> Page<(i64, M)> {
    // A cursor before the first item is 0, one past the last is the length.
    let position = |cursor: i64| usize::try_from(cursor.max(0)).unwrap_or(usize::MAX);
    let start = window
        .after
        .map_or(0, |after| position(after.saturating_add(1)))
        .min(items.len());
    let end = window
        .before
        .map_or(items.len(), position)
        .clamp(start, items.len());
    let in_range = end - start;
    let limit = usize::try_from(window.limit).unwrap_or(usize::MAX);
    let more = in_range > limit;
    let first = if window.from_end {
        end - in_range.min(limit)
    } else {
        start
    };
    let taken = &items[first..first + in_range.min(limit)];
    let (has_previous_page, has_next_page) = if window.from_end {
        (more, window.before.is_some())
    } else {
        (window.after.is_some(), more)
    };
    Page {
        items: (first..)
            .zip(taken)
            .map(|(i, item)| (i as i64, item.clone()))
            .collect(),
        has_previous_page,
        has_next_page,
        total_count: items.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(limit: u64, after: Option<i64>, before: Option<i64>, from_end: bool) -> Window<i64> {
        Window {
            limit,
            after,
            before,
            from_end,
        }
    }

    fn positions(page: &Page<(i64, char)>) -> Vec<i64> {
        page.items.iter().map(|(i, _)| *i).collect()
    }

    const ITEMS: [char; 5] = ['a', 'b', 'c', 'd', 'e'];

    #[test]
    fn the_first_items_after_a_cursor() {
        let page = in_memory(&ITEMS, &window(2, None, None, false));
        assert_eq!(page.items, vec![(0, 'a'), (1, 'b')]);
        assert!(page.has_next_page && !page.has_previous_page);
        assert_eq!(page.total_count, 5);
        let page = in_memory(&ITEMS, &window(2, Some(1), None, false));
        assert_eq!(positions(&page), [2, 3]);
        assert!(page.has_next_page && page.has_previous_page);
        let page = in_memory(&ITEMS, &window(2, Some(3), None, false));
        assert_eq!(positions(&page), [4]);
        assert!(!page.has_next_page);
    }

    #[test]
    fn the_last_items_before_a_cursor() {
        let page = in_memory(&ITEMS, &window(2, None, None, true));
        assert_eq!(positions(&page), [3, 4]);
        assert!(page.has_previous_page && !page.has_next_page);
        let page = in_memory(&ITEMS, &window(2, None, Some(3), true));
        assert_eq!(positions(&page), [1, 2]);
        assert!(page.has_previous_page && page.has_next_page);
        let page = in_memory(&ITEMS, &window(5, None, Some(1), true));
        assert_eq!(positions(&page), [0]);
        assert!(!page.has_previous_page);
    }

    #[test]
    fn cursors_outside_the_list_give_an_empty_page_not_a_panic() {
        for (after, before) in [
            (Some(10), None),
            (None, Some(0)),
            (Some(3), Some(2)),
            (Some(-5), Some(-1)),
            (Some(i64::MAX), Some(i64::MIN)),
        ] {
            for from_end in [false, true] {
                let page = in_memory(&ITEMS, &window(3, after, before, from_end));
                assert!(page.items.is_empty(), "{after:?} {before:?} {from_end}");
                assert_eq!(page.total_count, 5);
            }
        }
        let page = in_memory(&ITEMS, &window(3, Some(-7), None, false));
        assert_eq!(
            positions(&page),
            [0, 1, 2],
            "a negative cursor is before the first"
        );
    }

    #[test]
    fn an_empty_list_and_a_zero_limit() {
        let page = in_memory::<char>(&[], &window(3, None, None, false));
        assert!(page.items.is_empty() && !page.has_next_page);
        let page = in_memory(&ITEMS, &window(0, None, None, false));
        assert!(page.items.is_empty() && page.has_next_page);
    }
}
