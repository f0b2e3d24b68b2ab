//! Configuration of metering: the `[ledger]`, `[prices]`, `[budgets]` and `[metrics]` sections
//! of the gateway's TOML file.
//!
//! ```toml
//! [ledger]
//! path = "tollgate-ledger.db"
//! enabled = true
//!
//! [prices]
//! version = "2025-06-01"
//! [prices.models."openai/gpt-4o-mini"]
//! input_per_mtok = 0.15
//! output_per_mtok = 0.60
//! cached_input_per_mtok = 0.075
//! [prices.backends.gpu-box]
//! cost_per_hour = 1.20
//!
//! [budgets]
//! include_free_models = false
//! default_max_tokens = 4096
//! [budgets.tenants.acme]
//! daily_usd = 20.0
//! monthly_usd = 400.0
//! [budgets.routes.chat]
//! monthly_usd = 1000.0
//! on_exhausted = "fall_through"
//!
//! [metrics]
//! enabled = true
//! tenant_label = false
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// All metering sections together, as the gateway's root config embeds them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeteringConfig {
    /// `[ledger]`: where and how request rows are stored.
    pub ledger: LedgerConfig,
    /// `[prices]`: the offline price table.
    pub prices: PricesConfig,
    /// `[budgets]`: spend limits per tenant and route.
    pub budgets: BudgetsConfig,
    /// `[metrics]`: Prometheus label options.
    pub metrics: MetricsConfig,
}

/// `[ledger]`: the embedded SQLite database holding one row per request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LedgerConfig {
    /// `enabled`: write the ledger at all. Default true; false keeps no durable record (budgets
    /// then start from zero at every start), for measurements and throw-away deployments.
    pub enabled: bool,
    /// `path`: the database file, created with its schema on first open.
    /// Default `tollgate-ledger.db` in the working directory.
    pub path: PathBuf,
    /// `queue_capacity`: rows waiting for the writer before `record` has to wait. Default 65536.
    pub queue_capacity: usize,
    /// `batch_max`: most rows committed in one transaction. Default 1024.
    pub batch_max: usize,
    /// `full_wait_ms`: how long `record` may wait for room when the queue is full before the row
    /// is dropped (counted and logged with its fields). Default 50 ms; 0 never waits.
    pub full_wait_ms: u64,
    /// `synchronous`: `"normal"` (default) commits each batch to the write-ahead log without
    /// an fsync, which survives a crash or `kill -9` of the process, and fsyncs the log every
    /// `checkpoint_ms` for power loss; `"full"` fsyncs at every commit (power-loss safe for
    /// every row, at the cost of one fsync per batch on the response path).
    pub synchronous: Synchronous,
    /// `checkpoint_ms`: with `synchronous = "normal"`, the longest a committed row waits for
    /// the fsync that makes it survive a power loss. Default 1000.
    pub checkpoint_ms: u64,
    /// `commit_wait_ms`: how long a response's last byte may wait for its row to be committed
    /// (the row is committed before the answer is complete, so a client never sees an answer
    /// that has no row). Default 1000; past it the answer goes out and the row follows.
    pub commit_wait_ms: u64,
}

/// SQLite's `synchronous` setting for the ledger (see [`LedgerConfig::synchronous`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Synchronous {
    /// Survives a process crash at once, a power loss after the next checkpoint.
    Normal,
    /// Survives a power loss at every commit.
    Full,
}

impl Synchronous {
    /// The pragma value.
    pub fn as_str(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            enabled: true,
            path: PathBuf::from("tollgate-ledger.db"),
            queue_capacity: 65_536,
            batch_max: 1024,
            full_wait_ms: 50,
            synchronous: Synchronous::Normal,
            checkpoint_ms: 1000,
            commit_wait_ms: 1000,
        }
    }
}

