//! The spine end to end: the real binary, real sockets, a faithful fake OpenAI upstream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use std::time::Duration;
use tollgate_e2e::client::{chat, TestClient};
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::{dead_address, Gateway};

/// Backends `primary` and `secondary` (each serving `m1`) and route `auto` trying them in that
/// order. `primary` takes its key from `PRIMARY_KEY` and gives up soon enough for a test to see
/// it fail over.
fn two_backends(primary: &str, secondary: &str) -> Config {
    Config::new()
        .backend_with(
            "primary",
            "external",
            primary,
            "m1 = { licence = \"openai-terms\" }",
            "api_key_env = \"PRIMARY_KEY\"\n\
             timeouts = { connect_ms = 500, first_byte_ms = 2500, idle_ms = 1500, total_ms = 10000 }",
        )
        .backend("secondary", "local", secondary, &[("m1", "Apache-2.0")])
        .route("auto", &["primary/m1", "secondary/m1"])
}

const KEY_ENV: &[(&str, &str)] = &[("PRIMARY_KEY", "sk-upstream-secret")];

async fn pair() -> (FakeOpenAi, FakeOpenAi) {
    (
        FakeOpenAi::start(Behavior::answer("Hello from the primary backend")).await,
        FakeOpenAi::start(Behavior::answer("Hello from the secondary backend")).await,
    )
}

#[tokio::test]
async fn non_streamed_completion_through_a_route() {
    let (a, b) = pair().await;
    let gw = Gateway::start_with_env(&two_backends(&a.base_url(), &b.base_url()).build(), KEY_ENV);
    let c = TestClient::new();
    let r = c
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[("authorization", "Bearer client-key")],
            &chat("auto", "one two three", false),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from the primary backend"
    );
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    assert_eq!(r.header("x-tollgate-route"), Some("auto"));
    assert_eq!(r.header("x-tollgate-backend"), Some("primary"));
    assert_eq!(r.header("x-tollgate-model"), Some("m1"));
    assert!(r
        .header("x-tollgate-request-id")
        .is_some_and(|id| id.starts_with("req_")));
    let got = a.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].body["model"], "m1",
        "the route name is replaced by the backend's model"
    );
    assert_eq!(
        got[0].authorization.as_deref(),
        Some("Bearer sk-upstream-secret"),
        "the backend's key is injected and the client's is never forwarded"
    );
    assert!(b.received().is_empty());
}

#[tokio::test]
async fn streamed_completion_arrives_in_chunks_and_ends_with_done() {
    let (a, b) = pair().await;
    let gw = Gateway::start_with_env(&two_backends(&a.base_url(), &b.base_url()).build(), KEY_ENV);
    let c = TestClient::new();
    let r = c
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("auto", "hi", true),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(r.header("x-tollgate-backend"), Some("primary"));
    assert_eq!(r.streamed_content(), "Hello from the primary backend");
    let data = r.sse_data();
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    assert!(
        !data.iter().any(|d| d.contains("\"usage\"")),
        "no usage chunk unless the client asks for it"
    );
    assert!(
        r.chunks.len() > 3,
        "events are relayed as they arrive, not buffered"
    );
    // Upstreams are always asked for usage, so the gateway can count streamed tokens.
    assert_eq!(
        a.received()[0].body["stream_options"]["include_usage"],
        true
    );
}

#[tokio::test]
async fn streamed_usage_chunk_is_relayed_when_asked() {
    let (a, b) = pair().await;
    let gw = Gateway::start(&two_backends(&a.base_url(), &b.base_url()).build());
    let mut body = chat("auto", "four words in here", true);
    body["stream_options"] = json!({"include_usage": true});
    let r = TestClient::new()
        .post_json(&gw.url("/v1/chat/completions"), &[], &body)
        .await;
    let data = r.sse_data();
    let usage: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 4);
    assert_eq!(usage["usage"]["completion_tokens"], 5);
}

#[tokio::test]
async fn pinned_backend_model() {
    let (a, b) = pair().await;
    let gw = Gateway::start(&two_backends(&a.base_url(), &b.base_url()).build());
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("secondary/m1", "hi", false),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-tollgate-backend"), Some("secondary"));
    assert_eq!(r.header("x-tollgate-route"), Some("secondary/m1"));
    assert!(a.received().is_empty());
}

