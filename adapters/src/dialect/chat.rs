//! The chat-completions answers every backend gives, read for translation into another
//! protocol: a whole `chat.completion` and the `chat.completion.chunk`s of a stream. Strings are
//! borrowed from the backend's bytes where they need no unescaping, so reading a chunk does
//! not allocate for its text.

use crate::reply::{Usage, WireUsage};
use serde::Deserialize;
use std::borrow::Cow;

/// A whole chat completion.
#[derive(Debug, Deserialize)]
pub struct Completion<'a> {
    #[serde(default, borrow)]
    pub id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub choices: Vec<Choice<'a>>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

impl Completion<'_> {
    /// The usage the backend reported.
    pub fn usage(&mut self) -> Option<Usage> {
        self.usage.take().map(Usage::from)
    }
}

/// One choice of a whole completion.
#[derive(Debug, Deserialize)]
pub struct Choice<'a> {
    #[serde(default, borrow)]
    pub message: Message<'a>,
    #[serde(default, borrow)]
    pub finish_reason: Option<Cow<'a, str>>,
}

/// The assistant's message.
#[derive(Debug, Default, Deserialize)]
pub struct Message<'a> {
    #[serde(default, borrow)]
    pub content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub refusal: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub tool_calls: Vec<ToolCall<'a>>,
}

/// A whole tool call.
#[derive(Debug, Deserialize)]
pub struct ToolCall<'a> {
    #[serde(default, borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow)]
    pub function: Function<'a>,
}

/// The function a tool call names, and its JSON arguments as a string.
#[derive(Debug, Deserialize)]
pub struct Function<'a> {
    #[serde(default, borrow)]
    pub name: Cow<'a, str>,
    #[serde(default, borrow)]
    pub arguments: Cow<'a, str>,
}

/// One streamed chunk.
#[derive(Debug, Deserialize)]
pub struct Chunk<'a> {
    #[serde(default, borrow)]
    pub id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub choices: Vec<ChunkChoice<'a>>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

impl Chunk<'_> {
    /// The usage this chunk carries (the last one does when the client asked for it).
    pub fn usage(&mut self) -> Option<Usage> {
        self.usage.take().map(Usage::from)
    }
}

/// One choice of a chunk.
#[derive(Debug, Deserialize)]
pub struct ChunkChoice<'a> {
    #[serde(default, borrow)]
    pub delta: Delta<'a>,
    #[serde(default, borrow)]
    pub finish_reason: Option<Cow<'a, str>>,
}

/// What a chunk adds to the message.
#[derive(Debug, Default, Deserialize)]
pub struct Delta<'a> {
    #[serde(default, borrow)]
    pub content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub refusal: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub tool_calls: Vec<ToolCallDelta<'a>>,
}

impl Delta<'_> {
    /// The text this chunk adds, refusal first, empty pieces left out.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        [self.refusal.as_deref(), self.content.as_deref()]
            .into_iter()
            .flatten()
            .filter(|t| !t.is_empty())
    }
}

/// A piece of a tool call: the first names it, the rest add to its arguments.
#[derive(Debug, Deserialize)]
pub struct ToolCallDelta<'a> {
    #[serde(default)]
    pub index: u32,
    #[serde(default, borrow)]
    pub id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub function: Option<FunctionDelta<'a>>,
}

/// A piece of a tool call's function.
#[derive(Debug, Deserialize)]
pub struct FunctionDelta<'a> {
    #[serde(default, borrow)]
    pub name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub arguments: Option<Cow<'a, str>>,
}

/// Why a chat answer ended, in chat-completions terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Finish {
    /// A natural end or a stop sequence.
    #[default]
    Stop,
    /// The token limit.
    Length,
    /// The model called tools.
    ToolCalls,
    /// A content filter stopped it.
    ContentFilter,
}

impl Finish {
    /// Reads a `finish_reason`; anything unknown is a natural end.
    pub fn parse(reason: &str) -> Finish {
        match reason {
            "length" => Finish::Length,
            "tool_calls" | "function_call" => Finish::ToolCalls,
            "content_filter" => Finish::ContentFilter,
            _ => Finish::Stop,
        }
    }
}
