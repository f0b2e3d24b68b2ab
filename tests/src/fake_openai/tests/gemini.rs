//! Google Gemini.

use super::{data_json, post, Reply, GOOGLE};
use crate::fake_openai::{Behavior, FakeOpenAi};
use serde_json::{json, Value};

const WHOLE: &str = "/v1beta/models/gemini-x:generateContent";
const SSE: &str = "/v1beta/models/gemini-x:streamGenerateContent?alt=sse";

fn ask() -> Value {
    json!({"systemInstruction": {"parts": [{"text": "Be brief."}]},
           "contents": [{"role": "user", "parts": [{"text": "say three words"}]}]})
}

async fn gen(fake: &FakeOpenAi, path: &str, body: &Value) -> Reply {
    post(fake, path, &GOOGLE, body).await
}

#[tokio::test]
async fn gates_like_the_api() {
    let fake = FakeOpenAi::start(Behavior::answer("hi")).await;
    let r = post(&fake, WHOLE, &[], &ask()).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["status"], "PERMISSION_DENIED");
    assert_eq!(r.json()["error"]["code"], 403);
    let r = post(&fake, &format!("{WHOLE}?key=AIza"), &[], &ask()).await;
    assert_eq!(r.status, 200, "a key in the query string is a key");
    let bad = [
        json!({}),
        json!({"contents": []}),
        json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}),
        json!({"contents": [{"role": "user", "parts": []}]}),
        json!({"contents": [{"role": "user", "parts": [{"content": "x"}]}]}),
        json!({"messages": [{"role": "user", "content": "x"}]}),
        json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"max_tokens": 5}}),
        json!({"contents": [{"parts": [{"functionResponse": {"name": "f", "response": "sunny"}}]}]}),
    ];
    for body in bad {
        let r = gen(&fake, WHOLE, &body).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json()["error"]["status"], "INVALID_ARGUMENT", "{body}");
    }
    let snake = json!({"system_instruction": {"parts": [{"text": "Be brief."}]},
                       "generation_config": {"max_output_tokens": 9},
                       "contents": [{"role": "user", "parts": [{"inline_data": {"mime_type": "image/png", "data": "AA=="}}, {"text": "hi"}]}]});
    assert_eq!(gen(&fake, WHOLE, &snake).await.status, 200);
}

#[tokio::test]
async fn whole_answer() {
    let fake = FakeOpenAi::start(Behavior::answer("one two three")).await;
    let r = gen(&fake, WHOLE, &ask()).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(
        v["candidates"],
        json!([{"content": {"role": "model", "parts": [{"text": "one two three"}]}, "finishReason": "STOP", "index": 0}])
    );
    assert_eq!(v["usageMetadata"]["promptTokenCount"], 5);
    assert_eq!(v["usageMetadata"]["candidatesTokenCount"], 3);
    assert_eq!(v["usageMetadata"]["totalTokenCount"], 8);
    assert!(v["usageMetadata"].get("thoughtsTokenCount").is_none());
    assert!(v["usageMetadata"].get("cachedContentTokenCount").is_none());
    assert_eq!(v["modelVersion"], "gemini-x");
    assert!(v["responseId"].is_string());

    fake.set_thoughts_tokens(4);
    fake.set_cache_tokens(0, 2);
    let u = gen(&fake, WHOLE, &ask()).await.json()["usageMetadata"].clone();
    assert_eq!(u["thoughtsTokenCount"], 4);
    assert_eq!(u["cachedContentTokenCount"], 2);
    assert_eq!(u["promptTokenCount"], 5);
    assert_eq!(u["totalTokenCount"], 12);
}

