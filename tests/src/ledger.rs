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
