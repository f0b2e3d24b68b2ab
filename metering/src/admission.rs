//! Whether a request may start now: its rate limits, then each candidate's budget, checked in
//! this process or, with `[cluster] redis_url`, in the state every replica shares.
//!
//! While the shared state is unreachable, `state_unavailable` decides: `reject` refuses any
//! request a limit applies to (a limit that cannot be checked is not enforced by letting
//! everything through), `local_share` checks this process's share of each limit instead.
//! Requests no limit applies to never wait on Redis.

use crate::budget::{BudgetExceeded, Reservation};
use crate::config::{BudgetLimits, BudgetsConfig, RateLimitsConfig, StateUnavailable};
use crate::ratelimit::{Headroom, LocalTicket, RateExceeded};
use crate::shared::{RemoteTicket, SharedState, Unreachable};
use crate::Metering;
use std::fmt;

/// Why a request may not go on now.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// A budget is exhausted.
    Budget(BudgetExceeded),
    /// A rate limit is reached.
    Rate(RateExceeded),
    /// The shared state is unreachable and `state_unavailable = "reject"`.
    Unavailable(Unreachable),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Budget(b) => b.fmt(f),
            Refusal::Rate(r) => r.fmt(f),
            Refusal::Unavailable(u) => write!(
                f,
                "{u}; budgets and rate limits cannot be checked, so requests they apply to are \
                 refused (cluster.state_unavailable = \"reject\")"
            ),
        }
    }
}

/// The rate-limit slot and tokens a request holds; settle it when the request ends.
#[derive(Debug)]
pub enum RateTicket {
    /// Held in this process.
    Local(LocalTicket),
    /// Held in the shared state.
    Remote(RemoteTicket),
}

impl RateTicket {
    /// Frees the slot and settles the tokens at what the request used.
    pub fn settle(self, used_tokens: u64, now_ms: i64) {
        match self {
            RateTicket::Local(t) => t.settle(used_tokens),
            RateTicket::Remote(t) => t.settle(used_tokens, now_ms),
        }
    }
}

/// Each budget of `cfg` divided among `replicas`: the share a replica enforces alone.
pub(crate) fn budget_share(cfg: &BudgetsConfig, replicas: u32) -> BudgetsConfig {
    let n = f64::from(replicas.max(1));
    let part = |l: &BudgetLimits| BudgetLimits {
        daily_usd: l.daily_usd.map(|v| v / n),
        monthly_usd: l.monthly_usd.map(|v| v / n),
        on_exhausted: l.on_exhausted,
    };
    BudgetsConfig {
        tenants: cfg
            .tenants
            .iter()
            .map(|(k, l)| (k.clone(), part(l)))
            .collect(),
        routes: cfg
            .routes
            .iter()
            .map(|(k, l)| (k.clone(), part(l)))
            .collect(),
        ..cfg.clone()
    }
}

/// The rate limits of `cfg` divided among `replicas`.
pub(crate) fn rate_share(cfg: &RateLimitsConfig, replicas: u32) -> RateLimitsConfig {
    RateLimitsConfig {
        tenants: cfg
            .tenants
            .iter()
            .map(|(k, l)| (k.clone(), l.share(replicas)))
            .collect(),
        routes: cfg
            .routes
            .iter()
            .map(|(k, l)| (k.clone(), l.share(replicas)))
            .collect(),
    }
}

impl Metering {
    fn fallback(&self, state: &SharedState, e: Unreachable) -> Result<(), Refusal> {
        match state.mode() {
            StateUnavailable::Reject => Err(Refusal::Unavailable(e)),
            StateUnavailable::LocalShare => Ok(()),
        }
    }

    /// Takes one request and `tokens` tokens (its estimated prompt plus its `max_tokens`)
    /// from the rate limits of `tenant` and `route`, and a concurrency slot. `Ok(None)`: no
    /// limit applies.
    pub async fn admit_rate(
        &self,
        tenant: &str,
        route: &str,
        tokens: u64,
        now_ms: i64,
    ) -> Result<Option<(RateTicket, Headroom)>, Refusal> {
        if !self.rates.applies(tenant, route) {
            return Ok(None);
        }
        if let Some(state) = &self.shared {
            match state
                .admit_rate(&self.rate_limits, tenant, route, tokens, now_ms)
                .await
            {
                Ok(Ok(held)) => {
                    return Ok(held.map(|(t, h)| (RateTicket::Remote(t), h)));
                }
                Ok(Err(refused)) => return Err(self.rate_refused(refused)),
                Err(e) => self.fallback(state, e)?,
            }
        }
        match self.rates.admit(tenant, route, tokens, now_ms) {
            Ok((t, h)) => Ok(Some((RateTicket::Local(t), h))),
            Err(refused) => Err(self.rate_refused(refused)),
        }
    }

    fn rate_refused(&self, r: RateExceeded) -> Refusal {
        self.metrics
            .rate_limited(r.scope.as_str(), &r.name, r.kind.as_str());
        Refusal::Rate(r)
    }

    /// Reserves a candidate's worst-case cost against the budgets of `tenant` and `route`
    /// (see [`crate::Budgets::reserve`] for the rules).
    pub async fn reserve_budget(
        &self,
        tenant: &str,
        route: &str,
        worst_case_usd: Option<f64>,
        now_ms: i64,
    ) -> Result<Reservation, Refusal> {
        if let Some(state) = &self.shared {
            match state
                .reserve_budget(&self.budget_limits, tenant, route, worst_case_usd, now_ms)
                .await
            {
                Ok(Ok(hold)) => {
                    let amount = worst_case_usd.unwrap_or(0.0).max(0.0);
                    return Ok(Reservation::remote(hold, amount));
                }
                Ok(Err(refused)) => {
                    self.metrics.budget_refused(
                        refused.scope.as_str(),
                        &refused.name,
                        refused.period.as_str(),
                    );
                    return Err(Refusal::Budget(refused));
                }
                Err(e) => self.fallback(state, e)?,
            }
        }
        self.budgets
            .reserve(tenant, route, worst_case_usd, now_ms)
            .map_err(Refusal::Budget)
    }
}
