//! Gemini's `GenerateContentResponse` as read from the wire, for whole answers and stream
//! events alike. Strings are borrowed from the backend's bytes where they need no unescaping,
//! the first candidate and first part are kept without allocating, and the rest of the
//! response (safety ratings, citations, model version) is skipped unread.

use crate::reply::Usage;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Value};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A string borrowed from the input when it has no escapes. (`Option<Cow<str>>` would always
/// copy: serde borrows only a `Cow` that is the field's type itself.)
#[derive(Debug, Default)]
pub(crate) struct Str<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The first element of a list, the others skipped without being kept.
#[derive(Debug)]
pub(crate) struct First<T>(pub Option<T>);

impl<T> Default for First<T> {
    fn default() -> Self {
        First(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for First<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = First<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<First<T>, A::Error> {
                let first = seq.next_element::<T>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(First(first))
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

/// Reads one `GenerateContentResponse`. The bytes are checked as UTF-8 once, whole: parsing
/// from a `str` spares serde_json checking every key and string again, most of its cost.
pub(crate) fn parse(data: &[u8]) -> Result<Response<'_>, String> {
    let text = std::str::from_utf8(data).map_err(|e| e.to_string())?;
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// One `GenerateContentResponse`: a whole answer, or one event of a stream.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Response<'a> {
    /// Only the first candidate is relayed (`candidateCount` is never asked for).
    #[serde(default, borrow)]
    pub candidates: First<Candidate<'a>>,
    #[serde(default, borrow)]
    pub prompt_feedback: Option<PromptFeedback<'a>>,
    #[serde(default)]
    pub usage_metadata: Option<UsageMetadata>,
    #[serde(default, borrow)]
    pub response_id: Option<Str<'a>>,
    /// Set instead of the rest when a stream fails part-way.
    #[serde(default)]
    pub error: Option<WireError>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Candidate<'a> {
    #[serde(default, borrow)]
    pub content: Option<Content<'a>>,
    #[serde(default, borrow)]
    pub finish_reason: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Content<'a> {
    #[serde(default, borrow)]
    pub parts: Parts<'a>,
}

/// The parts of a content, the first kept inline: a stream event mostly has one, which then
/// costs no allocation.
#[derive(Debug, Default)]
pub(crate) struct Parts<'a> {
    first: Option<Part<'a>>,
    rest: Vec<Part<'a>>,
}

impl<'a> Parts<'a> {
    pub fn iter(&self) -> impl Iterator<Item = &Part<'a>> {
        self.first.iter().chain(&self.rest)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Parts<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Parts<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of parts")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parts<'a>, A::Error> {
                let first = seq.next_element()?;
                let mut rest = Vec::new();
                if first.is_some() {
                    while let Some(p) = seq.next_element()? {
                        rest.push(p);
                    }
                }
                Ok(Parts { first, rest })
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

/// One part of the model's content. Parts of other kinds (inline media, executable code) are
/// not relayed.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Part<'a> {
    #[serde(default, borrow)]
    pub text: Option<Str<'a>>,
    /// A summary of the model's reasoning, not part of the answer.
    #[serde(default)]
    pub thought: bool,
    #[serde(default, borrow)]
    pub thought_signature: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub function_call: Option<Box<FunctionCall<'a>>>,
}

impl Part<'_> {
    /// The answer text this part adds, if any.
    pub fn answer_text(&self) -> Option<&str> {
        if self.thought {
            return None;
        }
        self.text.as_deref().filter(|t| !t.is_empty())
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct FunctionCall<'a> {
    #[serde(default, borrow)]
    pub id: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub name: Str<'a>,
    #[serde(default)]
    pub args: Option<Value>,
}

impl FunctionCall<'_> {
    /// The call as an OpenAI tool call (the stream adds its `index`); `n` numbers the call
    /// in the answer.
    /// The OpenAI tool call for this function call, the `n`th of the answer `chat_id`. Gemini
    /// names calls only in newer models; the id made for the others is unique across answers,
    /// since a conversation's history may later be sent to a vendor that requires it.
    pub fn tool_call(&self, chat_id: &str, n: usize, signature: Option<&str>) -> Value {
        let id = match self.id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => id.to_string(),
            None => format!(
                "call_{}_{n}",
                chat_id.strip_prefix("chatcmpl-").unwrap_or(chat_id)
            ),
        };
        let args = match &self.args {
            Some(a @ Value::Object(_)) => a.to_string(),
            _ => "{}".to_string(),
        };
        let mut call = json!({
            "id": id,
            "type": "function",
            "function": {"name": &*self.name, "arguments": args},
        });
        if let Some(sig) = signature {
            // Where Gemini's own OpenAI-compatible API puts it; the request translation reads
            // it back from there.
            call["extra_content"] = json!({"google": {"thought_signature": sig}});
        }
        call
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PromptFeedback<'a> {
    #[serde(default, borrow)]
    pub block_reason: Option<Str<'a>>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    thoughts_token_count: u64,
    #[serde(default)]
    cached_content_token_count: u64,
    #[serde(default)]
    tool_use_prompt_token_count: u64,
}

impl UsageMetadata {
    /// The counts, and how many of the completion tokens were reasoning.
    pub fn usage(&self) -> (Usage, u64) {
        (
            Usage {
                prompt_tokens: self.prompt_token_count + self.tool_use_prompt_token_count,
                completion_tokens: self.candidates_token_count + self.thoughts_token_count,
                cached_tokens: self.cached_content_token_count,
                cache_write_tokens: 0,
            },
            self.thoughts_token_count,
        )
    }
}

/// Google's error object, `{"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED"}`:
/// its code (the message is read by [`super::answer::google_message`]).
#[derive(Debug, Deserialize)]
pub(crate) struct WireError {
    #[serde(default)]
    pub code: Option<u16>,
}
