//! The ledger's tables and their in-place migrations, by `PRAGMA user_version`.
//!
//! A migration only adds: columns with the value older rows are read with (their hashes still
//! verify, see `audit::row_hash`) and tables. Rows are never rewritten, except that
//! migration 4 → 5 fills `token_source` from `estimated`, which the hash does not cover when
//! they agree.
//!
//! Table `ledger_meta` (version 6) holds the ledger's identity, `ledger_id`: a random UUID
//! given once, when the file is first opened for writing, and kept for its life. Rows shipped
//! to PostgreSQL carry it, so each file's rows (and hash chain) stay apart there, and a copy of
//! the file moved to another machine is still the same ledger.

use crate::config::Synchronous;
use crate::MeteringError;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::Path;
use std::time::Duration;

/// The schema version this code writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 6;

/// Version 1 lacked the audit columns; it is migrated in place when opened for writing and
/// read as it is by reports.
const OLDEST_READABLE_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS requests (
    id                INTEGER PRIMARY KEY,
    request_id        TEXT    NOT NULL UNIQUE,
    ts_ms             INTEGER NOT NULL,
    tenant            TEXT    NOT NULL,
    route             TEXT    NOT NULL,
    backend           TEXT,
    model             TEXT,
    zone              TEXT,
    data_class        TEXT    NOT NULL,
    decision          TEXT    NOT NULL,
    stream            INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens     INTEGER NOT NULL,
    estimated         INTEGER NOT NULL,
    cost_usd          REAL,
    compute_usd       REAL,
    currency          TEXT    NOT NULL,
    price_version     TEXT    NOT NULL,
    duration_ms       REAL    NOT NULL,
    ttft_ms           REAL,
    status            INTEGER NOT NULL,
    outcome           TEXT    NOT NULL,
    error_class       TEXT,
    attempts          INTEGER NOT NULL,
    detected_kinds    TEXT    NOT NULL DEFAULT '',
    refused_rules     TEXT    NOT NULL DEFAULT '',
    attempt_zones     TEXT    NOT NULL DEFAULT '',
    endpoint          TEXT    NOT NULL DEFAULT 'chat_completions',
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    token_source      TEXT    NOT NULL DEFAULT 'provider',
    api_equivalent_usd REAL,
    failed_usd        REAL    NOT NULL DEFAULT 0.0,
    attempt_log       TEXT    NOT NULL DEFAULT '',
    prev_hash         TEXT,
    row_hash          TEXT
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts_ms);
";

/// The idle cost of backends priced by the hour: one line per backend per UTC hour it ran
/// (a start or a stop inside an hour gives a partial one). A period written again replaces
/// its line.
const IDLE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS idle (
    id                INTEGER PRIMARY KEY,
    backend           TEXT    NOT NULL,
    period_start_ms   INTEGER NOT NULL,
    period_end_ms     INTEGER NOT NULL,
    busy_s            REAL    NOT NULL,
    idle_s            REAL    NOT NULL,
    cost_usd          REAL    NOT NULL,
    cost_per_hour     REAL    NOT NULL,
    energy_per_hour   REAL    NOT NULL,
    currency          TEXT    NOT NULL,
    price_version     TEXT    NOT NULL,
    UNIQUE (backend, period_start_ms)
);
CREATE INDEX IF NOT EXISTS idle_start ON idle (period_start_ms);
";

/// Version 1 → 2: the audit columns. Rows written before have no hash; the chain starts at the
/// first row written after the migration.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE requests ADD COLUMN detected_kinds TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN refused_rules  TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN attempt_zones  TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN prev_hash      TEXT;
ALTER TABLE requests ADD COLUMN row_hash       TEXT;
";

/// Version 2 → 3: the endpoint a request came in on. Rows written before were chat
/// completions, the only endpoint then; their hashes still verify (see `audit::row_hash`).
const MIGRATE_2_TO_3: &str = "
ALTER TABLE requests ADD COLUMN endpoint TEXT NOT NULL DEFAULT 'chat_completions';
";

