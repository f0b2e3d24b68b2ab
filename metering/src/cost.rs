//! Cost of a request: token prices from the offline table plus the share of local compute.
//!
//! Rules:
//! - Token cost = (prompt − cached − cache writes) × input + cached × cached_input + cache writes
//!   × cache_write_input + completion × output, prices per million tokens, looked up by
//!   `BACKEND/MODEL`.
//! - Compute cost of a backend with `cost_per_hour` = busy × cost_per_hour / 3600, where busy is
//!   the request's share of the backend's busy seconds: each interval during which the backend
//!   decoded `n` sequences concurrently counts `1/n` of its length to each of them
//!   (`busy_share` gives the mean-concurrency form of that integral).
//! - A request with tokens or busy time whose backend has neither a token price nor a
//!   `cost_per_hour` has an **unknown** cost (`None`): never $0. A request with nothing to pay
//!   for (refused, rejected, failed before any token) costs a known $0.

use super::config::{ModelPrice, PricesConfig};
use super::record::{Record, Usage};
use std::collections::HashMap;
use std::time::Duration;

/// The USD cost of one request, split by what was paid for.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cost {
    /// Token cost, when the model has a price.
    pub tokens_usd: Option<f64>,
    /// Local compute cost, when the backend declares `cost_per_hour`.
    pub compute_usd: Option<f64>,
    /// The request's cost: `None` when unknown (never silently $0).
    pub total_usd: Option<f64>,
}

impl Cost {
    /// True when the request used a model or backend nobody priced.
    pub fn is_unknown(&self) -> bool {
        self.total_usd.is_none()
    }
}

/// The price table, indexed for lookups on the record path.
#[derive(Debug, Clone)]
pub struct PriceTable {
    version: String,
    currency: String,
    models: HashMap<String, HashMap<String, ModelPrice>>,
    backends: HashMap<String, f64>,
}

impl PriceTable {
    /// Indexes the `[prices]` section.
    pub fn new(cfg: &PricesConfig) -> PriceTable {
        let mut models: HashMap<String, HashMap<String, ModelPrice>> = HashMap::new();
        for (key, price) in &cfg.models {
            if let Some((backend, model)) = key.split_once('/') {
                models
                    .entry(backend.to_string())
                    .or_default()
                    .insert(model.to_string(), *price);
            }
        }
        let backends = cfg
            .backends
            .iter()
            .map(|(name, b)| (name.clone(), b.cost_per_hour))
            .collect();
        PriceTable {
            version: cfg.version.clone(),
            currency: cfg.currency.clone(),
            models,
            backends,
        }
    }

    /// The table's `version`, stored on each ledger row.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The table's currency (`USD`).
    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// The token price of `model` on `backend`, if configured.
    pub fn price(&self, backend: &str, model: &str) -> Option<&ModelPrice> {
        self.models.get(backend)?.get(model)
    }

    /// The declared `cost_per_hour` of `backend`, if any.
    pub fn cost_per_hour(&self, backend: &str) -> Option<f64> {
        self.backends.get(backend).copied()
    }

    /// Whether a request served by `backend`/`model` can be costed at all.
    pub fn is_priced(&self, backend: &str, model: &str) -> bool {
        self.price(backend, model).is_some() || self.cost_per_hour(backend).is_some()
    }

    /// Most a request can cost in tokens before dispatch: `prompt_tokens` at the input price
    /// plus `max_tokens` at the output price. `None` when the model has no token price; a
    /// backend priced only by `cost_per_hour` has a worst case of $0 in tokens (compute cost is
    /// charged after the fact).
    pub fn worst_case_usd(
        &self,
        backend: &str,
        model: &str,
        prompt_tokens: u64,
        max_tokens: u64,
    ) -> Option<f64> {
        match self.price(backend, model) {
            Some(p) => Some(token_cost(
                p,
                &Usage {
                    prompt_tokens,
                    completion_tokens: max_tokens,
                    ..Usage::default()
                },
            )),
            None if self.cost_per_hour(backend).is_some() => Some(0.0),
            None => None,
        }
    }

