//! Cost of a request: token prices from the offline table, the share of local compute, and
//! the failed attempts its providers billed.
//!
//! Rules:
//! - Token cost = (prompt − cached − cache writes) × input + cached × cached_input + cache writes
//!   × cache_write_input + completion × output, prices per million tokens, looked up by
//!   `BACKEND/MODEL` in the price version in force when the request started (its
//!   `started_at_ms`): the latest version whose `from` date is not after it.
//! - Compute cost of a backend with `cost_per_hour` = busy × hourly rate / 3600, where the
//!   hourly rate is `cost_per_hour` plus `watts / 1000 × energy_price_per_kwh`, and busy is the
//!   request's share of the backend's busy seconds: each interval during which the backend
//!   decoded `n` sequences concurrently counts `1/n` of its length to each of them
//!   (`busy_share` gives the mean-concurrency form of that integral). The time nobody shares
//!   is the backend's idle cost, written per hour (see [`crate::idle`]).
//! - A failed attempt that reached its provider ([`CHARGED_OUTCOMES`]) is charged the prompt
//!   tokens it was sent at its own backend/model's input price, as providers bill them; one
//!   that never reached it (connect failure, 429, 4xx, refused before sending) costs nothing.
//!   The request's total is the served cost plus these charges (`[prices]
//!   charge_failed_attempts = false` turns them off).
//! - A request with tokens or busy time whose backend has neither a token price nor a
//!   `cost_per_hour` has an **unknown** cost (`None`): never $0. So does a request with a
//!   charged failed attempt on such a backend. A request with nothing to pay for (refused,
//!   rejected, failed before reaching anyone) costs a known $0.
//! - With `[prices] reference_model`, every request also gets its API-equivalent cost: its
//!   tokens at that model's prices.

use super::config::{ModelPrice, ModelPrices, PriceVersion, PricesConfig};
use super::record::{Attempt, Record, Usage};
use super::time::Date;
use std::collections::HashMap;
use std::time::Duration;

/// The USD cost of one request, split by what was paid for.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cost {
    /// Token cost of the served answer, when the model has a price.
    pub tokens_usd: Option<f64>,
    /// Local compute cost, when the backend declares `cost_per_hour`.
    pub compute_usd: Option<f64>,
    /// Known charges for failed attempts that reached their provider (0 when none).
    pub failed_usd: f64,
    /// The request's cost, failed attempts included: `None` when unknown (never silently $0).
    pub total_usd: Option<f64>,
    /// The served tokens at the reference model's prices, with `reference_model` set.
    pub api_equivalent_usd: Option<f64>,
    /// The `from` date of the price version that costed the served tokens, if it has one.
    pub price_from: Option<Date>,
}

impl Cost {
    /// True when the request used a model or backend nobody priced.
    pub fn is_unknown(&self) -> bool {
        self.total_usd.is_none()
    }
}

/// What one attempt of a request was charged, in the record's attempt order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttemptCharge {
    /// Whether this attempt served the request (it is priced by the served usage).
    pub served: bool,
    /// Prompt tokens charged: the served usage's for the serving attempt, the tokens sent for
    /// a failed attempt that reached its provider, 0 for one that did not.
    pub prompt_tokens: u64,
    /// USD; `None` when charged on a model nobody priced.
    pub cost_usd: Option<f64>,
}

/// Attempt outcomes (labels of `AttemptError::label`) that mean the request was sent and the
/// provider worked on it before failing: it timed out waiting for the answer's head or first
/// event (`timeout_first_byte`), between events or body pieces (`timeout_idle`), or past the
/// attempt's deadline (`timeout_total`); it answered 5xx (`upstream_5xx`); or its answer broke
/// off or could not be read (`protocol`). Anything else (`connect`, `timeout_connect`,
/// `upstream_429`, `upstream_408`, `upstream_auth`, `upstream_4xx`, `unavailable`,
/// `overloaded`, `content_blocked`, a refusal's code) never reached a billing provider.
pub const CHARGED_OUTCOMES: [&str; 5] = [
    "timeout_first_byte",
    "timeout_idle",
    "timeout_total",
    "upstream_5xx",
    "protocol",
];

/// Whether a failed attempt with this outcome label reached its provider (and is billed).
pub fn reached_provider(outcome: &str) -> bool {
    CHARGED_OUTCOMES.contains(&outcome)
}