/// `[prices]`: an offline, versioned price table. Nothing is fetched at run time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PricesConfig {
    /// `version`: names this table; stored on every ledger row it costed. Default `unversioned`.
    pub version: String,
    /// `currency`: only `USD` is supported. Default `USD`.
    pub currency: String,
    /// `[prices.models."BACKEND/MODEL"]`: token prices per model as served by a backend.
    pub models: BTreeMap<String, ModelPrice>,
    /// `[prices.backends.NAME]`: running cost of a local or on-device backend.
    pub backends: BTreeMap<String, BackendCost>,
}

impl Default for PricesConfig {
    fn default() -> Self {
        PricesConfig {
            version: "unversioned".to_string(),
            currency: "USD".to_string(),
            models: BTreeMap::new(),
            backends: BTreeMap::new(),
        }
    }
}

/// Token prices of one model, in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// `input_per_mtok`: price of a million prompt tokens not served from a cache.
    pub input_per_mtok: f64,
    /// `output_per_mtok`: price of a million completion tokens.
    pub output_per_mtok: f64,
    /// `cached_input_per_mtok`: price of a million cached prompt tokens; defaults to
    /// `input_per_mtok` when the provider gives no discount.
    #[serde(default)]
    pub cached_input_per_mtok: Option<f64>,
    /// `cache_write_input_per_mtok`: price of a million prompt tokens written to the
    /// provider's cache (Anthropic: 1.25× input for 5-minute writes); defaults to
    /// `input_per_mtok`.
    #[serde(default)]
    pub cache_write_input_per_mtok: Option<f64>,
}

/// The running cost of a backend the organisation operates.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendCost {
    /// `cost_per_hour`: USD per hour the backend is busy, shared among the requests it serves
    /// (see `cost::compute_cost`).
    pub cost_per_hour: f64,
}

/// `[budgets]`: spend limits per UTC day and month.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetsConfig {
    /// `include_free_models`: when false (default), a request whose worst-case cost is $0 is
    /// never refused by a budget, so exhausted budgets do not block free local models.
    pub include_free_models: bool,
    /// `[budgets.tenants.NAME]`: limits per tenant.
    pub tenants: BTreeMap<String, BudgetLimits>,
    /// `[budgets.routes.NAME]`: limits per route.
    pub routes: BTreeMap<String, BudgetLimits>,
    /// `default_max_tokens`: completion tokens assumed for a request's worst-case cost when it
    /// sets neither `max_completion_tokens` nor `max_tokens`. Default 4096.
    pub default_max_tokens: u64,
}

impl Default for BudgetsConfig {
    fn default() -> Self {
        BudgetsConfig {
            include_free_models: false,
            tenants: BTreeMap::new(),
            routes: BTreeMap::new(),
            default_max_tokens: 4096,
        }
    }
}

/// The limits of one tenant or route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetLimits {
    /// `daily_usd`: most USD spent per UTC day; absent means no daily limit.
    pub daily_usd: Option<f64>,
    /// `monthly_usd`: most USD spent per UTC calendar month; absent means no monthly limit.
    pub monthly_usd: Option<f64>,
    /// `on_exhausted`: what the pipeline does when this budget refuses a candidate.
    pub on_exhausted: OnExhausted,
}

/// What happens to a request when a budget refuses its candidate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExhausted {
    /// Refuse the request (HTTP 429 with the budget, its limit and when it resets). Default.
    #[default]
    Reject,
    /// Skip this candidate and try the next one (e.g. a free local model).
    FallThrough,
}

/// `[metrics]`: Prometheus exposition options.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `enabled`: update the request metrics at all. Default true; false leaves `/metrics` with
    /// only the ledger and budget series, for measurements.
    pub enabled: bool,
    /// `tenant_label`: add a `tenant` label to request, token and cost counters. Off by default
    /// to keep label sets small when tenants are many.
    pub tenant_label: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            tenant_label: false,
        }
    }
}