    /// The cost of a finished request (see the module rules).
    pub fn cost(&self, rec: &Record) -> Cost {
        let u = &rec.usage;
        let (Some(backend), Some(model)) = (rec.backend.as_deref(), rec.model.as_deref()) else {
            return Cost {
                tokens_usd: None,
                compute_usd: None,
                total_usd: Some(0.0),
            };
        };
        let tokens_usd = self.price(backend, model).map(|p| token_cost(p, u));
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
        }
    }
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
    for key in cfg.models.keys() {
        if !used.contains(key) {
            out.push(format!(
                "[prices.models.\"{key}\"] names no model any route serves"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BackendCost;

    fn table() -> PriceTable {
        let mut cfg = PricesConfig::default();
        cfg.models.insert(
            "openai/gpt-4o".into(),
            ModelPrice {
                input_per_mtok: 2.5,
                output_per_mtok: 10.0,
                cached_input_per_mtok: Some(1.25),
                cache_write_input_per_mtok: None,
            },
        );
        cfg.backends
            .insert("gpu".into(), BackendCost { cost_per_hour: 3.6 });
        PriceTable::new(&cfg)
    }

    fn rec(backend: &str, model: &str, prompt: u64, completion: u64) -> Record {
        let mut r = Record::new("r", 0);
        r.backend = Some(backend.into());
        r.model = Some(model.into());
        r.usage.prompt_tokens = prompt;
        r.usage.completion_tokens = completion;
        r
    }

    #[test]
    fn token_cost_uses_cached_rate() {
        let t = table();
        let mut r = rec("openai", "gpt-4o", 1000, 500);
        r.usage.cached_tokens = 400;
        let c = t.cost(&r);
        // 600 × 2.5 + 400 × 1.25 + 500 × 10 = 1500 + 500 + 5000 = 7000 per million
        assert_eq!(c.total_usd, Some(0.007));
        assert_eq!(c.compute_usd, None);
    }

    #[test]
    fn cache_writes_and_reads_have_their_own_rates() {
        let p = ModelPrice {
            input_per_mtok: 3.0,
            output_per_mtok: 15.0,
            cached_input_per_mtok: Some(0.3),
            cache_write_input_per_mtok: Some(3.75),
        };
        let u = Usage {
            prompt_tokens: 1000,
            completion_tokens: 100,
            cached_tokens: 500,
            cache_write_tokens: 400,
            estimated: false,
        };
        // 100 × 3 + 500 × 0.3 + 400 × 3.75 + 100 × 15 = 300 + 150 + 1500 + 1500 per million
        assert!((token_cost(&p, &u) - 0.00345).abs() < 1e-12);
        // Without a write price, writes cost what input does.
        let p = ModelPrice {
            cache_write_input_per_mtok: None,
            ..p
        };
        assert!((token_cost(&p, &u) - (300.0 + 150.0 + 1200.0 + 1500.0) / 1e6).abs() < 1e-12);
    }

    #[test]
    fn unknown_price_is_none_not_zero() {
        let t = table();
        let c = t.cost(&rec("anthropic", "claude", 10, 10));
        assert!(c.is_unknown());
        // Nothing used: a known zero even on an unpriced model.
        assert_eq!(
            t.cost(&rec("anthropic", "claude", 0, 0)).total_usd,
            Some(0.0)
        );
        assert_eq!(t.worst_case_usd("anthropic", "claude", 10, 10), None);
    }

    #[test]
    fn compute_cost_by_busy_share() {
        let t = table();
        let mut r = rec("gpu", "llama", 100, 100);
        // 10 s of wall time while decoding 4 sequences on average: 2.5 s busy at $3.6/h.
        r.busy = Some(busy_share(Duration::from_secs(10), 4.0));
        let c = t.cost(&r);
        assert!((c.total_usd.unwrap() - 0.0025).abs() < 1e-12);
        assert_eq!(t.worst_case_usd("gpu", "llama", 100, 100), Some(0.0));
    }

    #[test]
    fn estimate_and_worst_case() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        let w = table()
            .worst_case_usd("openai", "gpt-4o", 1000, 1000)
            .unwrap();
        assert!((w - 0.0125).abs() < 1e-12);
    }

    #[test]
    fn warnings_list_unpriced_and_unused() {
        let mut cfg = PricesConfig::default();
        cfg.models.insert(
            "openai/old".into(),
            ModelPrice {
                input_per_mtok: 1.0,
                output_per_mtok: 1.0,
                cached_input_per_mtok: None,
                cache_write_input_per_mtok: None,
            },
        );
        cfg.backends
            .insert("gpu".into(), BackendCost { cost_per_hour: 1.0 });
        let w = warnings(
            &cfg,
            [("openai", "gpt-5"), ("gpu", "llama"), ("openai", "gpt-5")],
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("\"openai/gpt-5\" has no price"));
        assert!(w[1].contains("openai/old"));
    }
}
