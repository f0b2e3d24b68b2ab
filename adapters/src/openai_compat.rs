//! Backends that speak OpenAI's HTTP API: closed clouds (OpenAI and compatible ones) and local
//! servers (vLLM, llama.cpp's server, Ollama, TGI, LocalAI).

use crate::embed::EmbedRequest;
use crate::error::{AttemptError, TimeoutKind};
use crate::http_client::{self, HttpClient};
use crate::reply::{Complete, Event, Reply, Usage};
use crate::request::ChatRequest;
use crate::sse::SseParser;
use crate::timeouts::{self, Timeouts};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::VecDeque;
use tokio::time::Instant;

/// The largest non-streamed answer or error body read from an upstream.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// The largest part of an upstream error body kept for the client.
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// How to reach one OpenAI-compatible endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiCompatConfig {
    /// The backend's name in the config, for messages.
    pub name: String,
    /// The API root, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// The API key, already read from the environment; `None` when the backend needs none.
    pub api_key: Option<String>,
    /// When a key was configured but its environment variable is unset: that variable's name.
    /// Attempts then fail over with a clear reason instead of calling without credentials.
    pub missing_key_env: Option<String>,
    /// Extra headers sent on every request (e.g. `OpenAI-Organization`).
    pub headers: Vec<(String, String)>,
    /// Timeouts for each stage of an attempt.
    pub timeouts: Timeouts,
}

/// An OpenAI-compatible backend.
#[derive(Debug)]
pub struct OpenAiCompat {
    name: String,
    chat_url: http::Uri,
    embeddings_url: http::Uri,
    auth: Option<HeaderValue>,
    missing_key_env: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeouts: Timeouts,
    client: HttpClient,
}

