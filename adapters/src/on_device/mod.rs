//! The on-device backend: a GGUF model run by llama.cpp inside the gateway process.
//!
//! [`OnDevice::load`] checks the file (existence, optional SHA-256, GGUF header against the
//! file length) before llama.cpp sees it, then starts one engine thread that owns the llama.cpp
//! context. [`OnDevice::chat`] formats the conversation with the model's chat template, admits
//! the request to a bounded queue (429 past it), and hands it to the engine, which decodes all
//! active sequences together (continuous batching). Generation never runs on tokio's workers.

mod config;
mod embed;
mod engine;
mod params;
mod response;
mod stats;
mod text;

pub use config::OnDeviceConfig;
pub use stats::EngineStats;

use crate::error::AttemptError;
use crate::gguf::{check_file, GgufError};
use crate::reply::{Complete, Event, Reply, Usage};
use crate::request::ChatRequest;
use engine::{EngineParams, Job, SeqEvent};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;
use params::rejected;
use response::Envelope;
use sha2::{Digest, Sha256};
use stats::Counters;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// Seconds a client is told to wait when the queue is full.
const RETRY_AFTER_SECS: u64 = 1;
/// Prompts longer than this are tokenized on tokio's blocking pool rather than inline.
const INLINE_TOKENIZE_BYTES: usize = 16 * 1024;

/// Why an on-device model could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The configuration is unusable.
    #[error("on-device backend {name:?}: {message}")]
    Config {
        /// Backend name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The model file does not exist.
    #[error("on-device backend {name:?}: model file {path} does not exist")]
    Missing {
        /// Backend name.
        name: String,
        /// The configured path.
        path: String,
    },
    /// The model file could not be read.
    #[error("on-device backend {name:?}: cannot read model file {path}: {source}")]
    Io {
        /// Backend name.
        name: String,
        /// The configured path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file's SHA-256 is not the configured one.
    #[error(
        "on-device backend {name:?}: model file {path} has SHA-256 {actual}, but the \
         configuration expects {expected}; refusing to load it"
    )]
    Sha256Mismatch {
        /// Backend name.
        name: String,
        /// The configured path.
        path: String,
        /// The configured digest.
        expected: String,
        /// The file's digest.
        actual: String,
    },
    /// The file is truncated or not a valid GGUF model.
    #[error("on-device backend {name:?}: {source}")]
    Gguf {
        /// Backend name.
        name: String,
        /// What the header check found.
        source: GgufError,
    },
    /// llama.cpp refused the model or could not set up the engine.
    #[error("on-device backend {name:?}: {message}")]
    Engine {
        /// Backend name.
        name: String,
        /// What failed.
        message: String,
    },
}

/// llama.cpp's process-wide state: initialised once, shared by every engine.
static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

