//! The policy engine end to end: data-sensitivity and licence rules hold on every attempt,
//! refusals fail closed with reasons, redaction round-trips, and `explain` says why.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use tollgate_e2e::client::{chat, TestClient};
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::{dead_address, Gateway};

/// A card number that passes Luhn (and is not a published test number).
const CARD: &str = "4539 1488 0343 6467";

/// `cloud` is a closed API (external zone) and comes FIRST in route `auto`, so only the
/// policy keeps sensitive prompts away from it; `local` is a local server.
fn config(cloud: &str, local: &str, extra: &str) -> String {
    Config::new()
        .backend("cloud", "external", cloud, &[("gpt", "openai-terms")])
        .backend_with(
            "local",
            "local",
            local,
            "qwen = { licence = \"Apache-2.0\" }, qwen3b = { licence = \"qwen-research\" }, \
             llama = { licence = \"llama3\" }",
            "timeouts = { connect_ms = 300, first_byte_ms = 2000, idle_ms = 2000, total_ms = 5000 }",
        )
        .route("auto", &["cloud/gpt", "local/qwen"])
        .route("mixed", &["local/qwen3b", "local/qwen"])
        .route_with(
            "redacting",
            &["cloud/gpt", "local/qwen"],
            "on_class = { confidential = \"redact\" }",
        )
        .extra(extra)
        .build()
}

async fn fakes() -> (FakeOpenAi, FakeOpenAi) {
    (
        FakeOpenAi::start(Behavior::answer("from the cloud")).await,
        FakeOpenAi::start(Behavior::answer("from the local server")).await,
    )
}

fn prompt_with_card() -> String {
    format!("Please charge my card {CARD} for the order.")
}

#[tokio::test]
async fn a_card_number_never_reaches_the_closed_api() {
    let (cloud, local) = fakes().await;
    let gw = Gateway::start(&config(&cloud.base_url(), &local.base_url(), ""));
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    for stream in [false, true] {
        let r = c
            .post_json(&url, &[], &chat("auto", &prompt_with_card(), stream))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-tollgate-backend"), Some("local"));
        assert_eq!(r.header("x-tollgate-data-class"), Some("restricted"));
    }
    // Its twin without the card goes to the closed API, first in the route.
    let r = c
        .post_json(
            &url,
            &[],
            &chat("auto", "Please summarise the order.", false),
        )
        .await;
    assert_eq!(r.header("x-tollgate-backend"), Some("cloud"));
    assert_eq!(r.header("x-tollgate-data-class"), Some("public"));
    let seen = cloud.received();
    assert_eq!(seen.len(), 1);
    assert!(seen.iter().all(|r| !r.body.to_string().contains("4539")));
}

