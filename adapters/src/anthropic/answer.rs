//! A whole Anthropic message as an OpenAI `chat.completion`, and Anthropic's usage and errors
//! in OpenAI's terms.

use crate::error::AttemptError;
use crate::reply::Usage;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

/// Anthropic's `usage`. Input tokens exclude cache writes and reads, which are counted apart.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Takes the fields `later` reports: stream events report running totals.
    pub(crate) fn update(&mut self, later: WireUsage) {
        let keep = |a: &mut Option<u64>, b: Option<u64>| {
            if b.is_some() {
                *a = b;
            }
        };
        keep(&mut self.input_tokens, later.input_tokens);
        keep(&mut self.output_tokens, later.output_tokens);
        keep(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        keep(
            &mut self.cache_read_input_tokens,
            later.cache_read_input_tokens,
        );
    }

    /// In OpenAI's terms: the prompt counts every input token, cache writes and reads
    /// included; reads are the cached tokens.
    pub(crate) fn to_usage(self) -> Usage {
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let write = self.cache_creation_input_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: self.input_tokens.unwrap_or(0) + read + write,
            completion_tokens: self.output_tokens.unwrap_or(0),
            cached_tokens: read,
            cache_write_tokens: write,
        }
    }
}

/// OpenAI's finish reason for an Anthropic stop reason.
pub(crate) fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        // end_turn, stop_sequence, pause_turn
        _ => "stop",
    }
}

/// A chat completion id for an Anthropic message id.
pub(crate) fn completion_id(message_id: &str) -> String {
    format!(
        "chatcmpl-{}",
        message_id.strip_prefix("msg_").unwrap_or(message_id)
    )
}

#[derive(Deserialize)]
struct Message {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    content: Vec<Value>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// The chat completion for a whole Messages answer; `json_tool` when the answer is the forced
/// JSON tool's input. A 200 that is not a message is the backend's fault.
pub(crate) fn complete(
    body: &[u8],
    model: &str,
    json_tool: bool,
    created: u64,
) -> Result<(Bytes, Option<Usage>), AttemptError> {
    let msg: Message = serde_json::from_slice(body).map_err(|e| {
        AttemptError::Protocol(format!("the backend answered 200, but not a message: {e}"))
    })?;
    if msg.kind != "message" {
        return Err(AttemptError::Protocol(format!(
            "the backend answered 200, but with a '{}' object instead of a message",
            msg.kind
        )));
    }
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in &msg.content {
        match block["type"].as_str() {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or("")),
            Some("tool_use") if json_tool => text.push_str(&block["input"].to_string()),
            Some("tool_use") => calls.push(json!({
                "id": block["id"],
                "type": "function",
                "function": {"name": block["name"], "arguments": block["input"].to_string()},
            })),
            // Thinking blocks are the model's own; chat completions have no place for them.
            _ => {}
        }
    }
    let finish = if json_tool {
        match finish_reason(msg.stop_reason.as_deref()) {
            "tool_calls" => "stop",
            other => other,
        }
    } else {
        finish_reason(msg.stop_reason.as_deref())
    };
    let mut message = json!({"role": "assistant", "content": (!text.is_empty() || calls.is_empty()).then_some(text)});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let usage = msg.usage.map(WireUsage::to_usage);
    let mut out = json!({
        "id": completion_id(&msg.id),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
    });
    if let Some(u) = usage {
        out["usage"] = u.to_openai_json(0);
    }
    Ok((Bytes::from(out.to_string()), usage))
}

/// The message of an Anthropic error body (`{"type":"error","error":{"message":…}}`).
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.pointer("/error/message")?.as_str().map(str::to_string)
}

/// The HTTP status an Anthropic error type stands for, for an `error` event mid-stream.
pub(crate) fn error_status(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_becomes_a_completion_with_openai_usage() {
        let body = br#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-x","content":[{"type":"thinking","thinking":"hm","signature":"s"},{"type":"text","text":"Let me check."},{"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Oslo"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":7,"cache_creation_input_tokens":20,"cache_read_input_tokens":30}}"#;
        let (out, usage) = complete(body, "route-model", false, 1).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["id"], "chatcmpl-01");
        assert_eq!(v["model"], "route-model");
        let c = &v["choices"][0];
        assert_eq!(c["message"]["content"], "Let me check.");
        assert_eq!(
            c["message"]["tool_calls"][0]["function"]["arguments"],
            "{\"city\":\"Oslo\"}"
        );
        assert_eq!(c["finish_reason"], "tool_calls");
        let u = usage.unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.cached_tokens,
                u.cache_write_tokens,
                u.completion_tokens
            ),
            (60, 30, 20, 7)
        );
        assert_eq!(v["usage"]["prompt_tokens"], 60);
        assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 30);
    }

    #[test]
    fn the_forced_json_tool_is_the_answer() {
        let body = br#"{"id":"msg_2","type":"message","content":[{"type":"tool_use","id":"t","name":"json_answer","input":{"a":1}}],"stop_reason":"tool_use","usage":{"input_tokens":3,"output_tokens":2}}"#;
        let (out, _) = complete(body, "m", true, 1).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "{\"a\":1}");
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert!(v["choices"][0]["message"].get("tool_calls").is_none());
    }

    #[test]
    fn stop_reasons_and_garbage() {
        assert_eq!(finish_reason(Some("max_tokens")), "length");
        assert_eq!(finish_reason(Some("stop_sequence")), "stop");
        assert_eq!(finish_reason(Some("refusal")), "content_filter");
        assert!(complete(b"<html>", "m", false, 1)
            .unwrap_err()
            .may_fail_over());
        assert!(complete(br#"{"type":"error"}"#, "m", false, 1).is_err());
        assert_eq!(error_status("overloaded_error"), 529);
    }
}
