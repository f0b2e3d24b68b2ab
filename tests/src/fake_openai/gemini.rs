//! The Google Gemini API: `POST /v1beta/models/{model}:generateContent` and
//! `…:streamGenerateContent` (`?alt=sse` for SSE, otherwise a JSON array sent as it grows).
//!
//! Shapes from googleapis/python-genai `google/genai/types.py` (`GenerateContentResponse`,
//! `Candidate`, `GenerateContentResponseUsageMetadata`, `GenerateContentResponsePromptFeedback`,
//! `SafetyRating`, `FinishReason`, `BlockedReason`) in the REST API's camelCase, its SSE reading
//! in `google/genai/_api_client.py`, and the `\r\n\r\n` event ending that
//! google-gemini/generative-ai-js's `src/requests/stream-reader.ts` parses. Errors are Google's
//! `{"error": {"code", "message", "status"}}` with the canonical status names.

use super::wire::{self, bytes_response, field, status_code, text_of, Body, Ending, Finish, SSE};
use super::{Behavior, Knobs, Shared};
use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const RESPONSE_ID: &str = "fakeUpstreamResponse01";
const JSON: &str = "application/json; charset=UTF-8";

/// What the path and headers asked.
pub(super) struct Ask<'a> {
    pub model: &'a str,
    pub stream: bool,
    /// `alt=sse`: SSE events rather than a streamed JSON array.
    pub sse: bool,
    /// An API key came, in `x-goog-api-key` or the `key` query parameter.
    pub keyed: bool,
}

/// Google's canonical status name for an HTTP status.
fn status_name(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

pub(super) fn error(code: u16, message: &str) -> Response<Body> {
    error_with(code, message, None)
}

fn error_with(code: u16, message: &str, details: Option<Value>) -> Response<Body> {
    let mut error = json!({"code": code, "message": message, "status": status_name(code)});
    if let Some(d) = details {
        error["details"] = d;
    }
    let body = json!({ "error": error });
    bytes_response(status_code(code), JSON, Bytes::from(body.to_string()))
}

/// Words of one `Content` for [`super::prompt_tokens`]: its text parts joined, and each
/// function response apart.
pub(super) fn content_words(content: &Value) -> u64 {
    let parts = field(content, "parts");
    let results: u64 = parts
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter_map(function_result)
                .map(|r| wire::words(&r))
                .sum()
        })
        .unwrap_or(0);
    wire::words(&text_of(parts)) + results
}

/// A `functionResponse` part's result as text: `response.content` when it is a string (what
/// a translated tool message carries), else the response as compact JSON.
fn function_result(part: &Value) -> Option<String> {
    let fr = field(part, "functionResponse");
    if fr.is_null() {
        return None;
    }
    Some(match &fr["response"]["content"] {
        Value::String(s) => s.clone(),
        _ => fr["response"].to_string(),
    })
}

struct Ctx<'a> {
    model: &'a str,
    prompt: u64,
    knobs: Knobs,
}

impl Ctx<'_> {
    /// The final usage; `thoughtsTokenCount` and `cachedContentTokenCount` appear only when
    /// non-zero, as the API omits them.
    fn usage(&self, candidates: Option<u64>) -> Value {
        let thoughts = candidates.map_or(0, |_| self.knobs.thoughts);
        let mut usage = json!({
            "promptTokenCount": self.prompt,
            "totalTokenCount": self.prompt + candidates.unwrap_or(0) + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": self.prompt}],
        });
        if let Some(c) = candidates {
            usage["candidatesTokenCount"] = c.into();
        }
        if self.knobs.cache_read > 0 {
            usage["cachedContentTokenCount"] = self.knobs.cache_read.into();
        }
        if thoughts > 0 {
            usage["thoughtsTokenCount"] = thoughts.into();
        }
        usage
    }

    fn response(&self, parts: Value, finish: Option<&str>, usage: Value) -> Value {
        let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
        if let Some(f) = finish {
            candidate["finishReason"] = f.into();
        }
        json!({"candidates": [candidate], "usageMetadata": usage, "modelVersion": self.model, "responseId": RESPONSE_ID})
    }

    /// A finished answer of these parts.
    fn whole(&self, parts: Value, finish: &str, tokens: u64) -> Value {
        self.response(parts, Some(finish), self.usage(Some(tokens)))
    }

    /// One text piece of a stream still going: the API's mid-stream chunks carry only the
    /// prompt's count, so whoever keeps the first usage it sees is wrong.
    fn piece(&self, text: &str) -> Value {
        let usage = json!({"promptTokenCount": self.prompt, "totalTokenCount": self.prompt,
                           "promptTokensDetails": [{"modality": "TEXT", "tokenCount": self.prompt}]});
        self.response(json!([{"text": text}]), None, usage)
    }

    /// A text stream: each piece its own event, the last one also carrying the finish reason
    /// and the final usage, as the API sends it.
    fn text_events(&self, pieces: &[String], finish: &str, tokens: u64) -> Vec<Value> {
        let (last, rest) = match pieces.split_last() {
            Some((last, rest)) => (last.as_str(), rest),
            None => ("", pieces),
        };
        let mut events: Vec<Value> = rest.iter().map(|p| self.piece(p)).collect();
        events.push(self.whole(json!([{"text": last}]), finish, tokens));
        events
    }

    fn blocked(&self) -> Value {
        json!({
            "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
                {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
                {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
                {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true},
            ]},
            "usageMetadata": self.usage(None),
            "modelVersion": self.model,
            "responseId": RESPONSE_ID,
        })
    }
}

