//! What translating the Messages and Responses APIs costs over chat completions, side by side
//! in one run: parsing a request (chat's own parse versus translate-then-parse), turning a
//! whole chat answer into the client's protocol, and re-emitting one streamed chunk.
//!
//! `cargo bench -p tollgate-adapters --bench dialect`

#![allow(clippy::unwrap_used)] // a benchmark whose input fails to parse should stop loudly

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use serde_json::json;
use tollgate_adapters::dialect::{anthropic, responses, Inbound};
use tollgate_adapters::ChatRequest;

/// The same conversation in each protocol: a system prompt, three turns, one tool.
fn bodies() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let system = "You are a careful assistant. Answer briefly and cite the tool's output.";
    let question = "What is the weather in Paris tomorrow, and should I take an umbrella?";
    let answer = "Let me check the forecast for you before answering.";
    let tool =
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
    let chat = json!({
        "model": "coder", "max_tokens": 200,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
            {"role": "user", "content": "Thanks, and for Lyon too."},
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "description": "forecast", "parameters": tool}}],
    });
    let messages = json!({
        "model": "coder", "max_tokens": 200,
        "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": question}]},
            {"role": "assistant", "content": [{"type": "text", "text": answer}]},
            {"role": "user", "content": "Thanks, and for Lyon too."},
        ],
        "tools": [{"name": "weather", "description": "forecast", "input_schema": tool}],
    });
    let responses = json!({
        "model": "coder", "max_output_tokens": 200, "store": false, "instructions": system,
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": question}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": answer}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Thanks, and for Lyon too."}]},
        ],
        "tools": [{"type": "function", "name": "weather", "description": "forecast", "parameters": tool}],
    });
    (
        chat.to_string().into_bytes(),
        messages.to_string().into_bytes(),
        responses.to_string().into_bytes(),
    )
}

const COMPLETION: &[u8] = br#"{"id":"chatcmpl-abc","object":"chat.completion","created":1700000000,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Tomorrow in Paris: light rain in the morning, 14C in the afternoon. Take an umbrella; Lyon stays dry at 17C."},"finish_reason":"stop"}],"usage":{"prompt_tokens":120,"completion_tokens":32,"total_tokens":152}}"#;
const CHUNK: &[u8] = br#"{"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,"delta":{"content":" umbrella"},"finish_reason":null}]}"#;

fn requests(c: &mut Criterion) {
    let (chat, messages, responses_body) = bodies();
    let mut g = c.benchmark_group("request");
    g.bench_function("chat_parse", |b| {
        b.iter(|| ChatRequest::parse(black_box(&chat)).unwrap())
    });
    g.bench_function("messages_to_chat", |b| {
        b.iter(|| anthropic::to_chat(black_box(&messages)).unwrap())
    });
    g.bench_function("responses_to_chat", |b| {
        b.iter(|| responses::to_chat(black_box(&responses_body), "resp_1".into(), 0).unwrap())
    });
    g.finish();
}

fn answers(c: &mut Criterion) {
    let (_, messages, responses_body) = bodies();
    let m = Inbound::Messages(anthropic::to_chat(&messages).unwrap().1);
    let r = Inbound::Responses(
        responses::to_chat(&responses_body, "resp_1".into(), 0)
            .unwrap()
            .1,
    );
    let mut g = c.benchmark_group("answer");
    g.bench_function("messages_from_chat", |b| {
        b.iter(|| m.complete(black_box(COMPLETION)).unwrap())
    });
    g.bench_function("responses_from_chat", |b| {
        b.iter(|| r.complete(black_box(COMPLETION)).unwrap())
    });
    g.finish();
    let mut g = c.benchmark_group("stream_event");
    for (name, inbound) in [("messages", &m), ("responses", &r)] {
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || {
                    // A translator whose message and first block are open, as mid-stream.
                    let mut t = inbound.stream();
                    t.chunk(CHUNK, &mut Vec::new());
                    (t, Vec::with_capacity(512))
                },
                |(t, out)| {
                    t.chunk(black_box(CHUNK), out);
                    out.len()
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, requests, answers);
criterion_main!(benches);
