//! The page's sections after the spend tables: budgets, the local/external split, the
//! costliest requests, savings and idle compute.

use super::data::LedgerViews;
use super::html::{count_cell, esc, num_cell, percent, text_cell, usd_cell, utc, window_query};
use std::fmt::Write as _;
use tollgate_metering::dashboard::{IdleCompute, Savings, Side, Window};
use tollgate_metering::BudgetStatus;

fn burn_bar(spent: f64, limit: f64) -> String {
    let burn = if limit > 0.0 { spent / limit } else { 1.0 };
    let class = if burn >= 1.0 {
        "bar over"
    } else if burn >= 0.8 {
        "bar warn"
    } else {
        "bar"
    };
    format!(
        "<div class=\"{class}\"><span style=\"width:{:.1}%\"></span></div>",
        (burn * 100.0).clamp(0.0, 100.0)
    )
}

pub(super) fn budgets(out: &mut String, budgets: &[BudgetStatus]) {
    out.push_str(
        "<section id=\"budgets\"><h2>Budgets</h2><p class=\"note\">Burn of each budget's current \
         window (UTC day or calendar month) as the gateway enforces it now, whatever days are \
         selected above.</p>",
    );
    if budgets.is_empty() {
        out.push_str(
            "<p class=\"empty\">No budgets are configured ([budgets.tenants.NAME] or \
             [budgets.routes.NAME]).</p></section>",
        );
        return;
    }
    out.push_str(
        "<div class=\"scroll\"><table data-budgets=\"\"><thead><tr><th>scope</th><th>name</th>\
         <th>window</th><th class=\"num\">limit (USD)</th><th class=\"num\">spent (USD)</th>\
         <th class=\"num\">in flight (USD)</th><th class=\"num\">burn</th><th></th>\
         <th>resets at (UTC)</th></tr></thead><tbody>",
    );
    for b in budgets {
        let _ = write!(
            out,
            "<tr data-scope=\"{}\" data-name=\"{}\" data-period=\"{}\">",
            b.scope.as_str(),
            esc(&b.name),
            b.period.as_str()
        );
        text_cell(out, "scope", b.scope.as_str());
        text_cell(out, "name", &b.name);
        text_cell(out, "period", b.period.as_str());
        usd_cell(out, "limit_usd", b.limit_usd);
        usd_cell(out, "spent_usd", b.spent_usd);
        usd_cell(out, "reserved_usd", b.reserved_usd);
        num_cell(
            out,
            "burn",
            &percent(b.spent_usd, b.limit_usd),
            &fraction(b.spent_usd, b.limit_usd).to_string(),
        );
        let _ = write!(
            out,
            "<td>{}</td><td>{}</td></tr>",
            burn_bar(b.spent_usd, b.limit_usd),
            utc(b.resets_at_ms)
        );
    }
    out.push_str("</tbody></table></div></section>");
}

