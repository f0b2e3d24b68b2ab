//! Behaviour of metering through its public API: costs, metrics, the ledger, budgets, reports.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failed unwrap is a failed test

mod support;

use rusqlite::Connection;
use std::sync::{Arc, Barrier};
use support::*;
use tollgate_metering::spend::{self, Format, GroupBy};
use tollgate_metering::time::Date;
use tollgate_metering::{Metering, OnExhausted, Period, Scope};

fn open(dir: &tempfile::TempDir) -> (Metering, std::path::PathBuf) {
    let db = dir.path().join("ledger.db");
    (Metering::open(&config(&db), NOON).unwrap(), db)
}

fn rows(db: &std::path::Path) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM requests", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn each_kind_of_record_is_costed_exactly_and_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (m, db) = open(&dir);
    for (i, (build, expected)) in KINDS.iter().enumerate() {
        let rec = build(&format!("req-{i}"), NOON, "acme", "chat");
        let cost = m.record(rec, None);
        match expected {
            Some(usd) => assert_usd(cost.total_usd.unwrap(), *usd),
            None => assert!(cost.is_unknown(), "unpriced record got {cost:?}"),
        }
    }
    m.flush().unwrap();

    let conn = Connection::open(&db).unwrap();
    type Stored = (
        i64,
        i64,
        i64,
        bool,
        Option<f64>,
        String,
        String,
        Option<f64>,
        i64,
    );
    let get = |id: &str| -> Stored {
        conn.query_row(
            "SELECT prompt_tokens, completion_tokens, cached_tokens, estimated, cost_usd, \
             outcome, price_version, ttft_ms, attempts FROM requests WHERE request_id = ?1",
            [id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            },
        )
        .unwrap()
    };
    // Non-streamed: usage as reported, cached part at the cached rate.
    let r = get("req-0");
    assert_eq!((r.0, r.1, r.2, r.3), (1200, 300, 200, false));
    assert_usd(r.4.unwrap(), 0.00575);
    assert_eq!(r.6, "test-2025-06");
    // Streamed: TTFT kept in ms.
    let r = get("req-1");
    assert_eq!((r.0, r.1), (2000, 800));
    assert_eq!(r.7, Some(400.0));
    // Estimated: ceil(4000/4) and ceil(1001/4), flagged, costed by compute share.
    let r = get("req-2");
    assert_eq!((r.0, r.1, r.3), (1000, 251, true));
    assert_usd(r.4.unwrap(), 0.0025);
    // Cut off: the tokens streamed before the cut are paid for.
    let r = get("req-3");
    assert_eq!((r.1, r.5.as_str()), (150, "cut_off"));
    assert_usd(r.4.unwrap(), 0.00275);
    // Fallback: both attempts counted, cost of the serving model.
    let r = get("req-4");
    assert_eq!(r.8, 2);
    assert_usd(r.4.unwrap(), 0.00075);
    // Unknown price: NULL, never 0.
    let r = get("req-5");
    assert_eq!(r.4, None);
    let unknown: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM requests WHERE cost_usd IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unknown, 1);
    assert_eq!(rows(&db), KINDS.len() as i64);

    let text = m.metrics().encode();
    assert_eq!(
        metric_sum(&text, "tollgate_unknown_price_requests_total"),
        1.0
    );
    let expected_total: f64 = KINDS.iter().filter_map(|k| k.1).sum();
    assert_usd(metric_sum(&text, "tollgate_cost_usd_total"), expected_total);
    assert_eq!(metric_sum(&text, "tollgate_fallbacks_total"), 1.0);
    // Attempts: one per record with a backend attempt, two for the fallback.
    assert_eq!(metric_sum(&text, "tollgate_attempts_total"), 9.0);
    let failed_attempts: f64 = samples(&text, "tollgate_attempts_total")
        .iter()
        .filter(|(l, _)| {
            l.contains("outcome=\"timeout_first_byte\"") || l.contains("outcome=\"connect\"")
        })
        .map(|(_, v)| v)
        .sum();
    assert_eq!(failed_attempts, 2.0);
    let prompt: f64 = samples(&text, "tollgate_tokens_total")
        .iter()
        .filter(|(l, _)| l.contains("kind=\"prompt\""))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(prompt, (1200 + 2000 + 1000 + 500 + 100 + 10 + 64) as f64);
    let estimated: f64 = samples(&text, "tollgate_tokens_total")
        .iter()
        .filter(|(l, _)| l.contains("estimated=\"true\""))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(estimated, 1251.0);
    let compute: f64 = samples(&text, "tollgate_cost_usd_total")
        .iter()
        .filter(|(l, _)| l.contains("component=\"compute\""))
        .map(|(_, v)| v)
        .sum();
    assert_usd(compute, 0.0025 + 0.0001);
    assert_eq!(metric_sum(&text, "tollgate_policy_refusals_total"), 3.0);
    assert_eq!(metric_sum(&text, "tollgate_detections_total"), 3.0);
    assert!(text.contains("tenant=\"acme\""), "tenant label enabled");
    assert_eq!(metric_sum(&text, "tollgate_ledger_rows_written_total"), 9.0);
}

