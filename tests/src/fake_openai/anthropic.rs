//! The Anthropic Messages API: `POST /v1/messages` and `POST /v1/messages/count_tokens`.
//!
//! Shapes from anthropic-sdk-python: `src/anthropic/types/` `message.py`, `usage.py`,
//! `message_delta_usage.py`, `raw_message_{start,delta,stop}_event.py`,
//! `raw_content_block_{start,delta,stop}_event.py`, `text_delta.py`, `input_json_delta.py`,
//! `tool_use_block.py`, `stop_reason.py`, `refusal_stop_details.py` and
//! `shared/{error_response,error_type}.py`; event order, `ping` and framing from its
//! `tests/lib/streaming/fixtures/{basic,tool_use,refusal}_response.txt`. The 400 messages are
//! the API's own wording for the rules it enforces.

use super::wire::{self, full, status_code, text_of, Body, Ending, Finish, SSE};
use super::{header, Behavior, Knobs, Shared};
use http::{HeaderMap, Response};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const MESSAGE_ID: &str = "msg_01FakeUpstreamMessage";
const REQUEST_ID: &str = "req_01FakeUpstreamRequest";

/// The error types of `shared/error_type.py` by status (413's is in the API's error docs).
fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

pub(super) fn error(status: u16, message: &str) -> Response<Body> {
    let mut resp = full(
        status_code(status),
        json!({"type": "error", "error": {"type": error_type(status), "message": message}, "request_id": REQUEST_ID}),
    );
    resp.headers_mut()
        .insert("request-id", http::HeaderValue::from_static(REQUEST_ID));
    resp
}

/// Words of a message's content for [`super::prompt_tokens`]: its text (a string, or text
/// blocks joined) and each `tool_result` apart. For OpenAI content this is just its text.
pub(super) fn content_words(content: &Value) -> u64 {
    let results: u64 = content
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .filter(|b| b["type"] == "tool_result")
                .map(|b| wire::words(&text_of(&b["content"])))
                .sum()
        })
        .unwrap_or(0);
    wire::words(&text_of(content)) + results
}

/// The text of the last `tool_result` in a message, if it has one.
fn tool_result(message: &Value) -> Option<String> {
    message["content"]
        .as_array()?
        .iter()
        .rev()
        .find(|b| b["type"] == "tool_result")
        .map(|b| text_of(&b["content"]))
}

fn usage(prompt: u64, output: u64, knobs: &Knobs) -> Value {
    let input = prompt
        .saturating_sub(knobs.cache_write)
        .saturating_sub(knobs.cache_read);
    json!({
        "input_tokens": input,
        "cache_creation_input_tokens": knobs.cache_write,
        "cache_read_input_tokens": knobs.cache_read,
        "output_tokens": output,
    })
}

/// What every answer needs to render itself.
struct Ctx<'a> {
    model: &'a str,
    prompt: u64,
    knobs: Knobs,
}

impl Ctx<'_> {
    fn message(&self, content: Value, stop: Option<(&str, Option<&str>)>, output: u64) -> Value {
        json!({
            "id": MESSAGE_ID, "type": "message", "role": "assistant", "model": self.model,
            "content": content,
            "stop_reason": stop.map(|s| s.0), "stop_sequence": stop.and_then(|s| s.1),
            "usage": usage(self.prompt, output, &self.knobs),
        })
    }

    /// `message_start` carries the message with no content and, as the API does, an output
    /// count of 1 before anything is generated.
    fn start(&self) -> Value {
        json!({"type": "message_start", "message": self.message(json!([]), None, 1)})
    }

    /// `message_delta` carries the cumulative usage, input counts included, as the API now
    /// sends it: whoever adds up input tokens across events counts them twice.
    fn delta(&self, stop_reason: &str, stop_sequence: Option<&str>, output: u64) -> Value {
        json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
               "usage": usage(self.prompt, output, &self.knobs)})
    }

    /// A whole text turn as events.
    fn text_events(
        &self,
        pieces: &[String],
        stop_reason: &str,
        stop_sequence: Option<&str>,
        output: u64,
    ) -> Vec<Value> {
        let mut events = self.text_opening(pieces);
        events.push(block_stop(0));
        events.push(self.delta(stop_reason, stop_sequence, output));
        events.push(json!({"type": "message_stop"}));
        events
    }

    /// The message's start, its text block's start and these text deltas.
    fn text_opening(&self, pieces: &[String]) -> Vec<Value> {
        let mut events = vec![
            self.start(),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "ping"}),
        ];
        events.extend(pieces.iter().map(|p| {
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}})
        }));
        events
    }
}

