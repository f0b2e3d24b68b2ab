//! Every cost through metering's public API: failed attempts the provider billed, savings
//! against a reference model, idle compute, price versions; in the ledger, the metrics, the
//! budgets and the spend report alike.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failed unwrap is a failed test

mod support;

use rusqlite::Connection;
use serde_json::Value;
use std::time::Duration;
use support::*;
use tollgate_metering::spend::{self, Format, GroupBy};
use tollgate_metering::{Metering, MeteringConfig};

fn open_with(dir: &tempfile::TempDir, edit: impl FnOnce(&mut MeteringConfig)) -> Metering {
    let mut cfg = config(&dir.path().join("ledger.db"));
    edit(&mut cfg);
    Metering::open(&cfg, NOON).unwrap()
}

fn json_lines(db: &std::path::Path, by: GroupBy) -> Vec<Value> {
    serde_json::from_str(&spend::report(db, by, None, None, Format::Json).unwrap()).unwrap()
}

fn line<'a>(lines: &'a [Value], key: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["key"] == key)
        .unwrap_or_else(|| panic!("no line {key} in {lines:?}"))
}

fn usd(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn a_failed_attempt_is_charged_where_it_was_billed_and_settles_into_budgets() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let m = open_with(&dir, |_| {});
    let (served, failed) = FAILED_OVER_USD;
    let reservation = m.reserve("acme", "chat", Some(0.01), NOON).unwrap();
    let cost = m.record(failed_over("f-1", NOON, "acme", "chat"), Some(reservation));
    assert_usd(cost.total_usd.unwrap(), served + failed);
    assert_usd(cost.failed_usd, failed);
    m.flush().unwrap();

    let conn = Connection::open(&db).unwrap();
    let (total, charged, log): (f64, f64, String) = conn
        .query_row(
            "SELECT cost_usd, failed_usd, attempt_log FROM requests WHERE request_id = 'f-1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_usd(total, served + failed);
    assert_usd(charged, failed);
    let log: Value = serde_json::from_str(&log).unwrap();
    assert_eq!(log.as_array().unwrap().len(), 2);
    assert_eq!(
        (&log[0]["backend"], &log[0]["outcome"], &log[0]["served"]),
        (
            &Value::from("anthropic"),
            &Value::from("timeout_first_byte"),
            &Value::from(false)
        )
    );
    assert_eq!(
        (&log[0]["prompt_tokens"], &log[0]["ms"]),
        (&Value::from(1000), &Value::from(2000))
    );
    assert_usd(usd(&log[0]["cost_usd"]), failed);
    assert_eq!(
        (&log[1]["served"], &log[1]["prompt_tokens"]),
        (&Value::from(true), &Value::from(100))
    );
    assert_usd(usd(&log[1]["cost_usd"]), served);

    // The metrics count the charge under the backend that billed it.
    let text = m.encode_metrics(NOON);
    let charged: Vec<(String, f64)> = samples(&text, "tollgate_cost_usd_total")
        .into_iter()
        .filter(|(l, _)| l.contains("component=\"failed_attempts\""))
        .collect();
    assert_eq!(charged.len(), 1, "{charged:?}");
    assert!(
        charged[0].0.contains("backend=\"anthropic\"")
            && charged[0].0.contains("model=\"claude-sonnet\"")
    );
    assert_usd(charged[0].1, failed);
    assert_usd(
        metric_sum(&text, "tollgate_cost_usd_total"),
        served + failed,
    );
    // The budget was charged the whole cost, and is rebuilt with it from the ledger.
    let spent = |text: &str| {
        samples(text, "tollgate_budget_spent_usd")
            .into_iter()
            .find(|(l, _)| l.contains("scope=\"tenant\"") && l.contains("period=\"daily\""))
            .unwrap()
            .1
    };
    assert_usd(spent(&text), served + failed);
    drop(m);
    let reopened = open_with(&dir, |_| {});
    assert_usd(spent(&reopened.encode_metrics(NOON)), served + failed);

    // By route, the charge is the request's; by backend and model, where it was billed.
    let by_route = json_lines(&db, GroupBy::Route);
    assert_usd(usd(&line(&by_route, "chat")["cost_usd"]), served + failed);
    assert_usd(usd(&line(&by_route, "chat")["failed_usd"]), failed);
    let by_backend = json_lines(&db, GroupBy::Backend);
    let anthropic = line(&by_backend, "anthropic");
    assert_eq!(anthropic["requests"], 0);
    assert_usd(usd(&anthropic["cost_usd"]), failed);
    assert_usd(usd(&anthropic["failed_usd"]), failed);
    assert_usd(usd(&line(&by_backend, "openai")["cost_usd"]), served);
    let by_model = json_lines(&db, GroupBy::Model);
    assert_usd(
        usd(&line(&by_model, "anthropic/claude-sonnet")["cost_usd"]),
        failed,
    );
    for lines in [by_route, by_backend, by_model] {
        assert_usd(
            lines.iter().map(|l| usd(&l["cost_usd"])).sum(),
            served + failed,
        );
    }
}

#[test]
fn savings_are_the_reference_price_minus_the_cost() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let m = open_with(&dir, |cfg| {
        cfg.prices.reference_model = Some("anthropic/claude-sonnet".into());
    });
    // On-device: 64 + 32 tokens for $0.0001; at Claude's prices 64 × 3 + 32 × 15 per million.
    m.record(on_device("d-1", NOON, "acme", "chat"), None);
    m.record(unpriced("u-1", NOON, "acme", "chat"), None);
    m.flush().unwrap();
    let equivalent = (64.0 * 3.0 + 32.0 * 15.0) / 1e6;
    let conn = Connection::open(&db).unwrap();
    let stored: Option<f64> = conn
        .query_row(
            "SELECT api_equivalent_usd FROM requests WHERE request_id = 'd-1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_usd(stored.unwrap(), equivalent);
    let lines = json_lines(&db, GroupBy::Backend);
    let device = line(&lines, "device");
    assert_usd(usd(&device["api_equivalent_usd"]), equivalent);
    assert_usd(usd(&device["savings_usd"]), equivalent - 0.0001);
    // An unknown cost has an equivalent but no savings: nothing to subtract it from.
    let mystery = line(&lines, "mystery");
    assert_usd(
        usd(&mystery["api_equivalent_usd"]),
        (10.0 * 3.0 + 5.0 * 15.0) / 1e6,
    );
    assert!(mystery["savings_usd"].is_null(), "{mystery}");
    let table = spend::report(&db, GroupBy::Backend, None, None, Format::Table).unwrap();
    assert!(
        table.lines().next().unwrap().contains("savings_usd"),
        "{table}"
    );
    assert!(
        table.contains(&format!("{:.6}", equivalent - 0.0001)),
        "{table}"
    );
    // Without a reference the columns are empty.
    let dir = tempfile::tempdir().unwrap();
    let m = open_with(&dir, |_| {});
    m.record(on_device("d-1", NOON, "acme", "chat"), None);
    m.flush().unwrap();
    let lines = json_lines(&dir.path().join("ledger.db"), GroupBy::Backend);
    assert!(lines[0]["api_equivalent_usd"].is_null() && lines[0]["savings_usd"].is_null());
}

#[test]
fn idle_periods_are_lines_of_every_grouping_and_their_day() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let m = open_with(&dir, |cfg| {
        cfg.prices.reference_model = Some("openai/gpt-4o".into());
    });
    m.record(non_streamed("r-1", NOON, "acme", "chat"), None);
    // gpu-box at $3.6/h from 11:30: busy 10 min until noon, then 1 min of the next hour.
    let start = NOON - 30 * 60_000;
    let mut t = m.idle_tracker("gpu-box", start, Duration::ZERO).unwrap();
    assert!(
        m.idle_tracker("openai", start, Duration::ZERO).is_none(),
        "not priced by the hour"
    );
    assert_eq!(t.due(NOON + 5), Some(NOON));
    m.idle_close(&mut t, NOON, Duration::from_secs(600));
    m.idle_observe(&mut t, NOON + 120_000, Duration::from_secs(660));
    m.idle_close(&mut t, NOON + 240_000, Duration::from_secs(660));
    m.flush().unwrap();
    let idle_usd = (20.0 * 60.0 + 180.0) * 3.6 / 3600.0;

    let conn = Connection::open(&db).unwrap();
    let periods: Vec<(i64, i64, f64, f64)> = conn
        .prepare("SELECT period_start_ms, period_end_ms, busy_s, idle_s FROM idle ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        periods,
        [
            (start, NOON, 600.0, 1200.0),
            (NOON, NOON + 240_000, 60.0, 180.0)
        ]
    );
    let text = m.encode_metrics(NOON);
    assert_usd(metric_sum(&text, "tollgate_idle_cost_usd_total"), idle_usd);
    assert_usd(metric_sum(&text, "tollgate_backend_utilisation"), 0.25);

    for by in [
        GroupBy::Route,
        GroupBy::Tenant,
        GroupBy::Model,
        GroupBy::Backend,
    ] {
        let lines = json_lines(&db, by);
        let idle = line(&lines, "(idle) gpu-box");
        assert_eq!(idle["kind"], "idle");
        assert_usd(usd(&idle["cost_usd"]), idle_usd);
        assert_usd(usd(&idle["busy_s"]) + usd(&idle["idle_s"]), 2040.0);
        // An API bills no idle time: with a reference, idle cost is savings lost.
        assert_usd(usd(&idle["savings_usd"]), -idle_usd);
        assert_usd(
            lines.iter().map(|l| usd(&l["cost_usd"])).sum(),
            0.00575 + idle_usd,
        );
    }
    // By day, each period goes to its own UTC day, next to that day's requests.
    let day = "2025-06-15";
    let lines = json_lines(&db, GroupBy::Day);
    let keys: Vec<&str> = lines.iter().map(|l| l["key"].as_str().unwrap()).collect();
    assert_eq!(keys, [day, &format!("{day} (idle) gpu-box")]);
    let csv = spend::report(&db, GroupBy::Day, None, None, Format::Csv).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert_eq!(
        &header[..8],
        [
            "day",
            "requests",
            "prompt_tokens",
            "completion_tokens",
            "cached_tokens",
            "estimated_requests",
            "cost_usd",
            "unknown_cost_requests"
        ]
    );
    assert!(header.contains(&"kind") && header.contains(&"idle_s"));
    assert!(csv.contains(",idle,"), "{csv}");
    let table = spend::report(&db, GroupBy::Backend, None, None, Format::Table).unwrap();
    let total = table.lines().last().unwrap();
    assert!(
        total.starts_with("TOTAL") && total.contains(&format!("{:.6}", 0.00575 + idle_usd)),
        "{table}"
    );
    // The other day has neither.
    let other = tollgate_metering::time::Date::from_unix_ms(NOON + 86_400_000);
    let report = spend::report(
        &db,
        GroupBy::Backend,
        Some(other),
        Some(other),
        Format::Json,
    )
    .unwrap();
    assert_eq!(report.trim(), "[]");
}

