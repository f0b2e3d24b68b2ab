//! What serving a chat request through a translating backend costs over the OpenAI-compatible
//! path, side by side in one run: the request body sent upstream, reading a whole answer into
//! a chat completion, and one streamed text chunk. The OpenAI-compatible path serializes the
//! client's request with the backend's model name, parses a whole answer once to check it and
//! read its usage, and checks each event is JSON; the translating kinds do that work in their
//! vendor's format and write OpenAI chunks. Network time is the same for every kind and is left
//! out, so the ratios are of the gateway's own CPU.
//!
//! `cargo bench -p tollgate-adapters --bench vendors`

#![allow(clippy::unwrap_used)] // a benchmark whose input fails to parse should stop loudly

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::json;
use tollgate_adapters::upstream::Decoder;
use tollgate_adapters::{anthropic, gemini, openai_compat, ChatRequest, Event, Usage};

/// A system prompt, three turns and one tool: the conversation the dialect bench uses.
fn request() -> ChatRequest {
    let tool =
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
    let body = json!({
        "model": "coder", "max_tokens": 200,
        "messages": [
            {"role": "system", "content": "You are a careful assistant. Answer briefly and cite the tool's output."},
            {"role": "user", "content": "What is the weather in Paris tomorrow, and should I take an umbrella?"},
            {"role": "assistant", "content": "Let me check the forecast for you before answering."},
            {"role": "user", "content": "Thanks, and for Lyon too."},
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "description": "forecast", "parameters": tool}}],
    });
    ChatRequest::parse(body.to_string().as_bytes()).unwrap()
}

const TEXT: &str =
    "Tomorrow in Paris: light rain in the morning, clearing by noon. Take an umbrella.";

/// The same answer as each vendor sends it whole.
fn answers() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let openai = json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT}, "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 60, "completion_tokens": 18, "total_tokens": 78}});
    let anthropic = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
        "content": [{"type": "text", "text": TEXT}], "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 60, "output_tokens": 18, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}});
    let gemini = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": TEXT}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 60, "candidatesTokenCount": 18, "totalTokenCount": 78},
        "modelVersion": "m", "responseId": "r1"});
    (
        openai.to_string().into_bytes(),
        anthropic.to_string().into_bytes(),
        gemini.to_string().into_bytes(),
    )
}

fn requests(c: &mut Criterion) {
    let req = request();
    let mut g = c.benchmark_group("request body");
    g.bench_function("openai_compat", |b| {
        b.iter(|| openai_compat::encode_request(black_box(&req), "m").unwrap())
    });
    g.bench_function("anthropic", |b| {
        b.iter(|| anthropic::encode_request(black_box(&req), "m", 4096).unwrap())
    });
    g.bench_function("gemini", |b| {
        b.iter(|| gemini::encode_request(black_box(&req)).unwrap())
    });
    g.finish();
}

fn whole_answers(c: &mut Criterion) {
    let (openai, anthropic, gemini) = answers();
    let mut g = c.benchmark_group("whole answer");
    g.bench_function("openai_compat", |b| {
        b.iter(|| Usage::from_completion(black_box(&openai)).unwrap())
    });
    g.bench_function("anthropic", |b| {
        b.iter(|| anthropic::decode_answer(black_box(&anthropic), "m", false).unwrap())
    });
    g.bench_function("gemini", |b| {
        b.iter(|| gemini::decode_answer(black_box(&gemini), "m").unwrap())
    });
    g.finish();
}

/// One text delta of a stream already under way, in each vendor's format.
fn stream_chunks(c: &mut Criterion) {
    let piece = "light rain in the morning, ";
    let openai = Bytes::from(
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"content": piece}, "logprobs": null, "finish_reason": null}]})
        .to_string(),
    );
    let anthropic_delta = json!({"type": "content_block_delta", "index": 0,
        "delta": {"type": "text_delta", "text": piece}})
    .to_string();
    let gemini_delta = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": piece}]}, "index": 0}],
        "usageMetadata": {"promptTokenCount": 60, "totalTokenCount": 60}, "modelVersion": "m", "responseId": "r1"})
    .to_string();
    let mut g = c.benchmark_group("stream chunk");
    g.bench_function("openai_compat", |b| {
        b.iter(|| openai_compat::check_event(Event::Data(black_box(openai.clone()))).unwrap())
    });
    let mut out = Vec::with_capacity(4);
    let mut a = anthropic::StreamDecoder::new("m", false, 1);
    for start in [
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "m",
            "usage": {"input_tokens": 60, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ] {
        a.event(start.to_string().as_bytes(), &mut out).unwrap();
    }
    g.bench_function("anthropic", |b| {
        b.iter(|| {
            out.clear();
            a.event(black_box(anthropic_delta.as_bytes()), &mut out)
                .unwrap();
        })
    });
    let mut gd = gemini::stream_decoder("m");
    gd.event(gemini_delta.as_bytes(), &mut out).unwrap();
    g.bench_function("gemini", |b| {
        b.iter(|| {
            out.clear();
            gd.event(black_box(gemini_delta.as_bytes()), &mut out)
                .unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, requests, whole_answers, stream_chunks);
criterion_main!(benches);
