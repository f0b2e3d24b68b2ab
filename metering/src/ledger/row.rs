//! What the ledger stores: one [`Row`] per request and one [`IdleRow`] per backend per hour.

use crate::cost::AttemptCharge;
use crate::record::Attempt;
use rusqlite::types::Value;

/// One ledger row (column meanings in `dashboards/README.md`, section Ledger).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Gateway request id.
    pub request_id: String,
    /// Accept time, unix ms.
    pub ts_ms: i64,
    /// Tenant.
    pub tenant: String,
    /// Route.
    pub route: String,
    /// Serving (or last tried) backend.
    pub backend: Option<String>,
    /// Serving (or last tried) model.
    pub model: Option<String>,
    /// Zone of the backend.
    pub zone: Option<&'static str>,
    /// Effective data class.
    pub data_class: &'static str,
    /// Decision summary.
    pub decision: String,
    /// Streamed response.
    pub stream: bool,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cached prompt tokens.
    pub cached_tokens: u64,
    /// Token counts were estimated (`token_source` is `estimate`).
    pub estimated: bool,
    /// Total cost, failed attempts included; `None` (NULL) when unknown.
    pub cost_usd: Option<f64>,
    /// Local compute part of the cost, when the backend has a `cost_per_hour`.
    pub compute_usd: Option<f64>,
    /// Currency of the costs.
    pub currency: String,
    /// Price table version used (`VERSION@FROM` for a dated price version).
    pub price_version: String,
    /// Duration, ms.
    pub duration_ms: f64,
    /// Time to first token, ms.
    pub ttft_ms: Option<f64>,
    /// HTTP status.
    pub status: u16,
    /// Outcome label.
    pub outcome: &'static str,
    /// Error class label.
    pub error_class: Option<&'static str>,
    /// Number of attempts.
    pub attempts: u32,
    /// Kinds of sensitive data detected, sorted, comma-separated (never the values).
    pub detected_kinds: String,
    /// Rules that refused candidates, sorted, comma-separated.
    pub refused_rules: String,
    /// The zone of every attempt in order, comma-separated, `/redacted` where the attempt was
    /// sent a redacted copy: where the prompt went.
    pub attempt_zones: String,
    /// The inbound endpoint.
    pub endpoint: &'static str,
    /// Prompt tokens written to the provider's cache.
    pub cache_write_tokens: u64,
    /// Where the token counts came from: `provider`, `tokenizer` or `estimate`.
    pub token_source: &'static str,
    /// The served tokens at the reference model's prices; `None` without `reference_model`.
    pub api_equivalent_usd: Option<f64>,
    /// Charges for failed attempts that reached their provider (part of `cost_usd`).
    pub failed_usd: f64,
    /// Every attempt in order, as a compact JSON array (see [`attempt_log`]).
    pub attempt_log: String,
}

impl Row {
    /// The row's values in [`crate::audit::HASHED_COLUMNS`] order, as they are stored.
    pub fn values(&self) -> Vec<Value> {
        let text = |s: &str| Value::Text(s.to_string());
        let opt_text = |s: Option<&str>| s.map_or(Value::Null, text);
        let opt_real = |v: Option<f64>| v.map_or(Value::Null, Value::Real);
        vec![
            text(&self.request_id),
            Value::Integer(self.ts_ms),
            text(&self.tenant),
            text(&self.route),
            opt_text(self.backend.as_deref()),
            opt_text(self.model.as_deref()),
            opt_text(self.zone),
            text(self.data_class),
            text(&self.decision),
            Value::Integer(i64::from(self.stream)),
            Value::Integer(sql_int(self.prompt_tokens)),
            Value::Integer(sql_int(self.completion_tokens)),
            Value::Integer(sql_int(self.cached_tokens)),
            Value::Integer(i64::from(self.estimated)),
            opt_real(self.cost_usd),
            opt_real(self.compute_usd),
            text(&self.currency),
            text(&self.price_version),
            Value::Real(self.duration_ms),
            opt_real(self.ttft_ms),
            Value::Integer(i64::from(self.status)),
            text(self.outcome),
            opt_text(self.error_class),
            Value::Integer(i64::from(self.attempts)),
            text(&self.detected_kinds),
            text(&self.refused_rules),
            text(&self.attempt_zones),
            text(self.endpoint),
            Value::Integer(sql_int(self.cache_write_tokens)),
            text(self.token_source),
            opt_real(self.api_equivalent_usd),
            Value::Real(self.failed_usd),
            text(&self.attempt_log),
        ]
    }
}

