//! Step 6: stream the answer back as it arrives, tapping usage on the way; and the one place
//! errors are written.

use super::count::{self, Counting};
use super::decide::Decision;
use super::dispatch::{client_gone, Served, ServedReply};
use super::protocol::Protocol;
use super::redact::ChunkRestorer;
use super::trace::Trace;
use crate::errors::ApiError;
use crate::gateway::Gateway;
use bytes::Bytes;
use futures_util::StreamExt;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use tollgate_adapters::dialect::{Inbound, StreamTranslator};
use tollgate_adapters::sse::frame;
use tollgate_adapters::{ChatRequest, Event, Usage};

type WriteResult = pingora::Result<()>;

fn header(status: u16, request_id: &str) -> pingora::Result<Box<ResponseHeader>> {
    let mut h = ResponseHeader::build(status, Some(8))?;
    h.insert_header("x-tollgate-request-id", request_id)?;
    Ok(Box::new(h))
}

/// OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` headers.
fn ratelimit_headers(h: &mut ResponseHeader, headroom: &tollgate_metering::Headroom) {
    for (what, left) in [("requests", headroom.requests), ("tokens", headroom.tokens)] {
        let Some(l) = left else { continue };
        let _ = h.insert_header(format!("x-ratelimit-limit-{what}"), l.limit);
        let _ = h.insert_header(format!("x-ratelimit-remaining-{what}"), l.remaining);
        let _ = h.insert_header(format!("x-ratelimit-reset-{what}"), reset_text(l.reset_ms));
    }
}

