//! The on-device backend: a GGUF model run by llama.cpp inside the gateway process.
//!
//! [`OnDevice::load`] checks the file (existence, optional SHA-256, GGUF header against the
//! file length) before llama.cpp sees it, then starts one engine thread that owns the llama.cpp
//! context. [`OnDevice::chat`] formats the conversation with the model's chat template
//! (markup as control tokens, message text as plain text), takes one of a fixed number of
//! places (429 past them), and hands the request to the engine, which decodes all active
//! sequences together (continuous batching) and reuses the KV cache of a slot whose tokens
//! start the new prompt. Generation never runs on tokio's workers.

mod answer;
mod config;
mod embed;
mod engine;
mod job;
mod load;
mod params;
mod prompt;
mod queue;
mod response;
mod stats;
mod structured;
mod text;
mod tool_output;
mod tools;

pub use config::{FlashAttn, OnDeviceConfig};
pub use load::LoadError;
pub use stats::EngineStats;
pub use structured::{output_form, OutputForm};

use crate::error::AttemptError;
use crate::gguf::check_file;
use crate::reply::Reply;
use crate::request::ChatRequest;
use answer::Started;
use engine::EngineParams;
use job::{Job, SeqEvent};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;
use load::{backend, sha256_file};
use params::rejected;
use prompt::Markup;
use queue::{Admission, Queue};
use response::{CallForm, Envelope};
use stats::Counters;
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};

/// Seconds a client is told to wait when the queue is full.
const RETRY_AFTER_SECS: u64 = 1;
/// Prompts longer than this are tokenized on tokio's blocking pool rather than inline.
const INLINE_TOKENIZE_BYTES: usize = 16 * 1024;

/// One loaded on-device model and its engine thread. Cloning shares the engine.
#[derive(Clone)]
pub struct OnDevice {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    model: Arc<LlamaModel>,
    template: LlamaChatTemplate,
    markup: Markup,
    n_ctx: u32,
    admission: Admission,
    queue: Arc<Queue>,
    counters: Arc<Counters>,
    backend: &'static LlamaBackend,
    n_threads: u32,
    /// The embeddings thread, started by the first embeddings request.
    embedder: OnceLock<Result<mpsc::Sender<embed::EmbedJob>, String>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone: the engine finishes what it holds and stops.
        self.queue.close();
    }
}

impl std::fmt::Debug for OnDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnDevice")
            .field("name", &self.inner.name)
            .field("n_ctx", &self.inner.n_ctx)
            .field("stats", &self.stats())
            .finish()
    }
}

impl OnDevice {
    /// Checks and loads the model and starts its engine thread. This blocks (hashing and
    /// mapping a large file takes seconds): call it at startup or from a blocking task.
    pub fn load(name: &str, cfg: &OnDeviceConfig) -> Result<OnDevice, LoadError> {
        let path_str = cfg.path.display().to_string();
        cfg.validate().map_err(|message| LoadError::Config {
            name: name.into(),
            message,
        })?;
        let io = |source: std::io::Error| {
            if source.kind() == std::io::ErrorKind::NotFound {
                LoadError::Missing {
                    name: name.into(),
                    path: path_str.clone(),
                }
            } else {
                LoadError::Io {
                    name: name.into(),
                    path: path_str.clone(),
                    source,
                }
            }
        };
        let meta = std::fs::metadata(&cfg.path).map_err(io)?;
        if !meta.is_file() {
            return Err(LoadError::Config {
                name: name.into(),
                message: format!("model path {path_str} is not a file"),
            });
        }
        if let Some(expected) = &cfg.sha256 {
            let actual = sha256_file(&cfg.path).map_err(io)?;
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(LoadError::Sha256Mismatch {
                    name: name.into(),
                    path: path_str,
                    expected: expected.to_ascii_lowercase(),
                    actual,
                });
            }
        }
        let summary = check_file(&cfg.path).map_err(|source| LoadError::Gguf {
            name: name.into(),
            source,
        })?;
        let engine_err = |message: String| LoadError::Engine {
            name: name.into(),
            message,
        };
        if !summary.has_chat_template && cfg.chat_template.is_none() {
            return Err(engine_err(format!(
                "model file {path_str} has no tokenizer.chat_template; set chat_template \
                 (for example \"chatml\") in this backend's configuration"
            )));
        }

