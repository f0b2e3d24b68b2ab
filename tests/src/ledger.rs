//! Reading the gateway's SQLite ledger from a test, while the gateway writes it.

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::{Duration, Instant};

/// The ledger, opened for reading only.
pub fn open(db: &Path) -> Connection {
    Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open the ledger")
}

/// The number of rows.
pub fn count(db: &Path) -> i64 {
    open(db)
        .query_row("SELECT COUNT(*) FROM requests", [], |r| r.get(0))
        .expect("count the ledger's rows")
}

/// Waits until the ledger holds `n` rows (the writer commits off the response path), and
/// fails if it holds more.
pub fn wait_rows(db: &Path, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let c = if db.exists() { count(db) } else { 0 };
        if c >= n {
            assert_eq!(c, n, "more rows than requests");
            return;
        }
        assert!(Instant::now() < deadline, "ledger has {c} of {n} rows");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes one SQLite ledger at `into` holding the rows (and idle lines) of every `ledgers` file,
/// in order, with the first one's schema and version: what one report over several replicas'
/// ledgers must equal.
pub fn merge(ledgers: &[std::path::PathBuf], into: &Path) {
    let conn = Connection::open(into).expect("create the merged ledger");
    let first = open(&ledgers[0]);
    let schema: Vec<String> = first
        .prepare(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL \
             AND name IN ('requests', 'idle', 'requests_ts', 'idle_start')",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let version: i64 = first
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    for sql in schema {
        conn.execute_batch(&sql).unwrap();
    }
    let cols = |table: &str| -> String {
        let names: Vec<String> = conn
            .prepare(&format!(
                "SELECT name FROM pragma_table_info('{table}') WHERE name != 'id'"
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        names.join(", ")
    };
    let (requests, idle) = (cols("requests"), cols("idle"));
    for (i, db) in ledgers.iter().enumerate() {
        conn.execute_batch(&format!(
            "ATTACH '{}' AS l{i};
             INSERT INTO requests ({requests}) SELECT {requests} FROM l{i}.requests ORDER BY id;
             INSERT INTO idle ({idle}) SELECT {idle} FROM l{i}.idle ORDER BY id;
             DETACH l{i};",
            db.display()
        ))
        .unwrap();
    }
    conn.pragma_update(None, "user_version", version).unwrap();
}
