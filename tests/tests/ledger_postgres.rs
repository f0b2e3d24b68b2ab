//! The ledger shipped to a real PostgreSQL, through the real binary: every row arrives once,
//! through outages and `kill -9`; `tollgate spend` over PostgreSQL is the sum of every
//! replica's ledger; `tollgate audit` verifies each replica's chain there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rusqlite::Connection;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tollgate_e2e::client::{chat, TestClient};
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::{binary, Gateway};
use tollgate_e2e::postgres::Postgres;

/// How long shipping may take to catch up in these tests (PostgreSQL back from an outage is
/// retried after at most 10 s).
const CATCH_UP: Duration = Duration::from_secs(30);
const ROWS: &str = "SELECT COUNT(*) FROM requests";

/// A gateway config: backends `paid` (priced) and `local` (priced by the hour), routes `chat`
/// and `cheap`, the ledger at `ledger` shipping to `pg_url`, and `extra` `[ledger]` keys.
fn config(upstream: &str, ledger: &Path, pg_url: &str, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
grace_period_seconds = 1

[ledger]
path = "{ledger}"
postgres_url = "{pg_url}"
{extra}

[prices]
version = "pg-1"
[prices.models."paid/m1"]
input_per_mtok = 1.5
output_per_mtok = 2.5
[prices.backends.local]
cost_per_hour = 3.6

[backends.paid]
kind = "openai"
zone = "external"
base_url = "{upstream}"
models = {{ m1 = {{ licence = "openai-terms" }} }}

[backends.local]
kind = "openai"
zone = "local"
base_url = "{upstream}"
models = {{ m1 = {{ licence = "Apache-2.0" }} }}

[routes.chat]
candidates = ["paid/m1"]

[routes.cheap]
candidates = ["local/m1"]
"#,
        ledger = ledger.display()
    )
}

/// Sends `n` requests, alternating routes and streaming; returns their request ids.
async fn send(gw: &Gateway, n: usize, prompt: &str) -> Vec<String> {
    let client = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let mut ids = Vec::new();
    for i in 0..n {
        let route = if i % 3 == 0 { "cheap" } else { "chat" };
        let r = client
            .post_json(&url, &[], &chat(route, prompt, i % 2 == 0))
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        ids.push(r.header("x-tollgate-request-id").unwrap().to_string());
    }
    ids
}

fn metrics(gw: &Gateway) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(gw.admin.unwrap()).unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.split_once("\r\n\r\n").unwrap().1.to_string()
}

/// The value of the series `name` (with its labels, as exposed) on `/metrics`.
fn metric(gw: &Gateway, series: &str) -> f64 {
    let text = metrics(gw);
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
        .parse()
        .unwrap()
}

