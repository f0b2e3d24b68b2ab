//! The decode loop: one std thread owns the llama.cpp context and decodes every active sequence
//! in one batch per step (continuous batching). New requests join between steps; a finished or
//! abandoned sequence frees its slot and its KV-cache cells at once.

use super::config::FlashAttn;
use super::job::{Job, SeqEvent};
use super::params::{rejected, Sampling};
use super::queue::Queue;
use super::response::FinishReason;
use super::stats::Counters;
use super::text::TextAssembler;
use crate::error::AttemptError;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::logit_bias::LlamaLogitBias;
use llama_cpp_2::token::LlamaToken;
use std::cmp::Reverse;
use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::error::TrySendError;

/// Events one step may send to a sequence (started, text, the held-back tail, done).
const ROOM: usize = 4;
/// Prompt tokens one decode step takes while other sequences are generating: a long prompt
/// is then fed in pieces this size, so a generating stream waits for at most this much
/// prefill between two of its tokens. Alone, a prompt is fed `n_batch` tokens at a time.
const SHARED_PREFILL: usize = 64;
/// How long the engine waits when every sequence is held back by its client.
const STALLED_WAIT: Duration = Duration::from_millis(2);

/// How the engine thread is set up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EngineParams {
    pub n_ctx: u32,
    pub n_parallel: u32,
    pub n_batch: u32,
    pub n_ubatch: u32,
    pub n_threads: u32,
    /// The model's sliding attention window (0: none), which bounds how much of an old
    /// sequence the KV cache still holds.
    pub n_swa: u32,
    pub flash_attn: FlashAttn,
}

struct Seq {
    job: Job,
    sampler: LlamaSampler,
    text: TextAssembler,
    /// Prompt tokens already in the KV cache (reused or submitted).
    fed: usize,
    /// Prompt tokens reused from the slot's cache.
    cached: u32,
    /// Next KV position.
    pos: i32,
    /// The token to submit next, once the prompt is in.
    pending: Option<LlamaToken>,
    /// Batch index of this sequence's logits after the current decode.
    logits_at: Option<i32>,
    /// Whether the current batch carries tokens of this sequence.
    in_batch: bool,
    generated: u32,
}

/// One sequence of the context, with the tokens its KV cache holds: they outlive the request
/// that put them there, so a next request starting with them (a chat's next turn, an agent's
/// next step, a shared system prompt) skips their prefill.
struct Slot {
    seq: Option<Seq>,
    /// Tokens at KV positions 0.., in order.
    cache: Vec<LlamaToken>,
    /// When the slot was last given a request, for choosing which cache to overwrite.
    used: u64,
}

/// Creates the context and runs the loop until the queue is closed and no sequence is left.
/// `ready` receives the outcome of context creation.
pub(crate) fn run(
    backend: &'static LlamaBackend,
    model: Arc<LlamaModel>,
    p: EngineParams,
    queue: Arc<Queue>,
    counters: Arc<Counters>,
    ready: SyncSender<Result<(), String>>,
) {
    let ctx_params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(p.n_ctx * p.n_parallel))
        .with_n_seq_max(p.n_parallel)
        .with_kv_unified(false)
        .with_n_batch(p.n_batch)
        .with_n_ubatch(p.n_ubatch.min(p.n_batch))
        .with_n_threads(p.n_threads as i32)
        .with_n_threads_batch(p.n_threads as i32)
        .with_flash_attention_policy(match p.flash_attn {
            FlashAttn::Auto => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_AUTO,
            FlashAttn::On => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED,
            FlashAttn::Off => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED,
        });
    let mut ctx = match model.new_context(backend, ctx_params) {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = ready.send(Err(format!("llama.cpp could not create a context: {e}")));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    drop(ready);
    let mut engine = Engine {
        model: &model,
        batch: LlamaBatch::new(p.n_batch as usize, 1),
        slots: (0..p.n_parallel)
            .map(|_| Slot {
                seq: None,
                cache: Vec::new(),
                used: 0,
            })
            .collect(),
        counters,
        n_batch: p.n_batch as usize,
        n_swa: p.n_swa as usize,
        clock: 0,
    };
    while engine.admit(&queue, &mut ctx) {
        engine.step(&mut ctx);
    }
}

