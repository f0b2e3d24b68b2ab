//! The audit trail: proof, from the ledger alone, of where sensitive prompts went.
//!
//! Each row records the kinds detected (never the values), the effective class, the zone of
//! every attempt (marked where a redacted copy was sent) and the rules that refused
//! candidates. Rows are hash-chained by the ledger's single writer, so an edited row, a deleted
//! row or a row inserted out of band breaks the chain at that point. Deleting the newest rows
//! leaves a shorter valid chain: keep the head that `verify` prints somewhere else (a ticket,
//! a log shipped off the machine) and pass it back with `--expect-head` to detect that too.

use rusqlite::types::Value;
use rusqlite::Connection;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tollgate_policies::DataClass;

/// The columns a row's hash covers, in the order they are hashed and inserted.
pub const HASHED_COLUMNS: [&str; 33] = [
    "request_id",
    "ts_ms",
    "tenant",
    "route",
    "backend",
    "model",
    "zone",
    "data_class",
    "decision",
    "stream",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "estimated",
    "cost_usd",
    "compute_usd",
    "currency",
    "price_version",
    "duration_ms",
    "ttft_ms",
    "status",
    "outcome",
    "error_class",
    "attempts",
    "detected_kinds",
    "refused_rules",
    "attempt_zones",
    "endpoint",
    "cache_write_tokens",
    "token_source",
    "api_equivalent_usd",
    "failed_usd",
    "attempt_log",
];

/// The first column added after rows were chained (see [`row_hash`]).
const FIRST_ADDED: usize = 27;
/// Position of `estimated` and `token_source` in [`HASHED_COLUMNS`].
const ESTIMATED: usize = 13;
const TOKEN_SOURCE: usize = 29;

/// The `prev_hash` of the first row of a chain.
pub fn genesis() -> String {
    "0".repeat(64)
}

/// The hash of a row: SHA-256 over the previous row's hash and the row's values, each value
/// tagged with its type and text values length-prefixed, so no two rows encode alike.
///
/// Columns added after rows were chained (from `endpoint` on) are hashed only up to the last
/// one that differs from the value its migration gave older rows (`endpoint` =
/// `chat_completions`, `cache_write_tokens` = 0, `token_source` = what `estimated` implies,
/// `api_equivalent_usd` = NULL, `failed_usd` = 0, `attempt_log` = ''): older rows keep
/// verifying, and changing such a column either way still changes what is hashed, since the
/// hashed values then differ in number or in value.
///
/// `token_source` is hashed as NULL when it says what `estimated` implies (`estimate` for
/// 1, `provider` for 0), which is how migration 4 → 5 fills it for older rows; only a source
/// `estimated` cannot express (`tokenizer`), or a contradiction, is hashed as text. `estimated`
/// itself is always hashed, so neither can change unseen.
pub fn row_hash(prev: &str, values: &[Value]) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    let implied = source_is_implied(values);
    let hashed = |i: usize| -> &Value {
        if i == TOKEN_SOURCE && implied {
            &Value::Null
        } else {
            &values[i]
        }
    };
    let mut end = values.len().min(HASHED_COLUMNS.len());
    while end > FIRST_ADDED && is_migration_default(end - 1, hashed(end - 1)) {
        end -= 1;
    }
    for i in 0..end {
        hash_value(&mut h, hashed(i));
    }
    hex::encode(h.finalize())
}

/// Whether `token_source` holds the source that `estimated` implies.
fn source_is_implied(values: &[Value]) -> bool {
    let (Some(estimated), Some(Value::Text(source))) =
        (values.get(ESTIMATED), values.get(TOKEN_SOURCE))
    else {
        return false;
    };
    let implied = match estimated {
        Value::Integer(1) => crate::record::TokenSource::Estimate,
        _ => crate::record::TokenSource::Provider,
    };
    source == implied.as_str()
}

/// Whether column `i` holds what its migration gave the rows written before it.
fn is_migration_default(i: usize, v: &Value) -> bool {
    match (HASHED_COLUMNS[i], v) {
        ("endpoint", Value::Text(e)) => e == crate::record::DEFAULT_ENDPOINT,
        ("cache_write_tokens", Value::Integer(0)) => true,
        ("token_source" | "api_equivalent_usd", Value::Null) => true,
        ("failed_usd", Value::Integer(0)) => true,
        ("failed_usd", Value::Real(f)) => *f == 0.0,
        ("attempt_log", Value::Text(t)) => t.is_empty(),
        _ => false,
    }
}

