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
    /// Tokens generated since load.
    pub generated_tokens: u64,
    /// Requests refused because the queue was full.
    pub overloaded: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Admitted requests not yet finished: queued plus active.
    pub in_flight: AtomicUsize,
    pub active: AtomicUsize,
    pub decode_steps: AtomicU64,
    pub max_batch_seen: AtomicUsize,
    pub last_batch: AtomicUsize,
    pub prompt_tokens: AtomicU64,
    pub generated_tokens: AtomicU64,
    pub overloaded: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> EngineStats {
        let active = self.active.load(Ordering::Acquire);
        EngineStats {
            queued: self
                .in_flight
                .load(Ordering::Acquire)
                .saturating_sub(active),
            active_sequences: active,
            decode_steps: self.decode_steps.load(Ordering::Relaxed),
            max_batch_seen: self.max_batch_seen.load(Ordering::Relaxed),
            last_batch: self.last_batch.load(Ordering::Relaxed),
            prompt_tokens: self.prompt_tokens.load(Ordering::Relaxed),
            generated_tokens: self.generated_tokens.load(Ordering::Relaxed),
            overloaded: self.overloaded.load(Ordering::Relaxed),
        }
    }

    /// Reserves room for one more request unless `capacity` are already in flight.
    pub fn try_admit(&self, capacity: usize) -> bool {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity).then_some(n + 1)
            })
            .is_ok()
    }
}
