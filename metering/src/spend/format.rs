//! The spend report as an aligned table or as CSV.

use super::{total, GroupBy, SpendLine};
use std::fmt::Write as _;

/// CSV columns after the group key. The first seven are the report's original columns, in
/// their original places, so spreadsheets built on them keep working.
const COLUMNS: [&str; 13] = [
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "estimated_requests",
    "cost_usd",
    "unknown_cost_requests",
    "failed_usd",
    "api_equivalent_usd",
    "savings_usd",
    "kind",
    "busy_s",
    "idle_s",
];

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

fn fields(l: &SpendLine) -> [String; 13] {
    [
        l.requests.to_string(),
        l.prompt_tokens.to_string(),
        l.completion_tokens.to_string(),
        l.cached_tokens.to_string(),
        l.estimated_requests.to_string(),
        l.cost_usd.to_string(),
        l.unknown_cost_requests.to_string(),
        l.failed_usd.to_string(),
        opt(l.api_equivalent_usd),
        opt(l.savings_usd),
        l.kind.to_string(),
        opt(l.busy_s),
        opt(l.idle_s),
    ]
}

pub(super) fn csv(by: GroupBy, lines: &[SpendLine]) -> String {
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

/// A USD amount with six decimals; `-` when there is none.
fn usd(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.6}"))
}

fn table_row(l: &SpendLine) -> Vec<String> {
    vec![
        l.key.clone(),
        l.requests.to_string(),
        l.prompt_tokens.to_string(),
        l.completion_tokens.to_string(),
        l.cached_tokens.to_string(),
        l.estimated_requests.to_string(),
        usd(Some(l.cost_usd)),
        usd(Some(l.failed_usd)),
        l.unknown_cost_requests.to_string(),
        usd(l.api_equivalent_usd),
        usd(l.savings_usd),
    ]
}

pub(super) fn table(by: GroupBy, lines: &[SpendLine]) -> String {
    let header: Vec<String> = std::iter::once(by.as_str())
        .chain([
            "requests",
            "prompt",
            "completion",
            "cached",
            "estimated",
            "cost_usd",
            "failed_usd",
            "unknown_cost",
            "api_equiv_usd",
            "savings_usd",
        ])
        .map(str::to_string)
        .collect();
    let mut rows: Vec<Vec<String>> = vec![header];
    rows.extend(lines.iter().map(table_row));
    rows.push(table_row(&total(lines)));
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
