//! The smaller parts of the shared state: its metrics, the budget windows a request touches,
//! the liveness ping and reservation ids.

use crate::config::{BudgetsConfig, OnExhausted};
use crate::window::{Period, Scope};
use prometheus::{IntCounter, IntGauge, IntGaugeVec, Opts, Registry};
use redis::aio::ConnectionManager;
use std::time::Duration;

pub(super) struct StateMetrics {
    pub(super) up: IntGauge,
    pub(super) mode: IntGaugeVec,
    pub(super) errors: IntCounter,
}

impl StateMetrics {
    pub(super) fn new(r: &Registry) -> Result<StateMetrics, prometheus::Error> {
        let up = IntGauge::new(
            "tollgate_shared_state_up",
            "1 while the shared state (Redis) answers, 0 while it is unreachable",
        )?;
        let mode = IntGaugeVec::new(
            Opts::new(
                "tollgate_shared_state_mode",
                "1 for the way budgets and rate limits are enforced now: shared (Redis), reject \
                 (Redis unreachable, requests refused) or local_share (Redis unreachable, each \
                 replica enforces its share)",
            ),
            &["mode"],
        )?;
        let errors = IntCounter::new(
            "tollgate_shared_state_errors_total",
            "Calls to the shared state that failed or timed out",
        )?;
        r.register(Box::new(up.clone()))?;
        r.register(Box::new(mode.clone()))?;
        r.register(Box::new(errors.clone()))?;
        Ok(StateMetrics { up, mode, errors })
    }
}

/// Whether Redis answers a PING within `timeout`.
pub(super) async fn ping(conn: &ConnectionManager, timeout: Duration) -> bool {
    let mut conn = conn.clone();
    let cmd = redis::cmd("PING");
    matches!(
        tokio::time::timeout(timeout, cmd.query_async::<String>(&mut conn)).await,
        Ok(Ok(_))
    )
}

/// One budget window a request touches.
pub(super) struct Window {
    pub scope: Scope,
    pub name: String,
    pub period: Period,
    pub limit: f64,
    pub start: i64,
    pub next: i64,
    pub on_exhausted: OnExhausted,
}

pub(super) fn windows(cfg: &BudgetsConfig, tenant: &str, route: &str, at_ms: i64) -> Vec<Window> {
    let mut v = Vec::new();
    for (scope, map, name) in [
        (Scope::Tenant, &cfg.tenants, tenant),
        (Scope::Route, &cfg.routes, route),
    ] {
        let Some(l) = map.get(name) else { continue };
        for (period, limit) in [
            (Period::Daily, l.daily_usd),
            (Period::Monthly, l.monthly_usd),
        ] {
            let Some(limit) = limit else { continue };
            v.push(Window {
                scope,
                name: name.to_string(),
                period,
                limit,
                start: period.window_start(at_ms),
                next: period.next_start(at_ms),
                on_exhausted: l.on_exhausted,
            });
        }
    }
    v
}

/// A random id prefix for this process's reservations.
pub(super) fn uuid_like() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}