        let backend = backend(cfg.llama_logs).map_err(&engine_err)?;
        let model = LlamaModel::load_from_file(backend, &cfg.path, &LlamaModelParams::default())
            .map_err(|e| {
                let hint = if cfg.llama_logs {
                    "see llama.cpp's log lines for the reason"
                } else {
                    "set llama_logs = true to see llama.cpp's reason"
                };
                engine_err(format!("llama.cpp could not load {path_str}: {e} ({hint})"))
            })?;
        let template = match &cfg.chat_template {
            Some(t) => LlamaChatTemplate::new(t)
                .map_err(|_| engine_err("chat_template contains a NUL character".into()))?,
            None => model
                .chat_template(None)
                .map_err(|e| engine_err(format!("cannot read the model's chat template: {e}")))?,
        };
        let probe = [
            LlamaChatMessage::new("system".into(), "s".into()),
            LlamaChatMessage::new("user".into(), "u".into()),
        ]
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| engine_err(e.to_string()))?;
        model
            .apply_chat_template(&template, &probe, true)
            .map_err(|e| {
                engine_err(format!(
                    "llama.cpp does not support this model's chat template ({e}); set \
                 chat_template to a supported template name such as \"chatml\""
                ))
            })?;

        let model = Arc::new(model);
        let counters = Arc::new(Counters::default());
        let queue = Arc::new(Queue::default());
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let p = EngineParams {
            n_ctx: cfg.n_ctx,
            n_parallel: cfg.n_parallel,
            n_batch: cfg.n_batch,
            n_ubatch: cfg.ubatch(),
            n_threads: cfg.n_threads,
            n_swa: sliding_window(&model),
            flash_attn: cfg.flash_attn,
        };
        let thread_model = Arc::clone(&model);
        let thread_counters = Arc::clone(&counters);
        let thread_queue = Arc::clone(&queue);
        std::thread::Builder::new()
            .name(format!("llama-{name}"))
            .spawn(move || {
                engine::run(
                    backend,
                    thread_model,
                    p,
                    thread_queue,
                    thread_counters,
                    ready_tx,
                )
            })
            .map_err(|e| engine_err(format!("cannot start the engine thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(message)) => return Err(engine_err(message)),
            Err(_) => {
                return Err(engine_err(
                    "the engine thread stopped while starting".into(),
                ))
            }
        }
        tracing::info!(
            backend = name,
            path = %path_str,
            params = model.n_params(),
            n_ctx = cfg.n_ctx,
            n_parallel = cfg.n_parallel,
            "on-device model loaded"
        );
        Ok(OnDevice {
            inner: Arc::new(Inner {
                name: name.to_string(),
                markup: Markup::new(&model),
                model,
                template,
                n_ctx: cfg.n_ctx,
                admission: Admission::new((cfg.n_parallel + cfg.queue) as usize),
                queue,
                counters,
                backend,
                n_threads: cfg.n_threads,
                embedder: OnceLock::new(),
            }),
        })
    }

    /// The backend's configured name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Context window of each sequence, in tokens.
    pub fn n_ctx(&self) -> u32 {
        self.inner.n_ctx
    }

    /// A snapshot of the engine's counters; cheap enough for every metrics scrape.
    pub fn stats(&self) -> EngineStats {
        self.inner.counters.snapshot(self.inner.admission.taken())
    }

    /// Tokens in `text` by the model's own tokenizer (no special tokens added or parsed).
    pub fn count_tokens(&self, text: &str) -> usize {
        self.inner
            .model
            .vocab()
            .tokenize(text.as_bytes(), false, false)
            .len()
    }

    /// Tokens of the prompt this request would be given: its messages through the chat
    /// template, as `usage.prompt_tokens` will report them.
    pub fn count_prompt_tokens(&self, req: &ChatRequest) -> Result<usize, AttemptError> {
        Ok(self.prompt(req)?.len())
    }

    /// Serves one chat completion; `model` is the name reported in the response.
    pub async fn chat(&self, req: &ChatRequest, model: &str) -> Result<Reply, AttemptError> {
        let n_vocab = self.inner.model.vocab().n_tokens();
        let params = params::gen_params(req, n_vocab, fresh_seed())?;
        let (messages, tools) = conversation(req)?;
        let grammar = match &tools {
            Some(plan) => Some(plan.grammar.clone()),
            None => structured::grammar(req.body.get("response_format"))?,
        };
        let bytes: usize = messages.iter().map(|m| m.content.len()).sum();
        let prompt = if bytes > INLINE_TOKENIZE_BYTES {
            let this = self.clone();
            tokio::task::spawn_blocking(move || this.prompt_of(&messages))
                .await
                .map_err(|e| AttemptError::Unavailable(format!("tokenizer task failed: {e}")))??
        } else {
            self.prompt_of(&messages)?
        };
        let n_ctx = self.inner.n_ctx as usize;
        if prompt.len() >= n_ctx {
            return Err(rejected(
                "context_length_exceeded",
                format!(
                    "the prompt is {} tokens, but the context window of on-device model {:?} \
                     is {} tokens (prompt and completion together)",
                    prompt.len(),
                    self.inner.name,
                    n_ctx
                ),
            ));
        }
        let room = (n_ctx - prompt.len()) as u32;
        let max_new = params.max_tokens.map_or(room, |m| m.min(room));
        let prompt_tokens = prompt.len() as u64;

        let Some(place) = self.inner.admission.try_enter() else {
            self.inner
                .counters
                .overloaded
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(AttemptError::Overloaded {
                retry_after: RETRY_AFTER_SECS,
            });
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(job::EVENTS);
        let job = Job {
            prompt,
            params,
            grammar,
            max_new,
            events: tx,
        };
        if self.inner.queue.push(job).is_err() {
            return Err(self.stopped());
        }

        // Wait for the prompt to be processed, so failures before any output stay failures
        // the gateway can fail over from.
        let cached = match rx.recv().await {
            Some(SeqEvent::Started { cached }) => cached,
            Some(SeqEvent::Failed(e)) => return Err(e),
            Some(other) => {
                return Err(AttemptError::Protocol(format!(
                    "engine sent {other:?} before starting"
                )))
            }
            None => return Err(self.stopped()),
        };
        let started = Started {
            events: rx,
            env: Envelope::new(model),
            prompt_tokens,
            cached_tokens: u64::from(cached),
            _place: place,
            stopped: self.stopped(),
            tools: tools.map(|plan| {
                let form = if plan.legacy {
                    CallForm::Function
                } else {
                    CallForm::Tools
                };
                (tool_output::Decoder::default(), form)
            }),
        };
        if req.stream() {
            Ok(Reply::Stream(Box::pin(answer::stream(started))))
        } else {
            answer::collect(started).await
        }
    }

    fn stopped(&self) -> AttemptError {
        AttemptError::Unavailable(format!(
            "on-device engine {:?} has stopped",
            self.inner.name
        ))
    }

    /// The request's prompt tokens: its messages through the chat template.
    fn prompt(&self, req: &ChatRequest) -> Result<Vec<LlamaToken>, AttemptError> {
        self.prompt_of(&conversation(req)?.0)
    }

    fn prompt_of(&self, messages: &[params::Message]) -> Result<Vec<LlamaToken>, AttemptError> {
        let i = &self.inner;
        prompt::prompt(&i.model, &i.template, &i.markup, messages).map_err(|e| match e {
            AttemptError::Rejected {
                status,
                message,
                code,
            } => AttemptError::Rejected {
                status,
                message: format!("on-device model {:?}: {message}", i.name),
                code,
            },
            other => other,
        })
    }
}

/// The conversation the model is given, with the request's tools described in it, and the
/// plan of a tool answer.
fn conversation(
    req: &ChatRequest,
) -> Result<(Vec<params::Message>, Option<tools::Plan>), AttemptError> {
    let mut messages = params::messages(req)?;
    let plan = tools::plan(&req.body)?;
    if let Some(plan) = &plan {
        tools::describe(&mut messages, plan);
    }
    Ok((messages, plan))
}

/// The model's sliding attention window from its GGUF metadata; 0 when it has none.
fn sliding_window(model: &LlamaModel) -> u32 {
    let Ok(arch) = model.meta_val_str("general.architecture") else {
        return 0;
    };
    model
        .meta_val_str(&format!("{arch}.attention.sliding_window"))
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A seed for requests that set none.
fn fresh_seed() -> u32 {
    let b = uuid::Uuid::new_v4().into_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}