/// Sends stream events: SSE `data:` events ending `\r\n\r\n`, or the elements of one JSON
/// array (closed only when the stream ends cleanly).
fn send(
    events: &[Value],
    ending: Ending,
    sse: bool,
    gap: Duration,
    state: Arc<Shared>,
) -> Response<Body> {
    if sse {
        let wire = events
            .iter()
            .map(|e| format!("data: {e}\r\n\r\n").into_bytes())
            .collect();
        return wire::stream(wire, ending, gap, state, SSE);
    }
    let mut wire: Vec<Vec<u8>> = events
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{}{e}", if i == 0 { "[" } else { ",\r\n" }).into_bytes())
        .collect();
    if matches!(ending, Ending::Clean) {
        wire.push(if events.is_empty() {
            b"[]".to_vec()
        } else {
            b"]".to_vec()
        });
    }
    wire::stream(wire, ending, gap, state, JSON)
}

fn ok(body: Value) -> Response<Body> {
    bytes_response(StatusCode::OK, JSON, Bytes::from(body.to_string()))
}

pub(super) async fn respond(
    body: &Value,
    ask: Ask<'_>,
    behavior: Behavior,
    state: Arc<Shared>,
) -> Response<Body> {
    if !ask.keyed {
        return error(403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
    }
    if let Err(message) = validate(body) {
        return error(400, &message);
    }
    let ctx = Ctx {
        model: ask.model,
        prompt: super::prompt_tokens(body),
        knobs: state.knobs(),
    };
    let config = field(body, "generationConfig");
    let cut =
        |n: usize| -> Vec<Value> { (0..n).map(|i| ctx.piece(&format!("part{i} "))).collect() };
    let (stream, sse) = (ask.stream, ask.sse);
    let partial: &'static [u8] = if sse {
        b"data: {\"candidates\": [{\"conte"
    } else {
        b",\r\n{\"candidates\": [{\"conte"
    };
    match behavior {
        Behavior::Status {
            status,
            retry_after,
        } => {
            // Google sends no Retry-After header: the delay is a RetryInfo detail.
            let details = retry_after.map(|s| json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{s}s")}]));
            error_with(status, &format!("fake upstream says {status}"), details)
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
                field(config, "maxOutputTokens").as_u64(),
                field(config, "stopSequences"),
                &ctx.knobs,
            );
            // A stop sequence ends the turn as STOP: Gemini has no reason of its own for it.
            let finish = match limited.finish {
                Finish::Length => "MAX_TOKENS",
                Finish::End | Finish::Stop(_) => "STOP",
            };
            if !stream {
                return ok(ctx.whole(json!([{"text": limited.text()}]), finish, limited.tokens()));
            }
            let events = ctx.text_events(&limited.pieces, finish, limited.tokens());
            send(&events, Ending::Clean, sse, event_gap, state)
        }
        Behavior::CutAfter { events } => send(
            &cut(events),
            Ending::Break(partial),
            sse,
            Duration::ZERO,
            state,
        ),
        // Gemini has no error event: a failure after the 200 breaks the stream between events.
        Behavior::StreamError { events } => {
            send(&cut(events), Ending::Break(b""), sse, Duration::ZERO, state)
        }
        Behavior::EndWithoutDone { events } => {
            send(&cut(events), Ending::Clean, sse, Duration::ZERO, state)
        }
        Behavior::StallAfterFirst => send(&cut(1), Ending::Stall, sse, Duration::ZERO, state),
        Behavior::Blocked => {
            // The API blocks a prompt with a 200 that has `promptFeedback` and no candidates;
            // streamed, that is the only event.
            if !stream {
                return ok(ctx.blocked());
            }
            send(&[ctx.blocked()], Ending::Clean, sse, Duration::ZERO, state)
        }
        Behavior::Garbage { content_type, body } => wire::garbage(content_type, body),
        Behavior::StallBody => {
            wire::stall_body(b"{\n  \"candidates\": [\n    {\n      \"cont", state)
        }
        Behavior::SlowBody { pieces, gap } => {
            let whole = ctx.whole(json!([{"text": "a long answer"}]), "STOP", 3);
            wire::slow_body(whole.to_string().into_bytes(), pieces, gap)
        }
        Behavior::Echo { chunk_chars } => {
            let text = field(body, "contents")
                .as_array()
                .and_then(|cs| cs.iter().rev().find(|c| c["role"] != "model"))
                .map(|c| text_of(field(c, "parts")))
                .unwrap_or_default();
            if !stream {
                return ok(ctx.whole(json!([{"text": text}]), "STOP", 1));
            }
            let events = ctx.text_events(&wire::char_chunks(&text, chunk_chars), "STOP", 1);
            send(&events, Ending::Clean, sse, Duration::ZERO, state)
        }
        Behavior::Tools {
            name,
            arguments,
            reply,
        } => {
            let last = field(body, "contents")
                .as_array()
                .and_then(|cs| cs.last())
                .cloned()
                .unwrap_or(Value::Null);
            let offered = field(body, "tools").as_array().is_some_and(|ts| {
                ts.iter().any(|t| {
                    field(t, "functionDeclarations")
                        .as_array()
                        .is_some_and(|fs| fs.iter().any(|f| f["name"] == name.as_str()))
                })
            });
            let result = field(&last, "parts")
                .as_array()
                .and_then(|ps| ps.iter().rev().find_map(function_result));
            // Function calls come whole, in one event: Gemini does not stream their arguments.
            let parts = if offered && result.is_none() {
                let args: Value = serde_json::from_str(&arguments).unwrap_or_else(|_| json!({}));
                json!([{"functionCall": {"name": name, "args": args}}])
            } else {
                let result = result.unwrap_or_else(|| text_of(field(&last, "parts")));
                json!([{"text": format!("{reply} tool said: {result}")}])
            };
            let answer = ctx.whole(parts, "STOP", 3);
            if !stream {
                return ok(answer);
            }
            send(&[answer], Ending::Clean, sse, Duration::ZERO, state)
        }
    }
}

const REQUEST_FIELDS: [&str; 8] = [
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
    "safetySettings",
    "cachedContent",
    "labels",
];

const CONFIG_FIELDS: [&str; 22] = [
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseModalities",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "enableEnhancedCivicAnswers",
    "speechConfig",
    "thinkingConfig",
    "mediaResolution",
    "imageConfig",
    "routingConfig",
    "audioTimestamp",
];

/// The `Part.data` oneof and the metadata a part may carry beside it.
const PART_DATA: [&str; 7] = [
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
];
const PART_META: [&str; 4] = [
    "thought",
    "thoughtSignature",
    "videoMetadata",
    "partMetadata",
];

fn unknown(name: &str, at: &str) -> String {
    if at.is_empty() {
        format!("Invalid JSON payload received. Unknown name \"{name}\": Cannot find field.")
    } else {
        format!(
            "Invalid JSON payload received. Unknown name \"{name}\" at '{at}': Cannot find field."
        )
    }
}

/// The request rules the API enforces with a 400 `INVALID_ARGUMENT`; field names are
/// accepted in camelCase or snake_case, as Google's JSON mapping does.
fn validate(body: &Value) -> Result<(), String> {
    let obj = body
        .as_object()
        .ok_or("Invalid JSON payload received. Expected an object.")?;
    if let Some(k) = obj
        .keys()
        .find(|k| !REQUEST_FIELDS.contains(&wire::camel(k).as_str()))
    {
        return Err(unknown(k, ""));
    }
    let contents = match field(body, "contents").as_array() {
        Some(cs) if !cs.is_empty() => cs,
        _ => return Err("* GenerateContentRequest.contents: contents is not specified\n".into()),
    };
    for (i, c) in contents.iter().enumerate() {
        match c["role"].as_str() {
            None | Some("" | "user" | "model") => {}
            Some(_) => return Err("Please use a valid role: user, model.".into()),
        }
        validate_parts(c, &format!("contents[{i}]"))?;
    }
    let system = field(body, "systemInstruction");
    if !system.is_null() {
        validate_parts(system, "system_instruction")?;
    }
    let config = field(body, "generationConfig");
    if let Some(config) = config.as_object() {
        if let Some(k) = config
            .keys()
            .find(|k| !CONFIG_FIELDS.contains(&wire::camel(k).as_str()))
        {
            return Err(unknown(k, "generation_config"));
        }
        let get = |name: &str| config.get(name).or_else(|| config.get(&wire::snake(name)));
        for name in ["maxOutputTokens", "candidateCount", "topK", "seed"] {
            if let Some(v) = get(name).filter(|v| v.as_i64().is_none()) {
                return Err(format!(
                    "Invalid value at 'generation_config.{}' (TYPE_INT32), {v}",
                    wire::snake(name)
                ));
            }
        }
        for name in ["temperature", "topP"] {
            if let Some(v) = get(name).filter(|v| !v.is_number()) {
                return Err(format!(
                    "Invalid value at 'generation_config.{}' (TYPE_FLOAT), {v}",
                    wire::snake(name)
                ));
            }
        }
        if let Some(v) = get("stopSequences")
            .filter(|v| !v.as_array().is_some_and(|s| s.iter().all(Value::is_string)))
        {
            return Err(format!(
                "Invalid value at 'generation_config.stop_sequences' (TYPE_STRING), {v}"
            ));
        }
    } else if !config.is_null() {
        return Err(format!("Invalid value at 'generation_config' (type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig), {config}"));
    }
    if let Some(tools) = field(body, "tools").as_array() {
        for (i, t) in tools.iter().enumerate() {
            let decls = field(t, "functionDeclarations");
            for (j, f) in decls
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .enumerate()
            {
                if f["name"].as_str().is_none_or(str::is_empty) {
                    return Err(format!("* GenerateContentRequest.tools[{i}].function_declarations[{j}].name: Name cannot be empty.\n"));
                }
            }
        }
    }
    let mode = field(
        field(field(body, "toolConfig"), "functionCallingConfig"),
        "mode",
    );
    if !mode.is_null()
        && !["AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED"]
            .contains(&mode.as_str().unwrap_or(""))
    {
        return Err(format!("Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), {mode}"));
    }
    Ok(())
}

fn validate_parts(content: &Value, at: &str) -> Result<(), String> {
    let parts = match field(content, "parts").as_array() {
        Some(ps) if !ps.is_empty() => ps,
        _ => {
            return Err(format!(
                "* GenerateContentRequest.{at}.parts: contents.parts must not be empty.\n"
            ))
        }
    };
    for (j, p) in parts.iter().enumerate() {
        let here = format!("{at}.parts[{j}]");
        let obj = p.as_object().ok_or(format!("Invalid value at '{here}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Part), {p}"))?;
        let mut data = Vec::new();
        for k in obj.keys() {
            let name = wire::camel(k);
            if PART_DATA.contains(&name.as_str()) {
                data.push(name);
            } else if !PART_META.contains(&name.as_str()) {
                return Err(unknown(k, &here));
            }
        }
        match data.as_slice() {
            [] => return Err(format!("* GenerateContentRequest.{here}.data: required oneof field 'data' must have one initialized field\n")),
            [_] => {}
            [_, second, ..] => return Err(format!("Invalid JSON payload received. Oneof field 'data' is already set. Cannot set '{}'", wire::snake(second))),
        }
        if !p["text"].is_null() && !p["text"].is_string() {
            return Err(format!(
                "Invalid value at '{here}.text' (TYPE_STRING), {}",
                p["text"]
            ));
        }
        let call = field(p, "functionCall");
        if !call.is_null() {
            if call["name"].as_str().is_none_or(str::is_empty) {
                return Err(format!(
                    "* GenerateContentRequest.{here}.function_call.name: Name cannot be empty.\n"
                ));
            }
            if !call["args"].is_null() && !call["args"].is_object() {
                return Err(format!("Invalid value at '{here}.function_call.args' (type.googleapis.com/google.protobuf.Struct), {}", call["args"]));
            }
        }
        let response = field(p, "functionResponse");
        if !response.is_null() {
            if response["name"].as_str().is_none_or(str::is_empty) {
                return Err(format!("* GenerateContentRequest.{here}.function_response.name: Name cannot be empty.\n"));
            }
            // A Struct: a tool's plain-string result must be wrapped in an object.
            if !response["response"].is_object() {
                return Err(format!("Invalid value at '{here}.function_response.response' (type.googleapis.com/google.protobuf.Struct), {}", response["response"]));
            }
        }
        let inline = field(p, "inlineData");
        let complete = field(inline, "mimeType").is_string() && inline["data"].is_string();
        if !inline.is_null() && !complete {
            return Err(format!(
                "* GenerateContentRequest.{here}.inline_data: mime_type and data are required\n"
            ));
        }
    }
    Ok(())
}