pub(super) fn shares(out: &mut String, v: &LedgerViews) {
    out.push_str(
        "<section id=\"zones\"><h2>Served locally or externally</h2><p class=\"note\">\
         Local: the on-device model and servers inside the organisation; external: third-party \
         APIs; unserved: refused or failed before any backend. Costs here are the requests'; \
         idle compute is listed under its own heading.</p>",
    );
    let requests: u64 = v.shares.iter().map(|s| s.requests).sum();
    let cost: f64 = v.shares.iter().map(|s| s.cost_usd).sum();
    let request_parts: Vec<(Side, f64)> = v
        .shares
        .iter()
        .map(|s| (s.side, fraction(s.requests as f64, requests as f64)))
        .collect();
    let cost_parts: Vec<(Side, f64)> = v
        .shares
        .iter()
        .map(|s| (s.side, fraction(s.cost_usd, cost)))
        .collect();
    split_bar(out, "Traffic (requests)", &request_parts);
    split_bar(out, "Spend (known cost)", &cost_parts);
    out.push_str(
        "<table data-shares=\"\"><thead><tr><th>side</th><th>zones</th>\
         <th class=\"num\">requests</th><th class=\"num\">share of requests</th>\
         <th class=\"num\">tokens</th><th class=\"num\">cost (USD)</th>\
         <th class=\"num\">share of spend</th></tr></thead><tbody>",
    );
    for side in [Side::Local, Side::External, Side::Unserved] {
        let s = v.shares.iter().find(|s| s.side == side);
        let (n, tokens, c) = s.map_or((0, 0, 0.0), |s| (s.requests, s.tokens, s.cost_usd));
        let zones = s.map_or(String::new(), |s| s.zones.join(", "));
        let _ = write!(out, "<tr data-side=\"{}\">", side.as_str());
        let _ = write!(
            out,
            "<td><span class=\"swatch {0}\"></span>{0}</td>",
            side.as_str()
        );
        text_cell(out, "zones", &zones);
        count_cell(out, "requests", n);
        num_cell(
            out,
            "request_share",
            &percent(n as f64, requests as f64),
            &fraction(n as f64, requests as f64).to_string(),
        );
        count_cell(out, "tokens", tokens);
        usd_cell(out, "cost_usd", c);
        num_cell(
            out,
            "spend_share",
            &percent(c, cost),
            &fraction(c, cost).to_string(),
        );
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></section>");
}

/// `part / whole`, 0 when the whole is nothing.
fn fraction(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole
    } else {
        0.0
    }
}

/// One 100% bar split by side.
fn split_bar(out: &mut String, label: &str, parts: &[(Side, f64)]) {
    let _ = write!(out, "<h3>{}</h3><div class=\"split\">", esc(label));
    for (side, f) in parts {
        let _ = write!(
            out,
            "<span class=\"{s}\" style=\"width:{w:.2}%\" title=\"{s}\"></span>",
            s = side.as_str(),
            w = f * 100.0
        );
    }
    out.push_str("</div>");
}

