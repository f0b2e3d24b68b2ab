//! Prometheus metrics of the gateway, in a registry owned by each instance.
//!
//! Every metric is documented in `dashboards/README.md`. Label values come from the config
//! (route, backend, model, tenant names) or from fixed sets (zone, data class, status class,
//! outcome, rule and detection kinds), so series counts stay bounded.

mod build;
mod ship;

pub use ship::ShipMetrics;

use super::cost::{AttemptCharge, Cost};
use super::record::{status_class, Record};
use build::{
    bool_label, counter_vec, float_counter_vec, gauge_vec, histogram_vec, int_counter, int_gauge,
    int_gauge_vec,
};
use prometheus::{
    CounterVec, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Label value for a part the record does not have (no backend, no model, no zone).
pub const NONE: &str = "none";

/// Buckets for request duration and time to first token: 5 ms to 10 minutes.
const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];
/// Buckets for gaps between streamed tokens: 1 ms to 2.5 s.
const INTER_TOKEN_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Buckets for the gateway's own overhead: 25 µs to 1 s.
const OVERHEAD_BUCKETS: &[f64] = &[
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 1.0,
];
/// Buckets for ledger commits: 100 µs to 5 s.
const COMMIT_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

/// Counters the ledger writer thread updates.
#[derive(Clone, Debug)]
pub struct LedgerMetrics {
    /// Rows waiting for the writer.
    pub queue_depth: IntGauge,
    /// Rows committed.
    pub rows_written: IntCounter,
    /// Rows whose request id was already in the ledger (ignored).
    pub duplicate_rows: IntCounter,
    /// `record` calls that found the queue full and had to wait.
    pub blocked_writes: IntCounter,
    /// Rows lost: the queue stayed full past `full_wait_ms`, or the database refused them.
    pub dropped_rows: IntCounter,
    /// Failed transactions (retried).
    pub write_errors: IntCounter,
    /// Duration of one batch transaction.
    pub commit_seconds: prometheus::Histogram,
    /// Shipping to PostgreSQL.
    pub ship: ShipMetrics,
}

/// The gateway's metrics and the registry that exposes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    tenant_label: bool,
    requests: IntCounterVec,
    attempts: IntCounterVec,
    fallbacks: IntCounterVec,
    refusals: IntCounterVec,
    detections: IntCounterVec,
    tokens: IntCounterVec,
    cost: CounterVec,
    unknown_price: IntCounterVec,
    duration: HistogramVec,
    ttft: HistogramVec,
    inter_token: HistogramVec,
    overhead: HistogramVec,
    attempt_duration: HistogramVec,
    utilisation: GaugeVec,
    idle_cost: CounterVec,
    ondevice_queue: IntGaugeVec,
    ondevice_active: IntGaugeVec,
    connections_open: IntGaugeVec,
    connections_refused: IntCounterVec,
    budget_limit: GaugeVec,
    budget_spent: GaugeVec,
    budget_remaining: GaugeVec,
    budget_refusals: IntCounterVec,
    rate_refusals: IntCounterVec,
    reloads: IntCounterVec,
    ledger: LedgerMetrics,
}

/// One listener's connection counts, kept by the connection guard.
#[derive(Clone)]
pub struct ConnTally {
    open: IntGauge,
    refused: IntCounterVec,
    listener: &'static str,
}

/// An open connection, counted until dropped.
pub struct OpenConn(IntGauge);

impl Drop for OpenConn {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl ConnTally {
    /// Counts a connection as open until the guard is dropped.
    pub fn open(&self) -> OpenConn {
        self.open.inc();
        OpenConn(self.open.clone())
    }

