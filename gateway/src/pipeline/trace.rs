//! Step 8: the one per-request trace, and the one place every request leaves its record,
//! whatever its outcome. A [`Trace`] owns the request's [`metering::Record`], filled in as the
//! request goes, beside what only the live request needs (its clock, the serving candidate,
//! what it holds); [`Recording`] makes sure it is written exactly once, and [`record`] hands
//! the record to metering by value, which turns it into the ledger row by value.

use crate::backends::BusyProbe;
use crate::config::{Candidate, Config};
use crate::errors::{ApiError, ErrorCode};
use crate::gateway::Gateway;
use parking_lot::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tollgate_adapters::Usage;
use tollgate_metering::{self as metering, estimate_tokens_from_bytes, metrics::NONE, Reservation};

/// How a request ended: the same labels the metrics and the ledger use.
pub use tollgate_metering::Outcome;

/// Everything known about a request while it runs. No prompt text is kept.
#[derive(Debug)]
pub struct Trace {
    /// What will be recorded: id, tenant, route, class, decision, attempts, outcome...
    pub record: metering::Record,
    /// When it started.
    pub started: Instant,
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
    /// Whether any response byte reached the client (errors can then only go in-stream).
    pub response_started: bool,
    /// Whether the record was already written, before the answer's last byte.
    pub recorded: bool,
    /// Prompt size, content tap, budget reservation: what metering needs beyond the above.
    pub metered: Metered,
    /// The client's rate-limit headroom, sent with the answer.
    pub headroom: Option<tollgate_metering::Headroom>,
}

impl Trace {
    /// The trace of a request that just arrived.
    pub fn start(id: String) -> Self {
        let started_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let mut record = metering::Record::new(id, started_at_ms);
        // Until authenticated and resolved: the metrics' empty label.
        record.tenant = NONE.to_string();
        record.route = NONE.to_string();
        Trace {
            record,
            started: Instant::now(),
            served_by: None,
            usage: None,
            usage_source: metering::TokenSource::Provider,
            ttft: None,
            backend_wait: Duration::ZERO,
            response_started: false,
            recorded: false,
            metered: Metered::default(),
            headroom: None,
        }
    }

    /// The request id sent back in `x-tollgate-request-id`.
    pub fn id(&self) -> &str {
        &self.record.request_id
    }

    /// Notes the error a request ended with; how it counts is decided by its code.
    pub fn fail(&mut self, err: &ApiError) {
        let r = &mut self.record;
        r.error_class = Some(err.code);
        r.outcome = err
            .code
            .outcome(self.response_started, !r.attempts.is_empty());
        if !self.response_started {
            r.status = err.status;
        }
    }

    /// Notes one attempt at `candidate`, ended with `outcome` (`ok` when it served). The
    /// record names the backend last tried, which is the one that served when one did.
    pub fn attempted(
        &mut self,
        config: &Config,
        candidate: Candidate,
        outcome: &'static str,
        duration: Duration,
        redacted: bool,
    ) {
        let backend = &config.backends[candidate.backend];
        let model = &config.model(candidate).name;
        let r = &mut self.record;
        r.backend = Some(backend.name.clone());
        r.model = Some(model.clone());
        r.zone = Some(backend.zone);
        r.attempts.push(metering::Attempt {
            backend: backend.name.clone(),
            model: model.clone(),
            zone: backend.zone,
            outcome,
            duration,
            redacted,
        });
        if outcome == OK {
            self.served_by = Some(candidate);
        }
    }
}

/// The outcome label of the attempt that served.
pub const OK: &str = "ok";

/// Writes the request's record: metrics, ledger row and budget settlement. Called exactly once
/// per request of the completion endpoints, whatever its outcome.
pub fn record(gw: &Gateway, rec: &mut Trace) {
    let (m, reservation) = to_metering(gw, rec);
    gw.meter.metering().record(m, reservation);
}

/// Writes the record of an answer that is complete but for its last byte, and waits (at most
/// `[ledger] commit_wait_ms`) until its ledger row is committed: a client that has the whole
/// answer then always has its row, even if the process is killed the next instant. The
/// request is recorded as it ended (completed, or cut off by the error event about to be
/// sent); should the last byte not reach the client, the row still says so, which is all but
/// true.
pub async fn record_before_last_byte(gw: &Gateway, rec: &mut Trace) {
    rec.recorded = true;
    let (m, reservation) = to_metering(gw, rec);
    let metering = gw.meter.metering();
    let (_, ticket) = metering.record_for_commit(m, reservation);
    if let Some(ticket) = ticket {
        if tokio::time::timeout(metering.commit_wait(), ticket.committed())
            .await
            .is_err()
        {
            tracing::warn!(request_id = %rec.id(), "ledger commit slower than commit_wait_ms; answering anyway");
        }
    }
}

/// Completes the trace's record and takes it out by value, with the budget reservation the
/// request still holds (settled by the record, kept apart from it: a record is data). The
/// trace keeps only its id.
pub fn to_metering(gw: &Gateway, rec: &mut Trace) -> (metering::Record, Option<Reservation>) {
    let duration = rec.started.elapsed();
    let held = rec.metered.take_held();
    let tap = &rec.metered.tap;
    let id = rec.record.request_id.clone();
    let started_at_ms = rec.record.started_at_ms;
    let mut m = std::mem::replace(&mut rec.record, metering::Record::new(id, started_at_ms));
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
    if m.stream {
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
    m.attempt_prompt_tokens = rec
        .metered
        .attempt_prompt_tokens
        .unwrap_or_else(|| estimate_tokens_from_bytes(rec.metered.prompt_bytes.unwrap_or(0)));
    m.busy = held.busy.map(|p| gw.backends[p.backend].busy_time(p));
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
    rec: Trace,
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
            rec: Trace::start(gw.next_request_id()),
            done: false,
            _in_flight: gw.drain.enter(),
        }
    }

    /// Writes the record, unless it was written before the answer's last byte.
    pub fn finish(mut self) {
        self.done = true;
        if !self.rec.recorded {
            record(self.gw, &mut self.rec);
        }
    }
}

impl std::ops::Deref for Recording<'_> {
    type Target = Trace;
    fn deref(&self) -> &Trace {
        &self.rec
    }
}

impl std::ops::DerefMut for Recording<'_> {
    fn deref_mut(&mut self) -> &mut Trace {
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
        record(self.gw, &mut self.rec);
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
