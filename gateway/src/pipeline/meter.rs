//! Metering inside the pipeline: the gateway's [`Meter`], the budget check before each attempt
//! ([`admit`]), the stream tap that counts content for estimates and token gaps ([`Tap`]), and
//! the guard that records a request even when its task is dropped ([`Recording`]).
//!
//! The record itself (a `RequestRecord` turned into a `metering::Record`) is written in one
//! place, `record::record`.

use super::decide::Decision;
use super::record::{self, Outcome, RequestRecord};
use crate::config::{Candidate, Config};
use crate::errors::ApiError;
use crate::gateway::Gateway;
use crate::metering::{
    estimate_tokens_from_bytes, metrics::NONE, BudgetExceeded, Metering, OnExhausted, Reservation,
};
use parking_lot::Mutex;
use serde_json::json;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tollgate_adapters::ChatRequest;

/// Metering of one gateway: metrics, prices, ledger and budgets, plus the number of requests in
/// flight on each priced local backend (for its compute-cost share).
#[derive(Debug)]
pub struct Meter {
    metering: Metering,
    inflight: Vec<AtomicI64>,
    has_budgets: bool,
}

impl Meter {
    /// Opens the ledger and builds metrics and budgets from the checked config.
    pub fn open(config: &Config) -> Result<Meter, String> {
        let metering =
            Metering::open(&config.metering, now_ms()).map_err(|e| format!("metering: {e}"))?;
        let b = &config.metering.budgets;
        Ok(Meter {
            metering,
            inflight: config.backends.iter().map(|_| AtomicI64::new(0)).collect(),
            has_budgets: !(b.tenants.is_empty() && b.routes.is_empty()),
        })
    }

    /// Metrics, prices, ledger and budgets.
    pub fn metering(&self) -> &Metering {
        &self.metering
    }

    /// The `/metrics` exposition.
    pub fn encode_metrics(&self) -> String {
        self.metering.encode_metrics(now_ms())
    }

