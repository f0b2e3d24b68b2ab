//! The `spend` report: requests, tokens and known cost from the ledger, grouped for finance.
//!
//! Every cost is in: the served answers, the failed attempts providers billed (`failed_usd`,
//! part of `cost_usd`), and the idle time of backends priced by the hour, as one extra line
//! per backend (`kind` = `idle`, key `(idle) BACKEND`, or `DAY (idle) BACKEND` by day) in
//! every grouping, so the total is what the period cost. By route, tenant and day a failed
//! attempt's charge counts where its request does; by backend and model it counts where it
//! was billed, the attempt's own backend and model (from the row's `attempt_log`), so a line
//! may have charges and no request. With a `[prices] reference_model`,
//! `api_equivalent_usd` is what the same tokens would have cost at that model and
//! `savings_usd` the equivalent minus the cost, over the rows that have both; an idle line then
//! counts as an equivalent of $0 (an API bills no idle time), so the total's savings are net of
//! the idle cost.

mod format;

pub use format::csv_field;

use super::ledger::{open_read_only, schema_version};
use super::time::Date;
use super::MeteringError;
use rusqlite::{params, Connection};
use std::path::Path;

/// What rows are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// Route name.
    Route,
    /// Tenant name.
    Tenant,
    /// `BACKEND/MODEL`, as keyed in the price table.
    Model,
    /// Backend name.
    Backend,
    /// UTC day of the request's start, `YYYY-MM-DD`.
    Day,
}

impl GroupBy {
    /// The column header of the group key.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Route => "route",
            GroupBy::Tenant => "tenant",
            GroupBy::Model => "model",
            GroupBy::Backend => "backend",
            GroupBy::Day => "day",
        }
    }

    fn sql(self) -> &'static str {
        match self {
            GroupBy::Route => "route",
            GroupBy::Tenant => "tenant",
            GroupBy::Model => "COALESCE(backend, '(none)') || '/' || COALESCE(model, '(none)')",
            GroupBy::Backend => "COALESCE(backend, '(none)')",
            GroupBy::Day => "strftime('%Y-%m-%d', ts_ms / 1000, 'unixepoch')",
        }
    }

    /// The key of an attempt in a row's `attempt_log`, for the groupings that put a failed
    /// attempt's charge where it was billed.
    fn attempt_sql(self) -> Option<&'static str> {
        match self {
            GroupBy::Backend => Some("json_extract(a.value, '$.backend')"),
            GroupBy::Model => Some(
                "json_extract(a.value, '$.backend') || '/' || json_extract(a.value, '$.model')",
            ),
            _ => None,
        }
    }

    /// The key of an idle line: its day too when grouped by day (a period is within one
    /// UTC hour, so within one day).
    fn idle_sql(self) -> &'static str {
        match self {
            GroupBy::Day => {
                "strftime('%Y-%m-%d', period_start_ms / 1000, 'unixepoch') || ' (idle) ' || backend"
            }
            _ => "'(idle) ' || backend",
        }
    }
}

impl std::str::FromStr for GroupBy {
    type Err = String;
    /// Parses `route`, `tenant`, `model`, `backend` or `day` (for the CLI's `--by`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            GroupBy::Route,
            GroupBy::Tenant,
            GroupBy::Model,
            GroupBy::Backend,
            GroupBy::Day,
        ]
        .into_iter()
        .find(|g| g.as_str().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| {
            format!("unknown grouping '{s}': expected route, tenant, model, backend or day")
        })
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned text with a total line.
    Table,
    /// RFC 4180 CSV (CRLF line ends, header row, no total row).
    Csv,
    /// A JSON array of objects, one per group.
    Json,
}

impl std::str::FromStr for Format {
    type Err = String;
    /// Parses `table`, `csv` or `json` (for the CLI's `--format`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            _ => Err(format!("unknown format '{s}': expected table, csv or json")),
        }
    }
}

/// `kind` of a line grouping requests.
pub const REQUESTS: &str = "requests";
/// `kind` of a line holding a backend's idle cost.
pub const IDLE: &str = "idle";

/// One group of the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SpendLine {
    /// The group key (route, tenant, `BACKEND/MODEL`, backend or day; `(idle) BACKEND` or
    /// `DAY (idle) BACKEND` for an idle line).
    pub key: String,
    /// [`REQUESTS`], or [`IDLE`] for a backend's idle cost.
    pub kind: &'static str,
    /// Requests recorded.
    pub requests: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cached prompt tokens.
    pub cached_tokens: u64,
    /// Requests whose token counts were estimated.
    pub estimated_requests: u64,
    /// Sum of known costs, USD: failed attempts' charges included; an idle line's idle cost.
    pub cost_usd: f64,
    /// Requests whose cost is unknown (not included in `cost_usd`).
    pub unknown_cost_requests: u64,
    /// The part of `cost_usd` charged for failed attempts that reached their provider.
    pub failed_usd: f64,
    /// What the same tokens would have cost at `[prices] reference_model`; `None` when no row
    /// has an equivalent.
    pub api_equivalent_usd: Option<f64>,
    /// `api_equivalent_usd − cost_usd` over the rows that have both.
    pub savings_usd: Option<f64>,
    /// An idle line's seconds with a request in flight.
    pub busy_s: Option<f64>,
    /// An idle line's seconds with none.
    pub idle_s: Option<f64>,
}