/// A reset delay as OpenAI writes it: `20ms`, `1.5s`, `1m0s`.
fn reset_text(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..1000 => format!("{ms}ms"),
        1000..60_000 => format!("{}s", (ms as f64 / 1000.0 * 1000.0).round() / 1000.0),
        _ => format!("{}m{}s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// Writes a whole JSON answer.
pub async fn json(
    session: &mut Session,
    status: u16,
    request_id: &str,
    body: Bytes,
) -> WriteResult {
    let mut h = header(status, request_id)?;
    let _ = h.insert_header(http::header::CONTENT_TYPE, "application/json");
    let _ = h.insert_header(http::header::CONTENT_LENGTH, body.len());
    session.write_response_header(h, false).await?;
    session.write_response_body(Some(body), true).await
}

/// Writes an error, in the shape of the protocol the request came in: the one place an
/// [`ApiError`] becomes a response.
pub async fn error(
    session: &mut Session,
    request_id: &str,
    err: &ApiError,
    protocol: Protocol,
) -> WriteResult {
    if !err.keeps_connection() {
        // The rest of the request was not read (or the server is stopping): the connection
        // cannot serve another request.
        session.set_keepalive(None);
    }
    let body = protocol.error_body(err, request_id);
    let mut h = header(err.status, request_id)?;
    let _ = h.insert_header(http::header::CONTENT_TYPE, "application/json");
    let _ = h.insert_header(http::header::CONTENT_LENGTH, body.len());
    if let Some(secs) = err.retry_after {
        let _ = h.insert_header(http::header::RETRY_AFTER, secs);
    }
    if let Some(headroom) = &err.headroom {
        ratelimit_headers(&mut h, headroom);
    }
    session.write_response_header(h, false).await?;
    session.write_response_body(Some(body), true).await
}

/// What an answer is sent with: whether the client asked for a stream's usage chunk, the
/// request's decision, and the translation back for a request that came in a protocol other
/// than chat completions.
pub struct Answer<'a> {
    /// Whether the client asked for a stream's usage chunk.
    pub wants_usage: bool,
    /// The request's decision.
    pub decision: &'a Decision,
    /// The translation back, for requests that came in another protocol.
    pub inbound: Option<&'a Inbound>,
    /// The chat request, whose tokens are counted when the backend reports no usage (none
    /// for embeddings, whose backends always do).
    pub request: Option<&'a ChatRequest>,
}

/// Sends a served answer to the client: a whole body, or a stream relayed event by event.
pub async fn served(
    session: &mut Session,
    gw: &Gateway,
    answer: Answer<'_>,
    served: Served,
    rec: &mut Trace,
) -> Result<(), ApiError> {
    let decision = answer.decision;
    let Served {
        candidate,
        reply,
        redaction,
        slot: _slot,
    } = served;
    let model = gw.config.model(candidate);
    let backend = &gw.config.backends[candidate.backend];
    let counting = answer.request.map(|req| Counting {
        counter: gw.counters.get(candidate),
        sent: redaction.as_ref().map_or(req, |r| &r.req),
    });
    let mut h = header(200, rec.id()).map_err(|e| ApiError::internal(e.to_string()))?;
    let _ = h.insert_header("x-tollgate-route", decision.route_name.as_str());
    let _ = h.insert_header("x-tollgate-backend", backend.name.as_str());
    let _ = h.insert_header("x-tollgate-model", model.name.as_str());
    let _ = h.insert_header("x-tollgate-data-class", rec.record.data_class.as_str());
    let catalogued = gw.policy.catalog.get(gw.policy.id(candidate));
    if let Some(notice) = catalogued.licence.and_then(|l| l.notice_header()) {
        let _ = h.insert_header("x-tollgate-licence", notice);
    }
    if redaction.is_some() {
        let _ = h.insert_header("x-tollgate-redacted", "true");
    }
    if let Some(headroom) = &rec.headroom {
        ratelimit_headers(&mut h, headroom);
    }
    if let Some(dropped) = answer
        .inbound
        .map(Inbound::dropped_tools)
        .filter(|d| !d.is_empty())
    {
        let _ = h.insert_header("x-tollgate-tools-dropped", dropped.join(","));
    }
    match reply {
        ServedReply::Complete(complete) => {
            rec.usage = complete.usage;
            let mut body = complete.body;
            if complete.usage.is_none() {
                rec.metered.tap.observe_complete(&body);
                if let Some(counting) = counting {
                    let text = count::whole_text(&body);
                    counting
                        .fill(rec, count::Answered::Whole(text.as_deref()))
                        .await;
                    if let Some(u) = &rec.usage {
                        body = count::with_usage(&body, u);
                    }
                }
            }
            let body = match &redaction {
                Some(r) => r.restore_complete(&body),
                None => body,
            };
            let body = match answer.inbound {
                Some(inbound) => inbound.complete(&body).map_err(|e| {
                    ApiError::from_final_attempt(&tollgate_adapters::AttemptError::Protocol(e))
                })?,
                None => body,
            };
            let _ = h.insert_header(http::header::CONTENT_TYPE, "application/json");
            let _ = h.insert_header(http::header::CONTENT_LENGTH, body.len());
            rec.response_started = true;
            rec.ttft = Some(rec.started.elapsed());
            let mut body = body;
            let last = body.split_off(body.len().saturating_sub(1));
            let head = async {
                session.write_response_header(h, false).await?;
                session.write_response_body(Some(body), false).await
            };
            head.await.map_err(|_| ApiError::client_closed())?;
            super::trace::record_before_last_byte(gw, rec).await;
            session
                .write_response_body(Some(last), true)
                .await
                .map_err(|_| ApiError::client_closed())
        }
        ServedReply::Stream { first, rest } => {
            let _ = h.insert_header(http::header::CONTENT_TYPE, "text/event-stream");
            let _ = h.insert_header(http::header::CACHE_CONTROL, "no-cache");
            if !session.is_http2() {
                // Without a length or chunked encoding HTTP/1.1 falls back to a
                // close-delimited body and the connection cannot be kept alive.
                let _ = h.insert_header(http::header::TRANSFER_ENCODING, "chunked");
            }
            rec.response_started = true;
            if session.write_response_header(h, false).await.is_err() {
                return Err(ApiError::client_closed());
            }
            let restorer = redaction.as_ref().map(|r| r.stream());
            if counting.is_some_and(|c| c.wants_text()) {
                rec.metered.tap.keep_text();
            }
            let mut out = Outgoing {
                wants_usage: answer.wants_usage,
                restorer,
                translator: answer.inbound.map(Inbound::stream),
                counting,
                first_chunk: None,
            };
            relay(session, gw, first, rest, &mut out, rec).await
        }
    }
}

/// How relayed events are changed on their way to the client.
struct Outgoing<'r> {
    /// Whether the client asked for the usage chunk.
    wants_usage: bool,
    /// Puts redacted values back, when the request was sent redacted.
    restorer: Option<ChunkRestorer<'r>>,
    /// Re-emits chat chunks in the client's protocol, when that is not chat completions.
    translator: Option<StreamTranslator>,
    /// Counts the answer's tokens when the backend sends no usage.
    counting: Option<Counting<'r>>,
    /// The stream's first chunk, whose id and model a counted usage chunk takes.
    first_chunk: Option<Bytes>,
}