/// Version 3 → 4: prompt tokens written to a provider's cache, billed at their own rate. Rows
/// written before had none; their hashes still verify (see `audit::row_hash`).
const MIGRATE_3_TO_4: &str = "
ALTER TABLE requests ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
";

/// Version 4 → 5: where token counts came from, the API-equivalent cost, failed attempts'
/// charges and the per-attempt log; the idle table. Older rows read `token_source` as
/// `estimate` where `estimated` = 1 and `provider` otherwise (filled here; the hash does not
/// cover a source `estimated` implies), no equivalent (NULL), no failed charge (0) and no log
/// (''), so their hashes still verify.
const MIGRATE_4_TO_5: &str = "
ALTER TABLE requests ADD COLUMN token_source TEXT NOT NULL DEFAULT 'provider';
UPDATE requests SET token_source = 'estimate' WHERE estimated = 1;
ALTER TABLE requests ADD COLUMN api_equivalent_usd REAL;
ALTER TABLE requests ADD COLUMN failed_usd REAL NOT NULL DEFAULT 0.0;
ALTER TABLE requests ADD COLUMN attempt_log TEXT NOT NULL DEFAULT '';
";

/// Version 5 → 6: the ledger's identity (see the module docs). The id itself is given by
/// [`open_db_with`], so a ledger created at version 6 gets one the same way.
const META_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ledger_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// The `ledger_meta` key of the ledger's identity.
const LEDGER_ID: &str = "ledger_id";

/// Opens (creating when absent) the ledger at `path` with the durability pragmas and the
/// current schema.
pub fn open_db(path: &Path) -> Result<Connection, MeteringError> {
    open_db_with(path, Synchronous::Full)
}

/// [`open_db`] with the given `synchronous` setting.
pub fn open_db_with(path: &Path, synchronous: Synchronous) -> Result<Connection, MeteringError> {
    let ctx = |e| MeteringError::ledger(path, e);
    let conn = Connection::open(path).map_err(ctx)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(ctx)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(ctx)?;
    conn.pragma_update(None, "synchronous", synchronous.as_str())
        .map_err(ctx)?;
    let version = schema_version(&conn).map_err(ctx)?;
    match version {
        0 => {
            let tx = conn.unchecked_transaction().map_err(ctx)?;
            tx.execute_batch(SCHEMA).map_err(ctx)?;
            tx.execute_batch(IDLE_SCHEMA).map_err(ctx)?;
            tx.execute_batch(META_SCHEMA).map_err(ctx)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(ctx)?;
            tx.commit().map_err(ctx)?;
        }
        1..=5 => migrate(&conn, version).map_err(ctx)?,
        SCHEMA_VERSION => {}
        v => {
            return Err(MeteringError::Schema {
                path: path.to_path_buf(),
                found: v,
                supported: SCHEMA_VERSION,
            })
        }
    }
    // Once per file: later opens find the id and keep it.
    conn.execute(
        "INSERT INTO ledger_meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
        [LEDGER_ID, &uuid::Uuid::new_v4().to_string()],
    )
    .map_err(ctx)?;
    Ok(conn)
}

/// The ledger's identity (`ledger_meta.ledger_id`); `None` for a ledger no gateway of
/// version 6 or later has opened for writing.
pub fn ledger_id(conn: &Connection) -> Result<Option<String>, rusqlite::Error> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_meta')",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    conn.query_row(
        "SELECT value FROM ledger_meta WHERE key = ?1",
        [LEDGER_ID],
        |r| r.get(0),
    )
    .optional()
}

/// The idle table without its one line per backend and period: rows of several ledgers may
/// each have a line for the same backend and hour (each replica's own idle time).
fn scratch_idle_schema() -> String {
    IDLE_SCHEMA.replace(",\n    UNIQUE (backend, period_start_ms)\n", "\n")
}

