//! Anthropic Messages.

use super::{events, post, Reply, ANTHROPIC};
use crate::fake_openai::{Behavior, FakeOpenAi};
use serde_json::{json, Value};

fn ask(stream: bool) -> Value {
    json!({"model": "claude-x", "max_tokens": 100, "stream": stream,
           "system": [{"type": "text", "text": "Be brief."}],
           "messages": [{"role": "user", "content": "say three words"}]})
}

async fn messages(fake: &FakeOpenAi, body: &Value) -> Reply {
    post(fake, "/v1/messages", &ANTHROPIC, body).await
}

/// The stream's events, checking that each `event:` names its data's `type`.
fn typed(reply: &Reply) -> Vec<Value> {
    events(&reply.text())
        .into_iter()
        .map(|(name, data)| {
            let v: Value = serde_json::from_str(&data).expect("JSON data");
            assert_eq!(name.as_deref(), v["type"].as_str(), "{data}");
            v
        })
        .collect()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn gates_like_the_api() {
    let fake = FakeOpenAi::start(Behavior::answer("hi")).await;
    let r = post(
        &fake,
        "/v1/messages",
        &[("anthropic-version", "2023-06-01")],
        &ask(false),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["type"], "error");
    assert_eq!(r.json()["error"]["type"], "authentication_error");
    let r = post(&fake, "/v1/messages", &[("x-api-key", "k")], &ask(false)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    let bad = [
        json!({"model": "c", "messages": [{"role": "user", "content": "x"}]}),
        json!({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}, {"role": "user", "content": "y"}]}),
        json!({"model": "c", "max_tokens": 5, "messages": [{"role": "assistant", "content": "x"}]}),
        json!({"model": "c", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}),
        json!({"model": "c", "max_tokens": 5, "temperature": 1.5, "messages": [{"role": "user", "content": "x"}]}),
        json!({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}]}),
        json!({"model": "c", "max_tokens": 5, "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {"role": "user", "content": "no result"}]}),
        json!({"model": "c", "max_tokens": 5, "messages": [
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t9", "content": "r"}]}]}),
        json!({"model": "c", "max_tokens": 5, "tools": [{"name": "f", "parameters": {}}], "messages": [{"role": "user", "content": "x"}]}),
    ];
    for body in bad {
        let r = messages(&fake, &body).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json()["error"]["type"], "invalid_request_error", "{body}");
    }
    let roles = messages(&fake, &json!({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}, {"role": "user", "content": "y"}]})).await;
    assert!(roles.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("roles must alternate"));
}

#[tokio::test]
async fn whole_answer() {
    let fake = FakeOpenAi::start(Behavior::answer("one two three")).await;
    fake.set_cache_tokens(1, 2);
    let r = messages(&fake, &ask(false)).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({
            "id": "msg_01FakeUpstreamMessage", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [{"type": "text", "text": "one two three"}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 2, "output_tokens": 3, "cache_creation_input_tokens": 1, "cache_read_input_tokens": 2},
        })
    );
    let counted = post(&fake, "/v1/messages/count_tokens", &ANTHROPIC, &ask(false))
        .await
        .json();
    assert_eq!(counted, json!({"input_tokens": 5}));
}

