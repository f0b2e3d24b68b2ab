//! The PostgreSQL side of the ledger: its versioned migrations (SQL files under
//! `metering/migrations/postgres/`, embedded at build time) and the columns shipped, with the
//! type each has on both sides.

use tokio_postgres::types::Type;
use tokio_postgres::Client;

/// The migrations, in order: (version, SQL). A version once released is never edited; a
/// change is a new file.
pub const MIGRATIONS: &[(i32, &str)] =
    &[(1, include_str!("../../migrations/postgres/0001_ledger.sql"))];

/// The advisory lock migrations run under, so that replicas starting together apply each
/// migration once: "tollgate" in ASCII.
const MIGRATION_LOCK: i64 = 0x746f_6c6c_6761_7465;

/// Brings the database to the newest migration, in one transaction under the advisory lock;
/// each applied version is recorded in `tollgate_schema_migrations`. Returns the versions it
/// applied (none when another replica got there first).
pub async fn migrate(client: &mut Client) -> Result<Vec<i32>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS tollgate_schema_migrations (
            version    INTEGER     PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .await?;
    let applied: Vec<i32> = tx
        .query("SELECT version FROM tollgate_schema_migrations", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut now_applied = Vec::new();
    for (version, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO tollgate_schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await?;
        now_applied.push(*version);
    }
    if let Some(newer) = applied.iter().filter(|v| !known(**v)).max() {
        // A newer gateway migrated: it only adds, so this one's inserts still fit.
        tracing::warn!(
            version = newer,
            "the PostgreSQL ledger has a newer schema than this build knows"
        );
    }
    tx.commit().await?;
    Ok(now_applied)
}

fn known(version: i32) -> bool {
    MIGRATIONS.iter().any(|(v, _)| *v == version)
}

/// How a column is stored: SQLite's INTEGER, REAL or TEXT, PostgreSQL's BIGINT, DOUBLE
/// PRECISION or TEXT. Values keep their exact bits both ways (an f64 is an f64), so a row read
/// back from PostgreSQL hashes as it did in SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 64-bit integer.
    Int,
    /// 64-bit float.
    Real,
    /// UTF-8 text.
    Text,
}

impl Kind {
    /// The PostgreSQL type, for binary COPY.
    pub fn pg_type(self) -> Type {
        match self {
            Kind::Int => Type::INT8,
            Kind::Real => Type::FLOAT8,
            Kind::Text => Type::TEXT,
        }
    }
}

/// The columns of `requests` after SQLite's `id`, in table order: `audit::HASHED_COLUMNS`, then
/// the chain. PostgreSQL has `ledger_id` and `source_id` (SQLite's `id`) besides.
pub const REQUEST_COLUMNS: [(&str, Kind); 35] = [
    ("request_id", Kind::Text),
    ("ts_ms", Kind::Int),
    ("tenant", Kind::Text),
    ("route", Kind::Text),
    ("backend", Kind::Text),
    ("model", Kind::Text),
    ("zone", Kind::Text),
    ("data_class", Kind::Text),
    ("decision", Kind::Text),
    ("stream", Kind::Int),
    ("prompt_tokens", Kind::Int),
    ("completion_tokens", Kind::Int),
    ("cached_tokens", Kind::Int),
    ("estimated", Kind::Int),
    ("cost_usd", Kind::Real),
    ("compute_usd", Kind::Real),
    ("currency", Kind::Text),
    ("price_version", Kind::Text),
    ("duration_ms", Kind::Real),
    ("ttft_ms", Kind::Real),
    ("status", Kind::Int),
    ("outcome", Kind::Text),
    ("error_class", Kind::Text),
    ("attempts", Kind::Int),
    ("detected_kinds", Kind::Text),
    ("refused_rules", Kind::Text),
    ("attempt_zones", Kind::Text),
    ("endpoint", Kind::Text),
    ("cache_write_tokens", Kind::Int),
    ("token_source", Kind::Text),
    ("api_equivalent_usd", Kind::Real),
    ("failed_usd", Kind::Real),
    ("attempt_log", Kind::Text),
    ("prev_hash", Kind::Text),
    ("row_hash", Kind::Text),
];

