//! A fake LLM upstream on a real socket, faithful to each vendor's wire format: JSON answers
//! with usage, SSE events cut at awkward byte boundaries, error bodies, delays and mid-stream
//! cuts. It records every request it receives. One server speaks every dialect, chosen by the
//! request path:
//!
//! - OpenAI: `POST /v1/chat/completions` (chunks, the usage chunk, `[DONE]`), `POST /v1/embeddings`;
//! - Azure OpenAI: `POST /openai/deployments/{d}/chat/completions|embeddings?api-version=…`
//!   (see `azure.rs`);
//! - Anthropic Messages: `POST /v1/messages`, `POST /v1/messages/count_tokens` (see `anthropic.rs`);
//! - Google Gemini: `POST /v1beta/models/{m}:generateContent|streamGenerateContent` (see `gemini.rs`).
//!
//! Every dialect counts tokens the same way (whitespace-separated words, see [`prompt_tokens`]),
//! so one logical request yields the same usage whichever vendor it is translated for.

mod anthropic;
mod azure;
mod gemini;
mod openai;
#[cfg(test)]
mod tests;
mod tokenize;
mod wire;

use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
pub use tokenize::TokenizeApi;
use tokio::net::TcpListener;
use wire::{full, text_of, Body};

/// How the fake answers, in whichever dialect it is asked.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// A normal answer: the words of `reply`, one content chunk each when streamed.
    Answer {
        /// The assistant's text.
        reply: String,
        /// Whether streams end with a usage chunk when asked (llama.cpp's server never does).
        stream_usage: bool,
        /// Wait before the response head.
        head_delay: Duration,
        /// Wait between stream events.
        event_gap: Duration,
    },
    /// An error status with the vendor's error body (Anthropic's error type and Gemini's
    /// status name follow from the code).
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` seconds, if any (Gemini, which sends no such header, gives them as a
        /// `RetryInfo` detail).
        retry_after: Option<u64>,
    },
    /// Streams `events` content chunks, then breaks the connection mid-chunk.
    CutAfter {
        /// Content events sent before the cut.
        events: usize,
    },
    /// Streams `events` content chunks, then ends the body cleanly without the end marker:
    /// OpenAI's `[DONE]`, Anthropic's `message_stop`, Gemini's `finishReason`.
    EndWithoutDone {
        /// Content events sent.
        events: usize,
    },
    /// Streams one chunk (Anthropic: `message_start`), then goes silent.
    StallAfterFirst,
    /// A 200 with this content-type and body, streamed or not: what a misconfigured proxy or
    /// a broken server sends.
    Garbage {
        /// The `content-type` header.
        content_type: &'static str,
        /// The body, as is.
        body: &'static str,
    },
    /// A non-streamed 200 whose body starts, then stalls.
    StallBody,
    /// A non-streamed answer whose head comes at once and whose body comes in `pieces`
    /// pieces, `gap` apart: a fast backend with a long answer.
    SlowBody {
        /// Pieces of the body.
        pieces: usize,
        /// Wait between pieces.
        gap: Duration,
    },
    /// Answers with the last user message as sent, streamed in pieces of `chunk_chars`
    /// characters (so anything in it can be split across chunks).
    Echo {
        /// Characters per streamed content chunk.
        chunk_chars: usize,
    },
    /// A model that uses tools: when the request offers the tool `name` and the conversation
    /// does not end with a tool result, it calls it with `arguments` (streamed in two
    /// pieces); after a tool result it answers `"{reply} tool said: {result}"`.
    Tools {
        /// The tool to call.
        name: String,
        /// Its arguments, a JSON object as a string.
        arguments: String,
        /// The text of the final answer.
        reply: String,
    },
    /// Streams `events` content pieces, then fails the stream the way the vendor does once
    /// the 200 is sent: OpenAI a `data: {"error": …}` event, Anthropic an `event: error`
    /// (`overloaded_error`), both then ending the body; Gemini breaks the connection.
    StreamError {
        /// Content events sent before the error.
        events: usize,
    },
    /// The vendor's safety system refuses the prompt: Gemini blocks it (`promptFeedback`,
    /// no candidates), Anthropic ends with `stop_reason: "refusal"`, OpenAI with
    /// `finish_reason: "content_filter"` and Azure answers its 400 `content_filter` error.
    Blocked,
}

impl Behavior {
    /// A prompt, normal answer.
    pub fn answer(reply: &str) -> Self {
        Behavior::Answer {
            reply: reply.to_string(),
            stream_usage: true,
            head_delay: Duration::ZERO,
            event_gap: Duration::ZERO,
        }
    }
}

/// The vendor headers [`Received::headers`] keeps.
const VENDOR_HEADERS: [&str; 5] = [
    "x-api-key",
    "anthropic-version",
    "anthropic-beta",
    "x-goog-api-key",
    "api-key",
];

/// What the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Request path.
    pub path: String,
    /// The `authorization` header, if any.
    pub authorization: Option<String>,
    /// The JSON body.
    pub body: Value,
    /// Path and query string, e.g. `/v1beta/models/m:streamGenerateContent?alt=sse`.
    pub uri: String,
    /// The vendor credential and version headers sent (`x-api-key`, `anthropic-version`,
    /// `anthropic-beta`, `x-goog-api-key`, `api-key`), names lower-cased, in that order.
    pub headers: Vec<(String, String)>,
}

impl Received {
    /// One of the vendor headers kept in [`Received::headers`].
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running fake. It stops when dropped.
pub struct FakeOpenAi {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Shared>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

struct Shared {
    behavior: Mutex<Behavior>,
    received: Mutex<Vec<Received>>,
    /// Streams whose reader went away before the fake finished sending.
    cancelled: AtomicUsize,
    /// Test mode: requests are kept for `received` and events are cut into awkward pieces.
    /// Off for benchmarks: nothing is kept and every event is sent whole, at once.
    keep: bool,
    cache_write: AtomicU64,
    cache_read: AtomicU64,
    thoughts: AtomicU64,
    honor_max_tokens: AtomicBool,
    honor_stop: AtomicBool,
    tokenize: Mutex<Option<TokenizeApi>>,
}

/// The usage and limit settings, read once per request.
#[derive(Debug, Clone, Copy, Default)]
struct Knobs {
    cache_write: u64,
    cache_read: u64,
    thoughts: u64,
    honor_max_tokens: bool,
    honor_stop: bool,
    /// Beginning-of-sequence tokens counted in prompts (see [`TokenizeApi`]).
    bos: u64,
}

impl Shared {
    fn knobs(&self) -> Knobs {
        Knobs {
            cache_write: self.cache_write.load(Ordering::SeqCst),
            cache_read: self.cache_read.load(Ordering::SeqCst),
            thoughts: self.thoughts.load(Ordering::SeqCst),
            honor_max_tokens: self.honor_max_tokens.load(Ordering::SeqCst),
            honor_stop: self.honor_stop.load(Ordering::SeqCst),
            bos: TokenizeApi::bos(self.tokenize()),
        }
    }

    fn tokenize(&self) -> Option<TokenizeApi> {
        *self.tokenize.lock().expect("tokenize lock")
    }
}

impl FakeOpenAi {
    /// Starts a fake on a free loopback port.
    pub async fn start(behavior: Behavior) -> FakeOpenAi {
        Self::start_on("127.0.0.1:0", behavior, true).await
    }

    /// Starts a fake on `addr`; with `keep` false it keeps no requests (for benchmarks).
    pub async fn start_on(addr: &str, behavior: Behavior, keep: bool) -> FakeOpenAi {
        let listener = TcpListener::bind(addr).await.expect("bind fake upstream");
        let addr = listener.local_addr().expect("fake upstream address");
        let state = Arc::new(Shared {
            behavior: Mutex::new(behavior),
            received: Mutex::new(Vec::new()),
            cancelled: AtomicUsize::new(0),
            keep,
            cache_write: AtomicU64::new(0),
            cache_read: AtomicU64::new(0),
            thoughts: AtomicU64::new(0),
            honor_max_tokens: AtomicBool::new(false),
            honor_stop: AtomicBool::new(false),
            tokenize: Mutex::new(None),
        });
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let conn = tokio::select! {
                    c = listener.accept() => c,
                    _ = &mut stop_rx => return,
                };
                let Ok((stream, _)) = conn else { continue };
                // Small SSE writes must not wait for Nagle's algorithm.
                let _ = stream.set_nodelay(true);
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(st.clone(), req));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        FakeOpenAi {
            addr,
            state,
            _stop: stop_tx,
        }
    }

    /// The base URL to configure, e.g. `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The server's root, e.g. `http://127.0.0.1:PORT`: the base URL of Anthropic's and
    /// Google's SDKs and Azure's resource endpoint, which add their own path prefixes.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes how it answers from now on.
    pub fn set_behavior(&self, behavior: Behavior) {
        *self.state.behavior.lock().expect("behavior lock") = behavior;
    }

    /// Reports prompt caching from now on: Anthropic `cache_creation_input_tokens = write`,
    /// `cache_read_input_tokens = read` (and `input_tokens` the rest of the prompt), Gemini
    /// `cachedContentTokenCount = read` (within `promptTokenCount`), OpenAI
    /// `prompt_tokens_details.cached_tokens = read`. Both 0 (the default) reports none.
    pub fn set_cache_tokens(&self, write: u64, read: u64) {
        self.state.cache_write.store(write, Ordering::SeqCst);
        self.state.cache_read.store(read, Ordering::SeqCst);
    }

    /// Reports `n` thinking tokens from now on: Gemini's `thoughtsTokenCount`, counted in its
    /// `totalTokenCount`. The other dialects report none.
    pub fn set_thoughts_tokens(&self, n: u64) {
        self.state.thoughts.store(n, Ordering::SeqCst);
    }

    /// When on, an [`Behavior::Answer`] longer than the request's output limit (OpenAI
    /// `max_tokens`/`max_completion_tokens`, Anthropic `max_tokens`, Gemini
    /// `generationConfig.maxOutputTokens`) is cut to that many words and ends for length.
    /// Off by default: the reply is sent whole whatever the limit.
    pub fn set_honor_max_tokens(&self, on: bool) {
        self.state.honor_max_tokens.store(on, Ordering::SeqCst);
    }

    /// When on, an [`Behavior::Answer`] stops before the first of the request's stop
    /// sequences it contains (OpenAI `stop`, Anthropic `stop_sequences`, Gemini
    /// `generationConfig.stopSequences`). Off by default.
    pub fn set_honor_stop_sequences(&self, on: bool) {
        self.state.honor_stop.store(on, Ordering::SeqCst);
    }

    /// Serves the tokenize endpoints of `api` from now on (none by default: a server without
    /// them, whose tokens the gateway can only estimate).
    pub fn set_tokenize(&self, api: Option<TokenizeApi>) {
        *self.state.tokenize.lock().expect("tokenize lock") = api;
    }

    /// How many streams were abandoned by their reader (the gateway cancelled them).
    pub fn cancelled(&self) -> usize {
        self.state.cancelled.load(Ordering::SeqCst)
    }

    /// Every chat request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().expect("received lock").clone()
    }
}

