//! Unit tests of the dashboard queries on temporary ledgers.

use super::*;
use crate::spend;
use std::path::PathBuf;

const DAY: i64 = 86_400_000;

struct Row<'a> {
    id: &'a str,
    day: i64,
    tenant: &'a str,
    route: &'a str,
    backend: Option<&'a str>,
    zone: Option<&'a str>,
    tokens: (i64, i64),
    cost: Option<f64>,
}

/// A ledger with the current schema and these rows (day 0 is 2025-06-01).
fn ledger(rows: &[Row<'_>]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let conn = crate::ledger::open_db(&path).unwrap();
    let start = june(1).start_ms();
    for r in rows {
        conn.execute(
            "INSERT INTO requests (request_id, ts_ms, tenant, route, backend, model, zone, \
                 data_class, decision, stream, prompt_tokens, completion_tokens, \
                 cached_tokens, estimated, cost_usd, currency, price_version, duration_ms, \
                 status, outcome, attempts) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'public', '', 0, ?8, ?9, 0, 0, ?10, 'USD', \
                 'v', 1.0, 200, 'completed', 1)",
            params![
                r.id,
                start + r.day * DAY + 3_600_000,
                r.tenant,
                r.route,
                r.backend,
                r.backend.map(|_| "m"),
                r.zone,
                r.tokens.0,
                r.tokens.1,
                r.cost
            ],
        )
        .unwrap();
    }
    (dir, path)
}

fn june(day: u32) -> Date {
    Date::new(2025, 6, day).unwrap()
}

fn sample() -> Vec<Row<'static>> {
    let row = |id, day, tenant, route, backend, zone, cost| Row {
        id,
        day,
        tenant,
        route,
        backend,
        zone,
        tokens: (10, 5),
        cost,
    };
    vec![
        row(
            "a",
            0,
            "acme",
            "chat",
            Some("cloud"),
            Some("external"),
            Some(0.5),
        ),
        row(
            "b",
            0,
            "acme",
            "chat",
            Some("cloud"),
            Some("external"),
            Some(0.25),
        ),
        row(
            "c",
            1,
            "beta",
            "local",
            Some("gpu"),
            Some("local"),
            Some(0.125),
        ),
        row(
            "d",
            1,
            "beta",
            "local",
            Some("phone"),
            Some("on_device"),
            None,
        ),
        row("e", 2, "acme", "none", None, None, Some(0.0)),
        // Outside every window below.
        row(
            "f",
            40,
            "acme",
            "chat",
            Some("cloud"),
            Some("external"),
            Some(9.0),
        ),
    ]
}

fn window(since: u32, until: u32) -> Window {
    Window {
        since: june(since),
        until: june(until),
    }
}

#[test]
fn daily_series_add_up_to_the_spend_report_per_group() {
    let (_dir, db) = ledger(&sample());
    with_savings_and_idle(&db);
    let w = window(1, 30);
    for by in [
        GroupBy::Route,
        GroupBy::Tenant,
        GroupBy::Model,
        GroupBy::Backend,
        GroupBy::Day,
    ] {
        let points = daily(&db, by, w).unwrap();
        let lines = spend::lines(&db, by, Some(w.since), Some(w.until)).unwrap();
        assert!(!lines.is_empty());
        for line in &lines {
            let mine: Vec<&DayPoint> = points.iter().filter(|p| p.key == line.key).collect();
            let requests: u64 = mine.iter().map(|p| p.requests).sum();
            let cost: f64 = mine.iter().map(|p| p.cost_usd).sum();
            assert_eq!(requests, line.requests, "{by:?} {}", line.key);
            assert!((cost - line.cost_usd).abs() < 1e-12, "{by:?} {}", line.key);
        }
        let keys: std::collections::BTreeSet<&str> =
            points.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys.len(), lines.len(), "{by:?}: the same groups");
    }
    let by_model = daily(&db, GroupBy::Model, w).unwrap();
    assert_eq!(by_model[0].day, "2025-06-01");
    assert_eq!(
        (by_model[0].key.as_str(), by_model[0].requests),
        ("cloud/m", 2)
    );
    assert!(by_model.iter().any(|p| p.key == "(none)/(none)"));
}

