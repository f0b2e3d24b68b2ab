//! SIGTERM through the real binary: requests in flight get the grace period; what outlives it
//! is ended in the open (an error event for a stream, a 503 for a whole answer) and recorded as
//! cut by the shutdown; the process leaves as soon as nothing is in flight.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};
use tollgate_e2e::client::{chat, Response, TestClient};
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::Gateway;

fn slow_answer(words: usize, gap_ms: u64, head_delay_ms: u64) -> Behavior {
    Behavior::Answer {
        reply: vec!["word"; words].join(" "),
        stream_usage: true,
        head_delay: Duration::from_millis(head_delay_ms),
        event_gap: Duration::from_millis(gap_ms),
    }
}

fn gateway(fake: &FakeOpenAi, grace_s: u64) -> Gateway {
    let toml = Config::new()
        .server(&format!("grace_period_seconds = {grace_s}"))
        .backend_with(
            "up",
            "local",
            &fake.base_url(),
            "m = { licence = \"Apache-2.0\" }",
            "timeouts = { first_byte_ms = 60000, idle_ms = 60000, total_ms = 120000 }\n",
        )
        .route("r", &["up/m"])
        .ledger("ledger.db")
        .build();
    Gateway::start(&toml)
}

fn spawn_request(gw: &Gateway, stream: bool) -> tokio::task::JoinHandle<Response> {
    let url = gw.url("/v1/chat/completions");
    tokio::spawn(async move {
        TestClient::new()
            .post_json(&url, &[], &chat("r", "hi", stream))
            .await
    })
}

async fn until_received(fake: &FakeOpenAi, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.received().len() < n {
        assert!(
            Instant::now() < deadline,
            "the backend never got {n} requests"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn sigterm(gw: &Gateway) {
    let ok = Command::new("kill")
        .args(["-TERM", &gw.pid().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn outcomes(gw: &Gateway) -> Vec<String> {
    let db = rusqlite::Connection::open(gw.dir.path().join("ledger.db")).unwrap();
    let mut q = db
        .prepare("SELECT outcome FROM requests ORDER BY id")
        .unwrap();
    q.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn what_outlives_the_grace_period_is_ended_in_the_open_and_recorded() {
    // Streams of 40 events 200 ms apart, and whole answers 30 s away: all outlive 2 s.
    let fake = FakeOpenAi::start(slow_answer(40, 200, 0)).await;
    let mut gw = gateway(&fake, 2);
    let streams: Vec<_> = (0..3).map(|_| spawn_request(&gw, true)).collect();
    until_received(&fake, 3).await;
    fake.set_behavior(slow_answer(3, 0, 30_000));
    let whole: Vec<_> = (0..2).map(|_| spawn_request(&gw, false)).collect();
    until_received(&fake, 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    sigterm(&gw);
    for s in streams {
        let r = s.await.unwrap();
        assert_eq!(r.status, 200);
        let data = r.sse_data();
        assert!(data.len() > 2, "the stream had started");
        let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
        assert_eq!(last["error"]["code"], "server_shutting_down", "{last}");
        assert!(!data.iter().any(|d| d == "[DONE]"));
    }
    for w in whole {
        let r = w.await.unwrap();
        assert_eq!(r.status, 503);
        assert_eq!(r.json()["error"]["code"], "server_shutting_down");
        assert!(r.header("retry-after").is_some());
    }
    assert!(gw.terminate(Duration::from_secs(10)), "the gateway exits");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(1800),
        "the grace period was given: {took:?}"
    );
    assert!(
        took < Duration::from_secs(6),
        "exit soon after the grace period: {took:?}"
    );
    assert_eq!(outcomes(&gw), vec!["shutdown"; 5]);
}

#[tokio::test]
async fn requests_in_flight_finish_and_the_process_leaves_when_none_is_left() {
    let fake = FakeOpenAi::start(slow_answer(6, 100, 0)).await;
    let mut gw = gateway(&fake, 30);
    let stream = spawn_request(&gw, true);
    until_received(&fake, 1).await;
    let t = Instant::now();
    sigterm(&gw);
    let r = stream.await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.sse_data().last().map(String::as_str), Some("[DONE]"));
    assert!(gw.terminate(Duration::from_secs(20)), "the gateway exits");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "it left once idle, not after the 30 s grace period: {:?}",
        t.elapsed()
    );
    assert_eq!(outcomes(&gw), ["completed"]);
}
