//! The fake on a real socket, driven by hyper's client: each dialect's answers, streams,
//! errors and usage, and the counts every dialect must agree on.

mod anthropic;
mod gemini;
mod openai;

use super::{Behavior, FakeOpenAi};
use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::time::Duration;

/// One answer as read off the wire.
struct Reply {
    status: u16,
    headers: HeaderMap,
    /// The body, or what arrived before it failed.
    body: Result<Bytes, String>,
}

impl Reply {
    fn bytes(&self) -> &Bytes {
        self.body.as_ref().expect("a whole body")
    }

    fn text(&self) -> String {
        String::from_utf8(self.bytes().to_vec()).expect("utf-8 body")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(self.bytes()).expect("JSON body")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn post(fake: &FakeOpenAi, uri: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut req = Request::post(format!("{}{uri}", fake.root_url()))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .expect("head in time")
        .expect("response");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut incoming = resp.into_body();
    let mut got = Vec::new();
    let body = loop {
        match tokio::time::timeout(Duration::from_secs(10), incoming.frame()).await {
            Err(_) => break Err("body stalled".to_string()),
            Ok(None) => break Ok(Bytes::from(got)),
            Ok(Some(Err(e))) => break Err(format!("{e}")),
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    got.extend_from_slice(&data);
                }
            }
        }
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// SSE events as (event name, data) pairs, whatever the line endings.
fn events(text: &str) -> Vec<(Option<String>, String)> {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = None;
            let mut data = Vec::new();
            for line in e.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = Some(v.to_string());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push(v);
                }
            }
            (name, data.join("\n"))
        })
        .collect()
}

fn data_json(text: &str) -> Vec<Value> {
    events(text)
        .iter()
        .filter(|(_, d)| d != "[DONE]")
        .map(|(_, d)| serde_json::from_str(d).expect("JSON event"))
        .collect()
}

const ANTHROPIC: [(&str, &str); 2] = [
    ("x-api-key", "sk-ant-test"),
    ("anthropic-version", "2023-06-01"),
];
const GOOGLE: [(&str, &str); 1] = [("x-goog-api-key", "AIza-test")];

/// One conversation (a system prompt, a question, an answer and a follow-up) in each dialect.
fn same_request() -> (Value, Value, Value) {
    let openai = json!({"model": "m", "max_tokens": 50, "messages": [
        {"role": "system", "content": "You are a terse helper."},
        {"role": "user", "content": [{"type": "text", "text": "What is the "}, {"type": "text", "text": "capital of France?"}]},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Spain?"},
    ]});
    let anthropic = json!({"model": "m", "max_tokens": 50, "system": "You are a terse helper.", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "What is the "}, {"type": "text", "text": "capital of France?"}]},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Spain?"},
    ]});
    let gemini = json!({"systemInstruction": {"parts": [{"text": "You are a terse helper."}]},
        "generationConfig": {"maxOutputTokens": 50}, "contents": [
        {"role": "user", "parts": [{"text": "What is the "}, {"text": "capital of France?"}]},
        {"role": "model", "parts": [{"text": "Paris."}]},
        {"role": "user", "parts": [{"text": "And of Spain?"}]},
    ]});
    (openai, anthropic, gemini)
}

#[tokio::test]
async fn every_dialect_counts_the_same_request_alike() {
    let fake = FakeOpenAi::start(Behavior::answer("Madrid is the capital.")).await;
    let (o, a, g) = same_request();
    let o = post(&fake, "/v1/chat/completions", &[], &o).await.json();
    let a = post(&fake, "/v1/messages", &ANTHROPIC, &a).await.json();
    let g = post(&fake, "/v1beta/models/m:generateContent", &GOOGLE, &g)
        .await
        .json();
    assert_eq!(o["usage"]["prompt_tokens"], 15);
    assert_eq!(o["usage"]["completion_tokens"], 4);
    assert_eq!(a["usage"]["input_tokens"], 15);
    assert_eq!(a["usage"]["output_tokens"], 4);
    assert_eq!(g["usageMetadata"]["promptTokenCount"], 15);
    assert_eq!(g["usageMetadata"]["candidatesTokenCount"], 4);
    for r in fake.received() {
        assert_eq!(super::prompt_tokens(&r.body), 15, "{}", r.path);
    }
}

#[tokio::test]
async fn tool_results_count_alike() {
    let fake = FakeOpenAi::start(Behavior::answer("ok")).await;
    let o = json!({"model": "m", "messages": [
        {"role": "user", "content": "weather in Paris"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny and warm"},
    ]});
    let a = json!({"model": "m", "max_tokens": 9, "messages": [
        {"role": "user", "content": "weather in Paris"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c1", "name": "w", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": [{"type": "text", "text": "sunny and warm"}]}]},
    ]});
    let g = json!({"contents": [
        {"role": "user", "parts": [{"text": "weather in Paris"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "w", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "w", "response": {"content": "sunny and warm"}}}]},
    ]});
    for b in [&o, &a, &g] {
        assert_eq!(super::prompt_tokens(b), 6, "{b}");
    }
    let a = post(&fake, "/v1/messages", &ANTHROPIC, &a).await.json();
    assert_eq!(a["usage"]["input_tokens"], 6);
    let g = post(&fake, "/v1beta/models/m:generateContent", &GOOGLE, &g)
        .await
        .json();
    assert_eq!(g["usageMetadata"]["promptTokenCount"], 6);
}

#[tokio::test]
async fn received_keeps_uri_and_vendor_headers() {
    let fake = FakeOpenAi::start(Behavior::answer("hi")).await;
    let (_, a, g) = same_request();
    let beta = [
        ANTHROPIC[0],
        ANTHROPIC[1],
        ("anthropic-beta", "prompt-caching-2024-07-31"),
    ];
    post(&fake, "/v1/messages", &beta, &a).await;
    post(
        &fake,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        &GOOGLE,
        &g,
    )
    .await;
    let got = fake.received();
    assert_eq!(got[0].path, "/v1/messages");
    assert_eq!(got[0].header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(got[0].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        got[0].header("anthropic-beta"),
        Some("prompt-caching-2024-07-31")
    );
    assert_eq!(got[0].authorization, None);
    assert_eq!(
        got[1].path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    );
    assert_eq!(
        got[1].uri,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(
        got[1].headers,
        vec![("x-goog-api-key".to_string(), "AIza-test".to_string())]
    );
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let fake = FakeOpenAi::start(Behavior::answer("hi")).await;
    for path in [
        "/v1/complete",
        "/v1beta/models/m:countTokens",
        "/openai/deployments/d/completions?api-version=2024-10-21",
    ] {
        let r = post(&fake, path, &ANTHROPIC, &json!({})).await;
        assert_eq!(r.status, 404, "{path}");
    }
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn abandoned_streams_count_as_cancelled_in_every_dialect() {
    let fake = FakeOpenAi::start(Behavior::StallAfterFirst).await;
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let (o, a, g) = same_request();
    let calls = [
        ("/v1/chat/completions", o, vec![]),
        ("/v1/messages", a, ANTHROPIC.to_vec()),
        (
            "/v1beta/models/m:streamGenerateContent?alt=sse",
            g,
            GOOGLE.to_vec(),
        ),
    ];
    for (n, (path, body, headers)) in calls.into_iter().enumerate() {
        let mut req = Request::post(format!("{}{path}", fake.root_url()));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap();
        let mut resp = client.request(req).await.unwrap().into_body();
        let first = resp.frame().await.unwrap().unwrap();
        assert!(first.is_data());
        drop(resp);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while fake.cancelled() < n + 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(fake.cancelled(), n + 1, "{path}");
    }
}
