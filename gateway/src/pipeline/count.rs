//! Usage for answers whose backend reported none: counted by the model's own tokenizer where
//! the gateway can reach it, estimated from bytes otherwise, and always said which. A client
//! that asked for a stream's usage chunk gets one either way, and a whole answer without
//! `usage` gets it filled in, so what the client sees is what the ledger records.

use super::trace::Trace;
use bytes::Bytes;
use serde_json::{json, Value};
use tollgate_adapters::tokens::{Counted, Counter};
use tollgate_adapters::{ChatRequest, Usage};
use tollgate_metering::TokenSource;

/// What counts the served answer's tokens: its model's counter and the request as it was sent
/// to the backend (the redacted copy, when it was redacted).
#[derive(Clone, Copy)]
pub struct Counting<'a> {
    /// The served model's counter.
    pub counter: &'a Counter,
    /// The request the backend received.
    pub sent: &'a ChatRequest,
}

impl Counting<'_> {
    /// Whether the answer's text must be kept as it passes: only a tokenizer can use it.
    pub fn wants_text(&self) -> bool {
        self.counter.is_tokenizer()
    }

    /// Counts the prompt and the answer into `rec`, unless the backend reported usage.
    pub async fn fill(&self, rec: &mut Trace, answer: Answered<'_>) {
        if rec.usage.is_some() {
            return;
        }
        let prompt_bytes = rec.metered.prompt_bytes.unwrap_or(0);
        let prompt = self.counter.prompt(self.sent, prompt_bytes).await;
        let completion = match answer {
            Answered::Whole(Some(text)) => self.counter.completion(text).await,
            Answered::Streamed(Some(text), deltas) => {
                self.counter.streamed_completion(text, deltas).await
            }
            Answered::Whole(None) | Answered::Streamed(None, _) => {
                Counted::estimate(rec.metered.tap.content_bytes)
            }
        };
        rec.usage = Some(Usage {
            prompt_tokens: prompt.tokens,
            completion_tokens: completion.tokens,
            ..Usage::default()
        });
        rec.usage_source = if prompt.exact && completion.exact {
            TokenSource::Tokenizer
        } else {
            TokenSource::Estimate
        };
    }
}

/// What is known of the answer whose tokens are counted: its text when it was kept, and for
/// a stream the number of content chunks. Without the text, its size makes an estimate.
#[derive(Debug, Clone, Copy)]
pub enum Answered<'t> {
    /// A whole answer.
    Whole(Option<&'t str>),
    /// A stream, with its content chunks.
    Streamed(Option<&'t str>, u64),
}

/// The usage-only chunk OpenAI sends last for `stream_options.include_usage`, for a stream
/// whose backend sent none; `like` is one of the stream's chunks, whose id and model it
/// takes.
pub fn usage_chunk(like: Option<&[u8]>, usage: &Usage) -> Bytes {
    let first: Value = like
        .and_then(|c| serde_json::from_slice(c).ok())
        .unwrap_or(Value::Null);
    let mut chunk = json!({
        "id": first.get("id").cloned().unwrap_or_else(|| "chatcmpl-usage".into()),
        "object": "chat.completion.chunk",
        "created": first.get("created").cloned().unwrap_or(0.into()),
        "model": first.get("model").cloned().unwrap_or("".into()),
        "choices": [],
        "usage": usage.to_openai_json(0),
    });
    if let Some(fp) = first.get("system_fingerprint").filter(|v| !v.is_null()) {
        chunk["system_fingerprint"] = fp.clone();
    }
    Bytes::from(chunk.to_string())
}

/// The text a whole answer generated: every choice's content and tool-call arguments.
pub fn whole_text(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let mut text = String::new();
    for choice in v.get("choices")?.as_array()? {
        let Some(message) = choice.get("message") else {
            continue;
        };
        if let Some(content) = message.get("content").and_then(Value::as_str) {
            text.push_str(content);
        }
        for call in message
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str) {
                text.push_str(args);
            }
        }
    }
    Some(text)
}

/// A whole answer with `usage` filled in (it had none); the body as it was if it is not a
/// JSON object.
pub fn with_usage(body: &Bytes, usage: &Usage) -> Bytes {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut o)) => {
            o.insert("usage".into(), usage.to_openai_json(0));
            Bytes::from(Value::Object(o).to_string())
        }
        _ => body.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usage_chunk_takes_the_streams_id_and_model() {
        let like = br#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"gemma","choices":[]}"#;
        let u = Usage {
            prompt_tokens: 14,
            completion_tokens: 3,
            ..Usage::default()
        };
        let chunk: Value = serde_json::from_slice(&usage_chunk(Some(like), &u)).unwrap();
        assert_eq!(chunk["id"], "chatcmpl-1");
        assert_eq!(chunk["model"], "gemma");
        assert_eq!(chunk["choices"], json!([]));
        assert_eq!(chunk["usage"]["prompt_tokens"], 14);
        assert_eq!(chunk["usage"]["total_tokens"], 17);
        assert_eq!(Usage::from_openai_json(&usage_chunk(None, &u)), Some(u));
    }

    #[test]
    fn whole_answers_give_their_text_and_get_usage() {
        let body = br#"{"choices":[{"message":{"content":"hi ","tool_calls":[{"function":{"name":"f","arguments":"{}"}}]}}]}"#;
        assert_eq!(whole_text(body).as_deref(), Some("hi {}"));
        let u = Usage {
            prompt_tokens: 2,
            completion_tokens: 1,
            ..Usage::default()
        };
        let filled = with_usage(&Bytes::from_static(body), &u);
        assert_eq!(Usage::from_openai_json(&filled), Some(u));
    }
}
