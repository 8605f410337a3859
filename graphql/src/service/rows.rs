//! Decoding a parent joined with its children (`select_also`, `find_also_related`) from the
//! raw rows of one statement.
//!
//! Every row of such a join repeats its parent's columns. sea-orm's own decoding builds the
//! parent again from each row; here it is built from the first row that names it, and the
//! rest of its rows give only their child. On a dashboard the repeats were most of the
//! decoding: 2,500 milestone rows for 500 phases, 80 assignment rows for 20 activities.
//!
//! The children's columns are selected under their own names, not sea-orm's `B_` aliases: a
//! prefixed column is looked up by a name sea-orm formats anew for every column of every row,
//! which was most of the time a dashboard spent decoding its milestones.

use sea_orm::{
    ConnectionTrait, DbErr, FromQueryResult, IdenStatic, QueryResult, SelectA, SelectB,
    sea_query::{DynIden, SelectStatement},
};
use uuid::Uuid;

/// The rows of a parent joined with its children, read by [`JoinedRows::fetch`].
pub struct JoinedRows(Vec<QueryResult>);

impl JoinedRows {
    /// Runs `query`, a `select_also` or `find_also_related` turned into a statement, with
    /// the child's columns under their own names. The parent's keep sea-orm's `A_` prefix;
    /// any other alias (a third table's) is left as it is.
    pub async fn fetch(
        conn: &impl ConnectionTrait,
        mut query: SelectStatement,
    ) -> Result<Self, DbErr> {
        query.exprs_mut_for_each(|select| {
            let unprefixed = select.alias.as_ref().and_then(|alias| {
                alias
                    .inner()
                    .strip_prefix(SelectB.as_str())
                    .map(str::to_owned)
            });
            if let Some(name) = unprefixed {
                select.alias = Some(DynIden::from(name));
            }
        });
        Ok(Self(conn.query_all(&query).await?))
    }

    /// The rows as read, for columns of a third table.
    pub fn rows(&self) -> &[QueryResult] {
        &self.0
    }

    /// Parents with their children, in the order of the rows, which must keep each parent's
    /// rows together (order by the parent first); `parent_id` is the parent's id column. A
    /// parent without children (a left join's NULL side) gets none.
    pub fn parents_with_children<P, C>(
        &self,
        parent_id: impl IdenStatic,
    ) -> Result<Vec<(P, Vec<C>)>, DbErr>
    where
        P: FromQueryResult,
        C: FromQueryResult,
    {
        let parent_id = format!("{}{}", SelectA.as_str(), parent_id.as_str());
        let mut grouped: Vec<(P, Vec<C>)> = Vec::new();
        let mut current: Option<Uuid> = None;
        for row in &self.0 {
            let id: Uuid = row.try_get("", &parent_id)?;
            if current != Some(id) {
                grouped.push((P::from_query_result(row, SelectA.as_str())?, Vec::new()));
                current = Some(id);
            }
            if let (Some((_, children)), Some(child)) =
                (grouped.last_mut(), C::from_query_result_optional(row, "")?)
            {
                children.push(child);
            }
        }
        Ok(grouped)
    }
}
