//! One shipping step for one table: what PostgreSQL already has of this ledger, the next
//! rows after it read from SQLite, and one transaction that copies them into a staging table
//! and inserts them, ignoring any it has.

use super::schema::{Kind, Table, IDLE, REQUESTS};
use rusqlite::types::Value;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Transaction};

/// One value, typed as its column is in PostgreSQL.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
}

impl Cell {
    /// `v` as a column of `kind` holds it. SQLite only stores other types in a column when
    /// written around its schema; such a value is converted rather than stopping shipping.
    pub(super) fn from_sqlite(kind: Kind, v: Value) -> Cell {
        match (kind, v) {
            (Kind::Int, Value::Null) => Cell::Int(None),
            (Kind::Real, Value::Null) => Cell::Real(None),
            (Kind::Text, Value::Null) => Cell::Text(None),
            (Kind::Int, Value::Integer(i)) => Cell::Int(Some(i)),
            (Kind::Int, Value::Real(f)) => Cell::Int(Some(f as i64)),
            (Kind::Real, Value::Real(f)) => Cell::Real(Some(f)),
            (Kind::Real, Value::Integer(i)) => Cell::Real(Some(i as f64)),
            (Kind::Text, Value::Text(s)) => Cell::Text(Some(s)),
            (Kind::Text, Value::Integer(i)) => Cell::Text(Some(i.to_string())),
            (Kind::Text, Value::Real(f)) => Cell::Text(Some(f.to_string())),
            (Kind::Text, Value::Blob(b)) => {
                Cell::Text(Some(String::from_utf8_lossy(&b).into_owned()))
            }
            (Kind::Int, Value::Text(s)) => Cell::Int(s.trim().parse().ok()),
            (Kind::Real, Value::Text(s)) => Cell::Real(s.trim().parse().ok()),
            (Kind::Int, Value::Blob(_)) => Cell::Int(None),
            (Kind::Real, Value::Blob(_)) => Cell::Real(None),
        }
    }

    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Cell::Int(v) => v,
            Cell::Real(v) => v,
            Cell::Text(v) => v,
        }
    }
}

/// A row read from SQLite: its `id` and its cells in the table's column order.
pub(super) struct SourceRow {
    pub id: i64,
    pub cells: Vec<Cell>,
}

/// Up to `limit` rows of `table` after row id `after`, in id order.
pub(super) fn read_after(
    conn: &rusqlite::Connection,
    table: Table,
    after: i64,
    limit: usize,
) -> Result<Vec<SourceRow>, rusqlite::Error> {
    let sql = format!(
        "SELECT id, {} FROM {} WHERE id > ?1 ORDER BY id LIMIT ?2",
        table.names(),
        table.name
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(rusqlite::params![after, limit], |r| {
        let mut cells = Vec::with_capacity(table.columns.len());
        for (i, (_, kind)) in table.columns.iter().enumerate() {
            cells.push(Cell::from_sqlite(*kind, r.get::<_, Value>(i + 1)?));
        }
        Ok(SourceRow {
            id: r.get(0)?,
            cells,
        })
    })?;
    rows.collect()
}

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Step {
    /// The largest row id of this ledger PostgreSQL had before the step.
    pub cursor_before: i64,
    /// After it: every row up to it is in PostgreSQL.
    pub cursor: i64,
    /// Rows read from SQLite and sent.
    pub sent: usize,
    /// Rows PostgreSQL did not have and took.
    pub inserted: u64,
    /// Request rows whose id another ledger had shipped (kept apart, see the migration).
    pub conflicts: u64,
}

/// The staging table of `table` for this session: created once per connection, emptied at
/// every commit, so batches do not churn the catalog with a table each.
pub(super) fn staging(table: Table) -> String {
    format!("tollgate_ship_{}", table.name)
}

/// Creates the session's staging tables (call once per connection, after migrating).
pub(super) async fn create_staging(client: &Client) -> Result<(), tokio_postgres::Error> {
    for table in [REQUESTS, IDLE] {
        client
            .batch_execute(&format!(
                "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {}) ON COMMIT DELETE ROWS",
                staging(table),
                table.name
            ))
            .await?;
    }
    Ok(())
}

/// Where this ledger's rows of `table` end in PostgreSQL: derived from the rows themselves,
/// so a step that committed there and then crashed here is not shipped twice, and one that
/// did not commit is shipped again.
async fn cursor(
    tx: &Transaction<'_>,
    table: Table,
    ledger_id: &str,
) -> Result<i64, tokio_postgres::Error> {
    let sql = if table.name == REQUESTS.name {
        "SELECT GREATEST(
            (SELECT COALESCE(MAX(source_id), 0) FROM requests WHERE ledger_id = $1),
            (SELECT COALESCE(MAX(source_id), 0) FROM request_id_conflicts WHERE ledger_id = $1))"
            .to_string()
    } else {
        format!(
            "SELECT COALESCE(MAX(source_id), 0) FROM {} WHERE ledger_id = $1",
            table.name
        )
    };
    Ok(tx.query_one(&sql, &[&ledger_id]).await?.get(0))
}

