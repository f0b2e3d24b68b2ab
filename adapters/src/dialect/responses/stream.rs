//! A chat-completions stream re-emitted as the Responses API's event sequence, every event
//! with its `sequence_number`:
//!
//! ```text
//! response.created, response.in_progress,
//! per output item: response.output_item.added, (its deltas), ..., response.output_item.done
//! response.completed (or response.incomplete), or response.failed
//! ```
//!
//! A message item streams `response.output_text.delta`s inside one `output_text` part; a
//! function call streams `response.function_call_arguments.delta`s. A custom tool's input is
//! the one string argument of the function it was sent as, so it is sent whole when the call
//! ends. Items are kept as they grow: the closing events and `response.completed` repeat them.

use super::{call_item, custom_input, final_status, message_item, response, Context};
use crate::dialect::chat::{Chunk, Finish};
use crate::dialect::sse_event;
use crate::reply::Usage;
use serde_json::{json, Value};

#[derive(Debug)]
enum Open {
    None,
    Message {
        id: String,
        text: String,
    },
    Call {
        chat_index: u32,
        id: String,
        call_id: String,
        name: String,
        args: String,
        custom: bool,
    },
}

/// Translates one stream, chunk by chunk.
#[derive(Debug)]
pub struct Stream {
    cx: Context,
    seq: u64,
    started: bool,
    open: Open,
    output: Vec<Value>,
    finish: Finish,
    usage: Option<Usage>,
}

impl Stream {
    /// A translator for a stream answering a request with this context.
    pub fn new(cx: Context) -> Stream {
        Stream {
            cx,
            seq: 0,
            started: false,
            open: Open::None,
            output: Vec::new(),
            finish: Finish::Stop,
            usage: None,
        }
    }

    /// Appends the events one chat chunk makes.
    pub fn chunk(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let Ok(mut chunk) = serde_json::from_slice::<Chunk>(data) else {
            return;
        };
        self.start(out);
        if let Some(u) = chunk.usage() {
            self.usage = Some(u);
        }
        let Some(choice) = chunk.choices.first() else {
            return;
        };
        let d = &choice.delta;
        for text in d.texts() {
            if !matches!(self.open, Open::Message { .. }) {
                self.close(out);
                self.open_message(out);
            }
            self.text_delta(text, out);
        }
        for call in &d.tool_calls {
            let same =
                matches!(&self.open, Open::Call { chat_index, .. } if *chat_index == call.index);
            if !same {
                self.close(out);
                let name = call
                    .function
                    .as_ref()
                    .and_then(|f| f.name.as_deref())
                    .unwrap_or("");
                self.open_call(call.id.as_deref().unwrap_or(""), name, out);
                if let Open::Call { chat_index, .. } = &mut self.open {
                    *chat_index = call.index;
                }
            }
            if let Some(args) = call.function.as_ref().and_then(|f| f.arguments.as_deref()) {
                self.args_delta(args, out);
            }
        }
        if let Some(reason) = choice.finish_reason.as_deref() {
            self.finish = Finish::parse(reason);
        }
    }

    /// Appends the closing events, after the chat stream's `[DONE]`.
    pub fn done(&mut self, out: &mut Vec<u8>) {
        self.start(out);
        self.close(out);
        let status = final_status(self.finish);
        let r = response(&self.cx, status, &self.output, self.usage, self.finish);
        let kind = if status == "completed" {
            "response.completed"
        } else {
            "response.incomplete"
        };
        self.event(out, kind, json!({"response": r}));
    }

    /// Appends `response.failed`, which ends a stream cut short.
    pub fn error(&mut self, code: &str, message: &str, out: &mut Vec<u8>) {
        self.start(out);
        self.close(out);
        let mut r = response(&self.cx, "failed", &self.output, self.usage, self.finish);
        r["error"] = json!({"code": code, "message": message});
        self.event(out, "response.failed", json!({"response": r}));
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let r = response(&self.cx, "in_progress", &[], None, Finish::Stop);
        self.event(out, "response.created", json!({"response": r.clone()}));
        self.event(out, "response.in_progress", json!({"response": r}));
    }

    /// One event built from a JSON object: `type` and `sequence_number` are added.
    fn event(&mut self, out: &mut Vec<u8>, kind: &str, mut body: Value) {
        body["type"] = kind.into();
        body["sequence_number"] = self.seq.into();
        self.seq += 1;
        sse_event(out, kind, body.to_string().as_bytes());
    }

    fn item_id(&self, prefix: &str) -> String {
        format!(
            "{prefix}_{}_{}",
            self.cx.id.trim_start_matches("resp_"),
            self.output.len()
        )
    }

    fn open_message(&mut self, out: &mut Vec<u8>) {
        let id = self.item_id("msg");
        let index = self.output.len();
        self.event(
            out,
            "response.output_item.added",
            json!({"output_index": index, "item": message_item(&id, "", false)}),
        );
        self.event(
            out,
            "response.content_part.added",
            json!({
                "item_id": id, "output_index": index, "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []},
            }),
        );
        self.open = Open::Message {
            id,
            text: String::new(),
        };
    }

    fn open_call(&mut self, call_id: &str, name: &str, out: &mut Vec<u8>) {
        let id = self.item_id("fc");
        let item = call_item(&self.cx, &id, call_id, name, "", false);
        let custom = item["type"] == "custom_tool_call";
        let index = self.output.len();
        self.event(
            out,
            "response.output_item.added",
            json!({"output_index": index, "item": item}),
        );
        self.open = Open::Call {
            chat_index: 0,
            id,
            call_id: call_id.to_string(),
            name: name.to_string(),
            args: String::new(),
            custom,
        };
    }

