//! The `spend` report: requests, tokens and known cost from the ledger, grouped for finance.

use super::ledger::open_read_only;
use super::time::Date;
use super::MeteringError;
use rusqlite::params;
use std::fmt::Write as _;
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

/// One group of the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SpendLine {
    /// The group key (route, tenant, `BACKEND/MODEL`, backend or day).
    pub key: String,
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
    /// Sum of known costs, USD.
    pub cost_usd: f64,
    /// Requests whose cost is unknown (not included in `cost_usd`).
    pub unknown_cost_requests: u64,
}

/// CSV columns after the group key.
const COLUMNS: [&str; 7] = [
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "estimated_requests",
    "cost_usd",
    "unknown_cost_requests",
];

/// Reads the ledger at `db_path` and groups the requests started between `since` and `until`
/// (UTC days, both inclusive).
pub fn lines(
    db_path: &Path,
    by: GroupBy,
    since: Option<Date>,
    until: Option<Date>,
) -> Result<Vec<SpendLine>, MeteringError> {
    let conn = open_read_only(db_path)?;
    let from = since.map_or(i64::MIN, |d| d.start_ms());
    let to = until.map_or(i64::MAX, |d| d.next().start_ms());
    let sql = format!(
        "SELECT {key} AS k, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), \
                SUM(cached_tokens), SUM(estimated), COALESCE(SUM(cost_usd), 0), \
                SUM(cost_usd IS NULL) \
         FROM requests WHERE ts_ms >= ?1 AND ts_ms < ?2 GROUP BY k ORDER BY k",
        key = by.sql()
    );
    let ctx = |e| MeteringError::ledger(db_path, e);
    let mut stmt = conn.prepare(&sql).map_err(ctx)?;
    let rows = stmt
        .query_map(params![from, to], |r| {
            Ok(SpendLine {
                key: r.get(0)?,
                requests: r.get::<_, i64>(1)? as u64,
                prompt_tokens: r.get::<_, i64>(2)? as u64,
                completion_tokens: r.get::<_, i64>(3)? as u64,
                cached_tokens: r.get::<_, i64>(4)? as u64,
                estimated_requests: r.get::<_, i64>(5)? as u64,
                cost_usd: r.get(6)?,
                unknown_cost_requests: r.get::<_, i64>(7)? as u64,
            })
        })
        .map_err(ctx)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(ctx)
}

/// The spend report as text in `format` (see `lines` for the selection).
pub fn report(
    db_path: &Path,
    by: GroupBy,
    since: Option<Date>,
    until: Option<Date>,
    format: Format,
) -> Result<String, MeteringError> {
    let lines = lines(db_path, by, since, until)?;
    Ok(match format {
        Format::Table => table(by, &lines),
        Format::Csv => csv(by, &lines),
        Format::Json => serde_json::to_string_pretty(&lines).map_err(MeteringError::Json)?,
    })
}

fn fields(l: &SpendLine) -> [String; 7] {
    [
        l.requests.to_string(),
        l.prompt_tokens.to_string(),
        l.completion_tokens.to_string(),
        l.cached_tokens.to_string(),
        l.estimated_requests.to_string(),
        l.cost_usd.to_string(),
        l.unknown_cost_requests.to_string(),
    ]
}

fn csv(by: GroupBy, lines: &[SpendLine]) -> String {
    let mut out = String::new();
    let header: Vec<&str> = std::iter::once(by.as_str()).chain(COLUMNS).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for l in lines {
        out.push_str(&csv_field(&l.key));
        for f in fields(l) {
            out.push(',');
            out.push_str(&f);
        }
        out.push_str("\r\n");
    }
    out
}

/// Quotes a CSV field when it holds a comma, quote or line break (RFC 4180 §2.6-2.7).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn table(by: GroupBy, lines: &[SpendLine]) -> String {
    let total = lines.iter().fold(
        SpendLine {
            key: "TOTAL".to_string(),
            requests: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            cached_tokens: 0,
            estimated_requests: 0,
            cost_usd: 0.0,
            unknown_cost_requests: 0,
        },
        |mut t, l| {
            t.requests += l.requests;
            t.prompt_tokens += l.prompt_tokens;
            t.completion_tokens += l.completion_tokens;
            t.cached_tokens += l.cached_tokens;
            t.estimated_requests += l.estimated_requests;
            t.cost_usd += l.cost_usd;
            t.unknown_cost_requests += l.unknown_cost_requests;
            t
        },
    );
    let header: Vec<String> = std::iter::once(by.as_str())
        .chain([
            "requests",
            "prompt",
            "completion",
            "cached",
            "estimated",
            "cost_usd",
            "unknown_cost",
        ])
        .map(str::to_string)
        .collect();
    let row = |l: &SpendLine| -> Vec<String> {
        let mut v = vec![l.key.clone()];
        let mut f = fields(l);
        f[5] = format!("{:.6}", l.cost_usd);
        v.extend(f);
        v
    };
    let mut rows: Vec<Vec<String>> = vec![header];
    rows.extend(lines.iter().map(row));
    rows.push(row(&total));
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    let last = rows.len() - 1;
    for (i, r) in rows.iter().enumerate() {
        if i == last {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            let _ = writeln!(out, "{}", rule.join("  "));
        }
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, v)| {
                if c == 0 {
                    format!("{v:<w$}", w = widths[c])
                } else {
                    format!("{v:>w$}", w = widths[c])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
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
