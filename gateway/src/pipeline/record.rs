//! Step 8: the one place every request leaves its record, whatever its outcome.

use super::meter::{self, Metered};
use crate::config::Candidate;
use crate::errors::ApiError;
use crate::gateway::Gateway;
use crate::metering::{self, estimate_tokens_from_bytes, metrics::NONE};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tollgate_adapters::Usage;
use tollgate_policies::DataClass;

/// How a request ended: the same labels the metrics and the ledger use.
pub use crate::metering::Outcome;

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
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// Every attempt in order.
    pub attempts: Vec<Attempt>,
    /// The candidate that served it.
    pub served_by: Option<Candidate>,
    /// Token counts, when known.
    pub usage: Option<Usage>,
    /// Time to the first byte of the answer sent to the client.
    pub ttft: Option<Duration>,
    /// Time spent waiting on backends (the rest is the gateway's own overhead).
    pub backend_wait: Duration,
    /// The HTTP status answered.
    pub status: u16,
    /// How it ended.
    pub outcome: Outcome,
    /// The error code when it did not complete.
    pub error_code: Option<&'static str>,
    /// Whether any response byte reached the client (errors can then only go in-stream).
    pub response_started: bool,
    /// Kinds of sensitive data detected in the prompt (labels only, never the text).
    pub detections: Vec<&'static str>,
    /// Rules that refused candidates of the decision.
    pub refusals: Vec<&'static str>,
    /// A one-line summary of the decision, for the ledger.
    pub decision: String,
    /// Prompt size, content tap, budget reservation: what metering needs beyond the above.
    pub metered: Metered,
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
            stream: false,
            attempts: Vec::new(),
            served_by: None,
            usage: None,
            ttft: None,
            backend_wait: Duration::ZERO,
            status: 200,
            outcome: Outcome::Completed,
            error_code: None,
            response_started: false,
            detections: Vec::new(),
            refusals: Vec::new(),
            decision: String::new(),
            metered: Metered::default(),
        }
    }

    /// Notes the error a request ended with.
    pub fn fail(&mut self, err: &ApiError) {
        self.error_code = Some(err.code);
        if self.response_started {
            self.outcome = if err.status == 499 {
                Outcome::ClientDisconnected
            } else {
                Outcome::CutOff
            };
            return;
        }
        self.status = err.status;
        self.outcome = match err.status {
            499 => Outcome::ClientDisconnected,
            400 | 404 | 413 | 422 => Outcome::RejectedInput,
            401 | 403 => Outcome::Refused,
            _ if self.attempts.is_empty() => Outcome::Refused,
            _ => Outcome::Failed,
        };
    }
}

/// Writes the request's record: metrics, ledger row and budget settlement. Called exactly once
/// per chat-completion request, whatever its outcome.
pub fn record(gw: &Gateway, rec: &RequestRecord) {
    let m = to_metering(gw, rec);
    let cost = gw.meter.metering().record(&m);
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
        estimated = m.usage.estimated,
        cost_usd = ?cost.total_usd,
        duration_ms = m.duration.as_secs_f64() * 1e3,
        "request"
    );
}

/// The one mapping from the pipeline's record to metering's.
pub fn to_metering(gw: &Gateway, rec: &RequestRecord) -> metering::Record {
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
    m.outcome = match rec.outcome {
        _ if rec.error_code == Some("budget_exceeded") => Outcome::Refused,
        outcome => outcome,
    };
    m.status = rec.status;
    m.error_class = rec.error_code;
    m.usage = match rec.usage {
        Some(u) => metering::Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            cached_tokens: u.cached_tokens,
            estimated: false,
        },
        // Served without usage (a local server that sends none, a cut-off stream): estimate.
        None if rec.served_by.is_some() => metering::Usage {
            prompt_tokens: estimate_tokens_from_bytes(rec.metered.prompt_bytes.unwrap_or(0)),
            completion_tokens: estimate_tokens_from_bytes(tap.content_bytes),
            cached_tokens: 0,
            estimated: true,
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
    m.busy = held.busy.map(|p| meter::busy_time(&gw.meter, p));
    m.detections = rec.detections.clone();
    m.refusals = rec.refusals.clone();
    m.reservation = held.reservation;
    m
}
