//! A fake OpenAI API on a real socket, faithful to the wire format: JSON answers with usage,
//! SSE chunks cut at awkward byte boundaries, the usage chunk, `[DONE]`, error bodies, delays
//! and mid-stream cuts. It records every request it receives.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// How the fake answers chat completions.
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
    /// An error status with an OpenAI-shaped body.
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` seconds, if any.
        retry_after: Option<u64>,
    },
    /// Streams `events` content chunks, then breaks the connection mid-chunk.
    CutAfter {
        /// Content events sent before the cut.
        events: usize,
    },
    /// Streams `events` content chunks, then ends the body cleanly without `[DONE]`.
    EndWithoutDone {
        /// Content events sent.
        events: usize,
    },
    /// Streams one chunk, then goes silent.
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

/// What the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Request path.
    pub path: String,
    /// The `authorization` header, if any.
    pub authorization: Option<String>,
    /// The JSON body.
    pub body: Value,
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

    /// Changes how it answers from now on.
    pub fn set_behavior(&self, behavior: Behavior) {
        *self.state.behavior.lock().expect("behavior lock") = behavior;
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

type Body = BoxBody<Bytes, std::io::Error>;

fn full(status: StatusCode, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(
            Full::new(Bytes::from(body.to_string()))
                .map_err(|e| match e {})
                .boxed(),
        )
        .expect("response")
}

async fn handle(state: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let authorization = req
        .headers()
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
    let embeddings_path = path == "/v1/embeddings";
    if path != "/v1/chat/completions" && !embeddings_path {
        return Ok(full(
            StatusCode::NOT_FOUND,
            json!({"error": {"message": "not found", "type": "invalid_request_error"}}),
        ));
    }
    let body: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return Ok(full(
                StatusCode::BAD_REQUEST,
                json!({"error": {"message": format!("bad json: {e}"), "type": "invalid_request_error", "code": null}}),
            ))
        }
    };
    if state.keep {
        state
            .received
            .lock()
            .expect("received lock")
            .push(Received {
                path,
                authorization,
                body: body.clone(),
            });
    }
    let behavior = state.behavior.lock().expect("behavior lock").clone();
    if embeddings_path {
        return Ok(embeddings(&body, behavior));
    }
    Ok(respond(&body, behavior, state.clone()).await)
}

/// An embeddings answer: input `i` (text) embeds as `[bytes, words, i, 1, ...]`, as many
/// numbers as `dimensions` asks (4 by default), listed in reverse order as servers may.
/// [`Behavior::Status`] answers its error; every other behaviour answers.
fn embeddings(body: &Value, behavior: Behavior) -> Response<Body> {
    if let Behavior::Status { status, .. } = behavior {
        return full(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            json!({"error": {"message": format!("fake upstream says {status}"), "type": "server_error", "param": null, "code": "fake_error"}}),
        );
    }
    let inputs: Vec<Value> = match &body["input"] {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    let dims = body["dimensions"].as_u64().unwrap_or(4) as usize;
    let mut words = 0;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let text = input.as_str().unwrap_or("");
            let n = text.split_whitespace().count();
            words += n;
            let mut v = vec![text.len() as f64, n as f64, i as f64];
            v.resize(dims, 1.0);
            json!({"object": "embedding", "index": i, "embedding": v})
        })
        .rev()
        .collect();
    full(
        StatusCode::OK,
        json!({"object": "list", "data": data, "model": body["model"],
               "usage": {"prompt_tokens": words, "total_tokens": words}}),
    )
}

/// A message's text: its string content, or its text parts joined.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// [`Behavior::Tools`]: a tool call, or the answer after the tool's result.
fn tool_answer(
    body: &Value,
    model: &str,
    stream: bool,
    name: &str,
    arguments: &str,
    reply: &str,
    state: Arc<Shared>,
) -> Response<Body> {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let offered = body["tools"]
        .as_array()
        .is_some_and(|ts| ts.iter().any(|t| t["function"]["name"] == name));
    let prompt = prompt_tokens(body);
    let usage =
        json!({"prompt_tokens": prompt, "completion_tokens": 3, "total_tokens": prompt + 3});
    let call = offered && last["role"] != "tool";
    if !stream {
        let message = if call {
            json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_fake1", "type": "function", "function": {"name": name, "arguments": arguments}}]})
        } else {
            let result = text_of(&last["content"]);
            json!({"role": "assistant", "content": format!("{reply} tool said: {result}")})
        };
        let finish = if call { "tool_calls" } else { "stop" };
        return full(
            StatusCode::OK,
            json!({
                "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
                "usage": usage,
            }),
        );
    }
    let mut events = vec![chunk(
        model,
        json!({"role": "assistant", "content": ""}),
        None,
    )];
    if call {
        let (a, b) = arguments.split_at(arguments.len() / 2);
        events.push(chunk(model, json!({"tool_calls": [{"index": 0, "id": "call_fake1", "type": "function", "function": {"name": name, "arguments": a}}]}), None));
        events.push(chunk(
            model,
            json!({"tool_calls": [{"index": 0, "function": {"arguments": b}}]}),
            None,
        ));
        events.push(chunk(model, json!({}), Some("tool_calls")));
    } else {
        let result = text_of(&last["content"]);
        events.push(chunk(
            model,
            json!({"content": format!("{reply} tool said: {result}")}),
            None,
        ));
        events.push(chunk(model, json!({}), Some("stop")));
    }
    if body["stream_options"]["include_usage"].as_bool() == Some(true) {
        events.push(json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model, "choices": [], "usage": usage}));
    }
    sse(events, true, Ending::Clean, Duration::ZERO, state)
}

/// Counts prompt "tokens" the way the fake's usage reports them: whitespace-separated words.
pub fn prompt_tokens(body: &Value) -> u64 {
    body["messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| text_of(&m["content"]).split_whitespace().count() as u64)
                .sum()
        })
        .unwrap_or(0)
}

async fn respond(body: &Value, behavior: Behavior, state: Arc<Shared>) -> Response<Body> {
    let model = body["model"].as_str().unwrap_or("unknown").to_string();
    let stream = body["stream"].as_bool().unwrap_or(false);
    let include_usage = body["stream_options"]["include_usage"]
        .as_bool()
        .unwrap_or(false);
    let prompt = prompt_tokens(body);
    match behavior {
        Behavior::Status {
            status,
            retry_after,
        } => {
            let mut resp = full(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                json!({"error": {"message": format!("fake upstream says {status}"), "type": "server_error", "param": null, "code": "fake_error"}}),
            );
            if let Some(s) = retry_after {
                resp.headers_mut().insert("retry-after", s.into());
            }
            resp
        }
        Behavior::Answer {
            reply,
            stream_usage,
            head_delay,
            event_gap,
        } => {
            tokio::time::sleep(head_delay).await;
            let words: Vec<String> = reply.split_inclusive(' ').map(str::to_string).collect();
            let usage = json!({"prompt_tokens": prompt, "completion_tokens": words.len(), "total_tokens": prompt + words.len() as u64});
            if !stream {
                return full(
                    StatusCode::OK,
                    json!({
                        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "logprobs": null, "finish_reason": "stop"}],
                        "usage": usage,
                    }),
                );
            }
            let mut events: Vec<Value> = vec![chunk(
                &model,
                json!({"role": "assistant", "content": ""}),
                None,
            )];
            events.extend(
                words
                    .iter()
                    .map(|w| chunk(&model, json!({"content": w}), None)),
            );
            events.push(chunk(&model, json!({}), Some("stop")));
            if include_usage && stream_usage {
                events.push(json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model, "choices": [], "usage": usage}));
            }
            sse(events, true, Ending::Clean, event_gap, state)
        }
        Behavior::CutAfter { events } => sse(
            content_events(&model, events),
            false,
            Ending::Break,
            Duration::ZERO,
            state,
        ),
        Behavior::EndWithoutDone { events } => sse(
            content_events(&model, events),
            false,
            Ending::Clean,
            Duration::ZERO,
            state,
        ),
        Behavior::Tools {
            name,
            arguments,
            reply,
        } => tool_answer(body, &model, stream, &name, &arguments, &reply, state),
        Behavior::Echo { chunk_chars } => {
            let text = body["messages"]
                .as_array()
                .and_then(|ms| ms.iter().rev().find(|m| m["role"] == "user"))
                .map(|m| text_of(&m["content"]))
                .unwrap_or_default();
            if !stream {
                return full(
                    StatusCode::OK,
                    json!({
                        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": null, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": prompt, "completion_tokens": 1, "total_tokens": prompt + 1},
                    }),
                );
            }
            let chars: Vec<char> = text.chars().collect();
            let mut events: Vec<Value> = vec![chunk(
                &model,
                json!({"role": "assistant", "content": ""}),
                None,
            )];
            events.extend(chars.chunks(chunk_chars.max(1)).map(|c| {
                chunk(
                    &model,
                    json!({"content": c.iter().collect::<String>()}),
                    None,
                )
            }));
            events.push(chunk(&model, json!({}), Some("stop")));
            sse(events, true, Ending::Clean, Duration::ZERO, state)
        }
        Behavior::Garbage { content_type, body } => Response::builder()
            .status(200)
            .header("content-type", content_type)
            .body(
                Full::new(Bytes::from_static(body.as_bytes()))
                    .map_err(|e| match e {})
                    .boxed(),
            )
            .expect("garbage response"),
        Behavior::StallBody => {
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
            tokio::spawn(async move {
                let _ = tx
                    .send(Ok(Frame::data(Bytes::from_static(
                        b"{\"id\":\"chatcmpl-fake\",\"choi",
                    ))))
                    .await;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                    _ = tx.closed() => { state.cancelled.fetch_add(1, Ordering::SeqCst); }
                }
            });
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(StreamBody::new(tokio_stream_from(rx)).boxed())
                .expect("stalled response")
        }
        Behavior::SlowBody { pieces, gap } => {
            let whole = json!({
                "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "a long answer"}, "logprobs": null, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": 3, "total_tokens": prompt + 3},
            })
            .to_string()
            .into_bytes();
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
            tokio::spawn(async move {
                let size = whole.len().div_ceil(pieces.max(1));
                for piece in whole.chunks(size) {
                    if tx
                        .send(Ok(Frame::data(Bytes::copy_from_slice(piece))))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    tokio::time::sleep(gap).await;
                }
            });
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(StreamBody::new(tokio_stream_from(rx)).boxed())
                .expect("slow response")
        }
        Behavior::StallAfterFirst => sse(
            content_events(&model, 1),
            false,
            Ending::Stall,
            Duration::ZERO,
            state,
        ),
    }
}

fn content_events(model: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| chunk(model, json!({"content": format!("part{i} ")}), None))
        .collect()
}

fn chunk(model: &str, delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
    })
}

enum Ending {
    Clean,
    Break,
    Stall,
}

/// Sends events as SSE, each cut into awkward pieces (mid-line, between `\r` and `\n`, inside
/// a UTF-8 sequence) so the gateway's parser is exercised on every boundary kind.
fn sse(
    events: Vec<Value>,
    done: bool,
    ending: Ending,
    gap: Duration,
    state: Arc<Shared>,
) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(16);
    tokio::spawn(async move {
        let mut wire: Vec<Vec<u8>> = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                // Alternate line endings: both are valid SSE.
                let eol: &[u8] = if i % 2 == 0 { b"\r\n" } else { b"\n" };
                [b"data: ".as_slice(), e.to_string().as_bytes(), eol, eol].concat()
            })
            .collect();
        if done {
            wire.push(b"data: [DONE]\n\n".to_vec());
        }
        for event in wire {
            let pieces = if state.keep {
                awkward_pieces(&event)
            } else {
                vec![event]
            };
            for piece in pieces {
                if tx.send(Ok(Frame::data(Bytes::from(piece)))).await.is_err() {
                    state.cancelled.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                if state.keep {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            }
            if !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
        }
        match ending {
            Ending::Clean => {}
            Ending::Break => {
                let _ = tx
                    .send(Ok(Frame::data(Bytes::from_static(b"data: {\"choi"))))
                    .await;
                tokio::time::sleep(Duration::from_millis(5)).await;
                let _ = tx.send(Err(std::io::Error::other("cut"))).await;
            }
            Ending::Stall => {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                    _ = tx.closed() => { state.cancelled.fetch_add(1, Ordering::SeqCst); }
                }
            }
        }
    });
    let body = StreamBody::new(tokio_stream_from(rx)).boxed();
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(body)
        .expect("sse response")
}

fn awkward_pieces(event: &[u8]) -> Vec<Vec<u8>> {
    // Cut after "da", inside the JSON, and just before the final blank line.
    let cuts = [2usize, event.len() / 2, event.len().saturating_sub(1)];
    let mut out = Vec::new();
    let mut start = 0;
    for &c in &cuts {
        if c > start && c < event.len() {
            out.push(event[start..c].to_vec());
            start = c;
        }
    }
    out.push(event[start..].to_vec());
    out
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
