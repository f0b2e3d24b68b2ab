//! Anthropic, Gemini and Azure OpenAI backends through the real binary, against fakes that speak
//! each vendor's wire format: configured from the README's keys, reached with the vendor's own
//! credentials, failed over between vendors, kept away from sensitive prompts, priced with
//! cache writes, listed in `/v1/models`, and driven by the official OpenAI SDKs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use tollgate_e2e::client::{chat, TestClient};
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::Gateway;
use tollgate_e2e::ledger;

fn weather() -> Behavior {
    Behavior::Tools {
        name: "get_weather".into(),
        arguments: r#"{"city":"Oslo"}"#.into(),
        reply: "Done".into(),
    }
}

/// Four vendors and a local server. `busy` is an Anthropic backend that is overloaded.
struct Vendors {
    busy: FakeOpenAi,
    claude: FakeOpenAi,
    gemini: FakeOpenAi,
    azure: FakeOpenAi,
    local: FakeOpenAi,
    gw: Gateway,
}

async fn vendors(extra: &str) -> Vendors {
    let busy = FakeOpenAi::start(Behavior::Status {
        status: 529,
        retry_after: None,
    })
    .await;
    let claude = FakeOpenAi::start(weather()).await;
    let gemini = FakeOpenAi::start(weather()).await;
    let azure = FakeOpenAi::start(weather()).await;
    let local = FakeOpenAi::start(weather()).await;
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[backends.busy]
kind = "anthropic"
base_url = "{busy}"
api_key_env = "ANTHROPIC_KEY"
models = {{ "claude-x" = {{ licence = "anthropic-terms" }} }}

[backends.claude]
kind = "anthropic"
base_url = "{claude}"
api_key_env = "ANTHROPIC_KEY"
beta = ["prompt-caching-2024-07-31"]
max_tokens = 333
models = {{ "claude-x" = {{ licence = "anthropic-terms", context_window = 200000, multimodal = true }} }}

[backends.gemini]
kind = "gemini"
base_url = "{gemini}/v1beta"
api_key_env = "GEMINI_KEY"
models = {{ "gemini-x" = {{ licence = "gemini-api-terms" }} }}

[backends.azure]
kind = "azure_openai"
base_url = "{azure}"
api_version = "2024-10-21"
api_key_env = "AZURE_KEY"
models = {{ "gpt-x" = {{ licence = "openai-terms", deployment = "prod-x" }} }}

[backends.local]
kind = "openai"
zone = "local"
base_url = "{local}/v1"
models = {{ "qwen" = {{ licence = "Apache-2.0" }} }}

[routes.failover]
candidates = ["busy/claude-x", "gemini/gemini-x", "local/qwen"]

[routes.claude]
candidates = ["claude/claude-x"]

[routes.everyone]
candidates = ["claude/claude-x", "gemini/gemini-x", "azure/gpt-x", "local/qwen"]

[ledger]
path = "ledger.db"

[prices.models."claude/claude-x"]
input_per_mtok = 3.0
output_per_mtok = 15.0
cached_input_per_mtok = 0.3
cache_write_input_per_mtok = 3.75
{extra}
"#,
        busy = busy.root_url() + "/v1",
        claude = claude.root_url() + "/v1",
        gemini = gemini.root_url(),
        azure = azure.root_url(),
        local = local.root_url(),
    );
    let gw = Gateway::start_with_env(
        &config,
        &[
            ("ANTHROPIC_KEY", "sk-ant-1"),
            ("GEMINI_KEY", "g-1"),
            ("AZURE_KEY", "az-1"),
        ],
    );
    Vendors {
        busy,
        claude,
        gemini,
        azure,
        local,
        gw,
    }
}

async fn sdk(program: &str, script: &str, gw: &Gateway, route: &str) -> Value {
    tollgate_e2e::sdk::run(program, script, &[gw.url("/v1"), route.to_string()]).await
}