#[test]
fn ledger_row_count_equals_records_from_concurrent_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let (m, db) = open(&dir);
    let m = Arc::new(m);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    const TASKS: usize = 64;
    const PER_TASK: usize = 250;
    rt.block_on(async {
        let mut handles = Vec::new();
        for t in 0..TASKS {
            let m = Arc::clone(&m);
            handles.push(tokio::spawn(async move {
                for i in 0..PER_TASK {
                    let (build, _) = KINDS[(t + i) % KINDS.len()];
                    m.record(build(&format!("t{t}-{i}"), NOON, "acme", "bulk"), None);
                    if i % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    m.flush().unwrap();
    assert_eq!(rows(&db), (TASKS * PER_TASK) as i64);
    let text = m.metrics().encode();
    assert_eq!(metric_sum(&text, "tollgate_ledger_dropped_rows_total"), 0.0);
    assert_eq!(
        metric_sum(&text, "tollgate_ledger_rows_written_total"),
        (TASKS * PER_TASK) as f64
    );
}

#[test]
fn dropping_without_flush_still_writes_every_pending_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    {
        let mut cfg = config(&db);
        cfg.ledger.batch_max = 7;
        let m = Metering::open(&cfg, NOON).unwrap();
        for i in 0..5000 {
            m.record(non_streamed(&format!("r{i}"), NOON, "acme", "chat"), None);
        }
        // No flush: shutting down drains the queue.
    }
    assert_eq!(rows(&db), 5000);
}

#[test]
fn a_full_queue_waits_then_counts_what_it_drops() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let mut cfg = config(&db);
    cfg.ledger.queue_capacity = 1;
    cfg.ledger.full_wait_ms = 0;
    let m = Metering::open(&cfg, NOON).unwrap();
    // Hold the database's write lock so the writer cannot commit.
    let blocker = Connection::open(&db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    for i in 0..200 {
        m.record(non_streamed(&format!("r{i}"), NOON, "acme", "chat"), None);
    }
    let text = m.metrics().encode();
    let blocked = metric_sum(&text, "tollgate_ledger_blocked_writes_total");
    let dropped = metric_sum(&text, "tollgate_ledger_dropped_rows_total");
    assert!(
        blocked >= 1.0 && dropped >= 1.0,
        "blocked {blocked}, dropped {dropped}"
    );
    blocker.execute_batch("COMMIT").unwrap();
    m.flush().unwrap();
    let text = m.metrics().encode();
    let written = metric_sum(&text, "tollgate_ledger_rows_written_total");
    let dropped = metric_sum(&text, "tollgate_ledger_dropped_rows_total");
    // Every record is either in the ledger or counted as dropped.
    assert_eq!(written + dropped, 200.0);
    assert_eq!(rows(&db) as f64, written);
}

#[test]
fn concurrent_reservations_never_overspend() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _db) = open(&dir);
    let m = Arc::new(m);
    // Tenant acme: $10 a day. 50 requests of worst case $1 race for it.
    let start = Arc::new(Barrier::new(50));
    let reserved = Arc::new(Barrier::new(50));
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let (m, start, reserved) = (Arc::clone(&m), Arc::clone(&start), Arc::clone(&reserved));
            std::thread::spawn(move || {
                start.wait();
                let r = m.reserve("acme", "chat", Some(1.0), NOON);
                reserved.wait();
                let ok = r.is_ok();
                if let Ok(res) = r {
                    let rec = non_streamed(&format!("b{i}"), NOON, "acme", "chat");
                    m.record(rec, Some(res));
                }
                ok
            })
        })
        .collect();
    let granted = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|ok| *ok)
        .count();
    assert_eq!(granted, 10, "exactly limit / worst case reservations fit");
    let daily = m
        .budgets()
        .status(NOON)
        .into_iter()
        .find(|b| b.scope == Scope::Tenant && b.period == Period::Daily)
        .unwrap();
    assert_usd(daily.spent_usd, 10.0 * 0.00575);
    assert_eq!(daily.reserved_usd, 0.0);
}

