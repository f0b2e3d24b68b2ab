//! A chat-completions stream re-emitted as the Messages API's event sequence:
//!
//! ```text
//! message_start, ping, (content_block_start, content_block_delta*, content_block_stop)*,
//! message_delta (stop reason, usage), message_stop
//! ```
//!
//! Text and each tool call are content blocks, indexed in the order they open; a tool call's
//! argument fragments are `input_json_delta`s of its block. The hot events (deltas) are written
//! by hand: a chunk is read borrowed and re-emitted without building a JSON tree.

use super::{error_type, message_id, stop_reason, usage_json, Context};
use crate::dialect::chat::{Chunk, Finish};
use crate::dialect::sse_event;
use crate::reply::Usage;
use serde_json::json;

/// The block being streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    Text,
    /// A tool call, by its chat `index`.
    Tool(u32),
}

/// Translates one stream, chunk by chunk.
#[derive(Debug)]
pub struct Stream {
    cx: Context,
    started: bool,
    open: Open,
    /// Index of the next block (and, once one is open, one past the open block's).
    next_block: usize,
    finish: Finish,
    usage: Usage,
}

impl Stream {
    /// A translator for a stream answering a request with this context.
    pub fn new(cx: Context) -> Stream {
        Stream {
            cx,
            started: false,
            open: Open::None,
            next_block: 0,
            finish: Finish::Stop,
            usage: Usage::default(),
        }
    }

    /// Appends the events one chat chunk makes. A chunk that is not chat JSON is skipped: the
    /// adapters have checked every event is JSON, and its meaning is unknown.
    pub fn chunk(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let Ok(mut chunk) = serde_json::from_slice::<Chunk>(data) else {
            return;
        };
        if !self.started {
            self.start(chunk.id.as_deref(), out);
        }
        if let Some(u) = chunk.usage() {
            self.usage = u;
        }
        let Some(choice) = chunk.choices.first() else {
            return;
        };
        let d = &choice.delta;
        for text in d.texts() {
            if self.open != Open::Text {
                self.close(out);
                self.open_block(Open::Text, r#"{"type":"text","text":""}"#, out);
            }
            self.delta(r#""text_delta","text":"#, text, out);
        }
        for call in &d.tool_calls {
            let named = call.function.as_ref().and_then(|f| f.name.as_deref());
            if self.open != Open::Tool(call.index) {
                self.close(out);
                let block = json!({
                    "type": "tool_use",
                    "id": call.id.as_deref().unwrap_or(""),
                    "name": named.unwrap_or(""),
                    "input": {},
                });
                self.open_block(Open::Tool(call.index), &block.to_string(), out);
            }
            if let Some(args) = call.function.as_ref().and_then(|f| f.arguments.as_deref()) {
                if !args.is_empty() {
                    self.delta(r#""input_json_delta","partial_json":"#, args, out);
                }
            }
        }
        if let Some(reason) = choice.finish_reason.as_deref() {
            self.finish = Finish::parse(reason);
            if d.refusal.is_some() {
                self.finish = Finish::ContentFilter;
            }
        }
    }

    /// Appends the closing events, after the chat stream's `[DONE]`.
    pub fn done(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.start(None, out);
        }
        self.close(out);
        let delta = json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(self.finish), "stop_sequence": null},
            "usage": usage_json(self.usage),
        });
        sse_event(out, "message_delta", delta.to_string().as_bytes());
        sse_event(out, "message_stop", br#"{"type":"message_stop"}"#);
    }

    /// Appends the `error` event that ends a stream cut short.
    pub fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        let e = json!({"type": "error", "error": {"type": error_type(status), "message": message}});
        sse_event(out, "error", e.to_string().as_bytes());
    }

    fn start(&mut self, chat_id: Option<&str>, out: &mut Vec<u8>) {
        self.started = true;
        // Input tokens are known only at the end of a chat stream: they come in
        // `message_delta`, whose usage the SDKs take over `message_start`'s.
        let start = json!({
            "type": "message_start",
            "message": {
                "id": message_id(chat_id), "type": "message", "role": "assistant",
                "model": self.cx.model, "content": [], "stop_reason": null,
                "stop_sequence": null, "usage": usage_json(Usage::default()),
            },
        });
        sse_event(out, "message_start", start.to_string().as_bytes());
        sse_event(out, "ping", br#"{"type":"ping"}"#);
    }

    fn open_block(&mut self, open: Open, block: &str, out: &mut Vec<u8>) {
        self.open = open;
        let index = self.next_block;
        self.next_block += 1;
        out.extend_from_slice(
            b"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":",
        );
        out.extend_from_slice(index.to_string().as_bytes());
        out.extend_from_slice(b",\"content_block\":");
        out.extend_from_slice(block.as_bytes());
        out.extend_from_slice(b"}\n\n");
    }

    /// A `content_block_delta` of the open block: `kind` is the delta's type and field name.
    fn delta(&self, kind: &str, value: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(
            b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":",
        );
        out.extend_from_slice((self.next_block - 1).to_string().as_bytes());
        out.extend_from_slice(b",\"delta\":{\"type\":");
        out.extend_from_slice(kind.as_bytes());
        crate::dialect::json_string(value, out);
        out.extend_from_slice(b"}}\n\n");
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if self.open == Open::None {
            return;
        }
        self.open = Open::None;
        out.extend_from_slice(
            b"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":",
        );
        out.extend_from_slice((self.next_block - 1).to_string().as_bytes());
        out.extend_from_slice(b"}\n\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    use crate::dialect::test_events as events;

    #[test]
    fn text_then_tool_call_then_usage() {
        let mut s = Stream::new(Context {
            model: "claude-x".into(),
            dropped_tools: vec![],
        });
        let mut out = Vec::new();
        for chunk in [
            r#"{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hel\"lo"}}]}"#,
            r#"{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_9","type":"function","function":{"name":"f","arguments":""}}]}}]}"#,
            r#"{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]}}]}"#,
            r#"{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}}]}"#,
            r#"{"id":"chatcmpl-1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4}}"#,
        ] {
            s.chunk(chunk.as_bytes(), &mut out);
        }
        s.done(&mut out);
        let ev = events(&out);
        let types: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(ev[0]["message"]["id"], "msg_1");
        assert_eq!(ev[3]["delta"]["text"], "Hel\"lo");
        assert_eq!(ev[5]["index"], 1);
        assert_eq!(ev[5]["content_block"]["name"], "f");
        assert_eq!(ev[5]["content_block"]["id"], "call_9");
        assert_eq!(ev[6]["delta"]["partial_json"], "{\"a\":");
        assert_eq!(ev[9]["delta"]["stop_reason"], "tool_use");
        assert_eq!(ev[9]["usage"]["input_tokens"], 9);
        assert_eq!(ev[9]["usage"]["output_tokens"], 4);
    }

    #[test]
    fn an_empty_stream_still_opens_and_closes_and_errors_are_typed() {
        let mut s = Stream::new(Context {
            model: "m".into(),
            dropped_tools: vec![],
        });
        let mut out = Vec::new();
        s.done(&mut out);
        let types: Vec<Value> = events(&out)
            .into_iter()
            .map(|e| e["type"].clone())
            .collect();
        assert_eq!(
            types,
            ["message_start", "ping", "message_delta", "message_stop"]
        );
        let mut out = Vec::new();
        s.error(503, "cut", &mut out);
        assert_eq!(events(&out)[0]["error"]["type"], "overloaded_error");
    }
}
