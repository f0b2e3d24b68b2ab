//! Metering: what every request cost, in tokens, money and time, recorded in one place.
//!
//! The pipeline's record step calls [`Metering::record`] once per request, whatever its end:
//! it updates the Prometheus [`Metrics`], queues the request's [`ledger`] row and settles its
//! budget [`Reservation`]. Before dispatch the pipeline asks [`Budgets::reserve`]. While the
//! gateway serves, it keeps an [`IdleTracker`] per backend priced by the hour and closes its
//! periods with [`Metering::idle_close`] (see [`idle`]). The CLI reads the ledger through
//! [`spend::report`] and [`traffic::unpriced`].

pub mod admission;
pub mod audit;
pub mod budget;
pub mod code;
pub mod config;
pub mod cost;
pub mod dashboard;
pub mod idle;
pub mod ledger;
pub mod metrics;
pub mod ratelimit;
pub mod record;
pub mod shared;
pub mod ship;
pub mod spend;
pub mod time;
pub mod traffic;
pub mod window;

pub use admission::{RateTicket, Refusal};
pub use budget::{BudgetExceeded, BudgetStatus, Budgets, Period, Reservation, Scope};
pub use code::{ErrorCode, Origin, Outcome};
pub use config::{
    BackendCost, BudgetLimits, BudgetsConfig, ClusterConfig, LedgerConfig, MeteringConfig,
    MetricsConfig, ModelPrice, ModelPrices, OnExhausted, PriceVersion, PricesConfig, RateLimit,
    RateLimitsConfig, StateUnavailable, Synchronous,
};
pub use cost::{
    busy_share, estimate_tokens, estimate_tokens_from_bytes, reached_provider, warnings,
    AttemptCharge, Cost, HourlyRate, PriceTable, CHARGED_OUTCOMES,
};
pub use idle::IdleTracker;
pub use ledger::Ledger;
pub use metrics::Metrics;
pub use ratelimit::{Headroom, RateExceeded, RateLimits};
pub use record::{status_class, Attempt, Record, TokenSource, Usage};
pub use shared::SharedState;

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Errors of metering set-up and reports (recording itself never fails).
#[derive(Debug, thiserror::Error)]
pub enum MeteringError {
    /// Invalid configuration values, each with its key path.
    #[error("invalid metering config:\n  {}", .0.join("\n  "))]
    Config(Vec<String>),
    /// The ledger database could not be opened, read or written.
    #[error("ledger {path}: {source}")]
    Ledger {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The ledger was written by a newer schema.
    #[error("ledger {path}: schema version {found}, this build supports {supported}")]
    Schema {
        /// The database file.
        path: PathBuf,
        /// `user_version` found.
        found: i64,
        /// The version this build writes.
        supported: i64,
    },
    /// The ledger writer thread could not start.
    #[error("cannot start the ledger writer: {0}")]
    Thread(std::io::Error),
    /// The ledger writer thread stopped before writing every row.
    #[error("the ledger writer stopped unexpectedly")]
    WriterStopped,
    /// Metrics registration failed.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// JSON output failed.
    #[error("json: {0}")]
    Json(serde_json::Error),
    /// PostgreSQL, where the ledger is shipped, could not be reached or refused a query.
    #[error("postgres: {0}")]
    Postgres(String),
}

impl MeteringError {
    fn ledger(path: &Path, source: rusqlite::Error) -> MeteringError {
        MeteringError::Ledger {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Metrics, price table, ledger and budgets of one gateway instance.
#[derive(Debug)]
pub struct Metering {
    metrics: Arc<Metrics>,
    prices: PriceTable,
    ledger: Option<Arc<Ledger>>,
    /// This process's budgets: all of each limit alone, or its share with a shared state.
    budgets: Budgets,
    /// The configured budgets, as the shared state checks them.
    budget_limits: BudgetsConfig,
    /// This process's rate limits (its share, with a shared state).
    rates: RateLimits,
    /// The configured rate limits, as the shared state checks them.
    rate_limits: RateLimitsConfig,
    /// Budgets and rate limits shared with other replicas, with `[cluster] redis_url`.
    shared: Option<SharedState>,
    metrics_enabled: bool,
    default_max_tokens: u64,
    commit_wait: std::time::Duration,
}

impl Metering {
    /// Validates `cfg`, opens the ledger (creating it when absent), and rebuilds the budgets
    /// from the spend it holds for the UTC day and month containing `now_ms`. With
    /// `[ledger] enabled = false` no database is opened and budgets start from zero. With
    /// `[ledger] postgres_url` the ledger starts its shipper too (see [`ship`]), without
    /// waiting for PostgreSQL.
    pub fn open(cfg: &MeteringConfig, now_ms: i64) -> Result<Metering, MeteringError> {
        cfg.validate()?;
        let metrics = Arc::new(Metrics::new(cfg.metrics.tenant_label)?);
        let (ledger, spent) = if cfg.ledger.enabled {
            let ledger = Ledger::open(&cfg.ledger, metrics.ledger().clone())?;
            let today = time::Date::from_unix_ms(now_ms);
            let conn = ledger::open_read_only(&cfg.ledger.path)?;
            let spent =
                ledger::spend_so_far(&conn, today.start_ms(), today.month_start().start_ms())
                    .map_err(|e| MeteringError::ledger(&cfg.ledger.path, e))?;
            (Some(ledger), spent)
        } else {
            (None, ledger::SpendSoFar::default())
        };
        let shared = match &cfg.cluster.redis_url {
            Some(url) => Some(
                SharedState::open(&cfg.cluster, url, metrics.registry())
                    .map_err(|e| MeteringError::Config(vec![e]))?,
            ),
            None => None,
        };
        Ok(Self::assemble(
            cfg,
            metrics,
            ledger.map(Arc::new),
            shared,
            &spent,
            now_ms,
        ))
    }

    fn assemble(
        cfg: &MeteringConfig,
        metrics: Arc<Metrics>,
        ledger: Option<Arc<Ledger>>,
        shared: Option<SharedState>,
        spent: &ledger::SpendSoFar,
        now_ms: i64,
    ) -> Metering {
        // With a shared state, what this process enforces alone is its share: it applies only
        // while the shared state is unreachable, under `local_share`.
        let replicas = shared.as_ref().map_or(1, SharedState::replicas);
        let local_budgets = admission::budget_share(&cfg.budgets, replicas);
        let budgets = Budgets::new(&local_budgets, spent, now_ms, Some(Arc::clone(&metrics)));
        Metering {
            metrics,
            prices: PriceTable::new(&cfg.prices),
            ledger,
            budgets,
            budget_limits: cfg.budgets.clone(),
            rates: RateLimits::new(admission::rate_share(&cfg.rate_limits, replicas)),
            rate_limits: cfg.rate_limits.clone(),
            shared,
            metrics_enabled: cfg.metrics.enabled,
            default_max_tokens: cfg.budgets.default_max_tokens,
            commit_wait: std::time::Duration::from_millis(cfg.ledger.commit_wait_ms),
        }
    }

    /// The metering of a reloaded config: new prices, budgets and rate limits, on the same
    /// metrics, ledger and shared state (those are not reloaded: `[ledger]`, `[metrics]` and
    /// `[cluster]` changes are returned as warnings and need a restart). Requests in flight
    /// finish on `self`. This process's budgets restart from the spend its ledger holds once
    /// every recorded row is committed.
    pub fn reconfigure(
        &self,
        old: &MeteringConfig,
        cfg: &MeteringConfig,
        now_ms: i64,
    ) -> Result<(Metering, Vec<String>), MeteringError> {
        cfg.validate()?;
        let mut warnings = Vec::new();
        if old.ledger.path != cfg.ledger.path
            || old.ledger.enabled != cfg.ledger.enabled
            || old.ledger.postgres_url != cfg.ledger.postgres_url
            || old.ledger.ship_batch_rows != cfg.ledger.ship_batch_rows
            || old.ledger.ship_interval_ms != cfg.ledger.ship_interval_ms
        {
            warnings.push("ledger: changes to [ledger] take effect at the next start".to_string());
        }
        if old.cluster != cfg.cluster {
            warnings
                .push("cluster: changes to [cluster] take effect at the next start".to_string());
        }
        if old.metrics.tenant_label != cfg.metrics.tenant_label {
            warnings.push("metrics.tenant_label: takes effect at the next start".to_string());
        }
        let spent = match &self.ledger {
            Some(ledger) => {
                ledger.flush()?;
                let today = time::Date::from_unix_ms(now_ms);
                let conn = ledger::open_read_only(ledger.path())?;
                ledger::spend_so_far(&conn, today.start_ms(), today.month_start().start_ms())
                    .map_err(|e| MeteringError::ledger(ledger.path(), e))?
            }
            None => ledger::SpendSoFar::default(),
        };
        let mut next = Self::assemble(
            cfg,
            Arc::clone(&self.metrics),
            self.ledger.clone(),
            self.shared.clone(),
            &spent,
            now_ms,
        );
        next.metrics_enabled = cfg.metrics.enabled;
        Ok((next, warnings))
    }

    /// Records one finished request: metrics, ledger row, budget settlement. Never fails and
    /// never blocks beyond the ledger's `full_wait_ms` when its queue is full.
    pub fn record(&self, rec: Record, reservation: Option<Reservation>) -> Cost {
        self.record_ticketed(rec, reservation).0
    }

    /// [`Metering::record`], returning a handle to await the commit of its ledger row (none
    /// without a ledger): for the pipeline to await before an answer's last byte.
    pub fn record_for_commit(
        &self,
        rec: Record,
        reservation: Option<Reservation>,
    ) -> (Cost, Option<ledger::CommitTicket>) {
        let (cost, ticket) = self.record_ticketed(rec, reservation);
        let ticket = match (&self.ledger, ticket) {
            (Some(ledger), Some(t)) => ledger.ticket(t),
            _ => None,
        };
        (cost, ticket)
    }

    /// How long an answer's last byte may wait for its row (`[ledger] commit_wait_ms`).
    pub fn commit_wait(&self) -> std::time::Duration {
        self.commit_wait
    }

    fn record_ticketed(
        &self,
        rec: Record,
        reservation: Option<Reservation>,
    ) -> (Cost, Option<u64>) {
        let (cost, charges) = self.prices.costed(&rec);
        if self.metrics_enabled {
            self.metrics.observe(&rec, &cost);
            self.metrics.observe_charges(&rec, &charges);
        }
        log(&rec, &cost);
        let cost_usd = cost.total_usd.unwrap_or(0.0);
        self.budgets.settle(
            reservation.as_ref(),
            &rec.tenant,
            &rec.route,
            cost_usd,
            rec.started_at_ms,
        );
        if let Some(state) = &self.shared {
            state.settle_budget(
                &self.budget_limits,
                reservation.as_ref().and_then(Reservation::remote_hold),
                (&rec.tenant, &rec.route),
                cost_usd,
                rec.started_at_ms,
            );
        }
        let ticket = self
            .ledger
            .as_ref()
            .map(|ledger| ledger.enqueue(self.row(rec, &cost, &charges)));
        // Ticket 0: the row was dropped (counted and logged); there is nothing to wait for.
        (cost, ticket.filter(|t| *t > 0))
    }

    /// The ledger row of `rec` costed at `cost`, its attempts charged `charges`: the record
    /// turned into the row by value.
    fn row(&self, rec: Record, cost: &Cost, charges: &[AttemptCharge]) -> ledger::Row {
        let attempt_log = ledger::attempt_log(&rec.attempts, charges);
        ledger::Row {
            request_id: rec.request_id,
            ts_ms: rec.started_at_ms,
            tenant: rec.tenant,
            route: rec.route,
            backend: rec.backend,
            model: rec.model,
            zone: rec.zone.map(|z| z.as_str()),
            data_class: rec.data_class.as_str(),
            decision: rec.decision,
            stream: rec.stream,
            endpoint: rec.endpoint,
            prompt_tokens: rec.usage.prompt_tokens,
            completion_tokens: rec.usage.completion_tokens,
            cached_tokens: rec.usage.cached_tokens,
            cache_write_tokens: rec.usage.cache_write_tokens,
            estimated: rec.usage.estimated(),
            cost_usd: cost.total_usd,
            compute_usd: cost.compute_usd,
            currency: self.prices.currency().to_string(),
            price_version: self.prices.version_label(cost.price_from),
            duration_ms: rec.duration.as_secs_f64() * 1000.0,
            ttft_ms: rec.ttft.map(|d| d.as_secs_f64() * 1000.0),
            status: rec.status,
            outcome: rec.outcome.as_str(),
            error_class: rec.error_class.map(ErrorCode::as_str),
            attempts: u32::try_from(rec.attempts.len()).unwrap_or(u32::MAX),
            detected_kinds: sorted_unique(&rec.detections),
            refused_rules: sorted_unique(&rec.refusals),
            attempt_zones: rec
                .attempts
                .iter()
                .map(|a| {
                    if a.redacted {
                        format!("{}/redacted", a.zone.as_str())
                    } else {
                        a.zone.as_str().to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(","),
            token_source: rec.usage.source.as_str(),
            api_equivalent_usd: cost.api_equivalent_usd,
            failed_usd: cost.failed_usd,
            attempt_log,
        }
    }

    /// A tracker of `backend`'s idle time from `now_ms`, when it is priced by the hour;
    /// `busy_total` is its cumulative busy time now (see [`idle`]).
    pub fn idle_tracker(
        &self,
        backend: &str,
        now_ms: i64,
        busy_total: std::time::Duration,
    ) -> Option<IdleTracker> {
        let rate = self.prices.rate(backend)?;
        Some(IdleTracker::new(
            backend,
            rate,
            self.prices.currency(),
            self.prices.version(),
            now_ms,
            busy_total,
        ))
    }

    /// Looks at an open idle period: updates the backend's utilisation gauge and idle cost.
    pub fn idle_observe(&self, t: &mut IdleTracker, now_ms: i64, busy_total: std::time::Duration) {
        let accrual = t.observe(now_ms, busy_total);
        self.idle_metrics(t.backend(), accrual);
    }

    /// Ends an idle period at `end_ms` (an hour boundary, or the gateway stopping): writes
    /// its ledger line and reports what it had not yet reported to the metrics.
    pub fn idle_close(&self, t: &mut IdleTracker, end_ms: i64, busy_total: std::time::Duration) {
        let Some((line, accrual)) = t.close(end_ms, busy_total) else {
            return;
        };
        self.idle_metrics(&line.backend, accrual);
        tracing::debug!(backend = %line.backend, busy_s = line.busy_s, idle_s = line.idle_s, cost_usd = line.cost_usd, "idle period");
        if let Some(ledger) = &self.ledger {
            ledger.enqueue_idle(line);
        }
    }

    fn idle_metrics(&self, backend: &str, accrual: idle::Accrual) {
        self.metrics.add_idle_cost(backend, accrual.new_idle_usd);
        if let Some(u) = accrual.utilisation {
            self.metrics.set_utilisation(backend, u);
        }
    }

    /// Reserves a request's worst-case cost against its tenant's and route's budgets.
    pub fn reserve(
        &self,
        tenant: &str,
        route: &str,
        worst_case_usd: Option<f64>,
        now_ms: i64,
    ) -> Result<Reservation, BudgetExceeded> {
        self.budgets.reserve(tenant, route, worst_case_usd, now_ms)
    }

    /// The `/metrics` body, with budget windows moved to `now_ms` first.
    pub fn encode_metrics(&self, now_ms: i64) -> String {
        self.budgets.refresh(now_ms);
        self.metrics.encode()
    }

    /// Waits until every recorded row is committed to the ledger (call on shutdown).
    pub fn flush(&self) -> Result<(), MeteringError> {
        self.ledger.as_ref().map_or(Ok(()), |l| l.flush())
    }

    /// Commits every pending row and stops the ledger writer; rows recorded later are dropped
    /// and counted. With shipping, then gives it at most 2 s to ship what is committed.
    pub fn close(&self) -> Result<(), MeteringError> {
        self.ledger.as_ref().map_or(Ok(()), |l| l.close())
    }

    /// Completion tokens assumed for a worst-case cost when a request sets no limit
    /// (`[budgets] default_max_tokens`).
    pub fn default_max_tokens(&self) -> u64 {
        self.default_max_tokens
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The price table.
    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    /// The budgets.
    pub fn budgets(&self) -> &Budgets {
        &self.budgets
    }

    /// The ledger, unless `[ledger] enabled = false`.
    pub fn ledger(&self) -> Option<&Ledger> {
        self.ledger.as_deref()
    }

    /// The shared state, with `[cluster] redis_url`.
    pub fn shared(&self) -> Option<&SharedState> {
        self.shared.as_ref()
    }

    /// Whether any rate limit is configured.
    pub fn has_rate_limits(&self) -> bool {
        !self.rate_limits.is_empty()
    }
}

/// The request's debug line: what an operator tailing the log wants to see of it.
fn log(rec: &Record, cost: &Cost) {
    tracing::debug!(
        request_id = %rec.request_id,
        tenant = %rec.tenant,
        route = %rec.route,
        backend = rec.backend.as_deref().unwrap_or("-"),
        model = rec.model.as_deref().unwrap_or("-"),
        status = rec.status,
        outcome = rec.outcome.as_str(),
        attempts = rec.attempts.len(),
        prompt_tokens = rec.usage.prompt_tokens,
        completion_tokens = rec.usage.completion_tokens,
        estimated = rec.usage.estimated(),
        cost_usd = ?cost.total_usd,
        duration_ms = rec.duration.as_secs_f64() * 1e3,
        "request"
    );
}

/// Labels sorted, each once, comma-separated: one ledger cell.
fn sorted_unique(labels: &[&str]) -> String {
    let mut v: Vec<&str> = labels.to_vec();
    v.sort_unstable();
    v.dedup();
    v.join(",")
}
