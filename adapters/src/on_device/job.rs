//! What a request hands the engine, and what the engine tells it back.

use super::params::GenParams;
use super::response::FinishReason;
use crate::error::AttemptError;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::mpsc::Sender;

/// Events a sequence's channel holds. A client that reads slower than the model writes holds
/// its own sequence back (it leaves the batch until there is room), never the engine's memory.
pub(crate) const EVENTS: usize = 32;

/// What the engine tells the request that owns a sequence.
#[derive(Debug)]
pub(crate) enum SeqEvent {
    /// The prompt is processed and the first token sampled; `cached` prompt tokens were
    /// already in the slot's KV cache and were not processed again.
    Started { cached: u32 },
    /// More output text (never empty).
    Text(String),
    /// Generation ended.
    Done {
        finish: FinishReason,
        completion_tokens: u32,
    },
    /// The engine failed this sequence.
    Failed(AttemptError),
}

/// A request admitted to the engine.
#[derive(Debug)]
pub(crate) struct Job {
    pub prompt: Vec<LlamaToken>,
    pub params: GenParams,
    /// A GBNF grammar every answer must match (structured output).
    pub grammar: Option<String>,
    /// Completion tokens allowed, already clamped to the context window.
    pub max_new: u32,
    pub events: Sender<SeqEvent>,
}

impl Job {
    /// Whether the request that sent this job went away.
    pub fn abandoned(&self) -> bool {
        self.events.is_closed()
    }
}
