//! What the pipeline reports about one request when it ends, whatever the ending.

use crate::code::{ErrorCode, Outcome};
use std::time::Duration;
use tollgate_policies::{DataClass, Zone};

/// Token counts of the response that was served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Completion tokens generated (up to the cut for a cut-off stream).
    pub completion_tokens: u64,
    /// Prompt tokens the provider served from its cache (a subset of `prompt_tokens`).
    pub cached_tokens: u64,
    /// Prompt tokens the provider wrote to its cache (a subset of `prompt_tokens`, billed at
    /// the cache-write rate).
    pub cache_write_tokens: u64,
    /// Where the counts came from: the provider's usage, a tokenizer, or an estimate.
    pub source: TokenSource,
}

impl Usage {
    /// True when the counts were estimated (`cost::estimate_tokens`): nothing better applied.
    pub fn estimated(&self) -> bool {
        self.source == TokenSource::Estimate
    }
}

/// Where a request's token counts came from, from most to least exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TokenSource {
    /// The usage the provider reported (what it bills).
    #[default]
    Provider,
    /// Counted by the model's own tokenizer (its vocabulary, its server's tokenize endpoint, a
    /// `tokenizer.json`, or OpenAI's encodings) because the provider reported none.
    Tokenizer,
    /// Estimated from the text's bytes (`cost::estimate_tokens`): no tokenizer applied.
    Estimate,
}

impl TokenSource {
    /// The stable label stored in the ledger (`provider`, `tokenizer`, `estimate`).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenSource::Provider => "provider",
            TokenSource::Tokenizer => "tokenizer",
            TokenSource::Estimate => "estimate",
        }
    }
}

/// One try of one candidate backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// Backend name from the config.
    pub backend: String,
    /// Model name as sent to the backend.
    pub model: String,
    /// Where the backend runs.
    pub zone: Zone,
    /// Stable label of how the attempt ended (`ok`, `timeout`, `connect`, `http_5xx`, ...).
    pub outcome: &'static str,
    /// Wall time of the attempt.
    pub duration: Duration,
    /// Whether the attempt was sent a redacted copy of the request.
    pub redacted: bool,
}

/// Everything metering needs about one finished request; built by the pipeline's record step.
#[derive(Debug)]
pub struct Record {
    /// The gateway's request id (unique; one ledger row per id).
    pub request_id: String,
    /// When the request was accepted, unix milliseconds.
    pub started_at_ms: i64,
    /// Tenant resolved from the API key.
    pub tenant: String,
    /// Route the request addressed.
    pub route: String,
    /// Backend that served (or last tried) the request.
    pub backend: Option<String>,
    /// Model that served (or was last tried for) the request.
    pub model: Option<String>,
    /// Zone of `backend`.
    pub zone: Option<Zone>,
    /// Effective data class (max of declared, tenant default and detected).
    pub data_class: DataClass,
    /// Short summary of the decision (chosen backend and why, or the refusing rule).
    pub decision: String,
    /// The inbound endpoint (`chat_completions`, `messages`, `responses`, `embeddings`).
    pub endpoint: &'static str,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// How the request ended.
    pub outcome: Outcome,
    /// HTTP status sent to the client (499 when the client left first).
    pub status: u16,
    /// Stable low-cardinality error label, when the request did not complete.
    pub error_class: Option<ErrorCode>,
    /// Tokens of the served response.
    pub usage: Usage,
    /// Total wall time from accept to the last byte (or the end).
    pub duration: Duration,
    /// Time to the first content token of a stream.
    pub ttft: Option<Duration>,
    /// Mean gap between content tokens of a stream.
    pub inter_token: Option<Duration>,
    /// Time spent in the gateway itself: `duration` minus time waiting on backends.
    pub overhead: Duration,
    /// Every attempt in order, the failed ones before a fallback included.
    pub attempts: Vec<Attempt>,
    /// The prompt's tokens as each attempt was sent it, counted before dispatch by the same
    /// source as `usage` would be: what a failed attempt that reached its provider is charged.
    pub attempt_prompt_tokens: u64,
    /// This request's share of the serving backend's busy time, for local compute cost
    /// (see `cost::compute_cost` and `cost::busy_share`); `None` for closed APIs.
    pub busy: Option<Duration>,
    /// Sensitivity detections by kind (`email`, `card`, `iban`, ...), one entry per hit kind.
    pub detections: Vec<&'static str>,
    /// Policy rules that refused a candidate, one entry per refusal.
    pub refusals: Vec<&'static str>,
}

/// The endpoint of rows written before the ledger named endpoints: chat completions was the
/// only one.
pub const DEFAULT_ENDPOINT: &str = "chat_completions";

impl Record {
    /// A record with every optional part empty, for the pipeline to fill in.
    pub fn new(request_id: impl Into<String>, started_at_ms: i64) -> Record {
        Record {
            request_id: request_id.into(),
            started_at_ms,
            tenant: String::new(),
            route: String::new(),
            backend: None,
            model: None,
            zone: None,
            data_class: DataClass::Public,
            decision: String::new(),
            endpoint: DEFAULT_ENDPOINT,
            stream: false,
            outcome: Outcome::Completed,
            status: 200,
            error_class: None,
            usage: Usage::default(),
            duration: Duration::ZERO,
            ttft: None,
            inter_token: None,
            overhead: Duration::ZERO,
            attempts: Vec::new(),
            attempt_prompt_tokens: 0,
            busy: None,
            detections: Vec::new(),
            refusals: Vec::new(),
        }
    }

    /// Number of fallbacks: attempts after the first.
    pub fn fallbacks(&self) -> usize {
        self.attempts.len().saturating_sub(1)
    }
}

/// The status class label of an HTTP status: `2xx`, `4xx`, ...
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}
