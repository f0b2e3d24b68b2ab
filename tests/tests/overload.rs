//! Load past the gateway's bounds is shed with a clear answer, not queued without end: a
//! backend's concurrency limit (with a bounded queue, and failover to the next candidate),
//! requests in flight, and the bytes of request bodies held at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;
use tollgate_e2e::client::{chat, Response, TestClient};
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::Gateway;
use tollgate_e2e::raw::RawConn;

/// A stream of 15 events 100 ms apart: long enough to hold a slot.
fn slow() -> Behavior {
    Behavior::Answer {
        reply: vec!["word"; 15].join(" "),
        stream_usage: true,
        head_delay: Duration::ZERO,
        event_gap: Duration::from_millis(100),
    }
}

fn spawn(gw: &Gateway, route: &str) -> tokio::task::JoinHandle<Response> {
    let url = gw.url("/v1/chat/completions");
    let body = chat(route, "hi", true);
    tokio::spawn(async move { TestClient::new().post_json(&url, &[], &body).await })
}

async fn until_received(fake: &FakeOpenAi, n: usize) {
    for _ in 0..500 {
        if fake.received().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the backend never got {n} requests");
}

#[tokio::test]
async fn a_full_backend_queues_briefly_then_is_busy_and_fails_over() {
    let limited = FakeOpenAi::start(slow()).await;
    let other = FakeOpenAi::start(Behavior::answer("from the other backend")).await;
    let toml = Config::new()
        .backend_with(
            "limited",
            "local",
            &limited.base_url(),
            "m = { licence = \"Apache-2.0\" }",
            "concurrency = { max = 2, queue = 1, queue_timeout_ms = 300 }\n",
        )
        .backend("other", "local", &other.base_url(), &[("m", "Apache-2.0")])
        .route("only", &["limited/m"])
        .route("either", &["limited/m", "other/m"])
        .build();
    let gw = Gateway::start(&toml);
    let holding: Vec<_> = (0..2).map(|_| spawn(&gw, "only")).collect();
    until_received(&limited, 2).await;

    // Both slots are taken: one request may wait (and gives up after 300 ms), the next is
    // shed at once; each answer says when to retry.
    let queued = spawn(&gw, "only");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let shed = c.post_json(&url, &[], &chat("only", "hi", false)).await;
    assert_eq!(shed.status, 429);
    assert_eq!(shed.json()["error"]["code"], "backends_busy");
    assert!(shed.header("retry-after").is_some());
    let queued = queued.await.unwrap();
    assert_eq!(
        queued.status, 429,
        "the queued request gave up after its wait"
    );

    // With another candidate, a busy backend is failed over like a 429.
    let r = c.post_json(&url, &[], &chat("either", "hi", false)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-tollgate-backend"), Some("other"));
    assert_eq!(
        limited.received().len(),
        2,
        "the full backend got nothing more"
    );

    for h in holding {
        let r = h.await.unwrap();
        assert_eq!(r.sse_data().last().map(String::as_str), Some("[DONE]"));
    }
    // The slots are free again.
    let r = c.post_json(&url, &[], &chat("only", "hi", false)).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn past_max_in_flight_requests_get_a_503() {
    let fake = FakeOpenAi::start(slow()).await;
    let toml = Config::new()
        .server("max_in_flight = 2")
        .backend("up", "local", &fake.base_url(), &[("m", "Apache-2.0")])
        .route("r", &["up/m"])
        .build();
    let gw = Gateway::start(&toml);
    let holding: Vec<_> = (0..2).map(|_| spawn(&gw, "r")).collect();
    until_received(&fake, 2).await;
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let r = c.post_json(&url, &[], &chat("r", "hi", false)).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["error"]["code"], "gateway_busy");
    assert_eq!(r.header("retry-after"), Some("1"));
    for h in holding {
        assert_eq!(h.await.unwrap().status, 200);
    }
    assert_eq!(
        c.post_json(&url, &[], &chat("r", "hi", false)).await.status,
        200
    );
}

#[tokio::test]
async fn bodies_past_the_bytes_held_at_once_get_a_503() {
    let fake = FakeOpenAi::start(Behavior::answer("ok")).await;
    let toml = Config::new()
        .server("max_body_bytes = 1048576")
        .server("max_body_bytes_in_flight = 1048576")
        .backend("up", "local", &fake.base_url(), &[("m", "Apache-2.0")])
        .route("r", &["up/m"])
        .build();
    let gw = Gateway::start(&toml);
    // A body of 900 KB, 800 KB of it sent: held while the rest is awaited.
    let mut first = RawConn::connect(gw.addr).await;
    first
        .send(b"POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 900000\r\n\r\n")
        .await;
    first.send(&vec![b' '; 800_000]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = "x".repeat(300_000);
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let r = c.post_json(&url, &[], &chat("r", &text, false)).await;
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["error"]["code"], "gateway_busy");
    drop(first);
    // The first body's bytes are released with its request.
    let mut served = false;
    for _ in 0..50 {
        if c.post_json(&url, &[], &chat("r", &text, false))
            .await
            .status
            == 200
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "the held bytes were never released");
}