/// What a path asks for.
enum Route {
    OpenAiChat,
    OpenAiEmbeddings,
    Anthropic {
        count_tokens: bool,
    },
    Gemini {
        model: String,
        stream: bool,
    },
    Azure {
        deployment: String,
        embeddings: bool,
    },
}

impl Route {
    fn of(path: &str) -> Option<Route> {
        match path {
            "/v1/chat/completions" => return Some(Route::OpenAiChat),
            "/v1/embeddings" => return Some(Route::OpenAiEmbeddings),
            "/v1/messages" => {
                return Some(Route::Anthropic {
                    count_tokens: false,
                })
            }
            "/v1/messages/count_tokens" => return Some(Route::Anthropic { count_tokens: true }),
            _ => {}
        }
        if let Some(rest) = path
            .strip_prefix("/v1beta/models/")
            .or_else(|| path.strip_prefix("/v1/models/"))
        {
            let (model, action) = rest.rsplit_once(':')?;
            let stream = match action {
                "generateContent" => false,
                "streamGenerateContent" => true,
                _ => return None,
            };
            return (!model.is_empty() && !model.contains('/')).then(|| Route::Gemini {
                model: model.to_string(),
                stream,
            });
        }
        let rest = path.strip_prefix("/openai/deployments/")?;
        let (deployment, op) = rest.split_once('/')?;
        let embeddings = match op {
            "chat/completions" => false,
            "embeddings" => true,
            _ => return None,
        };
        (!deployment.is_empty()).then(|| Route::Azure {
            deployment: deployment.to_string(),
            embeddings,
        })
    }

