//! Which `BACKEND/MODEL` pairs the ledger saw traffic for, and which of them the price table
//! cannot cost: what `tollgate prices check` lists.

use super::cost::PriceTable;
use super::ledger::{open_read_only, schema_version};
use super::MeteringError;
use rusqlite::Connection;
use std::path::Path;

/// One `BACKEND/MODEL` pair and the requests that used it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Traffic {
    /// Backend name.
    pub backend: String,
    /// Model name.
    pub model: String,
    /// Requests that were served by it or sent to it on any attempt (each counted once).
    pub requests: u64,
}

/// Every pair with traffic in the ledger at `db_path`: the serving (or last tried) backend of
/// each row and, from schema version 5 on, every attempt in its `attempt_log` (a failed
/// attempt is billed too). Most requests first, then by name.
pub fn traffic(db_path: &Path) -> Result<Vec<Traffic>, MeteringError> {
    let conn = open_read_only(db_path)?;
    let ctx = |e| MeteringError::ledger(db_path, e);
    let v5 = schema_version(&conn).map_err(ctx)? >= 5;
    query(&conn, v5).map_err(ctx)
}

fn query(conn: &Connection, v5: bool) -> Result<Vec<Traffic>, rusqlite::Error> {
    let served = "SELECT request_id AS rid, backend AS b, model AS m FROM requests \
                  WHERE backend IS NOT NULL AND model IS NOT NULL";
    // Rows written before version 5 have an empty log, which is not JSON.
    let attempts = " UNION ALL SELECT r.request_id, json_extract(a.value, '$.backend'), \
                    json_extract(a.value, '$.model') FROM requests r, json_each(CASE WHEN \
                    json_valid(r.attempt_log) THEN r.attempt_log ELSE '[]' END) a";
    let sql = format!(
        "SELECT b, m, COUNT(DISTINCT rid) AS n FROM ({served}{}) \
         WHERE b IS NOT NULL AND m IS NOT NULL GROUP BY b, m ORDER BY n DESC, b, m",
        if v5 { attempts } else { "" }
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| {
        Ok(Traffic {
            backend: r.get(0)?,
            model: r.get(1)?,
            requests: r.get::<_, i64>(2)? as u64,
        })
    })?;
    rows.collect()
}

/// The pairs of [`traffic`] that `prices` cannot cost: no token price of any date and no
/// `cost_per_hour` for the backend.
pub fn unpriced(db_path: &Path, prices: &PriceTable) -> Result<Vec<Traffic>, MeteringError> {
    Ok(traffic(db_path)?
        .into_iter()
        .filter(|t| !prices.is_priced(&t.backend, &t.model))
        .collect())
}
