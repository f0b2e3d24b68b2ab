//! What the spend page shows, read in one go: the spend report's lines (the very figures
//! `tollgate spend` prints), the dashboard queries of `tollgate_metering::dashboard`, and the
//! budgets' live state. SQLite reads block, so callers run [`load`] off the async workers.

use std::path::Path;
use tollgate_metering::dashboard::{
    self, DayPoint, IdleCompute, Savings, Share, TopRequest, Window,
};
use tollgate_metering::spend::{self, GroupBy, SpendLine};
use tollgate_metering::{BudgetStatus, MeteringError};

/// The groupings that get a chart and a table.
pub const GROUPS: [GroupBy; 3] = [GroupBy::Route, GroupBy::Tenant, GroupBy::Model];

/// The costliest requests listed (and exported by `top.csv` unless it asks for another number).
pub const TOP_REQUESTS: usize = 20;

/// One grouping's table and chart.
#[derive(Debug, Clone)]
pub struct Grouped {
    /// What the lines are grouped by.
    pub by: GroupBy,
    /// The spend report's lines for the window.
    pub lines: Vec<SpendLine>,
    /// The same requests per day.
    pub daily: Vec<DayPoint>,
}

/// Everything read from the ledger for one window.
#[derive(Debug, Clone)]
pub struct LedgerViews {
    /// By route, tenant and model, in [`GROUPS`] order.
    pub groups: Vec<Grouped>,
    /// Inside versus outside the trust boundary.
    pub shares: Vec<Share>,
    /// The costliest requests.
    pub top: Vec<TopRequest>,
    /// Savings against API prices, when recorded.
    pub savings: Savings,
    /// Idle local compute, when recorded.
    pub idle: IdleCompute,
}

impl LedgerViews {
    /// Every request of the window counted once: the sum over routes (each request has one).
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for l in self.groups.first().map_or(&[][..], |g| &g.lines[..]) {
            t.requests += l.requests;
            t.prompt_tokens += l.prompt_tokens;
            t.completion_tokens += l.completion_tokens;
            t.cost_usd += l.cost_usd;
            t.unknown_cost_requests += l.unknown_cost_requests;
        }
        t
    }
}

/// The window's totals for the page header.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    /// Requests.
    pub requests: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Known cost, USD.
    pub cost_usd: f64,
    /// Requests of unknown cost.
    pub unknown_cost_requests: u64,
}

/// The page's data.
#[derive(Debug, Clone)]
pub struct PageData {
    /// The days shown.
    pub window: Window,
    /// Today (UTC), for the quick window links.
    pub today: tollgate_metering::time::Date,
    /// When the page was made, unix ms.
    pub generated_ms: i64,
    /// Every budget's current window.
    pub budgets: Vec<BudgetStatus>,
    /// The ledger's views, or why there are none.
    pub ledger: Result<LedgerViews, String>,
}

/// Why the ledger cannot be read, in words for the page; `None` when it can.
pub fn unavailable(db: &Path, enabled: bool) -> Option<String> {
    if !enabled {
        Some("The ledger is disabled ([ledger] enabled = false): nothing is recorded.".into())
    } else if !db.is_file() {
        Some(format!(
            "No ledger at {} yet: nothing has been recorded.",
            db.display()
        ))
    } else {
        None
    }
}

/// Reads the ledger's views for `window`.
pub fn load(db: &Path, window: Window) -> Result<LedgerViews, MeteringError> {
    let mut groups = Vec::with_capacity(GROUPS.len());
    for by in GROUPS {
        groups.push(Grouped {
            by,
            lines: spend::lines(db, by, Some(window.since), Some(window.until))?,
            daily: dashboard::daily(db, by, window)?,
        });
    }
    Ok(LedgerViews {
        groups,
        shares: dashboard::shares(db, window)?,
        top: dashboard::top_requests(db, window, TOP_REQUESTS)?,
        savings: dashboard::savings(db, window)?,
        idle: dashboard::idle(db, window)?,
    })
}
