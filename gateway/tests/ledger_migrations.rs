//! Ledgers written by older versions are migrated in place, and every row they held still
//! verifies: a migration adds columns whose values older rows are read with, which the hash
//! leaves out, so changing them either way is still caught.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failed unwrap is a failed test

mod support;

use rusqlite::Connection;
use support::*;
use tollgate_metering::audit::verify;
use tollgate_metering::{Metering, TokenSource};

fn open(db: &std::path::Path) -> Metering {
    Metering::open(&config(db), NOON).unwrap()
}

fn column<T: rusqlite::types::FromSql>(conn: &Connection, col: &str) -> Vec<T> {
    conn.prepare(&format!("SELECT {col} FROM requests ORDER BY id"))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Each edit must break the chain; its undo must mend it.
fn assert_edits_are_caught(conn: &Connection, edits: &[(&str, &str)]) {
    for (sql, undo) in edits {
        conn.execute_batch(sql).unwrap();
        assert!(!verify(conn).unwrap().ok(), "{sql}");
        conn.execute_batch(undo).unwrap();
    }
    let v = verify(conn).unwrap();
    assert!(v.ok(), "{:?}", v.breaks);
}

#[test]
fn a_ledger_from_before_endpoints_is_migrated_and_its_chain_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    {
        let m = open(&db);
        m.record(non_streamed("old-1", NOON, "acme", "chat"), None);
        m.record(non_streamed("old-2", NOON, "acme", "chat"), None);
        m.flush().unwrap();
    }
    // The same file as version 2 wrote it: 27 hashed columns, nothing after `attempt_zones`.
    downgrade(&db, 27, 2);
    {
        let m = open(&db);
        let mut rec = non_streamed("new-1", NOON, "acme", "chat");
        rec.endpoint = "messages";
        m.record(rec, None);
        let mut rec = non_streamed("new-2", NOON, "acme", "chat");
        rec.usage.cache_write_tokens = 300;
        m.record(rec, None);
        m.flush().unwrap();
    }
    let conn = Connection::open(&db).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, tollgate_metering::ledger::SCHEMA_VERSION);
    assert_eq!(column::<i64>(&conn, "cache_write_tokens"), [0, 0, 0, 300]);
    assert_eq!(
        column::<String>(&conn, "endpoint"),
        [
            "chat_completions",
            "chat_completions",
            "messages",
            "chat_completions"
        ]
    );
    let v = verify(&conn).unwrap();
    assert!(v.ok(), "{:?}", v.breaks);
    assert_eq!((v.rows, v.unchained), (4, 0));
    assert_edits_are_caught(
        &conn,
        &[
            (
                "UPDATE requests SET endpoint = 'chat_completions' WHERE request_id = 'new-1'",
                "UPDATE requests SET endpoint = 'messages' WHERE request_id = 'new-1'",
            ),
            (
                "UPDATE requests SET endpoint = 'responses' WHERE request_id = 'old-1'",
                "UPDATE requests SET endpoint = 'chat_completions' WHERE request_id = 'old-1'",
            ),
            (
                "UPDATE requests SET cache_write_tokens = 0 WHERE request_id = 'new-2'",
                "UPDATE requests SET cache_write_tokens = 300 WHERE request_id = 'new-2'",
            ),
            (
                "UPDATE requests SET cache_write_tokens = 1 WHERE request_id = 'old-2'",
                "UPDATE requests SET cache_write_tokens = 0 WHERE request_id = 'old-2'",
            ),
        ],
    );
}

#[test]
fn a_version_4_ledger_gains_sources_charges_and_logs_and_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    {
        let m = open(&db);
        m.record(non_streamed("old-provider", NOON, "acme", "chat"), None);
        m.record(estimated("old-estimate", NOON, "acme", "chat"), None);
        let mut rec = non_streamed("old-messages", NOON, "acme", "chat");
        rec.endpoint = "messages";
        rec.usage.cache_write_tokens = 300;
        m.record(rec, None);
        m.flush().unwrap();
    }
    // As version 4 wrote it: 29 hashed columns, up to `cache_write_tokens`; no idle table.
    downgrade(&db, 29, 4);
    {
        let m = open(&db);
        let mut rec = non_streamed("new-tokenizer", NOON, "acme", "chat");
        rec.usage.source = TokenSource::Tokenizer;
        m.record(rec, None);
        m.record(failed_over("new-failed", NOON, "acme", "chat"), None);
        m.flush().unwrap();
    }
    let conn = Connection::open(&db).unwrap();
    // Old rows read their source from `estimated`, no charge, no equivalent and no log.
    assert_eq!(
        column::<String>(&conn, "token_source"),
        ["provider", "estimate", "provider", "tokenizer", "provider"]
    );
    assert_eq!(
        column::<bool>(&conn, "estimated"),
        [false, true, false, false, false]
    );
    let failed = column::<f64>(&conn, "failed_usd");
    assert_eq!(&failed[..4], [0.0; 4]);
    assert_usd(failed[4], FAILED_OVER_USD.1);
    assert!(column::<Option<f64>>(&conn, "api_equivalent_usd")
        .iter()
        .all(Option::is_none));
    let logs = column::<String>(&conn, "attempt_log");
    assert_eq!(&logs[..3], ["", "", ""]);
    let log: serde_json::Value = serde_json::from_str(&logs[4]).unwrap();
    assert_eq!(log[0]["outcome"], "timeout_first_byte");
    assert_eq!(log[0]["prompt_tokens"], 1000);
    let idle: i64 = conn
        .query_row("SELECT COUNT(*) FROM idle", [], |r| r.get(0))
        .unwrap();
    assert_eq!(idle, 0, "the idle table exists");

    let v = verify(&conn).unwrap();
    assert!(v.ok(), "{:?}", v.breaks);
    assert_eq!((v.rows, v.unchained), (5, 0));
    let set = |col: &str, value: &str, id: &str| {
        format!("UPDATE requests SET {col} = {value} WHERE request_id = '{id}'")
    };
    assert_edits_are_caught(
        &conn,
        &[
            (
                &set("token_source", "'tokenizer'", "old-provider"),
                &set("token_source", "'provider'", "old-provider"),
            ),
            (
                &set("token_source", "'provider'", "old-estimate"),
                &set("token_source", "'estimate'", "old-estimate"),
            ),
            (
                &set("failed_usd", "0.5", "old-messages"),
                &set("failed_usd", "0", "old-messages"),
            ),
            (
                &set("attempt_log", "'[]'", "old-provider"),
                &set("attempt_log", "''", "old-provider"),
            ),
            (
                &set("api_equivalent_usd", "1.0", "old-estimate"),
                &set("api_equivalent_usd", "NULL", "old-estimate"),
            ),
            (
                &set("token_source", "'provider'", "new-tokenizer"),
                &set("token_source", "'tokenizer'", "new-tokenizer"),
            ),
            (
                &set("failed_usd", "0", "new-failed"),
                &format!(
                    "UPDATE requests SET failed_usd = {} WHERE request_id = 'new-failed'",
                    failed[4]
                ),
            ),
            (
                &set("attempt_log", "''", "new-failed"),
                &format!(
                    "UPDATE requests SET attempt_log = '{}' WHERE request_id = 'new-failed'",
                    logs[4]
                ),
            ),
        ],
    );
}
