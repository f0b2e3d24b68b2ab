//! The OpenAI Chat Completions and Embeddings API, as the fake always spoke it; Azure
//! OpenAI answers through it too.

use super::wire::{self, full, status_code, text_of, Body, Ending, Finish, SSE};
use super::{prompt_tokens, Behavior, Knobs, Shared};
use http::{Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// An embeddings answer: input `i` (text) embeds as `[bytes, words, i, 1, ...]`, as many
/// numbers as `dimensions` asks (4 by default), listed in reverse order as servers may.
/// [`Behavior::Status`] answers its error; every other behaviour answers.
pub(super) fn embeddings(body: &Value, behavior: Behavior) -> Response<Body> {
    if let Behavior::Status { status, .. } = behavior {
        return full(
            status_code(status),
            json!({"error": {"message": format!("fake upstream says {status}"), "type": "server_error", "param": null, "code": "fake_error"}}),
        );
    }
    let inputs: Vec<Value> = match &body["input"] {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    let dims = body["dimensions"].as_u64().unwrap_or(4) as usize;
    let mut words = 0;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let text = input.as_str().unwrap_or("");
            let n = text.split_whitespace().count();
            words += n;
            let mut v = vec![text.len() as f64, n as f64, i as f64];
            v.resize(dims, 1.0);
            json!({"object": "embedding", "index": i, "embedding": v})
        })
        .rev()
        .collect();
    full(
        StatusCode::OK,
        json!({"object": "list", "data": data, "model": body["model"],
               "usage": {"prompt_tokens": words, "total_tokens": words}}),
    )
}

/// OpenAI's usage object; cached tokens appear only when set, as the fake always did.
fn usage(prompt: u64, completion: u64, knobs: &Knobs) -> Value {
    let prompt = prompt + knobs.bos;
    let mut usage = json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion});
    if knobs.cache_read > 0 {
        usage["prompt_tokens_details"] = json!({"cached_tokens": knobs.cache_read});
    }
    usage
}

fn completion(model: &str, message: Value, finish: &str, usage: Value) -> Value {
    json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": usage,
    })
}

fn usage_chunk(model: &str, usage: Value) -> Value {
    json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model, "choices": [], "usage": usage})
}

/// [`Behavior::Tools`]: a tool call, or the answer after the tool's result.
fn tool_answer(
    body: &Value,
    model: &str,
    stream: bool,
    (name, arguments, reply): (&str, &str, &str),
    state: Arc<Shared>,
) -> Response<Body> {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let offered = body["tools"]
        .as_array()
        .is_some_and(|ts| ts.iter().any(|t| t["function"]["name"] == name));
    let usage = usage(prompt_tokens(body), 3, &state.knobs());
    let call = offered && last["role"] != "tool";
    if !stream {
        let message = if call {
            json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_fake1", "type": "function", "function": {"name": name, "arguments": arguments}}]})
        } else {
            let result = text_of(&last["content"]);
            json!({"role": "assistant", "content": format!("{reply} tool said: {result}")})
        };
        let finish = if call { "tool_calls" } else { "stop" };
        return full(StatusCode::OK, completion(model, message, finish, usage));
    }
    let mut events = vec![chunk(
        model,
        json!({"role": "assistant", "content": ""}),
        None,
    )];
    if call {
        let (a, b) = arguments.split_at(arguments.len() / 2);
        events.push(chunk(model, json!({"tool_calls": [{"index": 0, "id": "call_fake1", "type": "function", "function": {"name": name, "arguments": a}}]}), None));
        events.push(chunk(
            model,
            json!({"tool_calls": [{"index": 0, "function": {"arguments": b}}]}),
            None,
        ));
        events.push(chunk(model, json!({}), Some("tool_calls")));
    } else {
        let result = text_of(&last["content"]);
        events.push(chunk(
            model,
            json!({"content": format!("{reply} tool said: {result}")}),
            None,
        ));
        events.push(chunk(model, json!({}), Some("stop")));
    }
    if body["stream_options"]["include_usage"].as_bool() == Some(true) {
        events.push(usage_chunk(model, usage));
    }
    sse(events, true, Ending::Clean, Duration::ZERO, state)
}

