//! What every HTTP backend kind shares, whatever its wire format: credentials and headers, the
//! pooled client, the stages of an attempt with their timeouts, bounded body reads, and the
//! server-sent-events body turned into events.
//!
//! Kinds that speak another vendor's format (Anthropic, Gemini) add only a request encoder,
//! an answer decoder and a [`Decoder`] for stream events; everything that decides whether an
//! attempt failed, and why, is written here once.

use crate::error::{AttemptError, TimeoutKind};
use crate::http_client::{self, HttpClient};
use crate::reply::{Event, EventStream};
use crate::sse::SseParser;
use crate::timeouts::{self, Timeouts};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// The largest non-streamed answer read from an upstream.
pub(crate) const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// The largest part of an upstream error body kept for the client.
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// The credential of an upstream: which header carries it and its value.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The header, e.g. `authorization`, `x-api-key`, `api-key`, `x-goog-api-key`.
    pub header: &'static str,
    /// The header's value, e.g. `Bearer sk-…` or the bare key.
    pub value: String,
}

/// How to reach one upstream, whatever it speaks.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// The backend's name in the config, for messages.
    pub name: String,
    /// The key, already read from the environment; `None` when the backend needs none.
    pub credential: Option<Credential>,
    /// When a key was configured but its environment variable is unset: that variable's name.
    /// Attempts then fail over with a clear reason instead of calling without credentials.
    pub missing_key_env: Option<String>,
    /// Extra headers sent on every request, after the kind's own.
    pub headers: Vec<(String, String)>,
    /// Timeouts for each stage of an attempt.
    pub timeouts: Timeouts,
}

/// A configured upstream with its own connection pool.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) name: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    missing_key_env: Option<String>,
    pub(crate) timeouts: Timeouts,
    client: HttpClient,
}

/// Parses an upstream URL, which must be http or https.
pub(crate) fn parse_url(url: &str, what: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{what} '{url}' is not a valid URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => Ok(uri),
        _ => Err(format!(
            "{what} '{url}' must start with http:// or https://"
        )),
    }
}

impl Upstream {
    /// Checks the headers and builds the client. `kind_headers` are the wire format's own
    /// (`anthropic-version`, …), sent before the configured ones so config can override them.
    pub(crate) fn new(
        cfg: UpstreamConfig,
        kind_headers: &[(&'static str, String)],
    ) -> Result<Upstream, String> {
        let mut headers = Vec::with_capacity(cfg.headers.len() + kind_headers.len() + 1);
        if let Some(c) = cfg.credential {
            let mut v = HeaderValue::from_str(&c.value)
                .map_err(|_| "the API key contains characters not allowed in a header")?;
            v.set_sensitive(true);
            headers.push((HeaderName::from_static(c.header), v));
        }
        for (k, v) in kind_headers {
            let value = HeaderValue::from_str(v)
                .map_err(|_| format!("header '{k}' has an invalid value"))?;
            headers.push((HeaderName::from_static(k), value));
        }
        for (k, v) in cfg.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("header name '{k}' is not valid"))?;
            let value = HeaderValue::from_str(&v)
                .map_err(|_| format!("header '{k}' has an invalid value"))?;
            headers.retain(|(n, _)| *n != name);
            headers.push((name, value));
        }
        Ok(Upstream {
            name: cfg.name,
            headers,
            missing_key_env: cfg.missing_key_env,
            timeouts: cfg.timeouts,
            client: http_client::build(cfg.timeouts.connect()),
        })
    }

    /// Sends one request and waits for its head: the time to it, or the attempt error (no
    /// key, a timeout, a connection failure, an error status with its body).
    pub(crate) async fn send(
        &self,
        url: &http::Uri,
        body: Vec<u8>,
        stream: bool,
        started: Instant,
    ) -> Result<(http::Response<Incoming>, Duration), AttemptError> {
        self.send_with(url, body, stream, started, &[]).await
    }

