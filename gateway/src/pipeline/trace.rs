//! Step 8: the one per-request trace, and the one place every request leaves its record,
//! whatever its outcome: [`RequestRecord`] gathers what the request did, [`Recording`] makes
//! sure it is written exactly once, and [`record`] turns it into the metering record by value.

use crate::backends::BusyProbe;
use crate::config::Candidate;
use crate::errors::{ApiError, ErrorCode};
use crate::gateway::Gateway;
use parking_lot::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tollgate_adapters::Usage;
use tollgate_metering::{self as metering, estimate_tokens_from_bytes, metrics::NONE, Reservation};
use tollgate_policies::DataClass;

/// How a request ended: the same labels the metrics and the ledger use.
pub use tollgate_metering::Outcome;

/// One attempt at one candidate.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Which candidate.
    pub candidate: Candidate,
    /// Why it failed (`None` when it served the request).
    pub error: Option<&'static str>,
    /// How long it took until it answered or failed.
    pub duration: Duration,
    /// Whether it was sent the redacted copy.
    pub redacted: bool,
}

/// Everything known about a request when it ends. No prompt text is kept.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// The request id sent back in `x-tollgate-request-id`.
    pub id: String,
    /// When it started.
    pub started: Instant,
    /// Wall-clock start, milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    /// The tenant, once authenticated.
    pub tenant: Option<String>,
    /// The route or pinned model.
    pub route: Option<String>,
    /// The effective data class.
    pub data_class: Option<DataClass>,
    /// The inbound endpoint (`chat_completions`, `messages`, `responses`, `embeddings`).
    pub endpoint: &'static str,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// Every attempt in order.
    pub attempts: Vec<Attempt>,
    /// The candidate that served it.
    pub served_by: Option<Candidate>,
    /// Token counts, when known.
    pub usage: Option<Usage>,
    /// Where `usage` came from: the backend, or the gateway's own count when it sent none.
    pub usage_source: metering::TokenSource,
    /// Time to the first byte of the answer sent to the client.
    pub ttft: Option<Duration>,
    /// Time spent waiting on backends (the rest is the gateway's own overhead).
    pub backend_wait: Duration,
    /// The HTTP status answered.
    pub status: u16,
    /// How it ended.
    pub outcome: Outcome,
    /// The error code when it did not complete.
    pub error_code: Option<ErrorCode>,
    /// Whether any response byte reached the client (errors can then only go in-stream).
    pub response_started: bool,
    /// Whether the record was already written, before the answer's last byte.
    pub recorded: bool,
    /// Kinds of sensitive data detected in the prompt (labels only, never the text).
    pub detections: Vec<&'static str>,
    /// Rules that refused candidates of the decision.
    pub refusals: Vec<&'static str>,
    /// A one-line summary of the decision, for the ledger.
    pub decision: String,
    /// Prompt size, content tap, budget reservation: what metering needs beyond the above.
    pub metered: Metered,
    /// The client's rate-limit headroom, sent with the answer.
    pub headroom: Option<tollgate_metering::Headroom>,
}

impl RequestRecord {
    /// A record for a request that just arrived.
    pub fn start(id: String) -> Self {
        RequestRecord {
            id,
            started: Instant::now(),
            started_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            tenant: None,
            route: None,
            data_class: None,
            endpoint: "chat_completions",
            stream: false,
            attempts: Vec::new(),
            served_by: None,
            usage: None,
            usage_source: metering::TokenSource::Provider,
            ttft: None,
            backend_wait: Duration::ZERO,
            status: 200,
            outcome: Outcome::Completed,
            error_code: None,
            response_started: false,
            recorded: false,
            detections: Vec::new(),
            refusals: Vec::new(),
            decision: String::new(),
            metered: Metered::default(),
            headroom: None,
        }
    }

    /// Notes the error a request ended with; how it counts is decided by its code.
    pub fn fail(&mut self, err: &ApiError) {
        self.error_code = Some(err.code);
        self.outcome = err
            .code
            .outcome(self.response_started, !self.attempts.is_empty());
        if !self.response_started {
            self.status = err.status;
        }
    }
}

/// Writes the request's record: metrics, ledger row and budget settlement. Called exactly once
/// per chat-completion request, whatever its outcome.
pub fn record(gw: &Gateway, rec: &RequestRecord) {
    let (m, reservation) = to_metering(gw, rec);
    let cost = gw.meter.metering().record(&m, reservation);
    log(gw, rec, &m, &cost);
}