/// One attempt in a row's `attempt_log`.
#[derive(serde::Serialize)]
struct LoggedAttempt<'a> {
    backend: &'a str,
    model: &'a str,
    zone: &'static str,
    outcome: &'static str,
    ms: u64,
    redacted: bool,
    served: bool,
    prompt_tokens: u64,
    cost_usd: Option<f64>,
}

/// The `attempt_log` cell: a JSON array with one object per attempt, in order, each with its
/// `backend`, `model`, `zone`, `outcome`, `ms`, `redacted`, whether it `served`, the
/// `prompt_tokens` it was charged for and its `cost_usd` (the served cost for the attempt that
/// served, the charge for a failed one, 0 for one that never reached its provider, null when
/// charged on a model nobody priced). `[]` for a request that made no attempt.
pub fn attempt_log(attempts: &[Attempt], charges: &[AttemptCharge]) -> String {
    let logged: Vec<LoggedAttempt> = attempts
        .iter()
        .zip(charges)
        .map(|(a, c)| LoggedAttempt {
            backend: &a.backend,
            model: &a.model,
            zone: a.zone.as_str(),
            outcome: a.outcome,
            ms: u64::try_from(a.duration.as_millis()).unwrap_or(u64::MAX),
            redacted: a.redacted,
            served: c.served,
            prompt_tokens: c.prompt_tokens,
            cost_usd: c.cost_usd,
        })
        .collect();
    serde_json::to_string(&logged).unwrap_or_else(|_| "[]".to_string())
}

/// One idle line: what a backend priced by the hour cost while it ran with nothing in flight
/// during one period (a UTC hour, or the part of it the gateway ran).
#[derive(Debug, Clone, PartialEq)]
pub struct IdleRow {
    /// Backend name.
    pub backend: String,
    /// Period start, unix ms (an hour boundary, or when the gateway started).
    pub period_start_ms: i64,
    /// Period end, unix ms (the next hour boundary, or when the gateway stopped).
    pub period_end_ms: i64,
    /// Seconds with at least one request in flight.
    pub busy_s: f64,
    /// The rest of the period.
    pub idle_s: f64,
    /// `idle_s × (cost_per_hour + energy_per_hour) / 3600`.
    pub cost_usd: f64,
    /// The backend's `cost_per_hour`.
    pub cost_per_hour: f64,
    /// Its energy cost per hour.
    pub energy_per_hour: f64,
    /// Currency.
    pub currency: String,
    /// Price table version.
    pub price_version: String,
}

impl IdleRow {
    /// The columns, in [`IdleRow::values`] order.
    pub const COLUMNS: [&'static str; 10] = [
        "backend",
        "period_start_ms",
        "period_end_ms",
        "busy_s",
        "idle_s",
        "cost_usd",
        "cost_per_hour",
        "energy_per_hour",
        "currency",
        "price_version",
    ];

    /// The values, in [`IdleRow::COLUMNS`] order.
    pub fn values(&self) -> Vec<Value> {
        vec![
            Value::Text(self.backend.clone()),
            Value::Integer(self.period_start_ms),
            Value::Integer(self.period_end_ms),
            Value::Real(self.busy_s),
            Value::Real(self.idle_s),
            Value::Real(self.cost_usd),
            Value::Real(self.cost_per_hour),
            Value::Real(self.energy_per_hour),
            Value::Text(self.currency.clone()),
            Value::Text(self.price_version.clone()),
        ]
    }
}

pub(super) fn sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