/// What a backend priced by the hour costs per hour of running.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourlyRate {
    /// `cost_per_hour` as configured.
    pub cost_per_hour: f64,
    /// `watts / 1000 × energy_price_per_kwh` (0 without them).
    pub energy_per_hour: f64,
}

impl HourlyRate {
    /// USD per hour, energy included.
    pub fn per_hour(&self) -> f64 {
        self.cost_per_hour + self.energy_per_hour
    }
}

/// The price table, indexed for lookups on the record path.
#[derive(Debug, Clone)]
pub struct PriceTable {
    version: String,
    currency: String,
    charge_failed: bool,
    reference: Option<(String, String)>,
    models: HashMap<String, HashMap<String, ModelPrices>>,
    backends: HashMap<String, HourlyRate>,
}

impl PriceTable {
    /// Indexes the `[prices]` section.
    pub fn new(cfg: &PricesConfig) -> PriceTable {
        let mut models: HashMap<String, HashMap<String, ModelPrices>> = HashMap::new();
        for (key, prices) in &cfg.models {
            if let Some((backend, model)) = key.split_once('/') {
                models
                    .entry(backend.to_string())
                    .or_default()
                    .insert(model.to_string(), prices.clone());
            }
        }
        let backends = cfg
            .backends
            .iter()
            .map(|(name, b)| {
                let rate = HourlyRate {
                    cost_per_hour: b.cost_per_hour,
                    energy_per_hour: b.energy_per_hour(),
                };
                (name.clone(), rate)
            })
            .collect();
        let reference = cfg
            .reference_model
            .as_deref()
            .and_then(|k| k.split_once('/'))
            .map(|(b, m)| (b.to_string(), m.to_string()));
        PriceTable {
            version: cfg.version.clone(),
            currency: cfg.currency.clone(),
            charge_failed: cfg.charge_failed_attempts,
            reference,
            models,
            backends,
        }
    }

    /// The table's `version`, stored on each ledger row it costed.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The version label of a row costed with a price version from `from`: `VERSION@FROM`,
    /// or the table's version for prices without a date.
    pub fn version_label(&self, from: Option<Date>) -> String {
        match from {
            Some(d) => format!("{}@{d}", self.version),
            None => self.version.clone(),
        }
    }

    /// The table's currency (`USD`).
    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// The price version of `model` on `backend` in force at `at_ms`, if any.
    pub fn price_version_at(
        &self,
        backend: &str,
        model: &str,
        at_ms: i64,
    ) -> Option<&PriceVersion> {
        self.models.get(backend)?.get(model)?.at(at_ms)
    }

    /// The token price of `model` on `backend` in force at `at_ms`, if any.
    pub fn price_at(&self, backend: &str, model: &str, at_ms: i64) -> Option<ModelPrice> {
        self.price_version_at(backend, model, at_ms)
            .map(PriceVersion::price)
    }

    /// The token price of `model` on `backend` in force now, if any.
    pub fn price(&self, backend: &str, model: &str) -> Option<ModelPrice> {
        self.price_at(backend, model, now_ms())
    }

    /// The hourly rate of `backend` (its `cost_per_hour` plus its energy cost), if it is
    /// priced by the hour.
    pub fn cost_per_hour(&self, backend: &str) -> Option<f64> {
        self.rate(backend).map(|r| r.per_hour())
    }

    /// The hourly rate of `backend`, split, if it is priced by the hour.
    pub fn rate(&self, backend: &str) -> Option<HourlyRate> {
        self.backends.get(backend).copied()
    }

    /// Whether a request served by `backend`/`model` can be costed at all (a token price of
    /// any date, or a `cost_per_hour`).
    pub fn is_priced(&self, backend: &str, model: &str) -> bool {
        self.models
            .get(backend)
            .is_some_and(|m| m.contains_key(model))
            || self.rate(backend).is_some()
    }

    /// `BACKEND/MODEL` of `[prices] reference_model`, if set.
    pub fn reference(&self) -> Option<(&str, &str)> {
        self.reference
            .as_ref()
            .map(|(b, m)| (b.as_str(), m.as_str()))
    }