#[test]
fn interleaved_requests_keep_spend_plus_reservations_within_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _db) = open(&dir);
    let m = Arc::new(m);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (m, done) = (Arc::clone(&m), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut checks = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                for b in m.budgets().status(NOON) {
                    assert!(
                        b.spent_usd + b.reserved_usd <= b.limit_usd + 1e-9,
                        "{b:?} over its limit"
                    );
                    // Committed spend exceeds the limit by no more than reservations in flight.
                    assert!(b.spent_usd <= b.limit_usd + b.reserved_usd + 1e-9);
                }
                checks += 1;
            }
            checks
        })
    };
    let workers: Vec<_> = (0..50)
        .map(|t| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                let mut granted = 0;
                for i in 0..40 {
                    // Worst case $0.30, real cost $0.018 (streamed record).
                    if let Ok(res) = m.reserve("acme", "chat", Some(0.3), NOON) {
                        granted += 1;
                        let rec = streamed(&format!("w{t}-{i}"), NOON, "acme", "chat");
                        std::thread::yield_now();
                        m.record(rec, Some(res));
                    }
                }
                granted
            })
        })
        .collect();
    let granted: usize = workers.into_iter().map(|h| h.join().unwrap()).sum();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(watcher.join().unwrap() > 0);
    let daily = m
        .budgets()
        .status(NOON)
        .into_iter()
        .find(|b| b.scope == Scope::Tenant && b.period == Period::Daily)
        .unwrap();
    assert_usd(daily.spent_usd, granted as f64 * 0.018);
    assert!(daily.spent_usd <= 10.0);
    // With nothing in flight, requests are granted until $0.30 no longer fits.
    let mut i = 0;
    while let Ok(res) = m.reserve("acme", "chat", Some(0.3), NOON) {
        let rec = streamed(&format!("tail-{i}"), NOON, "acme", "chat");
        m.record(rec, Some(res));
        i += 1;
    }
    let spent = m
        .budgets()
        .status(NOON)
        .into_iter()
        .find(|b| b.scope == Scope::Tenant && b.period == Period::Daily)
        .unwrap()
        .spent_usd;
    assert!(
        spent <= 10.0 && spent + 0.3 > 10.0 - 1e-9,
        "stopped at {spent}"
    );
}