#[test]
fn a_row_names_the_price_version_that_costed_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let june_16 = NOON + 12 * 3_600_000; // midnight, 2025-06-16
    let m = open_with(&dir, |cfg| {
        let text = r#"
            [[m]]
            input_per_mtok = 2.5
            output_per_mtok = 10.0
            cached_input_per_mtok = 1.25
            [[m]]
            from = "2025-06-16"
            input_per_mtok = 1.0
            output_per_mtok = 4.0
            cached_input_per_mtok = 0.5
        "#;
        #[derive(serde::Deserialize)]
        struct One {
            m: tollgate_metering::ModelPrices,
        }
        let one: One = toml::from_str(text).unwrap();
        cfg.prices.models.insert("openai/gpt-4o".into(), one.m);
    });
    m.record(non_streamed("before", june_16 - 1, "acme", "chat"), None);
    m.record(non_streamed("after", june_16, "acme", "chat"), None);
    m.flush().unwrap();
    let conn = Connection::open(&db).unwrap();
    let get = |id: &str| -> (f64, String) {
        conn.query_row(
            "SELECT cost_usd, price_version FROM requests WHERE request_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (cost, version) = get("before");
    assert_usd(cost, 0.00575);
    assert_eq!(version, "test-2025-06");
    // 1000 × 1 + 200 × 0.5 + 300 × 4 per million.
    let (cost, version) = get("after");
    assert_usd(cost, 0.0023);
    assert_eq!(version, "test-2025-06@2025-06-16");
}
