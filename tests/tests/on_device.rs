//! The on-device backend through the real gateway: a GGUF model generated for the test, run by
//! llama.cpp inside the tollgate process, reached like any other backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use tollgate_e2e::client::{chat, TestClient};
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::{binary, start_failure, Gateway};

/// An on-device backend (the demo model, generated on first start) behind route `auto`,
/// after a closed API that only gets what its zone may receive.
fn config(cloud: &str, engine_extra: &str) -> String {
    Config::new()
        .backend("cloud", "external", cloud, &[("gpt", "openai-terms")])
        .on_device(
            "on-device",
            &[("demo", "Apache-2.0")],
            &format!("n_threads = 1, n_parallel = 2, n_ctx = 512{engine_extra}"),
        )
        .route("auto", &["cloud/gpt", "on-device/demo"])
        .route("local", &["on-device/demo"])
        .build()
}

fn greedy(stream: bool, max_tokens: u32) -> Value {
    let mut body = chat("local", "Tell me a story about a gateway.", stream);
    body["temperature"] = json!(0);
    body["max_tokens"] = json!(max_tokens);
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

#[tokio::test]
async fn answers_from_the_on_device_model_streamed_and_not() {
    let cloud = FakeOpenAi::start(Behavior::answer("cloud")).await;
    let gw = Gateway::start(&config(&cloud.base_url(), ""));
    assert!(
        gw.stderr().contains("RANDOM weights"),
        "the demo model is announced as random"
    );
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let whole = c.post_json(&url, &[], &greedy(false, 12)).await;
    assert_eq!(
        whole.status,
        200,
        "{}",
        String::from_utf8_lossy(&whole.body)
    );
    assert_eq!(whole.header("x-tollgate-backend"), Some("on-device"));
    let v = whole.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["usage"]["completion_tokens"], 12);
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    let text = v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!text.is_empty());

    let streamed = c.post_json(&url, &[], &greedy(true, 12)).await;
    assert_eq!(streamed.status, 200);
    assert_eq!(
        streamed.streamed_content(),
        text,
        "temperature 0: the same text either way"
    );
    let data = streamed.sse_data();
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let usage: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
    assert_eq!(usage["usage"]["completion_tokens"], 12);
    assert_eq!(usage["usage"]["prompt_tokens"], v["usage"]["prompt_tokens"]);
    assert!(cloud.received().is_empty());
}

#[tokio::test]
async fn a_secret_stays_on_device_while_its_twin_goes_to_the_closed_api() {
    let cloud = FakeOpenAi::start(Behavior::answer("from the cloud")).await;
    let gw = Gateway::start(&config(&cloud.base_url(), ""));
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let secret = "Why does boto fail with aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzK8Qp3Lm9T and key id AKIAZ3MHTP5XQ2LW7RDN?";
    let twin = "Why does boto fail with my AWS credentials?";
    let mut body = chat("auto", secret, false);
    body["max_tokens"] = json!(4);
    let r = c.post_json(&url, &[], &body).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-tollgate-backend"), Some("on-device"));
    assert_eq!(r.header("x-tollgate-data-class"), Some("restricted"));
    let mut body = chat("auto", twin, false);
    body["max_tokens"] = json!(4);
    let r = c.post_json(&url, &[], &body).await;
    assert_eq!(r.header("x-tollgate-backend"), Some("cloud"));
    let seen = cloud.received();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body["messages"][0]["content"], twin);
}

#[tokio::test]
async fn the_official_python_sdk_streams_from_the_on_device_route() {
    let cloud = FakeOpenAi::start(Behavior::answer("cloud")).await;
    let gw = Gateway::start(&config(&cloud.base_url(), ""));
    let script = r#"
import json, sys, openai
c = openai.OpenAI(base_url=sys.argv[1], api_key="x", max_retries=0)
m = [{"role": "user", "content": "hello"}]
r = c.chat.completions.create(model="local", messages=m, max_tokens=6, temperature=0)
parts = [ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
    model="local", messages=m, max_tokens=6, temperature=0, stream=True) if ch.choices]
print(json.dumps({"whole": r.choices[0].message.content, "streamed": "".join(parts),
                  "tokens": r.usage.completion_tokens}))
"#;
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(gw.url("/v1"))
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tokens"], 6);
    assert_eq!(v["whole"], v["streamed"]);
}

#[tokio::test]
async fn bad_requests_to_the_engine_are_clear_400s() {
    let cloud = FakeOpenAi::start(Behavior::answer("cloud")).await;
    let gw = Gateway::start(&config(&cloud.base_url(), ""));
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let mut body = chat("local", "hi", false);
    body["n"] = json!(2);
    let r = c.post_json(&url, &[], &body).await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    // A prompt longer than the context: the policy sees it cannot fit (400 with the reason).
    let long = "gateway ".repeat(3000);
    let r = c.post_json(&url, &[], &chat("local", &long, false)).await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("512"), "{msg}");
    // And it keeps serving.
    let mut ok = chat("local", "hi", false);
    ok["max_tokens"] = json!(2);
    assert_eq!(c.post_json(&url, &[], &ok).await.status, 200);
}

