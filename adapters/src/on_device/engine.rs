//! The decode loop: one std thread owns the llama.cpp context and decodes every active sequence
//! in one batch per step (continuous batching). New requests join between steps; a finished or
//! abandoned sequence frees its slot and its KV-cache cells at once.

use super::params::{GenParams, Sampling};
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
use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// What the engine tells the request that owns a sequence.
#[derive(Debug)]
pub(crate) enum SeqEvent {
    /// The prompt is processed and the first token sampled.
    Started,
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
    /// Completion tokens allowed, already clamped to the context window.
    pub max_new: u32,
    pub events: UnboundedSender<SeqEvent>,
}

/// How the engine thread is set up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EngineParams {
    pub n_ctx: u32,
    pub n_parallel: u32,
    pub n_batch: u32,
    pub n_threads: u32,
}

struct Seq {
    job: Job,
    sampler: LlamaSampler,
    text: TextAssembler,
    /// Prompt tokens already submitted.
    fed: usize,
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

/// Creates the context and runs the loop until every handle is dropped and no sequence is left.
/// `ready` receives the outcome of context creation.
pub(crate) fn run(
    backend: &'static LlamaBackend,
    model: Arc<LlamaModel>,
    p: EngineParams,
    jobs: Receiver<Job>,
    counters: Arc<Counters>,
    ready: SyncSender<Result<(), String>>,
) {
    let ctx_params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(p.n_ctx * p.n_parallel))
        .with_n_seq_max(p.n_parallel)
        .with_kv_unified(false)
        .with_n_batch(p.n_batch)
        .with_n_ubatch(p.n_batch.min(512))
        .with_n_threads(p.n_threads as i32)
        .with_n_threads_batch(p.n_threads as i32);
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
        slots: (0..p.n_parallel).map(|_| None).collect(),
        counters,
        n_batch: p.n_batch as usize,
        open: true,
    };
    while engine.admit(&jobs, &mut ctx) {
        engine.step(&mut ctx);
    }
}

struct Engine<'m> {
    model: &'m LlamaModel,
    batch: LlamaBatch<'static>,
    slots: Vec<Option<Seq>>,
    counters: Arc<Counters>,
    n_batch: usize,
    /// Whether handles still exist that may send jobs.
    open: bool,
}