#[test]
fn exhausted_budgets_refuse_with_details_but_let_free_models_through() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _db) = open(&dir);
    let res = m.reserve("acme", "chat", Some(10.0), NOON).unwrap();
    let refusal = m.reserve("acme", "chat", Some(0.01), NOON).unwrap_err();
    assert_eq!(refusal.scope, Scope::Tenant);
    assert_eq!(refusal.period, Period::Daily);
    assert_eq!(refusal.limit_usd, 10.0);
    assert_eq!(refusal.reserved_usd, 10.0);
    assert_eq!(refusal.on_exhausted, OnExhausted::Reject);
    assert_eq!(
        refusal.resets_at_ms,
        Date::new(2025, 6, 16).unwrap().start_ms()
    );
    assert!(
        refusal.to_string().contains("resets at 2025-06-16"),
        "{refusal}"
    );
    // Free models pass (include_free_models = false); unpriced ones do not.
    assert!(m.reserve("acme", "chat", Some(0.0), NOON).is_ok());
    assert!(m.reserve("acme", "chat", None, NOON).is_err());
    // A dropped reservation gives its budget back.
    drop(res);
    assert!(m.reserve("acme", "chat", Some(9.0), NOON).is_ok());
    // Route budget with fall_through: $500 a month.
    let route = m.reserve("other", "chat", Some(600.0), NOON).unwrap_err();
    assert_eq!(
        (route.scope, route.on_exhausted),
        (Scope::Route, OnExhausted::FallThrough)
    );
    assert_eq!(
        route.resets_at_ms,
        Date::new(2025, 7, 1).unwrap().start_ms()
    );
    let text = m.metrics().encode();
    assert_eq!(metric_sum(&text, "tollgate_budget_refusals_total"), 3.0);
}

#[test]
fn budgets_are_rebuilt_from_the_ledger_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let yesterday = NOON - 86_400_000;
    let last_month = Date::new(2025, 5, 31).unwrap().start_ms();
    {
        let m = Metering::open(&config(&db), NOON).unwrap();
        for i in 0..100 {
            m.record(
                streamed(&format!("today-{i}"), NOON + i, "acme", "chat"),
                None,
            );
        }
        for i in 0..50 {
            m.record(
                streamed(&format!("yday-{i}"), yesterday, "acme", "chat"),
                None,
            );
        }
        for i in 0..30 {
            m.record(
                streamed(&format!("may-{i}"), last_month, "acme", "chat"),
                None,
            );
        }
        m.record(unpriced("unknown", NOON, "acme", "chat"), None);
        m.flush().unwrap();
    }
    let m = Metering::open(&config(&db), NOON + 3_600_000).unwrap();
    let status = m.budgets().status(NOON + 3_600_000);
    let get = |scope, period| {
        status
            .iter()
            .find(|b| b.scope == scope && b.period == period)
            .unwrap()
            .spent_usd
    };
    assert_usd(get(Scope::Tenant, Period::Daily), 100.0 * 0.018);
    assert_usd(get(Scope::Tenant, Period::Monthly), 150.0 * 0.018);
    assert_usd(get(Scope::Route, Period::Monthly), 150.0 * 0.018);
    // The next day starts empty; the month keeps counting.
    let tomorrow = m.budgets().status(NOON + 86_400_000);
    let daily = tomorrow.iter().find(|b| b.period == Period::Daily).unwrap();
    assert_eq!(daily.spent_usd, 0.0);
    // Gauges show the rebuilt state.
    let text = m.encode_metrics(NOON + 3_600_000);
    let spent = samples(&text, "tollgate_budget_spent_usd");
    let monthly = spent
        .iter()
        .find(|(l, _)| l.contains("scope=\"tenant\"") && l.contains("period=\"monthly\""))
        .unwrap();
    assert_usd(monthly.1, 150.0 * 0.018);
}