    /// The hot event, written by hand: `response.output_text.delta`.
    fn text_delta(&mut self, text: &str, out: &mut Vec<u8>) {
        let Open::Message { id, text: all } = &mut self.open else {
            return;
        };
        all.push_str(text);
        out.extend_from_slice(b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":");
        out.extend_from_slice(self.seq.to_string().as_bytes());
        out.extend_from_slice(b",\"item_id\":");
        crate::dialect::json_string(id, out);
        out.extend_from_slice(b",\"output_index\":");
        out.extend_from_slice(self.output.len().to_string().as_bytes());
        out.extend_from_slice(b",\"content_index\":0,\"delta\":");
        crate::dialect::json_string(text, out);
        out.extend_from_slice(b",\"logprobs\":[]}\n\n");
        self.seq += 1;
    }

    fn args_delta(&mut self, args: &str, out: &mut Vec<u8>) {
        let Open::Call {
            id,
            args: all,
            custom,
            ..
        } = &mut self.open
        else {
            return;
        };
        all.push_str(args);
        if *custom || args.is_empty() {
            return;
        }
        out.extend_from_slice(b"event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"sequence_number\":");
        out.extend_from_slice(self.seq.to_string().as_bytes());
        out.extend_from_slice(b",\"item_id\":");
        crate::dialect::json_string(id, out);
        out.extend_from_slice(b",\"output_index\":");
        out.extend_from_slice(self.output.len().to_string().as_bytes());
        out.extend_from_slice(b",\"delta\":");
        crate::dialect::json_string(args, out);
        out.extend_from_slice(b"}\n\n");
        self.seq += 1;
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        let index = self.output.len();
        let item = match std::mem::replace(&mut self.open, Open::None) {
            Open::None => return,
            Open::Message { id, text } => {
                self.event(out, "response.output_text.done", json!({
                    "item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": [],
                }));
                self.event(out, "response.content_part.done", json!({
                    "item_id": id, "output_index": index, "content_index": 0,
                    "part": {"type": "output_text", "text": text, "annotations": [], "logprobs": []},
                }));
                message_item(&id, &text, true)
            }
            Open::Call {
                id,
                call_id,
                name,
                args,
                custom,
                ..
            } => {
                if custom {
                    let input = custom_input(&args);
                    self.event(
                        out,
                        "response.custom_tool_call_input.delta",
                        json!({"item_id": id, "output_index": index, "delta": input}),
                    );
                    self.event(
                        out,
                        "response.custom_tool_call_input.done",
                        json!({"item_id": id, "output_index": index, "input": input}),
                    );
                } else {
                    self.event(
                        out,
                        "response.function_call_arguments.done",
                        json!({
                            "item_id": id, "output_index": index, "name": name, "arguments": args,
                        }),
                    );
                }
                call_item(&self.cx, &id, &call_id, &name, &args, true)
            }
        };
        self.event(
            out,
            "response.output_item.done",
            json!({"output_index": index, "item": item.clone()}),
        );
        self.output.push(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    use crate::dialect::test_events as events;

    fn cx(custom: &[&str]) -> Context {
        Context {
            id: "resp_r1".into(),
            created_at: 1,
            echo: Map::new(),
            custom_tools: custom.iter().map(|s| s.to_string()).collect(),
            dropped_tools: vec![],
        }
    }

    #[test]
    fn text_and_calls_stream_with_sequence_numbers() {
        let mut s = Stream::new(cx(&["apply_patch"]));
        let mut out = Vec::new();
        for c in [
            r#"{"choices":[{"delta":{"role":"assistant","content":"Hi"}}]}"#,
            r#"{"choices":[{"delta":{"content":" there"}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"shell","arguments":"{\"cmd\""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":":\"ls\"}"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"c2","function":{"name":"apply_patch","arguments":"{\"input\":\"P\"}"}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#,
        ] {
            s.chunk(c.as_bytes(), &mut out);
        }
        s.done(&mut out);
        let ev = events(&out);
        for (i, e) in ev.iter().enumerate() {
            assert_eq!(e["sequence_number"], i as u64);
        }
        let types: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.custom_tool_call_input.delta",
                "response.custom_tool_call_input.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        assert_eq!(ev[6]["text"], "Hi there");
        assert_eq!(ev[12]["arguments"], r#"{"cmd":"ls"}"#);
        assert_eq!(ev[13]["item"]["call_id"], "c1");
        assert_eq!(ev[16]["input"], "P");
        let done = &ev[18]["response"];
        assert_eq!(done["output"].as_array().unwrap().len(), 3);
        assert_eq!(done["output"][2]["type"], "custom_tool_call");
        assert_eq!(done["usage"]["output_tokens"], 4);
        assert_eq!(done["status"], "completed");
    }

    #[test]
    fn a_cut_stream_fails_and_a_long_one_is_incomplete() {
        let mut s = Stream::new(cx(&[]));
        let mut out = Vec::new();
        s.chunk(br#"{"choices":[{"delta":{"content":"par"}}]}"#, &mut out);
        s.error("upstream_stream_cut", "cut", &mut out);
        let ev = events(&out);
        let last = ev.last().unwrap();
        assert_eq!(last["type"], "response.failed");
        assert_eq!(last["response"]["error"]["code"], "upstream_stream_cut");
        assert_eq!(last["response"]["output"][0]["content"][0]["text"], "par");
        let mut s = Stream::new(cx(&[]));
        let mut out = Vec::new();
        s.chunk(
            br#"{"choices":[{"delta":{"content":"x"},"finish_reason":"length"}]}"#,
            &mut out,
        );
        s.done(&mut out);
        let ev = events(&out);
        assert_eq!(ev.last().unwrap()["type"], "response.incomplete");
    }
}
