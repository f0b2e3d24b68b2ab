//! What every dialect shares: response bodies, the streaming writer (awkward cuts, breaks,
//! stalls, cancellation), the reply limits and the word counts that stand in for tokens.

use super::Shared;
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::Frame;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub(super) type Body = BoxBody<Bytes, std::io::Error>;

pub(super) const SSE: &str = "text/event-stream";

pub(super) fn full(status: StatusCode, body: Value) -> Response<Body> {
    bytes_response(status, "application/json", Bytes::from(body.to_string()))
}

pub(super) fn bytes_response(
    status: StatusCode,
    content_type: &str,
    body: Bytes,
) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body).map_err(|e| match e {}).boxed())
        .expect("response")
}

pub(super) fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// [`super::Behavior::Garbage`]: the body as is, whatever was asked.
pub(super) fn garbage(content_type: &'static str, body: &'static str) -> Response<Body> {
    bytes_response(
        StatusCode::OK,
        content_type,
        Bytes::from_static(body.as_bytes()),
    )
}

/// [`super::Behavior::StallBody`]: a JSON body that starts with `prefix`, then never ends.
pub(super) fn stall_body(prefix: &'static [u8], state: Arc<Shared>) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
    tokio::spawn(async move {
        let _ = tx.send(Ok(Frame::data(Bytes::from_static(prefix)))).await;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = tx.closed() => { state.cancelled.fetch_add(1, Ordering::SeqCst); }
        }
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(StreamBody::new(stream_from(rx)).boxed())
        .expect("stalled response")
}

/// [`super::Behavior::SlowBody`]: `whole` in `pieces` pieces, `gap` apart.
pub(super) fn slow_body(whole: Vec<u8>, pieces: usize, gap: Duration) -> Response<Body> {
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
        .body(StreamBody::new(stream_from(rx)).boxed())
        .expect("slow response")
}

/// How a stream ends after its events.
pub(super) enum Ending {
    Clean,
    /// Sends these bytes (the start of an event, or nothing), then fails the body: the
    /// connection breaks.
    Break(&'static [u8]),
    Stall,
}

/// Sends already framed events, each cut into awkward pieces in test mode (mid-line, between
/// `\r` and `\n`, inside a UTF-8 sequence) so a parser is exercised on every boundary kind.
pub(super) fn stream(
    wire: Vec<Vec<u8>>,
    ending: Ending,
    gap: Duration,
    state: Arc<Shared>,
    content_type: &'static str,
) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(16);
    tokio::spawn(async move {
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
            Ending::Break(partial) => {
                if !partial.is_empty() {
                    let _ = tx.send(Ok(Frame::data(Bytes::from_static(partial)))).await;
                }
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
    let mut resp = Response::builder()
        .status(200)
        .header("content-type", content_type);
    if content_type == SSE {
        resp = resp.header("cache-control", "no-cache");
    }
    resp.body(StreamBody::new(stream_from(rx)).boxed())
        .expect("stream response")
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

fn stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Why a reply ended, before each dialect names it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Finish {
    End,
    Length,
    Stop(String),
}

/// A reply after the request's limits: its tokens (words with their trailing space, as the
/// OpenAI fake always counted them) and why it ended.
pub(super) struct Limited {
    pub pieces: Vec<String>,
    pub finish: Finish,
}

impl Limited {
    pub fn text(&self) -> String {
        self.pieces.concat()
    }

    pub fn tokens(&self) -> u64 {
        self.pieces.len() as u64
    }
}

/// Applies what the fake was told to honour: the earliest stop sequence ends the reply before
/// it, then `max_tokens` cuts it to that many words.
pub(super) fn limit(
    reply: &str,
    max_tokens: Option<u64>,
    stops: &Value,
    knobs: &super::Knobs,
) -> Limited {
    let mut text = reply;
    let mut finish = Finish::End;
    if knobs.honor_stop {
        let stops: Vec<&str> = match stops {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if let Some((at, seq)) = stops
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| reply.find(s).map(|at| (at, *s)))
            .min_by_key(|(at, _)| *at)
        {
            text = &reply[..at];
            finish = Finish::Stop(seq.to_string());
        }
    }
    let mut pieces: Vec<String> = text.split_inclusive(' ').map(str::to_string).collect();
    if knobs.honor_max_tokens {
        if let Some(max) = max_tokens {
            if pieces.len() as u64 > max {
                pieces.truncate(max as usize);
                finish = Finish::Length;
            }
        }
    }
    Limited { pieces, finish }
}

/// `text` cut into pieces of `n` characters (so anything in it can be split across events).
pub(super) fn char_chunks(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(n.max(1)).map(|c| c.iter().collect()).collect()
}

/// `s` split in two at the char boundary nearest its middle.
pub(super) fn halves(s: &str) -> (&str, &str) {
    let mut mid = s.len() / 2;
    while !s.is_char_boundary(mid) {
        mid -= 1;
    }
    s.split_at(mid)
}

pub(super) fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// A message's text: its string content, or its text parts joined.
pub(super) fn text_of(content: &Value) -> String {
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

/// A field by its REST (lowerCamelCase) name or its proto (snake_case) name: Google's JSON
/// mapping accepts both.
pub(super) fn field<'a>(v: &'a Value, camel: &str) -> &'a Value {
    match v.get(camel) {
        Some(found) => found,
        None => &v[snake(camel)],
    }
}

pub(super) fn snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

pub(super) fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}
