//! The queries behind the admin spend page that the spend report does not answer: daily series
//! per group, the costliest requests, the share served inside and outside the organisation,
//! savings against API prices and idle local compute.
//!
//! The page's tables come from [`super::spend::lines`], so they are the figures
//! `tollgate spend` prints; what is here only adds views the report has no grouping for. Every
//! query reads a window of UTC days, both ends inclusive, as the report does.

use super::ledger::open_read_only;
use super::spend::GroupBy;
use super::time::Date;
use super::MeteringError;
use rusqlite::{params, Connection};
use std::path::Path;
use tollgate_policies::Zone;

/// A window of UTC days, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The first day.
    pub since: Date,
    /// The last day.
    pub until: Date,
}

impl Window {
    /// Unix ms of the window's start and of the instant after its end.
    fn bounds(self) -> (i64, i64) {
        (self.since.start_ms(), self.until.next().start_ms())
    }

    /// Every day of the window, in order.
    pub fn days(self) -> Vec<Date> {
        let mut out = Vec::new();
        let mut d = self.since;
        while d <= self.until {
            out.push(d);
            d = d.next();
        }
        out
    }
}

/// One group's figures on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct DayPoint {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// The group key, as the spend report writes it.
    pub key: String,
    /// Requests recorded.
    pub requests: u64,
    /// Known cost, USD.
    pub cost_usd: f64,
}

/// The group key of a row, written exactly as the spend report's grouping writes it (a unit
/// test holds the two together), so a chart's series and a table's lines share their names.
/// The report keeps its own expressions private; repeating them here keeps it untouched.
fn key_sql(by: GroupBy) -> &'static str {
    match by {
        GroupBy::Route => "route",
        GroupBy::Tenant => "tenant",
        GroupBy::Model => "COALESCE(backend, '(none)') || '/' || COALESCE(model, '(none)')",
        GroupBy::Backend => "COALESCE(backend, '(none)')",
        GroupBy::Day => "strftime('%Y-%m-%d', ts_ms / 1000, 'unixepoch')",
    }
}

/// The key of an idle line, as the spend report writes it.
fn idle_key_sql(by: GroupBy) -> &'static str {
    match by {
        GroupBy::Day => {
            "strftime('%Y-%m-%d', period_start_ms / 1000, 'unixepoch') || ' (idle) ' || backend"
        }
        _ => "'(idle) ' || backend",
    }
}

const DAY_SQL: &str = "strftime('%Y-%m-%d', ts_ms / 1000, 'unixepoch')";
const IDLE_DAY_SQL: &str = "strftime('%Y-%m-%d', period_start_ms / 1000, 'unixepoch')";

fn ctx(db: &Path) -> impl Fn(rusqlite::Error) -> MeteringError + '_ {
    move |e| MeteringError::ledger(db, e)
}

/// Requests and known cost per day and group in `window`, ordered by day then key; days and
/// groups without any are absent. Idle periods of backends priced by the hour count on the
/// day they began, keyed `(idle) BACKEND` as the spend report keys its idle lines.
pub fn daily(db: &Path, by: GroupBy, window: Window) -> Result<Vec<DayPoint>, MeteringError> {
    let conn = open_read_only(db)?;
    let (from, to) = window.bounds();
    let requests = format!(
        "SELECT {DAY_SQL} AS d, {key} AS k, COUNT(*), COALESCE(SUM(cost_usd), 0) \
         FROM requests WHERE ts_ms >= ?1 AND ts_ms < ?2 GROUP BY d, k",
        key = key_sql(by)
    );
    let mut points = day_points(&conn, &requests, from, to).map_err(ctx(db))?;
    if idle_readable(&conn).map_err(ctx(db))? {
        let idle = format!(
            "SELECT {IDLE_DAY_SQL} AS d, {key} AS k, 0, SUM(cost_usd) FROM idle \
             WHERE period_start_ms >= ?1 AND period_start_ms < ?2 GROUP BY d, k",
            key = idle_key_sql(by)
        );
        points.extend(day_points(&conn, &idle, from, to).map_err(ctx(db))?);
    }
    points.sort_by(|a, b| (&a.day, &a.key).cmp(&(&b.day, &b.key)));
    Ok(points)
}

fn day_points(
    conn: &Connection,
    sql: &str,
    from: i64,
    to: i64,
) -> Result<Vec<DayPoint>, rusqlite::Error> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(params![from, to], |r| {
        Ok(DayPoint {
            day: r.get(0)?,
            key: r.get(1)?,
            requests: r.get::<_, i64>(2)? as u64,
            cost_usd: r.get(3)?,
        })
    })?;
    rows.collect()
}

