//! What a request asks of a backend: a chat completion (whichever protocol it came in) or
//! embeddings. The steps between parse and answer read it through [`Call`], so the rules and
//! meters are written once for both.

use serde_json::{Map, Value};
use tollgate_adapters::{ChatRequest, EmbedRequest};

/// One request's ask, parsed.
#[derive(Debug, Clone, Copy)]
pub enum Call<'a> {
    /// A chat completion.
    Chat(&'a ChatRequest),
    /// Embeddings.
    Embed(&'a EmbedRequest),
}

impl<'a> Call<'a> {
    /// The request object: every value in it may reach a backend.
    pub fn body(self) -> &'a Map<String, Value> {
        match self {
            Call::Chat(r) => &r.body,
            Call::Embed(r) => &r.body,
        }
    }

    /// The model name the client sent.
    pub fn model(self) -> &'a str {
        match self {
            Call::Chat(r) => r.model(),
            Call::Embed(r) => r.model(),
        }
    }

    /// Whether the client asked for a stream.
    pub fn stream(self) -> bool {
        matches!(self, Call::Chat(r) if r.stream())
    }

    /// The most tokens the answer may have, when bounded: an embedding has none.
    pub fn max_output_tokens(self) -> Option<u32> {
        match self {
            Call::Chat(r) => r.max_completion_tokens(),
            Call::Embed(_) => Some(0),
        }
    }

    /// Parts that cannot be scanned beyond those the body walk finds: token-array inputs
    /// are text the detector cannot read.
    pub fn unreadable(self) -> Option<&'static str> {
        matches!(self, Call::Embed(r) if r.tokens).then_some("token_ids")
    }
}
