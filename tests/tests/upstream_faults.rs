//! Backends that answer 200 with something that is not an answer, or stall half-way through
//! one: each is the backend's fault, failed over before the client sees a byte, or ended with
//! an error event once it has, and recorded as a failure, never as completed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::time::{Duration, Instant};
use tollgate_e2e::client::{chat, TestClient};
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::Gateway;

/// `primary` (with short timeouts) then `secondary`, both serving `m1`, behind route `auto`.
async fn pair(primary: Behavior) -> (FakeOpenAi, FakeOpenAi, Gateway) {
    let a = FakeOpenAi::start(primary).await;
    let b = FakeOpenAi::start(Behavior::answer("Hello from the secondary backend")).await;
    let toml = Config::new()
        .backend_with(
            "primary",
            "local",
            &a.base_url(),
            "m1 = { licence = \"Apache-2.0\" }",
            "timeouts = { connect_ms = 500, first_byte_ms = 2000, idle_ms = 700, total_ms = 60000 }\n",
        )
        .backend("secondary", "local", &b.base_url(), &[("m1", "Apache-2.0")])
        .route("auto", &["primary/m1", "secondary/m1"])
        .ledger("ledger.db")
        .build();
    let gw = Gateway::start(&toml);
    (a, b, gw)
}

async fn served_by_secondary(gw: &Gateway, stream: bool) {
    gw.assert_served_by(
        "auto",
        stream,
        "secondary",
        "Hello from the secondary backend",
    )
    .await;
}

/// The ledger's outcome, attempt count and serving backend of each request, in order.
fn rows(gw: &Gateway) -> Vec<(String, i64, String)> {
    let db = rusqlite::Connection::open(gw.dir.path().join("ledger.db")).unwrap();
    let mut q = db
        .prepare("SELECT outcome, attempts, COALESCE(backend, '') FROM requests ORDER BY id")
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn a_200_that_is_not_json_fails_over() {
    let (_a, b, gw) = pair(Behavior::Garbage {
        content_type: "application/json",
        body: "<html>502 Bad Gateway</html>",
    })
    .await;
    served_by_secondary(&gw, false).await;
    assert_eq!(b.received().len(), 1);
    assert_eq!(
        rows(&gw),
        [("completed".to_string(), 2, "secondary".to_string())]
    );
}

#[tokio::test]
async fn a_200_json_that_is_not_a_completion_fails_over() {
    let (_a, _b, gw) = pair(Behavior::Garbage {
        content_type: "application/json",
        body: r#"{"status":"ok"}"#,
    })
    .await;
    served_by_secondary(&gw, false).await;
}

#[tokio::test]
async fn an_event_stream_when_json_was_asked_fails_over() {
    let (_a, _b, gw) = pair(Behavior::Garbage {
        content_type: "text/event-stream",
        body: "data: {\"choices\":[]}\n\ndata: [DONE]\n\n",
    })
    .await;
    served_by_secondary(&gw, false).await;
}

#[tokio::test]
async fn a_stream_of_garbage_events_fails_over_before_the_first_byte() {
    let (_a, _b, gw) = pair(Behavior::Garbage {
        content_type: "text/event-stream",
        body: "data: this is not json\n\ndata: [DONE]\n\n",
    })
    .await;
    served_by_secondary(&gw, true).await;
}

#[tokio::test]
async fn a_whole_answer_that_stalls_is_cut_at_the_idle_timeout_and_fails_over() {
    let (a, _b, gw) = pair(Behavior::StallBody).await;
    let t = Instant::now();
    served_by_secondary(&gw, false).await;
    // idle_ms = 700; total_ms = 60 s would be the only bound without the idle timeout.
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(
        rows(&gw),
        [("completed".to_string(), 2, "secondary".to_string())]
    );
    drop(gw);
    let deadline = Instant::now() + Duration::from_secs(5);
    while a.cancelled() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(a.cancelled(), 1, "the stalled upstream body was dropped");
}

#[tokio::test]
async fn a_garbage_event_after_the_first_byte_ends_the_stream_with_an_error_event() {
    let a = FakeOpenAi::start(Behavior::answer("x")).await;
    // One good event, then garbage: the answer has started, so no failover.
    a.set_behavior(Behavior::Garbage {
        content_type: "text/event-stream",
        body: "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"part0 \"}}]}\n\ndata: <garbage>\n\ndata: [DONE]\n\n",
    });
    let toml = Config::new()
        .backend("primary", "local", &a.base_url(), &[("m1", "Apache-2.0")])
        .route("auto", &["primary/m1"])
        .ledger("ledger.db")
        .build();
    let gw = Gateway::start(&toml);
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("auto", "hi", true),
        )
        .await;
    assert_eq!(r.status, 200);
    let data = r.sse_data();
    assert_ne!(data.last().map(String::as_str), Some("[DONE]"));
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_stream_failed");
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not JSON"),
        "{last}"
    );
    assert!(
        !r.body.windows(9).any(|w| w == b"<garbage>"),
        "garbage is never relayed"
    );
    assert_eq!(rows(&gw)[0].0, "cut_off");
}