impl Outgoing<'_> {
    /// The bytes one chat chunk becomes (possibly none: a translated protocol may have
    /// nothing to say for a chunk).
    fn data(&mut self, data: &Bytes) -> Option<Bytes> {
        let data = match self.restorer.as_mut() {
            Some(r) => r.chunk(data),
            None => data.clone(),
        };
        match self.translator.as_mut() {
            None => Some(frame(&Event::Data(data))),
            Some(t) => {
                let mut out = Vec::new();
                t.chunk(&data, &mut out);
                (!out.is_empty()).then(|| Bytes::from(out))
            }
        }
    }

    /// Counts the answer's tokens into `rec` if the backend sent no usage (and a chat request
    /// is being answered).
    async fn count(&self, rec: &mut Trace) {
        if let (Some(c), None, true) = (self.counting, rec.usage, rec.served_by.is_some()) {
            let text = rec.metered.tap.text();
            let deltas = rec.metered.tap.content_deltas;
            c.fill(rec, count::Answered::Streamed(text.as_deref(), deltas))
                .await;
        }
    }

    /// The end of a complete stream: the counted usage chunk first when the backend sent none
    /// and the client asked for it, then `[DONE]`.
    async fn finish(&mut self, rec: &mut Trace) -> Bytes {
        let counted = rec.usage.is_none();
        self.count(rec).await;
        let usage = match (counted && self.wants_usage, rec.usage) {
            (true, Some(u)) => {
                let chunk = count::usage_chunk(self.first_chunk.as_deref(), &u);
                self.data(&chunk)
            }
            _ => None,
        };
        let done = self.done();
        match usage {
            Some(usage) => Bytes::from([usage, done].concat()),
            None => done,
        }
    }

    fn done(&mut self) -> Bytes {
        match self.translator.as_mut() {
            None => frame(&Event::Done),
            Some(t) => {
                let mut out = Vec::new();
                t.done(&mut out);
                Bytes::from(out)
            }
        }
    }

    fn error(&mut self, err: &ApiError) -> Bytes {
        match self.translator.as_mut() {
            None => err.sse_event(),
            Some(t) => {
                let mut out = Vec::new();
                t.error(
                    err.status,
                    err.code.as_str(),
                    &err.client_message(),
                    &mut out,
                );
                Bytes::from(out)
            }
        }
    }
}

/// Relays events until `[DONE]`, an upstream failure (answered with an error event), or the
/// client going away (which drops, and so cancels, the upstream request).
async fn relay(
    session: &mut Session,
    gw: &Gateway,
    first: Event,
    mut rest: tollgate_adapters::EventStream,
    out: &mut Outgoing<'_>,
    rec: &mut Trace,
) -> Result<(), ApiError> {
    let mut next = Some(Ok(first));
    loop {
        let item = match next.take() {
            Some(item) => Some(item),
            None => {
                tokio::select! {
                    item = rest.next() => item,
                    () = client_gone(session) => {
                        out.count(rec).await;
                        return Err(ApiError::client_closed());
                    }
                    () = gw.drain.cut() => {
                        let err = ApiError::shutting_down();
                        out.count(rec).await;
                        rec.fail(&err);
                        super::trace::record_before_last_byte(gw, rec).await;
                        let _ = session.write_response_body(Some(out.error(&err)), true).await;
                        return Err(err);
                    }
                }
            }
        };
        let (bytes, end, failure) = match item {
            Some(Ok(Event::Done)) => (out.finish(rec).await, true, None),
            Some(Ok(Event::Data(data))) => {
                rec.metered.tap.observe(&data);
                if out.first_chunk.is_none() {
                    out.first_chunk = Some(data.clone());
                }
                if let Some(usage) = Usage::from_openai_json(&data) {
                    rec.usage = Some(usage);
                    if !out.wants_usage && is_usage_only(&data) {
                        continue;
                    }
                }
                match out.data(&data) {
                    Some(bytes) => (bytes, false, None),
                    None => continue,
                }
            }
            Some(Err(e)) => {
                let err = ApiError::stream_cut(&e);
                out.count(rec).await;
                (out.error(&err), true, Some(err))
            }
            None => {
                out.count(rec).await;
                let err = ApiError::stream_cut(&tollgate_adapters::AttemptError::Protocol(
                    "the stream ended without [DONE]".into(),
                ));
                (out.error(&err), true, Some(err))
            }
        };
        if rec.ttft.is_none() {
            rec.ttft = Some(rec.started.elapsed());
        }
        if end {
            // `[DONE]` completes the answer, and an error event ends a cut one: either way
            // the row is committed first, so a client that saw the end has its row.
            if let Some(err) = &failure {
                rec.fail(err);
            }
            super::trace::record_before_last_byte(gw, rec).await;
        }
        if session.write_response_body(Some(bytes), end).await.is_err() {
            return Err(ApiError::client_closed());
        }
        if end {
            return match failure {
                Some(err) => Err(err),
                None => Ok(()),
            };
        }
    }
}

/// Whether a chunk is the usage-only chunk OpenAI sends last when asked (`"choices":[]`).
fn is_usage_only(data: &[u8]) -> bool {
    memchr::memmem::find(data, b"\"choices\":[]").is_some()
}