/// Writes the record of an answer that is complete but for its last byte, and waits (at most
/// `[ledger] commit_wait_ms`) until its ledger row is committed: a client that has the whole
/// answer then always has its row, even if the process is killed the next instant. The
/// request is recorded as it ended (completed, or cut off by the error event about to be
/// sent); should the last byte not reach the client, the row still says so, which is all but
/// true.
pub async fn record_before_last_byte(gw: &Gateway, rec: &mut RequestRecord) {
    rec.recorded = true;
    let (m, reservation) = to_metering(gw, rec);
    let metering = gw.meter.metering();
    let (cost, ticket) = metering.record_for_commit(&m, reservation);
    log(gw, rec, &m, &cost);
    if let Some(ticket) = ticket {
        if tokio::time::timeout(metering.commit_wait(), ticket.committed())
            .await
            .is_err()
        {
            tracing::warn!(request_id = %rec.id, "ledger commit slower than commit_wait_ms; answering anyway");
        }
    }
}

fn log(gw: &Gateway, rec: &RequestRecord, m: &metering::Record, cost: &metering::Cost) {
    tracing::debug!(
        request_id = %rec.id,
        tenant = %m.tenant,
        route = %m.route,
        served_by = rec.served_by.map_or("-", |c| gw.config.model(c).key.as_str()),
        status = m.status,
        outcome = m.outcome.as_str(),
        attempts = m.attempts.len(),
        prompt_tokens = m.usage.prompt_tokens,
        completion_tokens = m.usage.completion_tokens,
        estimated = m.usage.estimated(),
        cost_usd = ?cost.total_usd,
        duration_ms = m.duration.as_secs_f64() * 1e3,
        "request"
    );
}

/// The one mapping from the pipeline's record to metering's, with the budget reservation the
/// request still holds (settled by the record, kept apart from it: a record is data).
pub fn to_metering(gw: &Gateway, rec: &RequestRecord) -> (metering::Record, Option<Reservation>) {
    let duration = rec.started.elapsed();
    let held = rec.metered.take_held();
    let tap = &rec.metered.tap;
    let mut m = metering::Record::new(
        rec.id.clone(),
        i64::try_from(rec.started_unix_ms).unwrap_or(i64::MAX),
    );
    m.tenant = rec.tenant.clone().unwrap_or_else(|| NONE.to_string());
    m.route = rec.route.clone().unwrap_or_else(|| NONE.to_string());
    // The backend that served, or else the last one tried.
    if let Some(c) = rec
        .served_by
        .or_else(|| rec.attempts.last().map(|a| a.candidate))
    {
        let b = &gw.config.backends[c.backend];
        m.backend = Some(b.name.clone());
        m.model = Some(gw.config.model(c).name.clone());
        m.zone = Some(b.zone);
    }
    m.data_class = rec.data_class.unwrap_or(DataClass::Public);
    m.decision = rec.decision.clone();
    m.stream = rec.stream;
    m.endpoint = rec.endpoint;
    m.outcome = rec.outcome;
    m.status = rec.status;
    m.error_class = rec.error_code;
    m.usage = match rec.usage {
        Some(u) => metering::Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            cached_tokens: u.cached_tokens,
            cache_write_tokens: u.cache_write_tokens,
            source: rec.usage_source,
        },
        // Served without usage and not counted (the task was dropped first): estimate.
        None if rec.served_by.is_some() => metering::Usage {
            prompt_tokens: estimate_tokens_from_bytes(rec.metered.prompt_bytes.unwrap_or(0)),
            completion_tokens: estimate_tokens_from_bytes(tap.content_bytes),
            cached_tokens: 0,
            cache_write_tokens: 0,
            source: metering::TokenSource::Estimate,
        },
        None => metering::Usage::default(),
    };
    m.duration = duration;
    let response_start = rec.ttft.map(|t| rec.started + t);
    if rec.stream {
        m.ttft = tap
            .first_content
            .map(|t| t.duration_since(rec.started))
            .or(rec.ttft);
        m.inter_token = tap.inter_token();
    }
    // Time spent relaying a stream is time waiting on the backend, not gateway overhead.
    let relaying = match (response_start, tap.last_event) {
        (Some(start), Some(last)) => last.saturating_duration_since(start),
        _ => Duration::ZERO,
    };
    m.overhead = duration
        .saturating_sub(rec.backend_wait)
        .saturating_sub(relaying);
    m.attempts = rec
        .attempts
        .iter()
        .map(|a| {
            let b = &gw.config.backends[a.candidate.backend];
            metering::Attempt {
                backend: b.name.clone(),
                model: gw.config.model(a.candidate).name.clone(),
                zone: b.zone,
                outcome: a.error.unwrap_or("ok"),
                duration: a.duration,
                redacted: a.redacted,
            }
        })
        .collect();
    m.attempt_prompt_tokens = rec
        .metered
        .attempt_prompt_tokens
        .unwrap_or_else(|| estimate_tokens_from_bytes(rec.metered.prompt_bytes.unwrap_or(0)));
    m.busy = held.busy.map(|p| gw.backends[p.backend].busy_time(p));
    m.detections = rec.detections.clone();
    m.refusals = rec.refusals.clone();
    if let Some(ticket) = held.rate {
        // The tokens a rate limit counts are the ones the answer used, not its reservation.
        ticket.settle(
            m.usage.prompt_tokens + m.usage.completion_tokens,
            crate::meter::now_ms(),
        );
    }
    (m, held.reservation)
}

