//! OpenAI and Azure OpenAI.

use super::{data_json, post};
use crate::fake_openai::{Behavior, FakeOpenAi};
use serde_json::json;

fn chat(stream: bool) -> serde_json::Value {
    json!({"model": "gpt-x", "max_tokens": 2, "stream": stream, "stream_options": {"include_usage": true},
           "messages": [{"role": "user", "content": "say three words"}]})
}

#[tokio::test]
async fn answers_as_it_always_did() {
    let fake = FakeOpenAi::start(Behavior::answer("one two three")).await;
    let r = post(&fake, "/v1/chat/completions", &[], &chat(false)).await;
    assert_eq!(
        r.json(),
        json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-x",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "one two three"}, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
        })
    );
    let r = post(&fake, "/v1/chat/completions", &[], &chat(true)).await;
    let text = r.text();
    assert!(text.ends_with("data: [DONE]\n\n"));
    let chunks = data_json(&text);
    assert_eq!(chunks.len(), 6, "role, three words, finish, usage");
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[5]["usage"]["total_tokens"], 6);
    assert!(chunks[5].get("prompt_tokens_details").is_none());
}

#[tokio::test]
async fn honours_max_tokens_and_reports_cached_tokens_when_asked() {
    let fake = FakeOpenAi::start(Behavior::answer("one two three")).await;
    fake.set_honor_max_tokens(true);
    fake.set_cache_tokens(5, 2);
    let r = post(&fake, "/v1/chat/completions", &[], &chat(false))
        .await
        .json();
    assert_eq!(r["choices"][0]["message"]["content"], "one two ");
    assert_eq!(r["choices"][0]["finish_reason"], "length");
    assert_eq!(r["usage"]["completion_tokens"], 2);
    assert_eq!(r["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
    let chunks = data_json(
        &post(&fake, "/v1/chat/completions", &[], &chat(true))
            .await
            .text(),
    );
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "length");
}

#[tokio::test]
async fn stop_sequences_when_asked() {
    let fake = FakeOpenAi::start(Behavior::answer("one two three")).await;
    fake.set_honor_stop_sequences(true);
    let mut body = chat(false);
    body["stop"] = json!(["three", " two"]);
    let r = post(&fake, "/v1/chat/completions", &[], &body).await.json();
    assert_eq!(r["choices"][0]["message"]["content"], "one");
    assert_eq!(r["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn stream_error_is_an_error_event_without_done() {
    let fake = FakeOpenAi::start(Behavior::StreamError { events: 2 }).await;
    let text = post(&fake, "/v1/chat/completions", &[], &chat(true))
        .await
        .text();
    assert!(!text.contains("[DONE]"));
    let chunks = data_json(&text);
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[2]["error"]["type"], "server_error");
}

#[tokio::test]
async fn blocked_ends_with_content_filter() {
    let fake = FakeOpenAi::start(Behavior::Blocked).await;
    let r = post(&fake, "/v1/chat/completions", &[], &chat(false)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(r.json()["usage"]["completion_tokens"], 0);
    let chunks = data_json(
        &post(&fake, "/v1/chat/completions", &[], &chat(true))
            .await
            .text(),
    );
    assert_eq!(chunks[1]["choices"][0]["finish_reason"], "content_filter");
}

const AZURE: &str = "/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21";

#[tokio::test]
async fn azure_needs_its_version_and_key() {
    let fake = FakeOpenAi::start(Behavior::answer("hi there")).await;
    let mut body = chat(false);
    body.as_object_mut().unwrap().remove("model");
    let r = post(
        &fake,
        "/openai/deployments/my-gpt/chat/completions",
        &[("api-key", "k")],
        &body,
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["message"], "Resource not found");
    let r = post(
        &fake,
        "/openai/deployments/my-gpt/chat/completions?api-version=latest",
        &[("api-key", "k")],
        &body,
    )
    .await;
    assert_eq!(r.status, 400);
    let r = post(&fake, AZURE, &[("authorization", "Bearer k")], &body).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "401");
    let r = post(&fake, AZURE, &[("api-key", "k")], &body).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["model"], "my-gpt");
    assert_eq!(r.json()["choices"][0]["message"]["content"], "hi there");
    let seen = fake.received();
    assert_eq!(seen.last().unwrap().header("api-key"), Some("k"));
    assert!(
        seen.last().unwrap().body.get("model").is_none(),
        "recorded as sent"
    );
    let preview = "/openai/deployments/my-gpt/chat/completions?api-version=2025-04-01-preview";
    let r = post(&fake, preview, &[("api-key", "k")], &chat(true)).await;
    let chunks = data_json(&r.text());
    assert!(chunks.iter().all(|c| c["model"] == "my-gpt"));
}

#[tokio::test]
async fn azure_embeddings_and_content_filter() {
    let fake = FakeOpenAi::start(Behavior::Blocked).await;
    let r = post(
        &fake,
        "/openai/deployments/emb/embeddings?api-version=2024-10-21",
        &[("api-key", "k")],
        &json!({"input": ["a b", "c"]}),
    )
    .await
    .json();
    assert_eq!(r["model"], "emb");
    assert_eq!(r["usage"]["prompt_tokens"], 3);
    let r = post(&fake, AZURE, &[("api-key", "k")], &chat(false)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "content_filter");
    assert_eq!(
        r.json()["error"]["innererror"]["code"],
        "ResponsibleAIPolicyViolation"
    );
}