#[tokio::test]
async fn unknown_model_is_a_404_listing_what_exists() {
    let (a, b) = pair().await;
    let gw = Gateway::start(&two_backends(&a.base_url(), &b.base_url()).build());
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("gpt-5", "hi", false),
        )
        .await;
    assert_eq!(r.status, 404);
    let v = r.json();
    assert_eq!(v["error"]["code"], "model_not_found");
    assert_eq!(
        v["error"]["available"],
        json!(["auto", "primary/m1", "secondary/m1"])
    );
}

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

#[tokio::test]
async fn oversized_body_is_a_413_and_the_gateway_keeps_serving() {
    let (a, b) = pair().await;
    let cfg = two_backends(&a.base_url(), &b.base_url())
        .server("max_body_bytes = 1000")
        .build();
    let gw = Gateway::start_with_env(&cfg, KEY_ENV);
    let c = TestClient::new();
    let big = chat("auto", &"word ".repeat(500), false);
    let r = c
        .post_json(&gw.url("/v1/chat/completions"), &[], &big)
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"]["code"], "body_too_large");
    let r = c
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("auto", "small", false),
        )
        .await;
    assert_eq!(r.status, 200);
    let seen = a.received();
    assert_eq!(seen.len(), 1, "the refused body never reached the backend");
    assert_eq!(seen[0].body["messages"][0]["content"], "small");
}

#[tokio::test]
async fn a_five_megabyte_request_is_forwarded_whole() {
    let (a, b) = pair().await;
    let gw = Gateway::start_with_env(&two_backends(&a.base_url(), &b.base_url()).build(), KEY_ENV);
    let text = "lorem ipsum dolor sit amet ".repeat(5 * 1024 * 1024 / 27 + 1);
    let body = chat("auto", &text, false);
    assert!(body.to_string().len() > 5 * 1024 * 1024);
    let r = TestClient::new()
        .post_json(&gw.url("/v1/chat/completions"), &[], &body)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        a.received()[0].body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .len(),
        text.len()
    );
}

#[tokio::test]
async fn malformed_requests_get_clear_4xx_and_the_gateway_keeps_serving() {
    let (a, b) = pair().await;
    let gw = Gateway::start_with_env(&two_backends(&a.base_url(), &b.base_url()).build(), KEY_ENV);
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let json_ct = [("content-type", "application/json")];
    let cases: Vec<(&[u8], &str, Option<&str>)> = vec![
        (b"{not json", "not valid JSON", None),
        (b"", "empty", None),
        (b"[]", "JSON object", None),
        (br#"{"model":"auto"}"#, "messages", Some("messages")),
        (
            br#"{"messages":[{"role":"user","content":"x"}]}"#,
            "model",
            Some("model"),
        ),
        (
            br#"{"model":"auto","messages":[]}"#,
            "at least one",
            Some("messages"),
        ),
        (
            br#"{"model":"auto","messages":"hi"}"#,
            "messages",
            Some("messages"),
        ),
        (
            br#"{"model":"auto","messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#,
            "temperature",
            Some("temperature"),
        ),
        (
            b"{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}",
            "UTF-8",
            None,
        ),
    ];
    for (body, needle, param) in cases {
        let r = c.send("POST", &url, &json_ct, body.to_vec()).await;
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
        let v = r.json();
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{msg} should mention {needle}");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        if let Some(p) = param {
            assert_eq!(v["error"]["param"], p);
        }
    }
    let r = c.send("GET", &url, &[], Vec::new()).await;
    assert_eq!(r.status, 405);
    let r = c
        .send("POST", &gw.url("/v1/nope"), &json_ct, b"{}".to_vec())
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], "unknown_url");
    let bad_class = c
        .post_json(
            &url,
            &[("x-tollgate-data-class", "secret")],
            &chat("auto", "hi", false),
        )
        .await;
    assert_eq!(bad_class.status, 400);
    assert_eq!(bad_class.json()["error"]["code"], "invalid_data_class");
    assert!(a.received().is_empty(), "nothing invalid reached a backend");
    let r = c
        .post_json(&url, &[], &chat("auto", "still here", false))
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn tenants_authenticate_by_key() {
    let (a, b) = pair().await;
    let hashed = tollgate_e2e::gateway::sha256_hex("tenant-key-1");
    let config = two_backends(&a.base_url(), &b.base_url())
        .tenant(
            "acme",
            "commercial",
            &format!("api_key_sha256 = [\"{hashed}\"]"),
        )
        .tenant(
            "beta",
            "internal",
            "api_key_env = \"BETA_KEY\"\nroutes = [\"auto\"]",
        )
        .build();
    let gw = Gateway::start_with_env(
        &config,
        &[("PRIMARY_KEY", "sk-up"), ("BETA_KEY", "beta-secret")],
    );
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let r = c.post_json(&url, &[], &chat("auto", "hi", false)).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["type"], "authentication_error");
    let r = c
        .post_json(
            &url,
            &[("authorization", "Bearer wrong")],
            &chat("auto", "hi", false),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = c
        .post_json(
            &url,
            &[("authorization", "Bearer tenant-key-1")],
            &chat("auto", "hi", false),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = c
        .post_json(
            &url,
            &[("authorization", "Bearer beta-secret")],
            &chat("auto", "hi", true),
        )
        .await;
    assert_eq!(r.status, 200);
    // beta may use only route auto: pinning a model outside it is refused; /v1/models shows its view.
    let models = c
        .get(
            &gw.url("/v1/models"),
            &[("authorization", "Bearer beta-secret")],
        )
        .await;
    let ids: Vec<String> = models.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["auto", "primary/m1", "secondary/m1"]);
    let r = c.get(&gw.url("/v1/models"), &[]).await;
    assert_eq!(r.status, 401);
    // The client's key never reaches a backend.
    let seen = a.received();
    assert!(!seen.is_empty());
    assert!(seen
        .iter()
        .all(|r| r.authorization.as_deref() == Some("Bearer sk-up")));
}