fn block_stop(index: usize) -> Value {
    json!({"type": "content_block_stop", "index": index})
}

/// Anthropic's framing: an `event:` line naming the type, then the `data:` line.
fn frame(events: &[Value]) -> Vec<Vec<u8>> {
    events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or("")).into_bytes())
        .collect()
}

fn sse(events: &[Value], ending: Ending, gap: Duration, state: Arc<Shared>) -> Response<Body> {
    wire::stream(frame(events), ending, gap, state, SSE)
}

pub(super) async fn respond(
    body: &Value,
    headers: &HeaderMap,
    count_tokens: bool,
    behavior: Behavior,
    state: Arc<Shared>,
) -> Response<Body> {
    if header(headers, "x-api-key").is_none() {
        return error(401, "x-api-key header is required");
    }
    if header(headers, "anthropic-version").is_none() {
        return error(400, "anthropic-version: header is required");
    }
    if let Err(message) = validate(body, count_tokens) {
        return error(400, &message);
    }
    let ctx = Ctx {
        model: body["model"].as_str().unwrap_or("unknown"),
        prompt: super::prompt_tokens(body),
        knobs: state.knobs(),
    };
    if count_tokens {
        return full(http::StatusCode::OK, json!({"input_tokens": ctx.prompt}));
    }
    let stream = body["stream"].as_bool().unwrap_or(false);
    let parts = |n: usize| -> Vec<String> { (0..n).map(|i| format!("part{i} ")).collect() };
    match behavior {
        Behavior::Status {
            status,
            retry_after,
        } => {
            let mut resp = error(status, &format!("fake upstream says {status}"));
            if let Some(s) = retry_after {
                resp.headers_mut().insert("retry-after", s.into());
            }
            resp
        }
        Behavior::Answer {
            reply,
            head_delay,
            event_gap,
            ..
        } => {
            tokio::time::sleep(head_delay).await;
            let limited = wire::limit(
                &reply,
                body["max_tokens"].as_u64(),
                &body["stop_sequences"],
                &ctx.knobs,
            );
            let (reason, sequence) = match &limited.finish {
                Finish::End => ("end_turn", None),
                Finish::Length => ("max_tokens", None),
                Finish::Stop(s) => ("stop_sequence", Some(s.as_str())),
            };
            let output = limited.tokens();
            if !stream {
                let content = json!([{"type": "text", "text": limited.text()}]);
                return full(
                    http::StatusCode::OK,
                    ctx.message(content, Some((reason, sequence)), output),
                );
            }
            let events = ctx.text_events(&limited.pieces, reason, sequence, output);
            sse(&events, Ending::Clean, event_gap, state)
        }
        Behavior::CutAfter { events } => sse(
            &ctx.text_opening(&parts(events)),
            Ending::Break(b"event: content_block_delta\ndata: {\"type\":\"content_bl"),
            Duration::ZERO,
            state,
        ),
        Behavior::EndWithoutDone { events } => sse(
            &ctx.text_opening(&parts(events)),
            Ending::Clean,
            Duration::ZERO,
            state,
        ),
        Behavior::StallAfterFirst => sse(&[ctx.start()], Ending::Stall, Duration::ZERO, state),
        Behavior::StreamError { events } => {
            let mut all = ctx.text_opening(&parts(events));
            // What the API sends when it fails after the 200: an `error` event, then the end.
            all.push(json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}));
            sse(&all, Ending::Clean, Duration::ZERO, state)
        }
        Behavior::Blocked => {
            // The API refuses with a 200 whose turn ends with `stop_reason: "refusal"` and
            // `stop_details`, an empty text block and no output (refusal_response.txt).
            let details = json!({"type": "refusal", "category": null, "explanation": "This request was refused due to policy."});
            if !stream {
                let mut message = ctx.message(
                    json!([{"type": "text", "text": ""}]),
                    Some(("refusal", None)),
                    0,
                );
                message["stop_details"] = details;
                return full(http::StatusCode::OK, message);
            }
            let mut events = ctx.text_events(&[], "refusal", None, 0);
            let at = events.len() - 2;
            events[at]["delta"]["stop_details"] = details;
            sse(&events, Ending::Clean, Duration::ZERO, state)
        }
        Behavior::Garbage { content_type, body } => wire::garbage(content_type, body),
        Behavior::StallBody => wire::stall_body(
            b"{\"id\":\"msg_01FakeUpstreamMessage\",\"type\":\"mess",
            state,
        ),
        Behavior::SlowBody { pieces, gap } => {
            let content = json!([{"type": "text", "text": "a long answer"}]);
            let whole = ctx.message(content, Some(("end_turn", None)), 3);
            wire::slow_body(whole.to_string().into_bytes(), pieces, gap)
        }
        Behavior::Echo { chunk_chars } => {
            let text = body["messages"]
                .as_array()
                .and_then(|ms| ms.iter().rev().find(|m| m["role"] == "user"))
                .map(|m| text_of(&m["content"]))
                .unwrap_or_default();
            if !stream {
                let content = json!([{"type": "text", "text": text}]);
                return full(
                    http::StatusCode::OK,
                    ctx.message(content, Some(("end_turn", None)), 1),
                );
            }
            let events =
                ctx.text_events(&wire::char_chunks(&text, chunk_chars), "end_turn", None, 1);
            sse(&events, Ending::Clean, Duration::ZERO, state)
        }
        Behavior::Tools {
            name,
            arguments,
            reply,
        } => tools(body, &ctx, stream, (&name, &arguments, &reply), state),
    }
}

