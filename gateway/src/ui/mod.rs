//! The spend page on the admin listener: `GET /ui` (HTML), `GET /ui/spend.csv` (the bytes of
//! `tollgate spend --format csv`) and `GET /ui/top.csv` (the costliest requests).
//!
//! It shows who spent what, so it is served only when `[server] admin_token_env` is set; the
//! admin listener checks the token before a request gets here (see [`auth`]). Ledger reads
//! are blocking SQLite queries: they run on tokio's blocking pool, so a slow page never holds
//! up `/metrics` on the admin listener's one worker thread.

pub mod auth;
mod chart;
mod data;
mod html;
mod page;
mod sections;

use crate::gateway::Gateway;
use std::fmt::Write as _;
use std::sync::Arc;
use tollgate_metering::dashboard::{self, Window};
use tollgate_metering::spend::{self, csv_field, Format, GroupBy};
use tollgate_metering::time::Date;

/// The longest window the page draws (its charts have a bar per day); the CSVs take any.
const MAX_PAGE_DAYS: usize = 366;

/// The most requests `top.csv` lists.
const MAX_TOP: usize = 10_000;

/// An answer of the admin listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `content-type`.
    pub content_type: &'static str,
    /// Other headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: String,
}

const TEXT: &str = "text/plain; charset=utf-8";

impl Reply {
    /// A plain-text answer.
    pub fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: TEXT,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Spend figures are not for shared caches or other sites' frames.
    fn private(mut self) -> Reply {
        self.headers.extend([
            ("cache-control", "no-store".to_string()),
            ("x-content-type-options", "nosniff".to_string()),
            ("referrer-policy", "no-referrer".to_string()),
        ]);
        self
    }
}

/// Whether `path` belongs to the spend page.
pub fn owns(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// Answers a `GET` or `HEAD` of one of the page's paths; the token was checked by the caller.
pub async fn serve(gw: &Arc<Gateway>, auth: &auth::AdminAuth, path: &str, query: &str) -> Reply {
    if !auth.is_required() {
        return Reply::text(
            403,
            "the spend page is off: it shows spend per tenant, so it needs an admin token. \
             Set [server] admin_token_env = \"NAME\" (server.admin_token_env) to an environment \
             variable holding the token, and restart.\n",
        );
    }
    let params = match Params::parse(query) {
        Ok(p) => p,
        Err(e) => return Reply::text(400, format!("{e}\n")).private(),
    };
    let gw = Arc::clone(gw);
    let path = path.to_string();
    let work = tokio::task::spawn_blocking(move || route(&gw, &path, &params));
    match work.await {
        Ok(reply) => reply.private(),
        Err(e) => {
            tracing::error!(error = %e, "spend page failed");
            Reply::text(500, "the spend page failed; see the gateway's log\n")
        }
    }
}

fn route(gw: &Gateway, path: &str, p: &Params) -> Reply {
    let today = Date::from_unix_ms(crate::meter::now_ms());
    let window = match p.window(today) {
        Ok(w) => w,
        Err(e) => return Reply::text(400, format!("{e}\n")),
    };
    match path {
        "/ui" | "/ui/" => html_page(gw, window, today),
        "/ui/spend.csv" => spend_csv(gw, p.by, window),
        "/ui/top.csv" => top_csv(gw, p.limit.unwrap_or(data::TOP_REQUESTS), window),
        _ => Reply::text(
            404,
            "not found: the spend page serves /ui, /ui/spend.csv and /ui/top.csv\n",
        ),
    }
}

fn ledger(gw: &Gateway) -> Result<&std::path::Path, String> {
    let l = &gw.config.metering.ledger;
    match data::unavailable(&l.path, l.enabled) {
        Some(why) => Err(why),
        None => Ok(&l.path),
    }
}

fn html_page(gw: &Gateway, window: Window, today: Date) -> Reply {
    if window.days().len() > MAX_PAGE_DAYS {
        return Reply::text(
            400,
            format!(
                "the page shows at most {MAX_PAGE_DAYS} days; the CSV exports take any window\n"
            ),
        );
    }
    let now = crate::meter::now_ms();
    let views = ledger(gw).and_then(|db| data::load(db, window).map_err(|e| e.to_string()));
    let d = data::PageData {
        window,
        today,
        generated_ms: now,
        budgets: gw.meter.metering().budgets().status(now),
        ledger: views,
    };
    let mut reply = Reply {
        status: 200,
        content_type: "text/html; charset=utf-8",
        headers: Vec::new(),
        body: page::render(&d),
    };
    // The page's own promise, enforced by the browser: nothing loads from anywhere, not even
    // from this listener, beyond the document itself; forms submit only here.
    reply.headers.push((
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
            .to_string(),
    ));
    reply
}

fn csv_reply(body: String, filename: String) -> Reply {
    Reply {
        status: 200,
        content_type: "text/csv; charset=utf-8",
        headers: vec![(
            "content-disposition",
            format!("attachment; filename=\"{filename}\""),
        )],
        body,
    }
}

fn spend_csv(gw: &Gateway, by: Option<GroupBy>, w: Window) -> Reply {
    let Some(by) = by else {
        return Reply::text(
            400,
            "by= is required: route, tenant, model, backend or day\n",
        );
    };
    let db = match ledger(gw) {
        Ok(db) => db,
        Err(why) => return Reply::text(404, format!("{why}\n")),
    };
    // The CLI's own report, so the download is byte for byte `tollgate spend --format csv`.
    match spend::report(db, by, Some(w.since), Some(w.until), Format::Csv) {
        Ok(csv) => csv_reply(
            csv,
            format!("spend-by-{}-{}-to-{}.csv", by.as_str(), w.since, w.until),
        ),
        Err(e) => Reply::text(500, format!("{e}\n")),
    }
}

/// Columns of `top.csv`.
const TOP_COLUMNS: &str = "request_id,time_utc,ts_ms,tenant,route,backend,model,zone,\
                           prompt_tokens,completion_tokens,cost_usd,outcome";

fn top_csv(gw: &Gateway, limit: usize, w: Window) -> Reply {
    let db = match ledger(gw) {
        Ok(db) => db,
        Err(why) => return Reply::text(404, format!("{why}\n")),
    };
    let rows = match dashboard::top_requests(db, w, limit.min(MAX_TOP)) {
        Ok(rows) => rows,
        Err(e) => return Reply::text(500, format!("{e}\n")),
    };
    // RFC 4180 like the spend report: CRLF line ends, quoted fields where needed.
    let mut out = format!("{TOP_COLUMNS}\r\n");
    for t in &rows {
        let fields = [
            csv_field(&t.request_id),
            html::utc(t.ts_ms),
            t.ts_ms.to_string(),
            csv_field(&t.tenant),
            csv_field(&t.route),
            csv_field(t.backend.as_deref().unwrap_or("")),
            csv_field(t.model.as_deref().unwrap_or("")),
            csv_field(t.zone.as_deref().unwrap_or("")),
            t.prompt_tokens.to_string(),
            t.completion_tokens.to_string(),
            t.cost_usd.to_string(),
            csv_field(&t.outcome),
        ];
        let _ = write!(out, "{}\r\n", fields.join(","));
    }
    csv_reply(out, format!("top-requests-{}-to-{}.csv", w.since, w.until))
}

/// The query parameters the page's paths read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Params {
    since: Option<Date>,
    until: Option<Date>,
    by: Option<GroupBy>,
    limit: Option<usize>,
}