/// One of the costliest requests: ids and metadata only (the ledger holds no prompt text).
#[derive(Debug, Clone, PartialEq)]
pub struct TopRequest {
    /// Gateway request id.
    pub request_id: String,
    /// Accept time, unix ms.
    pub ts_ms: i64,
    /// Tenant.
    pub tenant: String,
    /// Route.
    pub route: String,
    /// Serving (or last tried) backend.
    pub backend: Option<String>,
    /// Serving (or last tried) model.
    pub model: Option<String>,
    /// Zone of that backend.
    pub zone: Option<String>,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cost, USD.
    pub cost_usd: f64,
    /// Outcome label.
    pub outcome: String,
}

/// The `limit` requests of known cost in `window` that cost most, costliest first (newest
/// first among equal costs). Requests of unknown cost cannot be ranked and are left out.
pub fn top_requests(
    db: &Path,
    window: Window,
    limit: usize,
) -> Result<Vec<TopRequest>, MeteringError> {
    let conn = open_read_only(db)?;
    let (from, to) = window.bounds();
    let mut stmt = conn
        .prepare(
            "SELECT request_id, ts_ms, tenant, route, backend, model, zone, prompt_tokens, \
                    completion_tokens, cost_usd, outcome \
             FROM requests WHERE ts_ms >= ?1 AND ts_ms < ?2 AND cost_usd IS NOT NULL \
             ORDER BY cost_usd DESC, ts_ms DESC, id DESC LIMIT ?3",
        )
        .map_err(ctx(db))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![from, to, limit], |r| {
            Ok(TopRequest {
                request_id: r.get(0)?,
                ts_ms: r.get(1)?,
                tenant: r.get(2)?,
                route: r.get(3)?,
                backend: r.get(4)?,
                model: r.get(5)?,
                zone: r.get(6)?,
                prompt_tokens: r.get::<_, i64>(7)? as u64,
                completion_tokens: r.get::<_, i64>(8)? as u64,
                cost_usd: r.get(9)?,
                outcome: r.get(10)?,
            })
        })
        .map_err(ctx(db))?;
    rows.collect::<Result<Vec<_>, _>>().map_err(ctx(db))
}

/// Which side of the trust boundary served a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// Inside the organisation: the on-device model or a local server.
    Local,
    /// A third-party API.
    External,
    /// No backend: refused, rejected, or failed before one was chosen.
    Unserved,
}

impl Side {
    /// The side a ledger `zone` value is on (the zone names of `tollgate_policies::Zone`).
    pub fn of(zone: Option<&str>) -> Side {
        match Zone::ALL.into_iter().find(|z| Some(z.as_str()) == zone) {
            Some(Zone::OnDevice | Zone::Local) => Side::Local,
            Some(Zone::External) => Side::External,
            None => Side::Unserved,
        }
    }

    /// Label: `local`, `external` or `unserved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Local => "local",
            Side::External => "external",
            Side::Unserved => "unserved",
        }
    }
}

/// Traffic and spend on one side of the trust boundary.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// The side.
    pub side: Side,
    /// The zones counted in it (`on_device`, `local`, `external`), sorted.
    pub zones: Vec<String>,
    /// Requests.
    pub requests: u64,
    /// Prompt plus completion tokens.
    pub tokens: u64,
    /// Known cost, USD.
    pub cost_usd: f64,
}

/// Requests, tokens and known cost in `window` per side of the trust boundary, in the order
/// local, external, unserved; a side without requests is absent.
pub fn shares(db: &Path, window: Window) -> Result<Vec<Share>, MeteringError> {
    let conn = open_read_only(db)?;
    let (from, to) = window.bounds();
    let mut stmt = conn
        .prepare(
            "SELECT zone, COUNT(*), SUM(prompt_tokens + completion_tokens), \
                    COALESCE(SUM(cost_usd), 0) \
             FROM requests WHERE ts_ms >= ?1 AND ts_ms < ?2 GROUP BY zone",
        )
        .map_err(ctx(db))?;
    let rows = stmt
        .query_map(params![from, to], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
                r.get::<_, f64>(3)?,
            ))
        })
        .map_err(ctx(db))?;
    let mut out: Vec<Share> = Vec::new();
    for row in rows {
        let (zone, requests, tokens, cost_usd) = row.map_err(ctx(db))?;
        let side = Side::of(zone.as_deref());
        let i = match out.iter().position(|s| s.side == side) {
            Some(i) => i,
            None => {
                out.push(Share {
                    side,
                    zones: Vec::new(),
                    requests: 0,
                    tokens: 0,
                    cost_usd: 0.0,
                });
                out.len() - 1
            }
        };
        let s = &mut out[i];
        s.zones.extend(zone);
        s.requests += requests;
        s.tokens += tokens;
        s.cost_usd += cost_usd;
    }
    for s in &mut out {
        s.zones.sort();
    }
    out.sort_by_key(|s| s.side);
    Ok(out)
}

/// The column names of `table`, none when the ledger has no such table.
fn columns(conn: &Connection, table: &str) -> Result<Vec<String>, rusqlite::Error> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names = stmt.query_map([table], |r| r.get::<_, String>(0))?;
    names.collect()
}