    /// Commits every recorded row and stops the ledger writer (call once the server stopped).
    pub fn close(&self) {
        match self.metering.close() {
            Ok(()) => tracing::info!("ledger flushed and closed"),
            Err(e) => tracing::error!(error = %e, "ledger did not close cleanly"),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The metering part of a request's record.
#[derive(Debug, Default)]
pub struct Metered {
    /// UTF-8 bytes of the prompt's text parts, counted before the first attempt.
    pub prompt_bytes: Option<u64>,
    /// What the served answer's content looked like as it passed.
    pub tap: Tap,
    held: Mutex<Held>,
}

/// A record copy carries no reservation: only the original settles it.
impl Clone for Metered {
    fn clone(&self) -> Self {
        Metered {
            prompt_bytes: self.prompt_bytes,
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
    /// The current attempt on a backend with a `cost_per_hour`.
    pub busy: Option<BusyProbe>,
}

/// The start of an attempt on a backend priced by the hour, for its share of busy time.
#[derive(Debug, Clone, Copy)]
pub struct BusyProbe {
    backend: usize,
    started: Instant,
    concurrency: i64,
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
    /// Bytes of content as sent on the wire (JSON-escaped).
    pub content_bytes: u64,
}

impl Tap {
    /// Notes one stream chunk: a substring search, no JSON parsing.
    pub fn observe(&mut self, chunk: &[u8]) {
        let now = Instant::now();
        self.last_event = Some(now);
        let n = content_bytes(chunk);
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
    const KEY: &[u8] = b"\"content\":";
    let mut total = 0u64;
    let mut rest = json;
    while let Some(at) = memchr::memmem::find(rest, KEY) {
        rest = &rest[at + KEY.len()..];
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
        total += end as u64;
        rest = &rest[end..];
    }
    total
}

/// The budget check before an attempt on `candidate`: reserves the attempt's worst-case cost
/// (estimated prompt tokens plus `max_completion_tokens`, or `[budgets] default_max_tokens`,
/// at the candidate's price) against the tenant's and the route's budgets.
///
/// `Ok(true)`: go ahead (the reservation is held by `rec` until it is recorded). `Ok(false)`:
/// a budget with `on_exhausted = "fall_through"` refused this candidate and a later one may
/// serve. `Err`: a 429 naming the budget, its limit, what is spent and when it resets.
pub fn admit(
    gw: &Gateway,
    req: &ChatRequest,
    decision: &Decision,
    candidate: Candidate,
    rec: &mut RequestRecord,
) -> Result<bool, ApiError> {
    let meter = &gw.meter;
    let prompt_bytes = rec.metered.prompt_bytes.unwrap_or(0);
    let backend = &gw.config.backends[candidate.backend];
    let mut held = rec.metered.held.lock();
    // The previous attempt failed: give back what it held before taking anything new.
    held.reservation = None;
    if let Some(p) = held.busy.take() {
        meter.inflight[p.backend].fetch_sub(1, Ordering::Relaxed);
    }
    if meter.has_budgets {
        let m = &meter.metering;
        let model = gw.config.model(candidate);
        let max_tokens = req
            .max_completion_tokens()
            .map_or(m.default_max_tokens(), u64::from);
        let worst = m.prices().worst_case_usd(
            &backend.name,
            &model.name,
            estimate_tokens_from_bytes(prompt_bytes),
            max_tokens,
        );
        let tenant = rec.tenant.as_deref().unwrap_or(NONE);
        let route = rec.route.as_deref().unwrap_or(NONE);
        match m.reserve(tenant, route, worst, now_ms()) {
            Ok(r) => held.reservation = Some(r),
            Err(refusal) => {
                let last = decision.candidates.last().map(|(c, _)| *c) == Some(candidate);
                if refusal.on_exhausted == OnExhausted::FallThrough && !last {
                    drop(held);
                    tracing::debug!(request_id = %rec.id, candidate = %model.key, %refusal, "budget refused a candidate; trying the next");
                    rec.refusals.push("budget");
                    return Ok(false);
                }
                return Err(budget_exceeded(&refusal));
            }
        }
    }
    if meter
        .metering
        .prices()
        .cost_per_hour(&backend.name)
        .is_some()
    {
        let before = meter.inflight[candidate.backend].fetch_add(1, Ordering::Relaxed);
        held.busy = Some(BusyProbe {
            backend: candidate.backend,
            started: Instant::now(),
            concurrency: before + 1,
        });
    }
    Ok(true)
}

/// This request's share of its backend's busy time: the attempt's wall time divided by the mean
/// number of requests in flight on that backend at its start and end.
pub fn busy_time(meter: &Meter, probe: BusyProbe) -> Duration {
    let now_inflight = meter.inflight[probe.backend].fetch_sub(1, Ordering::Relaxed);
    let mean = (probe.concurrency + now_inflight).max(2) as f64 / 2.0;
    crate::metering::busy_share(probe.started.elapsed(), mean)
}

/// The 429 a budget refusal is answered with.
pub fn budget_exceeded(b: &BudgetExceeded) -> ApiError {
    let retry_after = u64::try_from((b.resets_at_ms - now_ms()).max(0) / 1000 + 1).ok();
    let resets_at = format!(
        "{}T00:00:00Z",
        crate::metering::time::Date::from_unix_ms(b.resets_at_ms)
    );
    ApiError {
        status: 429,
        kind: "insufficient_quota",
        code: "budget_exceeded",
        message: b.to_string(),
        param: None,
        retry_after,
        details: Some((
            "budget",
            json!({
                "scope": b.scope.as_str(),
                "name": b.name,
                "period": b.period.as_str(),
                "limit_usd": b.limit_usd,
                "spent_usd": b.spent_usd,
                "reserved_usd": b.reserved_usd,
                "requested_usd": b.requested_usd,
                "resets_at": resets_at,
            }),
        )),
        upstream_body: None,
    }
}

/// A request's record that is written exactly once: by [`Recording::finish`], or when dropped
/// unfinished (the server shut down or the task was cancelled mid-request).
pub struct Recording<'a> {
    gw: &'a Gateway,
    rec: RequestRecord,
    done: bool,
}

impl<'a> Recording<'a> {
    /// Starts the record of a request that just arrived.
    pub fn start(gw: &'a Gateway) -> Recording<'a> {
        Recording {
            gw,
            rec: RequestRecord::start(gw.next_request_id()),
            done: false,
        }
    }

    /// Writes the record.
    pub fn finish(mut self) {
        self.done = true;
        record::record(self.gw, &self.rec);
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
        if self.done {
            return;
        }
        // The task was dropped half-way: by the server's shutdown, or by the connection going
        // away under it (an HTTP/2 reset, say).
        if self.gw.is_shutting_down() {
            if !self.rec.response_started {
                self.rec.status = 503;
            }
            self.rec.outcome = Outcome::Shutdown;
            self.rec.error_code = Some("server_shutting_down");
        } else {
            self.rec.fail(&ApiError::client_closed());
            self.rec.error_code = Some("cancelled");
        }
        record::record(self.gw, &self.rec);
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
