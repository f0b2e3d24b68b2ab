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
    /// Prompt tokens written to the upstream's prompt cache (Anthropic bills them at their
    /// own rate); like cached ones, they are counted in `prompt_tokens` too.
    #[serde(default)]
    pub cache_write_tokens: u64,
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
    /// Not OpenAI's: the cache writes a translating backend (or a proxy that speaks the same
    /// extension, as LiteLLM does) reports beside OpenAI's fields.
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
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
            cache_write_tokens: wire.cache_creation_input_tokens.unwrap_or(0),
        }
    }
}

impl Usage {
    /// The OpenAI `usage` object for these counts, as a translating backend reports them:
    /// cache reads in `prompt_tokens_details.cached_tokens`, reasoning tokens (already in
    /// `completion_tokens`) in `completion_tokens_details`, cache writes beside them.
    pub fn to_openai_json(&self, reasoning_tokens: u64) -> serde_json::Value {
        let mut v = serde_json::json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
        });
        if self.cache_write_tokens > 0 {
            v["cache_creation_input_tokens"] = self.cache_write_tokens.into();
        }
        v
    }

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

/// Seconds since the Unix epoch: the `created` field of every answer a backend writes itself.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
                cached_tokens: 4,
                cache_write_tokens: 0,
            })
        );
    }

    #[test]
    fn translated_usage_reads_back_as_itself() {
        let u = Usage {
            prompt_tokens: 40,
            completion_tokens: 9,
            cached_tokens: 10,
            cache_write_tokens: 20,
        };
        let body = serde_json::json!({"choices": [], "usage": u.to_openai_json(3)}).to_string();
        assert_eq!(Usage::from_openai_json(body.as_bytes()), Some(u));
    }

    #[test]
    fn no_usage_member_or_null_usage_is_none() {
        assert_eq!(Usage::from_openai_json(br#"{"choices":[]}"#), None);
        assert_eq!(Usage::from_openai_json(br#"{"usage":null}"#), None);
    }
}
