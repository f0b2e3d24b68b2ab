//! Budgets per tenant and per route, per UTC day and month, that concurrent requests cannot
//! overrun.
//!
//! Before dispatch the pipeline reserves the candidate's worst-case cost; the check of every
//! applicable budget and the reservation happen under one lock, so committed spend can exceed a
//! limit only by what requests cost beyond their reserved worst case. After the request,
//! `settle` releases the reservation and charges the real cost to the window containing the
//! request's start time (the rule the ledger rebuild uses too). Time is always passed in.

use super::config::{BudgetLimits, BudgetsConfig, OnExhausted};
use super::ledger::SpendSoFar;
use super::metrics::Metrics;
pub use super::window::{BudgetExceeded, Period, Scope};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Tolerance for float comparisons against limits (a millionth of a cent).
const EPSILON_USD: f64 = 1e-8;

/// One budget's state, for admin views.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetStatus {
    /// Tenant or route budget.
    pub scope: Scope,
    /// Tenant or route name.
    pub name: String,
    /// Daily or monthly.
    pub period: Period,
    /// Limit, USD.
    pub limit_usd: f64,
    /// Charged in the current window, USD.
    pub spent_usd: f64,
    /// Reserved by requests in flight, USD.
    pub reserved_usd: f64,
    /// When the window resets, unix ms.
    pub resets_at_ms: i64,
}

#[derive(Debug)]
struct Budget {
    scope: Scope,
    name: String,
    period: Period,
    limit: f64,
    on_exhausted: OnExhausted,
    window_start: i64,
    spent: f64,
    reserved: f64,
}

impl Budget {
    /// Moves the window forward when `at_ms` is in a later one; returns whether `at_ms` falls
    /// in the (possibly new) current window.
    fn roll(&mut self, at_ms: i64) -> bool {
        let start = self.period.window_start(at_ms);
        if start > self.window_start {
            self.window_start = start;
            self.spent = 0.0;
            self.reserved = 0.0;
        }
        start == self.window_start
    }
}

#[derive(Debug)]
struct Inflight {
    amount: f64,
    charges: Vec<(usize, i64)>,
}

#[derive(Debug)]
struct State {
    budgets: Vec<Budget>,
    by_key: HashMap<(Scope, String), Vec<usize>>,
    inflight: HashMap<u64, Inflight>,
    next_id: u64,
}

impl State {
    fn indices(&self, tenant: &str, route: &str) -> Vec<usize> {
        let mut v = Vec::new();
        for key in [(Scope::Tenant, tenant), (Scope::Route, route)] {
            if let Some(ix) = self.by_key.get(&(key.0, key.1.to_string())) {
                v.extend_from_slice(ix);
            }
        }
        v
    }

    fn release(&mut self, id: u64) {
        if let Some(r) = self.inflight.remove(&id) {
            for (i, window_start) in r.charges {
                let b = &mut self.budgets[i];
                if b.window_start == window_start {
                    b.reserved = (b.reserved - r.amount).max(0.0);
                }
            }
        }
    }
}

struct Shared {
    state: Mutex<State>,
    include_free: bool,
    metrics: Option<Arc<Metrics>>,
}

impl Shared {
    fn publish(&self, state: &State, indices: &[usize]) {
        if let Some(m) = &self.metrics {
            for &i in indices {
                let b = &state.budgets[i];
                m.set_budget(
                    b.scope.as_str(),
                    &b.name,
                    b.period.as_str(),
                    b.limit,
                    b.spent,
                    b.limit - b.spent - b.reserved,
                );
            }
        }
    }
}

/// The budgets of every tenant and route, shared by all requests.
#[derive(Clone)]
pub struct Budgets {
    shared: Arc<Shared>,
}

impl fmt::Debug for Budgets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budgets").finish_non_exhaustive()
    }
}

/// Budget held by a request in flight; released when settled or dropped.
pub struct Reservation {
    amount: f64,
    held: Held,
}

enum Held {
    /// In this process's budgets.
    Local { id: u64, shared: Arc<Shared> },
    /// In the shared state (`None`: no budget applied there).
    Remote(Option<crate::shared::RemoteHold>),
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Reservation");
        match &self.held {
            Held::Local { id, .. } => d.field("local", id),
            Held::Remote(h) => d.field("remote", h),
        };
        d.field("amount", &self.amount).finish()
    }
}

impl Reservation {
    /// The USD held.
    pub fn amount_usd(&self) -> f64 {
        self.amount
    }

    /// A reservation held in the shared state.
    pub(crate) fn remote(hold: Option<crate::shared::RemoteHold>, amount: f64) -> Reservation {
        Reservation {
            amount,
            held: Held::Remote(hold),
        }
    }

