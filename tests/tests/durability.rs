//! Nothing lost: a request whose answer reached the client has its ledger row, even when the
//! process is killed (SIGKILL) the moment the last answer arrived.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rusqlite::{Connection, OpenFlags};
use std::sync::Arc;
use tollgate_e2e::client::{chat, TestClient};
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::Gateway;

fn config(upstream: &str) -> String {
    Config::new()
        .ledger("ledger.db")
        .backend("up", "local", upstream, &[("m", "Apache-2.0")])
        .route("auto", &["up/m"])
        .build()
}

fn rows(gw: &Gateway) -> i64 {
    let conn = Connection::open_with_flags(
        gw.dir.path().join("ledger.db"),
        OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.query_row("SELECT COUNT(*) FROM requests", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_right_after_the_last_answer_loses_no_row() {
    const TRIALS: usize = 8;
    const REQUESTS: usize = 200;
    const CONCURRENCY: usize = 16;
    let upstream = FakeOpenAi::start(Behavior::answer("ok")).await;
    let mut lost = Vec::new();
    for trial in 0..TRIALS {
        let mut gw = Gateway::start(&config(&upstream.base_url()));
        let url = Arc::new(gw.url("/v1/chat/completions"));
        let client = TestClient::new();
        let mut tasks = Vec::new();
        for worker in 0..CONCURRENCY {
            let (client, url) = (client.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                let mut answered = 0;
                for i in (worker..REQUESTS).step_by(CONCURRENCY) {
                    // Half streamed, half not: both kinds of answer commit before their end.
                    let r = client
                        .post_json(&url, &[], &chat("auto", "hi", i % 2 == 0))
                        .await;
                    assert_eq!(r.status, 200);
                    answered += 1;
                }
                answered
            }));
        }
        let mut answered = 0;
        for t in tasks {
            answered += t.await.unwrap();
        }
        gw.kill();
        assert_eq!(answered, REQUESTS);
        let n = rows(&gw);
        if n != REQUESTS as i64 {
            lost.push(format!("trial {trial}: {n} of {REQUESTS} rows"));
        }
    }
    assert!(lost.is_empty(), "rows lost to SIGKILL: {lost:?}");
}

/// The row is committed before the answer's last byte: the moment a client has the whole
/// answer, the ledger already holds the request's row.
#[tokio::test]
async fn the_row_exists_when_the_answer_is_complete() {
    let upstream = FakeOpenAi::start(Behavior::answer("ok")).await;
    let gw = Gateway::start(&config(&upstream.base_url()));
    let url = gw.url("/v1/chat/completions");
    let client = TestClient::new();
    let db = gw.dir.path().join("ledger.db");
    let mut missing = Vec::new();
    for i in 0..100 {
        let r = client
            .post_json(&url, &[], &chat("auto", "hi", i % 2 == 0))
            .await;
        assert_eq!(r.status, 200);
        let id = r.header("x-tollgate-request-id").unwrap().to_string();
        let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let found: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM requests WHERE request_id = ?1",
                [&id],
                |r| r.get(0),
            )
            .unwrap();
        if found != 1 {
            missing.push(id);
        }
    }
    assert!(
        missing.is_empty(),
        "{} answers had no row yet: {missing:?}",
        missing.len()
    );
}