fn backend(llama_logs: bool) -> Result<&'static LlamaBackend, String> {
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(
                llama_cpp_2::LogOptions::default().with_logs_enabled(llama_logs),
            );
            LlamaBackend::init().map_err(|e| format!("llama.cpp backend: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// One loaded on-device model and its engine thread. Cloning shares the engine.
#[derive(Clone)]
pub struct OnDevice {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    model: Arc<LlamaModel>,
    template: LlamaChatTemplate,
    n_ctx: u32,
    capacity: usize,
    jobs: mpsc::Sender<Job>,
    counters: Arc<Counters>,
    backend: &'static LlamaBackend,
    n_threads: u32,
    /// The embeddings thread, started by the first embeddings request.
    embedder: OnceLock<Result<mpsc::Sender<embed::EmbedJob>, String>>,
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
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let p = EngineParams {
            n_ctx: cfg.n_ctx,
            n_parallel: cfg.n_parallel,
            n_batch: cfg.n_batch,
            n_threads: cfg.n_threads,
        };
        let thread_model = Arc::clone(&model);
        let thread_counters = Arc::clone(&counters);
        std::thread::Builder::new()
            .name(format!("llama-{name}"))
            .spawn(move || {
                engine::run(backend, thread_model, p, jobs_rx, thread_counters, ready_tx)
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
                model,
                template,
                n_ctx: cfg.n_ctx,
                capacity: (cfg.n_parallel + cfg.queue) as usize,
                jobs: jobs_tx,
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
        self.inner.counters.snapshot()
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
        let prompt = self.format(req)?;
        Ok(self.tokenize_prompt(&prompt).len())
    }

    /// Serves one chat completion; `model` is the name reported in the response.
    pub async fn chat(&self, req: &ChatRequest, model: &str) -> Result<Reply, AttemptError> {
        let n_vocab = self.inner.model.vocab().n_tokens();
        let params = params::gen_params(req, n_vocab, fresh_seed())?;
        let prompt_text = self.format(req)?;
        let prompt = if prompt_text.len() > INLINE_TOKENIZE_BYTES {
            let this = self.clone();
            tokio::task::spawn_blocking(move || this.tokenize_prompt(&prompt_text))
                .await
                .map_err(|e| AttemptError::Unavailable(format!("tokenizer task failed: {e}")))?
        } else {
            self.tokenize_prompt(&prompt_text)
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

        let counters = &self.inner.counters;
        if !counters.try_admit(self.inner.capacity) {
            counters
                .overloaded
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(AttemptError::Overloaded {
                retry_after: RETRY_AFTER_SECS,
            });
        }
        let (tx, mut rx) = unbounded_channel();
        let job = Job {
            prompt,
            params,
            max_new,
            events: tx,
        };
        if self.inner.jobs.send(job).is_err() {
            counters
                .in_flight
                .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
            return Err(self.stopped());
        }

        // Wait for the prompt to be processed, so failures before any output stay failures
        // the gateway can fail over from.
        match rx.recv().await {
            Some(SeqEvent::Started) => {}
            Some(SeqEvent::Failed(e)) => return Err(e),
            Some(other) => {
                return Err(AttemptError::Protocol(format!(
                    "engine sent {other:?} before starting"
                )))
            }
            None => return Err(self.stopped()),
        }
        let env = Envelope::new(model);
        if req.stream() {
            Ok(Reply::Stream(Box::pin(stream(rx, env, prompt_tokens))))
        } else {
            self.collect(rx, env, prompt_tokens).await
        }
    }

    async fn collect(
        &self,
        mut rx: UnboundedReceiver<SeqEvent>,
        env: Envelope,
        prompt_tokens: u64,
    ) -> Result<Reply, AttemptError> {
        let mut content = String::new();
        loop {
            match rx.recv().await {
                Some(SeqEvent::Text(t)) => content.push_str(&t),
                Some(SeqEvent::Done {
                    finish,
                    completion_tokens,
                }) => {
                    let usage = Usage {
                        prompt_tokens,
                        completion_tokens: u64::from(completion_tokens),
                        cached_tokens: 0,
                        cache_write_tokens: 0,
                    };
                    return Ok(Reply::Complete(Complete {
                        body: response::completion(&env, &content, finish, usage),
                        usage: Some(usage),
                        // The engine has no response head: ranked on the whole answer.
                        first_byte: None,
                    }));
                }
                Some(SeqEvent::Failed(e)) => return Err(e),
                Some(SeqEvent::Started) => {}
                None => return Err(self.stopped()),
            }
        }
    }

    fn stopped(&self) -> AttemptError {
        AttemptError::Unavailable(format!(
            "on-device engine {:?} has stopped",
            self.inner.name
        ))
    }

    fn format(&self, req: &ChatRequest) -> Result<String, AttemptError> {
        let messages = params::messages(req)?;
        let chat = messages
            .into_iter()
            .map(|m| LlamaChatMessage::new(m.role, m.content))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| rejected("invalid_messages", format!("message cannot be used: {e}")))?;
        self.inner
            .model
            .apply_chat_template(&self.inner.template, &chat, true)
            .map_err(|e| {
                rejected(
                    "chat_template_failed",
                    format!(
                        "the chat template of on-device model {:?} cannot format this \
                         conversation: {e}",
                        self.inner.name
                    ),
                )
            })
    }

    fn tokenize_prompt(&self, prompt: &str) -> Vec<LlamaToken> {
        self.inner
            .model
            .vocab()
            .tokenize(prompt.as_bytes(), true, true)
    }
}

/// Turns engine events into OpenAI chunks: role, content deltas, the finish reason, a usage
/// chunk (the gateway drops it unless the client asked), then `[DONE]`.
fn stream(
    rx: UnboundedReceiver<SeqEvent>,
    env: Envelope,
    prompt_tokens: u64,
) -> impl futures_util::Stream<Item = Result<Event, AttemptError>> + Send {
    enum Stage {
        Role,
        Body,
        Usage(Usage),
        Done,
        End,
    }
    struct State {
        rx: UnboundedReceiver<SeqEvent>,
        env: Envelope,
        prompt_tokens: u64,
        stage: Stage,
    }
    let state = State {
        rx,
        env,
        prompt_tokens,
        stage: Stage::Role,
    };
    futures_util::stream::unfold(state, |mut s| async move {
        let item = match std::mem::replace(&mut s.stage, Stage::End) {
            Stage::Role => {
                s.stage = Stage::Body;
                Ok(Event::Data(response::role_chunk(&s.env)))
            }
            Stage::Body => loop {
                match s.rx.recv().await {
                    Some(SeqEvent::Text(t)) => {
                        s.stage = Stage::Body;
                        break Ok(Event::Data(response::content_chunk(&s.env, &t)));
                    }
                    Some(SeqEvent::Done {
                        finish,
                        completion_tokens,
                    }) => {
                        s.stage = Stage::Usage(Usage {
                            prompt_tokens: s.prompt_tokens,
                            completion_tokens: u64::from(completion_tokens),
                            cached_tokens: 0,
                            cache_write_tokens: 0,
                        });
                        break Ok(Event::Data(response::finish_chunk(&s.env, finish)));
                    }
                    Some(SeqEvent::Failed(e)) => break Err(e),
                    Some(SeqEvent::Started) => continue,
                    // The engine went away mid-stream: end without [DONE], which the gateway
                    // records as a cut-off stream.
                    None => return None,
                }
            },
            Stage::Usage(u) => {
                s.stage = Stage::Done;
                Ok(Event::Data(response::usage_chunk(&s.env, u)))
            }
            Stage::Done => Ok(Event::Done),
            Stage::End => return None,
        };
        Some((item, s))
    })
}

/// A seed for requests that set none.
fn fresh_seed() -> u32 {
    let b = uuid::Uuid::new_v4().into_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// SHA-256 of a file as lowercase hex, read in 1 MiB blocks.
fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
