//! Reading the shipped ledger back, for `tollgate spend` and `tollgate audit`: rows are copied
//! out of PostgreSQL (binary COPY) into a scratch SQLite database with the ledger's own schema
//! (`ledger::open_scratch`), and the same report code that reads a local file runs on it. Both
//! sources therefore give the same report for the same rows, by construction; and nothing is
//! written to PostgreSQL, so a read-only role is enough.

use super::schema::{Kind, Table, IDLE, REQUESTS};
use super::ShipError;
use crate::MeteringError;
use futures_util::TryStreamExt;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};
use std::collections::BTreeSet;
use tokio_postgres::binary_copy::BinaryCopyOutStream;
use tokio_postgres::{Client, NoTls};

/// Rows read from PostgreSQL into a scratch ledger.
#[derive(Debug)]
pub struct Pulled {
    /// The scratch ledger (deleted when dropped).
    pub conn: Connection,
    /// Request rows read.
    pub rows: u64,
    /// Idle lines read.
    pub idle_lines: u64,
    /// The ledgers the request rows came from, sorted.
    pub ledgers: Vec<String>,
}

/// A connection to the shipped ledger, for reading.
pub struct Reader {
    rt: tokio::runtime::Runtime,
    client: Client,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

fn pg_err(e: impl std::fmt::Display) -> MeteringError {
    MeteringError::Postgres(e.to_string())
}

impl Reader {
    /// Connects to `url` (a `[ledger] postgres_url`); fails when no gateway has created the
    /// tables there yet.
    pub fn connect(url: &str) -> Result<Reader, MeteringError> {
        let cfg = crate::config::postgres_config(url).map_err(MeteringError::Postgres)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(MeteringError::Thread)?;
        let client = rt.block_on(async {
            let (client, conn) = cfg.connect(NoTls).await.map_err(ShipError::from)?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "postgres connection closed");
                }
            });
            let present: bool = client
                .query_one(
                    "SELECT to_regclass('requests') IS NOT NULL \
                     AND to_regclass('idle') IS NOT NULL \
                     AND to_regclass('request_id_conflicts') IS NOT NULL",
                    &[],
                )
                .await
                .map_err(ShipError::from)?
                .get(0);
            if !present {
                return Err(MeteringError::Postgres(
                    "no shipped ledger there yet: a gateway with this postgres_url creates its \
                     tables when it first connects"
                        .into(),
                ));
            }
            Ok::<_, MeteringError>(client)
        })?;
        Ok(Reader { rt, client })
    }

    /// Every request started in `[from_ms, to_ms)` and every idle period begun in it, from
    /// every ledger, in one scratch ledger. Row ids there follow start time (then ledger and
    /// row id), so reports that list rows list them in time order.
    pub fn range(&self, from_ms: i64, to_ms: i64) -> Result<Pulled, MeteringError> {
        let conn = crate::ledger::schema::open_scratch()?;
        self.rt
            .block_on(async {
                let mut ledgers = BTreeSet::new();
                let rows = copy_into(
                    &self.client,
                    &conn,
                    REQUESTS,
                    &format!(
                        "SELECT {} FROM requests WHERE {} ORDER BY ts_ms, ledger_id, source_id",
                        REQUESTS.pg_names(),
                        within("ts_ms", from_ms, to_ms)
                    ),
                    Ids::Renumber,
                    &mut ledgers,
                )
                .await?;
                let idle_lines = copy_into(
                    &self.client,
                    &conn,
                    IDLE,
                    &format!(
                        "SELECT {} FROM idle WHERE {} ORDER BY period_start_ms, ledger_id, backend",
                        IDLE.pg_names(),
                        within("period_start_ms", from_ms, to_ms)
                    ),
                    Ids::Renumber,
                    &mut BTreeSet::new(),
                )
                .await?;
                Ok::<_, ShipError>(Pulled {
                    conn,
                    rows,
                    idle_lines,
                    ledgers: ledgers.into_iter().collect(),
                })
            })
            .map_err(pg_err)
    }

    /// The ledgers that have shipped request rows, sorted.
    pub fn ledger_ids(&self) -> Result<Vec<String>, MeteringError> {
        self.rt
            .block_on(async {
                // A skip scan over the primary key: one probe per ledger, not one per row.
                let rows = self
                    .client
                    .query(
                        "WITH RECURSIVE l (id) AS (
                            SELECT MIN(ledger_id) FROM requests
                            UNION ALL
                            SELECT (SELECT MIN(ledger_id) FROM requests WHERE ledger_id > l.id)
                            FROM l WHERE l.id IS NOT NULL)
                         SELECT id FROM l WHERE id IS NOT NULL
                         UNION SELECT DISTINCT ledger_id FROM request_id_conflicts
                         ORDER BY 1",
                        &[],
                    )
                    .await?;
                Ok::<_, tokio_postgres::Error>(rows.iter().map(|r| r.get(0)).collect())
            })
            .map_err(pg_err)
    }

    /// Every request row of one ledger, with its own row ids (`source_id`), as its file had
    /// them: its hash chain can be verified as is. Rows kept apart for a request id another
    /// ledger had are part of its chain and are included.
    pub fn ledger(&self, ledger_id: &str) -> Result<Pulled, MeteringError> {
        let conn = crate::ledger::schema::open_scratch()?;
        // The id is text from PostgreSQL itself; quoted as a literal all the same.
        let quoted = format!("'{}'", ledger_id.replace('\'', "''"));
        self.rt
            .block_on(async {
                let cols = REQUESTS.pg_names();
                let rows = copy_into(
                    &self.client,
                    &conn,
                    REQUESTS,
                    &format!(
                        "SELECT {cols} FROM requests WHERE ledger_id = {quoted} \
                         UNION ALL SELECT {cols} FROM request_id_conflicts \
                         WHERE ledger_id = {quoted} ORDER BY source_id"
                    ),
                    Ids::Source,
                    &mut BTreeSet::new(),
                )
                .await?;
                Ok::<_, ShipError>(Pulled {
                    conn,
                    rows,
                    idle_lines: 0,
                    ledgers: vec![ledger_id.to_string()],
                })
            })
            .map_err(pg_err)
    }

    /// Request rows kept apart because another ledger had shipped their request id first
    /// (they are not in [`Reader::range`]).
    pub fn conflicts(&self, from_ms: i64, to_ms: i64) -> Result<u64, MeteringError> {
        self.rt
            .block_on(async {
                let n: i64 = self
                    .client
                    .query_one(
                        "SELECT COUNT(*) FROM request_id_conflicts WHERE ts_ms >= $1 AND ts_ms < $2",
                        &[&from_ms, &to_ms],
                    )
                    .await?
                    .get(0);
                Ok::<_, tokio_postgres::Error>(u64::try_from(n).unwrap_or(0))
            })
            .map_err(pg_err)
    }
}