impl OpenAiCompat {
    /// Checks the configuration and builds the backend with its own connection pool.
    pub fn new(cfg: OpenAiCompatConfig) -> Result<Self, String> {
        let base = cfg.base_url.trim_end_matches('/');
        let chat_url: http::Uri = format!("{base}/chat/completions")
            .parse()
            .map_err(|e| format!("base_url '{}' is not a valid URL: {e}", cfg.base_url))?;
        match chat_url.scheme_str() {
            Some("http") | Some("https") => {}
            _ => {
                return Err(format!(
                    "base_url '{}' must start with http:// or https://",
                    cfg.base_url
                ))
            }
        }
        let embeddings_url: http::Uri = format!("{base}/embeddings")
            .parse()
            .map_err(|e| format!("base_url '{}' is not a valid URL: {e}", cfg.base_url))?;
        let auth = match cfg.api_key {
            Some(key) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    "the API key contains characters not allowed in a header".to_string()
                })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let mut headers = Vec::with_capacity(cfg.headers.len());
        for (k, v) in cfg.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("header name '{k}' is not valid"))?;
            let value = HeaderValue::from_str(&v)
                .map_err(|_| format!("header '{k}' has an invalid value"))?;
            headers.push((name, value));
        }
        Ok(OpenAiCompat {
            name: cfg.name,
            chat_url,
            embeddings_url,
            auth,
            missing_key_env: cfg.missing_key_env,
            headers,
            timeouts: cfg.timeouts,
            client: http_client::build(cfg.timeouts.connect()),
        })
    }

    /// The backend's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends one chat-completion attempt for `model`.
    pub async fn chat(&self, req: &ChatRequest, model: &str) -> Result<Reply, AttemptError> {
        let started = Instant::now();
        let body = serde_json::to_vec(&Outgoing {
            body: &req.body,
            model,
            stream: req.stream(),
        })
        .map_err(|e| AttemptError::Protocol(format!("could not encode the request: {e}")))?;
        let (response, head_after) = self
            .send(&self.chat_url, body, req.stream(), started)
            .await?;
        check_content_type(response.headers(), req.stream())?;
        if req.stream() {
            let events = sse_events(response.into_body());
            return Ok(Reply::Stream(timeouts::enforce_on_stream(
                events,
                self.timeouts,
                started,
            )));
        }
        let body = read_body(
            response.into_body(),
            MAX_RESPONSE_BYTES,
            started,
            &self.timeouts,
        )
        .await?;
        // A 200 that is not a completion is the backend's fault, found before the client
        // sees anything, so another candidate can still serve.
        let usage = Usage::from_completion(&body)
            .map_err(|e| AttemptError::Protocol(format!("the backend answered 200, but {e}")))?;
        Ok(Reply::Complete(Complete {
            body,
            usage,
            first_byte: Some(head_after),
        }))
    }

    /// Embeds every input of `req` with `model`, in batches of at most `max_batch` inputs sent
    /// one after another; the answers are merged into one.
    pub async fn embed(
        &self,
        req: &EmbedRequest,
        model: &str,
        max_batch: usize,
    ) -> Result<Complete, AttemptError> {
        let started = Instant::now();
        let mut answers = Vec::new();
        let mut first_byte = None;
        for batch in req.batches(model, max_batch) {
            let body = serde_json::to_vec(&batch).map_err(|e| {
                AttemptError::Protocol(format!("could not encode the request: {e}"))
            })?;
            let (response, head_after) = self
                .send(&self.embeddings_url, body, false, started)
                .await?;
            first_byte.get_or_insert(head_after);
            let body = read_body(
                response.into_body(),
                MAX_RESPONSE_BYTES,
                started,
                &self.timeouts,
            )
            .await?;
            answers.push(body);
        }
        let (body, usage) = crate::embed::merge(&answers, req.model())
            .map_err(|e| AttemptError::Protocol(format!("the backend answered 200, but {e}")))?;
        Ok(Complete {
            body,
            usage,
            first_byte,
        })
    }

    /// Sends one request and waits for its head: the time to it, or the attempt error (no
    /// key, a timeout, a connection failure, an error status with its body).
    async fn send(
        &self,
        url: &http::Uri,
        body: Vec<u8>,
        stream: bool,
        started: Instant,
    ) -> Result<(http::Response<Incoming>, std::time::Duration), AttemptError> {
        if let Some(var) = &self.missing_key_env {
            return Err(AttemptError::Unavailable(format!(
                "backend '{}' has no API key: environment variable {var} is not set",
                self.name
            )));
        }
        let request = self.build_request(url, body, stream)?;
        let response =
            match tokio::time::timeout(self.timeouts.first_byte(), self.client.request(request))
                .await
            {
                Err(_) => {
                    return Err(AttemptError::Timeout(
                        TimeoutKind::FirstByte,
                        self.timeouts.first_byte(),
                    ))
                }
                Ok(Err(e)) => return Err(http_client::classify(&e, self.timeouts.connect())),
                Ok(Ok(r)) => r,
            };
        let head_after = started.elapsed();
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after_secs(response.headers());
            let body = read_body(
                response.into_body(),
                MAX_ERROR_BYTES,
                started,
                &self.timeouts,
            )
            .await
            .unwrap_or_default();
            return Err(AttemptError::Status {
                status: status.as_u16(),
                body,
                retry_after,
            });
        }
        Ok((response, head_after))
    }

    fn build_request(
        &self,
        url: &http::Uri,
        body: Vec<u8>,
        stream: bool,
    ) -> Result<http::Request<Full<Bytes>>, AttemptError> {
        let mut builder = http::Request::post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(
                http::header::ACCEPT,
                if stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            );
        if let Some(auth) = &self.auth {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| AttemptError::Protocol(format!("could not build the request: {e}")))
    }
}

/// The client's request object with `model` replaced by the backend's model name and, for
/// streams, usage asked for: serialized straight from the client's map, with no copy of it.
struct Outgoing<'a> {
    body: &'a Map<String, Value>,
    model: &'a str,
    stream: bool,
}

impl Serialize for Outgoing<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("model", self.model)?;
        for (k, v) in self.body {
            match k.as_str() {
                "model" | "stream_options" => {}
                _ => map.serialize_entry(k, v)?,
            }
        }
        if self.stream {
            let mut options = match self.body.get("stream_options") {
                Some(Value::Object(o)) => o.clone(),
                _ => Map::new(),
            };
            options.insert("include_usage".into(), Value::Bool(true));
            map.serialize_entry("stream_options", &options)?;
        } else if let Some(v) = self.body.get("stream_options") {
            map.serialize_entry("stream_options", v)?;
        }
        map.end()
    }
}