/// The metering part of a request's record.
#[derive(Debug, Default)]
pub struct Metered {
    /// UTF-8 bytes of the prompt's text parts, counted before the first attempt.
    pub prompt_bytes: Option<u64>,
    /// The prompt's tokens as a failed attempt was sent them, counted without I/O by its
    /// model's tokenizer where there is one: what that attempt is charged.
    pub attempt_prompt_tokens: Option<u64>,
    /// What the served answer's content looked like as it passed.
    pub tap: Tap,
    pub(crate) held: Mutex<Held>,
}

/// A record copy carries no reservation: only the original settles it.
impl Clone for Metered {
    fn clone(&self) -> Self {
        Metered {
            prompt_bytes: self.prompt_bytes,
            attempt_prompt_tokens: self.attempt_prompt_tokens,
            tap: self.tap.clone(),
            held: Mutex::default(),
        }
    }
}

/// What a request holds until it is recorded.
#[derive(Debug, Default)]
pub struct Held {
    /// The budget reservation of the current attempt.
    pub reservation: Option<Reservation>,
    /// The request's rate-limit slot and tokens.
    pub rate: Option<tollgate_metering::RateTicket>,
    /// The current attempt on a backend with a `cost_per_hour`.
    pub busy: Option<BusyProbe>,
}

impl Metered {
    /// Takes what the request holds (once; later calls get nothing).
    pub fn take_held(&self) -> Held {
        std::mem::take(&mut *self.held.lock())
    }
}

/// Counts of the served answer's content, tapped from the chunks as they are relayed.
#[derive(Debug, Clone, Default)]
pub struct Tap {
    /// When the first non-empty content arrived.
    pub first_content: Option<Instant>,
    /// When the last non-empty content arrived.
    pub last_content: Option<Instant>,
    /// When the last event of any kind arrived.
    pub last_event: Option<Instant>,
    /// Chunks with non-empty content.
    pub content_events: u64,
    /// Content strings seen, empty ones included: a server that streams one chunk per token
    /// sends as many as it generated.
    pub content_deltas: u64,
    /// Bytes of content as sent on the wire (JSON-escaped).
    pub content_bytes: u64,
    /// The content and tool-call arguments as sent on the wire (JSON-escaped), when they are
    /// kept for a tokenizer to count (see [`Tap::keep_text`]).
    text: Option<Vec<u8>>,
}

/// The most answer text kept for counting; past it, the count is an estimate.
const MAX_KEPT_TEXT: usize = 4 << 20;

impl Tap {
    /// Keeps the answer's text from now on, for its model's tokenizer to count.
    pub fn keep_text(&mut self) {
        self.text = Some(Vec::new());
    }