/// What requests would have cost at the reference model's price (`[prices] reference_model`),
/// against what they did cost.
#[derive(Debug, Clone, PartialEq)]
pub enum Savings {
    /// The ledger has no `api_equivalent_usd` column (written before it was recorded).
    NotRecorded,
    /// Figures over the requests whose API-equivalent and actual costs are both known.
    Recorded {
        /// Requests with both costs.
        requests: u64,
        /// Their cost at the reference price, USD.
        api_equivalent_usd: f64,
        /// Their actual cost, USD.
        cost_usd: f64,
    },
}

impl Savings {
    /// API-equivalent minus actual cost, when recorded.
    pub fn saved_usd(&self) -> Option<f64> {
        match self {
            Savings::NotRecorded => None,
            Savings::Recorded {
                api_equivalent_usd,
                cost_usd,
                ..
            } => Some(api_equivalent_usd - cost_usd),
        }
    }
}

/// Savings in `window` over the rows with both costs (as the spend report's `savings_usd`), or
/// [`Savings::NotRecorded`] when the ledger has no API-equivalent column (detected with
/// `PRAGMA table_info`, so older ledgers still render).
pub fn savings(db: &Path, window: Window) -> Result<Savings, MeteringError> {
    let conn = open_read_only(db)?;
    let cols = columns(&conn, "requests").map_err(ctx(db))?;
    if !cols.iter().any(|c| c == "api_equivalent_usd") {
        return Ok(Savings::NotRecorded);
    }
    let (from, to) = window.bounds();
    conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(api_equivalent_usd), 0), COALESCE(SUM(cost_usd), 0) \
         FROM requests WHERE ts_ms >= ?1 AND ts_ms < ?2 \
           AND api_equivalent_usd IS NOT NULL AND cost_usd IS NOT NULL",
        params![from, to],
        |r| {
            Ok(Savings::Recorded {
                requests: r.get::<_, i64>(0)? as u64,
                api_equivalent_usd: r.get(1)?,
                cost_usd: r.get(2)?,
            })
        },
    )
    .map_err(ctx(db))
}

/// Busy and idle time of one backend priced by the hour, and what its idle time cost.
#[derive(Debug, Clone, PartialEq)]
pub struct IdleLine {
    /// Backend name.
    pub backend: String,
    /// Seconds with a request in flight.
    pub busy_s: f64,
    /// Seconds with none.
    pub idle_s: f64,
    /// The idle time's cost, USD.
    pub cost_usd: f64,
}

/// Idle compute in a window, as far as the ledger records it.
#[derive(Debug, Clone, PartialEq)]
pub enum IdleCompute {
    /// The ledger has no `idle` table (written before idle time was recorded).
    NotRecorded,
    /// An `idle` table without the columns read here; its column names, for the page to say.
    Unreadable(Vec<String>),
    /// Per backend, by name.
    Recorded(Vec<IdleLine>),
}

/// The `idle` columns [`idle`] reads.
const IDLE_COLUMNS: [&str; 5] = ["backend", "period_start_ms", "busy_s", "idle_s", "cost_usd"];

/// Whether the ledger has an `idle` table with the columns read here.
fn idle_readable(conn: &Connection) -> Result<bool, rusqlite::Error> {
    let cols = columns(conn, "idle")?;
    Ok(IDLE_COLUMNS
        .iter()
        .all(|c| cols.iter().any(|have| have == c)))
}

/// Idle compute per backend over the idle periods begun in `window` (the spend report's rule),
/// from the ledger's `idle` table; a ledger without one (`PRAGMA table_info`) still renders.
pub fn idle(db: &Path, window: Window) -> Result<IdleCompute, MeteringError> {
    let conn = open_read_only(db)?;
    let cols = columns(&conn, "idle").map_err(ctx(db))?;
    if cols.is_empty() {
        return Ok(IdleCompute::NotRecorded);
    }
    if !IDLE_COLUMNS
        .iter()
        .all(|c| cols.iter().any(|have| have == c))
    {
        return Ok(IdleCompute::Unreadable(cols));
    }
    let (from, to) = window.bounds();
    let mut stmt = conn
        .prepare(
            "SELECT backend, SUM(busy_s), SUM(idle_s), SUM(cost_usd) FROM idle \
             WHERE period_start_ms >= ?1 AND period_start_ms < ?2 \
             GROUP BY backend ORDER BY backend",
        )
        .map_err(ctx(db))?;
    let rows = stmt
        .query_map(params![from, to], |r| {
            Ok(IdleLine {
                backend: r.get(0)?,
                busy_s: r.get(1)?,
                idle_s: r.get(2)?,
                cost_usd: r.get(3)?,
            })
        })
        .map_err(ctx(db))?;
    let lines = rows.collect::<Result<Vec<_>, _>>().map_err(ctx(db))?;
    Ok(IdleCompute::Recorded(lines))
}

#[cfg(test)]
mod tests;