#[tokio::test]
async fn a_sensitive_prompt_fails_closed_when_every_local_backend_is_down() {
    let cloud = FakeOpenAi::start(Behavior::answer("from the cloud")).await;
    let dead_socket = dead_address();
    let dead = dead_socket.base_url();
    let gw = Gateway::start(&config(&cloud.base_url(), &dead, ""));
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    // The local backend fails at dispatch: the request fails, it is not sent to the cloud.
    for _ in 0..3 {
        let r = c
            .post_json(&url, &[], &chat("auto", &prompt_with_card(), false))
            .await;
        assert_eq!(r.status, 502, "{}", String::from_utf8_lossy(&r.body));
        let attempts = r.json()["error"]["attempts"].as_array().unwrap().clone();
        assert_eq!(attempts.len(), 1, "only the local candidate was tried");
    }
    // After repeated failures the local backend is marked down: the decision itself fails
    // closed with 503 and says why each candidate is out.
    let r = c
        .post_json(&url, &[], &chat("auto", &prompt_with_card(), true))
        .await;
    assert_eq!(r.status, 503);
    let v = r.json();
    assert_eq!(v["error"]["code"], "no_healthy_backend");
    let rules: Vec<&str> = v["error"]["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["data_class_above_zone", "unhealthy"]);
    assert!(
        cloud.received().is_empty(),
        "the closed API received nothing"
    );
}

#[tokio::test]
async fn declared_and_tenant_classes_raise_but_never_lower() {
    let (cloud, local) = fakes().await;
    let hashed = tollgate_e2e::gateway::sha256_hex("conf-key");
    let plain = tollgate_e2e::gateway::sha256_hex("plain-key");
    let tenants = format!(
        r#"
[tenants.hr]
use = "internal"
default_class = "confidential"
api_key_sha256 = ["{hashed}"]

[tenants.web]
use = "commercial"
api_key_sha256 = ["{plain}"]
"#
    );
    let gw = Gateway::start(&config(&cloud.base_url(), &local.base_url(), &tenants));
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let hr = [
        ("authorization", "Bearer conf-key"),
        ("x-tollgate-data-class", "public"),
    ];
    let r = c.post_json(&url, &hr, &chat("auto", "hello", false)).await;
    assert_eq!(
        r.header("x-tollgate-data-class"),
        Some("confidential"),
        "a header cannot lower the tenant default"
    );
    assert_eq!(r.header("x-tollgate-backend"), Some("local"));
    let web = [
        ("authorization", "Bearer plain-key"),
        ("x-tollgate-data-class", "restricted"),
    ];
    let r = c.post_json(&url, &web, &chat("auto", "hello", false)).await;
    assert_eq!(r.header("x-tollgate-data-class"), Some("restricted"));
    assert_eq!(r.header("x-tollgate-backend"), Some("local"));
    let r = c
        .post_json(
            &url,
            &[("authorization", "Bearer plain-key")],
            &chat("auto", "hello", false),
        )
        .await;
    assert_eq!(r.header("x-tollgate-backend"), Some("cloud"));
    assert_eq!(cloud.received().len(), 1);
}

#[tokio::test]
async fn a_commercial_tenant_gets_only_the_apache_model() {
    let (cloud, local) = fakes().await;
    let keys = (
        tollgate_e2e::gateway::sha256_hex("biz"),
        tollgate_e2e::gateway::sha256_hex("lab"),
    );
    let tenants = format!(
        r#"
[tenants.biz]
use = "commercial"
api_key_sha256 = ["{}"]

[tenants.lab]
use = "research"
api_key_sha256 = ["{}"]
"#,
        keys.0, keys.1
    );
    let gw = Gateway::start(&config(&cloud.base_url(), &local.base_url(), &tenants));
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let r = c
        .post_json(
            &url,
            &[("authorization", "Bearer biz")],
            &chat("mixed", "hi", false),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-tollgate-model"), Some("qwen"));
    let r = c
        .post_json(
            &url,
            &[("authorization", "Bearer lab")],
            &chat("mixed", "hi", false),
        )
        .await;
    assert_eq!(
        r.header("x-tollgate-model"),
        Some("qwen3b"),
        "research use may use the research licence"
    );
    let models: Vec<String> = local
        .received()
        .iter()
        .map(|r| r.body["model"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(models, ["qwen", "qwen3b"]);
    // Pinning the research model as a commercial tenant is refused with the rule and reason.
    let r = c
        .post_json(
            &url,
            &[("authorization", "Bearer biz")],
            &chat("local/qwen3b", "hi", false),
        )
        .await;
    assert_eq!(r.status, 403);
    let v = r.json();
    assert_eq!(v["error"]["code"], "policy_refused");
    assert_eq!(v["error"]["refusals"][0]["rule"], "licence_forbids_use");
    assert!(v["error"]["refusals"][0]["message"]
        .as_str()
        .unwrap()
        .contains("qwen-research"));
}

#[tokio::test]
async fn licence_notices_travel_with_the_answer_and_the_model_list() {
    let (cloud, local) = fakes().await;
    let gw = Gateway::start(&config(&cloud.base_url(), &local.base_url(), ""));
    let c = TestClient::new();
    let r = c
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("local/llama", "hi", true),
        )
        .await;
    assert_eq!(r.status, 200);
    let notice = r.header("x-tollgate-licence").unwrap();
    assert!(
        notice.contains("llama3") && notice.contains("Llama 3"),
        "{notice}"
    );
    let r = c
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("local/qwen", "hi", false),
        )
        .await;
    assert_eq!(r.header("x-tollgate-licence"), Some("Apache-2.0"));
    let models = c.get(&gw.url("/v1/models"), &[]).await.json();
    let llama = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "local/llama")
        .unwrap()
        .clone();
    assert_eq!(llama["tollgate"]["licence"], "llama3");
    assert_eq!(llama["tollgate"]["zone"], "local");
    assert_eq!(llama["tollgate"]["outputs_may_train"], "no");
    let research = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "local/qwen3b")
        .unwrap()
        .clone();
    assert_eq!(research["tollgate"]["commercial_use"], "no");
}

