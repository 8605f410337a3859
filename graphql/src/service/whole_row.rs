//! Storing a row whole. Services compute a row's next state as a plain model (the domain
//! rules work on plain values) and then write every column of it, reading nothing back: the
//! caller already holds what it wrote, where sea-orm's `ActiveModel::update` and `insert`
//! ask for the row again (`RETURNING` every column) and decode it.

use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, ModelTrait};

/// Inserts `row` with every column as it is.
pub async fn insert<M>(conn: &impl ConnectionTrait, row: M) -> Result<(), DbErr>
where
    M: ModelTrait,
    <M::Entity as EntityTrait>::ActiveModel: From<M>,
{
    <M::Entity as EntityTrait>::insert(every_column(row))
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Writes every column of `row` over the stored row with its primary key; fails with
/// [`DbErr::RecordNotUpdated`] when there is none.
pub async fn update<M>(conn: &impl ConnectionTrait, row: M) -> Result<(), DbErr>
where
    M: ModelTrait,
    <M::Entity as EntityTrait>::ActiveModel: From<M>,
{
    <M::Entity as EntityTrait>::update(every_column(row))
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// `row` as an active model whose every column is set, so that the statement writes them all.
fn every_column<M>(row: M) -> <M::Entity as EntityTrait>::ActiveModel
where
    M: ModelTrait,
    <M::Entity as EntityTrait>::ActiveModel: From<M>,
{
    <M::Entity as EntityTrait>::ActiveModel::from(row).reset_all()
}
