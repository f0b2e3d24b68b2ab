//! Finance-grade spend through the real binary: a failed attempt the provider billed is
//! charged (one that never reached it is not), a backend priced by the hour costs its idle
//! time too, and `tollgate prices check` names the traffic nobody priced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use tollgate_e2e::client::{chat, TestClient};
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::{binary, dead_address, Gateway};
use tollgate_e2e::ledger::{open, wait_rows};

const M1: &str = "m1 = { licence = \"Apache-2.0\" }";

fn tollgate(gw: &Gateway, args: &[&str]) -> Output {
    tollgate_with(&gw.dir.path().join("tollgate.toml"), args)
}

fn tollgate_with(config: &Path, args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

fn spend_json(gw: &Gateway, by: &str) -> Vec<Value> {
    let out = tollgate(gw, &["spend", "--by", by, "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn line<'a>(lines: &'a [Value], key: &str) -> Option<&'a Value> {
    lines.iter().find(|l| l["key"] == key)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 + 1e-9 * b.abs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_after_sending_is_charged_and_a_refused_connection_is_not() {
    // "aaa bbb ccc": 3 words for the fake's count, 11 bytes = 3 tokens for the gateway's.
    let prompt = "aaa bbb ccc";
    let slow = FakeOpenAi::start(Behavior::Answer {
        reply: "never sent".into(),
        stream_usage: true,
        head_delay: Duration::from_secs(5),
        event_gap: Duration::ZERO,
    })
    .await;
    let paid = FakeOpenAi::start(Behavior::answer("Hello from the paid backend")).await;
    let dead = dead_address();
    let toml = Config::new()
        .server("admin_listen = \"127.0.0.1:0\"")
        .backend_with("dead", "external", &dead.base_url(), M1, "")
        .backend_with(
            "slow",
            "external",
            &slow.base_url(),
            M1,
            "timeouts = { first_byte_ms = 300 }",
        )
        .backend_with("paid", "external", &paid.base_url(), M1, "")
        .route("r", &["dead/m1", "slow/m1", "paid/m1"])
        .ledger("ledger.db")
        .extra(
            "[prices]\nversion = \"e2e\"\nreference_model = \"paid/m1\"\n\
             [prices.models.\"dead/m1\"]\ninput_per_mtok = 7.0\noutput_per_mtok = 7.0\n\
             [prices.models.\"slow/m1\"]\ninput_per_mtok = 5.0\noutput_per_mtok = 5.0\n\
             [prices.models.\"paid/m1\"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n",
        )
        .build();
    let gw = Gateway::start(&toml).holding(dead);
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("r", prompt, false),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-tollgate-backend"), Some("paid"));
    assert_eq!(slow.received().len(), 1, "the slow backend had the request");

    let db = gw.dir.path().join("ledger.db");
    wait_rows(&db, 1);
    let (cost, failed, equivalent, attempts, log): (f64, f64, f64, i64, String) = open(&db)
        .query_row(
            "SELECT cost_usd, failed_usd, api_equivalent_usd, attempts, attempt_log FROM requests",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    let served = (3.0 * 1.0 + 5.0 * 2.0) / 1e6;
    let charged = 3.0 * 5.0 / 1e6;
    assert_eq!(attempts, 3);
    assert!(close(failed, charged), "failed {failed}, log {log}");
    assert!(close(cost, served + charged), "cost {cost}");
    assert!(close(equivalent, served), "equivalent {equivalent}");
    let log: Value = serde_json::from_str(&log).unwrap();
    let summary: Vec<(&str, &str, u64, f64)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["backend"].as_str().unwrap(),
                a["outcome"].as_str().unwrap(),
                a["prompt_tokens"].as_u64().unwrap(),
                a["cost_usd"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary[0], ("dead", "connect", 0, 0.0), "{log}");
    let (backend, outcome, tokens, _) = summary[1];
    assert_eq!(
        (backend, outcome, tokens),
        ("slow", "timeout_first_byte", 3),
        "{log}"
    );
    assert!(close(summary[1].3, charged));
    assert_eq!((summary[2].0, summary[2].2), ("paid", 3));
    assert_eq!(log[2]["served"], true);

    // The charge is the slow backend's in the report and the metrics; the dead one has none.
    let by_backend = spend_json(&gw, "backend");
    let slow_line = line(&by_backend, "slow").expect("a line for the backend that billed");
    assert_eq!(slow_line["requests"], 0);
    assert!(close(slow_line["cost_usd"].as_f64().unwrap(), charged));
    assert!(close(slow_line["failed_usd"].as_f64().unwrap(), charged));
    assert!(line(&by_backend, "dead").is_none(), "{by_backend:?}");
    let paid_line = line(&by_backend, "paid").unwrap();
    assert!(close(paid_line["cost_usd"].as_f64().unwrap(), served));
    let by_route = spend_json(&gw, "route");
    assert!(close(
        line(&by_route, "r").unwrap()["cost_usd"].as_f64().unwrap(),
        served + charged
    ));
    let metrics = scrape(gw.admin.unwrap());
    let failed_metric = metrics
        .lines()
        .find(|l| l.starts_with("tollgate_cost_usd_total{") && l.contains("failed_attempts"))
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(
        failed_metric.contains("backend=\"slow\""),
        "{failed_metric}"
    );
}

/// `GET /metrics` on the admin listener.
fn scrape(admin: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(admin).unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.split_once("\r\n\r\n").unwrap().1.to_string()
}

/// A gateway over one local backend priced at $36 an hour, its ledger at `db`.
fn local_gateway(fake: &FakeOpenAi, db: &Path) -> Gateway {
    let toml = Config::new()
        .server("admin_listen = \"127.0.0.1:0\"\ngrace_period_seconds = 5")
        .backend_with("local", "local", &fake.base_url(), M1, "")
        .route("r", &["local/m1"])
        .ledger(&db.display().to_string())
        .extra("[prices]\nversion = \"e2e\"\n[prices.backends.local]\ncost_per_hour = 36.0\n")
        .build();
    Gateway::start(&toml)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_priced_by_the_hour_costs_its_idle_time_until_shutdown() {
    let fake = FakeOpenAi::start(Behavior::Answer {
        reply: "one two three".into(),
        stream_usage: true,
        head_delay: Duration::from_millis(500),
        event_gap: Duration::ZERO,
    })
    .await;
    let shared = tempfile::tempdir().unwrap();
    let db: PathBuf = shared.path().join("ledger.db");
    let before_start = Instant::now();
    let mut gw = local_gateway(&fake, &db);
    let listening = Instant::now();
    let r = TestClient::new()
        .post_json(
            &gw.url("/v1/chat/completions"),
            &[],
            &chat("r", "hi", false),
        )
        .await;
    assert_eq!(r.status, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let metrics = scrape(gw.admin.unwrap());
    let utilisation = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tollgate_backend_utilisation{backend=\"local\"} "))
        .unwrap_or_else(|| panic!("{metrics}"))
        .parse::<f64>()
        .unwrap();
    assert!((0.0..=1.0).contains(&utilisation), "{utilisation}");
    assert!(
        metrics.contains("tollgate_idle_cost_usd_total{backend=\"local\"}"),
        "{metrics}"
    );
    let stopping = Instant::now();
    assert!(gw.terminate(Duration::from_secs(10)), "{}", gw.stderr());
    let stopped = Instant::now();

    let lines = spend_json(&gw, "backend");
    let idle = line(&lines, "(idle) local").unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(idle["kind"], "idle");
    let (busy_s, idle_s) = (
        idle["busy_s"].as_f64().unwrap(),
        idle["idle_s"].as_f64().unwrap(),
    );
    let cost = idle["cost_usd"].as_f64().unwrap();
    // Busy: the one request (its answer took 0.5 s); the rest of the run was idle.
    assert!((0.45..1.5).contains(&busy_s), "busy {busy_s}");
    let ran_at_least = (stopping - listening).as_secs_f64();
    let ran_at_most = (stopped - before_start).as_secs_f64();
    assert!(
        busy_s + idle_s > ran_at_least - 0.25 && busy_s + idle_s < ran_at_most + 0.25,
        "busy {busy_s} + idle {idle_s} outside [{ran_at_least}, {ran_at_most}]"
    );
    assert!(close(cost, idle_s * 36.0 / 3600.0), "{cost} for {idle_s} s");
    // The request paid for its busy share.
    let request = line(&lines, "local").unwrap();
    let compute = request["cost_usd"].as_f64().unwrap();
    assert!(compute > 0.45 * 0.01 && compute < 1.5 * 0.01, "{compute}");

    // A restart inside the hour writes a period of its own, after the first.
    let mut again = local_gateway(&fake, &db);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        again.terminate(Duration::from_secs(10)),
        "{}",
        again.stderr()
    );
    let periods: Vec<(i64, i64)> = open(&db)
        .prepare("SELECT period_start_ms, period_end_ms FROM idle WHERE backend = 'local' ORDER BY period_start_ms")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(periods.len() >= 2, "{periods:?}");
    assert!(
        periods.windows(2).all(|w| w[0].1 <= w[1].0),
        "no overlap: {periods:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_check_names_the_traffic_nobody_priced() {
    let fake = FakeOpenAi::start(Behavior::answer("free words")).await;
    let toml = Config::new()
        .backend_with("paid", "external", &fake.base_url(), M1, "")
        .backend_with("mystery", "external", &fake.base_url(), M1, "")
        .route("p", &["paid/m1"])
        .route("u", &["mystery/m1"])
        .ledger("ledger.db")
        .extra("[prices.models.\"paid/m1\"]\ninput_per_mtok = 1.0\noutput_per_mtok = 1.0\n")
        .build();
    let gw = Gateway::start(&toml);
    let client = TestClient::new();
    for route in ["p", "u", "u"] {
        let r = client
            .post_json(
                &gw.url("/v1/chat/completions"),
                &[],
                &chat(route, "hi", false),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    wait_rows(&gw.dir.path().join("ledger.db"), 3);

    let out = tollgate(&gw, &["prices", "check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("warning: model \"mystery/m1\" has no price"),
        "{text}"
    );
    let listed: Vec<&str> = text.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(listed.len(), 1, "{text}");
    assert!(
        listed[0].contains("mystery/m1") && listed[0].ends_with("2 requests"),
        "{text}"
    );

    // Priced (even at $0), nothing is left to list.
    let priced = gw.dir.path().join("priced.toml");
    std::fs::write(
        &priced,
        format!(
            "{toml}\n[prices.models.\"mystery/m1\"]\ninput_per_mtok = 0.0\noutput_per_mtok = 0.0\n"
        ),
    )
    .unwrap();
    let out = tollgate_with(&priced, &["prices", "check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("every model with traffic"), "{text}");
    // A configuration that does not load cannot be checked.
    let broken = gw.dir.path().join("broken.toml");
    std::fs::write(&broken, "[prices]\nreference_model = \"nobody/priced\"\n").unwrap();
    let out = tollgate_with(&broken, &["prices", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("prices.reference_model"));
}
