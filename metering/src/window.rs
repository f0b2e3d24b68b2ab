//! The windows budgets count in and what a refusal says: shared by the budgets of this
//! process (`budget`) and of every replica (`shared`).

use crate::config::OnExhausted;
use crate::time::Date;
use std::fmt;

/// What a budget applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One tenant.
    Tenant,
    /// One route.
    Route,
}

impl Scope {
    /// Label value: `tenant` or `route`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Tenant => "tenant",
            Scope::Route => "route",
        }
    }
}

/// The length of a budget's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// A UTC day.
    Daily,
    /// A UTC calendar month.
    Monthly,
}

impl Period {
    /// Label value: `daily` or `monthly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Monthly => "monthly",
        }
    }

    /// Start (unix ms) of the window containing `at_ms`.
    pub(crate) fn window_start(self, at_ms: i64) -> i64 {
        let d = Date::from_unix_ms(at_ms);
        match self {
            Period::Daily => d.start_ms(),
            Period::Monthly => d.month_start().start_ms(),
        }
    }

    /// Start (unix ms) of the window after the one containing `at_ms`.
    pub(crate) fn next_start(self, at_ms: i64) -> i64 {
        let d = Date::from_unix_ms(at_ms);
        match self {
            Period::Daily => d.next().start_ms(),
            Period::Monthly => d.next_month_start().start_ms(),
        }
    }
}

/// A budget's refusal: which budget, its limit, what is spent, and when it resets.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetExceeded {
    /// Tenant or route budget.
    pub scope: Scope,
    /// Tenant or route name.
    pub name: String,
    /// Daily or monthly.
    pub period: Period,
    /// The limit in USD.
    pub limit_usd: f64,
    /// USD charged in the current window.
    pub spent_usd: f64,
    /// USD reserved by requests in flight.
    pub reserved_usd: f64,
    /// The worst-case cost that did not fit (`None`: the model has no price).
    pub requested_usd: Option<f64>,
    /// When the window resets, unix ms.
    pub resets_at_ms: i64,
    /// What the pipeline should do about it.
    pub on_exhausted: OnExhausted,
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} budget of {} '{}' exhausted: limit ${:.2}, spent ${:.4}, in flight ${:.4}; resets at {}",
            self.period.as_str(),
            self.scope.as_str(),
            self.name,
            self.limit_usd,
            self.spent_usd,
            self.reserved_usd,
            Date::from_unix_ms(self.resets_at_ms),
        )
    }
}
