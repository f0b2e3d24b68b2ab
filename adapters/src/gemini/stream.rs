//! A Gemini event stream (`streamGenerateContent?alt=sse`) as OpenAI chunks.
//!
//! Every Gemini event is a whole `GenerateContentResponse` with the next pieces of the answer.
//! They become: a first chunk naming the assistant role, a chunk per text piece, a tool-call
//! delta per function call (Gemini sends each call whole), a chunk with the finish reason, and,
//! when the body ends, a usage chunk and `[DONE]`. A body that ends before a finish reason was
//! cut. Text chunks, the hot path, are written by hand around the escaped text.

use super::answer::{blocked, chat_id, finish, finish_str, google_message};
use super::wire::{parse, UsageMetadata};
use crate::chunk::ChunkWriter;
use crate::dialect::chat::Finish;
use crate::error::AttemptError;
use crate::reply::Event;
use crate::upstream::{openai_error_body, Decoder};
use bytes::Bytes;

/// Translates one stream, event by event.
#[derive(Debug)]
pub struct StreamDecoder {
    model: String,
    created: u64,
    /// The chunk writer, once the first event gave the id.
    writer: Option<ChunkWriter>,
    /// The answer's chat id, which its tool call ids are made from.
    id: String,
    /// Function calls relayed so far: the next one's index.
    calls: usize,
    finished: bool,
    usage: Option<UsageMetadata>,
}

impl StreamDecoder {
    /// A translator for a stream answered by `model`.
    pub fn new(model: &str) -> StreamDecoder {
        StreamDecoder {
            model: model.to_string(),
            created: crate::reply::unix_now(),
            writer: None,
            id: String::new(),
            calls: 0,
            finished: false,
            usage: None,
        }
    }

    /// Appends the chunks one Gemini event makes, or fails the stream (an error event, a
    /// blocked prompt, a malformed function call, bytes that are not a Gemini response).
    pub fn event(&mut self, data: &[u8], out: &mut Vec<Event>) -> Result<(), AttemptError> {
        let r = parse(data).map_err(|e| {
            AttemptError::Protocol(format!(
                "the backend sent an event that is not a Gemini response: {e}"
            ))
        })?;
        if let Some(e) = &r.error {
            let status = e.code.filter(|c| (400..=599).contains(c)).unwrap_or(500);
            return Err(openai_error_body(
                AttemptError::Status {
                    status,
                    body: Bytes::copy_from_slice(data),
                    retry_after: None,
                },
                google_message,
            ));
        }
        if let Some(u) = r.usage_metadata {
            self.usage = Some(u);
        }
        let Some(candidate) = r.candidates.0.as_ref() else {
            blocked(&r)?;
            return Ok(()); // usage alone, or nothing
        };
        if self.writer.is_none() {
            self.id = chat_id(r.response_id.as_deref());
            let w = ChunkWriter::new(&self.id, &self.model, self.created);
            out.push(w.role());
            self.writer = Some(w);
        }
        let Some(w) = &self.writer else {
            unreachable!("set above")
        };
        for part in candidate.content.iter().flat_map(|c| c.parts.iter()) {
            if let Some(text) = part.answer_text() {
                out.push(w.content(text));
            }
            if let Some(f) = &part.function_call {
                let mut call = f.tool_call(&self.id, self.calls, part.thought_signature.as_deref());
                call["index"] = self.calls.into();
                self.calls += 1;
                out.push(w.tool_call_json(&call));
            }
        }
        if let Some(reason) = candidate.finish_reason.as_deref() {
            let mut f = finish(reason)?;
            if self.calls > 0 && f == Finish::Stop {
                f = Finish::ToolCalls;
            }
            if !self.finished {
                self.finished = true;
                out.push(w.finish(finish_str(f)));
            }
        }
        Ok(())
    }

    /// Appends the usage chunk and `[DONE]`, or fails when no finish reason came: the stream
    /// was cut.
    pub fn end(&mut self, out: &mut Vec<Event>) -> Result<(), AttemptError> {
        if !self.finished {
            return Err(AttemptError::Protocol(
                "the backend's stream ended before the answer finished".into(),
            ));
        }
        if let (Some(u), Some(w)) = (self.usage, &self.writer) {
            let (usage, reasoning) = u.usage();
            out.push(w.usage(&usage, reasoning));
        }
        out.push(Event::Done);
        Ok(())
    }
}

impl Decoder for StreamDecoder {
    fn event(&mut self, data: &[u8], out: &mut Vec<Event>) -> Result<(), AttemptError> {
        StreamDecoder::event(self, data, out)
    }