fn hash_value(h: &mut Sha256, v: &Value) {
    match v {
        Value::Null => h.update(b"N"),
        Value::Integer(i) => {
            h.update(b"I");
            h.update(i.to_le_bytes());
        }
        Value::Real(f) => {
            h.update(b"R");
            h.update(f.to_bits().to_le_bytes());
        }
        Value::Text(s) => {
            h.update(b"T");
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
        Value::Blob(b) => {
            h.update(b"B");
            h.update((b.len() as u64).to_le_bytes());
            h.update(b);
        }
    }
}

/// Where the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    /// The row's `id` (its position in the table).
    pub id: i64,
    /// Its request id.
    pub request_id: String,
    /// What is wrong.
    pub problem: &'static str,
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Rows read.
    pub rows: u64,
    /// Rows written before the ledger had a chain (schema version 1), all before its start.
    pub unchained: u64,
    /// The hash of the newest row: record it elsewhere to detect deleted newest rows later.
    pub head: String,
    /// Every place the chain is broken, in table order.
    pub breaks: Vec<Break>,
}

impl Verification {
    /// Whether every chained row is intact and linked to the one before.
    pub fn ok(&self) -> bool {
        self.breaks.is_empty()
    }
}

/// Recomputes every row's hash and checks each link.
pub fn verify(conn: &Connection) -> Result<Verification, rusqlite::Error> {
    let sql = format!(
        "SELECT id, prev_hash, row_hash, {} FROM requests ORDER BY id",
        HASHED_COLUMNS.join(", ")
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut out = Verification {
        rows: 0,
        unchained: 0,
        head: genesis(),
        breaks: Vec::new(),
    };
    let mut chained = false;
    while let Some(r) = rows.next()? {
        out.rows += 1;
        let id: i64 = r.get(0)?;
        let prev: Option<String> = r.get(1)?;
        let stored: Option<String> = r.get(2)?;
        let values: Vec<Value> = (0..HASHED_COLUMNS.len())
            .map(|i| r.get::<_, Value>(i + 3))
            .collect::<Result<_, _>>()?;
        let request_id = match &values[0] {
            Value::Text(s) => s.clone(),
            _ => String::new(),
        };
        let mut broken = |problem| {
            out.breaks.push(Break {
                id,
                request_id: request_id.clone(),
                problem,
            })
        };
        let (Some(prev), Some(stored)) = (prev, stored) else {
            if chained {
                broken("row without a hash after the chain started");
            } else {
                out.unchained += 1;
            }
            continue;
        };
        // The first chained row links to the genesis hash, each later one to its predecessor.
        if prev != out.head {
            broken("previous row missing or changed (prev_hash does not match)");
        }
        if row_hash(&prev, &values) != stored {
            broken("row changed after it was written (hash does not match its values)");
        }
        chained = true;
        out.head = stored;
    }
    Ok(out)
}

/// A request of at least the asked class that was sent to an external backend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exposure {
    /// Request id.
    pub request_id: String,
    /// Accept time, unix ms.
    pub ts_ms: i64,
    /// Tenant.
    pub tenant: String,
    /// Route.
    pub route: String,
    /// Effective class.
    pub data_class: String,
    /// Kinds detected.
    pub detected_kinds: String,
    /// Zone of every attempt.
    pub attempt_zones: String,
    /// Whether every external attempt got a redacted copy.
    pub redacted: bool,
}

/// Every request between `from_ms` (inclusive) and `to_ms` (exclusive) of class `min_class` or
/// above that any attempt sent to the external zone, redacted or not.
pub fn exposures(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
    min_class: DataClass,
) -> Result<Vec<Exposure>, rusqlite::Error> {
    let classes: Vec<String> = DataClass::ALL
        .iter()
        .filter(|c| **c >= min_class)
        .map(|c| format!("'{}'", c.as_str()))
        .collect();
    let sql = format!(
        "SELECT request_id, ts_ms, tenant, route, data_class, detected_kinds, attempt_zones \
         FROM requests WHERE ts_ms >= ?1 AND ts_ms < ?2 AND data_class IN ({}) \
         AND attempt_zones LIKE '%external%' ORDER BY id",
        classes.join(", ")
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([from_ms, to_ms], |r| {
        let zones: String = r.get(6)?;
        Ok(Exposure {
            request_id: r.get(0)?,
            ts_ms: r.get(1)?,
            tenant: r.get(2)?,
            route: r.get(3)?,
            data_class: r.get(4)?,
            detected_kinds: r.get(5)?,
            redacted: zones
                .split(',')
                .filter(|z| z.starts_with("external"))
                .all(|z| z.ends_with("/redacted")),
            attempt_zones: zones,
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_separates_values_and_types() {
        let g = genesis();
        let a = row_hash(&g, &[Value::Text("ab".into()), Value::Text("c".into())]);
        let b = row_hash(&g, &[Value::Text("a".into()), Value::Text("bc".into())]);
        let c = row_hash(&g, &[Value::Integer(1)]);
        let d = row_hash(&g, &[Value::Real(1.0)]);
        let e = row_hash(&g, &[Value::Null]);
        let all = [&a, &b, &c, &d, &e];
        for (i, x) in all.iter().enumerate() {
            assert_eq!(x.len(), 64);
            assert!(all[i + 1..].iter().all(|y| y != x));
        }
        assert_ne!(row_hash("1", &[Value::Null]), e, "the previous hash counts");
    }
}