/// [`Behavior::Tools`]: a `tool_use` block (its input streamed as `input_json_delta`
/// fragments), or the answer after the `tool_result`.
fn tools(
    body: &Value,
    ctx: &Ctx,
    stream: bool,
    (name, arguments, reply): (&str, &str, &str),
    state: Arc<Shared>,
) -> Response<Body> {
    let last = body["messages"]
        .as_array()
        .and_then(|ms| ms.last())
        .cloned()
        .unwrap_or(Value::Null);
    let offered = body["tools"]
        .as_array()
        .is_some_and(|ts| ts.iter().any(|t| t["name"] == name));
    let result = tool_result(&last);
    if offered && result.is_none() {
        let input: Value = serde_json::from_str(arguments).unwrap_or_else(|_| json!({}));
        if !stream {
            let content =
                json!([{"type": "tool_use", "id": "toolu_fake1", "name": name, "input": input}]);
            return full(
                http::StatusCode::OK,
                ctx.message(content, Some(("tool_use", None)), 3),
            );
        }
        let json_text = input.to_string();
        let (a, b) = wire::halves(&json_text);
        let mut events = vec![
            ctx.start(),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_fake1", "name": name, "input": {}}}),
            json!({"type": "ping"}),
        ];
        // The API opens with an empty fragment, then sends the JSON in arbitrary cuts.
        for fragment in ["", a, b] {
            events.push(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": fragment}}));
        }
        events.push(block_stop(0));
        events.push(ctx.delta("tool_use", None, 3));
        events.push(json!({"type": "message_stop"}));
        return sse(&events, Ending::Clean, Duration::ZERO, state);
    }
    let result = result.unwrap_or_else(|| text_of(&last["content"]));
    let text = format!("{reply} tool said: {result}");
    if !stream {
        let content = json!([{"type": "text", "text": text}]);
        return full(
            http::StatusCode::OK,
            ctx.message(content, Some(("end_turn", None)), 3),
        );
    }
    let events = ctx.text_events(&[text], "end_turn", None, 3);
    sse(&events, Ending::Clean, Duration::ZERO, state)
}

/// The request rules the API enforces with a 400 `invalid_request_error`.
fn validate(body: &Value, count_tokens: bool) -> Result<(), String> {
    if !body.is_object() {
        return Err("body: Input should be a valid dictionary".into());
    }
    if !body["model"].is_string() {
        return Err("model: Field required".into());
    }
    if !count_tokens {
        match body.get("max_tokens") {
            None => return Err("max_tokens: Field required".into()),
            Some(v) if v.as_u64().is_none_or(|n| n < 1) => {
                return Err(
                    "max_tokens: Input should be a valid integer greater than or equal to 1".into(),
                )
            }
            Some(_) => {}
        }
    }
    match &body["system"] {
        Value::Null | Value::String(_) => {}
        Value::Array(blocks)
            if blocks
                .iter()
                .all(|b| b["type"] == "text" && b["text"].is_string()) => {}
        _ => return Err("system: Input should be a valid string or a list of text blocks".into()),
    }
    validate_messages(body)?;
    if let Some(tools) = body.get("tools") {
        let tools = tools
            .as_array()
            .ok_or("tools: Input should be a valid list")?;
        for (i, t) in tools.iter().enumerate() {
            let custom = t.get("type").is_none_or(|ty| ty == "custom");
            if !t["name"].is_string() {
                return Err(format!("tools.{i}.name: Field required"));
            }
            if custom && !t["input_schema"].is_object() {
                return Err(format!("tools.{i}.input_schema: Field required"));
            }
        }
    }
    if let Some(choice) = body.get("tool_choice") {
        match choice["type"].as_str() {
            Some("auto" | "any" | "none") => {}
            Some("tool") if choice["name"].is_string() => {}
            Some("tool") => return Err("tool_choice.tool.name: Field required".into()),
            _ => return Err("tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'".into()),
        }
    }
    for (name, max) in [("temperature", 1.0), ("top_p", 1.0)] {
        if let Some(v) = body.get(name) {
            let n = v
                .as_f64()
                .ok_or_else(|| format!("{name}: Input should be a valid number"))?;
            if !(0.0..=max).contains(&n) {
                return Err(format!(
                    "{name}: Input should be less than or equal to {max}"
                ));
            }
        }
    }
    if let Some(stops) = body.get("stop_sequences") {
        if !stops
            .as_array()
            .is_some_and(|s| s.iter().all(Value::is_string))
        {
            return Err("stop_sequences: Input should be a valid list of strings".into());
        }
    }
    if body.get("stream").is_some_and(|s| !s.is_boolean()) {
        return Err("stream: Input should be a valid boolean".into());
    }
    Ok(())
}

const BLOCK_TYPES: [&str; 12] = [
    "text",
    "image",
    "document",
    "search_result",
    "thinking",
    "redacted_thinking",
    "tool_use",
    "tool_result",
    "server_tool_use",
    "web_search_tool_result",
    "container_upload",
    "web_fetch_tool_result",
];

fn validate_messages(body: &Value) -> Result<(), String> {
    let messages = body["messages"]
        .as_array()
        .ok_or("messages: Field required")?;
    if messages.is_empty() {
        return Err("messages: at least one message is required".into());
    }
    let mut previous: Option<&str> = None;
    // The `tool_use` ids of the previous assistant turn, which the next turn must answer.
    let mut pending: Vec<&str> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = match m["role"].as_str() {
            Some(r @ ("user" | "assistant")) => r,
            _ => {
                return Err(format!(
                    "messages.{i}.role: Input should be 'user' or 'assistant'"
                ))
            }
        };
        if i == 0 && role != "user" {
            return Err("messages: first message must use the \"user\" role".into());
        }
        if previous == Some(role) {
            return Err(format!("messages: roles must alternate between \"user\" and \"assistant\", but found multiple \"{role}\" roles in a row"));
        }
        previous = Some(role);
        let last_assistant = i + 1 == messages.len() && role == "assistant";
        let blocks: &[Value] = match &m["content"] {
            Value::String(s) if s.is_empty() && !last_assistant => {
                return Err(format!("messages.{i}: all messages must have non-empty content except for the optional final assistant message"))
            }
            Value::String(_) => &[],
            Value::Array(b) if b.is_empty() && !last_assistant => {
                return Err(format!("messages.{i}: all messages must have non-empty content except for the optional final assistant message"))
            }
            Value::Array(b) => b,
            _ => return Err(format!("messages.{i}.content: Input should be a valid string or a list of content blocks")),
        };
        let mut uses = Vec::new();
        let mut results = Vec::new();
        for (j, b) in blocks.iter().enumerate() {
            let at = format!("messages.{i}.content.{j}");
            let ty = b["type"].as_str().unwrap_or("");
            if !BLOCK_TYPES.contains(&ty) {
                return Err(format!("{at}: Input tag '{ty}' found using 'type' does not match any of the expected tags: {}", BLOCK_TYPES.map(|t| format!("'{t}'")).join(", ")));
            }
            match ty {
                "text" if !b["text"].is_string() => return Err(format!("{at}.text: Field required")),
                "image" if !b["source"]["type"].as_str().is_some_and(|t| ["base64", "url", "file"].contains(&t)) => {
                    return Err(format!("{at}.source: Input tag does not match any of the expected tags: 'base64', 'url', 'file'"))
                }
                "tool_use" => {
                    let id = b["id"].as_str().ok_or(format!("{at}.id: Field required"))?;
                    if !b["name"].is_string() {
                        return Err(format!("{at}.name: Field required"));
                    }
                    if !b["input"].is_object() {
                        return Err(format!("{at}.input: Input should be a valid dictionary"));
                    }
                    uses.push(id);
                }
                "tool_result" => {
                    let id = b["tool_use_id"].as_str().ok_or(format!("{at}.tool_use_id: Field required"))?;
                    if !pending.contains(&id) {
                        return Err(format!("{at}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."));
                    }
                    results.push(id);
                }
                _ => {}
            }
        }
        let unanswered: Vec<&str> = pending
            .iter()
            .filter(|id| !results.contains(id))
            .copied()
            .collect();
        if !unanswered.is_empty() {
            return Err(format!("messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", unanswered.join(", ")));
        }
        pending = uses;
    }
    Ok(())
}
