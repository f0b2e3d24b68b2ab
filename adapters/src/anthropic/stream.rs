//! Anthropic's stream events re-emitted as OpenAI chunks:
//!
//! ```text
//! message_start               → (remembered: id, input usage)
//! content_block_start text    → the role chunk, once
//! content_block_start tool    → a tool-call chunk with its index, id and name
//! content_block_delta         → a content chunk (text_delta) or arguments (input_json_delta)
//! message_delta               → the finish chunk; output usage remembered
//! message_stop                → the usage chunk, [DONE]
//! error                       → the attempt fails with the error's status
//! ```
//!
//! Nothing is emitted before the first content block: an `error` event that comes right after
//! `message_start` (Anthropic's overload) then fails the attempt before the client has seen a
//! byte, so the next candidate can still serve.

use super::answer::{completion_id, error_message, error_status, finish_reason, WireUsage};
use crate::chunk::ChunkWriter;
use crate::error::AttemptError;
use crate::reply::Event;
use crate::upstream::{openai_error_body, Decoder};
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Deserialize)]
struct Ev<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    index: Option<usize>,
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    #[serde(default, borrow)]
    content_block: Option<Block<'a>>,
    #[serde(default)]
    message: Option<Start>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    partial_json: Option<Cow<'a, str>>,
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Start {
    #[serde(default)]
    id: String,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

/// What a content block is, by its Anthropic index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    /// A tool call, by its index among the answer's calls.
    Tool(usize),
    /// The forced JSON tool: its input is the answer's text.
    JsonAnswer,
    /// Thinking and anything unknown: not relayed.
    Skip,
}

/// Decodes one Anthropic stream into chat chunks.
#[derive(Debug)]
pub struct StreamDecoder {
    model: String,
    json_tool: bool,
    created: u64,
    writer: Option<ChunkWriter>,
    message_id: String,
    started: bool,
    blocks: Vec<Open>,
    tools: usize,
    usage: WireUsage,
    stopped: bool,
}

impl StreamDecoder {
    /// A decoder for an answer of `model` (as the client will see it named); `json_tool` when
    /// the answer is the forced JSON tool's input; `created` for the chunks.
    pub fn new(model: &str, json_tool: bool, created: u64) -> StreamDecoder {
        StreamDecoder {
            model: model.to_string(),
            json_tool,
            created,
            writer: None,
            message_id: String::new(),
            started: false,
            blocks: Vec::new(),
            tools: 0,
            usage: WireUsage::default(),
            stopped: false,
        }
    }

    /// The chunk writer, and the role chunk before the first chunk.
    fn writer(&mut self, out: &mut Vec<Event>) -> &ChunkWriter {
        let (id, model, created) = (&self.message_id, &self.model, self.created);
        let w = self
            .writer
            .get_or_insert_with(|| ChunkWriter::new(&completion_id(id), model, created));
        if !self.started {
            self.started = true;
            out.push(w.role());
        }
        w
    }

    fn block_start(&mut self, index: usize, block: Block<'_>, out: &mut Vec<Event>) {
        let open = match block.kind.as_ref() {
            "text" => Open::Text,
            "tool_use" if self.json_tool => Open::JsonAnswer,
            "tool_use" => {
                self.tools += 1;
                Open::Tool(self.tools - 1)
            }
            _ => Open::Skip,
        };
        if self.blocks.len() <= index {
            self.blocks.resize(index + 1, Open::Skip);
        }
        self.blocks[index] = open;
        match open {
            Open::Text => {
                let w = self.writer(out);
                if let Some(t) = block.text.as_deref().filter(|t| !t.is_empty()) {
                    let e = w.content(t);
                    out.push(e);
                }
            }
            Open::Tool(i) => {
                let w = self.writer(out);
                let e = w.tool_call(
                    i,
                    block.id.as_deref().unwrap_or(""),
                    block.name.as_deref().unwrap_or(""),
                    "",
                );
                out.push(e);
            }
            Open::JsonAnswer => {
                self.writer(out);
            }
            Open::Skip => {}
        }
    }

    fn block_delta(&mut self, index: usize, delta: Delta<'_>, out: &mut Vec<Event>) {
        let open = self.blocks.get(index).copied().unwrap_or(Open::Skip);
        let event = match (open, delta.kind.as_deref()) {
            (Open::Text, Some("text_delta")) => {
                let text = delta.text.as_deref().unwrap_or("");
                self.writer(out).content(text)
            }
            (Open::Tool(i), Some("input_json_delta")) => {
                let part = delta.partial_json.as_deref().unwrap_or("");
                self.writer(out).tool_arguments(i, part)
            }
            (Open::JsonAnswer, Some("input_json_delta")) => {
                let part = delta.partial_json.as_deref().unwrap_or("");
                self.writer(out).content(part)
            }
            _ => return,
        };
        out.push(event);
    }
}

