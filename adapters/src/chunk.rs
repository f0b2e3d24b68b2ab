//! OpenAI `chat.completion.chunk` events written by hand, for backends that translate another
//! vendor's stream: the per-chunk cost is one buffer with the escaped text, no JSON tree.

use crate::dialect::json_string;
use crate::reply::{Event, Usage};
use bytes::Bytes;

/// Writes the chunks of one stream; every chunk shares the same `id`, `created` and `model`.
#[derive(Debug, Clone)]
pub(crate) struct ChunkWriter {
    /// `{"id":…,"object":"chat.completion.chunk","created":…,"model":…,`
    head: Vec<u8>,
}

impl ChunkWriter {
    /// A writer for the stream `id` of `model`.
    pub(crate) fn new(id: &str, model: &str, created: u64) -> ChunkWriter {
        let mut head = Vec::with_capacity(96 + id.len() + model.len());
        head.extend_from_slice(b"{\"id\":");
        json_string(id, &mut head);
        head.extend_from_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
        head.extend_from_slice(created.to_string().as_bytes());
        head.extend_from_slice(b",\"model\":");
        json_string(model, &mut head);
        head.push(b',');
        ChunkWriter { head }
    }

    fn choice(&self, delta: impl FnOnce(&mut Vec<u8>), finish: Option<&str>) -> Event {
        let mut out = Vec::with_capacity(self.head.len() + 96);
        out.extend_from_slice(&self.head);
        out.extend_from_slice(b"\"choices\":[{\"index\":0,\"delta\":{");
        delta(&mut out);
        out.extend_from_slice(b"},\"logprobs\":null,\"finish_reason\":");
        match finish {
            Some(f) => json_string(f, &mut out),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b"}]}");
        Event::Data(Bytes::from(out))
    }

    /// The first chunk: the assistant's role and empty content.
    pub(crate) fn role(&self) -> Event {
        self.choice(
            |o| o.extend_from_slice(b"\"role\":\"assistant\",\"content\":\"\""),
            None,
        )
    }

    /// A piece of the answer's text.
    pub(crate) fn content(&self, text: &str) -> Event {
        self.choice(
            |o| {
                o.extend_from_slice(b"\"content\":");
                json_string(text, o);
            },
            None,
        )
    }

    /// A tool call opening: its index among the answer's calls, id, name and first arguments.
    pub(crate) fn tool_call(&self, index: usize, id: &str, name: &str, arguments: &str) -> Event {
        self.choice(
            |o| {
                o.extend_from_slice(b"\"tool_calls\":[{\"index\":");
                o.extend_from_slice(index.to_string().as_bytes());
                o.extend_from_slice(b",\"id\":");
                json_string(id, o);
                o.extend_from_slice(b",\"type\":\"function\",\"function\":{\"name\":");
                json_string(name, o);
                o.extend_from_slice(b",\"arguments\":");
                json_string(arguments, o);
                o.extend_from_slice(b"}}]");
            },
            None,
        )
    }

    /// A whole tool call given as JSON (`index`, `id`, `type`, `function`, and what else its
    /// vendor attaches).
    pub(crate) fn tool_call_json(&self, call: &serde_json::Value) -> Event {
        self.choice(
            |o| {
                o.extend_from_slice(b"\"tool_calls\":[");
                // Serializing a JSON value into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *o, call);
                o.push(b']');
            },
            None,
        )
    }

    /// More arguments of the tool call at `index`.
    pub(crate) fn tool_arguments(&self, index: usize, fragment: &str) -> Event {
        self.choice(
            |o| {
                o.extend_from_slice(b"\"tool_calls\":[{\"index\":");
                o.extend_from_slice(index.to_string().as_bytes());
                o.extend_from_slice(b",\"function\":{\"arguments\":");
                json_string(fragment, o);
                o.extend_from_slice(b"}}]");
            },
            None,
        )
    }

    /// The chunk that says why the answer ended.
    pub(crate) fn finish(&self, reason: &str) -> Event {
        self.choice(|_| {}, Some(reason))
    }

    /// The closing usage chunk, with no choices.
    pub(crate) fn usage(&self, usage: &Usage, reasoning_tokens: u64) -> Event {
        let mut out = self.head.clone();
        out.extend_from_slice(b"\"choices\":[],\"usage\":");
        // Serializing a JSON value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, &usage.to_openai_json(reasoning_tokens));
        out.push(b'}');
        Event::Data(Bytes::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn json(e: Event) -> Value {
        match e {
            Event::Data(d) => serde_json::from_slice(&d).expect("a JSON chunk"),
            Event::Done => panic!("not a chunk"),
        }
    }

    #[test]
    fn chunks_are_openai_chunks() {
        let w = ChunkWriter::new("chatcmpl-1", "m\"x", 7);
        let c = json(w.content("a \"quoted\"\nline"));
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "m\"x");
        assert_eq!(c["created"], 7);
        assert_eq!(c["choices"][0]["delta"]["content"], "a \"quoted\"\nline");
        assert!(c["choices"][0]["finish_reason"].is_null());
        assert_eq!(json(w.role())["choices"][0]["delta"]["role"], "assistant");
        let t = json(w.tool_call(1, "call_1", "f", "{\"a\""));
        assert_eq!(t["choices"][0]["delta"]["tool_calls"][0]["index"], 1);
        assert_eq!(
            t["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{\"a\""
        );
        let a = json(w.tool_arguments(1, ":1}"));
        assert!(a["choices"][0]["delta"]["tool_calls"][0]["id"].is_null());
        assert_eq!(
            json(w.finish("length"))["choices"][0]["finish_reason"],
            "length"
        );
        let u = Usage {
            prompt_tokens: 5,
            completion_tokens: 2,
            ..Usage::default()
        };
        let u = json(w.usage(&u, 0));
        assert_eq!(u["choices"], serde_json::json!([]));
        assert_eq!(u["usage"]["total_tokens"], 7);
    }
}