/// Waits until `cond` holds, up to `timeout`.
fn eventually(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "not within {timeout:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Request ids in PostgreSQL: none twice, and exactly `expected`.
fn assert_shipped_once(pg: &Postgres, expected: &BTreeSet<String>) {
    let dup = pg.count(
        "SELECT COUNT(*) FROM (SELECT request_id FROM requests GROUP BY request_id \
         HAVING COUNT(*) > 1) d",
    );
    assert_eq!(dup, 0, "duplicated request ids");
    let got: BTreeSet<String> = pg
        .query("SELECT request_id FROM requests")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(&got, expected);
    assert_eq!(pg.count("SELECT COUNT(*) FROM request_id_conflicts"), 0);
}

/// The ledger's identity and its rows' request ids, from the SQLite file.
fn local_ledger(db: &Path) -> (String, BTreeSet<String>) {
    let conn = tollgate_e2e::ledger::open(db);
    let id: String = conn
        .query_row(
            "SELECT value FROM ledger_meta WHERE key = 'ledger_id'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let ids = conn
        .prepare("SELECT request_id FROM requests")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (id, ids)
}

/// Runs `tollgate ARGS`; (exit code, stdout, stderr).
fn tollgate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn config_arg(gw: &Gateway) -> String {
    gw.dir
        .path()
        .join("tollgate.toml")
        .to_string_lossy()
        .into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_reach_postgres_exactly_once_with_their_ledger_and_values() {
    let pg = Postgres::start();
    let upstream = FakeOpenAi::start(Behavior::answer("shipped words")).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let gw = Gateway::start(&config(&upstream.base_url(), &db, &pg.url(), ""));
    let mut ids: BTreeSet<String> = send(&gw, 30, "one two three").await.into_iter().collect();
    assert_eq!(ids.len(), 30);
    let got = pg.wait_count(ROWS, 30, CATCH_UP);
    assert_eq!(got, 30, "{}", gw.stderr());
    assert_shipped_once(&pg, &ids);

    // Tagged with the file's identity and its own row ids, every value as SQLite has it.
    let (ledger_id, local_ids) = local_ledger(&db);
    assert_eq!(local_ids, ids);
    let tags = pg.query(
        "SELECT DISTINCT ledger_id, MIN(source_id), MAX(source_id) FROM requests GROUP BY 1",
    );
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].get::<_, String>(0), ledger_id);
    assert_eq!(
        (tags[0].get::<_, i64>(1), tags[0].get::<_, i64>(2)),
        (1, 30)
    );
    let conn = tollgate_e2e::ledger::open(&db);
    let (rid, cost, hash): (String, f64, String) = conn
        .query_row(
            "SELECT request_id, cost_usd, row_hash FROM requests WHERE cost_usd > 0 ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let row = &pg.query(&format!(
        "SELECT cost_usd, row_hash FROM requests WHERE request_id = '{rid}'"
    ))[0];
    assert_eq!(
        row.get::<_, f64>(0).to_bits(),
        cost.to_bits(),
        "exact float"
    );
    assert_eq!(row.get::<_, String>(1), hash);
    let migrations = pg.count("SELECT COUNT(*) FROM tollgate_schema_migrations");
    assert_eq!(migrations, 1);

    // The shipping metrics: caught up.
    eventually(Duration::from_secs(5), "shipped_rows_total = 30", || {
        metric(
            &gw,
            "tollgate_ledger_shipped_rows_total{table=\"requests\"}",
        ) == 30.0
    });
    assert_eq!(metric(&gw, "tollgate_ledger_ship_up"), 1.0);
    assert_eq!(metric(&gw, "tollgate_ledger_ship_backlog_rows"), 0.0);
    assert_eq!(metric(&gw, "tollgate_ledger_ship_lag_seconds"), 0.0);
    assert_eq!(metric(&gw, "tollgate_ledger_ship_errors_total"), 0.0);

    // More rows later ship after the first ones.
    ids.extend(send(&gw, 5, "four").await);
    assert_eq!(pg.wait_count(ROWS, 35, CATCH_UP), 35);
    assert_shipped_once(&pg, &ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_written_while_postgres_is_down_ship_when_it_returns() {
    let mut pg = Postgres::start();
    pg.stop();
    let upstream = FakeOpenAi::start(Behavior::answer("ok")).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    // PostgreSQL is down from the start: the gateway serves all the same.
    let gw = Gateway::start(&config(
        &upstream.base_url(),
        &db,
        &pg.url(),
        "ship_interval_ms = 100",
    ));
    let started = Instant::now();
    let mut ids: BTreeSet<String> = send(&gw, 10, "a b").await.into_iter().collect();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "requests slowed by the outage: {:?}",
        started.elapsed()
    );
    eventually(Duration::from_secs(5), "backlog of 10 while down", || {
        metric(&gw, "tollgate_ledger_ship_backlog_rows") == 10.0
    });
    assert_eq!(metric(&gw, "tollgate_ledger_ship_up"), 0.0);
    assert!(metric(&gw, "tollgate_ledger_ship_errors_total") >= 1.0);
    assert!(metric(&gw, "tollgate_ledger_ship_lag_seconds") >= 0.0);

    pg.resume();
    assert_eq!(pg.wait_count(ROWS, 10, CATCH_UP), 10, "{}", gw.stderr());
    assert_shipped_once(&pg, &ids);
    eventually(Duration::from_secs(5), "caught up", || {
        metric(&gw, "tollgate_ledger_ship_backlog_rows") == 0.0
            && metric(&gw, "tollgate_ledger_ship_up") == 1.0
    });

    // An outage while shipping: the connection drops, rows wait, and ship once it is back.
    pg.stop();
    ids.extend(send(&gw, 15, "c d").await);
    eventually(Duration::from_secs(10), "down noticed", || {
        metric(&gw, "tollgate_ledger_ship_up") == 0.0
    });
    pg.resume();
    assert_eq!(pg.wait_count(ROWS, 25, CATCH_UP), 25, "{}", gw.stderr());
    assert_shipped_once(&pg, &ids);

    // One warning per outage and one line when it ends, not one per retry.
    let log = gw.stderr();
    let failed = log.matches("ledger shipping to PostgreSQL failed").count();
    let recovered = log
        .matches("ledger shipping to PostgreSQL recovered")
        .count();
    assert_eq!((failed, recovered), (2, 2), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_and_restarted_ships_every_row_once() {
    let pg = Postgres::start();
    let upstream = FakeOpenAi::start(Behavior::answer("ok")).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    // Small batches often: the kill lands while rows are being shipped.
    let cfg = config(
        &upstream.base_url(),
        &db,
        &pg.url(),
        "ship_interval_ms = 5\nship_batch_rows = 3",
    );
    let mut ids = BTreeSet::new();
    for round in 0..3 {
        let mut gw = Gateway::start(&cfg);
        ids.extend(send(&gw, 20, &format!("round {round}")).await);
        gw.kill();
    }
    // The last start ships whatever the kills left behind.
    let gw = Gateway::start(&cfg);
    assert_eq!(pg.wait_count(ROWS, 60, CATCH_UP), 60, "{}", gw.stderr());
    assert_shipped_once(&pg, &ids);
    let (ledger_id, local_ids) = local_ledger(&db);
    assert_eq!(local_ids, ids, "no row lost to kill -9 locally either");
    let ledgers: Vec<String> = pg
        .query("SELECT DISTINCT ledger_id FROM requests")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        ledgers,
        [ledger_id],
        "one file, one ledger, across restarts"
    );
    let span = &pg
        .query("SELECT MIN(source_id), MAX(source_id), COUNT(DISTINCT source_id) FROM requests")[0];
    assert_eq!(
        (
            span.get::<_, i64>(0),
            span.get::<_, i64>(1),
            span.get::<_, i64>(2)
        ),
        (1, 60, 60)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_ships_its_last_rows_and_idle_lines() {
    let pg = Postgres::start();
    let upstream = FakeOpenAi::start(Behavior::answer("ok")).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    // Caught up at start, then asleep for a minute: only the last attempt at close can ship.
    let mut gw = Gateway::start(&config(
        &upstream.base_url(),
        &db,
        &pg.url(),
        "ship_interval_ms = 60000",
    ));
    pg.wait_count(
        "SELECT COUNT(*) FROM tollgate_schema_migrations",
        1,
        CATCH_UP,
    );
    std::thread::sleep(Duration::from_millis(300));
    let ids: BTreeSet<String> = send(&gw, 6, "x").await.into_iter().collect();
    assert_eq!(pg.count(ROWS), 0, "the shipper sleeps");
    assert!(gw.terminate(Duration::from_secs(10)), "graceful stop");
    assert_shipped_once(&pg, &ids);
    // The idle line of the backend priced by the hour, written at the stop, shipped with it.
    let conn = tollgate_e2e::ledger::open(&db);
    let (backend, start, cost): (String, i64, f64) = conn
        .query_row(
            "SELECT backend, period_start_ms, cost_usd FROM idle",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let lines = pg.query("SELECT backend, period_start_ms, cost_usd FROM idle");
    assert_eq!(lines.len(), 1, "{}", gw.stderr());
    assert_eq!(lines[0].get::<_, String>(0), backend);
    assert_eq!(lines[0].get::<_, i64>(1), start);
    assert_eq!(lines[0].get::<_, f64>(2).to_bits(), cost.to_bits());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_and_audit_over_postgres_cover_every_replica() {
    let pg = Postgres::start();
    let upstream = FakeOpenAi::start(Behavior::answer("replica answer words")).await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let dbs: Vec<PathBuf> = dirs.iter().map(|d| d.path().join("ledger.db")).collect();
    let mut gws: Vec<Gateway> = dbs
        .iter()
        .map(|db| Gateway::start(&config(&upstream.base_url(), db, &pg.url(), "")))
        .collect();
    let mut n = 0;
    for (i, gw) in gws.iter().enumerate() {
        let count = 12 + 7 * i;
        send(gw, count, &"word ".repeat(3 + i)).await;
        n += count as i64;
    }
    // Stopped gracefully: their idle lines are written and shipped too.
    for gw in &mut gws {
        assert!(gw.terminate(Duration::from_secs(10)));
    }
    assert_eq!(pg.wait_count(ROWS, n, CATCH_UP), n);
    assert_eq!(pg.count("SELECT COUNT(*) FROM idle"), 2);

    // The expected report: the same command over one file holding both ledgers' rows.
    let merged_dir = tempfile::tempdir().unwrap();
    let merged_db = merged_dir.path().join("merged.db");
    tollgate_e2e::ledger::merge(&dbs, &merged_db);
    let merged_cfg = merged_dir.path().join("tollgate.toml");
    std::fs::write(
        &merged_cfg,
        config(&upstream.base_url(), &merged_db, &pg.url(), ""),
    )
    .unwrap();
    let merged_cfg = merged_cfg.to_string_lossy().into_owned();
    let replica_cfg = config_arg(&gws[0]);
    for by in ["route", "tenant", "model", "backend", "day"] {
        let (code, from_pg, err) = tollgate(&[
            "spend",
            "--config",
            &replica_cfg,
            "--by",
            by,
            "--format",
            "csv",
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains("spend from PostgreSQL") && err.contains("of 2 ledger(s)"),
            "{err}"
        );
        let (code, expected, err) = tollgate(&[
            "spend",
            "--config",
            &merged_cfg,
            "--by",
            by,
            "--format",
            "csv",
            "--local",
        ]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(from_pg, expected, "by {by}");
        assert!(from_pg.lines().count() > 1, "{from_pg}");
    }
    // --local: this replica's own file only.
    let (code, local, err) = tollgate(&[
        "spend",
        "--config",
        &replica_cfg,
        "--by",
        "route",
        "--format",
        "json",
        "--local",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("spend from the ledger file"), "{err}");
    let lines: serde_json::Value = serde_json::from_str(&local).unwrap();
    let requests: u64 = lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(requests, 12);

    // Audit: each ledger's chain verified on its own, from PostgreSQL.
    let (code, out, err) = tollgate(&["audit", "verify", "--config", &replica_cfg]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("source: PostgreSQL, 2 ledger(s)"), "{out}");
    assert_eq!(out.matches("chain intact").count(), 2, "{out}");
    let (code, out, _) = tollgate(&["audit", "--config", &replica_cfg, "--min-class", "public"]);
    assert_eq!(code, 1, "external answers in clear: {out}");
    assert!(out.contains("source: PostgreSQL"), "{out}");
    assert!(out.contains(&format!("{} in clear", n - (4 + 7))), "{out}");

    // An edit in PostgreSQL breaks that ledger's chain there, and only that one.
    let (victim, _) = local_ledger(&dbs[1]);
    pg.query(&format!(
        "UPDATE requests SET cost_usd = cost_usd / 2 WHERE ledger_id = '{victim}' AND source_id = 3"
    ));
    let (code, out, _) = tollgate(&["audit", "verify", "--config", &replica_cfg]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("ledger {victim}: BROKEN at row 3")),
        "{out}"
    );
    assert_eq!(out.matches("chain intact").count(), 1, "{out}");
    // The file itself still holds.
    let (code, out, _) = tollgate(&["audit", "verify", "--config", &replica_cfg, "--local"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("source: the ledger file"), "{out}");

    // One ledger with the head its file has.
    let (other, _) = local_ledger(&dbs[0]);
    let head: String = tollgate_e2e::ledger::open(&dbs[0])
        .query_row(
            "SELECT row_hash FROM requests ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let (code, out, err) = tollgate(&[
        "audit",
        "verify",
        "--config",
        &replica_cfg,
        "--ledger-id",
        &other,
        "--expect-head",
        &head,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = tollgate(&[
        "audit",
        "verify",
        "--config",
        &replica_cfg,
        "--expect-head",
        &head,
    ]);
    assert_eq!(code, 2, "two ledgers, one head: {err}");
}

/// Shipping throughput: a backlog of 100 000 rows (written while PostgreSQL was down) shipped
/// by a gateway starting up. Prints rows/s; run with
/// `cargo test -p tollgate-e2e --test ledger_postgres -- --ignored --nocapture shipping_throughput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn shipping_throughput_of_a_backlog() {
    const BACKLOG: i64 = 100_000;
    let mut pg = Postgres::start();
    pg.stop();
    let upstream = FakeOpenAi::start(Behavior::answer("ok")).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let cfg = config(&upstream.base_url(), &db, &pg.url(), "");
    let mut gw = Gateway::start(&cfg);
    send(&gw, 2, "seed").await;
    gw.kill();
    // Copies of a real row under new request ids (shipping does not read the chain).
    let conn = Connection::open(&db).unwrap();
    let cols: Vec<String> = conn
        .prepare(
            "SELECT name FROM pragma_table_info('requests') WHERE name NOT IN ('id', 'request_id')",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let cols = cols.join(", ");
    conn.execute_batch(&format!(
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < {BACKLOG})
         INSERT INTO requests (request_id, {cols})
         SELECT 'bench-' || n, {cols} FROM c, (SELECT {cols} FROM requests WHERE id = 2)"
    ))
    .unwrap();
    drop(conn);
    pg.resume();
    let started = Instant::now();
    let gw = Gateway::start(&cfg);
    let total = BACKLOG + 2;
    assert_eq!(
        pg.wait_count(ROWS, total, Duration::from_secs(300)),
        total,
        "{}",
        gw.stderr()
    );
    let secs = started.elapsed().as_secs_f64();
    println!(
        "shipped {total} rows in {secs:.2} s (gateway start included): {:.0} rows/s",
        total as f64 / secs
    );
}