impl Params {
    /// Parses `since`, `until` (`YYYY-MM-DD`), `by` and `limit`; other names are ignored and
    /// empty values count as absent (an emptied date field of the form).
    fn parse(query: &str) -> Result<Params, String> {
        let mut p = Params::default();
        for pair in query.split('&').filter(|s| !s.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            if value.trim().is_empty() {
                continue;
            }
            let date = |v: &str| v.parse::<Date>().map_err(|e| format!("{name}: {e}"));
            match name {
                "since" => p.since = Some(date(&value)?),
                "until" => p.until = Some(date(&value)?),
                "by" => p.by = Some(value.parse().map_err(|e| format!("by: {e}"))?),
                "limit" => {
                    p.limit = Some(
                        value
                            .trim()
                            .parse()
                            .map_err(|_| format!("limit: '{value}' is not a count"))?,
                    );
                }
                _ => {}
            }
        }
        Ok(p)
    }

    /// The window asked for: `until` defaults to today and `since` to 29 days before `until`
    /// (30 days in all).
    fn window(&self, today: Date) -> Result<Window, String> {
        let until = self.until.unwrap_or(today);
        let since = self
            .since
            .unwrap_or_else(|| Date::from_unix_ms(until.start_ms() - 29 * 86_400_000));
        if since > until {
            return Err(format!("since ({since}) is after until ({until})"));
        }
        Ok(Window { since, until })
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            ) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn the_window_defaults_to_thirty_days_up_to_today() {
        let today = date("2025-03-05");
        let w = Params::default().window(today).unwrap();
        assert_eq!((w.since, w.until), (date("2025-02-04"), today));
        assert_eq!(w.days().len(), 30);
        let p = Params::parse("until=2025-01-31&x=1&since=").unwrap();
        let w = p.window(today).unwrap();
        assert_eq!((w.since, w.until), (date("2025-01-02"), date("2025-01-31")));
        let p = Params::parse("since=2025-06-01&until=2025-06-01&by=Tenant&limit=5").unwrap();
        assert_eq!(p.window(today).unwrap().days().len(), 1);
        assert_eq!((p.by, p.limit), (Some(GroupBy::Tenant), Some(5)));
    }

    #[test]
    fn bad_parameters_are_named() {
        let e = Params::parse("since=June").unwrap_err();
        assert!(e.starts_with("since: invalid date 'June'"), "{e}");
        assert!(Params::parse("by=week").unwrap_err().starts_with("by: "));
        assert!(Params::parse("limit=-1")
            .unwrap_err()
            .starts_with("limit: "));
        let p = Params::parse("since=2025-06-02&until=2025-06-01").unwrap();
        assert_eq!(
            p.window(date("2025-07-01")).unwrap_err(),
            "since (2025-06-02) is after until (2025-06-01)"
        );
        assert_eq!(
            Params::parse("since=2025%2D06%2D01").unwrap().since,
            Some(date("2025-06-01"))
        );
        assert_eq!(percent_decode("a+b%2Fc%zz%4"), "a b/c%zz%4");
    }

    #[test]
    fn only_ui_paths_belong_to_the_page() {
        assert!(owns("/ui") && owns("/ui/") && owns("/ui/top.csv"));
        assert!(!owns("/uix") && !owns("/metrics") && !owns("/"));
    }
}