#[tokio::test]
async fn stream_event_sequence() {
    let fake = FakeOpenAi::start(Behavior::answer("one two three")).await;
    let r = messages(&fake, &ask(true)).await;
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert!(!r.text().contains("[DONE]"));
    let ev = typed(&r);
    assert_eq!(
        kinds(&ev),
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let start = &ev[0]["message"];
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["stop_reason"], Value::Null);
    assert_eq!(start["usage"]["input_tokens"], 5);
    assert_eq!(start["usage"]["output_tokens"], 1);
    let text: String = ev[3..6]
        .iter()
        .map(|e| e["delta"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "one two three");
    assert_eq!(ev[3]["delta"]["type"], "text_delta");
    assert_eq!(ev[7]["delta"]["stop_reason"], "end_turn");
    assert_eq!(ev[7]["usage"]["output_tokens"], 3);
}

#[tokio::test]
async fn error_statuses() {
    for (status, kind) in [
        (529, "overloaded_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (401, "authentication_error"),
        (400, "invalid_request_error"),
    ] {
        let fake = FakeOpenAi::start(Behavior::Status {
            status,
            retry_after: Some(7),
        })
        .await;
        let r = messages(&fake, &ask(true)).await;
        assert_eq!(r.status, status);
        assert_eq!(r.json()["type"], "error");
        assert_eq!(r.json()["error"]["type"], kind);
        assert_eq!(r.header("retry-after"), Some("7"));
    }
}

#[tokio::test]
async fn stream_faults() {
    let fake = FakeOpenAi::start(Behavior::StreamError { events: 2 }).await;
    let ev = typed(&messages(&fake, &ask(true)).await);
    assert_eq!(
        kinds(&ev),
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(ev[5]["error"]["type"], "overloaded_error");

    fake.set_behavior(Behavior::CutAfter { events: 1 });
    assert!(messages(&fake, &ask(true)).await.body.is_err());

    fake.set_behavior(Behavior::EndWithoutDone { events: 2 });
    let ev = typed(&messages(&fake, &ask(true)).await);
    assert!(!kinds(&ev).contains(&"message_stop"));
}

#[tokio::test]
async fn tools_round_trip() {
    let fake = FakeOpenAi::start(Behavior::Tools {
        name: "weather".into(),
        arguments: r#"{"city":"Paris","unit":"C"}"#.into(),
        reply: "Done.".into(),
    })
    .await;
    let tools =
        json!([{"name": "weather", "description": "d", "input_schema": {"type": "object"}}]);
    let mut body = ask(false);
    body["tools"] = tools.clone();
    let r = messages(&fake, &body).await.json();
    assert_eq!(r["stop_reason"], "tool_use");
    assert_eq!(
        r["content"][0],
        json!({"type": "tool_use", "id": "toolu_fake1", "name": "weather", "input": {"city": "Paris", "unit": "C"}})
    );
    assert_eq!(r["usage"]["output_tokens"], 3);

    body["stream"] = json!(true);
    let ev = typed(&messages(&fake, &body).await);
    assert_eq!(ev[1]["content_block"]["type"], "tool_use");
    let fragments: Vec<&str> = ev
        .iter()
        .filter(|e| e["delta"]["type"] == "input_json_delta")
        .map(|e| e["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert!(fragments.iter().filter(|f| !f.is_empty()).count() >= 2);
    let input: Value = serde_json::from_str(&fragments.concat()).unwrap();
    assert_eq!(input, json!({"city": "Paris", "unit": "C"}));
    assert_eq!(ev[ev.len() - 2]["delta"]["stop_reason"], "tool_use");

    let mut after = ask(false);
    after["tools"] = tools;
    after["messages"] = json!([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_fake1", "name": "weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_fake1", "content": [{"type": "text", "text": "sunny"}]}]},
    ]);
    let r = messages(&fake, &after).await.json();
    assert_eq!(r["content"][0]["text"], "Done. tool said: sunny");
    assert_eq!(r["stop_reason"], "end_turn");
}

#[tokio::test]
async fn blocked_is_a_refusal() {
    let fake = FakeOpenAi::start(Behavior::Blocked).await;
    let r = messages(&fake, &ask(false)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["stop_reason"], "refusal");
    let ev = typed(&messages(&fake, &ask(true)).await);
    assert_eq!(ev[ev.len() - 2]["delta"]["stop_reason"], "refusal");
    assert_eq!(ev[ev.len() - 2]["usage"]["output_tokens"], 0);
}

#[tokio::test]
async fn honours_max_tokens_and_stop_sequences_when_asked() {
    let fake = FakeOpenAi::start(Behavior::answer("one two three four")).await;
    fake.set_honor_max_tokens(true);
    fake.set_honor_stop_sequences(true);
    let mut body = ask(false);
    body["max_tokens"] = json!(2);
    let r = messages(&fake, &body).await.json();
    assert_eq!(r["content"][0]["text"], "one two ");
    assert_eq!(r["stop_reason"], "max_tokens");
    assert_eq!(r["usage"]["output_tokens"], 2);
    body["stream"] = json!(true);
    let ev = typed(&messages(&fake, &body).await);
    assert_eq!(ev[ev.len() - 2]["delta"]["stop_reason"], "max_tokens");

    let mut body = ask(false);
    body["stop_sequences"] = json!(["three"]);
    let r = messages(&fake, &body).await.json();
    assert_eq!(r["content"][0]["text"], "one two ");
    assert_eq!(r["stop_reason"], "stop_sequence");
    assert_eq!(r["stop_sequence"], "three");
}
