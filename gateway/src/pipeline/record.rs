//! Step 8: the one place every request leaves its record, whatever its outcome.

use crate::config::Candidate;
use crate::errors::ApiError;
use crate::gateway::Gateway;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tollgate_adapters::Usage;
use tollgate_policies::DataClass;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The answer reached the client whole.
    Completed,
    /// A stream started and was then cut by an upstream failure.
    CutOff,
    /// No candidate could serve it.
    Failed,
    /// Refused before dispatch (auth, policy, unknown route).
    Refused,
    /// The client's input was invalid.
    RejectedInput,
    /// The client went away before the answer was complete.
    ClientDisconnected,
}

impl Outcome {
    /// A stable label for metrics and the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::CutOff => "cut_off",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
            Outcome::RejectedInput => "rejected_input",
            Outcome::ClientDisconnected => "client_disconnected",
        }
    }
}

/// One attempt at one candidate.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Which candidate.
    pub candidate: Candidate,
    /// Why it failed (`None` when it served the request).
    pub error: Option<&'static str>,
    /// How long it took until it answered or failed.
    pub duration: Duration,
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

/// Writes the request's record. Called exactly once per chat-completion request.
pub fn record(gw: &Gateway, rec: &RequestRecord) {
    let served = rec.served_by.map(|c| gw.config.model(c).key.as_str());
    tracing::debug!(
        request_id = %rec.id,
        tenant = rec.tenant.as_deref().unwrap_or("-"),
        route = rec.route.as_deref().unwrap_or("-"),
        served_by = served.unwrap_or("-"),
        status = rec.status,
        outcome = rec.outcome.as_str(),
        attempts = rec.attempts.len(),
        duration_ms = rec.started.elapsed().as_secs_f64() * 1e3,
        "request"
    );
}