/// Ships the next batch of `table`: at most `limit` rows after what PostgreSQL has.
pub(super) async fn ship(
    client: &mut Client,
    sqlite: &rusqlite::Connection,
    table: Table,
    ledger_id: &str,
    limit: usize,
) -> Result<Step, super::ShipError> {
    let tx = client.transaction().await?;
    let before = cursor(&tx, table, ledger_id).await?;
    let rows = read_after(sqlite, table, before, limit)?;
    let Some(last) = rows.last().map(|r| r.id) else {
        tx.commit().await?;
        return Ok(Step {
            cursor_before: before,
            cursor: before,
            ..Step::default()
        });
    };
    let stage = staging(table);
    let sink = tx
        .copy_in(&format!(
            "COPY {stage} ({}) FROM STDIN (FORMAT binary)",
            table.pg_names()
        ))
        .await?;
    let writer = BinaryCopyInWriter::new(sink, &table.pg_types());
    let mut writer = std::pin::pin!(writer);
    let ledger = Cell::Text(Some(ledger_id.to_string()));
    for row in &rows {
        let id = Cell::Int(Some(row.id));
        let values: Vec<&(dyn ToSql + Sync)> = [&ledger, &id]
            .into_iter()
            .chain(row.cells.iter())
            .map(Cell::as_sql)
            .collect();
        writer.as_mut().write(&values).await?;
    }
    writer.as_mut().finish().await?;
    let cols = table.pg_names();
    let (inserted, conflicts) = if table.name == REQUESTS.name {
        let inserted = tx
            .execute(
                &format!(
                    "INSERT INTO requests ({cols}) SELECT {cols} FROM {stage} \
                     ON CONFLICT (request_id) DO NOTHING"
                ),
                &[],
            )
            .await?;
        // What was neither inserted now nor shipped before: another ledger's request id.
        let conflicts = tx
            .execute(
                &format!(
                    "INSERT INTO request_id_conflicts ({cols}) SELECT {cols} FROM {stage} s \
                     WHERE NOT EXISTS (SELECT 1 FROM requests r \
                        WHERE r.ledger_id = s.ledger_id AND r.source_id = s.source_id) \
                     ON CONFLICT DO NOTHING"
                ),
                &[],
            )
            .await?;
        (inserted, conflicts)
    } else {
        // A period written again in SQLite comes with a new id: it replaces its line.
        let updates: Vec<String> = std::iter::once("source_id")
            .chain(table.columns.iter().map(|(c, _)| *c))
            .filter(|c| *c != "backend" && *c != "period_start_ms")
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let inserted = tx
            .execute(
                &format!(
                    "INSERT INTO idle ({cols}) SELECT {cols} FROM {stage} \
                     ON CONFLICT (ledger_id, backend, period_start_ms) DO UPDATE SET {}",
                    updates.join(", ")
                ),
                &[],
            )
            .await?;
        (inserted, 0)
    };
    tx.commit().await?;
    Ok(Step {
        cursor_before: before,
        cursor: last,
        sent: rows.len(),
        inserted,
        conflicts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_keep_exact_values_and_convert_strays() {
        let f = 0.1 + 0.2;
        assert_eq!(
            Cell::from_sqlite(Kind::Real, Value::Real(f)),
            Cell::Real(Some(f))
        );
        assert_eq!(Cell::from_sqlite(Kind::Int, Value::Null), Cell::Int(None));
        assert_eq!(Cell::from_sqlite(Kind::Text, Value::Null), Cell::Text(None));
        assert_eq!(
            Cell::from_sqlite(Kind::Real, Value::Integer(3)),
            Cell::Real(Some(3.0))
        );
        assert_eq!(
            Cell::from_sqlite(Kind::Text, Value::Integer(7)),
            Cell::Text(Some("7".into()))
        );
        assert_eq!(
            Cell::from_sqlite(Kind::Int, Value::Text(" 12 ".into())),
            Cell::Int(Some(12))
        );
    }

    #[test]
    fn batches_are_read_after_the_cursor_in_id_order() {
        let conn = crate::ledger::open_scratch().unwrap();
        for (id, start) in [(3, 3_000), (1, 1_000), (2, 2_000), (7, 7_000)] {
            conn.execute(
                "INSERT INTO idle (id, backend, period_start_ms, period_end_ms, busy_s, idle_s, \
                 cost_usd, cost_per_hour, energy_per_hour, currency, price_version) \
                 VALUES (?1, 'gpu', ?2, ?2 + 1, 0.5, 0.5, 0.25, 1.0, 0.0, 'USD', 'v')",
                [id, start],
            )
            .unwrap();
        }
        let ids = |after, limit| -> Vec<i64> {
            read_after(&conn, IDLE, after, limit)
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(ids(0, 10), [1, 2, 3, 7]);
        assert_eq!(ids(1, 2), [2, 3]);
        assert_eq!(ids(3, 10), [7]);
        assert!(ids(7, 10).is_empty());
        let row = &read_after(&conn, IDLE, 2, 1).unwrap()[0];
        assert_eq!(row.cells[0], Cell::Text(Some("gpu".into())));
        assert_eq!(row.cells[1], Cell::Int(Some(3_000)));
        assert_eq!(row.cells[5], Cell::Real(Some(0.25)));
    }
}