#[tokio::test]
async fn without_tenants_any_key_or_none_is_served() {
    let (a, b) = pair().await;
    let gw = Gateway::start(&two_backends(&a.base_url(), &b.base_url()).build());
    let c = TestClient::new();
    for h in [vec![], vec![("authorization", "Bearer anything")]] {
        let r = c
            .post_json(
                &gw.url("/v1/chat/completions"),
                &h,
                &chat("secondary/m1", "hi", false),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    assert!(gw.stderr().contains("no [tenants] configured"));
}

#[tokio::test]
async fn models_health_and_readiness() {
    let (a, b) = pair().await;
    let gw = Gateway::start(&two_backends(&a.base_url(), &b.base_url()).build());
    let c = TestClient::new();
    let r = c.get(&gw.url("/v1/models"), &[]).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0]["id"], "auto");
    assert_eq!(v["data"][1]["owned_by"], "primary");
    assert_eq!(c.get(&gw.url("/healthz"), &[]).await.status, 200);
    assert_eq!(c.get(&gw.url("/readyz"), &[]).await.status, 200);
}

#[tokio::test]
async fn environment_overrides_the_file() {
    let (a, b) = pair().await;
    let dead_socket = dead_address();
    let dead = dead_socket.base_url();
    // The file points primary at a dead address; the environment points it at the fake.
    let gw = Gateway::start_with_env(
        &two_backends(&dead, &b.base_url()).build(),
        &[
            ("PRIMARY_KEY", "k"),
            ("TOLLGATE_BACKENDS__PRIMARY__BASE_URL", &a.base_url()),
        ],
    );
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("auto", "hi", false),
        )
        .await;
    assert_eq!(r.header("x-tollgate-backend"), Some("primary"));
    assert_eq!(a.received().len(), 1);
}

#[tokio::test]
async fn concurrent_requests_all_complete() {
    let (a, b) = pair().await;
    let gw = Gateway::start_with_env(&two_backends(&a.base_url(), &b.base_url()).build(), KEY_ENV);
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let c = c.clone();
            let url = url.clone();
            tokio::spawn(async move {
                c.post_json(&url, &[], &chat("auto", "hi", i % 2 == 0))
                    .await
                    .status
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(a.received().len(), 40);
}

#[tokio::test]
async fn http2_cleartext_clients_are_served_streamed_and_not() {
    let (a, b) = pair().await;
    let gw = Gateway::start_with_env(&two_backends(&a.base_url(), &b.base_url()).build(), KEY_ENV);
    let c = TestClient::h2c();
    let r = c
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("auto", "hi", false),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "Hello from the primary backend"
    );
    let r = c
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("auto", "hi", true),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("transfer-encoding").is_none(),
        "no HTTP/1 framing headers on h2"
    );
    assert_eq!(r.streamed_content(), "Hello from the primary backend");
}