async fn redaction_round_trip(stream: bool) {
    let cloud = FakeOpenAi::start(Behavior::Echo { chunk_chars: 3 }).await;
    let local = FakeOpenAi::start(Behavior::answer("local")).await;
    let gw = Gateway::start(&config(&cloud.base_url(), &local.base_url(), ""));
    let text = "Write to jane.doe@acme-corp.com and cc bob.smith@acme-corp.com about jane.doe@acme-corp.com";
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("redacting", text, stream),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-tollgate-backend"), Some("cloud"));
    assert_eq!(r.header("x-tollgate-redacted"), Some("true"));
    let answer = r.answer(stream);
    assert_eq!(
        answer, text,
        "placeholders are restored, also when split across chunks"
    );
    let sent = cloud.received()[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!sent.contains('@'), "no address left the gateway: {sent}");
    assert_eq!(
        sent.matches("[EMAIL_1]").count(),
        2,
        "the same value gets the same placeholder: {sent}"
    );
    assert!(sent.contains("[EMAIL_2]"));
}

#[tokio::test]
async fn redaction_round_trip_streamed() {
    redaction_round_trip(true).await;
}

#[tokio::test]
async fn redaction_round_trip_not_streamed() {
    redaction_round_trip(false).await;
}

#[tokio::test]
async fn explain_says_why_and_calls_no_backend() {
    let (cloud, local) = fakes().await;
    let gw = Gateway::start(&config(&cloud.base_url(), &local.base_url(), ""));
    let body = chat("auto", &prompt_with_card(), false);
    let r = TestClient::new()
        .post_json(&gw.url("/v1/tollgate/explain"), &[], &body)
        .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["effective_class"], "restricted");
    assert_eq!(v["detections"][0]["kind"], "payment_card");
    let text = prompt_with_card();
    let (start, end) = (
        v["detections"][0]["start"].as_u64().unwrap() as usize,
        v["detections"][0]["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[start..end], CARD);
    assert_eq!(
        v["candidates"],
        json!([{"candidate": "local/qwen", "zone": "local", "licence": "Apache-2.0", "redact": false}])
    );
    assert_eq!(v["refused"][0]["candidate"], "cloud/gpt");
    assert_eq!(v["refused"][0]["rule"], "data_class_above_zone");
    assert!(cloud.received().is_empty() && local.received().is_empty());

    // The same offline, from the command line.
    let path = gw.dir.path().join("tollgate.toml");
    let mut child = std::process::Command::new(tollgate_e2e::gateway::binary())
        .args(["explain", "--config", path.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let offline: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(offline["refused"], v["refused"]);
    assert_eq!(offline["candidates"], v["candidates"]);
}

#[tokio::test]
async fn a_model_without_a_licence_is_refused_for_every_use() {
    let (cloud, local) = fakes().await;
    let cfg = config(&cloud.base_url(), &local.base_url(), "");
    assert!(cfg.contains(r#"llama = { licence = "llama3" } }"#));
    let cfg = cfg.replace(
        r#"llama = { licence = "llama3" } }"#,
        r#"llama = { licence = "llama3" }, mystery = {} }"#,
    );
    let gw = Gateway::start(&cfg);
    assert!(gw
        .stderr()
        .contains("local.models.mystery.licence is not set"));
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("local/mystery", "hi", false),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["refusals"][0]["rule"], "licence_missing");
    assert!(local.received().is_empty());
}
