//! Metering end to end: the real binary, a real SQLite ledger, the admin listener and
//! `tollgate spend`, against faithful fake upstreams whose usage is deterministic (prompt tokens
//! = words in the messages, completion tokens = words in the reply).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tollgate_e2e::client::{chat, TestClient};
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::{binary, Gateway};
use tollgate_e2e::ledger::{count, open, wait_rows};

const PAID_REPLY: &str = "Hello from the paid backend"; // 5 words
const LOCAL_REPLY: &str = "alpha beta gamma delta"; // 22 bytes: 6 estimated tokens

struct Fakes {
    paid: FakeOpenAi,
    nousage: FakeOpenAi,
    cutter: FakeOpenAi,
    failing: FakeOpenAi,
    unpriced: FakeOpenAi,
}

async fn fakes() -> Fakes {
    Fakes {
        paid: FakeOpenAi::start(Behavior::answer(PAID_REPLY)).await,
        nousage: FakeOpenAi::start(Behavior::Answer {
            reply: LOCAL_REPLY.into(),
            stream_usage: false,
            head_delay: Duration::ZERO,
            event_gap: Duration::from_millis(2),
        })
        .await,
        cutter: FakeOpenAi::start(Behavior::CutAfter { events: 3 }).await,
        failing: FakeOpenAi::start(Behavior::Status {
            status: 500,
            retry_after: None,
        })
        .await,
        unpriced: FakeOpenAi::start(Behavior::answer("free words here")).await,
    }
}

/// Backends `paid`, `nousage` (local, no usage in streams), `cutter` (cuts streams after three
/// chunks), `failing` (HTTP 500), `unpriced` and `free` (priced at $0), each serving `m1`; the
/// ledger at `ledger.db` and the admin listener for `/metrics`.
fn config(f: &Fakes) -> Config {
    const M1: &[(&str, &str)] = &[("m1", "Apache-2.0")];
    Config::new()
        .admin_listener()
        .server("grace_period_seconds = 1")
        .ledger("ledger.db")
        .prices_version("e2e-1")
        .price("paid/m1", 1.0, 2.0)
        .price("nousage/m1", 0.5, 1.5)
        .price("cutter/m1", 3.0, 4.0)
        .price("failing/m1", 10.0, 10.0)
        .price("free/m1", 0.0, 0.0)
        .route("chat", &["paid/m1"])
        .route("local", &["nousage/m1"])
        .route("cut", &["cutter/m1"])
        .route("fallback", &["failing/m1", "paid/m1"])
        .route("unpriced", &["unpriced/m1"])
        .route("tiered", &["paid/m1", "free/m1"])
        .route("strict", &["paid/m1"])
        .backend("paid", "external", &f.paid.base_url(), M1)
        .backend("nousage", "local", &f.nousage.base_url(), M1)
        .backend("cutter", "external", &f.cutter.base_url(), M1)
        .backend("failing", "external", &f.failing.base_url(), M1)
        .backend("unpriced", "external", &f.unpriced.base_url(), M1)
        .backend("free", "local", &f.paid.base_url(), M1)
}

fn ledger_path(gw: &Gateway) -> PathBuf {
    gw.dir.path().join("ledger.db")
}

/// One ledger row, the columns the tests check.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    route: String,
    backend: Option<String>,
    model: Option<String>,
    stream: bool,
    prompt: i64,
    completion: i64,
    estimated: bool,
    cost: Option<f64>,
    status: i64,
    outcome: String,
    error_class: Option<String>,
    attempts: i64,
    ttft_ms: Option<f64>,
}