    /// The shared-state hold, if this reservation is one.
    pub(crate) fn remote_hold(&self) -> Option<&crate::shared::RemoteHold> {
        match &self.held {
            Held::Remote(h) => h.as_ref(),
            Held::Local { .. } => None,
        }
    }

    fn local_id(&self) -> Option<u64> {
        match self.held {
            Held::Local { id, .. } => Some(id),
            Held::Remote(_) => None,
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // A request that never reached `record` gives its reservation back (a remote hold
        // gives itself back when dropped).
        let Held::Local { id, shared } = &self.held else {
            return;
        };
        let mut st = shared.state.lock();
        let charged = st
            .inflight
            .get(id)
            .map(|r| r.charges.iter().map(|c| c.0).collect::<Vec<_>>());
        if let Some(ix) = charged {
            st.release(*id);
            shared.publish(&st, &ix);
        }
    }
}

impl Budgets {
    /// Builds the budgets of `cfg`, starting from the spend the ledger holds for the windows
    /// containing `now_ms`.
    pub fn new(
        cfg: &BudgetsConfig,
        spent: &SpendSoFar,
        now_ms: i64,
        metrics: Option<Arc<Metrics>>,
    ) -> Budgets {
        let mut budgets = Vec::new();
        let mut by_key: HashMap<(Scope, String), Vec<usize>> = HashMap::new();
        let scopes = [
            (Scope::Tenant, &cfg.tenants, &spent.tenants),
            (Scope::Route, &cfg.routes, &spent.routes),
        ];
        for (scope, limits, so_far) in scopes {
            for (name, l) in limits {
                let BudgetLimits {
                    daily_usd,
                    monthly_usd,
                    on_exhausted,
                } = *l;
                let s = so_far.get(name).copied().unwrap_or_default();
                for (period, limit, spent) in [
                    (Period::Daily, daily_usd, s.day_usd),
                    (Period::Monthly, monthly_usd, s.month_usd),
                ] {
                    let Some(limit) = limit else { continue };
                    by_key
                        .entry((scope, name.clone()))
                        .or_default()
                        .push(budgets.len());
                    budgets.push(Budget {
                        scope,
                        name: name.clone(),
                        period,
                        limit,
                        on_exhausted,
                        window_start: period.window_start(now_ms),
                        spent,
                        reserved: 0.0,
                    });
                }
            }
        }
        let all: Vec<usize> = (0..budgets.len()).collect();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                budgets,
                by_key,
                inflight: HashMap::new(),
                next_id: 1,
            }),
            include_free: cfg.include_free_models,
            metrics,
        });
        shared.publish(&shared.state.lock(), &all);
        Budgets { shared }
    }

    /// Checks every budget of `tenant` and `route` and, when all have room, reserves
    /// `worst_case_usd` against each of them atomically.
    ///
    /// `worst_case_usd` comes from `PriceTable::worst_case_usd`: `Some(0.0)` is a free model
    /// (never refused unless `include_free_models`), `None` an unpriced one (refused only once
    /// a budget is exhausted, since its cost cannot be reserved).
    pub fn reserve(
        &self,
        tenant: &str,
        route: &str,
        worst_case_usd: Option<f64>,
        now_ms: i64,
    ) -> Result<Reservation, BudgetExceeded> {
        let amount = worst_case_usd.unwrap_or(0.0).max(0.0);
        let exempt = worst_case_usd == Some(0.0) && !self.shared.include_free;
        let mut st = self.shared.state.lock();
        let ix = st.indices(tenant, route);
        for &i in &ix {
            st.budgets[i].roll(now_ms);
        }
        if !exempt {
            for &i in &ix {
                let b = &st.budgets[i];
                let used = b.spent + b.reserved;
                if used + amount > b.limit + EPSILON_USD || used >= b.limit - EPSILON_USD {
                    let refusal = BudgetExceeded {
                        scope: b.scope,
                        name: b.name.clone(),
                        period: b.period,
                        limit_usd: b.limit,
                        spent_usd: b.spent,
                        reserved_usd: b.reserved,
                        requested_usd: worst_case_usd,
                        resets_at_ms: b.period.next_start(now_ms),
                        on_exhausted: b.on_exhausted,
                    };
                    if let Some(m) = &self.shared.metrics {
                        m.budget_refused(b.scope.as_str(), &b.name, b.period.as_str());
                    }
                    return Err(refusal);
                }
            }
        }
        let mut charges = Vec::with_capacity(ix.len());
        for &i in &ix {
            let b = &mut st.budgets[i];
            b.reserved += amount;
            charges.push((i, b.window_start));
        }
        let id = st.next_id;
        st.next_id += 1;
        st.inflight.insert(id, Inflight { amount, charges });
        self.shared.publish(&st, &ix);
        Ok(Reservation {
            amount,
            held: Held::Local {
                id,
                shared: Arc::clone(&self.shared),
            },
        })
    }

    /// Releases `reservation` (if any) and charges `cost_usd` to the budgets of `tenant` and
    /// `route` for the window containing `started_at_ms`. Settling twice is harmless.
    pub fn settle(
        &self,
        reservation: Option<&Reservation>,
        tenant: &str,
        route: &str,
        cost_usd: f64,
        started_at_ms: i64,
    ) {
        let mut st = self.shared.state.lock();
        if let Some(id) = reservation.and_then(Reservation::local_id) {
            st.release(id);
        }
        let ix = st.indices(tenant, route);
        for &i in &ix {
            let b = &mut st.budgets[i];
            if b.roll(started_at_ms) && cost_usd > 0.0 {
                b.spent += cost_usd;
            }
        }
        self.shared.publish(&st, &ix);
    }

    /// Moves every window to `now_ms` and republishes the gauges (call before serving
    /// `/metrics` so a new day shows full budgets without waiting for a request).
    pub fn refresh(&self, now_ms: i64) {
        let mut st = self.shared.state.lock();
        for b in &mut st.budgets {
            b.roll(now_ms);
        }
        let all: Vec<usize> = (0..st.budgets.len()).collect();
        self.shared.publish(&st, &all);
    }

    /// Every budget's current state.
    pub fn status(&self, now_ms: i64) -> Vec<BudgetStatus> {
        let mut st = self.shared.state.lock();
        st.budgets
            .iter_mut()
            .map(|b| {
                b.roll(now_ms);
                BudgetStatus {
                    scope: b.scope,
                    name: b.name.clone(),
                    period: b.period,
                    limit_usd: b.limit,
                    spent_usd: b.spent,
                    reserved_usd: b.reserved,
                    resets_at_ms: b.period.next_start(now_ms),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Date;

    const DAY: i64 = 86_400_000;

    fn budgets(include_free: bool) -> Budgets {
        let cfg: BudgetsConfig = toml::from_str(&format!(
            "include_free_models = {include_free}\n\
             [tenants.t]\ndaily_usd = 1.0\nmonthly_usd = 3.0\n"
        ))
        .unwrap();
        Budgets::new(&cfg, &SpendSoFar::default(), 0, None)
    }

    #[test]
    fn windows_roll_at_utc_midnight_and_month_start() {
        let b = budgets(false);
        let jan_31 = Date::new(1970, 1, 31).unwrap().start_ms();
        for day in 0..3 {
            let at = jan_31 + day * DAY;
            let r = b.reserve("t", "r", Some(0.9), at).unwrap();
            b.settle(Some(&r), "t", "r", 0.9, at);
        }
        // Three days of $0.90: the monthly window (Jan 31, then Feb 1-2) was reset on Feb 1.
        let s = b.status(jan_31 + 2 * DAY);
        assert!((s[0].spent_usd - 0.9).abs() < 1e-12);
        assert!((s[1].spent_usd - 1.8).abs() < 1e-12);
        assert_eq!(s[0].resets_at_ms, Date::new(1970, 2, 3).unwrap().start_ms());
        assert_eq!(s[1].resets_at_ms, Date::new(1970, 3, 1).unwrap().start_ms());
        // A late settlement for a request that started yesterday does not touch today.
        b.settle(None, "t", "r", 0.5, jan_31 + DAY);
        assert!((b.status(jan_31 + 2 * DAY)[0].spent_usd - 0.9).abs() < 1e-12);
    }

    #[test]
    fn free_and_unpriced_requests_against_an_exhausted_budget() {
        for include_free in [false, true] {
            let b = budgets(include_free);
            b.settle(None, "t", "r", 1.0, 0);
            assert_eq!(b.reserve("t", "r", Some(0.0), 0).is_ok(), !include_free);
            assert!(b.reserve("t", "r", None, 0).is_err());
            assert!(
                b.reserve("other", "r", Some(5.0), 0).is_ok(),
                "no budget, no limit"
            );
        }
    }

    #[test]
    fn settling_twice_or_dropping_releases_once() {
        let b = budgets(false);
        let r = b.reserve("t", "r", Some(0.6), 0).unwrap();
        b.settle(Some(&r), "t", "r", 0.1, 0);
        b.settle(Some(&r), "t", "r", 0.0, 0);
        drop(r);
        let s = &b.status(0)[0];
        assert_eq!(s.reserved_usd, 0.0);
        assert!((s.spent_usd - 0.1).abs() < 1e-12);
        let held = b.reserve("t", "r", Some(0.9), 0).unwrap();
        assert!(b.reserve("t", "r", Some(0.01), 0).is_err());
        drop(held);
        assert!(b.reserve("t", "r", Some(0.9), 0).is_ok());
    }
}