/// The columns of `idle` after SQLite's `id`, in `IdleRow::COLUMNS` order.
pub const IDLE_COLUMNS: [(&str, Kind); 10] = [
    ("backend", Kind::Text),
    ("period_start_ms", Kind::Int),
    ("period_end_ms", Kind::Int),
    ("busy_s", Kind::Real),
    ("idle_s", Kind::Real),
    ("cost_usd", Kind::Real),
    ("cost_per_hour", Kind::Real),
    ("energy_per_hour", Kind::Real),
    ("currency", Kind::Text),
    ("price_version", Kind::Text),
];

/// One table as shipped: its name on both sides and its columns after the id.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// The table's name, the same in SQLite and PostgreSQL.
    pub name: &'static str,
    /// Its columns after SQLite's `id`.
    pub columns: &'static [(&'static str, Kind)],
}

/// `requests`.
pub const REQUESTS: Table = Table {
    name: "requests",
    columns: &REQUEST_COLUMNS,
};

/// `idle`.
pub const IDLE: Table = Table {
    name: "idle",
    columns: &IDLE_COLUMNS,
};

impl Table {
    /// The column names, comma-separated.
    pub fn names(&self) -> String {
        self.columns
            .iter()
            .map(|(c, _)| *c)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The PostgreSQL column list of a shipped row: `ledger_id, source_id, ` and the rest.
    pub fn pg_names(&self) -> String {
        format!("ledger_id, source_id, {}", self.names())
    }

    /// The PostgreSQL types of [`Table::pg_names`], for binary COPY.
    pub fn pg_types(&self) -> Vec<Type> {
        [Type::TEXT, Type::INT8]
            .into_iter()
            .chain(self.columns.iter().map(|(_, k)| k.pg_type()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::HASHED_COLUMNS;
    use crate::ledger::IdleRow;

    /// The SQLite columns of `table` after `id`, with their declared types.
    fn sqlite_columns(table: &str) -> Vec<(String, String)> {
        let conn = crate::ledger::open_scratch().unwrap();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT name, type FROM pragma_table_info('{table}')"
            ))
            .unwrap();
        let cols: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(cols[0].0, "id");
        cols[1..].to_vec()
    }

    fn sqlite_kind(declared: &str) -> Kind {
        match declared {
            "INTEGER" => Kind::Int,
            "REAL" => Kind::Real,
            "TEXT" => Kind::Text,
            other => panic!("unexpected SQLite type {other}"),
        }
    }

    #[test]
    fn shipped_columns_are_the_sqlite_tables_in_order() {
        for table in [REQUESTS, IDLE] {
            let sqlite: Vec<(String, Kind)> = sqlite_columns(table.name)
                .into_iter()
                .map(|(n, t)| (n, sqlite_kind(&t)))
                .collect();
            let shipped: Vec<(String, Kind)> = table
                .columns
                .iter()
                .map(|(n, k)| (n.to_string(), *k))
                .collect();
            assert_eq!(sqlite, shipped, "{}", table.name);
        }
        let hashed: Vec<&str> = REQUEST_COLUMNS[..HASHED_COLUMNS.len()]
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(hashed, HASHED_COLUMNS);
        let idle: Vec<&str> = IDLE_COLUMNS.iter().map(|(n, _)| *n).collect();
        assert_eq!(idle, IdleRow::COLUMNS);
    }

    #[test]
    fn the_postgres_migration_declares_every_shipped_column_with_its_type() {
        let sql = MIGRATIONS[0].1;
        for table in [REQUESTS, IDLE] {
            let start = sql.find(&format!("CREATE TABLE {} (", table.name)).unwrap();
            let body = &sql[start..start + sql[start..].find(");").unwrap()];
            for (name, kind) in table.columns {
                let pg = match kind {
                    Kind::Int => "BIGINT",
                    Kind::Real => "DOUBLE PRECISION",
                    Kind::Text => "TEXT",
                };
                let line = body
                    .lines()
                    .find(|l| l.split_whitespace().next() == Some(name))
                    .unwrap_or_else(|| panic!("{}.{name} missing", table.name));
                assert!(line.contains(pg), "{}.{name}: {line}", table.name);
            }
        }
        let versions: Vec<i32> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    }
}
