//! A row the ledger reported committed survives the process being killed with SIGKILL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failed unwrap is a failed test

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use support::*;
use tollgate_metering::Metering;

const CHILD_ENV: &str = "TOLLGATE_LEDGER_CRASH_CHILD";
const COMMITTED: usize = 500;

#[test]
fn committed_rows_survive_sigkill() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        child(std::path::Path::new(&db));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "committed_rows_survive_sigkill",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut confirmed = false;
    for line in BufReader::new(stdout).lines() {
        // libtest prints the test name on the same line before the child's own output.
        if line.unwrap().ends_with(&format!("COMMITTED {COMMITTED}")) {
            confirmed = true;
            break;
        }
    }
    assert!(confirmed, "child never confirmed its commit");
    // The child keeps writing; kill it mid-stream.
    std::thread::sleep(std::time::Duration::from_millis(50));
    child.kill().unwrap(); // SIGKILL on unix
    child.wait().unwrap();

    // Reopening runs recovery of the WAL; every confirmed row is there, the file is sound.
    let m = Metering::open(&config(&db), NOON).unwrap();
    drop(m);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let confirmed_rows: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM requests WHERE request_id LIKE 'before-%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(confirmed_rows, COMMITTED as i64);
    let sum: f64 = conn
        .query_row(
            "SELECT SUM(cost_usd) FROM requests WHERE request_id LIKE 'before-%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_usd(sum, COMMITTED as f64 * 0.00575);
}

fn child(db: &std::path::Path) {
    let m = Metering::open(&config(db), NOON).unwrap();
    for i in 0..COMMITTED {
        m.record(
            non_streamed(&format!("before-{i}"), NOON, "acme", "chat"),
            None,
        );
    }
    m.flush().unwrap();
    println!("COMMITTED {COMMITTED}");
    for i in 0.. {
        m.record(streamed(&format!("after-{i}"), NOON, "acme", "chat"), None);
        if i % 100 == 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}
