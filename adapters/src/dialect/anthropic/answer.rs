//! Chat answers as Messages API answers: whole messages, stop reasons, usage and errors.

use super::Context;
use crate::dialect::chat::{Completion, Finish};
use crate::reply::Usage;
use bytes::Bytes;
use serde_json::{json, Value};

/// Anthropic's stop reason for a chat finish reason.
pub fn stop_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
        Finish::ContentFilter => "refusal",
    }
}

/// Anthropic's usage object: `input_tokens` counts what was neither written to nor read from
/// a cache, so cache reads are taken out of the chat prompt count.
pub fn usage_json(u: Usage) -> Value {
    json!({
        "input_tokens": u.prompt_tokens.saturating_sub(u.cached_tokens),
        "output_tokens": u.completion_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": u.cached_tokens,
    })
}

/// An Anthropic message id from a chat completion id.
pub fn message_id(chat_id: Option<&str>) -> String {
    let id = chat_id.unwrap_or("");
    let id = id.strip_prefix("chatcmpl-").unwrap_or(id);
    format!("msg_{id}")
}

/// The whole Messages answer for a whole chat answer.
pub fn from_chat(body: &[u8], cx: &Context) -> Result<Bytes, String> {
    let mut chat: Completion =
        serde_json::from_slice(body).map_err(|e| format!("not a chat completion: {e}"))?;
    let usage = chat.usage().unwrap_or_default();
    let choice = chat.choices.first();
    let mut content = Vec::new();
    let mut finish = Finish::Stop;
    if let Some(c) = choice {
        finish = c
            .finish_reason
            .as_deref()
            .map_or(Finish::Stop, Finish::parse);
        let m = &c.message;
        if let Some(refusal) = m.refusal.as_deref().filter(|r| !r.is_empty()) {
            content.push(json!({"type": "text", "text": refusal}));
            finish = Finish::ContentFilter;
        }
        if let Some(text) = m.content.as_deref().filter(|t| !t.is_empty()) {
            content.push(json!({"type": "text", "text": text}));
        }
        for call in &m.tool_calls {
            content.push(json!({
                "type": "tool_use",
                "id": call.id,
                "name": call.function.name,
                "input": tool_input(&call.function.arguments),
            }));
        }
    }
    let answer = json!({
        "id": message_id(chat.id.as_deref()),
        "type": "message",
        "role": "assistant",
        "model": cx.model,
        "content": content,
        "stop_reason": stop_reason(finish),
        "stop_sequence": null,
        "usage": usage_json(usage),
    });
    Ok(Bytes::from(answer.to_string()))
}

/// A tool call's arguments as the `input` object; arguments that are not JSON are kept as the
/// string the model wrote rather than lost.
pub fn tool_input(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return json!({});
    }
    serde_json::from_str(arguments).unwrap_or_else(|_| Value::String(arguments.to_string()))
}

/// Anthropic's error type for an HTTP status.
pub fn error_type(status: u16) -> &'static str {
    match status {
        400 | 405 | 409 | 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        _ => "api_error",
    }
}

/// An Anthropic-shaped error body.
pub fn error_body(status: u16, message: &str, request_id: &str) -> Bytes {
    Bytes::from(
        json!({
            "type": "error",
            "error": {"type": error_type(status), "message": message},
            "request_id": request_id,
        })
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_answer_becomes_a_message() {
        let body = br#"{"id":"chatcmpl-abc","choices":[{"index":0,"message":{"role":"assistant","content":"Sure.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":30,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":10}}}"#;
        let cx = Context {
            model: "claude-x".into(),
            dropped_tools: vec![],
        };
        let out = from_chat(body, &cx).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["id"], "msg_abc");
        assert_eq!(v["model"], "claude-x");
        assert_eq!(v["content"][0], json!({"type": "text", "text": "Sure."}));
        assert_eq!(v["content"][1]["input"], json!({"city": "Oslo"}));
        assert_eq!(v["stop_reason"], "tool_use");
        assert_eq!(v["usage"]["input_tokens"], 20);
        assert_eq!(v["usage"]["cache_read_input_tokens"], 10);
        assert_eq!(v["usage"]["output_tokens"], 7);
    }
}