fn rows(db: &Path) -> BTreeMap<String, Row> {
    let conn = open(db);
    let mut stmt = conn
        .prepare(
            "SELECT request_id, route, backend, model, stream, prompt_tokens, completion_tokens, \
             estimated, cost_usd, status, outcome, error_class, attempts, ttft_ms FROM requests",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Row {
                route: r.get(1)?,
                backend: r.get(2)?,
                model: r.get(3)?,
                stream: r.get(4)?,
                prompt: r.get(5)?,
                completion: r.get(6)?,
                estimated: r.get(7)?,
                cost: r.get(8)?,
                status: r.get(9)?,
                outcome: r.get(10)?,
                error_class: r.get(11)?,
                attempts: r.get(12)?,
                ttft_ms: r.get(13)?,
            },
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 + 1e-9 * b.abs()
}

async fn send(gw: &Gateway, body: &Value) -> (String, tollgate_e2e::client::Response) {
    let r = TestClient::new()
        .post_json(&gw.url("/v1/chat/completions"), &[], body)
        .await;
    let id = r
        .header("x-tollgate-request-id")
        .expect("every answer carries its request id")
        .to_string();
    (id, r)
}

/// The sum of every `tollgate_cost_usd_total` series on the admin listener.
fn scraped_cost(admin: std::net::SocketAddr) -> f64 {
    let text = http_get(admin, "/metrics").1;
    text.lines()
        .filter(|l| l.starts_with("tollgate_cost_usd_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

fn spend(gw: &Gateway, by: &str, format: &str) -> String {
    let out = std::process::Command::new(binary())
        .args(["spend", "--config"])
        .arg(gw.dir.path().join("tollgate.toml"))
        .args(["--by", by, "--format", format])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_leaves_a_row_with_exact_tokens_and_cost() {
    let f = fakes().await;
    let gw = Gateway::start(&config(&f).build());
    let db = ledger_path(&gw);

    let (plain, r) = send(&gw, &chat("chat", "one two three", false)).await;
    assert_eq!(r.status, 200);
    let (streamed, r) = send(&gw, &chat("chat", "one two three four", true)).await;
    assert_eq!(r.streamed_content(), PAID_REPLY);
    let (no_usage, r) = send(&gw, &chat("local", "count these words please", true)).await;
    assert_eq!(r.streamed_content(), LOCAL_REPLY);
    let (cut, r) = send(&gw, &chat("cut", "cut me", true)).await;
    assert_eq!(r.status, 200);
    assert!(r
        .sse_data()
        .last()
        .unwrap()
        .contains("upstream_stream_failed"));
    let (fallback, r) = send(&gw, &chat("fallback", "one two", false)).await;
    assert_eq!(r.header("x-tollgate-backend"), Some("paid"));
    let (unpriced, r) = send(&gw, &chat("unpriced", "x y z", false)).await;
    assert_eq!(r.status, 200);
    let (unknown, r) = send(&gw, &chat("nope", "hi", false)).await;
    assert_eq!(r.status, 404);
    let r = TestClient::new()
        .send(
            "POST",
            &gw.url("/v1/chat/completions"),
            &[("content-type", "application/json")],
            "{not json",
        )
        .await;
    assert_eq!(r.status, 400);
    let bad_json = r.header("x-tollgate-request-id").unwrap().to_string();

    wait_rows(&db, 8);
    let rows = rows(&db);
    let row = |id: &str| {
        rows.get(id)
            .unwrap_or_else(|| panic!("no row {id}"))
            .clone()
    };
    let paid = |p: i64, c: i64| (p as f64 * 1.0 + c as f64 * 2.0) / 1e6;

    let r = row(&plain);
    assert_eq!(
        (r.route.as_str(), r.backend.as_deref(), r.model.as_deref()),
        ("chat", Some("paid"), Some("m1"))
    );
    assert_eq!(
        (r.prompt, r.completion, r.estimated, r.stream),
        (3, 5, false, false)
    );
    assert!(close(r.cost.unwrap(), paid(3, 5)), "{r:?}");
    assert_eq!(
        (r.status, r.outcome.as_str(), r.attempts),
        (200, "completed", 1)
    );

    let r = row(&streamed);
    assert_eq!(
        (r.prompt, r.completion, r.estimated, r.stream),
        (4, 5, false, true)
    );
    assert!(close(r.cost.unwrap(), paid(4, 5)), "{r:?}");
    assert!(r.ttft_ms.is_some());

    // No usage chunk: estimated from bytes (ceil(bytes / 4)) of the prompt and of the content.
    let r = row(&no_usage);
    let (p, c) = (
        ("count these words please".len() as i64 + 3) / 4,
        (LOCAL_REPLY.len() as i64 + 3) / 4,
    );
    assert_eq!((p, c), (6, 6));
    assert_eq!((r.prompt, r.completion, r.estimated), (p, c, true));
    assert!(
        close(r.cost.unwrap(), (p as f64 * 0.5 + c as f64 * 1.5) / 1e6),
        "{r:?}"
    );
    assert_eq!(r.outcome, "completed");

    // Cut after "part0 part1 part2 " (18 bytes: 5 tokens), prompt "cut me" (2 tokens).
    let r = row(&cut);
    assert_eq!((r.prompt, r.completion, r.estimated), (2, 5, true));
    assert!(
        close(r.cost.unwrap(), (2.0 * 3.0 + 5.0 * 4.0) / 1e6),
        "{r:?}"
    );
    assert_eq!(
        (r.outcome.as_str(), r.error_class.as_deref()),
        ("cut_off", Some("upstream_stream_failed"))
    );

    // The failed attempt is counted, and charged: the 500 came after the provider had the
    // prompt ("one two": 2 tokens at $10 per million), on top of what the serving backend cost.
    let r = row(&fallback);
    assert_eq!(
        (r.backend.as_deref(), r.attempts, r.outcome.as_str()),
        (Some("paid"), 2, "completed")
    );
    assert_eq!((r.prompt, r.completion), (2, 5));
    assert!(
        close(r.cost.unwrap(), paid(2, 5) + 2.0 * 10.0 / 1e6),
        "{r:?}"
    );

    // No price: the cost is unknown (NULL), never $0.
    let r = row(&unpriced);
    assert_eq!((r.prompt, r.completion, r.cost), (3, 3, None));

    let r = row(&unknown);
    assert_eq!(
        (r.route.as_str(), r.status, r.outcome.as_str(), r.cost),
        ("none", 404, "rejected_input", Some(0.0))
    );
    let r = row(&bad_json);
    assert_eq!(
        (r.status, r.outcome.as_str(), r.backend),
        (400, "rejected_input", None)
    );

    // Finance's export and the metrics agree on the money.
    let known: f64 = rows.values().filter_map(|r| r.cost).sum();
    let csv = spend(&gw, "route", "csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let cost_col = header.iter().position(|h| *h == "cost_usd").unwrap();
    let unknown_col = header
        .iter()
        .position(|h| *h == "unknown_cost_requests")
        .unwrap();
    let (mut csv_cost, mut csv_unknown) = (0.0, 0);
    for l in lines {
        let cells: Vec<&str> = l.split(',').collect();
        csv_cost += cells[cost_col].parse::<f64>().unwrap();
        csv_unknown += cells[unknown_col].parse::<u64>().unwrap();
    }
    assert!(close(csv_cost, known), "{csv_cost} vs {known}\n{csv}");
    assert_eq!(csv_unknown, 1, "{csv}");
    let admin = gw.admin.expect("admin listener");
    let scraped = scraped_cost(admin);
    assert!(
        close(scraped, csv_cost),
        "metrics {scraped} vs spend {csv_cost}"
    );
    let metrics = http_get(admin, "/metrics").1;
    assert!(metrics.contains("tollgate_unknown_price_requests_total{backend=\"unpriced\",model=\"m1\",route=\"unpriced\"} 1"), "{metrics}");
    assert!(metrics.contains("estimated=\"true\""));

    // /metrics is served on the admin listener only.
    let r = TestClient::new().get(&gw.url("/metrics"), &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(http_get(admin, "/v1/models").0, 404);

    let json: Value = serde_json::from_str(&spend(&gw, "backend", "json")).unwrap();
    let paid_line = json
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == "paid")
        .unwrap();
    assert_eq!(paid_line["requests"], 3);
    assert!(spend(&gw, "day", "table").contains("TOTAL"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_leave_one_row_each_and_survive_kill_9() {
    let f = fakes().await;
    let mut gw = Gateway::start(&config(&f).build());
    let db = ledger_path(&gw);
    let client = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (client, url) = (client.clone(), url.clone());
        let route = ["chat", "local", "fallback", "cut"][i % 4];
        tasks.push(tokio::spawn(async move {
            let r = client
                .post_json(&url, &[], &chat(route, "a b c", i % 2 == 0))
                .await;
            r.header("x-tollgate-request-id").unwrap().to_string()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    wait_rows(&db, 100);
    // Committed rows survive a crash: kill -9, then read the database.
    gw.kill();
    let conn = open(&db);
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let all = rows(&db);
    assert_eq!(all.len(), 100);
    for id in &ids {
        assert!(all.contains_key(id), "{id} lost");
    }
    drop(conn);

    // The gateway restarts on the same ledger and keeps appending.
    let cfg = std::fs::read_to_string(gw.dir.path().join("tollgate.toml")).unwrap();
    let cfg = cfg.replace(
        "path = \"ledger.db\"",
        &format!("path = {:?}", db.display().to_string()),
    );
    let gw2 = Gateway::start(&cfg);
    let (_, r) = send(&gw2, &chat("chat", "again", false)).await;
    assert_eq!(r.status, 200);
    wait_rows(&db, 101);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_commits_every_row_including_streams_in_flight() {
    let f = fakes().await;
    f.nousage.set_behavior(Behavior::Answer {
        reply: "slow words arrive one at a time here".into(),
        stream_usage: false,
        head_delay: Duration::ZERO,
        event_gap: Duration::from_millis(300),
    });
    let mut gw = Gateway::start(&config(&f).build());
    let db = ledger_path(&gw);
    let client = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    for _ in 0..20 {
        let r = client
            .post_json(&url, &[], &chat("chat", "a b", false))
            .await;
        assert_eq!(r.status, 200);
    }
    // Five slow streams are still running when the gateway is told to stop.
    let mut slow = Vec::new();
    for _ in 0..5 {
        let (client, url) = (client.clone(), url.clone());
        slow.push(tokio::spawn(async move {
            client
                .post_json(&url, &[], &chat("local", "slow please", true))
                .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(gw.terminate(Duration::from_secs(20)), "graceful exit");
    for t in slow {
        let _ = t.await;
    }
    assert_eq!(count(&db), 25, "{}", gw.stderr());
    let streamed: i64 = open(&db)
        .query_row(
            "SELECT COUNT(*) FROM requests WHERE route = 'local' AND completion_tokens > 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(streamed, 5);
    // Streams still running when the server stopped were recorded as cut by the shutdown,
    // not as clients that went away.
    let conn = open(&db);
    let mut stmt = conn
        .prepare("SELECT outcome, error_class FROM requests WHERE route = 'local'")
        .unwrap();
    let ends: Vec<(String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        ends.iter().all(|e| e
            == &(
                "shutdown".to_string(),
                Some("server_shutting_down".to_string())
            )),
        "{ends:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn budgets_hold_under_concurrency_fall_through_and_refuse_clearly() {
    let f = fakes().await;
    // Worst case of "one two three" with max_tokens 10: (4 + 10 × 2) / 1e6 = $0.000024;
    // real cost (3 + 5 × 2) / 1e6 = $0.000013. The limit fits 8 worst cases at once.
    let limit = 0.0002;
    let config = config(&f)
        .daily_budget("chat", limit, "")
        .daily_budget("tiered", 0.00002, "on_exhausted = \"fall_through\"")
        .daily_budget("strict", 0.00001, "")
        .build();
    let gw = Gateway::start(&config);
    let db = ledger_path(&gw);
    let client = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let mut body = chat("chat", "one two three", false);
    body["max_tokens"] = json!(10);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            client.post_json(&url, &[], &body).await
        }));
    }
    let (mut served, mut refused) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        match r.status.as_u16() {
            200 => served += 1,
            429 => {
                refused += 1;
                let e = &r.json()["error"];
                assert_eq!(e["code"], "budget_exceeded");
                assert_eq!(e["budget"]["scope"], "route");
                assert_eq!(e["budget"]["name"], "chat");
                assert_eq!(e["budget"]["period"], "daily");
                assert_eq!(e["budget"]["limit_usd"], limit);
                assert!(e["budget"]["resets_at"]
                    .as_str()
                    .unwrap()
                    .ends_with("T00:00:00Z"));
                assert!(e["message"]
                    .as_str()
                    .unwrap()
                    .contains("daily budget of route 'chat' exhausted"));
                assert!(r.header("retry-after").is_some());
            }
            s => panic!("unexpected {s}: {}", String::from_utf8_lossy(&r.body)),
        }
    }
    assert_eq!(served + refused, 50);
    assert!(
        served >= 8 && refused >= 1,
        "served {served}, refused {refused}"
    );
    wait_rows(&db, 50);
    let spent: f64 = open(&db)
        .query_row(
            "SELECT SUM(cost_usd) FROM requests WHERE route = 'chat'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        spent <= limit + 1e-12,
        "spent {spent} over the limit {limit}"
    );
    assert!(close(spent, served as f64 * 13e-6));
    let refused_rows: i64 = open(&db)
        .query_row("SELECT COUNT(*) FROM requests WHERE outcome = 'refused' AND error_class = 'budget_exceeded' AND status = 429", [], |r| r.get(0))
        .unwrap();
    assert_eq!(refused_rows, refused);

    // A fall-through budget moves the request to the next candidate, a free one.
    let mut b = chat("tiered", "one two three", false);
    b["max_tokens"] = json!(10);
    let (_, r) = send(&gw, &b).await;
    assert_eq!(
        (r.status.as_u16(), r.header("x-tollgate-backend")),
        (200, Some("free"))
    );
    // A rejecting budget answers 429 at once.
    let (_, r) = send(&gw, &chat("strict", "one two three", false)).await;
    assert_eq!(r.status, 429);
    let metrics = http_get(gw.admin.unwrap(), "/metrics").1;
    assert!(
        metrics.contains("tollgate_policy_refusals_total{route=\"tiered\",rule=\"budget\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains(
        "tollgate_budget_refusals_total{name=\"strict\",period=\"daily\",scope=\"route\"} 1"
    ));
}