#[test]
fn spend_report_totals_match_records_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (m, db) = open(&dir);
    let tenants = ["acme", "globex", "initech, \"quoted\" ltd"];
    let routes = ["chat", "summarise"];
    let mut expected_cost = 0.0;
    let mut expected_unknown = 0;
    let mut n = 0;
    for day in 0..3i64 {
        for (t, tenant) in tenants.iter().enumerate() {
            for (i, (build, cost)) in KINDS.iter().enumerate() {
                let route = routes[(i + t) % 2];
                let at = NOON + day * 86_400_000;
                m.record(build(&format!("s{day}-{t}-{i}"), at, tenant, route), None);
                n += 1;
                match cost {
                    Some(c) => expected_cost += c,
                    None => expected_unknown += 1,
                }
            }
        }
    }
    m.flush().unwrap();
    let metric_cost = metric_sum(&m.metrics().encode(), "tollgate_cost_usd_total");
    assert_usd(metric_cost, expected_cost);

    for by in [
        GroupBy::Route,
        GroupBy::Tenant,
        GroupBy::Model,
        GroupBy::Backend,
        GroupBy::Day,
    ] {
        let json = spend::report(&db, by, None, None, Format::Json).unwrap();
        let lines: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        let cost: f64 = lines.iter().map(|l| l["cost_usd"].as_f64().unwrap()).sum();
        let requests: u64 = lines.iter().map(|l| l["requests"].as_u64().unwrap()).sum();
        let unknown: u64 = lines
            .iter()
            .map(|l| l["unknown_cost_requests"].as_u64().unwrap())
            .sum();
        assert_usd(cost, expected_cost);
        assert_eq!(requests, n);
        assert_eq!(unknown, expected_unknown);

        let csv = spend::report(&db, by, None, None, Format::Csv).unwrap();
        let table = parse_csv(&csv);
        assert_eq!(table[0][0], by.as_str());
        assert_eq!(table[0].len(), 14);
        assert_eq!(table.len(), lines.len() + 1);
        let cost_col = table[0].iter().position(|h| h == "cost_usd").unwrap();
        let csv_cost: f64 = table[1..]
            .iter()
            .map(|r| r[cost_col].parse::<f64>().unwrap())
            .sum();
        assert_usd(csv_cost, expected_cost);
        for (row, line) in table[1..].iter().zip(&lines) {
            assert_eq!(row[0], line["key"].as_str().unwrap());
        }

        let text = spend::report(&db, by, None, None, Format::Table).unwrap();
        assert!(text.lines().last().unwrap().starts_with("TOTAL"));
        assert!(text.contains(&format!("{expected_cost:.6}")), "{text}");
    }
    // The tenant with a comma and quotes survives the CSV round trip.
    let csv = spend::report(&db, GroupBy::Tenant, None, None, Format::Csv).unwrap();
    assert!(parse_csv(&csv)
        .iter()
        .any(|r| r[0] == "initech, \"quoted\" ltd"));
    // Days are inclusive UTC dates.
    let d2 = Date::from_unix_ms(NOON + 86_400_000);
    let json = spend::report(&db, GroupBy::Day, Some(d2), Some(d2), Format::Json).unwrap();
    let lines: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["key"], "2025-06-16");
    assert_eq!(lines[0]["requests"], (tenants.len() * KINDS.len()) as u64);
}

/// RFC 4180 reader: quoted fields, doubled quotes, CRLF records.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    assert!(text.ends_with("\r\n"), "records end with CRLF");
    let mut rows = vec![];
    let mut row = vec![];
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        row.is_empty() && field.is_empty(),
        "no trailing partial record"
    );
    rows
}

/// Throughput of the record path and the ledger writer; run with
/// `cargo test -p tollgate --release --test metering -- --ignored --nocapture throughput`.
#[test]
#[ignore = "measurement, not a check"]
fn throughput() {
    let dir = tempfile::tempdir().unwrap();
    let (m, db) = open(&dir);
    const N: usize = 200_000;
    let records: Vec<_> = (0..N)
        .map(|i| {
            let (build, _) = KINDS[i % KINDS.len()];
            build(&format!("perf-{i}"), NOON, "acme", "chat")
        })
        .collect();
    let started = std::time::Instant::now();
    for r in records {
        m.record(r, None);
    }
    let recorded = started.elapsed();
    m.flush().unwrap();
    let committed = started.elapsed();
    assert_eq!(rows(&db), N as i64);
    let text = m.metrics().encode();
    let dropped = metric_sum(&text, "tollgate_ledger_dropped_rows_total");
    let blocked = metric_sum(&text, "tollgate_ledger_blocked_writes_total");
    println!(
        "{N} records: record() mean {:.2} µs, ledger {:.0} rows/s committed, \
         {blocked} waited for room, {dropped} dropped",
        recorded.as_secs_f64() * 1e6 / N as f64,
        N as f64 / committed.as_secs_f64()
    );
}
