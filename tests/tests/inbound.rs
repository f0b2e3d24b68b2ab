//! The Anthropic Messages API and the OpenAI Responses API inbound, through the real binary:
//! translated to chat completions for any backend, answered in the client's own protocol,
//! whole and streamed, with tools; errors in the client's shape; the same rules and the same
//! ledger as chat completions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use tollgate_e2e::client::{Response, TestClient};
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::Gateway;
use tollgate_e2e::ledger;

/// `cloud` (external, a model that calls the tool `weather`) before `local`, behind route
/// `coder`, which Claude-style and GPT-style model names also reach.
async fn setup() -> (FakeOpenAi, FakeOpenAi, Gateway) {
    let cloud = FakeOpenAi::start(Behavior::Tools {
        name: "weather".into(),
        arguments: r#"{"city":"Paris"}"#.into(),
        reply: "Sunny.".into(),
    })
    .await;
    let local = FakeOpenAi::start(Behavior::answer("From the local model")).await;
    let config = Config::new()
        .backend(
            "cloud",
            "external",
            &cloud.base_url(),
            &[("m", "openai-terms")],
        )
        .backend("local", "local", &local.base_url(), &[("m", "Apache-2.0")])
        .route_with(
            "coder",
            &["cloud/m", "local/m"],
            r#"aliases = ["claude-*", "gpt-5*"]"#,
        )
        .ledger("ledger.db")
        .build();
    let gw = Gateway::start(&config);
    (cloud, local, gw)
}

fn weather_tool_anthropic() -> Value {
    json!({"name": "weather", "description": "The forecast", "input_schema": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}})
}

fn messages(stream: bool, turns: Value) -> Value {
    json!({
        "model": "claude-sonnet-4-5", "max_tokens": 200, "stream": stream,
        "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        "messages": turns, "tools": [weather_tool_anthropic()],
    })
}

async fn post(gw: &Gateway, path: &str, body: &Value) -> Response {
    TestClient::new()
        .post_json(&gw.url(path), &[("anthropic-version", "2023-06-01")], body)
        .await
}

#[tokio::test]
async fn messages_with_tools_whole_and_streamed() {
    let (cloud, _local, gw) = setup().await;
    let first = json!([{"role": "user", "content": "Weather in Paris?"}]);
    let r = post(
        &gw,
        "/v1/messages?beta=true",
        &messages(false, first.clone()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("x-tollgate-route"),
        Some("coder"),
        "the alias mapped the name"
    );
    let v = r.json();
    assert_eq!(v["type"], "message");
    assert_eq!(v["model"], "claude-sonnet-4-5");
    assert_eq!(v["stop_reason"], "tool_use");
    let call = &v["content"][0];
    assert_eq!(call["type"], "tool_use");
    assert_eq!(call["name"], "weather");
    assert_eq!(call["input"], json!({"city": "Paris"}));
    assert_eq!(v["usage"]["output_tokens"], 3);

    // What the backend received: a chat request with the system prompt and the tool.
    let sent = &cloud.received()[0].body;
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "You are terse."})
    );
    assert_eq!(sent["tools"][0]["function"]["name"], "weather");
    assert_eq!(sent["max_tokens"], 200);

    // The second turn carries the tool result back.
    let second = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [call.clone()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "18C"}]}
    ]);
    let r = post(&gw, "/v1/messages", &messages(false, second.clone())).await;
    let v = r.json();
    assert_eq!(v["content"][0]["text"], "Sunny. tool said: 18C");
    assert_eq!(v["stop_reason"], "end_turn");
    let sent = &cloud.received()[1].body;
    assert_eq!(
        sent["messages"][2]["tool_calls"][0]["function"]["arguments"],
        r#"{"city":"Paris"}"#
    );
    assert_eq!(sent["messages"][3]["role"], "tool");

    // Streamed: the tool call is a tool_use block whose input arrives as JSON deltas.
    let r = post(&gw, "/v1/messages", &messages(true, first)).await;
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let events = r.sse_events();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    for (name, data) in &events {
        assert_eq!(
            data["type"],
            name.as_str(),
            "each event line names its data"
        );
    }
    assert_eq!(events[2].1["content_block"]["type"], "tool_use");
    let json: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&json).unwrap(),
        json!({"city": "Paris"})
    );
    assert_eq!(events[6].1["delta"]["stop_reason"], "tool_use");
    assert_eq!(events[6].1["usage"]["output_tokens"], 3);

    let r = post(&gw, "/v1/messages", &messages(true, second)).await;
    let text: String = r
        .sse_events()
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, "Sunny. tool said: 18C");
}