#[test]
fn top_requests_rank_known_costs_within_the_window() {
    let (_dir, db) = ledger(&sample());
    let top = top_requests(&db, window(1, 30), 3).unwrap();
    let ids: Vec<&str> = top.iter().map(|t| t.request_id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(top[0].zone.as_deref(), Some("external"));
    assert_eq!((top[0].prompt_tokens, top[0].completion_tokens), (10, 5));
    let all = top_requests(&db, window(1, 30), 100).unwrap();
    assert!(
        all.iter().all(|t| t.request_id != "d"),
        "unknown cost is not ranked"
    );
    assert_eq!(top_requests(&db, window(2, 2), 10).unwrap().len(), 1);
}

#[test]
fn shares_put_on_device_and_local_inside_the_boundary() {
    let (_dir, db) = ledger(&sample());
    let s = shares(&db, window(1, 30)).unwrap();
    let sides: Vec<Side> = s.iter().map(|s| s.side).collect();
    assert_eq!(sides, [Side::Local, Side::External, Side::Unserved]);
    assert_eq!(s[0].zones, ["local", "on_device"]);
    assert_eq!((s[0].requests, s[0].tokens), (2, 30));
    assert!((s[0].cost_usd - 0.125).abs() < 1e-12);
    assert_eq!(s[1].requests, 2);
    assert!((s[1].cost_usd - 0.75).abs() < 1e-12);
    assert_eq!((s[2].requests, s[2].zones.len()), (1, 0));
    assert_eq!(Side::of(Some("external/redacted")), Side::Unserved);
}

/// Makes the ledger look as one written before savings and idle time were recorded.
fn without_savings_and_idle(db: &Path) {
    let conn = Connection::open(db).unwrap();
    if columns(&conn, "requests")
        .unwrap()
        .iter()
        .any(|c| c == "api_equivalent_usd")
    {
        conn.execute_batch("ALTER TABLE requests DROP COLUMN api_equivalent_usd")
            .unwrap();
    }
    conn.execute_batch("DROP TABLE IF EXISTS idle").unwrap();
}

/// Gives requests `c` and `d` an API-equivalent cost of $1 each, and backend `gpu` idle
/// periods: two on June 2nd (2 s busy, 18 s idle, $0.03), one in September.
fn with_savings_and_idle(db: &Path) {
    let conn = Connection::open(db).unwrap();
    if !columns(&conn, "requests")
        .unwrap()
        .iter()
        .any(|c| c == "api_equivalent_usd")
    {
        conn.execute_batch("ALTER TABLE requests ADD COLUMN api_equivalent_usd REAL")
            .unwrap();
    }
    conn.execute_batch(
        "UPDATE requests SET api_equivalent_usd = 1.0 WHERE request_id IN ('c', 'd');
         DROP TABLE IF EXISTS idle;
         CREATE TABLE idle (backend TEXT, period_start_ms INTEGER, period_end_ms INTEGER,
                            busy_s REAL, idle_s REAL, cost_usd REAL);",
    )
    .unwrap();
    let at = june(2).start_ms();
    conn.execute(
        "INSERT INTO idle VALUES ('gpu', ?1, ?1 + 10000, 1.5, 8.5, 0.01), \
             ('gpu', ?1 + 10000, ?1 + 20000, 0.5, 9.5, 0.02), ('gpu', ?2, ?2 + 1000, 0, 1, 5.0)",
        params![at, at + 90 * DAY],
    )
    .unwrap();
}

#[test]
fn savings_and_idle_say_not_recorded_on_a_ledger_without_them() {
    let (_dir, db) = ledger(&sample());
    without_savings_and_idle(&db);
    assert_eq!(savings(&db, window(1, 30)).unwrap(), Savings::NotRecorded);
    assert_eq!(idle(&db, window(1, 30)).unwrap(), IdleCompute::NotRecorded);
    assert!(daily(&db, GroupBy::Route, window(1, 30))
        .unwrap()
        .iter()
        .all(|p| !p.key.contains("idle")));
}

#[test]
fn savings_and_idle_are_read_where_the_ledger_has_them() {
    let (_dir, db) = ledger(&sample());
    with_savings_and_idle(&db);
    // `d` has no known cost: only `c` has both costs.
    let s = savings(&db, window(1, 30)).unwrap();
    assert_eq!(
        s,
        Savings::Recorded {
            requests: 1,
            api_equivalent_usd: 1.0,
            cost_usd: 0.125
        }
    );
    assert!((s.saved_usd().unwrap() - 0.875).abs() < 1e-12);
    let IdleCompute::Recorded(lines) = idle(&db, window(1, 30)).unwrap() else {
        panic!("idle table not read")
    };
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].backend, "gpu");
    assert_eq!((lines[0].busy_s, lines[0].idle_s), (2.0, 18.0));
    assert!((lines[0].cost_usd - 0.03).abs() < 1e-12);
    let route = daily(&db, GroupBy::Route, window(1, 30)).unwrap();
    let idle_point = route.iter().find(|p| p.key == "(idle) gpu").unwrap();
    assert_eq!(
        (idle_point.day.as_str(), idle_point.requests),
        ("2025-06-02", 0)
    );
    assert!((idle_point.cost_usd - 0.03).abs() < 1e-12);
}

#[test]
fn an_idle_table_of_another_shape_is_named_not_guessed() {
    let (_dir, db) = ledger(&[]);
    without_savings_and_idle(&db);
    Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE idle (machine TEXT, at TEXT);")
        .unwrap();
    assert_eq!(
        idle(&db, window(1, 30)).unwrap(),
        IdleCompute::Unreadable(vec!["machine".into(), "at".into()])
    );
    assert!(daily(&db, GroupBy::Day, window(1, 30)).unwrap().is_empty());
}

#[test]
fn a_window_lists_its_days() {
    let w = Window {
        since: Date::new(2024, 2, 27).unwrap(),
        until: Date::new(2024, 3, 1).unwrap(),
    };
    let days: Vec<String> = w.days().iter().map(Date::to_string).collect();
    assert_eq!(
        days,
        ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"]
    );
}