fn retry_after_secs(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// An event stream answering a request for a whole answer is a backend fault (said plainly
/// here; its body would fail the completion check anyway). The other way round is left to
/// the event parser: some servers stream SSE under a JSON content-type.
fn check_content_type(headers: &http::HeaderMap, stream: bool) -> Result<(), AttemptError> {
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !stream && ct.trim_start().starts_with("text/event-stream") {
        return Err(AttemptError::Protocol(
            "the backend answered a request for a whole answer with an event stream".into(),
        ));
    }
    Ok(())
}

/// Reads a whole body, bounded in size, by the idle gap between its pieces and by the
/// attempt's total deadline: a backend that stalls half-way through a whole answer is cut
/// after `idle_ms`, as a stream is.
async fn read_body(
    mut body: Incoming,
    limit: usize,
    started: Instant,
    timeouts: &Timeouts,
) -> Result<Bytes, AttemptError> {
    let deadline = started + timeouts.total();
    let mut buf = BytesMut::new();
    loop {
        let idle_until = Instant::now() + timeouts.idle();
        let (until, kind, allowed) = if idle_until < deadline {
            (idle_until, TimeoutKind::Idle, timeouts.idle())
        } else {
            (deadline, TimeoutKind::Total, timeouts.total())
        };
        let frame = match tokio::time::timeout_at(until, body.frame()).await {
            Err(_) => return Err(AttemptError::Timeout(kind, allowed)),
            Ok(None) => return Ok(buf.freeze()),
            Ok(Some(Err(e))) => {
                return Err(AttemptError::Protocol(format!(
                    "upstream body ended with an error: {}",
                    http_client::error_chain(&e)
                )))
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(AttemptError::Protocol(format!(
                    "upstream body is larger than {limit} bytes"
                )));
            }
            buf.extend_from_slice(&data);
        }
    }
}

/// An event's data must be JSON: garbage relayed as a chunk would break the client's parser.
fn check_event(event: &Event) -> Result<(), AttemptError> {
    match event {
        Event::Data(data) => serde_json::from_slice::<serde::de::IgnoredAny>(data)
            .map(|_| ())
            .map_err(|e| {
                AttemptError::Protocol(format!("the backend sent an event that is not JSON: {e}"))
            }),
        Event::Done => Ok(()),
    }
}

/// Turns an SSE body into events. A body that errors mid-stream yields one `Err`.
fn sse_events(
    body: Incoming,
) -> impl futures_util::Stream<Item = Result<Event, AttemptError>> + Send {
    struct State {
        body: Incoming,
        parser: SseParser,
        ready: VecDeque<Event>,
        scratch: Vec<Event>,
        ended: bool,
    }
    let state = State {
        body,
        parser: SseParser::new(),
        ready: VecDeque::new(),
        scratch: Vec::new(),
        ended: false,
    };
    futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(event) = s.ready.pop_front() {
                if let Err(e) = check_event(&event) {
                    s.ended = true;
                    s.ready.clear();
                    return Some((Err(e), s));
                }
                return Some((Ok(event), s));
            }
            if s.ended {
                return None;
            }
            match s.body.frame().await {
                None => {
                    s.ended = true;
                    if s.parser.has_partial_event() {
                        return Some((
                            Err(AttemptError::Protocol(
                                "upstream stream ended inside an event".into(),
                            )),
                            s,
                        ));
                    }
                    return None;
                }
                Some(Err(e)) => {
                    s.ended = true;
                    let msg = format!("upstream stream failed: {}", http_client::error_chain(&e));
                    return Some((Err(AttemptError::Protocol(msg)), s));
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        s.parser.push(&data, &mut s.scratch);
                        s.ready.extend(s.scratch.drain(..));
                    }
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outgoing_replaces_model_and_asks_usage_for_streams() {
        let body: Map<String, Value> = serde_json::from_str(
            r#"{"model":"auto","messages":[],"stream":true,"stream_options":{"include_usage":false,"x":1},"top_k":3}"#,
        )
        .unwrap();
        let out: Value = serde_json::to_value(Outgoing {
            body: &body,
            model: "gpt-4o-mini",
            stream: true,
        })
        .unwrap();
        assert_eq!(out["model"], "gpt-4o-mini");
        assert_eq!(out["stream_options"]["include_usage"], true);
        assert_eq!(out["stream_options"]["x"], 1);
        assert_eq!(out["top_k"], 3);
        let out: Value = serde_json::to_value(Outgoing {
            body: &body,
            model: "m",
            stream: false,
        })
        .unwrap();
        assert_eq!(out["stream_options"]["include_usage"], false);
    }

    #[test]
    fn refuses_bad_base_urls() {
        let cfg = |url: &str| OpenAiCompatConfig {
            name: "x".into(),
            base_url: url.into(),
            api_key: None,
            missing_key_env: None,
            headers: vec![],
            timeouts: Timeouts::default(),
        };
        assert!(OpenAiCompat::new(cfg("ftp://host/v1")).is_err());
        assert!(OpenAiCompat::new(cfg("not a url")).is_err());
    }
}
