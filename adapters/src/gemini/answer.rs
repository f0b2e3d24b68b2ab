//! A whole Gemini answer as an OpenAI `chat.completion`, and the mapping both it and the
//! stream share: finish reasons, blocked prompts, ids and error messages.

use super::wire::{parse, Response};
use crate::dialect::chat::Finish;
use crate::error::AttemptError;
use crate::reply::Usage;
use bytes::Bytes;
use serde_json::{json, Value};

/// The message of a Google error body: `{"error": {...}}`, or a list holding one (the stream
/// endpoint answers errors so).
pub(crate) fn google_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let e = match &v {
        Value::Array(list) => list.first()?.get("error")?,
        other => other.get("error")?,
    };
    e.get("message")?.as_str().map(str::to_string)
}

/// The refusal of a prompt Gemini blocked before answering (a 400 `content_blocked` for the
/// client; it fails over only where the route allows it), when the response says so.
pub(crate) fn blocked(r: &Response<'_>) -> Result<(), AttemptError> {
    match r
        .prompt_feedback
        .as_ref()
        .and_then(|f| f.block_reason.as_deref())
    {
        Some(reason) => Err(AttemptError::Blocked {
            message: format!("the model's provider blocked the prompt (blockReason: {reason})"),
        }),
        None => Ok(()),
    }
}

/// Why the candidate ended, in chat terms; a malformed call is the model failing.
pub(crate) fn finish(reason: &str) -> Result<Finish, AttemptError> {
    Ok(match reason {
        "MAX_TOKENS" => Finish::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION"
        | "LANGUAGE" => Finish::ContentFilter,
        "MALFORMED_FUNCTION_CALL" | "UNEXPECTED_TOOL_CALL" => {
            return Err(AttemptError::Protocol(format!(
                "the model produced an invalid function call (finishReason {reason})"
            )))
        }
        _ => Finish::Stop,
    })
}

/// The `finish_reason` string of a chat answer.
pub(crate) fn finish_str(f: Finish) -> &'static str {
    match f {
        Finish::Stop => "stop",
        Finish::Length => "length",
        Finish::ToolCalls => "tool_calls",
        Finish::ContentFilter => "content_filter",
    }
}

/// The chat id for a Gemini response id, or a fresh one.
pub(crate) fn chat_id(response_id: Option<&str>) -> String {
    match response_id.filter(|id| !id.is_empty()) {
        Some(id) => format!("chatcmpl-{id}"),
        None => format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
    }
}