struct Engine<'m> {
    model: &'m LlamaModel,
    batch: LlamaBatch<'static>,
    slots: Vec<Slot>,
    counters: Arc<Counters>,
    n_batch: usize,
    n_swa: usize,
    clock: u64,
}

impl Engine<'_> {
    fn active(&self) -> usize {
        self.slots.iter().filter(|s| s.seq.is_some()).count()
    }

    /// Fills free slots from the queue, blocking while there is nothing to decode. Returns
    /// false when the engine should stop.
    fn admit(&mut self, queue: &Queue, ctx: &mut LlamaContext<'_>) -> bool {
        self.drop_abandoned();
        queue.sweep();
        while self.slots.iter().any(|s| s.seq.is_none()) {
            let Some(job) = queue.pop(self.active() == 0) else {
                break;
            };
            self.start(job, ctx);
        }
        !(self.active() == 0 && queue.finished())
    }

    /// Puts a job in the free slot whose cache shares the longest prefix with its prompt.
    fn start(&mut self, job: Job, ctx: &mut LlamaContext<'_>) {
        let sampler = match sampler(&job, self.model) {
            Ok(s) => s,
            Err(e) => {
                let _ = job.events.try_send(SeqEvent::Failed(e));
                return;
            }
        };
        let free = || {
            self.slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.seq.is_none())
                .map(|(id, s)| (id, common_prefix(&s.cache, &job.prompt), s.used))
        };
        let Some(mut chosen) = free().max_by_key(|&(_, shared, used)| (shared, Reverse(used)))
        else {
            return;
        };
        // A cache the prompt barely shares is worth more to the conversation that may come
        // back to it: below half the prompt, the least recently used slot is taken instead
        // (llama.cpp's server decides the same way).
        if chosen.1 * 2 < job.prompt.len() {
            if let Some(lru) = free().min_by_key(|&(_, _, used)| used) {
                chosen = lru;
            }
        }
        let (id, shared, _) = chosen;
        let reuse = self.reuse(ctx, id, shared, job.prompt.len());
        self.clock += 1;
        let slot = &mut self.slots[id];
        slot.used = self.clock;
        slot.seq = Some(Seq {
            sampler,
            text: TextAssembler::new(job.params.stops.clone()),
            job,
            fed: reuse,
            cached: reuse as u32,
            pos: reuse as i32,
            pending: None,
            logits_at: None,
            in_batch: false,
            generated: 0,
        });
        self.counters.active.fetch_add(1, Ordering::AcqRel);
    }

    /// Keeps the first `shared` cached tokens of slot `id` (at most all but the prompt's last
    /// token, whose logits are needed) and removes the rest; returns how many are kept.
    fn reuse(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        id: usize,
        shared: usize,
        prompt_len: usize,
    ) -> usize {
        let mut keep = shared.min(prompt_len.saturating_sub(1));
        if keep > 0 {
            // A sliding-window cache has already dropped old positions: reuse needs the
            // window before the kept prefix (the rule llama.cpp's server applies).
            let pos_min = ctx.kv_cache_seq_pos_min(id as i32);
            let oldest_needed = if self.n_swa > 0 {
                keep.saturating_sub(self.n_swa)
            } else {
                0
            };
            if pos_min < 0 || pos_min as usize > oldest_needed {
                keep = 0;
            }
        }
        let slot = &mut self.slots[id];
        if keep < slot.cache.len() {
            let removed = ctx
                .clear_kv_cache_seq(Some(id as u32), Some(keep as u32), None)
                .unwrap_or(false);
            if !removed {
                // Some memories (recurrent models) cannot drop a suffix: start over.
                let _ = ctx.clear_kv_cache_seq(Some(id as u32), None, None);
                keep = 0;
            }
        }
        slot.cache.truncate(keep);
        keep
    }

    /// Frees the slots of requests whose client went away.
    fn drop_abandoned(&mut self) {
        for id in 0..self.slots.len() {
            if self.slots[id]
                .seq
                .as_ref()
                .is_some_and(|s| s.job.abandoned())
            {
                self.free(id);
            }
        }
    }

    /// Ends slot `id`'s request; its cache stays for the next one.
    fn free(&mut self, id: usize) {
        if self.slots[id].seq.take().is_some() {
            self.counters.active.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// One decode call over every active sequence whose client has room for its output, then
    /// one sampled token for each sequence whose prompt is complete.
    fn step(&mut self, ctx: &mut LlamaContext<'_>) {
        self.batch.clear();
        let mut budget = self.n_batch;
        let mut members = 0usize;
        // Generating sequences first: one token each keeps them moving while prompts load.
        for (id, slot) in self.slots.iter_mut().enumerate() {
            let Some(seq) = &mut slot.seq else { continue };
            seq.logits_at = None;
            seq.in_batch = false;
            if seq.job.events.capacity() < ROOM {
                continue;
            }
            if let Some(tok) = seq.pending {
                if budget == 0 {
                    continue;
                }
                let at = self.batch.n_tokens();
                if self.batch.add(tok, seq.pos, &[id as i32], true).is_ok() {
                    slot.cache.push(tok);
                    seq.logits_at = Some(at);
                    seq.in_batch = true;
                    budget -= 1;
                    members += 1;
                }
            }
        }
        if members > 0 {
            budget = budget.min(SHARED_PREFILL);
        }
        for (id, slot) in self.slots.iter_mut().enumerate() {
            let Some(seq) = &mut slot.seq else { continue };
            if seq.pending.is_some() || budget == 0 || seq.job.events.capacity() < ROOM {
                continue;
            }
            let rest = &seq.job.prompt[seq.fed..];
            let take = rest.len().min(budget);
            let mut added = 0;
            for (i, tok) in rest[..take].iter().enumerate() {
                let last = seq.fed + i + 1 == seq.job.prompt.len();
                let at = self.batch.n_tokens();
                if self.batch.add(*tok, seq.pos, &[id as i32], last).is_err() {
                    break;
                }
                slot.cache.push(*tok);
                if last {
                    seq.logits_at = Some(at);
                }
                seq.pos += 1;
                added += 1;
            }
            seq.fed += added;
            budget -= added;
            if added > 0 {
                seq.in_batch = true;
                members += 1;
            }
        }
        if self.batch.n_tokens() == 0 {
            if self.active() > 0 {
                std::thread::sleep(STALLED_WAIT);
            }
            return;
        }

        if let Err(e) = ctx.decode(&mut self.batch) {
            tracing::error!(error = %e, "on-device decode failed");
            for id in 0..self.slots.len() {
                let slot = &mut self.slots[id];
                if !slot.seq.as_ref().is_some_and(|s| s.in_batch) {
                    continue;
                }
                if let Some(seq) = &slot.seq {
                    let _ = seq
                        .job
                        .events
                        .try_send(SeqEvent::Failed(AttemptError::Unavailable(format!(
                            "on-device decode failed: {e}"
                        ))));
                }
                // What this batch left in the cache is unknown: forget the slot's cache.
                slot.cache.clear();
                let _ = ctx.clear_kv_cache_seq(Some(id as u32), None, None);
                self.free(id);
            }
            return;
        }
        self.counters.decode_steps.fetch_add(1, Ordering::Relaxed);
        self.counters
            .max_batch_seen
            .fetch_max(members, Ordering::Relaxed);
        self.counters.last_batch.store(members, Ordering::Relaxed);

        for id in 0..self.slots.len() {
            let finished = match &mut self.slots[id].seq {
                Some(seq) => match seq.logits_at {
                    Some(at) => sample_one(self.model, ctx, seq, at, &self.counters),
                    None => false,
                },
                None => false,
            };
            if finished {
                self.free(id);
            }
        }
    }
}

/// Tokens at the start of both.
fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Samples, detokenizes and reports one token; returns whether the sequence is finished.
fn sample_one(
    model: &LlamaModel,
    ctx: &LlamaContext<'_>,
    seq: &mut Seq,
    at: i32,
    counters: &Counters,
) -> bool {
    let first = seq.pending.is_none();
    if seq.pending.take().is_some() {
        // The pending token is in the cache now.
        seq.pos += 1;
    }
    let token = seq.sampler.sample(ctx, at);
    seq.generated += 1;
    counters.generated_tokens.fetch_add(1, Ordering::Relaxed);
    if first {
        let cached = u64::from(seq.cached);
        counters
            .prompt_tokens
            .fetch_add(seq.job.prompt.len() as u64 - cached, Ordering::Relaxed);
        counters.cached_tokens.fetch_add(cached, Ordering::Relaxed);
        if !send(seq, SeqEvent::Started { cached: seq.cached }) {
            return true;
        }
    }
    let vocab = model.vocab();
    let finish = if vocab.is_eog(token) {
        Some(FinishReason::Stop)
    } else {
        // `special = false`: a control token the model emits is not rendered into the text.
        let bytes = vocab.token_to_piece(token, false, None);
        let piece = seq.text.push(&bytes);
        if !piece.text.is_empty() && !send(seq, SeqEvent::Text(piece.text)) {
            return true;
        }
        if piece.stopped {
            Some(FinishReason::Stop)
        } else if seq.generated >= seq.job.max_new {
            Some(FinishReason::Length)
        } else {
            None
        }
    };
    match finish {
        Some(finish) => {
            let tail = seq.text.finish();
            if !tail.is_empty() {
                send(seq, SeqEvent::Text(tail));
            }
            send(
                seq,
                SeqEvent::Done {
                    finish,
                    completion_tokens: seq.generated,
                },
            );
            true
        }
        None => {
            seq.pending = Some(token);
            false
        }
    }
}

/// Sends an event; false when the client is gone. A sequence joins a batch only with room for
/// every event one step sends, so the channel is never full here.
fn send(seq: &Seq, event: SeqEvent) -> bool {
    match seq.job.events.try_send(event) {
        Ok(()) => true,
        Err(TrySendError::Closed(_)) => false,
        Err(TrySendError::Full(_)) => {
            tracing::error!("on-device sequence channel full; ending the sequence");
            false
        }
    }
}

/// The sampler chain for one request: logit bias, the grammar of a structured answer, then
/// greedy or top-k / top-p / temperature and a seeded draw.
fn sampler(job: &Job, model: &LlamaModel) -> Result<LlamaSampler, AttemptError> {
    let p = &job.params;
    let n_vocab = model.n_vocab();
    let mut chain = Vec::new();
    if !p.logit_bias.is_empty() {
        let biases: Vec<LlamaLogitBias> = p
            .logit_bias
            .iter()
            .map(|(id, b)| LlamaLogitBias::new(LlamaToken::new(*id), *b))
            .collect();
        chain.push(LlamaSampler::logit_bias(n_vocab, &biases));
    }
    if let Some(grammar) = &job.grammar {
        // Masks every token the grammar does not allow before one is chosen, and ends the
        // answer only where the grammar is complete.
        let g = LlamaSampler::grammar(model, grammar, "root").map_err(|e| {
            rejected(
                "unsupported_schema",
                format!("the response format cannot be enforced on this model: {e}"),
            )
        })?;
        chain.push(g);
    }
    match p.sampling {
        Sampling::Greedy => chain.push(LlamaSampler::greedy()),
        Sampling::Random {
            temperature,
            top_k,
            top_p,
            seed,
        } => {
            if let Some(k) = top_k {
                chain.push(LlamaSampler::top_k(k));
            }
            if let Some(p) = top_p {
                chain.push(LlamaSampler::top_p(p, 1));
            }
            chain.push(LlamaSampler::temp(temperature));
            chain.push(LlamaSampler::dist(seed));
        }
    }
    Ok(LlamaSampler::chain_simple(chain))
}
