//! Escaping and number formatting shared by the page and its charts. Every string that reaches
//! HTML or SVG goes through [`esc`]: route, tenant and model names come from configuration and
//! the ledger, not from this code.

use std::fmt::Write as _;
use tollgate_metering::dashboard::Window;
use tollgate_metering::time::Date;

/// `s` with `& < > " '` replaced by entities: safe in text and in quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A cost as the CLI's table prints it: six decimals.
pub fn usd(v: f64) -> String {
    format!("{v:.6}")
}

/// A share in percent with one decimal; `-` when the whole is zero.
pub fn percent(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.1}%", 100.0 * part / whole)
    } else {
        "-".to_string()
    }
}

/// `since=..&amp;until=..` of a window, for links in HTML (dates need no percent-encoding).
pub fn window_query(w: Window) -> String {
    format!("since={}&amp;until={}", w.since, w.until)
}

/// A unix-ms instant as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn utc(ms: i64) -> String {
    let day = Date::from_unix_ms(ms);
    let secs = ms.rem_euclid(86_400_000) / 1000;
    format!(
        "{day} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// A numeric table cell: right-aligned, its exact value in `data-value` for scripts that read
/// the page (a cost's text is rounded, its attribute is not).
pub fn num_cell(out: &mut String, field: &str, text: &str, value: &str) {
    let _ = write!(
        out,
        "<td class=\"num\" data-field=\"{}\" data-value=\"{}\">{}</td>",
        esc(field),
        esc(value),
        esc(text)
    );
}

/// A text table cell with its value in `data-value`.
pub fn text_cell(out: &mut String, field: &str, text: &str) {
    let _ = write!(
        out,
        "<td data-field=\"{}\" data-value=\"{}\">{}</td>",
        esc(field),
        esc(text),
        esc(text)
    );
}

/// A count cell.
pub fn count_cell(out: &mut String, field: &str, n: u64) {
    let s = n.to_string();
    num_cell(out, field, &s, &s);
}

/// A cost cell: six decimals shown, the shortest exact form in `data-value`.
pub fn usd_cell(out: &mut String, field: &str, v: f64) {
    num_cell(out, field, &usd(v), &v.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(
            esc(r#"<script>alert("x&y")</script> it's"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt; it&#39;s"
        );
        assert_eq!(esc("plain-name_1.2"), "plain-name_1.2");
        assert_eq!(esc("ünïcode €"), "ünïcode €");
        let mut cell = String::new();
        text_cell(&mut cell, "key", "a\"><img src=x>");
        assert_eq!(
            cell,
            "<td data-field=\"key\" data-value=\"a&quot;&gt;&lt;img src=x&gt;\">\
             a&quot;&gt;&lt;img src=x&gt;</td>"
        );
    }

    #[test]
    fn numbers_read_as_the_cli_prints_them() {
        assert_eq!(usd(0.000_012_6), "0.000013");
        assert_eq!(usd(3.0), "3.000000");
        assert_eq!(percent(1.0, 4.0), "25.0%");
        assert_eq!(percent(1.0, 0.0), "-");
        assert_eq!(utc(1_709_251_199_999), "2024-02-29 23:59:59");
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        let mut cell = String::new();
        usd_cell(&mut cell, "cost_usd", 0.1 + 0.2);
        assert_eq!(
            cell,
            "<td class=\"num\" data-field=\"cost_usd\" data-value=\"0.30000000000000004\">\
             0.300000</td>"
        );
    }
}
