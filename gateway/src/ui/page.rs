//! The spend page's HTML: one server-rendered document with inline CSS and SVG, no script and
//! nothing fetched from elsewhere (its Content-Security-Policy forbids it too). Figures sit in
//! `data-*` attributes besides their text, so scripts and tests read exact values.

use super::chart;
use super::data::{Grouped, LedgerViews, PageData};
use super::html::{count_cell, esc, text_cell, usd, usd_cell, utc, window_query};
use super::sections;
use std::fmt::Write as _;
use tollgate_metering::dashboard::Window;
use tollgate_metering::spend::{GroupBy, SpendLine};
use tollgate_metering::time::Date;

const CSS: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1f24;margin:0;background:#f6f7f9}
header{background:#1b2a3a;color:#fff;padding:14px 24px}
header h1{margin:0 0 4px;font-size:20px}
header a{color:#cfe3ff}
main{max-width:1240px;margin:0 auto;padding:8px 24px 40px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:12px 16px;margin:14px 0}
h2{font-size:17px;margin:2px 0 10px}
h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;width:100%;margin:4px 0;font-size:13px}
th,td{padding:3px 8px;border-bottom:1px solid #e7eaee;text-align:left;white-space:nowrap}
th{background:#f0f2f5;font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums}
tfoot th,tfoot td{border-top:2px solid #9aa3ad;font-weight:600}
.totals{display:flex;flex-wrap:wrap;gap:18px;margin:8px 0 0;padding:0}
.totals div{min-width:120px}
.totals dt{font-size:12px;color:#c6d0db}
.totals dd{margin:0;font-size:18px;font-variant-numeric:tabular-nums}
form{margin:8px 0 0}
.chart{width:100%;height:auto;max-width:760px;display:block}
.chart .grid{stroke:#e3e6ea;stroke-width:1}
.chart .tick{font-size:11px;fill:#5b6570}
.legend{list-style:none;padding:0;margin:4px 0 10px;display:flex;flex-wrap:wrap;gap:4px 14px}
.swatch{display:inline-block;width:11px;height:11px;margin-right:5px;vertical-align:-1px}
.bar{background:#e7eaee;height:10px;width:160px;border-radius:3px;overflow:hidden}
.bar span{display:block;height:100%;background:#009e73}
.bar.warn span{background:#e69f00}.bar.over span{background:#d55e00}
.split{display:flex;height:14px;max-width:760px;border-radius:3px;overflow:hidden;margin:3px 0 8px}
.split span{display:block;height:100%}
.local{background:#009e73}.external{background:#0072b2}.unserved{background:#b8bec5}
.note,.empty{color:#5b6570}
.csv{font-size:13px;margin-left:8px}
.scroll{overflow-x:auto}
";

/// The whole page.
pub fn render(d: &PageData) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\"><title>Tollgate spend {} to {}</title>\
         <style>{CSS}</style></head><body>",
        d.window.since, d.window.until
    );
    header(&mut out, d);
    out.push_str("<main>");
    match &d.ledger {
        Ok(v) => {
            over_time(&mut out, v, d.window);
            tables(&mut out, v, d.window);
            sections::budgets(&mut out, &d.budgets);
            sections::shares(&mut out, v);
            sections::top(&mut out, v, d.window);
            sections::savings(&mut out, &v.savings, &v.idle);
            sections::idle(&mut out, &v.idle);
        }
        Err(why) => {
            let _ = write!(
                out,
                "<section id=\"no-ledger\"><h2>No spend to show</h2><p class=\"note\">{}</p></section>",
                esc(why)
            );
            sections::budgets(&mut out, &d.budgets);
        }
    }
    out.push_str("</main></body></html>");
    out
}

fn days_before(d: Date, n: i64) -> Date {
    Date::from_unix_ms(d.start_ms() - n * 86_400_000)
}

fn header(out: &mut String, d: &PageData) {
    let w = d.window;
    let _ = write!(
        out,
        "<header><h1>Tollgate spend</h1><div id=\"window\" data-since=\"{s}\" data-until=\"{u}\">\
         {s} to {u} (UTC days, both included) · generated {g} UTC</div>",
        s = w.since,
        u = w.until,
        g = utc(d.generated_ms)
    );
    if let Ok(v) = &d.ledger {
        let t = v.totals();
        out.push_str("<dl class=\"totals\">");
        for (label, key, text) in [
            ("Requests", "requests", t.requests.to_string()),
            (
                "Prompt tokens",
                "prompt_tokens",
                t.prompt_tokens.to_string(),
            ),
            (
                "Completion tokens",
                "completion_tokens",
                t.completion_tokens.to_string(),
            ),
            ("Known cost (USD)", "cost_usd", usd(t.cost_usd)),
            (
                "Requests of unknown cost",
                "unknown_cost_requests",
                t.unknown_cost_requests.to_string(),
            ),
        ] {
            let _ = write!(
                out,
                "<div><dt>{label}</dt><dd data-total=\"{key}\">{}</dd></div>",
                esc(&text)
            );
        }
        out.push_str("</dl>");
    }
    let _ = write!(
        out,
        "<form method=\"get\" action=\"/ui\"><label>From <input type=\"date\" name=\"since\" \
         value=\"{}\"></label> <label>to <input type=\"date\" name=\"until\" value=\"{}\"></label> \
         <button type=\"submit\">Show</button> ",
        w.since, w.until
    );
    for days in [7, 30, 90] {
        let q = window_query(Window {
            since: days_before(d.today, days - 1),
            until: d.today,
        });
        let _ = write!(out, " · <a href=\"/ui?{q}\">last {days} days</a>");
    }
    out.push_str("</form></header>");
}

fn group_title(by: GroupBy) -> &'static str {
    match by {
        GroupBy::Route => "route",
        GroupBy::Tenant => "tenant",
        GroupBy::Model => "model (backend/model)",
        GroupBy::Backend => "backend",
        GroupBy::Day => "day",
    }
}

fn csv_link(out: &mut String, by: &str, w: Window) {
    let _ = write!(
        out,
        "<a class=\"csv\" data-csv=\"{by}\" href=\"/ui/spend.csv?by={by}&amp;{}\" download>CSV</a>",
        window_query(w)
    );
}

fn over_time(out: &mut String, v: &LedgerViews, w: Window) {
    out.push_str("<section id=\"over-time\"><h2>Spend over time</h2>");
    out.push_str("<p class=\"note\">Known cost per UTC day, stacked by group.");
    csv_link(out, "day", w);
    out.push_str("</p>");
    let days = w.days();
    for g in &v.groups {
        let series = chart::series(&days, &g.daily);
        let title = format!("Daily cost by {}", group_title(g.by));
        let _ = write!(out, "<h3>{}</h3>", esc(&title));
        out.push_str(&chart::stacked_bars(&title, g.by.as_str(), &days, &series));
        out.push_str(&chart::legend(&series));
    }
    out.push_str("</section>");
}

fn tables(out: &mut String, v: &LedgerViews, w: Window) {
    out.push_str(
        "<section id=\"tables\"><h2>Requests, tokens and cost</h2><p class=\"note\">\
         The figures of <code>tollgate spend --by route|tenant|model</code> for this window.</p>",
    );
    for g in &v.groups {
        group_table(out, g, w);
    }
    out.push_str("</section>");
}

/// Columns after the key, named as the spend report's JSON names them.
const SPEND_COLUMNS: [(&str, &str); 7] = [
    ("requests", "requests"),
    ("prompt_tokens", "prompt tokens"),
    ("completion_tokens", "completion tokens"),
    ("cached_tokens", "cached tokens"),
    ("estimated_requests", "estimated"),
    ("cost_usd", "cost (USD)"),
    ("unknown_cost_requests", "unknown cost"),
];

fn spend_cells(out: &mut String, l: &SpendLine) {
    count_cell(out, "requests", l.requests);
    count_cell(out, "prompt_tokens", l.prompt_tokens);
    count_cell(out, "completion_tokens", l.completion_tokens);
    count_cell(out, "cached_tokens", l.cached_tokens);
    count_cell(out, "estimated_requests", l.estimated_requests);
    usd_cell(out, "cost_usd", l.cost_usd);
    count_cell(out, "unknown_cost_requests", l.unknown_cost_requests);
}

fn group_table(out: &mut String, g: &Grouped, w: Window) {
    let by = g.by.as_str();
    let _ = write!(out, "<h3 id=\"by-{by}\">By {}", esc(group_title(g.by)));
    csv_link(out, by, w);
    let _ = write!(
        out,
        "</h3><div class=\"scroll\"><table data-group=\"{by}\"><thead><tr><th>{by}</th>"
    );
    for (_, head) in SPEND_COLUMNS {
        let _ = write!(out, "<th class=\"num\">{head}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    let mut total = (0, 0, 0, 0, 0, 0.0, 0);
    for l in &g.lines {
        let _ = write!(out, "<tr data-key=\"{}\">", esc(&l.key));
        text_cell(out, "key", &l.key);
        spend_cells(out, l);
        out.push_str("</tr>");
        total.0 += l.requests;
        total.1 += l.prompt_tokens;
        total.2 += l.completion_tokens;
        total.3 += l.cached_tokens;
        total.4 += l.estimated_requests;
        total.5 += l.cost_usd;
        total.6 += l.unknown_cost_requests;
    }
    if g.lines.is_empty() {
        let _ = write!(
            out,
            "<tr><td class=\"empty\" colspan=\"{}\">No requests in this window.</td></tr>",
            SPEND_COLUMNS.len() + 1
        );
    }
    out.push_str("</tbody><tfoot><tr data-total=\"\"><th>TOTAL</th>");
    let (r, p, c, k, e, cost, u) = total;
    for (field, n) in [
        ("requests", r),
        ("prompt_tokens", p),
        ("completion_tokens", c),
        ("cached_tokens", k),
        ("estimated_requests", e),
    ] {
        count_cell(out, field, n);
    }
    usd_cell(out, "cost_usd", cost);
    count_cell(out, "unknown_cost_requests", u);
    out.push_str("</tr></tfoot></table></div>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::data::{Grouped, GROUPS};
    use tollgate_metering::dashboard::{
        DayPoint, IdleCompute, IdleLine, Savings, Share, Side, TopRequest,
    };

    const EVIL: &str = "<script>alert('x')</script>&\"";

    fn line(key: &str, requests: u64, cost: f64) -> SpendLine {
        // An empty line set by field name, so fields the report adds later need nothing here.
        let mut l = tollgate_metering::spend::total(&[]);
        l.key = key.to_string();
        l.requests = requests;
        l.cost_usd = cost;
        l
    }

    fn data() -> PageData {
        let day = Date::new(2025, 6, 2).unwrap();
        let window = Window {
            since: Date::new(2025, 6, 1).unwrap(),
            until: day,
        };
        let groups = GROUPS
            .into_iter()
            .map(|by| Grouped {
                by,
                lines: vec![line(EVIL, 2, 0.5), line("plain", 1, 0.25)],
                daily: vec![DayPoint {
                    day: day.to_string(),
                    key: EVIL.into(),
                    requests: 2,
                    cost_usd: 0.5,
                }],
            })
            .collect();
        let views = LedgerViews {
            groups,
            shares: vec![Share {
                side: Side::External,
                zones: vec!["external".into()],
                requests: 3,
                tokens: 30,
                cost_usd: 0.75,
            }],
            top: vec![TopRequest {
                request_id: format!("req_{EVIL}"),
                ts_ms: day.start_ms(),
                tenant: EVIL.into(),
                route: "chat".into(),
                backend: Some("cloud".into()),
                model: None,
                zone: Some("external".into()),
                prompt_tokens: 10,
                completion_tokens: 5,
                cost_usd: 0.5,
                outcome: "completed".into(),
            }],
            savings: Savings::Recorded {
                requests: 1,
                api_equivalent_usd: 2.0,
                cost_usd: 0.5,
            },
            idle: IdleCompute::Recorded(vec![IdleLine {
                backend: EVIL.into(),
                busy_s: 900.0,
                idle_s: 2700.0,
                cost_usd: 0.125,
            }]),
        };
        PageData {
            window,
            today: day,
            generated_ms: day.start_ms(),
            budgets: Vec::new(),
            ledger: Ok(views),
        }
    }

    #[test]
    fn every_name_is_escaped_and_every_section_is_there() {
        let html = render(&data());
        assert!(!html.contains("<script"), "unescaped markup");
        assert!(!html.contains("alert('x')"), "unescaped quote");
        assert!(html
            .contains("data-key=\"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;\""));
        for id in [
            "over-time",
            "tables",
            "budgets",
            "zones",
            "top",
            "savings",
            "idle",
        ] {
            assert!(html.contains(&format!("<section id=\"{id}\"")), "{id}");
        }
        assert!(html.contains("<dd data-total=\"cost_usd\">0.750000</dd>"));
        assert!(html
            .contains("href=\"/ui/spend.csv?by=route&amp;since=2025-06-01&amp;until=2025-06-02\""));
        assert!(html.contains(
            "<td class=\"num\" data-field=\"net_saved_usd\" data-value=\"1.375\">1.375000</td>"
        ));
        assert!(html.contains("data-field=\"busy_share\" data-value=\"0.25\">25.0%</td>"));
        assert!(html.contains("No budgets are configured"));
        assert!(html.contains("cloud/(none)"));
    }

    #[test]
    fn without_a_ledger_the_page_says_why_and_still_lists_budgets() {
        let mut d = data();
        d.ledger = Err("No ledger at <here> yet".into());
        let html = render(&d);
        assert!(html.contains("No ledger at &lt;here&gt; yet"));
        assert!(html.contains("<section id=\"budgets\""));
        assert!(!html.contains("<section id=\"tables\""));
    }
}
