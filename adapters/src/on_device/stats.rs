//! Cheap engine statistics for metrics, kept in atomics the engine thread updates.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A snapshot of one engine's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Requests admitted and waiting for a sequence slot.
    pub queued: usize,
    /// Sequences holding a slot (prompt loading or generating).
    pub active_sequences: usize,
    /// Decode calls made since load.
    pub decode_steps: u64,
    /// Most sequences carried by one decode call since load.
    pub max_batch_seen: usize,
    /// Sequences carried by the latest decode call.
    pub last_batch: usize,
    /// Prompt tokens processed since load.
    pub prompt_tokens: u64,
    /// Prompt tokens found in a slot's KV cache and not processed again, since load.
    pub cached_tokens: u64,
    /// Tokens generated since load.
    pub generated_tokens: u64,
    /// Requests refused because the queue was full.
    pub overloaded: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub active: AtomicUsize,
    pub decode_steps: AtomicU64,
    pub max_batch_seen: AtomicUsize,
    pub last_batch: AtomicUsize,
    pub prompt_tokens: AtomicU64,
    pub cached_tokens: AtomicU64,
    pub generated_tokens: AtomicU64,
    pub overloaded: AtomicU64,
}

impl Counters {
    /// The counters, with `taken` places held by requests (queued or active).
    pub fn snapshot(&self, taken: usize) -> EngineStats {
        let active = self.active.load(Ordering::Acquire);
        EngineStats {
            queued: taken.saturating_sub(active),
            active_sequences: active,
            decode_steps: self.decode_steps.load(Ordering::Relaxed),
            max_batch_seen: self.max_batch_seen.load(Ordering::Relaxed),
            last_batch: self.last_batch.load(Ordering::Relaxed),
            prompt_tokens: self.prompt_tokens.load(Ordering::Relaxed),
            cached_tokens: self.cached_tokens.load(Ordering::Relaxed),
            generated_tokens: self.generated_tokens.load(Ordering::Relaxed),
            overloaded: self.overloaded.load(Ordering::Relaxed),
        }
    }
}