fn check_sdk(v: &Value, backend: &str) {
    assert_eq!(v["backend"], backend, "{v}");
    assert_eq!(v["finish_reason"], "tool_calls", "{v}");
    assert_eq!(v["tool"], "get_weather");
    assert_eq!(v["arguments"], json!({"city": "Oslo"}));
    assert_eq!(v["answer"], "Done tool said: 12C and rain");
    // System (3 words), question (6) and the tool's result (3), as the vendor counted them.
    assert_eq!(v["prompt_tokens"], 12, "{v}");
    assert_eq!(v["streamed_tool"], "get_weather");
    assert_eq!(v["streamed_arguments"], json!({"city": "Oslo"}));
    assert_eq!(v["streamed_finish_reason"], "tool_calls");
    assert_eq!(v["streamed_prompt_tokens"], 9, "{v}");
}

#[tokio::test]
async fn the_openai_sdks_reach_claude_and_gemini_with_tools_and_fail_over_between_them() {
    let v = vendors("").await;
    for (program, script) in [
        ("python3", "openai_vendors.py"),
        ("node", "openai_vendors.mjs"),
    ] {
        // Anthropic is overloaded (529): every call fails over to Gemini before any byte.
        check_sdk(&sdk(program, script, &v.gw, "failover").await, "gemini");
        check_sdk(&sdk(program, script, &v.gw, "claude").await, "claude");
    }
    assert!(
        !v.busy.received().is_empty(),
        "the overloaded vendor was tried"
    );
    assert!(v.local.received().is_empty(), "Gemini served before local");
    // Each vendor got its own credential and headers, from the config and the environment.
    let c = &v.claude.received()[0];
    assert_eq!(c.uri, "/v1/messages");
    assert_eq!(c.header("x-api-key"), Some("sk-ant-1"));
    assert_eq!(c.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        c.header("anthropic-beta"),
        Some("prompt-caching-2024-07-31")
    );
    assert_eq!(
        c.authorization, None,
        "the client's key never leaves the gateway"
    );
    assert_eq!(c.body["max_tokens"], 333, "the configured default limit");
    assert_eq!(c.body["system"], "You answer briefly.");
    let g = &v.gemini.received()[0];
    assert_eq!(g.uri, "/v1beta/models/gemini-x:generateContent");
    assert_eq!(g.header("x-goog-api-key"), Some("g-1"));
    assert_eq!(
        g.body["systemInstruction"]["parts"][0]["text"],
        "You answer briefly."
    );
}

#[tokio::test]
async fn a_sensitive_prompt_never_reaches_any_vendor() {
    let v = vendors("").await;
    let iban = "Please pay DE84 5001 0517 5498 7654 32 today.";
    for stream in [false, true] {
        let r = TestClient::new()
            .post_json(
                &v.gw.url("/v1/chat/completions"),
                &[],
                &chat("everyone", iban, stream),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("x-tollgate-backend"), Some("local"));
    }
    for (name, fake) in [
        ("claude", &v.claude),
        ("gemini", &v.gemini),
        ("azure", &v.azure),
    ] {
        assert!(fake.received().is_empty(), "{name} received the prompt");
    }
    assert_eq!(v.local.received().len(), 2);
    // A harmless prompt goes to the first vendor, which is how the route is ordered.
    v.gw.assert_served_by("everyone", false, "claude", "Done tool said: hi")
        .await;
}