impl SpendLine {
    fn empty(key: String, kind: &'static str) -> SpendLine {
        SpendLine {
            key,
            kind,
            requests: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            cached_tokens: 0,
            estimated_requests: 0,
            cost_usd: 0.0,
            unknown_cost_requests: 0,
            failed_usd: 0.0,
            api_equivalent_usd: None,
            savings_usd: None,
            busy_s: None,
            idle_s: None,
        }
    }
}

/// Reads the ledger at `db_path` and groups the requests started, and the idle periods begun,
/// between `since` and `until` (UTC days, both inclusive).
pub fn lines(
    db_path: &Path,
    by: GroupBy,
    since: Option<Date>,
    until: Option<Date>,
) -> Result<Vec<SpendLine>, MeteringError> {
    let conn = open_read_only(db_path)?;
    lines_in(&conn, db_path, by, since, until)
}

/// [`lines`] over an open ledger, `source` naming it in errors: also a scratch ledger holding
/// rows read from PostgreSQL (see `ship::Reader`), so both sources are reported alike.
pub fn lines_in(
    conn: &Connection,
    source: &Path,
    by: GroupBy,
    since: Option<Date>,
    until: Option<Date>,
) -> Result<Vec<SpendLine>, MeteringError> {
    let from = since.map_or(i64::MIN, |d| d.start_ms());
    let to = until.map_or(i64::MAX, |d| d.next().start_ms());
    let ctx = |e| MeteringError::ledger(source, e);
    // A ledger not yet migrated (no gateway of this version opened it) has none of the
    // columns of version 5 and no idle table: it had no such costs.
    let v5 = schema_version(conn).map_err(ctx)? >= 5;
    let by_attempt = by.attempt_sql().filter(|_| v5);
    let mut out = request_lines(conn, by, from, to, v5, by_attempt.is_some()).map_err(ctx)?;
    let has_equivalent = out.iter().any(|l| l.api_equivalent_usd.is_some());
    if let Some(key) = by_attempt {
        let charges = failed_charges(conn, key, from, to).map_err(ctx)?;
        add_charges(&mut out, charges, has_equivalent);
    }
    if v5 {
        let mut idle = idle_lines(conn, by, from, to).map_err(ctx)?;
        if has_equivalent {
            for l in &mut idle {
                l.api_equivalent_usd = Some(0.0);
                l.savings_usd = Some(-l.cost_usd);
            }
        }
        out.extend(idle);
        if by == GroupBy::Day {
            // Each day's idle lines right after its requests.
            out.sort_by(|a, b| a.key.cmp(&b.key));
        }
    }
    Ok(out)
}

/// The request lines. With `charges_apart`, a row's cost leaves out its failed attempts'
/// charges, which [`failed_charges`] puts under the attempts' own keys.
fn request_lines(
    conn: &Connection,
    by: GroupBy,
    from: i64,
    to: i64,
    v5: bool,
    charges_apart: bool,
) -> Result<Vec<SpendLine>, rusqlite::Error> {
    let (cost, failed, equivalent, savings) = match (v5, charges_apart) {
        (false, _) => ("COALESCE(SUM(cost_usd), 0)", "0.0", "NULL", "NULL"),
        (true, false) => (
            "COALESCE(SUM(cost_usd), 0)",
            "COALESCE(SUM(failed_usd), 0)",
            "SUM(api_equivalent_usd)",
            "SUM(api_equivalent_usd - cost_usd)",
        ),
        (true, true) => (
            "COALESCE(SUM(cost_usd - failed_usd), 0)",
            "0.0",
            "SUM(api_equivalent_usd)",
            "SUM(api_equivalent_usd - (cost_usd - failed_usd))",
        ),
    };
    // Each difference with `cost_usd` is NULL when the cost is unknown: SUM skips those rows.
    let sql = format!(
        "SELECT {key} AS k, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), \
                SUM(cached_tokens), SUM(estimated), {cost}, \
                SUM(cost_usd IS NULL), {failed}, {equivalent}, {savings} \
         FROM requests WHERE ts_ms >= ?1 AND ts_ms < ?2 GROUP BY k ORDER BY k",
        key = by.sql()
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![from, to], |r| {
        Ok(SpendLine {
            requests: r.get::<_, i64>(1)? as u64,
            prompt_tokens: r.get::<_, i64>(2)? as u64,
            completion_tokens: r.get::<_, i64>(3)? as u64,
            cached_tokens: r.get::<_, i64>(4)? as u64,
            estimated_requests: r.get::<_, i64>(5)? as u64,
            cost_usd: r.get(6)?,
            unknown_cost_requests: r.get::<_, i64>(7)? as u64,
            failed_usd: r.get(8)?,
            api_equivalent_usd: r.get(9)?,
            savings_usd: r.get(10)?,
            ..SpendLine::empty(r.get(0)?, REQUESTS)
        })
    })?;
    rows.collect()
}