/// A whole Gemini answer as a `chat.completion` body, with its usage.
pub(crate) fn to_completion(
    body: &[u8],
    model: &str,
) -> Result<(Bytes, Option<Usage>), AttemptError> {
    let r = parse(body).map_err(|e| {
        AttemptError::Protocol(format!(
            "the backend answered 200, but not with a Gemini response: {e}"
        ))
    })?;
    let Some(candidate) = r.candidates.0.as_ref() else {
        blocked(&r)?;
        return Err(AttemptError::Protocol(
            "the backend answered 200, but with no candidate".into(),
        ));
    };
    let id = chat_id(r.response_id.as_deref());
    let mut text = String::new();
    let mut calls = Vec::new();
    for part in candidate.content.iter().flat_map(|c| c.parts.iter()) {
        if let Some(t) = part.answer_text() {
            text.push_str(t);
        }
        if let Some(f) = &part.function_call {
            calls.push(f.tool_call(&id, calls.len(), part.thought_signature.as_deref()));
        }
    }
    let mut finish = finish(candidate.finish_reason.as_deref().unwrap_or("STOP"))?;
    if !calls.is_empty() && finish == Finish::Stop {
        finish = Finish::ToolCalls;
    }
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() { Value::Null } else { Value::String(text) },
    });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let usage = r.usage_metadata.map(|u| u.usage());
    let mut completion = json!({
        "id": id,
        "object": "chat.completion",
        "created": crate::reply::unix_now(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": finish_str(finish),
            "logprobs": null,
        }],
    });
    if let Some((u, reasoning)) = usage {
        completion["usage"] = u.to_openai_json(reasoning);
    }
    let bytes = serde_json::to_vec(&completion)
        .map_err(|e| AttemptError::Protocol(format!("could not encode the answer: {e}")))?;
    Ok((Bytes::from(bytes), usage.map(|(u, _)| u)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: Value) -> Result<(Value, Option<Usage>), AttemptError> {
        let (bytes, usage) = to_completion(body.to_string().as_bytes(), "gemini-x")?;
        Ok((serde_json::from_slice(&bytes).unwrap(), usage))
    }

    #[test]
    fn text_answer_with_usage() {
        let (c, usage) = run(json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"text": "Let me think", "thought": true},
                {"text": "Hello, "}, {"text": "world."}]},
                "finishReason": "STOP", "index": 0, "safetyRatings": []}],
            "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 5,
                "thoughtsTokenCount": 20, "cachedContentTokenCount": 60,
                "toolUsePromptTokenCount": 3, "totalTokenCount": 128},
            "modelVersion": "gemini-x-001", "responseId": "abc"}))
        .unwrap();
        assert_eq!(c["id"], "chatcmpl-abc");
        assert_eq!(c["object"], "chat.completion");
        assert_eq!(c["model"], "gemini-x");
        assert!(c["created"].as_u64().unwrap() > 1_600_000_000);
        let choice = &c["choices"][0];
        assert_eq!(
            choice["message"],
            json!({"role": "assistant", "content": "Hello, world."})
        );
        assert_eq!(choice["finish_reason"], "stop");
        assert_eq!(choice["logprobs"], Value::Null);
        assert_eq!(
            usage,
            Some(Usage {
                prompt_tokens: 103,
                completion_tokens: 25,
                cached_tokens: 60,
                cache_write_tokens: 0
            })
        );
        assert_eq!(c["usage"]["total_tokens"], 128);
        assert_eq!(
            c["usage"]["completion_tokens_details"]["reasoning_tokens"],
            20
        );
        assert_eq!(c["usage"]["prompt_tokens_details"]["cached_tokens"], 60);
        // The gateway's own reader finds the same counts in the body.
        assert_eq!(
            Usage::from_completion(c.to_string().as_bytes()).unwrap(),
            usage
        );
    }

    #[test]
    fn function_calls_become_tool_calls() {
        let (c, usage) = run(json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"name": "weather", "args": {"city": "Oslo"}}, "thoughtSignature": "c2ln"},
                {"functionCall": {"name": "time", "id": "fc-9"}}]},
                "finishReason": "STOP"}]}))
        .unwrap();
        assert_eq!(usage, None);
        assert!(c.get("usage").is_none());
        let mut c = c;
        let chat = c["id"]
            .as_str()
            .unwrap()
            .strip_prefix("chatcmpl-")
            .unwrap()
            .to_string();
        let made = &mut c["choices"][0]["message"]["tool_calls"][0]["id"];
        assert_eq!(*made, format!("call_{chat}_0"), "unique to this answer");
        *made = "call_0".into();
        let choice = &c["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], Value::Null);
        assert_eq!(
            choice["message"]["tool_calls"],
            json!([
                {"id": "call_0", "type": "function",
                 "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"},
                 "extra_content": {"google": {"thought_signature": "c2ln"}}},
                {"id": "fc-9", "type": "function", "function": {"name": "time", "arguments": "{}"}}
            ])
        );
    }

    #[test]
    fn finish_reasons() {
        let reason = |r: &str| {
            run(json!({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": r}]}))
                .map(|(c, _)| {
                    c["choices"][0]["finish_reason"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
        };
        assert_eq!(reason("MAX_TOKENS").unwrap(), "length");
        assert_eq!(reason("SAFETY").unwrap(), "content_filter");
        assert_eq!(reason("RECITATION").unwrap(), "content_filter");
        assert_eq!(reason("OTHER").unwrap(), "stop");
        assert_eq!(reason("SOMETHING_NEW").unwrap(), "stop");
        assert!(matches!(
            reason("MALFORMED_FUNCTION_CALL"),
            Err(AttemptError::Protocol(_))
        ));
        // A candidate the filter emptied has no content at all.
        let (c, _) = run(json!({"candidates": [{"finishReason": "SAFETY"}]})).unwrap();
        assert_eq!(c["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(c["choices"][0]["finish_reason"], "content_filter");
    }

    #[test]
    fn a_blocked_prompt_is_refused_and_garbage_fails_over() {
        match run(json!({"promptFeedback": {"blockReason": "SAFETY"},
            "usageMetadata": {"promptTokenCount": 4}}))
        {
            Err(e @ AttemptError::Blocked { .. }) => {
                assert!(e.to_string().contains("blockReason: SAFETY"), "{e}");
                assert_eq!(e.label(), "content_blocked");
                assert!(!e.may_fail_over());
            }
            other => panic!("{other:?}"),
        }
        for body in [&b"<html>"[..], b"{\"candidates\":[]}", b"[1]", b""] {
            let e = to_completion(body, "m").unwrap_err();
            assert!(
                matches!(&e, AttemptError::Protocol(m) if m.contains("answered 200")),
                "{e:?}"
            );
            assert!(e.may_fail_over());
        }
    }

    #[test]
    fn google_error_bodies_give_their_message() {
        let body =
            br#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}"#;
        assert_eq!(google_message(body).as_deref(), Some("Quota exceeded"));
        let body = br#"[{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}]"#;
        assert_eq!(google_message(body).as_deref(), Some("bad"));
        assert_eq!(google_message(b"oops"), None);
    }
}
