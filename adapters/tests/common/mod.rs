//! What the on-device test binaries share: the generated tiny model, an engine on it, requests
//! and the framing checks of a stream.

// Each test binary uses its own subset of these.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tollgate_adapters::on_device::{OnDevice, OnDeviceConfig};
use tollgate_adapters::synth::{synth, Preset, WeightType};
use tollgate_adapters::{AttemptError, ChatRequest, Event, Reply, Usage};

/// The tiny model, generated once per test binary. Generation is deterministic and ends in an
/// atomic rename, so concurrent runs may share the file.
pub fn model_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("on_device_tests");
        let path = dir.join("tiny-q8_0-seed1.gguf");
        synth(Preset::Tiny, WeightType::Q8_0, 1, &path).unwrap();
        path
    })
}

pub fn config() -> OnDeviceConfig {
    let mut cfg = OnDeviceConfig::new(model_path());
    cfg.n_ctx = 512;
    cfg.n_threads = 1;
    cfg.n_parallel = 4;
    cfg.queue = 4;
    cfg
}

pub fn engine(edit: impl FnOnce(&mut OnDeviceConfig)) -> OnDevice {
    let mut cfg = config();
    edit(&mut cfg);
    OnDevice::load("tiny", &cfg).unwrap()
}

pub fn request(body: Value) -> ChatRequest {
    ChatRequest::parse(&serde_json::to_vec(&body).unwrap()).unwrap()
}

pub fn chat(extra: Value) -> ChatRequest {
    let mut body = json!({
        "model": "tiny",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello to the world."}
        ]
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    request(body)
}

pub async fn complete(e: &OnDevice, req: &ChatRequest) -> (Value, Usage) {
    match e.chat(req, "tiny").await.unwrap() {
        Reply::Complete(c) => (serde_json::from_slice(&c.body).unwrap(), c.usage.unwrap()),
        Reply::Stream(_) => panic!("expected a complete reply"),
    }
}

/// Every chunk of a stream, checking the framing on the way: a role chunk first, content
/// chunks, one finish chunk, one usage chunk, then `[DONE]`.
pub struct Streamed {
    pub pieces: Vec<String>,
    /// The `tool_calls` (or legacy `function_call`) deltas, in order.
    pub calls: Vec<Value>,
    pub finish: String,
    pub usage: Usage,
}

pub async fn streamed(e: &OnDevice, req: &ChatRequest) -> Streamed {
    let Reply::Stream(mut s) = e.chat(req, "tiny").await.unwrap() else {
        panic!("expected a stream");
    };
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut done = false;
    while let Some(ev) = s.next().await {
        match ev.unwrap() {
            Event::Data(b) => {
                assert!(!done, "data after [DONE]");
                chunks.push(b);
            }
            Event::Done => done = true,
        }
    }
    assert!(done, "stream ended without [DONE]");
    let json: Vec<Value> = chunks
        .iter()
        .map(|c| serde_json::from_slice(c).unwrap())
        .collect();
    let id = json[0]["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-"));
    for j in &json {
        assert_eq!(j["object"], "chat.completion.chunk");
        assert_eq!(j["id"], id);
        assert_eq!(j["model"], "tiny");
    }
    assert_eq!(json[0]["choices"][0]["delta"]["role"], "assistant");
    let usage_chunk = json.last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    let usage = Usage::from_openai_json(chunks.last().unwrap()).unwrap();
    let finish_chunk = &json[json.len() - 2];
    let finish = finish_chunk["choices"][0]["finish_reason"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut pieces, mut calls) = (Vec::new(), Vec::new());
    for j in &json[1..json.len() - 2] {
        assert!(j["choices"][0]["finish_reason"].is_null());
        let delta = &j["choices"][0]["delta"];
        if let Some(text) = delta["content"].as_str() {
            pieces.push(text.to_string());
        } else if let Some(list) = delta["tool_calls"].as_array() {
            calls.extend(list.iter().cloned());
        } else {
            assert!(delta["function_call"].is_object(), "{j}");
            calls.push(delta["function_call"].clone());
        }
    }
    Streamed {
        pieces,
        calls,
        finish,
        usage,
    }
}

pub fn rejected(e: AttemptError) -> (u16, String, &'static str) {
    match e {
        AttemptError::Rejected {
            status,
            message,
            code,
        } => (status, message, code),
        other => panic!("expected Rejected, got {other:?}"),
    }
}

pub async fn wait_idle(e: &OnDevice) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = e.stats();
        if s.active_sequences == 0 && s.queued == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "engine not idle: {s:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