    /// Most a request can cost in tokens before dispatch, at today's prices: `prompt_tokens`
    /// at the input price plus `max_tokens` at the output price. `None` when the model has no
    /// token price; a backend priced only by `cost_per_hour` has a worst case of $0 in tokens
    /// (compute cost is charged after the fact).
    pub fn worst_case_usd(
        &self,
        backend: &str,
        model: &str,
        prompt_tokens: u64,
        max_tokens: u64,
    ) -> Option<f64> {
        self.worst_case_usd_at(backend, model, prompt_tokens, max_tokens, now_ms())
    }

    /// [`PriceTable::worst_case_usd`] at the prices in force at `at_ms`.
    pub fn worst_case_usd_at(
        &self,
        backend: &str,
        model: &str,
        prompt_tokens: u64,
        max_tokens: u64,
        at_ms: i64,
    ) -> Option<f64> {
        match self.price_at(backend, model, at_ms) {
            Some(p) => Some(token_cost(
                &p,
                &Usage {
                    prompt_tokens,
                    completion_tokens: max_tokens,
                    ..Usage::default()
                },
            )),
            None if self.rate(backend).is_some() => Some(0.0),
            None => None,
        }
    }

    /// The cost of a finished request (see the module rules).
    pub fn cost(&self, rec: &Record) -> Cost {
        self.costed(rec).0
    }

    /// The cost of a finished request and what each of its attempts was charged.
    pub fn costed(&self, rec: &Record) -> (Cost, Vec<AttemptCharge>) {
        let mut cost = self.served_cost(rec);
        let charges = self.attempt_charges(rec, cost.total_usd);
        let mut failed_unknown = false;
        for c in charges.iter().filter(|c| !c.served) {
            match c.cost_usd {
                Some(usd) => cost.failed_usd += usd,
                None => failed_unknown = true,
            }
        }
        cost.total_usd = match cost.total_usd {
            Some(served) if !failed_unknown => Some(served + cost.failed_usd),
            _ => None,
        };
        cost.api_equivalent_usd = self
            .reference()
            .and_then(|(b, m)| self.price_at(b, m, rec.started_at_ms))
            .map(|p| token_cost(&p, &rec.usage));
        (cost, charges)
    }

    /// The cost of the served answer alone: its tokens and its share of compute.
    fn served_cost(&self, rec: &Record) -> Cost {
        let u = &rec.usage;
        let (Some(backend), Some(model)) = (rec.backend.as_deref(), rec.model.as_deref()) else {
            return Cost {
                total_usd: Some(0.0),
                ..Cost::default()
            };
        };
        let version = self.price_version_at(backend, model, rec.started_at_ms);
        let tokens_usd = version.map(|v| token_cost(&v.price(), u));
        let compute_usd = self
            .cost_per_hour(backend)
            .map(|per_hour| compute_cost(rec.busy.unwrap_or(Duration::ZERO), per_hour));
        let nothing_used = u.prompt_tokens == 0
            && u.completion_tokens == 0
            && rec.busy.is_none_or(|b| b.is_zero());
        let total_usd = match (tokens_usd, compute_usd) {
            (None, None) if nothing_used => Some(0.0),
            (None, None) => None,
            (t, c) => Some(t.unwrap_or(0.0) + c.unwrap_or(0.0)),
        };
        Cost {
            tokens_usd,
            compute_usd,
            total_usd,
            price_from: version.and_then(|v| v.from),
            ..Cost::default()
        }
    }

    /// Each attempt's charge. The last attempt served when it says so (`ok`) or when the
    /// record carries usage (those tokens are its own): it is priced by that usage, never
    /// charged again as a failure.
    fn attempt_charges(&self, rec: &Record, served_usd: Option<f64>) -> Vec<AttemptCharge> {
        let n = rec.attempts.len();
        let has_usage = rec.usage.prompt_tokens > 0 || rec.usage.completion_tokens > 0;
        rec.attempts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if i + 1 == n && (a.outcome == "ok" || has_usage) {
                    AttemptCharge {
                        served: true,
                        prompt_tokens: rec.usage.prompt_tokens,
                        cost_usd: served_usd,
                    }
                } else if self.charge_failed && reached_provider(a.outcome) {
                    self.failed_charge(a, rec.attempt_prompt_tokens, rec.started_at_ms)
                } else {
                    AttemptCharge {
                        served: false,
                        prompt_tokens: 0,
                        cost_usd: Some(0.0),
                    }
                }
            })
            .collect()
    }

    /// A failed attempt that reached its provider: its prompt tokens at its input price. On a
    /// backend priced by the hour without a token price it costs nothing here: its time is in
    /// the backend's busy and idle cost.
    fn failed_charge(&self, a: &Attempt, tokens: u64, at_ms: i64) -> AttemptCharge {
        let cost_usd = match self.price_at(&a.backend, &a.model, at_ms) {
            Some(p) => Some(tokens as f64 * p.input_per_mtok / 1_000_000.0),
            None if tokens == 0 || self.rate(&a.backend).is_some() => Some(0.0),
            None => None,
        };
        AttemptCharge {
            served: false,
            prompt_tokens: tokens,
            cost_usd,
        }
    }
}

