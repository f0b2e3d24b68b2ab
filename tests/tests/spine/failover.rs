//! Failover from a backend that fails before its answer starts, the errors of every candidate
//! down, and streams cut after they started (which cannot fail over).

use super::{pair, two_backends, KEY_ENV};
use serde_json::Value;
use std::time::Duration;
use tollgate_e2e::client::{chat, TestClient};
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::{dead_address, Gateway};

async fn fails_over(first: Behavior) {
    let (a, b) = pair().await;
    a.set_behavior(first);
    let gw = Gateway::start_with_env(&two_backends(&a.base_url(), &b.base_url()).build(), KEY_ENV);
    for stream in [false, true] {
        gw.assert_served_by(
            "auto",
            stream,
            "secondary",
            "Hello from the secondary backend",
        )
        .await;
    }
    assert_eq!(b.received().len(), 2);
}

#[tokio::test]
async fn fails_over_on_5xx() {
    fails_over(Behavior::Status {
        status: 503,
        retry_after: None,
    })
    .await;
}

#[tokio::test]
async fn fails_over_on_429() {
    fails_over(Behavior::Status {
        status: 429,
        retry_after: Some(2),
    })
    .await;
}

/// A 401 or 403 from a backend refuses the gateway's own credential for it: the next
/// candidate serves, the backend is marked unhealthy like any failing one, and the client is
/// never told that its key is wrong.
#[tokio::test]
async fn an_upstream_auth_failure_is_the_backends_fault() {
    for status in [401, 403] {
        let (a, b) = pair().await;
        a.set_behavior(Behavior::Status {
            status,
            retry_after: None,
        });
        let gw =
            Gateway::start_with_env(&two_backends(&a.base_url(), &b.base_url()).build(), KEY_ENV);
        let c = TestClient::new();
        for i in 0..4 {
            let r = c
                .post_json(
                    &gw.url("/v1/chat/completions"),
                    &[],
                    &chat("auto", "hi", i % 2 == 1),
                )
                .await;
            assert_eq!(
                r.status,
                200,
                "{status}: {}",
                String::from_utf8_lossy(&r.body)
            );
            assert_eq!(r.header("x-tollgate-backend"), Some("secondary"));
        }
        // Three refusals trip the backend: the fourth request did not try it.
        assert_eq!(a.received().len(), 3, "{status}");
        assert_eq!(b.received().len(), 4);
        // With nothing else to serve, the client gets a gateway error, not an auth error.
        let r = c
            .post_json(
                &gw.url("/v1/chat/completions"),
                &[],
                &chat("primary/m1", "hi", false),
            )
            .await;
        assert!(
            r.status == 502 || r.status == 503,
            "{status} → {}",
            r.status
        );
        let body = String::from_utf8_lossy(&r.body).to_string();
        assert_ne!(r.json()["error"]["code"], "upstream_rejected", "{body}");
        assert!(
            !body.contains("fake upstream says"),
            "the upstream's auth error is not relayed: {body}"
        );
    }
}

#[tokio::test]
async fn fails_over_on_first_byte_timeout() {
    fails_over(Behavior::Answer {
        reply: "too late".into(),
        stream_usage: true,
        head_delay: Duration::from_millis(4000),
        event_gap: Duration::ZERO,
    })
    .await;
}

#[tokio::test]
async fn fails_over_when_a_stream_breaks_before_its_first_event() {
    let (a, b) = pair().await;
    a.set_behavior(Behavior::CutAfter { events: 0 });
    let gw = Gateway::start(&two_backends(&a.base_url(), &b.base_url()).build());
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("auto", "hi", true),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-tollgate-backend"), Some("secondary"));
    assert_eq!(r.streamed_content(), "Hello from the secondary backend");
}