    /// [`Upstream::send`] with headers of this request only, which replace the backend's own
    /// of the same name.
    pub(crate) async fn send_with(
        &self,
        url: &http::Uri,
        body: Vec<u8>,
        stream: bool,
        started: Instant,
        extra: &[(&'static str, String)],
    ) -> Result<(http::Response<Incoming>, Duration), AttemptError> {
        if let Some(var) = &self.missing_key_env {
            return Err(AttemptError::Unavailable(format!(
                "backend '{}' has no API key: environment variable {var} is not set",
                self.name
            )));
        }
        let request = self.build_request(url, body, stream, extra)?;
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

    /// Reads a whole answer's body, refusing an event stream sent for it: that is a backend
    /// fault, found before the client sees anything, so another candidate can still serve.
    pub(crate) async fn read_whole(
        &self,
        response: http::Response<Incoming>,
        started: Instant,
    ) -> Result<Bytes, AttemptError> {
        let ct = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if ct.trim_start().starts_with("text/event-stream") {
            return Err(AttemptError::Protocol(
                "the backend answered a request for a whole answer with an event stream".into(),
            ));
        }
        read_body(
            response.into_body(),
            MAX_RESPONSE_BYTES,
            started,
            &self.timeouts,
        )
        .await
    }

    /// A streamed answer's events, decoded from the upstream's format into OpenAI chunks. The
    /// timeouts hold the upstream's own events, not the decoded ones: a model thinking for a
    /// minute sends events (and pings) that yield no chunk, and is alive all the while.
    pub(crate) fn decoded_stream<D: Decoder>(
        &self,
        response: http::Response<Incoming>,
        decoder: D,
        started: Instant,
    ) -> EventStream {
        let raw =
            timeouts::enforce_on_stream(sse_events(response.into_body()), self.timeouts, started);
        Box::pin(decode(raw, decoder))
    }

    fn build_request(
        &self,
        url: &http::Uri,
        body: Vec<u8>,
        stream: bool,
        extra: &[(&'static str, String)],
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
        for (k, v) in &self.headers {
            if !extra.iter().any(|(name, _)| k == name) {
                builder = builder.header(k, v);
            }
        }
        for (k, v) in extra {
            builder = builder.header(*k, v.as_str());
        }
        builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| AttemptError::Protocol(format!("could not build the request: {e}")))
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

/// Reads a whole body, bounded in size, by the idle gap between its pieces and by the
/// attempt's total deadline: a backend that stalls half-way through a whole answer is cut
/// after `idle_ms`, as a stream is.
pub(crate) async fn read_body(
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

/// Turns an SSE body into events, as sent. A body that errors or ends inside an event yields
/// one `Err`.
pub(crate) fn sse_events(body: Incoming) -> impl Stream<Item = Result<Event, AttemptError>> + Send {
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
}

/// Turns one upstream's stream events into OpenAI chunk events.
pub trait Decoder: Send + 'static {
    /// The data of one upstream event: appends the chunks it makes, or fails the stream (an
    /// `error` event, a payload that is not the format's JSON).
    fn event(&mut self, data: &[u8], out: &mut Vec<Event>) -> Result<(), AttemptError>;

    /// The upstream body ended without error: appends the closing chunks and `[DONE]`, or
    /// fails when the format says the answer was not finished (the stream was cut).
    fn end(&mut self, out: &mut Vec<Event>) -> Result<(), AttemptError>;
}

/// Runs `decoder` over `raw`: every output event in order, then the first error, if any.
pub(crate) fn decode<S, D>(
    raw: S,
    decoder: D,
) -> impl Stream<Item = Result<Event, AttemptError>> + Send
where
    S: Stream<Item = Result<Event, AttemptError>> + Send + 'static,
    D: Decoder,
{
    struct State<S, D> {
        raw: std::pin::Pin<Box<S>>,
        decoder: D,
        ready: VecDeque<Result<Event, AttemptError>>,
        scratch: Vec<Event>,
        ended: bool,
    }
    let state = State {
        raw: Box::pin(raw),
        decoder,
        ready: VecDeque::new(),
        scratch: Vec::new(),
        ended: false,
    };
    futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(item) = s.ready.pop_front() {
                return Some((item, s));
            }
            if s.ended {
                return None;
            }
            let outcome = match s.raw.next().await {
                Some(Ok(Event::Data(data))) => s.decoder.event(&data, &mut s.scratch),
                // Neither vendor format ends with `[DONE]`; one that does has ended.
                Some(Ok(Event::Done)) | None => {
                    s.ended = true;
                    s.decoder.end(&mut s.scratch)
                }
                Some(Err(e)) => {
                    s.ended = true;
                    Err(e)
                }
            };
            s.ready.extend(s.scratch.drain(..).map(Ok));
            if let Err(e) = outcome {
                s.ended = true;
                s.ready.push_back(Err(e));
            }
        }
    })
}

/// An upstream error status whose body is in a vendor's own format, with the body rewritten as
/// OpenAI's error object: the client reads one shape whichever vendor refused, and the
/// vendor's message is kept. `message` reads the vendor's message from its body.
pub(crate) fn openai_error_body(
    e: AttemptError,
    message: impl Fn(&[u8]) -> Option<String>,
) -> AttemptError {
    let AttemptError::Status {
        status,
        body,
        retry_after,
    } = e
    else {
        return e;
    };
    let text = message(&body)
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(2048)]).into_owned());
    let kind = match status {
        400 | 404 | 409 | 413 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        _ => "server_error",
    };
    let body = serde_json::json!({
        "error": {"message": text, "type": kind, "param": null, "code": null}
    });
    AttemptError::Status {
        status,
        body: Bytes::from(body.to_string()),
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Emits each event's data back as a chunk; fails on `bad`; `[DONE]` at the end unless
    /// `cut` says the answer was unfinished.
    struct Echo {
        cut: bool,
    }

    impl Decoder for Echo {
        fn event(&mut self, data: &[u8], out: &mut Vec<Event>) -> Result<(), AttemptError> {
            if data == b"bad" {
                return Err(AttemptError::Protocol("bad".into()));
            }
            out.push(Event::Data(Bytes::copy_from_slice(data)));
            Ok(())
        }
        fn end(&mut self, out: &mut Vec<Event>) -> Result<(), AttemptError> {
            if self.cut {
                return Err(AttemptError::Protocol("cut".into()));
            }
            out.push(Event::Done);
            Ok(())
        }
    }

    async fn run(events: &[&'static [u8]], cut: bool) -> Vec<Result<Event, String>> {
        let raw = futures_util::stream::iter(
            events
                .iter()
                .map(|d| Ok(Event::Data(Bytes::from_static(d))))
                .collect::<Vec<_>>(),
        );
        decode(raw, Echo { cut })
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
            .await
    }

    #[tokio::test]
    async fn decoded_events_keep_order_and_stop_at_the_first_error() {
        let out = run(&[b"a", b"b"], false).await;
        assert_eq!(
            out,
            vec![
                Ok(Event::Data(Bytes::from_static(b"a"))),
                Ok(Event::Data(Bytes::from_static(b"b"))),
                Ok(Event::Done)
            ]
        );
        let out = run(&[b"a", b"bad", b"c"], false).await;
        assert_eq!(out.len(), 2);
        assert!(out[1].is_err());
        let out = run(&[b"a"], true).await;
        assert_eq!(out.len(), 2);
        assert!(out[1].as_ref().unwrap_err().contains("cut"));
    }

    #[test]
    fn configured_headers_override_the_kinds_own() {
        let up = Upstream::new(
            UpstreamConfig {
                name: "x".into(),
                credential: Some(Credential {
                    header: "x-api-key",
                    value: "k".into(),
                }),
                missing_key_env: None,
                headers: vec![("anthropic-version".into(), "2099-01-01".into())],
                timeouts: Timeouts::default(),
            },
            &[("anthropic-version", "2023-06-01".into())],
        )
        .unwrap();
        let names: Vec<_> = up
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
            .collect();
        assert_eq!(
            names,
            vec![("x-api-key", "k"), ("anthropic-version", "2099-01-01")]
        );
    }
}