impl Engine<'_> {
    fn active(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// Fills free slots from the queue, blocking while there is nothing to decode. Returns
    /// false when the engine should stop.
    fn admit(&mut self, jobs: &Receiver<Job>, ctx: &mut LlamaContext<'_>) -> bool {
        self.drop_abandoned(ctx);
        while self.open {
            let Some(free) = self.slots.iter().position(Option::is_none) else {
                break;
            };
            let job = if self.active() == 0 {
                match jobs.recv() {
                    Ok(job) => job,
                    Err(_) => {
                        self.open = false;
                        break;
                    }
                }
            } else {
                match jobs.try_recv() {
                    Ok(job) => job,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.open = false;
                        break;
                    }
                }
            };
            if job.events.is_closed() {
                // Abandoned while queued: it never held a slot.
                self.counters.in_flight.fetch_sub(1, Ordering::AcqRel);
                continue;
            }
            let seq = Seq {
                sampler: sampler(&job.params, self.model.n_vocab()),
                text: TextAssembler::new(job.params.stops.clone()),
                job,
                fed: 0,
                pos: 0,
                pending: None,
                logits_at: None,
                in_batch: false,
                generated: 0,
            };
            let _ = ctx.clear_kv_cache_seq(Some(free as u32), None, None);
            self.slots[free] = Some(seq);
            self.counters.active.fetch_add(1, Ordering::AcqRel);
        }
        self.open || self.active() > 0
    }

    /// Frees the slots of requests whose client went away.
    fn drop_abandoned(&mut self, ctx: &mut LlamaContext<'_>) {
        for id in 0..self.slots.len() {
            if self.slots[id]
                .as_ref()
                .is_some_and(|s| s.job.events.is_closed())
            {
                self.free(id, ctx);
            }
        }
    }

    fn free(&mut self, id: usize, ctx: &mut LlamaContext<'_>) {
        if self.slots[id].take().is_some() {
            let _ = ctx.clear_kv_cache_seq(Some(id as u32), None, None);
            self.counters.active.fetch_sub(1, Ordering::AcqRel);
            self.counters.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// One decode call over every active sequence, then one sampled token for each sequence
    /// whose prompt is complete.
    fn step(&mut self, ctx: &mut LlamaContext<'_>) {
        self.batch.clear();
        let mut budget = self.n_batch;
        let mut members = 0usize;
        // Generating sequences first: one token each keeps them moving while prompts load.
        for (id, slot) in self.slots.iter_mut().enumerate() {
            let Some(seq) = slot else { continue };
            seq.logits_at = None;
            seq.in_batch = false;
            if let Some(tok) = seq.pending {
                if budget == 0 {
                    continue;
                }
                let at = self.batch.n_tokens();
                if self.batch.add(tok, seq.pos, &[id as i32], true).is_ok() {
                    seq.logits_at = Some(at);
                    seq.in_batch = true;
                    budget -= 1;
                    members += 1;
                }
            }
        }
        for (id, slot) in self.slots.iter_mut().enumerate() {
            let Some(seq) = slot else { continue };
            if seq.pending.is_some() || budget == 0 {
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
            return;
        }

        if let Err(e) = ctx.decode(&mut self.batch) {
            tracing::error!(error = %e, "on-device decode failed");
            for id in 0..self.slots.len() {
                if self.slots[id].as_ref().is_some_and(|s| s.in_batch) {
                    if let Some(seq) = &self.slots[id] {
                        let _ = seq
                            .job
                            .events
                            .send(SeqEvent::Failed(AttemptError::Unavailable(format!(
                                "on-device decode failed: {e}"
                            ))));
                    }
                    self.free(id, ctx);
                }
            }
            return;
        }
        self.counters.decode_steps.fetch_add(1, Ordering::Relaxed);
        self.counters
            .max_batch_seen
            .fetch_max(members, Ordering::Relaxed);
        self.counters.last_batch.store(members, Ordering::Relaxed);

        for id in 0..self.slots.len() {
            let finished = match &mut self.slots[id] {
                Some(seq) => match seq.logits_at {
                    Some(at) => sample_one(self.model, ctx, seq, at, &self.counters),
                    None => false,
                },
                None => false,
            };
            if finished {
                self.free(id, ctx);
            }
        }
    }
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
        counters
            .prompt_tokens
            .fetch_add(seq.job.prompt.len() as u64, Ordering::Relaxed);
        if seq.job.events.send(SeqEvent::Started).is_err() {
            return true;
        }
    }
    let vocab = model.vocab();
    let finish = if vocab.is_eog(token) {
        Some(FinishReason::Stop)
    } else {
        let bytes = vocab.token_to_piece(token, false, None);
        let piece = seq.text.push(&bytes);
        if !piece.text.is_empty() && seq.job.events.send(SeqEvent::Text(piece.text)).is_err() {
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
                let _ = seq.job.events.send(SeqEvent::Text(tail));
            }
            let _ = seq.job.events.send(SeqEvent::Done {
                finish,
                completion_tokens: seq.generated,
            });
            true
        }
        None => {
            seq.pending = Some(token);
            false
        }
    }
}

/// The sampler chain for one request: logit bias, then greedy or top-k / top-p / temperature
/// and a seeded draw.
fn sampler(p: &GenParams, n_vocab: i32) -> LlamaSampler {
    let mut chain = Vec::new();
    if !p.logit_bias.is_empty() {
        let biases: Vec<LlamaLogitBias> = p
            .logit_bias
            .iter()
            .map(|(id, b)| LlamaLogitBias::new(LlamaToken::new(*id), *b))
            .collect();
        chain.push(LlamaSampler::logit_bias(n_vocab, &biases));
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
    LlamaSampler::chain_simple(chain)
}