impl Decoder for StreamDecoder {
    fn event(&mut self, data: &[u8], out: &mut Vec<Event>) -> Result<(), AttemptError> {
        let ev: Ev = serde_json::from_slice(data).map_err(|e| {
            AttemptError::Protocol(format!(
                "the backend sent an event that is not an Anthropic event: {e}"
            ))
        })?;
        match ev.kind.as_ref() {
            "message_start" => {
                if let Some(m) = ev.message {
                    self.message_id = m.id;
                    if let Some(u) = m.usage {
                        self.usage.update(u);
                    }
                }
            }
            "content_block_start" => {
                if let (Some(i), Some(b)) = (ev.index, ev.content_block) {
                    self.block_start(i, b, out);
                }
            }
            "content_block_delta" => {
                if let (Some(i), Some(d)) = (ev.index, ev.delta) {
                    self.block_delta(i, d, out);
                }
            }
            "message_delta" => {
                if let Some(u) = ev.usage {
                    self.usage.update(u);
                }
                if let Some(reason) = ev.delta.and_then(|d| d.stop_reason) {
                    let mut finish = finish_reason(Some(&reason));
                    if self.json_tool && finish == "tool_calls" {
                        finish = "stop";
                    }
                    let e = self.writer(out).finish(finish);
                    out.push(e);
                }
            }
            "message_stop" => {
                self.stopped = true;
                let usage = self.usage.to_usage();
                let e = self.writer(out).usage(&usage, 0);
                out.push(e);
                out.push(Event::Done);
            }
            "error" => {
                let err = ev.error.unwrap_or(ErrorBody {
                    kind: String::new(),
                    message: "the backend failed mid-stream".into(),
                });
                let body = serde_json::json!({"type": "error", "error": {"type": err.kind, "message": err.message}});
                return Err(openai_error_body(
                    AttemptError::Status {
                        status: error_status(&err.kind),
                        body: body.to_string().into(),
                        retry_after: None,
                    },
                    error_message,
                ));
            }
            // ping, content_block_stop, and event types added later
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, _out: &mut Vec<Event>) -> Result<(), AttemptError> {
        if self.stopped {
            return Ok(());
        }
        Err(AttemptError::Protocol(
            "the backend's stream ended before message_stop".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn feed(d: &mut StreamDecoder, events: &[&str]) -> (Vec<Value>, Option<AttemptError>) {
        let mut out = Vec::new();
        let mut err = None;
        for e in events {
            if let Err(e) = d.event(e.as_bytes(), &mut out) {
                err = Some(e);
                break;
            }
        }
        let chunks = out
            .into_iter()
            .map(|e| match e {
                Event::Data(b) => serde_json::from_slice(&b).unwrap(),
                Event::Done => Value::String("[DONE]".into()),
            })
            .collect();
        (chunks, err)
    }

    const START: &str = r#"{"type":"message_start","message":{"id":"msg_9","type":"message","role":"assistant","content":[],"model":"claude-x","stop_reason":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":8,"output_tokens":1}}}"#;

    #[test]
    fn text_and_tool_calls_become_indexed_chunks() {
        let mut d = StreamDecoder::new("route", false, 5);
        let (chunks, err) = feed(
            &mut d,
            &[
                START,
                r#"{"type":"ping"}"#,
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi \"you\""}}"#,
                r#"{"type":"content_block_stop","index":0}"#,
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"weather","input":{}}}"#,
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}"#,
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Oslo\"}"}}"#,
                r#"{"type":"content_block_stop","index":1}"#,
                r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":15}}"#,
                r#"{"type":"message_stop"}"#,
            ],
        );
        assert!(err.is_none());
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunks[0]["id"], "chatcmpl-9");
        assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hi \"you\"");
        let call = &chunks[2]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(
            (call["index"].as_u64(), call["id"].as_str()),
            (Some(0), Some("toolu_1"))
        );
        let args: String = chunks[3..5]
            .iter()
            .map(|c| {
                c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(args, "{\"city\":\"Oslo\"}");
        assert_eq!(chunks[5]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(chunks[6]["usage"]["prompt_tokens"], 20);
        assert_eq!(chunks[6]["usage"]["completion_tokens"], 15);
        assert_eq!(
            chunks[6]["usage"]["prompt_tokens_details"]["cached_tokens"],
            8
        );
        assert_eq!(chunks[7], "[DONE]");
        assert!(d.end(&mut Vec::new()).is_ok());
    }

    #[test]
    fn an_overload_before_content_fails_before_any_chunk() {
        let mut d = StreamDecoder::new("route", false, 5);
        let (chunks, err) = feed(
            &mut d,
            &[
                START,
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            ],
        );
        assert!(chunks.is_empty());
        let err = err.unwrap();
        assert!(err.may_fail_over());
        let AttemptError::Status { status, body, .. } = err else {
            panic!("{err}")
        };
        assert_eq!(status, 529);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["message"], "Overloaded");
    }

    #[test]
    fn a_stream_without_message_stop_was_cut() {
        let mut d = StreamDecoder::new("route", false, 5);
        let (_, err) = feed(
            &mut d,
            &[
                START,
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ],
        );
        assert!(err.is_none());
        assert!(d.end(&mut Vec::new()).is_err());
        assert!(d.event(b"not json", &mut Vec::new()).is_err());
    }

    #[test]
    fn the_forced_json_tool_streams_as_content() {
        let mut d = StreamDecoder::new("route", true, 5);
        let (chunks, _) = feed(
            &mut d,
            &[
                START,
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"json_answer","input":{}}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}"#,
                r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":4}}"#,
                r#"{"type":"message_stop"}"#,
            ],
        );
        assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "{\"a\":1}");
        assert_eq!(chunks[2]["choices"][0]["finish_reason"], "stop");
    }
}