    /// The vendor's answer to a body that is not JSON.
    fn bad_json(&self, e: &serde_json::Error) -> Response<Body> {
        match self {
            Route::Anthropic { .. } => anthropic::error(400, &format!("invalid JSON: {e}")),
            Route::Gemini { .. } => {
                gemini::error(400, &format!("Invalid JSON payload received. {e}"))
            }
            _ => full(
                StatusCode::BAD_REQUEST,
                json!({"error": {"message": format!("bad json: {e}"), "type": "invalid_request_error", "code": null}}),
            ),
        }
    }
}

/// The value of `name` in a query string.
fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

async fn handle(state: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let uri = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_string());
    let query = req.uri().query().map(str::to_string);
    let headers = req.headers().clone();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(full(
                StatusCode::BAD_REQUEST,
                json!({"error": {"message": "unreadable body"}}),
            ))
        }
    };
    if let Some(resp) = tokenize::respond(&path, &bytes, state.tokenize()) {
        return Ok(resp);
    }
    let Some(route) = Route::of(&path) else {
        return Ok(full(
            StatusCode::NOT_FOUND,
            json!({"error": {"message": "not found", "type": "invalid_request_error"}}),
        ));
    };
    let body: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return Ok(route.bad_json(&e)),
    };
    if state.keep {
        let vendor = VENDOR_HEADERS
            .iter()
            .filter_map(|n| header(&headers, n).map(|v| (n.to_string(), v.to_string())))
            .collect();
        state
            .received
            .lock()
            .expect("received lock")
            .push(Received {
                path,
                authorization,
                body: body.clone(),
                uri,
                headers: vendor,
            });
    }
    let behavior = state.behavior.lock().expect("behavior lock").clone();
    let query = query.as_deref();
    Ok(match route {
        Route::OpenAiChat => openai::respond(&body, behavior, state.clone()).await,
        Route::OpenAiEmbeddings => openai::embeddings(&body, behavior),
        Route::Anthropic { count_tokens } => {
            anthropic::respond(&body, &headers, count_tokens, behavior, state.clone()).await
        }
        Route::Gemini { model, stream } => {
            let keyed =
                header(&headers, "x-goog-api-key").is_some() || query_param(query, "key").is_some();
            let sse = query_param(query, "alt") == Some("sse");
            let ask = gemini::Ask {
                model: &model,
                stream,
                sse,
                keyed,
            };
            gemini::respond(&body, ask, behavior, state.clone()).await
        }
        Route::Azure {
            deployment,
            embeddings,
        } => {
            let ask = azure::Ask {
                deployment: &deployment,
                embeddings,
                api_version: query_param(query, "api-version"),
                keyed: header(&headers, "api-key").is_some(),
            };
            azure::respond(&body, ask, behavior, state.clone()).await
        }
    })
}

/// Counts prompt "tokens" the way the fake's usage reports them, in any dialect: the
/// whitespace-separated words of the system prompt (Anthropic `system`, Gemini
/// `systemInstruction`; OpenAI's is a message) and of every message's text and tool results.
/// A message's text parts are joined before counting, and each tool result counts apart, so
/// a faithful translation of a request counts the same in every dialect.
pub fn prompt_tokens(body: &Value) -> u64 {
    let messages: u64 = body["messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| anthropic::content_words(&m["content"]))
                .sum()
        })
        .unwrap_or(0);
    let contents: u64 = body["contents"]
        .as_array()
        .map(|cs| cs.iter().map(gemini::content_words).sum())
        .unwrap_or(0);
    wire::words(&text_of(&body["system"]))
        + messages
        + gemini::content_words(wire::field(body, "systemInstruction"))
        + contents
}
