//! Rows numbered in their project (DEF-12, CR-7, baseline 3): each insert takes the number
//! after the project's highest in the same statement, instead of reading it first.
//!
//! The read was one statement in eight of a logged defect, run with the write lock held; the
//! bench's rate did not move measurably without it (docs/performance-history.md), but the
//! lock is held for one round trip less.

use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, IdenStatic, Iterable, ModelTrait};

/// Inserts `row` under the number after the highest its project has in `number` (1 for the
/// first), in one statement, and returns `row` as stored. `row`'s own number is ignored.
///
/// Two writers that number the same project at once (PostgreSQL) may take the same number:
/// the table's unique key refuses the second, as it would after a read.
pub async fn insert_numbered<M>(
    conn: &impl ConnectionTrait,
    mut row: M,
    project: <M::Entity as EntityTrait>::Column,
    number: <M::Entity as EntityTrait>::Column,
) -> Result<M, DbErr>
where
    M: ModelTrait,
{
    let next = Func::coalesce([Expr::col(number).max(), Expr::val(0)]).add(1);
    let mut values = Query::select();
    for column in <M::Entity as EntityTrait>::Column::iter() {
        if column.as_str() == number.as_str() {
            values.expr(next.clone());
        } else {
            values.expr(Expr::val(row.get(column)));
        }
    }
    values
        .from(M::Entity::default())
        .and_where(Expr::col(project).eq(row.get(project)));
    let mut insert = Query::insert();
    insert
        .into_table(M::Entity::default())
        .columns(<M::Entity as EntityTrait>::Column::iter())
        .select_from(values)
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .returning_col(number);
    let stored = conn
        .query_one(&insert)
        .await?
        .ok_or_else(|| DbErr::RecordNotInserted)?;
    let given: i32 = stored.try_get("", number.as_str())?;
    row.set(number, given.into());
    Ok(row)
}