#[tokio::test]
async fn fails_over_on_connection_refused_and_missing_key() {
    let b = FakeOpenAi::start(Behavior::answer("Hello from the secondary backend")).await;
    let dead_socket = dead_address();
    let dead = dead_socket.base_url();
    // Refused connection.
    let gw = Gateway::start_with_env(&two_backends(&dead, &b.base_url()).build(), KEY_ENV);
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("auto", "hi", false),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-tollgate-backend"), Some("secondary"));
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "Hello from the secondary backend"
    );
    assert_eq!(b.received().len(), 1);
    // A backend whose key variable is unset is skipped, never called without credentials.
    let a = FakeOpenAi::start(Behavior::answer("unreachable")).await;
    let gw = Gateway::start(&two_backends(&a.base_url(), &b.base_url()).build());
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("auto", "hi", false),
        )
        .await;
    assert_eq!(r.header("x-tollgate-backend"), Some("secondary"));
    assert!(a.received().is_empty());
    assert!(
        gw.stderr().contains("PRIMARY_KEY"),
        "the missing variable is named at start"
    );
}

#[tokio::test]
async fn every_candidate_down_is_a_502_with_each_reason() {
    let dead_socket1 = dead_address();
    let dead1 = dead_socket1.base_url();
    let dead_socket2 = dead_address();
    let dead2 = dead_socket2.base_url();
    let gw = Gateway::start_with_env(&two_backends(&dead1, &dead2).build(), KEY_ENV);
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("auto", "hi", true),
        )
        .await;
    assert_eq!(r.status, 502);
    let v = r.json();
    assert_eq!(v["error"]["code"], "backends_failed");
    assert_eq!(v["error"]["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(v["error"]["attempts"][0]["candidate"], "primary/m1");
    assert_eq!(v["error"]["attempts"][0]["error"], "connect");
}

#[tokio::test]
async fn a_backend_4xx_goes_back_as_is_without_failover() {
    let (a, b) = pair().await;
    a.set_behavior(Behavior::Status {
        status: 400,
        retry_after: None,
    });
    let gw = Gateway::start_with_env(&two_backends(&a.base_url(), &b.base_url()).build(), KEY_ENV);
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("auto", "hi", false),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["message"], "fake upstream says 400");
    assert!(b.received().is_empty());
}

async fn cut_stream(behavior: Behavior, expect_in_message: &str) {
    let (a, b) = pair().await;
    a.set_behavior(behavior);
    let gw = Gateway::start_with_env(&two_backends(&a.base_url(), &b.base_url()).build(), KEY_ENV);
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("auto", "hi", true),
        )
        .await;
    assert_eq!(r.status, 200, "headers were sent before the failure");
    let data = r.sse_data();
    assert!(data.len() >= 2);
    assert_ne!(
        data.last().map(String::as_str),
        Some("[DONE]"),
        "no silent success"
    );
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_stream_failed");
    let msg = last["error"]["message"].as_str().unwrap();
    assert!(msg.contains(expect_in_message), "{msg}");
    assert!(r.streamed_content().starts_with("part0 "));
    assert!(b.received().is_empty(), "no failover after the first byte");
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_an_error_event() {
    cut_stream(Behavior::CutAfter { events: 3 }, "stream").await;
}

#[tokio::test]
async fn a_stream_ending_without_done_ends_with_an_error_event() {
    cut_stream(Behavior::EndWithoutDone { events: 2 }, "without [DONE]").await;
}

#[tokio::test]
async fn a_stalled_stream_ends_with_an_idle_timeout_event() {
    cut_stream(Behavior::StallAfterFirst, "idle timeout").await;
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_stream() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let a = FakeOpenAi::start(Behavior::Answer {
        reply: "a b c d e f g h i j k l m n o p".into(),
        stream_usage: true,
        head_delay: Duration::ZERO,
        event_gap: Duration::from_millis(150),
    })
    .await;
    let b = FakeOpenAi::start(Behavior::answer("x")).await;
    let gw = Gateway::start_with_env(&two_backends(&a.base_url(), &b.base_url()).build(), KEY_ENV);
    let body = chat("auto", "hi", true).to_string();
    let mut sock = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("data:") {
        let n = sock.read(&mut buf).await.unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&buf[..n]);
    }
    drop(sock);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while a.cancelled() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the upstream stream was not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // And the gateway keeps serving.
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("secondary/m1", "hi", false),
        )
        .await;
    assert_eq!(r.status, 200);
}