    fn end(&mut self, out: &mut Vec<Event>) -> Result<(), AttemptError> {
        StreamDecoder::end(self, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Usage;
    use serde_json::{json, Value};

    /// Feeds the events and the end; the chunks as JSON (`[DONE]` as a string), and the error.
    fn run(events: &[&str]) -> (Vec<Value>, Option<AttemptError>) {
        let mut s = StreamDecoder::new("gemini-x");
        let mut out = Vec::new();
        let mut err = None;
        for e in events {
            if let Err(e) = s.event(e.as_bytes(), &mut out) {
                err = Some(e);
                break;
            }
        }
        if err.is_none() {
            err = s.end(&mut out).err();
        }
        let chunks = out
            .into_iter()
            .map(|e| match e {
                Event::Data(d) => serde_json::from_slice(&d).expect("chunks are JSON"),
                Event::Done => Value::from("[DONE]"),
            })
            .collect();
        (chunks, err)
    }

    const USAGE: &str = r#""usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":4,"thoughtsTokenCount":2,"cachedContentTokenCount":3,"totalTokenCount":16}"#;

    #[test]
    fn text_pieces_finish_usage_and_done() {
        let second = format!(
            r#"{{"candidates":[{{"content":{{"parts":[{{"text":" wor\"ld"}}],"role":"model"}},"finishReason":"STOP"}}],{USAGE},"responseId":"r1"}}"#
        );
        let (c, err) = run(&[
            r#"{"candidates":[{"content":{"parts":[{"text":"thinking","thought":true},{"text":"Hello"}],"role":"model"}}],"usageMetadata":{"promptTokenCount":10},"responseId":"r1"}"#,
            &second,
        ]);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(c.len(), 6, "{c:?}");
        for chunk in &c[..5] {
            assert_eq!(chunk["id"], "chatcmpl-r1");
            assert_eq!(chunk["object"], "chat.completion.chunk");
            assert_eq!(chunk["model"], "gemini-x");
            assert!(chunk["created"].is_u64());
        }
        assert_eq!(
            c[0]["choices"],
            json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}])
        );
        assert_eq!(c[1]["choices"][0]["delta"], json!({"content": "Hello"}));
        assert_eq!(c[1]["choices"][0]["finish_reason"], Value::Null);
        assert_eq!(c[2]["choices"][0]["delta"], json!({"content": " wor\"ld"}));
        assert_eq!(
            c[3]["choices"],
            json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}])
        );
        assert_eq!(c[4]["choices"], json!([]));
        assert_eq!(c[4]["usage"]["prompt_tokens"], 10);
        assert_eq!(c[4]["usage"]["completion_tokens"], 6);
        assert_eq!(
            c[4]["usage"]["completion_tokens_details"]["reasoning_tokens"],
            2
        );
        assert_eq!(c[5], "[DONE]");
        // The gateway's own readers: usage found, and the chunk is the usage-only one.
        let raw = c[4].to_string();
        assert!(raw.contains("\"choices\":[]"));
        assert_eq!(
            Usage::from_openai_json(raw.as_bytes()),
            Some(Usage {
                prompt_tokens: 10,
                completion_tokens: 6,
                cached_tokens: 3,
                cache_write_tokens: 0
            })
        );
    }

    #[test]
    fn function_calls_are_whole_tool_call_deltas() {
        let (mut c, err) = run(&[
            r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"weather","args":{"city":"Oslo"}},"thoughtSignature":"c2ln"}],"role":"model"}}]}"#,
            r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"time","args":{}}}],"role":"model"},"finishReason":"STOP"}]}"#,
        ]);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(c.len(), 5, "{c:?}");
        assert!(!c[0]["id"].as_str().unwrap().is_empty());
        let ids: Vec<String> = (1..3)
            .map(|i| {
                c[i]["choices"][0]["delta"]["tool_calls"][0]["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let chat = c[0]["id"]
            .as_str()
            .unwrap()
            .strip_prefix("chatcmpl-")
            .unwrap();
        assert_eq!(ids, [format!("call_{chat}_0"), format!("call_{chat}_1")]);
        c[1]["choices"][0]["delta"]["tool_calls"][0]["id"] = "call_0".into();
        assert_eq!(
            c[1]["choices"][0]["delta"]["tool_calls"],
            json!([{"index": 0, "id": "call_0", "type": "function",
                "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"},
                "extra_content": {"google": {"thought_signature": "c2ln"}}}])
        );
        assert_eq!(c[2]["choices"][0]["delta"]["tool_calls"][0]["index"], 1);
        assert_eq!(c[3]["choices"][0]["finish_reason"], "tool_calls");
        // No usage came: no usage chunk.
        assert_eq!(c[4], "[DONE]");
    }

    #[test]
    fn other_finish_reasons() {
        let (c, _) = run(&[
            r#"{"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"MAX_TOKENS"}]}"#,
        ]);
        assert_eq!(c[2]["choices"][0]["finish_reason"], "length");
        let (c, _) = run(&[r#"{"candidates":[{"finishReason":"SAFETY"}]}"#]);
        assert_eq!(c[1]["choices"][0]["finish_reason"], "content_filter");
        let (_, err) = run(&[r#"{"candidates":[{"finishReason":"MALFORMED_FUNCTION_CALL"}]}"#]);
        assert!(matches!(err, Some(AttemptError::Protocol(_))));
    }

    #[test]
    fn a_cut_stream_fails() {
        let (c, err) = run(&[r#"{"candidates":[{"content":{"parts":[{"text":"half"}]}}]}"#]);
        assert_eq!(c.len(), 2);
        assert!(matches!(err, Some(AttemptError::Protocol(m)) if m.contains("ended before")));
        let (c, err) = run(&[]);
        assert!(c.is_empty());
        assert!(err.is_some());
    }

    #[test]
    fn error_events_garbage_and_blocked_prompts() {
        let (c, err) = run(&[
            r#"{"candidates":[{"content":{"parts":[{"text":"a"}]}}]}"#,
            r#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#,
        ]);
        assert_eq!(c.len(), 2);
        match err {
            Some(AttemptError::Status {
                status: 503,
                body,
                retry_after: None,
            }) => {
                let b: Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(b["error"]["message"], "The model is overloaded.");
                assert_eq!(b["error"]["type"], "server_error");
            }
            other => panic!("{other:?}"),
        }
        let (_, err) = run(&[r#"{"error":{"message":"?"}}"#]);
        assert!(matches!(
            err,
            Some(AttemptError::Status { status: 500, .. })
        ));
        let (_, err) = run(&["not json"]);
        assert!(matches!(err, Some(AttemptError::Protocol(_))));
        let (c, err) = run(&[r#"{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"}}"#]);
        assert!(c.is_empty());
        assert!(matches!(err, Some(AttemptError::Blocked { .. })));
    }
}
