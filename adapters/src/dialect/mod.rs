//! Inbound protocols other than chat completions: each request is translated into the one
//! [`ChatRequest`] the request path and every backend kind understand, and the chat answer
//! (whole or streamed) is translated back into the client's protocol.
//!
//! Translating at the edge is what makes every rule and every meter apply alike: the
//! classifier scans the translated request, which is exactly what a backend receives, and
//! usage is read from the chat answer before it is translated.

pub mod anthropic;
pub mod chat;
pub mod responses;

use crate::request::{ChatRequest, RequestError};
use bytes::Bytes;
use serde_json::{Map, Value};

/// The translation state of one request in a protocol other than chat completions.
#[derive(Debug, Clone)]
pub enum Inbound {
    /// The Anthropic Messages API.
    Messages(anthropic::Context),
    /// The OpenAI Responses API.
    Responses(responses::Context),
}

/// A stream translator for one request.
#[derive(Debug)]
pub enum StreamTranslator {
    /// To Messages API events.
    Messages(anthropic::stream::Stream),
    /// To Responses API events.
    Responses(responses::stream::Stream),
}

impl Inbound {
    /// The whole answer for a whole chat answer.
    pub fn complete(&self, chat: &[u8]) -> Result<Bytes, String> {
        match self {
            Inbound::Messages(cx) => anthropic::from_chat(chat, cx),
            Inbound::Responses(cx) => responses::from_chat(chat, cx),
        }
    }

    /// Tools of the request that were left out (server-side tools of the client's vendor).
    pub fn dropped_tools(&self) -> &[String] {
        match self {
            Inbound::Messages(cx) => &cx.dropped_tools,
            Inbound::Responses(cx) => &cx.dropped_tools,
        }
    }

    /// A translator for a streamed answer.
    pub fn stream(&self) -> StreamTranslator {
        match self {
            Inbound::Messages(cx) => {
                StreamTranslator::Messages(anthropic::stream::Stream::new(cx.clone()))
            }
            Inbound::Responses(cx) => {
                StreamTranslator::Responses(responses::stream::Stream::new(cx.clone()))
            }
        }
    }
}

impl StreamTranslator {
    /// Appends the events one chat chunk makes.
    pub fn chunk(&mut self, data: &[u8], out: &mut Vec<u8>) {
        match self {
            StreamTranslator::Messages(s) => s.chunk(data, out),
            StreamTranslator::Responses(s) => s.chunk(data, out),
        }
    }

    /// Appends the events that close a completed stream.
    pub fn done(&mut self, out: &mut Vec<u8>) {
        match self {
            StreamTranslator::Messages(s) => s.done(out),
            StreamTranslator::Responses(s) => s.done(out),
        }
    }

    /// Appends the event that ends a failed stream.
    pub fn error(&mut self, status: u16, code: &str, message: &str, out: &mut Vec<u8>) {
        match self {
            StreamTranslator::Messages(s) => s.error(status, message, out),
            StreamTranslator::Responses(s) => s.error(code, message, out),
        }
    }
}

/// A request error naming its field.
pub(crate) fn invalid(message: impl Into<String>, param: impl Into<String>) -> RequestError {
    RequestError {
        message: message.into(),
        param: Some(param.into()),
    }
}

/// The body as a JSON object, or why it is not one.
pub(crate) fn object(bytes: &[u8]) -> Result<Map<String, Value>, RequestError> {
    ChatRequest::json_object(bytes)
}

/// Typed reads of a request object's top-level fields.
pub(crate) struct Fields<'a>(pub &'a Map<String, Value>);

impl Fields<'_> {
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn string(&self, key: &str) -> Result<&str, RequestError> {
        match self.get(key) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(invalid(format!("'{key}' must be a string"), key)),
            None => Err(invalid(format!("missing required parameter: '{key}'"), key)),
        }
    }

    pub(crate) fn array(&self, key: &str) -> Result<&Vec<Value>, RequestError> {
        match self.get(key) {
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(invalid(format!("'{key}' must be a list"), key)),
            None => Err(invalid(format!("missing required parameter: '{key}'"), key)),
        }
    }

    pub(crate) fn bool(&self, key: &str) -> Result<bool, RequestError> {
        match self.get(key) {
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(invalid(format!("'{key}' must be true or false"), key)),
            None => Ok(false),
        }
    }
}

/// Appends one server-sent event with an `event:` name.
pub(crate) fn sse_event(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
}

/// Appends `s` as a JSON string literal.
pub(crate) fn json_string(s: &str, out: &mut Vec<u8>) {
    // Serializing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// The data of each event of a translated stream, checking each `event:` line names its
/// data's `type`.
#[cfg(test)]
pub(crate) fn test_events(out: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(out).expect("UTF-8 events");
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').expect("an event line and a data line");
            let data = data.strip_prefix("data: ").expect("a data line");
            let data: Value = serde_json::from_str(data).expect("JSON data");
            assert_eq!(name.strip_prefix("event: "), data["type"].as_str());
            data
        })
        .collect()
}
