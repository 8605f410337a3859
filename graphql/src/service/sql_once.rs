//! SQL text built once per backend, for statements of a fixed shape that run often: inside
//! SQLite's write turn, where every other writer waits, or on every dashboard. Building a
//! sea-orm select with its joins and column aliases, then writing it out as SQL, cost the
//! project-with-membership read of every command about as much processor time as running it,
//! and the RACI matrix's three tables about as much as decoding them. The shape is built once with sea-orm
//! as usual; each run then binds its own values to the kept text. A unit test beside each use
//! compares the kept statement with the one built afresh, so the values' order cannot drift
//! from the text's.

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
        let kept = match backend {
            DbBackend::Sqlite => &self.sqlite,
            DbBackend::Postgres => &self.postgres,
            _ => &self.mysql,
        };
        let sql = kept.get_or_init(|| build().sql);
        Statement::from_sql_and_values(backend, sql.as_str(), values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