    /// Counts a connection refused with `code`.
    pub fn refused(&self, code: &str) {
        self.refused.with_label_values(&[self.listener, code]).inc();
    }
}

fn with_tenant(labels: &[&'static str], tenant: bool) -> Vec<&'static str> {
    let mut v = labels.to_vec();
    if tenant {
        v.push("tenant");
    }
    v
}

impl Metrics {
    /// Creates every metric in a fresh registry; `tenant_label` adds `tenant` to the request,
    /// token and cost counters.
    pub fn new(tenant_label: bool) -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let r = &registry;
        let t = tenant_label;
        let m = Metrics {
            tenant_label,
            requests: counter_vec(
                r,
                "tollgate_requests_total",
                "Requests finished, by how they ended.",
                &with_tenant(
                    &[
                        "route",
                        "backend",
                        "model",
                        "zone",
                        "data_class",
                        "status_class",
                        "outcome",
                        "stream",
                        "endpoint",
                    ],
                    t,
                ),
            )?,
            attempts: counter_vec(
                r,
                "tollgate_attempts_total",
                "Backend attempts, failed ones before a fallback included.",
                &["route", "backend", "model", "zone", "outcome"],
            )?,
            fallbacks: counter_vec(
                r,
                "tollgate_fallbacks_total",
                "Moves to the next candidate after a failed attempt.",
                &["route"],
            )?,
            refusals: counter_vec(
                r,
                "tollgate_policy_refusals_total",
                "Candidates refused by a policy rule.",
                &["route", "rule"],
            )?,
            detections: counter_vec(
                r,
                "tollgate_detections_total",
                "Sensitive-content detections in prompts, by kind.",
                &["route", "kind"],
            )?,
            tokens: counter_vec(
                r,
                "tollgate_tokens_total",
                "Tokens served, by kind (prompt, completion, cached).",
                &with_tenant(
                    &["route", "backend", "model", "zone", "kind", "estimated"],
                    t,
                ),
            )?,
            cost: {
                let c = CounterVec::new(
                    Opts::new(
                        "tollgate_cost_usd_total",
                        "Known cost in USD, by component (tokens, compute, failed_attempts).",
                    ),
                    &with_tenant(&["route", "backend", "model", "zone", "component"], t),
                )?;
                r.register(Box::new(c.clone()))?;
                c
            },
            unknown_price: counter_vec(
                r,
                "tollgate_unknown_price_requests_total",
                "Requests that used tokens of a model nobody priced (cost unknown).",
                &["route", "backend", "model"],
            )?,
            duration: histogram_vec(
                r,
                "tollgate_request_duration_seconds",
                "Time from accept to the end of the response.",
                &["route", "backend", "zone", "stream"],
                DURATION_BUCKETS,
            )?,
            ttft: histogram_vec(
                r,
                "tollgate_ttft_seconds",
                "Time to the first streamed token.",
                &["route", "backend", "zone"],
                DURATION_BUCKETS,
            )?,
            inter_token: histogram_vec(
                r,
                "tollgate_inter_token_seconds",
                "Mean gap between streamed tokens, one observation per request.",
                &["route", "backend", "zone"],
                INTER_TOKEN_BUCKETS,
            )?,
            overhead: histogram_vec(
                r,
                "tollgate_overhead_seconds",
                "Time spent in the gateway, not waiting on a backend.",
                &["route"],
                OVERHEAD_BUCKETS,
            )?,
            attempt_duration: histogram_vec(
                r,
                "tollgate_attempt_duration_seconds",
                "Duration of each backend attempt.",
                &["backend", "zone", "outcome"],
                DURATION_BUCKETS,
            )?,
            utilisation: gauge_vec(
                r,
                "tollgate_backend_utilisation",
                "Busy seconds (at least one request in flight) / elapsed seconds of the \
                 current UTC hour so far, per backend priced by the hour.",
                &["backend"],
            )?,
            idle_cost: float_counter_vec(
                r,
                "tollgate_idle_cost_usd_total",
                "Cost in USD of backends priced by the hour while nothing was in flight.",
                &["backend"],
            )?,
            ondevice_queue: int_gauge_vec(
                r,
                "tollgate_ondevice_queue_depth",
                "Requests waiting for the on-device engine.",
                &["backend"],
            )?,
            ondevice_active: int_gauge_vec(
                r,
                "tollgate_ondevice_active_sequences",
                "Sequences the on-device engine is decoding.",
                &["backend"],
            )?,
            connections_open: int_gauge_vec(
                r,
                "tollgate_connections_open",
                "Client connections open, by listener.",
                &["listener"],
            )?,
            connections_refused: counter_vec(
                r,
                "tollgate_connections_refused_total",
                "Connections answered and closed before any request was served: a full \
                 listener, a head that is malformed, too large or too slow.",
                &["listener", "code"],
            )?,
            budget_limit: gauge_vec(
                r,
                "tollgate_budget_limit_usd",
                "Configured budget limit.",
                &["scope", "name", "period"],
            )?,
            budget_spent: gauge_vec(
                r,
                "tollgate_budget_spent_usd",
                "Spend charged to the budget in its current period.",
                &["scope", "name", "period"],
            )?,
            budget_remaining: gauge_vec(
                r,
                "tollgate_budget_remaining_usd",
                "Limit minus spend minus reservations in flight.",
                &["scope", "name", "period"],
            )?,
            budget_refusals: counter_vec(
                r,
                "tollgate_budget_refusals_total",
                "Reservations a budget refused.",
                &["scope", "name", "period"],
            )?,
            rate_refusals: counter_vec(
                r,
                "tollgate_rate_limited_total",
                "Requests a rate limit refused, by the limit that refused.",
                &["scope", "name", "limit"],
            )?,
            reloads: counter_vec(
                r,
                "tollgate_config_reloads_total",
                "Config reloads, by result: applied, or refused (the running config kept).",
                &["result"],
            )?,
            ledger: LedgerMetrics {
                queue_depth: int_gauge(
                    r,
                    "tollgate_ledger_queue_depth",
                    "Ledger rows waiting for the writer.",
                )?,
                rows_written: int_counter(
                    r,
                    "tollgate_ledger_rows_written_total",
                    "Ledger rows committed.",
                )?,
                duplicate_rows: int_counter(
                    r,
                    "tollgate_ledger_duplicate_rows_total",
                    "Ledger rows ignored because their request id was already recorded.",
                )?,
                blocked_writes: int_counter(
                    r,
                    "tollgate_ledger_blocked_writes_total",
                    "Records that waited for room in a full ledger queue.",
                )?,
                dropped_rows: int_counter(
                    r,
                    "tollgate_ledger_dropped_rows_total",
                    "Ledger rows lost (queue full past the wait, or refused by the database).",
                )?,
                write_errors: int_counter(
                    r,
                    "tollgate_ledger_write_errors_total",
                    "Failed ledger transactions (retried).",
                )?,
                commit_seconds: {
                    let h = prometheus::Histogram::with_opts(
                        HistogramOpts::new(
                            "tollgate_ledger_commit_seconds",
                            "Duration of one ledger batch transaction.",
                        )
                        .buckets(COMMIT_BUCKETS.to_vec()),
                    )?;
                    r.register(Box::new(h.clone()))?;
                    h
                },
                ship: ShipMetrics::register(r)?,
            },
            registry,
        };
        Ok(m)
    }

    /// The Prometheus text exposition of every metric, for `GET /metrics`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }

    /// The registry, for callers that add metrics of their own.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Handles the ledger writer updates.
    pub fn ledger(&self) -> &LedgerMetrics {
        &self.ledger
    }

    /// Updates every request metric from one finished request.
    pub fn observe(&self, rec: &Record, cost: &Cost) {
        let route = rec.route.as_str();
        let backend = rec.backend.as_deref().unwrap_or(NONE);
        let model = rec.model.as_deref().unwrap_or(NONE);
        let zone = rec.zone.map_or(NONE, |z| z.as_str());
        let stream = bool_label(rec.stream);
        let tenant = rec.tenant.as_str();

        self.requests
            .with_label_values(&self.tenanted(
                &[
                    route,
                    backend,
                    model,
                    zone,
                    rec.data_class.as_str(),
                    status_class(rec.status),
                    rec.outcome.as_str(),
                    stream,
                    rec.endpoint,
                ],
                tenant,
            ))
            .inc();

        for a in &rec.attempts {
            let z = a.zone.as_str();
            self.attempts
                .with_label_values(&[route, &a.backend, &a.model, z, a.outcome])
                .inc();
            self.attempt_duration
                .with_label_values(&[&a.backend, z, a.outcome])
                .observe(a.duration.as_secs_f64());
        }
        let fallbacks = rec.fallbacks();
        if fallbacks > 0 {
            self.fallbacks
                .with_label_values(&[route])
                .inc_by(fallbacks as u64);
        }
        for rule in &rec.refusals {
            self.refusals.with_label_values(&[route, rule]).inc();
        }
        for kind in &rec.detections {
            self.detections.with_label_values(&[route, kind]).inc();
        }

        let u = &rec.usage;
        let est = bool_label(u.estimated());
        for (kind, n) in [
            ("prompt", u.prompt_tokens),
            ("completion", u.completion_tokens),
            ("cached", u.cached_tokens),
            ("cache_write", u.cache_write_tokens),
        ] {
            if n > 0 {
                self.tokens
                    .with_label_values(
                        &self.tenanted(&[route, backend, model, zone, kind, est], tenant),
                    )
                    .inc_by(n);
            }
        }
        for (component, usd) in [("tokens", cost.tokens_usd), ("compute", cost.compute_usd)] {
            if let Some(usd) = usd.filter(|v| *v > 0.0) {
                self.cost
                    .with_label_values(
                        &self.tenanted(&[route, backend, model, zone, component], tenant),
                    )
                    .inc_by(usd);
            }
        }
        if cost.is_unknown() {
            self.unknown_price
                .with_label_values(&[route, backend, model])
                .inc();
        }

        self.duration
            .with_label_values(&[route, backend, zone, stream])
            .observe(rec.duration.as_secs_f64());
        if let Some(ttft) = rec.ttft {
            self.ttft
                .with_label_values(&[route, backend, zone])
                .observe(ttft.as_secs_f64());
        }
        if let Some(gap) = rec.inter_token {
            self.inter_token
                .with_label_values(&[route, backend, zone])
                .observe(gap.as_secs_f64());
        }
        self.overhead
            .with_label_values(&[route])
            .observe(rec.overhead.as_secs_f64());
    }

    /// Sets the on-device engine's queue depth and active sequence count.
    pub fn set_ondevice(&self, backend: &str, queue_depth: i64, active_sequences: i64) {
        self.ondevice_queue
            .with_label_values(&[backend])
            .set(queue_depth);
        self.ondevice_active
            .with_label_values(&[backend])
            .set(active_sequences);
    }

    /// Adds the charges of a request's failed attempts, each under its own backend, model and
    /// zone (component `failed_attempts`), so the counter's sum is what the ledger charged.
    pub fn observe_charges(&self, rec: &Record, charges: &[AttemptCharge]) {
        for (a, c) in rec.attempts.iter().zip(charges) {
            let Some(usd) = c.cost_usd.filter(|v| !c.served && *v > 0.0) else {
                continue;
            };
            let labels = [
                rec.route.as_str(),
                a.backend.as_str(),
                a.model.as_str(),
                a.zone.as_str(),
                "failed_attempts",
            ];
            self.cost
                .with_label_values(&self.tenanted(&labels, &rec.tenant))
                .inc_by(usd);
        }
    }

    /// Sets a backend's utilisation (busy ÷ elapsed seconds of the current hour so far).
    pub fn set_utilisation(&self, backend: &str, ratio: f64) {
        self.utilisation.with_label_values(&[backend]).set(ratio);
    }

    /// Adds idle cost accrued by a backend priced by the hour (a series exists from the
    /// first look, at 0).
    pub fn add_idle_cost(&self, backend: &str, usd: f64) {
        let counter = self.idle_cost.with_label_values(&[backend]);
        if usd > 0.0 {
            counter.inc_by(usd);
        }
    }

    /// The connection counts of one listener (`api`, `admin`).
    pub fn connections(&self, listener: &'static str) -> ConnTally {
        ConnTally {
            open: self.connections_open.with_label_values(&[listener]),
            refused: self.connections_refused.clone(),
            listener,
        }
    }

    /// Sets one budget's gauges.
    pub fn set_budget(
        &self,
        scope: &str,
        name: &str,
        period: &str,
        limit: f64,
        spent: f64,
        remaining: f64,
    ) {
        let l = [scope, name, period];
        self.budget_limit.with_label_values(&l).set(limit);
        self.budget_spent.with_label_values(&l).set(spent);
        self.budget_remaining.with_label_values(&l).set(remaining);
    }

    /// Counts a reservation refused by one budget.
    pub fn budget_refused(&self, scope: &str, name: &str, period: &str) {
        self.budget_refusals
            .with_label_values(&[scope, name, period])
            .inc();
    }

    /// Counts a rate-limit refusal.
    pub fn rate_limited(&self, scope: &str, name: &str, limit: &str) {
        self.rate_refusals
            .with_label_values(&[scope, name, limit])
            .inc();
    }

    /// Counts a config reload: `applied` or `refused`.
    pub fn reloaded(&self, applied: bool) {
        self.reloads
            .with_label_values(&[if applied { "applied" } else { "refused" }])
            .inc();
    }

    fn tenanted<'a>(&self, base: &[&'a str], tenant: &'a str) -> Vec<&'a str> {
        let mut v = base.to_vec();
        if self.tenant_label {
            v.push(tenant);
        }
        v
    }
}