/// A private scratch database with the current schema and no identity, for reports over rows
/// read from elsewhere (PostgreSQL): SQLite keeps it in a temporary file that it deletes on
/// close, so a large report spills to disk instead of filling memory.
pub fn open_scratch() -> Result<Connection, MeteringError> {
    let path = Path::new("");
    let ctx = |e| MeteringError::ledger(Path::new("(scratch)"), e);
    let conn = Connection::open(path).map_err(ctx)?;
    conn.execute_batch(SCHEMA).map_err(ctx)?;
    conn.execute_batch(&scratch_idle_schema()).map_err(ctx)?;
    conn.execute_batch(META_SCHEMA).map_err(ctx)?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(ctx)?;
    Ok(conn)
}

/// Migrates from `version` to [`SCHEMA_VERSION`] in one transaction: all or nothing.
fn migrate(conn: &Connection, version: i64) -> Result<(), rusqlite::Error> {
    let tx = conn.unchecked_transaction()?;
    let steps = [
        (1, MIGRATE_1_TO_2),
        (2, MIGRATE_2_TO_3),
        (3, MIGRATE_3_TO_4),
        (4, MIGRATE_4_TO_5),
        (5, META_SCHEMA),
    ];
    for (from, sql) in steps {
        if version <= from {
            tx.execute_batch(sql)?;
        }
    }
    tx.execute_batch(IDLE_SCHEMA)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()
}

/// `PRAGMA user_version` of an open ledger.
pub fn schema_version(conn: &Connection) -> Result<i64, rusqlite::Error> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// Opens an existing ledger for reading only (reports, budget rebuild). Older versions are
/// read as they are: readers check [`schema_version`] for columns added since.
pub fn open_read_only(path: &Path) -> Result<Connection, MeteringError> {
    let ctx = |e| MeteringError::ledger(path, e);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(ctx)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(ctx)?;
    let version = schema_version(&conn).map_err(ctx)?;
    if !(OLDEST_READABLE_VERSION..=SCHEMA_VERSION).contains(&version) {
        return Err(MeteringError::Schema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_5_ledger_gains_an_identity_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ledger.db");
        {
            let conn = Connection::open(&db).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute_batch(IDLE_SCHEMA).unwrap();
            conn.pragma_update(None, "user_version", 5).unwrap();
            assert_eq!(ledger_id(&conn).unwrap(), None);
        }
        let id = {
            let conn = open_db(&db).unwrap();
            assert_eq!(schema_version(&conn).unwrap(), SCHEMA_VERSION);
            ledger_id(&conn).unwrap().unwrap()
        };
        assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
        let again = ledger_id(&open_db(&db).unwrap()).unwrap();
        assert_eq!(again.as_deref(), Some(id.as_str()), "kept across opens");
        let read = ledger_id(&open_read_only(&db).unwrap()).unwrap();
        assert_eq!(read.as_deref(), Some(id.as_str()));

        let other = dir.path().join("other.db");
        let other_id = ledger_id(&open_db(&other).unwrap()).unwrap().unwrap();
        assert_ne!(other_id, id, "each new ledger its own");
    }

    #[test]
    fn the_scratch_ledger_has_the_schema_without_an_identity() {
        let conn = open_scratch().unwrap();
        assert_eq!(schema_version(&conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(ledger_id(&conn).unwrap(), None);
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'idle'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!sql.contains("UNIQUE"), "{sql}");
        // Two ledgers' lines for one backend and hour.
        for _ in 0..2 {
            conn.execute(
                "INSERT INTO idle (backend, period_start_ms, period_end_ms, busy_s, idle_s, \
                 cost_usd, cost_per_hour, energy_per_hour, currency, price_version) \
                 VALUES ('gpu', 0, 1, 0, 1, 1, 1, 0, 'USD', 'v')",
                [],
            )
            .unwrap();
        }
    }
}