#[test]
fn a_model_file_that_does_not_match_its_sha256_or_is_truncated_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.gguf");
    let out = std::process::Command::new(binary())
        .args(["model", "synth", "--preset", "tiny", "--type", "q8_0", "-o"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = model.display().to_string();
    let wrong = "0".repeat(64);
    let (code, err) = start_failure(&config(
        "http://127.0.0.1:9/v1",
        &format!(", path = \"{p}\", sha256 = \"{wrong}\""),
    ));
    assert_eq!(code, Some(1));
    assert!(err.contains("SHA-256") && err.contains(&wrong), "{err}");
    let bytes = std::fs::read(&model).unwrap();
    let cut = dir.path().join("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (code, err) = start_failure(&config(
        "http://127.0.0.1:9/v1",
        &format!(", path = \"{}\"", cut.display()),
    ));
    assert_eq!(code, Some(1));
    assert!(err.to_lowercase().contains("truncated"), "{err}");
    let (code, err) = start_failure(&config(
        "http://127.0.0.1:9/v1",
        ", path = \"/nonexistent/m.gguf\"",
    ));
    assert_eq!(code, Some(1));
    assert!(err.contains("does not exist"), "{err}");
}

/// The on-device model first, a closed API second: a JSON answer the engine's grammar can
/// hold stays on the device; a schema no grammar expresses goes to the API, which enforces
/// schemas itself. On-device prices make cached prompt tokens visible in the ledger.
fn structured_config(cloud: &str) -> String {
    Config::new()
        .ledger("ledger.db")
        .price_with(
            "on-device/demo",
            1000.0,
            2000.0,
            "cached_input_per_mtok = 100.0",
        )
        .backend("cloud", "external", cloud, &[("gpt", "openai-terms")])
        .on_device(
            "on-device",
            &[("demo", "Apache-2.0")],
            "n_threads = 1, n_parallel = 1, n_ctx = 1024",
        )
        .route("device-first", &["on-device/demo", "cloud/gpt"])
        .route("local", &["on-device/demo"])
        .build()
}

fn with_format(route: &str, schema: Value) -> Value {
    let mut body = chat(route, "Describe a person.", false);
    body["max_tokens"] = json!(120);
    body["response_format"] =
        json!({"type": "json_schema", "json_schema": {"name": "p", "schema": schema}});
    body
}

#[tokio::test]
async fn structured_output_stays_on_device_when_a_grammar_holds_it() {
    let cloud = FakeOpenAi::start(Behavior::answer(r#"{"n":1}"#)).await;
    let gw = Gateway::start(&structured_config(&cloud.base_url()));
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let held = json!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 99}},
        "required": ["n"], "additionalProperties": false});
    let r = c
        .post_json(&url, &[], &with_format("device-first", held))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-tollgate-backend"), Some("on-device"));
    let content = r.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    let v: Value = serde_json::from_str(&content).unwrap();
    assert!(
        v["n"].as_i64().is_some_and(|n| (0..=99).contains(&n)),
        "{v}"
    );

    // `uniqueItems` is beyond a grammar: the closed API serves it, not a free-text answer.
    let beyond = json!({"type": "array", "items": {"type": "integer"}, "uniqueItems": true});
    let r = c
        .post_json(&url, &[], &with_format("device-first", beyond.clone()))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-tollgate-backend"), Some("cloud"));
    // With no backend that can hold it, a clear 400 names the rule.
    let r = c.post_json(&url, &[], &with_format("local", beyond)).await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    let body = String::from_utf8_lossy(&r.body).to_string();
    assert!(body.contains("capability_missing"), "{body}");
}

#[tokio::test]
async fn a_second_turn_reports_and_prices_cached_tokens() {
    let cloud = FakeOpenAi::start(Behavior::answer("cloud")).await;
    let gw = Gateway::start(&structured_config(&cloud.base_url()));
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let question = "the model and the gateway and the data ".repeat(20);
    let mut first = chat("local", &question, false);
    first["temperature"] = json!(0);
    first["max_tokens"] = json!(6);
    let r1 = c.post_json(&url, &[], &first).await;
    assert_eq!(r1.status, 200, "{}", String::from_utf8_lossy(&r1.body));
    let v1 = r1.json();
    let answer = v1["choices"][0]["message"]["content"].as_str().unwrap();
    let p1 = v1["usage"]["prompt_tokens"].as_u64().unwrap();
    assert_eq!(v1["usage"]["prompt_tokens_details"]["cached_tokens"], 0);

    let mut second = first.clone();
    second["messages"] = json!([
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "and then?"}
    ]);
    second["stream"] = json!(true);
    second["stream_options"] = json!({"include_usage": true});
    let r2 = c.post_json(&url, &[], &second).await;
    assert_eq!(r2.status, 200);
    let usage = r2.streamed_usage().expect("a usage chunk");
    let cached = usage["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    let p2 = usage["prompt_tokens"].as_u64().unwrap();
    assert!(cached >= p1 && cached < p2, "{usage}");

    let db = gw.dir.path().join("ledger.db");
    tollgate_e2e::ledger::wait_rows(&db, 2);
    let (row_cached, cost, completion): (i64, f64, i64) = tollgate_e2e::ledger::open(&db)
        .query_row(
            "SELECT cached_tokens, cost_usd, completion_tokens FROM requests \
             ORDER BY rowid DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(row_cached as u64, cached);
    // Cached tokens at the cached price, the rest at the input price.
    let want =
        ((p2 - cached) as f64 * 1000.0 + cached as f64 * 100.0 + completion as f64 * 2000.0) / 1e6;
    assert!((cost - want).abs() < 1e-9, "cost {cost}, expected {want}");
}
