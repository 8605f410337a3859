//! SQL text built once per backend, for statements of a fixed shape that run often: inside
//! SQLite's write turn, where every other writer waits, or on every dashboard. Building a
//! sea-orm select with its joins and column aliases, then writing it out as SQL, cost the
//! project-with-membership read of every command about as much processor time as running it,
//! and the RACI matrix's three tables about as much as decoding them. The shape is built once
//! with sea-orm as usual; each run then binds its own values to the kept text. A unit test
//! beside each use compares the kept statement with the one built afresh, so the values' order
//! cannot drift from the text's. A loader's statement has one shape per number of keys in its
//! `IN (…)` lists: [`SqlPerCount`] keeps one text per count (and the project read of every
//! request, which has two lists, keeps a small grid of [`SqlOnce`] of its own).

use std::sync::OnceLock;

use sea_orm::{DbBackend, Statement, Value};

/// The SQL text of one statement, per backend, kept from its first build.
pub(crate) struct SqlOnce {
    sqlite: OnceLock<String>,
    postgres: OnceLock<String>,
    mysql: OnceLock<String>,
}

impl SqlOnce {
    pub(crate) const fn new() -> Self {
        Self {
            sqlite: OnceLock::new(),
            postgres: OnceLock::new(),
            mysql: OnceLock::new(),
        }
    }

    /// The statement with `values` bound to the text `build` gives on `backend` (called on
    /// the first use only, with any values of the same shape).
    pub(crate) fn statement(
        &self,
        backend: DbBackend,
        build: impl FnOnce() -> Statement,
        values: Vec<Value>,
    ) -> Statement {
        let sql = self.kept(backend).get_or_init(|| build().sql);
        Statement::from_sql_and_values(backend, sql.as_str(), values)
    }

    /// As [`SqlOnce::statement`], for a `build` that may fail; a failed build keeps nothing.
    pub(crate) fn try_statement<E>(
        &self,
        backend: DbBackend,
        build: impl FnOnce() -> Result<Statement, E>,
        values: Vec<Value>,
    ) -> Result<Statement, E> {
        let kept = self.kept(backend);
        let sql = match kept.get() {
            Some(sql) => sql,
            None => {
                let built = build()?.sql;
                kept.get_or_init(|| built)
            }
        };
        Ok(Statement::from_sql_and_values(
            backend,
            sql.as_str(),
            values,
        ))
    }

    fn kept(&self, backend: DbBackend) -> &OnceLock<String> {
        match backend {
            DbBackend::Sqlite => &self.sqlite,
            DbBackend::Postgres => &self.postgres,
            _ => &self.mysql,
        }
    }
}

/// The key counts up to which a loader's statements keep their text: a batch of the parents on
/// the largest page the API serves (`schema::page::MAX_PAGE_SIZE`, held to this by a test).
pub(crate) const KEPT_KEY_COUNTS: usize = 100;

/// The SQL text of a statement whose text depends only on how many values its lists bind,
/// such as a loader's `IN (…)` of its keys: kept per backend and count, for counts from one
/// to `N`; larger counts are built each time.
pub(crate) struct SqlPerCount<const N: usize> {
    kept: [SqlOnce; N],
}

impl<const N: usize> SqlPerCount<N> {
    pub(crate) const fn new() -> Self {
        Self {
            kept: [const { SqlOnce::new() }; N],
        }
    }

    /// The statement for `count` values with `values` bound to the text `build` gives (called
    /// on the first use of each count, and for every count outside the kept ones).
    pub(crate) fn statement(
        &self,
        backend: DbBackend,
        count: usize,
        build: impl FnOnce() -> Statement,
        values: impl FnOnce() -> Vec<Value>,
    ) -> Statement {
        match count.checked_sub(1).and_then(|at| self.kept.get(at)) {
            Some(kept) => kept.statement(backend, build, values()),
            None => build(),
        }
    }
}

/// Asserts that `kept` (a statement kept per key count) is `fresh` (the same statement built
/// anew) for every backend and for key counts within and past the kept ones, three key sets
/// each.
#[cfg(test)]
pub(crate) fn assert_kept_per_key_count_is_fresh(
    kept: impl Fn(&[uuid::Uuid], DbBackend) -> Statement,
    fresh: impl Fn(&[uuid::Uuid], DbBackend) -> Statement,
) {
    for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
        for count in [1, 2, 3, 50, KEPT_KEY_COUNTS, KEPT_KEY_COUNTS + 1] {
            for _ in 0..3 {
                let keys: Vec<_> = (0..count).map(|_| uuid::Uuid::now_v7()).collect();
                assert_eq!(
                    kept(&keys, backend),
                    fresh(&keys, backend),
                    "{backend:?}, {count} keys"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_of_the_largest_pages_parents_keeps_its_text() {
        assert_eq!(KEPT_KEY_COUNTS, crate::schema::page::MAX_PAGE_SIZE as usize);
    }

    #[test]
    fn each_count_keeps_its_own_text_and_others_are_built_each_time() {
        static KEPT: SqlPerCount<2> = SqlPerCount::new();
        let built = |n: usize, round: i64| {
            let marks = vec!["?"; n].join(", ");
            let values: Vec<Value> = (0..n).map(|at| (round + at as i64).into()).collect();
            Statement::from_sql_and_values(
                DbBackend::Sqlite,
                format!("SELECT {round} IN ({marks})"),
                values,
            )
        };
        for n in 0..=3 {
            let first = KEPT.statement(
                DbBackend::Sqlite,
                n,
                || built(n, 1),
                || built(n, 1).values.unwrap().0,
            );
            assert_eq!(first, built(n, 1));
            let second = KEPT.statement(
                DbBackend::Sqlite,
                n,
                || built(n, 2),
                || built(n, 2).values.unwrap().0,
            );
            assert_eq!(second.values, built(n, 2).values);
            let kept = (1..=2).contains(&n);
            let text = if kept {
                built(n, 1).sql
            } else {
                built(n, 2).sql
            };
            assert_eq!(second.sql, text, "{n} values");
        }
    }

    #[test]
    fn the_text_is_built_once_per_backend_and_each_run_binds_its_own_values() {
        static KEPT: SqlOnce = SqlOnce::new();
        let built = |backend, n: i64| {
            Statement::from_sql_and_values(backend, format!("SELECT {n} + ?"), [n.into()])
        };
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let first = KEPT.statement(backend, || built(backend, 1), vec![1i64.into()]);
            let second = KEPT.statement(backend, || built(backend, 2), vec![2i64.into()]);
            assert_eq!(first, built(backend, 1));
            assert_eq!(second.sql, "SELECT 1 + ?", "the text of the first build");
            assert_eq!(second.values, built(backend, 2).values);
        }
    }

    #[test]
    fn a_build_that_fails_keeps_nothing_and_the_next_that_succeeds_is_kept() {
        static KEPT: SqlOnce = SqlOnce::new();
        let built = |n: i64| {
            Statement::from_sql_and_values(DbBackend::Sqlite, format!("SELECT {n} + ?"), [n.into()])
        };
        let failed = KEPT.try_statement(DbBackend::Sqlite, || Err("no text"), vec![0i64.into()]);
        assert_eq!(failed, Err("no text"));
        let first =
            KEPT.try_statement::<&str>(DbBackend::Sqlite, || Ok(built(1)), vec![1i64.into()]);
        assert_eq!(first, Ok(built(1)));
        let second = KEPT.try_statement(DbBackend::Sqlite, || Err("not asked"), vec![2i64.into()]);
        assert_eq!(second.map(|s| s.sql), Ok("SELECT 1 + ?".to_owned()));
    }
}