pub(super) async fn respond(
    body: &Value,
    behavior: Behavior,
    state: Arc<Shared>,
) -> Response<Body> {
    let model = body["model"].as_str().unwrap_or("unknown").to_string();
    let stream = body["stream"].as_bool().unwrap_or(false);
    let include_usage = body["stream_options"]["include_usage"]
        .as_bool()
        .unwrap_or(false);
    let prompt = prompt_tokens(body);
    let knobs = state.knobs();
    match behavior {
        Behavior::Status {
            status,
            retry_after,
        } => {
            let mut resp = full(
                status_code(status),
                json!({"error": {"message": format!("fake upstream says {status}"), "type": "server_error", "param": null, "code": "fake_error"}}),
            );
            if let Some(s) = retry_after {
                resp.headers_mut().insert("retry-after", s.into());
            }
            resp
        }
        Behavior::Answer {
            reply,
            stream_usage,
            head_delay,
            event_gap,
        } => {
            tokio::time::sleep(head_delay).await;
            let max = body["max_completion_tokens"]
                .as_u64()
                .or(body["max_tokens"].as_u64());
            let limited = wire::limit(&reply, max, &body["stop"], &knobs);
            let finish = match limited.finish {
                Finish::Length => "length",
                Finish::End | Finish::Stop(_) => "stop",
            };
            let usage = usage(prompt, limited.tokens(), &knobs);
            if !stream {
                let message = json!({"role": "assistant", "content": limited.text()});
                return full(StatusCode::OK, completion(&model, message, finish, usage));
            }
            let mut events: Vec<Value> = vec![chunk(
                &model,
                json!({"role": "assistant", "content": ""}),
                None,
            )];
            events.extend(
                limited
                    .pieces
                    .iter()
                    .map(|w| chunk(&model, json!({"content": w}), None)),
            );
            events.push(chunk(&model, json!({}), Some(finish)));
            if include_usage && stream_usage {
                events.push(usage_chunk(&model, usage));
            }
            sse(events, true, Ending::Clean, event_gap, state)
        }
        Behavior::CutAfter { events } => sse(
            content_events(&model, events),
            false,
            Ending::Break(b"data: {\"choi"),
            Duration::ZERO,
            state,
        ),
        Behavior::EndWithoutDone { events } => sse(
            content_events(&model, events),
            false,
            Ending::Clean,
            Duration::ZERO,
            state,
        ),
        Behavior::StreamError { events } => {
            let mut all = content_events(&model, events);
            // What OpenAI sends when generation fails after the 200: an error object as an
            // event of its own, then the end of the body, no `[DONE]`.
            all.push(json!({"error": {"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error", "param": null, "code": null}}));
            sse(all, false, Ending::Clean, Duration::ZERO, state)
        }
        Behavior::Blocked => {
            // OpenAI does not refuse a prompt with an error: the completion ends with
            // `finish_reason: "content_filter"` and no content (its API reference: "content_filter
            // if content was omitted due to a flag from our content filters").
            let usage = usage(prompt, 0, &knobs);
            if !stream {
                let message = json!({"role": "assistant", "content": null, "refusal": null});
                return full(
                    StatusCode::OK,
                    completion(&model, message, "content_filter", usage),
                );
            }
            let mut events = vec![
                chunk(&model, json!({"role": "assistant", "content": ""}), None),
                chunk(&model, json!({}), Some("content_filter")),
            ];
            if include_usage {
                events.push(usage_chunk(&model, usage));
            }
            sse(events, true, Ending::Clean, Duration::ZERO, state)
        }
        Behavior::Tools {
            name,
            arguments,
            reply,
        } => tool_answer(body, &model, stream, (&name, &arguments, &reply), state),
        Behavior::Echo { chunk_chars } => {
            let text = body["messages"]
                .as_array()
                .and_then(|ms| ms.iter().rev().find(|m| m["role"] == "user"))
                .map(|m| text_of(&m["content"]))
                .unwrap_or_default();
            if !stream {
                let message = json!({"role": "assistant", "content": text});
                return full(
                    StatusCode::OK,
                    completion(&model, message, "stop", usage(prompt, 1, &knobs)),
                );
            }
            let mut events: Vec<Value> = vec![chunk(
                &model,
                json!({"role": "assistant", "content": ""}),
                None,
            )];
            events.extend(
                wire::char_chunks(&text, chunk_chars)
                    .into_iter()
                    .map(|c| chunk(&model, json!({"content": c}), None)),
            );
            events.push(chunk(&model, json!({}), Some("stop")));
            sse(events, true, Ending::Clean, Duration::ZERO, state)
        }
        Behavior::Garbage { content_type, body } => wire::garbage(content_type, body),
        Behavior::StallBody => wire::stall_body(b"{\"id\":\"chatcmpl-fake\",\"choi", state),
        Behavior::SlowBody { pieces, gap } => {
            let message = json!({"role": "assistant", "content": "a long answer"});
            let whole = completion(&model, message, "stop", usage(prompt, 3, &knobs));
            wire::slow_body(whole.to_string().into_bytes(), pieces, gap)
        }
        Behavior::StallAfterFirst => sse(
            content_events(&model, 1),
            false,
            Ending::Stall,
            Duration::ZERO,
            state,
        ),
    }
}

fn content_events(model: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| chunk(model, json!({"content": format!("part{i} ")}), None))
        .collect()
}

fn chunk(model: &str, delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
    })
}

/// OpenAI's framing: `data: {json}` events (line endings alternate: both are valid SSE),
/// then `data: [DONE]` when `done`.
fn sse(
    events: Vec<Value>,
    done: bool,
    ending: Ending,
    gap: Duration,
    state: Arc<Shared>,
) -> Response<Body> {
    let mut wire: Vec<Vec<u8>> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let eol: &[u8] = if i % 2 == 0 { b"\r\n" } else { b"\n" };
            [b"data: ".as_slice(), e.to_string().as_bytes(), eol, eol].concat()
        })
        .collect();
    if done {
        wire.push(b"data: [DONE]\n\n".to_vec());
    }
    wire::stream(wire, ending, gap, state, SSE)
}