fn responses_body(stream: bool, input: Value) -> Value {
    json!({
        "model": "coder", "stream": stream, "store": false,
        "instructions": "You are terse.",
        "input": input,
        "tools": [
            {"type": "function", "name": "weather", "description": "The forecast", "parameters": {
                "type": "object", "properties": {"city": {"type": "string"}}}, "strict": false},
            {"type": "web_search"}
        ],
        "include": ["reasoning.encrypted_content"], "reasoning": {"effort": "low"},
    })
}

#[tokio::test]
async fn responses_with_tools_whole_and_streamed() {
    let (cloud, _local, gw) = setup().await;
    let input = json!([{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]}]);
    let r = post(&gw, "/v1/responses", &responses_body(false, input.clone())).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-tollgate-tools-dropped"), Some("web_search"));
    let v = r.json();
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    let call = &v["output"][0];
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["name"], "weather");
    assert_eq!(call["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(v["usage"]["output_tokens"], 3);
    let sent = &cloud.received()[0].body;
    assert_eq!(sent["messages"][0]["role"], "system");
    assert_eq!(
        sent["tools"].as_array().unwrap().len(),
        1,
        "the built-in tool is not sent"
    );

    let mut turn2 = input.as_array().unwrap().clone();
    turn2.push(json!({"type": "function_call", "call_id": call["call_id"], "name": "weather", "arguments": call["arguments"]}));
    turn2
        .push(json!({"type": "function_call_output", "call_id": call["call_id"], "output": "18C"}));
    let r = post(&gw, "/v1/responses", &responses_body(true, json!(turn2))).await;
    let events = r.sse_events();
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], i as u64);
    }
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"response.created"));
    assert_eq!(names.last(), Some(&"response.completed"));
    assert!(names.contains(&"response.output_item.done"));
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(text, "Sunny. tool said: 18C");
    let done = &events.last().unwrap().1["response"];
    assert_eq!(
        done["output"][0]["content"][0]["text"],
        "Sunny. tool said: 18C"
    );
    assert_eq!(
        done["usage"]["total_tokens"],
        done["usage"]["input_tokens"].as_u64().unwrap() + 3
    );
}

