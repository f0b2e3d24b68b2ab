//! What a backend answers: a complete OpenAI-format body or a stream of OpenAI-format events.

use crate::error::AttemptError;
use bytes::Bytes;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use std::pin::Pin;

/// Token counts of one completion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt, cached ones included.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Prompt tokens served from the upstream's prompt cache.
    #[serde(default)]
    pub cached_tokens: u64,
}

/// OpenAI's `usage` object as upstreams send it.
#[derive(Debug, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<WirePromptDetails>,
}

#[derive(Debug, Deserialize)]
struct WirePromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct UsageCarrier {
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// A non-streamed chat completion as upstreams send it: without `choices` it is not one.
#[derive(Debug, Deserialize)]
struct CompletionCarrier {
    #[allow(dead_code)] // parsed to prove it is there; its items are the client's to read
    choices: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

impl From<WireUsage> for Usage {
    fn from(wire: WireUsage) -> Usage {
        Usage {
            prompt_tokens: wire.prompt_tokens,
            completion_tokens: wire.completion_tokens,
            cached_tokens: wire
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
        }
    }
}

impl Usage {
    /// Checks that a backend's 200 body is a chat completion (a JSON object with a `choices`
    /// list) and reads its usage, in one parse. `Err` says what is wrong with it.
    pub fn from_completion(json: &[u8]) -> Result<Option<Usage>, String> {
        let carrier: CompletionCarrier =
            serde_json::from_slice(json).map_err(|e| format!("not a chat completion: {e}"))?;
        Ok(carrier.usage.map(Usage::from))
    }

    /// Reads the `usage` member of an OpenAI-format JSON body or chunk, if there is one.
    /// A cheap substring check first keeps the per-chunk cost of streams near zero.
    pub fn from_openai_json(json: &[u8]) -> Option<Usage> {
        memchr::memmem::find(json, b"\"usage\"")?;
        let carrier: UsageCarrier = serde_json::from_slice(json).ok()?;
        carrier.usage.map(Usage::from)
    }
}

/// A whole, non-streamed answer.
#[derive(Debug, Clone)]
pub struct Complete {
    /// The OpenAI-format `chat.completion` JSON, as the client will receive it.
    pub body: Bytes,
    /// Token counts, when the backend reported or counted them.
    pub usage: Option<Usage>,
    /// When the backend's response head arrived, counted from the attempt's start (HTTP
    /// backends): what `lowest_latency` ranks on, as a stream's first event is.
    pub first_byte: Option<std::time::Duration>,
}

/// One server-sent event of a streamed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The `data:` payload of one event: an OpenAI `chat.completion.chunk` JSON object.
    Data(Bytes),
    /// The stream's terminal `[DONE]`.
    Done,
}

/// A streamed answer. It yields `Err` once when the upstream fails mid-stream; a stream that
/// ends without [`Event::Done`] was cut off.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<Event, AttemptError>> + Send>>;

/// What one successful attempt returns.
pub enum Reply {
    /// A non-streamed answer.
    Complete(Complete),
    /// A streamed answer.
    Stream(EventStream),
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Complete(c) => f.debug_tuple("Complete").field(c).finish(),
            Reply::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_usage_with_cached_tokens() {
        let body = br#"{"id":"x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":4}}}"#;
        assert_eq!(
            Usage::from_openai_json(body),
            Some(Usage {
                prompt_tokens: 12,
                completion_tokens: 5,
                cached_tokens: 4
            })
        );
    }

    #[test]
    fn no_usage_member_or_null_usage_is_none() {
        assert_eq!(Usage::from_openai_json(br#"{"choices":[]}"#), None);
        assert_eq!(Usage::from_openai_json(br#"{"usage":null}"#), None);
    }
}