pub(super) fn top(out: &mut String, v: &LedgerViews, w: Window) {
    let _ = write!(
        out,
        "<section id=\"top\"><h2>Most expensive requests</h2><p class=\"note\">The {} costliest \
         requests of known cost: ids and metadata only, never prompt text.\
         <a class=\"csv\" data-csv=\"top\" href=\"/ui/top.csv?{}\" download>CSV</a></p>",
        v.top.len(),
        window_query(w)
    );
    if v.top.is_empty() {
        out.push_str("<p class=\"empty\">No request of known cost in this window.</p></section>");
        return;
    }
    out.push_str(
        "<div class=\"scroll\"><table data-top=\"\"><thead><tr><th>request id</th>\
         <th>time (UTC)</th><th>tenant</th><th>route</th><th>backend/model</th><th>zone</th>\
         <th class=\"num\">prompt tokens</th><th class=\"num\">completion tokens</th>\
         <th class=\"num\">cost (USD)</th></tr></thead><tbody>",
    );
    for t in &v.top {
        let _ = write!(out, "<tr data-request-id=\"{}\">", esc(&t.request_id));
        text_cell(out, "request_id", &t.request_id);
        text_cell(out, "time", &utc(t.ts_ms));
        text_cell(out, "tenant", &t.tenant);
        text_cell(out, "route", &t.route);
        let model = format!(
            "{}/{}",
            t.backend.as_deref().unwrap_or("(none)"),
            t.model.as_deref().unwrap_or("(none)")
        );
        text_cell(out, "model", &model);
        text_cell(out, "zone", t.zone.as_deref().unwrap_or("-"));
        count_cell(out, "prompt_tokens", t.prompt_tokens);
        count_cell(out, "completion_tokens", t.completion_tokens);
        usd_cell(out, "cost_usd", t.cost_usd);
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div></section>");
}

/// Idle cost of the window, when the ledger records it.
fn idle_cost(i: &IdleCompute) -> Option<f64> {
    match i {
        IdleCompute::Recorded(lines) => Some(lines.iter().map(|l| l.cost_usd).sum()),
        _ => None,
    }
}

pub(super) fn savings(out: &mut String, s: &Savings, idle: &IdleCompute) {
    out.push_str("<section id=\"savings\"><h2>Savings</h2>");
    match s {
        Savings::NotRecorded => out.push_str(
            "<p class=\"empty\" data-savings=\"not-recorded\">Not recorded: this ledger has no \
             API-equivalent costs (column api_equivalent_usd).</p>",
        ),
        Savings::Recorded { requests: 0, .. } => out.push_str(
            "<p class=\"empty\" data-savings=\"none\">No request in this window has an \
             API-equivalent cost: [prices] reference_model sets the model to compare with.</p>",
        ),
        Savings::Recorded {
            requests,
            api_equivalent_usd,
            cost_usd,
        } => {
            let saved = api_equivalent_usd - cost_usd;
            let _ = write!(
                out,
                "<p class=\"note\">What the {requests} requests with both costs known would have \
                 cost at the reference model's price, against what they cost.</p>\
                 <table data-savings=\"recorded\"><tbody><tr><th>at the reference price (USD)</th>"
            );
            usd_cell(out, "api_equivalent_usd", *api_equivalent_usd);
            out.push_str("</tr><tr><th>actual cost (USD)</th>");
            usd_cell(out, "cost_usd", *cost_usd);
            out.push_str("</tr><tr><th>saved on requests (USD)</th>");
            usd_cell(out, "saved_usd", saved);
            if let Some(idle) = idle_cost(idle) {
                // An API bills no idle time: net of it, as the spend report's total counts it.
                out.push_str("</tr><tr><th>idle compute (USD)</th>");
                usd_cell(out, "idle_usd", idle);
                out.push_str("</tr><tr><th>saved, net of idle compute (USD)</th>");
                usd_cell(out, "net_saved_usd", saved - idle);
            }
            out.push_str("</tr></tbody></table>");
        }
    }
    out.push_str("</section>");
}

fn hours(seconds: f64) -> String {
    format!("{:.2}", seconds / 3600.0)
}

pub(super) fn idle(out: &mut String, i: &IdleCompute) {
    out.push_str("<section id=\"idle\"><h2>Idle compute</h2>");
    match i {
        IdleCompute::NotRecorded => out.push_str(
            "<p class=\"empty\" data-idle=\"not-recorded\">Not recorded: this ledger has no \
             idle-time table.</p>",
        ),
        IdleCompute::Unreadable(cols) => {
            let _ = write!(
                out,
                "<p class=\"empty\" data-idle=\"unreadable\">Not shown: the ledger's idle table \
                 has the columns {}, not the ones this page reads.</p>",
                esc(&cols.join(", "))
            );
        }
        IdleCompute::Recorded(lines) if lines.is_empty() => out.push_str(
            "<p class=\"empty\" data-idle=\"recorded\">No idle time recorded in this window \
             (only backends with [prices.backends.NAME] cost_per_hour have any).</p>",
        ),
        IdleCompute::Recorded(lines) => {
            out.push_str(
                "<p class=\"note\">Backends priced by the hour: time with and without a request in \
                 flight, and what the idle time cost.</p><table data-idle=\"recorded\"><thead><tr>\
                 <th>backend</th><th class=\"num\">busy (hours)</th><th class=\"num\">idle (hours)\
                 </th><th class=\"num\">busy share</th><th class=\"num\">idle cost (USD)</th></tr>\
                 </thead><tbody>",
            );
            for l in lines {
                let _ = write!(out, "<tr data-key=\"{}\">", esc(&l.backend));
                text_cell(out, "backend", &l.backend);
                num_cell(out, "busy_s", &hours(l.busy_s), &l.busy_s.to_string());
                num_cell(out, "idle_s", &hours(l.idle_s), &l.idle_s.to_string());
                let whole = l.busy_s + l.idle_s;
                num_cell(
                    out,
                    "busy_share",
                    &percent(l.busy_s, whole),
                    &fraction(l.busy_s, whole).to_string(),
                );
                usd_cell(out, "cost_usd", l.cost_usd);
                out.push_str("</tr>");
            }
            out.push_str("</tbody></table>");
        }
    }
    out.push_str("</section>");
}
