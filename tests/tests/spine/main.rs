//! The spine end to end: the real binary, real sockets, a faithful fake OpenAI upstream.
//! Failover and cut streams are in `failover.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use tollgate_e2e::client::{chat, TestClient};
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::{dead_address, Gateway};

mod failover;

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
