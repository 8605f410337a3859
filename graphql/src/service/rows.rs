//! Decoding a parent joined with its children (`select_also`, `find_also_related`) from the
//! raw rows of one statement.
//!
//! Every row of such a join repeats its parent's columns. sea-orm's own decoding builds the
//! parent again from each row; here it is built from the first row that names it, and the
//! rest of its rows give only their child. On a dashboard the repeats were most of the
//! decoding: 2,500 milestone rows for 500 phases, 80 assignment rows for 20 activities.

use sea_orm::{DbErr, FromQueryResult, IdenStatic, QueryResult, SelectA, SelectB};
use uuid::Uuid;

/// Parents with their children, in the order of `rows`, which must keep each parent's rows
/// together (order by the parent first). The parent's columns carry sea-orm's `A_` prefix and
/// the child's `B_`, as `select_also` and `find_also_related` name them; `parent_id` is the
/// parent's id column. A parent without children (a left join's NULL side) gets none.
pub fn parents_with_children<P, C>(
    rows: &[QueryResult],
    parent_id: impl IdenStatic,
) -> Result<Vec<(P, Vec<C>)>, DbErr>
where
    P: FromQueryResult,
    C: FromQueryResult,
{
    let mut grouped: Vec<(P, Vec<C>)> = Vec::new();
    let mut current: Option<Uuid> = None;
    for row in rows {
        let id: Uuid = row.try_get(SelectA.as_str(), parent_id.as_str())?;
        if current != Some(id) {
            grouped.push((P::from_query_result(row, SelectA.as_str())?, Vec::new()));
            current = Some(id);
        }
        if let (Some((_, children)), Some(child)) = (
            grouped.last_mut(),
            C::from_query_result_optional(row, SelectB.as_str())?,
        ) {
            children.push(child);
        }
    }
    Ok(grouped)
}