#[tokio::test]
async fn errors_come_in_the_clients_shape() {
    let (_cloud, _local, gw) = setup().await;
    let r = post(
        &gw,
        "/v1/messages",
        &json!({"model": "coder", "max_tokens": 5, "messages": [{"role": "tool", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("messages.0.role"));

    let r = post(
        &gw,
        "/v1/messages",
        &json!({"model": "nope", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["type"], "not_found_error");

    let r = post(&gw, "/v1/messages", &json!({"model": "coder", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "temperature": "hot"})).await;
    assert_eq!(
        r.status, 400,
        "the chat schema still checks translated values"
    );
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");

    let r = post(
        &gw,
        "/v1/responses",
        &json!({"model": "coder", "input": "x", "previous_response_id": "resp_1"}),
    )
    .await;
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["error"]["param"], "previous_response_id");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("stateless"));

    let r = TestClient::new().get(&gw.url("/v1/messages"), &[]).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["type"], "error");
}

#[tokio::test]
async fn sensitive_prompts_stay_local_on_every_protocol_and_every_request_is_recorded() {
    let (cloud, local, gw) = setup().await;
    let secret = "Please email the contract to dana.whitfield@kestrel-insurance.co.uk today.";
    let r = post(
        &gw,
        "/v1/messages",
        &json!({"model": "claude-haiku-4-5", "max_tokens": 20,
        "messages": [{"role": "user", "content": [{"type": "text", "text": secret}]}]}),
    )
    .await;
    assert_eq!(r.header("x-tollgate-backend"), Some("local"));
    assert_eq!(r.json()["content"][0]["text"], "From the local model");
    let r = post(
        &gw,
        "/v1/responses",
        &json!({"model": "gpt-5.5", "stream": true, "store": false,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": secret}]}]}),
    )
    .await;
    assert_eq!(r.header("x-tollgate-backend"), Some("local"));
    let text: String = r
        .sse_events()
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(text, "From the local model");
    assert!(
        cloud.received().is_empty(),
        "nothing reached the closed API"
    );
    assert_eq!(local.received().len(), 2);

    // One plain request per protocol as well, and a refused one: every request has its row,
    // with its endpoint.
    let ok = post(&gw, "/v1/messages", &json!({"model": "coder", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})).await;
    assert_eq!(ok.status, 200);
    let bad = post(
        &gw,
        "/v1/responses",
        &json!({"model": "coder", "input": "x", "store": true}),
    )
    .await;
    assert_eq!(bad.status, 400);
    let db = gw.dir.path().join("ledger.db");
    ledger::wait_rows(&db, 4);
    let conn = ledger::open(&db);
    let rows: Vec<(String, String, String, Option<String>, String)> = conn
        .prepare(
            "SELECT endpoint, route, data_class, backend, detected_kinds FROM requests ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows[0].0, "messages");
    assert_eq!(
        rows[0].1, "coder",
        "the route is recorded, not the client's model name"
    );
    assert_eq!(rows[0].2, "confidential");
    assert_eq!(rows[0].3.as_deref(), Some("local"));
    assert_eq!(rows[0].4, "email");
    assert_eq!(rows[1].0, "responses");
    assert_eq!(rows[1].3.as_deref(), Some("local"));
    assert_eq!(rows[2].0, "messages");
    assert_eq!(rows[2].3.as_deref(), Some("cloud"));
    assert_eq!(rows[3].0, "responses");
    let verified = std::process::Command::new(tollgate_e2e::gateway::binary())
        .args(["audit", "verify", "--ledger"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "the chain holds: {}",
        String::from_utf8_lossy(&verified.stdout)
    );
}

#[tokio::test]
async fn count_tokens_estimates_for_an_http_backend_and_says_so() {
    let (cloud, _local, gw) = setup().await;
    let r = post(
        &gw,
        "/v1/messages/count_tokens",
        &json!({"model": "claude-opus-4-1",
        "messages": [{"role": "user", "content": "one two three four five six seven eight"}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert!(v["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(v["tollgate"]["source"], "estimate");
    assert_eq!(v["tollgate"]["model"], "cloud/m");
    assert!(
        cloud.received().is_empty(),
        "counting sends nothing anywhere"
    );
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_the_protocols_error_event_and_is_counted() {
    let cut = FakeOpenAi::start(Behavior::CutAfter { events: 2 }).await;
    let config = Config::new()
        .server("admin_listen = \"127.0.0.1:0\"")
        .backend("cut", "local", &cut.base_url(), &[("m", "Apache-2.0")])
        .route("coder", &["cut/m"])
        .build();
    let gw = Gateway::start(&config);
    let r = post(
        &gw,
        "/v1/messages",
        &json!({"model": "coder", "max_tokens": 20, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    let events = r.sse_events();
    assert_eq!(events[0].0, "message_start");
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error", "{events:?}");
    assert_eq!(data["error"]["type"], "api_error");
    assert!(
        !events.iter().any(|(n, _)| n == "message_stop"),
        "a cut stream does not claim to be whole"
    );

    let r = post(
        &gw,
        "/v1/responses",
        &json!({"model": "coder", "stream": true, "store": false, "input": "hi"}),
    )
    .await;
    let events = r.sse_events();
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "response.failed", "{events:?}");
    assert_eq!(data["response"]["status"], "failed");
    assert_eq!(data["response"]["error"]["code"], "upstream_stream_failed");

    // The metrics say which endpoint each request came in on.
    let admin = gw.admin.expect("admin listener");
    let mut metrics = String::new();
    for _ in 0..50 {
        let r = TestClient::new()
            .get(&format!("http://{admin}/metrics"), &[])
            .await;
        metrics = String::from_utf8_lossy(&r.body).to_string();
        if metrics.contains("endpoint=\"responses\"") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for endpoint in ["messages", "responses"] {
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with("tollgate_requests_total")
                    && l.contains(&format!("endpoint=\"{endpoint}\""))
            })
            .unwrap_or_else(|| panic!("no {endpoint} series:\n{metrics}"));
        assert!(line.contains("outcome=\"cut_off\""), "{line}");
        assert!(line.ends_with(" 1"), "{line}");
    }
}

#[tokio::test]
async fn count_tokens_uses_the_on_device_tokenizer_and_matches_the_completions_usage() {
    let config = Config::new()
        .extra(
            r#"[backends.on-device]
kind = "on_device"
models = { demo = { licence = "Apache-2.0" } }
engine = { n_threads = 1, n_parallel = 1, n_ctx = 512 }
"#,
        )
        .route_with("device", &["on-device/demo"], r#"aliases = ["claude-*"]"#)
        .build();
    let gw = Gateway::start(&config);
    let turns =
        json!([{"role": "user", "content": "Count the tokens of this short question, please."}]);
    let r = post(
        &gw,
        "/v1/messages/count_tokens",
        &json!({"model": "claude-haiku-4-5",
        "system": "Be brief.", "messages": turns}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["tollgate"]["source"], "tokenizer");
    let counted = v["input_tokens"].as_u64().unwrap();
    let r = post(
        &gw,
        "/v1/messages",
        &json!({"model": "claude-haiku-4-5", "max_tokens": 4,
        "system": "Be brief.", "messages": turns}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let usage = &r.json()["usage"];
    assert_eq!(
        usage["input_tokens"], counted,
        "the count is what the model is then given"
    );
    assert_eq!(usage["output_tokens"], 4);
}

#[tokio::test]
async fn tenants_authenticate_with_the_header_each_client_sends() {
    let local = FakeOpenAi::start(Behavior::answer("ok")).await;
    let config = Config::new()
        .backend("local", "local", &local.base_url(), &[("m", "Apache-2.0")])
        .route("coder", &["local/m"])
        .extra(&format!(
            "[tenants.acme]\nuse = \"commercial\"\napi_key_sha256 = [\"{}\"]\n",
            tollgate_e2e::gateway::sha256_hex("acme-key")
        ))
        .build();
    let gw = Gateway::start(&config);
    let c = TestClient::new();
    let body =
        json!({"model": "coder", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let url = gw.url("/v1/messages");
    // Anthropic's SDKs send x-api-key; Claude Code with ANTHROPIC_AUTH_TOKEN sends a bearer.
    for header in [
        ("x-api-key", "acme-key"),
        ("authorization", "Bearer acme-key"),
    ] {
        let r = c.post_json(&url, &[header], &body).await;
        assert_eq!(
            r.status,
            200,
            "{header:?}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    for headers in [vec![], vec![("x-api-key", "wrong")]] {
        let r = c.post_json(&url, &headers, &body).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.json()["error"]["type"], "authentication_error");
    }
    let r = c
        .post_json(
            &gw.url("/v1/responses"),
            &[("authorization", "Bearer acme-key")],
            &json!({"model": "coder", "input": "hi"}),
        )
        .await;
    assert_eq!(r.status, 200);
}