/// `column` in `[from_ms, to_ms)`, leaving out an open end (`i64::MIN`, `i64::MAX`): written
/// as literals (COPY takes no parameters), and PostgreSQL would read `-9223372036854775808` as
/// a numeric, which no bigint index serves.
fn within(column: &str, from_ms: i64, to_ms: i64) -> String {
    let mut parts = Vec::new();
    if from_ms != i64::MIN {
        parts.push(format!("{column} >= {from_ms}"));
    }
    if to_ms != i64::MAX {
        parts.push(format!("{column} < {to_ms}"));
    }
    if parts.is_empty() {
        "TRUE".to_string()
    } else {
        parts.join(" AND ")
    }
}

/// What the scratch rows' `id` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ids {
    /// 1, 2, 3 … in the order the query returns rows (rows of several ledgers).
    Renumber,
    /// The row's `source_id` (rows of one ledger).
    Source,
}

/// Copies the result of `select` (columns `Table::pg_names`) into `table` of `scratch`, in
/// one transaction; returns the rows copied. The ledger each row came from is added to
/// `ledgers` (the scratch tables have no column for it).
async fn copy_into(
    client: &Client,
    scratch: &Connection,
    table: Table,
    select: &str,
    ids: Ids,
    ledgers: &mut BTreeSet<String>,
) -> Result<u64, ShipError> {
    let stream = client
        .copy_out(&format!("COPY ({select}) TO STDOUT (FORMAT binary)"))
        .await?;
    let types = table.pg_types();
    let rows = BinaryCopyOutStream::new(stream, &types);
    let mut rows = std::pin::pin!(rows);
    let tx = scratch.unchecked_transaction()?;
    let placeholders: Vec<String> = (1..=table.columns.len() + 1)
        .map(|i| format!("?{i}"))
        .collect();
    let mut stmt = tx.prepare(&format!(
        "INSERT INTO {} (id, {}) VALUES ({})",
        table.name,
        table.names(),
        placeholders.join(", ")
    ))?;
    let mut n: i64 = 0;
    while let Some(row) = rows.try_next().await? {
        n += 1;
        let ledger: &str = row.try_get(0)?;
        if !ledgers.contains(ledger) {
            ledgers.insert(ledger.to_string());
        }
        let id = match ids {
            Ids::Renumber => n,
            Ids::Source => row.try_get::<i64>(1)?,
        };
        let mut values = Vec::with_capacity(table.columns.len() + 1);
        values.push(Value::Integer(id));
        for (i, (_, kind)) in table.columns.iter().enumerate() {
            let at = i + 2;
            values.push(match kind {
                Kind::Int => row
                    .try_get::<Option<i64>>(at)?
                    .map_or(Value::Null, Value::Integer),
                Kind::Real => row
                    .try_get::<Option<f64>>(at)?
                    .map_or(Value::Null, Value::Real),
                Kind::Text => row
                    .try_get::<Option<String>>(at)?
                    .map_or(Value::Null, Value::Text),
            });
        }
        stmt.execute(params_from_iter(values))?;
    }
    drop(stmt);
    tx.commit()?;
    Ok(u64::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_ends_are_left_out_of_a_range() {
        assert_eq!(within("ts_ms", i64::MIN, i64::MAX), "TRUE");
        assert_eq!(within("ts_ms", 5, i64::MAX), "ts_ms >= 5");
        assert_eq!(within("ts_ms", i64::MIN, 9), "ts_ms < 9");
        assert_eq!(within("t", -5, 9), "t >= -5 AND t < 9");
    }
}
