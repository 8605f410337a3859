//! Keyset pagination over one unique, ordered column.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, Value,
};

/// Which slice of an ordered list to read, already checked against the page-size cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window<K> {
    pub limit: u64,
    pub after: Option<K>,
    pub before: Option<K>,
    /// Take the last `limit` items of the range instead of the first.
    pub from_end: bool,
}

impl<K> Window<K> {
    pub fn first(limit: u64) -> Self {
        Self {
            limit,
            after: None,
            before: None,
            from_end: false,
        }
    }
}

/// One page, in ascending key order.
#[derive(Debug, Clone)]
pub struct Page<M> {
    pub items: Vec<M>,
    pub has_previous_page: bool,
    pub has_next_page: bool,
    pub total_count: u64,
}

impl<M> Page<M> {
    pub fn map<N>(self, f: impl FnMut(M) -> N) -> Page<N> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
            total_count: self.total_count,
        }
    }
}

/// Reads one page of `select` ordered by `key`, plus the total count of `select`.
pub async fn fetch<E, C, K>(
    conn: &impl ConnectionTrait,
    select: Select<E>,
    key: C,
    window: &Window<K>,
) -> Result<Page<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Sized + Send + Sync,
    C: ColumnTrait,
    K: Into<Value> + Clone,
{
    let total_count = select.clone().count(conn).await?;
    let mut ranged = select;
    if let Some(after) = &window.after {
        ranged = ranged.filter(key.gt(after.clone()));
    }
    if let Some(before) = &window.before {
        ranged = ranged.filter(key.lt(before.clone()));
    }
    let ordered = if window.from_end {
        ranged.order_by_desc(key)
    } else {
        ranged.order_by_asc(key)
    };
    let mut items = ordered.limit(window.limit + 1).all(conn).await?;
    let more = items.len() as u64 > window.limit;
    items.truncate(window.limit as usize);
    if window.from_end {
        items.reverse();
    }
    let (has_previous_page, has_next_page) = if window.from_end {
        (more, window.before.is_some())
    } else {
        (window.after.is_some(), more)
    };
    Ok(Page {
        items,
        has_previous_page,
        has_next_page,
        total_count,
    })
}