#[tokio::test]
async fn azure_deployments_and_the_model_list() {
    let v = vendors("").await;
    let r = TestClient::new()
        .post_json(
            &v.gw.url("/v1/chat/completions"),
            &[],
            &chat("azure/gpt-x", "hi", true),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.answer(true), "Done tool said: hi");
    let a = &v.azure.received()[0];
    assert_eq!(
        a.uri,
        "/openai/deployments/prod-x/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(a.header("api-key"), Some("az-1"));
    let models = TestClient::new()
        .get(&v.gw.url("/v1/models"), &[])
        .await
        .json();
    let find = |id: &str| {
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not listed: {models}"))
    };
    for (id, kind, licence) in [
        ("claude/claude-x", "anthropic", "anthropic-terms"),
        ("gemini/gemini-x", "gemini", "gemini-api-terms"),
        ("azure/gpt-x", "azure_openai", "openai-terms"),
    ] {
        let m = find(id);
        assert_eq!(m["tollgate"]["kind"], kind, "{m}");
        assert_eq!(m["tollgate"]["zone"], "external", "{m}");
        assert_eq!(m["tollgate"]["licence"], licence, "{m}");
        assert_eq!(m["tollgate"]["capabilities"]["tools"], true, "{m}");
    }
    let c = find("claude/claude-x");
    assert_eq!(c["tollgate"]["capabilities"]["context_window"], 200000);
    assert_eq!(c["tollgate"]["capabilities"]["multimodal"], true);
}

#[tokio::test]
async fn cache_writes_and_reads_are_recorded_and_priced() {
    let v = vendors("").await;
    v.claude
        .set_behavior(Behavior::answer("cached answer here"));
    v.claude.set_cache_tokens(4, 2);
    let r = TestClient::new()
        .post_json(
            &v.gw.url("/v1/chat/completions"),
            &[],
            &chat("claude", "one two three four five six seven eight", false),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let u = &r.json()["usage"];
    assert_eq!(u["prompt_tokens"], 8);
    assert_eq!(u["prompt_tokens_details"]["cached_tokens"], 2);
    let db = v.gw.dir.path().join("ledger.db");
    ledger::wait_rows(&db, 1);
    let (prompt, cached, written, cost): (i64, i64, i64, f64) = ledger::open(&db)
        .query_row(
            "SELECT prompt_tokens, cached_tokens, cache_write_tokens, cost_usd FROM requests",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!((prompt, cached, written), (8, 2, 4));
    // 2 × 3.0 + 2 × 0.3 + 4 × 3.75 + 3 × 15.0 = 66.6 per million tokens.
    assert!((cost - 66.6e-6).abs() < 1e-12, "{cost}");
}

#[tokio::test]
async fn a_blocked_prompt_is_a_clear_error_and_fails_over_only_when_the_route_says_so() {
    let extra = r#"
[routes.strict]
candidates = ["gemini/gemini-x", "local/qwen"]

[routes.lenient]
candidates = ["gemini/gemini-x", "local/qwen"]
fail_over_on_block = true
"#;
    let v = vendors(extra).await;
    v.gemini.set_behavior(Behavior::Blocked);
    for stream in [false, true] {
        let r = TestClient::new()
            .post_json(
                &v.gw.url("/v1/chat/completions"),
                &[],
                &chat("strict", "hi", stream),
            )
            .await;
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(
            r.json()["error"]["code"],
            "content_blocked",
            "stream={stream}"
        );
    }
    assert!(
        v.local.received().is_empty(),
        "a block does not fail over by default"
    );
    v.gw.assert_served_by("lenient", false, "local", "Done tool said: hi")
        .await;
}

#[tokio::test]
async fn a_messages_client_reaches_an_anthropic_backend_with_its_own_headers() {
    let v = vendors("").await;
    v.claude.set_behavior(Behavior::answer("Bonjour"));
    let body = json!({"model": "claude", "max_tokens": 50,
        "messages": [{"role": "user", "content": "Say hello in French."}]});
    for stream in [false, true] {
        let mut body = body.clone();
        body["stream"] = json!(stream);
        let r = TestClient::new()
            .post_json(
                &v.gw.url("/v1/messages"),
                &[
                    ("anthropic-version", "2023-06-01"),
                    ("anthropic-beta", "interleaved-thinking-2025-05-14"),
                ],
                &body,
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        if stream {
            let events = r.sse_events();
            assert_eq!(events.first().unwrap().0, "message_start");
            assert_eq!(events.last().unwrap().0, "message_stop");
        } else {
            assert_eq!(r.json()["content"][0]["text"], "Bonjour");
        }
    }
    for got in v.claude.received() {
        assert_eq!(got.header("anthropic-version"), Some("2023-06-01"));
        assert_eq!(
            got.header("anthropic-beta"),
            Some("prompt-caching-2024-07-31,interleaved-thinking-2025-05-14"),
            "the client's beta features join the configured ones"
        );
        assert_eq!(got.body["max_tokens"], 50);
    }
}
