//! Embeddings from the on-device model: one std thread owns an embeddings context (mean
//! pooling over the sequence, as llama.cpp's server does for models that declare none) and
//! embeds inputs one after another. It is started on the first embeddings request, so a model
//! used only for chat never pays for a second context.

use super::OnDevice;
use crate::embed::EmbedRequest;
use crate::error::AttemptError;
use crate::reply::{Complete, Usage};
use base64::Engine as _;
use bytes::Bytes;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use serde_json::{json, Value};
use std::num::NonZeroU32;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;

/// Inputs to embed, and where their vectors go.
pub(crate) struct EmbedJob {
    /// Each input's tokens.
    pub inputs: Vec<Vec<LlamaToken>>,
    /// One L2-normalised vector per input, or why not.
    pub reply: tokio::sync::oneshot::Sender<Result<Vec<Vec<f32>>, AttemptError>>,
}

impl OnDevice {
    /// Embeds every input of `req`: text is tokenized by the model's own tokenizer (so the
    /// usage is exact), token ids are checked against its vocabulary. `model` is the name the
    /// answer reports.
    pub async fn embed(&self, req: &EmbedRequest, model: &str) -> Result<Complete, AttemptError> {
        let inner = &self.inner;
        if req
            .body
            .get("dimensions")
            .is_some_and(|d| !d.is_null() && d.as_i64() != Some(i64::from(inner.model.n_embd())))
        {
            return Err(super::params::rejected(
                "unsupported_parameter",
                format!(
                    "dimensions: the on-device model '{}' embeds in {} dimensions only",
                    inner.name,
                    inner.model.n_embd()
                ),
            ));
        }
        let inputs = self.embedding_tokens(req)?;
        let tokens: usize = inputs.iter().map(Vec::len).sum();
        let sender = inner
            .embedder
            .get_or_init(|| self.start_embedder())
            .as_ref()
            .map_err(|e| AttemptError::Unavailable(e.clone()))?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        sender
            .send(EmbedJob { inputs, reply })
            .map_err(|_| AttemptError::Unavailable("the embeddings thread has stopped".into()))?;
        let vectors = answer
            .await
            .map_err(|_| AttemptError::Unavailable("the embeddings thread has stopped".into()))??;
        let base64 = req.body.get("encoding_format").and_then(Value::as_str) == Some("base64");
        let data: Vec<Value> = vectors
            .iter()
            .enumerate()
            .map(
                |(i, v)| json!({"object": "embedding", "index": i, "embedding": encode(v, base64)}),
            )
            .collect();
        let body = json!({
            "object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        });
        Ok(Complete {
            body: Bytes::from(body.to_string()),
            usage: Some(Usage {
                prompt_tokens: tokens as u64,
                completion_tokens: 0,
                cached_tokens: 0,
                cache_write_tokens: 0,
            }),
            first_byte: None,
        })
    }

    /// Each input's tokens, each fitting the context.
    fn embedding_tokens(&self, req: &EmbedRequest) -> Result<Vec<Vec<LlamaToken>>, AttemptError> {
        let inner = &self.inner;
        let n_vocab = inner.model.n_vocab();
        let mut out = Vec::with_capacity(req.inputs.len());
        for (i, input) in req.inputs.iter().enumerate() {
            let tokens: Vec<LlamaToken> = match input {
                Value::String(text) => inner.model.vocab().tokenize(text.as_bytes(), true, false),
                Value::Array(ids) => ids
                    .iter()
                    .map(|id| match id.as_u64().and_then(|id| i32::try_from(id).ok()) {
                        Some(id) if id < n_vocab => Ok(LlamaToken::new(id)),
                        _ => Err(super::params::rejected(
                            "invalid_parameter",
                            format!("input[{i}]: token id {id} is not in the model's vocabulary of {n_vocab}"),
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                _ => Vec::new(),
            };
            if tokens.is_empty() || tokens.len() > inner.n_ctx as usize {
                return Err(super::params::rejected(
                    "invalid_parameter",
                    format!(
                        "input[{i}] is {} tokens; the on-device model embeds 1 to {} tokens",
                        tokens.len(),
                        inner.n_ctx
                    ),
                ));
            }
            out.push(tokens);
        }
        Ok(out)
    }

    fn start_embedder(&self) -> Result<mpsc::Sender<EmbedJob>, String> {
        let inner = &self.inner;
        let (jobs, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (backend, model, n_ctx, n_threads) = (
            inner.backend,
            Arc::clone(&inner.model),
            inner.n_ctx,
            inner.n_threads,
        );
        std::thread::Builder::new()
            .name(format!("llama-{}-embed", inner.name))
            .spawn(move || run(backend, model, n_ctx, n_threads, rx, ready_tx))
            .map_err(|e| format!("cannot start the embeddings thread: {e}"))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(jobs),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("the embeddings thread stopped while starting".into()),
        }
    }
}

/// A vector as OpenAI sends it: a list of floats, or base64 of its little-endian `f32`s.
fn encode(v: &[f32], base64: bool) -> Value {
    if !base64 {
        return json!(v);
    }
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Runs the embeddings thread until every sender is gone. `ready` says whether the context
/// could be made.
pub(crate) fn run(
    backend: &'static LlamaBackend,
    model: Arc<LlamaModel>,
    n_ctx: u32,
    n_threads: u32,
    jobs: Receiver<EmbedJob>,
    ready: SyncSender<Result<(), String>>,
) {
    // A pooled embedding needs the whole input in one micro-batch.
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(n_ctx)
        .with_n_ubatch(n_ctx)
        .with_n_seq_max(1)
        .with_embeddings(true)
        .with_pooling_type(LlamaPoolingType::Mean)
        .with_n_threads(n_threads as i32)
        .with_n_threads_batch(n_threads as i32);
    let mut ctx = match model.new_context(backend, params) {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = ready.send(Err(format!(
                "llama.cpp could not create an embeddings context: {e}"
            )));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    drop(ready);
    let mut batch = LlamaBatch::new(n_ctx as usize, 1);
    for job in jobs {
        let mut out = Vec::with_capacity(job.inputs.len());
        let mut failed = None;
        for tokens in &job.inputs {
            ctx.clear_kv_cache();
            batch.clear();
            // Every position is an output: the pooled vector is their mean.
            let added = tokens
                .iter()
                .enumerate()
                .try_for_each(|(i, t)| batch.add(*t, i as i32, &[0], true));
            let result = added
                .map_err(|e| e.to_string())
                .and_then(|()| ctx.decode(&mut batch).map_err(|e| e.to_string()))
                .and_then(|()| {
                    ctx.embeddings_seq_ith(0)
                        .map(normalized)
                        .map_err(|e| e.to_string())
                });
            match result {
                Ok(v) => out.push(v),
                Err(e) => {
                    failed = Some(AttemptError::Protocol(format!(
                        "the on-device model could not embed an input: {e}"
                    )));
                    break;
                }
            }
        }
        let _ = job.reply.send(match failed {
            Some(e) => Err(e),
            None => Ok(out),
        });
    }
}

/// The vector scaled to unit length, as OpenAI's embeddings are (so a dot product is the
/// cosine similarity).
fn normalized(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        return v.to_vec();
    }
    v.iter().map(|x| x / norm).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_come_out_unit_length() {
        let v = normalized(&[3.0, 4.0]);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert_eq!(normalized(&[0.0, 0.0]), vec![0.0, 0.0]);
    }
}