#[tokio::test]
async fn sse_stream() {
    let fake = FakeOpenAi::start(Behavior::answer("one two three")).await;
    let r = gen(&fake, SSE, &ask()).await;
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let text = r.text();
    assert!(text.starts_with("data: {"));
    assert_eq!(text.matches("\r\n\r\n").count(), 3);
    assert!(!text.contains("[DONE]"));
    let ev = data_json(&text);
    assert_eq!(ev.len(), 3);
    let joined: String = ev
        .iter()
        .map(|e| {
            e["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(joined, "one two three");
    assert!(ev[..2]
        .iter()
        .all(|e| e["candidates"][0].get("finishReason").is_none()));
    assert_eq!(
        ev[0]["usageMetadata"]["totalTokenCount"], 5,
        "mid-stream usage is the prompt's"
    );
    assert_eq!(ev[2]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(ev[2]["usageMetadata"]["candidatesTokenCount"], 3);
    assert_eq!(ev[2]["usageMetadata"]["totalTokenCount"], 8);
}

#[tokio::test]
async fn json_array_stream_without_alt_sse() {
    let fake = FakeOpenAi::start(Behavior::answer("one two")).await;
    let r = gen(
        &fake,
        "/v1beta/models/gemini-x:streamGenerateContent",
        &ask(),
    )
    .await;
    let v = r.json();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[1]["candidates"][0]["finishReason"], "STOP");
}

#[tokio::test]
async fn error_statuses() {
    for (status, name) in [
        (429, "RESOURCE_EXHAUSTED"),
        (503, "UNAVAILABLE"),
        (500, "INTERNAL"),
        (400, "INVALID_ARGUMENT"),
        (403, "PERMISSION_DENIED"),
    ] {
        let fake = FakeOpenAi::start(Behavior::Status {
            status,
            retry_after: Some(3),
        })
        .await;
        let r = gen(&fake, SSE, &ask()).await;
        assert_eq!(r.status, status);
        assert_eq!(r.json()["error"]["code"], status);
        assert_eq!(r.json()["error"]["status"], name);
        assert_eq!(r.json()["error"]["details"][0]["retryDelay"], "3s");
    }
}

#[tokio::test]
async fn stream_faults() {
    let fake = FakeOpenAi::start(Behavior::StreamError { events: 2 }).await;
    assert!(gen(&fake, SSE, &ask()).await.body.is_err());
    fake.set_behavior(Behavior::CutAfter { events: 2 });
    assert!(gen(&fake, SSE, &ask()).await.body.is_err());
    fake.set_behavior(Behavior::EndWithoutDone { events: 2 });
    let ev = data_json(&gen(&fake, SSE, &ask()).await.text());
    assert_eq!(ev.len(), 2);
    assert!(ev
        .iter()
        .all(|e| e["candidates"][0].get("finishReason").is_none()));
}

#[tokio::test]
async fn tools_round_trip() {
    let fake = FakeOpenAi::start(Behavior::Tools {
        name: "weather".into(),
        arguments: r#"{"city":"Paris"}"#.into(),
        reply: "Done.".into(),
    })
    .await;
    let mut body = ask();
    body["tools"] = json!([{"functionDeclarations": [{"name": "weather", "description": "d", "parameters": {"type": "OBJECT"}}]}]);
    let r = gen(&fake, WHOLE, &body).await.json();
    assert_eq!(
        r["candidates"][0]["content"]["parts"][0],
        json!({"functionCall": {"name": "weather", "args": {"city": "Paris"}}})
    );
    assert_eq!(r["usageMetadata"]["candidatesTokenCount"], 3);
    let ev = data_json(&gen(&fake, SSE, &body).await.text());
    assert_eq!(ev.len(), 1, "a call comes whole");
    assert_eq!(
        ev[0]["candidates"][0]["content"]["parts"][0]["functionCall"]["args"]["city"],
        "Paris"
    );

    body["contents"] = json!([
        {"role": "user", "parts": [{"text": "weather?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "weather", "args": {"city": "Paris"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "weather", "response": {"content": "sunny"}}}]},
    ]);
    let r = gen(&fake, WHOLE, &body).await.json();
    assert_eq!(
        r["candidates"][0]["content"]["parts"][0]["text"],
        "Done. tool said: sunny"
    );
    body["contents"][2]["parts"][0]["functionResponse"]["response"] = json!({"temp": 20});
    let r = gen(&fake, WHOLE, &body).await.json();
    assert_eq!(
        r["candidates"][0]["content"]["parts"][0]["text"],
        r#"Done. tool said: {"temp":20}"#
    );
}

#[tokio::test]
async fn blocked_prompt() {
    let fake = FakeOpenAi::start(Behavior::Blocked).await;
    let r = gen(&fake, WHOLE, &ask()).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert!(v.get("candidates").is_none());
    assert_eq!(v["promptFeedback"]["blockReason"], "SAFETY");
    assert!(v["promptFeedback"]["safetyRatings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["blocked"] == true));
    assert_eq!(v["usageMetadata"]["promptTokenCount"], 5);
    let ev = data_json(&gen(&fake, SSE, &ask()).await.text());
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["promptFeedback"]["blockReason"], "SAFETY");
}

#[tokio::test]
async fn honours_max_output_tokens_when_asked() {
    let fake = FakeOpenAi::start(Behavior::answer("one two three")).await;
    let mut body = ask();
    body["generationConfig"] = json!({"maxOutputTokens": 2});
    let r = gen(&fake, WHOLE, &body).await.json();
    assert_eq!(r["candidates"][0]["finishReason"], "STOP", "off by default");
    fake.set_honor_max_tokens(true);
    let r = gen(&fake, WHOLE, &body).await.json();
    assert_eq!(
        r["candidates"][0]["content"]["parts"][0]["text"],
        "one two "
    );
    assert_eq!(r["candidates"][0]["finishReason"], "MAX_TOKENS");
    assert_eq!(r["usageMetadata"]["candidatesTokenCount"], 2);
    let ev = data_json(&gen(&fake, SSE, &body).await.text());
    assert_eq!(
        ev.last().unwrap()["candidates"][0]["finishReason"],
        "MAX_TOKENS"
    );
}
