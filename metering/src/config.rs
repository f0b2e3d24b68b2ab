//! Configuration of metering: the `[ledger]`, `[prices]`, `[budgets]` and `[metrics]` sections
//! of the gateway's TOML file.
//!
//! ```toml
//! [ledger]
//! path = "tollgate-ledger.db"
//! enabled = true
//! # Ship rows to PostgreSQL, where `tollgate spend` and `audit` read every replica's:
//! # postgres_url = "postgres://tollgate@db.internal:5432/tollgate"
//! ship_batch_rows = 1000
//! ship_interval_ms = 1000
//!
//! [prices]
//! version = "2025-06-01"
//! charge_failed_attempts = true
//! reference_model = "openai/gpt-4o-mini"
//! [prices.models."openai/gpt-4o-mini"]
//! input_per_mtok = 0.15
//! output_per_mtok = 0.60
//! cached_input_per_mtok = 0.075
//! [[prices.models."openai/gpt-4o"]]
//! input_per_mtok = 5.0
//! output_per_mtok = 15.0
//! [[prices.models."openai/gpt-4o"]]
//! from = "2026-06-01"
//! input_per_mtok = 2.5
//! output_per_mtok = 10.0
//! [prices.backends.gpu-box]
//! cost_per_hour = 1.20
//! watts = 700
//! energy_price_per_kwh = 0.30
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

mod cluster;
mod postgres;
mod prices;

pub use cluster::{ClusterConfig, RateLimit, RateLimitsConfig, StateUnavailable};
pub use postgres::{postgres_config, MAX_SHIP_BATCH_ROWS};
pub use prices::{BackendCost, ModelPrice, ModelPrices, PriceVersion, PricesConfig};

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
    /// `[cluster]`: budgets and rate limits shared by replicas through Redis.
    pub cluster: ClusterConfig,
    /// `[rate_limits]`: requests, tokens and concurrency per tenant and route.
    pub rate_limits: RateLimitsConfig,
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
    /// `postgres_url`: ship every committed row to this PostgreSQL database
    /// (`postgres://USER:PASSWORD@HOST:PORT/DB`, or `TOLLGATE_LEDGER__POSTGRES_URL`), where
    /// `tollgate spend` and `tollgate audit` then read every replica's rows. The SQLite file
    /// stays the record each request waits for; shipping runs behind it (see `crate::ship`).
    /// Default: none, no shipping.
    pub postgres_url: Option<String>,
    /// `ship_batch_rows`: most rows shipped in one PostgreSQL transaction. Default 1000.
    pub ship_batch_rows: usize,
    /// `ship_interval_ms`: how long the shipper sleeps once caught up; the first wait after a
    /// failure too, doubling up to 10 s while PostgreSQL stays unreachable. Default 1000.
    pub ship_interval_ms: u64,
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
            postgres_url: None,
            ship_batch_rows: 1000,
            ship_interval_ms: 1000,
        }
    }
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
        self.prices.problems(&mut problems);
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
        cluster::problems(&self.cluster, &self.rate_limits, &mut problems);
        if self.budgets.default_max_tokens == 0 {
            problems.push("budgets.default_max_tokens: must be at least 1".to_string());
        }
        if self.ledger.queue_capacity == 0 {
            problems.push("ledger.queue_capacity: must be at least 1".to_string());
        }
        if self.ledger.batch_max == 0 {
            problems.push("ledger.batch_max: must be at least 1".to_string());
        }
        postgres::problems(&self.ledger, &mut problems);
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
        let p = cfg.prices.models["openai/gpt-4o-mini"].versions()[0];
        assert_eq!(p.cached_input_per_mtok, Some(0.075));
        let versions = cfg.prices.models["openai/gpt-4o"].versions();
        assert_eq!(versions.len(), 2);
        assert_eq!(
            versions[1].from.map(|d| d.to_string()).as_deref(),
            Some("2026-06-01")
        );
        assert!(cfg.prices.charge_failed_attempts);
        assert_eq!(
            cfg.prices.reference_model.as_deref(),
            Some("openai/gpt-4o-mini")
        );
        let gpu = cfg.prices.backends["gpu-box"];
        assert_eq!(gpu.cost_per_hour, 1.20);
        assert!((gpu.energy_per_hour() - 0.21).abs() < 1e-12);
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

    #[test]
    fn price_versions_are_checked() {
        let bad: MeteringConfig = toml::from_str(
            "[prices]\nreference_model = 'x/none'\n\
             [[prices.models.\"a/m\"]]\nfrom = '2026-01-01'\ninput_per_mtok = 1\noutput_per_mtok = 1\n\
             [[prices.models.\"a/m\"]]\nfrom = '2026-01-01'\ninput_per_mtok = 2\noutput_per_mtok = -2\n\
             [prices.backends.gpu]\ncost_per_hour = 1\nwatts = 300",
        )
        .unwrap();
        let err = bad.validate().unwrap_err().to_string();
        assert!(
            err.contains("prices.models.\"a/m\"[1].from: a second version from 2026-01-01"),
            "{err}"
        );
        assert!(
            err.contains("prices.models.\"a/m\"[1].output_per_mtok"),
            "{err}"
        );
        assert!(err.contains("prices.reference_model: \"x/none\""), "{err}");
        assert!(
            err.contains("prices.backends.gpu.energy_price_per_kwh"),
            "{err}"
        );
        // A typo inside a version is reported as itself, not as "no variant matched".
        let typo = toml::from_str::<MeteringConfig>(
            "[[prices.models.\"a/m\"]]\ninptu_per_mtok = 1\noutput_per_mtok = 1",
        )
        .unwrap_err()
        .to_string();
        assert!(typo.contains("inptu_per_mtok"), "{typo}");
        let date = toml::from_str::<MeteringConfig>(
            "[[prices.models.\"a/m\"]]\nfrom = '2026-13-01'\ninput_per_mtok = 1\noutput_per_mtok = 1",
        )
        .unwrap_err()
        .to_string();
        assert!(date.contains("2026-13-01"), "{date}");
        // A TOML date literal, unquoted, is a date too.
        let literal: MeteringConfig = toml::from_str(
            "[[prices.models.\"a/m\"]]\nfrom = 2026-06-01\ninput_per_mtok = 1\noutput_per_mtok = 1",
        )
        .unwrap();
        let from = literal.prices.models["a/m"].versions()[0].from;
        assert_eq!(from.map(|d| d.to_string()).as_deref(), Some("2026-06-01"));
    }
}