/// What failed attempts were charged, by the attempt's own key (`key`, an expression over
/// the log entry `a`), over the rows of known cost (as `cost_usd` sums them).
fn failed_charges(
    conn: &Connection,
    key: &str,
    from: i64,
    to: i64,
) -> Result<Vec<(String, f64)>, rusqlite::Error> {
    let sql = format!(
        "SELECT {key} AS k, SUM(json_extract(a.value, '$.cost_usd')) FROM requests r, \
         json_each(CASE WHEN json_valid(r.attempt_log) THEN r.attempt_log ELSE '[]' END) a \
         WHERE r.ts_ms >= ?1 AND r.ts_ms < ?2 AND r.cost_usd IS NOT NULL AND r.failed_usd > 0 \
         AND json_extract(a.value, '$.served') = 0 AND json_extract(a.value, '$.cost_usd') > 0 \
         GROUP BY k ORDER BY k"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![from, to], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Adds failed attempts' charges to the lines of their keys (a line without requests where
/// none served). With equivalents, a charge is savings lost: the equivalent had no failure.
fn add_charges(lines: &mut Vec<SpendLine>, charges: Vec<(String, f64)>, has_equivalent: bool) {
    for (key, usd) in charges {
        let at = match lines.iter().position(|l| l.key == key) {
            Some(i) => i,
            None => {
                lines.push(SpendLine::empty(key, REQUESTS));
                lines.len() - 1
            }
        };
        let l = &mut lines[at];
        l.cost_usd += usd;
        l.failed_usd += usd;
        if has_equivalent {
            l.api_equivalent_usd.get_or_insert(0.0);
            l.savings_usd = Some(l.savings_usd.unwrap_or(0.0) - usd);
        }
    }
    lines.sort_by(|a, b| a.key.cmp(&b.key));
}

fn idle_lines(
    conn: &Connection,
    by: GroupBy,
    from: i64,
    to: i64,
) -> Result<Vec<SpendLine>, rusqlite::Error> {
    let sql = format!(
        "SELECT {key} AS k, SUM(cost_usd), SUM(busy_s), SUM(idle_s) FROM idle \
         WHERE period_start_ms >= ?1 AND period_start_ms < ?2 GROUP BY k ORDER BY k",
        key = by.idle_sql()
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![from, to], |r| {
        Ok(SpendLine {
            cost_usd: r.get(1)?,
            busy_s: Some(r.get(2)?),
            idle_s: Some(r.get(3)?),
            ..SpendLine::empty(r.get(0)?, IDLE)
        })
    })?;
    rows.collect()
}

/// The spend report as text in `format` (see `lines` for the selection).
pub fn report(
    db_path: &Path,
    by: GroupBy,
    since: Option<Date>,
    until: Option<Date>,
    format: Format,
) -> Result<String, MeteringError> {
    let conn = open_read_only(db_path)?;
    report_in(&conn, db_path, by, since, until, format)
}

/// [`report`] over an open ledger (see [`lines_in`]).
pub fn report_in(
    conn: &Connection,
    source: &Path,
    by: GroupBy,
    since: Option<Date>,
    until: Option<Date>,
    format: Format,
) -> Result<String, MeteringError> {
    let lines = lines_in(conn, source, by, since, until)?;
    Ok(match format {
        Format::Table => format::table(by, &lines),
        Format::Csv => format::csv(by, &lines),
        Format::Json => serde_json::to_string_pretty(&lines).map_err(MeteringError::Json)?,
    })
}

/// The sum of every line, keyed `TOTAL`.
pub fn total(lines: &[SpendLine]) -> SpendLine {
    let add = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    };
    lines.iter().fold(
        SpendLine::empty("TOTAL".to_string(), REQUESTS),
        |mut t, l| {
            t.requests += l.requests;
            t.prompt_tokens += l.prompt_tokens;
            t.completion_tokens += l.completion_tokens;
            t.cached_tokens += l.cached_tokens;
            t.estimated_requests += l.estimated_requests;
            t.cost_usd += l.cost_usd;
            t.unknown_cost_requests += l.unknown_cost_requests;
            t.failed_usd += l.failed_usd;
            t.api_equivalent_usd = add(t.api_equivalent_usd, l.api_equivalent_usd);
            t.savings_usd = add(t.savings_usd, l.savings_usd);
            t.busy_s = add(t.busy_s, l.busy_s);
            t.idle_s = add(t.idle_s, l.idle_s);
            t
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_csv_quotes() {
        assert_eq!("Tenant".parse::<GroupBy>(), Ok(GroupBy::Tenant));
        assert_eq!("day".parse::<GroupBy>(), Ok(GroupBy::Day));
        assert!("week".parse::<GroupBy>().is_err());
        assert_eq!("CSV".parse::<Format>(), Ok(Format::Csv));
        assert!("xml".parse::<Format>().is_err());
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }
}