    /// The kept text, unescaped; `None` when none was kept or it outgrew the bound.
    pub fn text(&self) -> Option<String> {
        let raw = self.text.as_ref()?;
        let mut quoted = Vec::with_capacity(raw.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(raw);
        quoted.push(b'"');
        serde_json::from_slice(&quoted).ok()
    }

    /// Notes one stream chunk: a substring search, no JSON parsing.
    pub fn observe(&mut self, chunk: &[u8]) {
        let now = Instant::now();
        self.last_event = Some(now);
        if let Some(text) = self.text.as_mut() {
            for key in [CONTENT_KEY, ARGUMENTS_KEY] {
                strings(chunk, key, |s| text.extend_from_slice(s));
            }
            if text.len() > MAX_KEPT_TEXT {
                self.text = None;
            }
        }
        let mut n = 0u64;
        // The empty content of a role-only opening chunk (OpenAI's) is no token.
        let opening = memchr::memmem::find(chunk, b"\"role\":").is_some();
        strings(chunk, CONTENT_KEY, |s| {
            n += s.len() as u64;
            if !(s.is_empty() && opening) {
                self.content_deltas += 1;
            }
        });
        if n > 0 {
            self.first_content.get_or_insert(now);
            self.last_content = Some(now);
            self.content_events += 1;
            self.content_bytes += n;
        }
    }

    /// Notes a whole answer that carried no usage, so its completion can be estimated.
    pub fn observe_complete(&mut self, body: &[u8]) {
        self.content_bytes += content_bytes(body);
    }

    /// Mean gap between content chunks, when there were at least two.
    pub fn inter_token(&self) -> Option<Duration> {
        let (first, last) = (self.first_content?, self.last_content?);
        let gaps = u32::try_from(self.content_events.checked_sub(1)?).ok()?;
        (gaps > 0).then(|| last.duration_since(first) / gaps)
    }
}

/// Bytes of every `"content":"…"` string value in a JSON text, as written (escapes counted as
/// written, an approximation good enough for an estimate).
fn content_bytes(json: &[u8]) -> u64 {
    let mut total = 0u64;
    strings(json, CONTENT_KEY, |s| total += s.len() as u64);
    total
}

const CONTENT_KEY: &[u8] = b"\"content\":";
const ARGUMENTS_KEY: &[u8] = b"\"arguments\":";

/// Calls `each` with every string value of `key` in a JSON text, as written (escaped).
fn strings(json: &[u8], key: &[u8], mut each: impl FnMut(&[u8])) {
    let mut rest = json;
    while let Some(at) = memchr::memmem::find(rest, key) {
        rest = &rest[at + key.len()..];
        let skip = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
        rest = &rest[skip..];
        if rest.first() != Some(&b'"') {
            continue;
        }
        rest = &rest[1..];
        let mut i = 0;
        while i < rest.len() && rest[i] != b'"' {
            i += if rest[i] == b'\\' { 2 } else { 1 };
        }
        let end = i.min(rest.len());
        each(&rest[..end]);
        rest = &rest[end..];
    }
}

/// A request's record that is written exactly once: by [`Recording::finish`], or when dropped
/// unfinished (the server shut down or the task was cancelled mid-request).
pub struct Recording<'a> {
    gw: &'a Gateway,
    rec: RequestRecord,
    done: bool,
    /// Dropped after the record is written (fields drop after `Drop::drop`), so a shutdown
    /// waiting for nothing in flight also waits for the row.
    _in_flight: crate::drain::InFlight<'a>,
}

impl<'a> Recording<'a> {
    /// Starts the record of a request that just arrived.
    pub fn start(gw: &'a Gateway) -> Recording<'a> {
        Recording {
            gw,
            rec: RequestRecord::start(gw.next_request_id()),
            done: false,
            _in_flight: gw.drain.enter(),
        }
    }

    /// Writes the record, unless it was written before the answer's last byte.
    pub fn finish(mut self) {
        self.done = true;
        if !self.rec.recorded {
            record(self.gw, &self.rec);
        }
    }
}

impl std::ops::Deref for Recording<'_> {
    type Target = RequestRecord;
    fn deref(&self) -> &RequestRecord {
        &self.rec
    }
}

impl std::ops::DerefMut for Recording<'_> {
    fn deref_mut(&mut self) -> &mut RequestRecord {
        &mut self.rec
    }
}

impl Drop for Recording<'_> {
    fn drop(&mut self) {
        if self.done || self.rec.recorded {
            return;
        }
        // The task was dropped half-way: by the server's shutdown, or by the connection going
        // away under it (an HTTP/2 reset, say).
        let code = if self.gw.is_shutting_down() {
            ErrorCode::ServerShuttingDown
        } else {
            ErrorCode::Cancelled
        };
        self.rec
            .fail(&ApiError::new(503, code, "the request's task was dropped"));
        record(self.gw, &self.rec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_counted_without_parsing() {
        let chunk = br#"{"choices":[{"index":0,"delta":{"content":"he said \"hi\" "},"finish_reason":null}]}"#;
        assert_eq!(content_bytes(chunk), 15);
        assert_eq!(
            content_bytes(br#"{"delta":{"role":"assistant","content":""}}"#),
            0
        );
        assert_eq!(content_bytes(br#"{"delta":{"content": null}}"#), 0);
        assert_eq!(
            content_bytes(br#"{"reasoning_content":"x","content" : "abc"}"#),
            0,
            "a space before the colon is not OpenAI's encoding"
        );
        assert_eq!(
            content_bytes(br#"[{"content":"ab"},{"content": "cde"}]"#),
            5
        );
        assert_eq!(content_bytes(br#"{"content":"unterminated"#), 12);
    }

    #[test]
    fn tap_measures_gaps_between_content_chunks() {
        let mut t = Tap::default();
        t.observe(br#"{"delta":{"role":"assistant","content":""}}"#);
        assert_eq!(t.inter_token(), None);
        t.observe(br#"{"delta":{"content":"a "}}"#);
        std::thread::sleep(Duration::from_millis(5));
        t.observe(br#"{"delta":{"content":"b"}}"#);
        assert_eq!((t.content_events, t.content_bytes), (2, 3));
        assert!(t.inter_token().unwrap() >= Duration::from_millis(5));
    }
}