/// Milliseconds since the Unix epoch, for prices "in force now".
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Token cost in USD of `u` at price `p`; cache reads and writes are subsets of the prompt
/// billed at their own rates.
pub fn token_cost(p: &ModelPrice, u: &Usage) -> f64 {
    let cached = u.cached_tokens.min(u.prompt_tokens);
    let written = u.cache_write_tokens.min(u.prompt_tokens - cached);
    let uncached = u.prompt_tokens - cached - written;
    let cached_rate = p.cached_input_per_mtok.unwrap_or(p.input_per_mtok);
    let write_rate = p.cache_write_input_per_mtok.unwrap_or(p.input_per_mtok);
    (uncached as f64 * p.input_per_mtok
        + cached as f64 * cached_rate
        + written as f64 * write_rate
        + u.completion_tokens as f64 * p.output_per_mtok)
        / 1_000_000.0
}

/// Compute cost in USD of `busy` (the request's share of busy time) at `cost_per_hour`.
pub fn compute_cost(busy: Duration, cost_per_hour: f64) -> f64 {
    busy.as_secs_f64() * cost_per_hour / 3600.0
}

/// A request's share of busy time when it ran for `wall` while the backend decoded
/// `mean_concurrency` sequences on average (itself included): `wall / mean_concurrency`.
/// The on-device engine, which sees every decode step, should sum `step / n` exactly instead.
pub fn busy_share(wall: Duration, mean_concurrency: f64) -> Duration {
    if mean_concurrency <= 1.0 || !mean_concurrency.is_finite() {
        return wall;
    }
    wall.div_f64(mean_concurrency)
}

/// Estimated token count of `text` when an upstream reports no usage: `ceil(bytes / 4)`, the
/// usual rule of thumb for BPE tokenizers on English text (it over-counts CJK text less than a
/// per-character rule would under-count it). Records using it set `Usage::estimated`.
pub fn estimate_tokens(text: &str) -> u64 {
    estimate_tokens_from_bytes(text.len() as u64)
}

/// [`estimate_tokens`] of a text of `bytes` UTF-8 bytes, for callers that only count them.
pub fn estimate_tokens_from_bytes(bytes: u64) -> u64 {
    bytes.div_ceil(4)
}

/// Lines for `check-config` naming every served model that cannot be costed, and every price
/// entry that names no served model. `models` are the `(backend, model)` pairs the routes use.
pub fn warnings<'a>(
    cfg: &PricesConfig,
    models: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<String> {
    let table = PriceTable::new(cfg);
    let mut out = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    for (backend, model) in models {
        let key = format!("{backend}/{model}");
        if !table.is_priced(backend, model) && used.insert(key.clone()) {
            out.push(format!(
                "model \"{key}\" has no price: add [prices.models.\"{key}\"] or \
                 [prices.backends.{backend}] cost_per_hour; its requests are recorded with an \
                 unknown cost"
            ));
        }
        used.insert(key);
    }
    let now = now_ms();
    for (key, prices) in &cfg.models {
        if prices.at(now).is_none() {
            let first = prices.versions().iter().filter_map(|v| v.from).min();
            let first = first.map_or_else(String::new, |d| format!(" (the first is from {d})"));
            out.push(format!(
                "[prices.models.\"{key}\"] has no version in force today{first}: its requests \
                 are recorded with an unknown cost until then"
            ));
        }
    }
    // The reference model prices what requests would have cost elsewhere: it needs no route.
    let reference = cfg.reference_model.as_deref();
    for key in cfg.models.keys() {
        if !used.contains(key) && Some(key.as_str()) != reference {
            out.push(format!(
                "[prices.models.\"{key}\"] names no model any route serves"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests;