impl MeteringConfig {
    /// Checks values serde cannot: every problem is reported with its key path.
    pub fn validate(&self) -> Result<(), super::MeteringError> {
        let mut problems = Vec::new();
        if self.prices.currency != "USD" {
            problems.push(format!(
                "prices.currency: '{}' is not supported (only USD)",
                self.prices.currency
            ));
        }
        if self.prices.version.trim().is_empty() {
            problems.push("prices.version: must not be empty".to_string());
        }
        for (key, p) in &self.prices.models {
            let path = format!("prices.models.\"{key}\"");
            match key.split_once('/') {
                Some((b, m)) if !b.is_empty() && !m.is_empty() => {}
                _ => problems.push(format!("{path}: key must be BACKEND/MODEL")),
            }
            let fields = [
                ("input_per_mtok", Some(p.input_per_mtok)),
                ("cache_write_input_per_mtok", p.cache_write_input_per_mtok),
                ("output_per_mtok", Some(p.output_per_mtok)),
                ("cached_input_per_mtok", p.cached_input_per_mtok),
            ];
            for (name, v) in fields {
                if let Some(v) = v {
                    if !(v.is_finite() && v >= 0.0) {
                        problems.push(format!("{path}.{name}: must be a number >= 0"));
                    }
                }
            }
        }
        for (name, b) in &self.prices.backends {
            if !(b.cost_per_hour.is_finite() && b.cost_per_hour >= 0.0) {
                problems.push(format!(
                    "prices.backends.{name}.cost_per_hour: must be a number >= 0"
                ));
            }
        }
        let scopes = [
            ("tenants", &self.budgets.tenants),
            ("routes", &self.budgets.routes),
        ];
        for (scope, map) in scopes {
            for (name, l) in map {
                for (key, v) in [("daily_usd", l.daily_usd), ("monthly_usd", l.monthly_usd)] {
                    if let Some(v) = v {
                        if !(v.is_finite() && v >= 0.0) {
                            problems.push(format!(
                                "budgets.{scope}.{name}.{key}: must be a number >= 0"
                            ));
                        }
                    }
                }
            }
        }
        if self.budgets.default_max_tokens == 0 {
            problems.push("budgets.default_max_tokens: must be at least 1".to_string());
        }
        if self.ledger.queue_capacity == 0 {
            problems.push("ledger.queue_capacity: must be at least 1".to_string());
        }
        if self.ledger.batch_max == 0 {
            problems.push("ledger.batch_max: must be at least 1".to_string());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(super::MeteringError::Config(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example_and_defaults() {
        let text = include_str!("config.rs")
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").trim_start())
            .collect::<Vec<_>>()
            .join("\n");
        let cfg: MeteringConfig = toml::from_str(&text).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.prices.version, "2025-06-01");
        let p = cfg.prices.models["openai/gpt-4o-mini"];
        assert_eq!(p.cached_input_per_mtok, Some(0.075));
        assert_eq!(cfg.prices.backends["gpu-box"].cost_per_hour, 1.20);
        assert_eq!(
            cfg.budgets.routes["chat"].on_exhausted,
            OnExhausted::FallThrough
        );
        assert_eq!(
            cfg.budgets.tenants["acme"].on_exhausted,
            OnExhausted::Reject
        );
        assert_eq!(cfg.ledger.path, PathBuf::from("tollgate-ledger.db"));

        let empty: MeteringConfig = toml::from_str("").unwrap();
        empty.validate().unwrap();
        assert!(!empty.metrics.tenant_label);
        assert!(!empty.budgets.include_free_models);
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values_with_paths() {
        assert!(toml::from_str::<MeteringConfig>("[ledger]\npaht = 'x'").is_err());
        let bad: MeteringConfig = toml::from_str(
            "[prices]\ncurrency = 'EUR'\n[prices.models.gpt4]\ninput_per_mtok = -1\noutput_per_mtok = 1\n\
             [budgets.tenants.a]\ndaily_usd = -2",
        )
        .unwrap();
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("prices.currency"), "{err}");
        assert!(
            err.contains("prices.models.\"gpt4\": key must be BACKEND/MODEL"),
            "{err}"
        );
        assert!(
            err.contains("prices.models.\"gpt4\".input_per_mtok"),
            "{err}"
        );
        assert!(err.contains("budgets.tenants.a.daily_usd"), "{err}");
    }
}
