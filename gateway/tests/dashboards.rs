//! The dashboards and rules only use metrics the gateway exports, pass promtool, and return
//! data from a real Prometheus scraping real metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failed unwrap is a failed test

mod support;

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use support::prometheus::Prometheus;
use support::*;
use tollgate_metering::Metering;

fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards")
}

fn rules_file() -> PathBuf {
    dashboards_dir().join("tollgate.rules.yml")
}

/// A PromQL query found in a dashboard or rules file, and where.
#[derive(Debug, Clone)]
struct Query {
    origin: String,
    expr: String,
}

fn dashboard_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dashboards_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "overview, spend and policy dashboards");
    files
}

fn panel_queries(panels: &Value, file: &str, out: &mut Vec<Query>) {
    for p in panels.as_array().into_iter().flatten() {
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = t["expr"].as_str() {
                out.push(Query {
                    origin: format!("{file}: panel '{}' {}", p["title"], t["refId"]),
                    expr: expr.to_string(),
                });
            }
        }
        panel_queries(&p["panels"], file, out);
    }
}

/// Every panel and template-variable query of every dashboard.
fn dashboard_queries() -> Vec<Query> {
    let mut out = Vec::new();
    for f in dashboard_files() {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let d: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let vars = d["templating"]["list"].as_array().unwrap();
        let ds = vars.iter().find(|v| v["name"] == "datasource").unwrap();
        assert_eq!(
            (&ds["type"], &ds["query"]),
            (&Value::from("datasource"), &Value::from("prometheus"))
        );
        panel_queries(&d["panels"], &name, &mut out);
        for v in vars.iter().filter(|v| v["type"] == "query") {
            let q = v["query"]["query"]
                .as_str()
                .or(v["query"].as_str())
                .unwrap();
            out.push(Query {
                origin: format!("{name}: variable {}", v["name"]),
                expr: q.to_string(),
            });
        }
        // Every panel's datasource is the variable, so the dashboard imports anywhere.
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            !text.contains("\"uid\": \"prometheus\""),
            "{name} pins a datasource"
        );
    }
    assert!(out.len() > 40);
    out
}

/// (recording rules (name, expr), alerts (name, expr)).
type Rules = (Vec<(String, String)>, Vec<(String, String)>);

fn rules() -> Rules {
    let y: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(rules_file()).unwrap()).unwrap();
    let (mut records, mut alerts) = (Vec::new(), Vec::new());
    for g in y["groups"].as_sequence().unwrap() {
        for r in g["rules"].as_sequence().unwrap() {
            let expr = r["expr"].as_str().unwrap().trim().to_string();
            if let Some(name) = r["record"].as_str() {
                records.push((name.to_string(), expr));
            } else {
                alerts.push((r["alert"].as_str().unwrap().to_string(), expr));
            }
        }
    }
    (records, alerts)
}

fn all_queries() -> Vec<Query> {
    let (records, alerts) = rules();
    let mut q = dashboard_queries();
    for (name, expr) in records.into_iter().chain(alerts) {
        q.push(Query {
            origin: format!("rule {name}"),
            expr,
        });
    }
    q
}

/// Metric names (`tollgate_*` and recording rules `tollgate:*`) an expression uses.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_string = false;
    let mut token = String::new();
    for c in expr.chars().chain(std::iter::once(' ')) {
        if c == '"' {
            in_string = !in_string;
        }
        if !in_string && (c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            token.push(c);
            continue;
        }
        if token.starts_with("tollgate_") || token.starts_with("tollgate:") {
            names.insert(token.clone());
        }
        token.clear();
    }
    names
}

/// `# TYPE name kind` lines of an exposition: (name, kind).
fn families(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let (n, k) = l.split_once(' ').unwrap();
            (n.to_string(), k.to_string())
        })
        .collect()
}

fn exercised(
    dir: &Path,
    cfg_edit: impl FnOnce(&mut tollgate_metering::MeteringConfig),
) -> Metering {
    let mut cfg = config(&dir.join("ledger.db"));
    cfg_edit(&mut cfg);
    let m = Metering::open(&cfg, NOON).unwrap();
    record_mix(&m, 0, NOON);
    m
}

#[test]
fn every_query_uses_only_exported_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let m = exercised(dir.path(), |_| {});
    let text = m.encode_metrics(NOON);
    let fams = families(&text);
    let (records, _) = rules();
    let recorded: BTreeSet<&str> = records.iter().map(|r| r.0.as_str()).collect();
    let mut used = BTreeSet::new();
    let mut problems = Vec::new();
    for q in all_queries() {
        let names = metric_names(&q.expr);
        if names.is_empty() {
            problems.push(format!("{}: no tollgate metric in `{}`", q.origin, q.expr));
        }
        for name in names {
            if name.contains(':') {
                if !recorded.contains(name.as_str()) {
                    problems.push(format!("{}: no recording rule {name}", q.origin));
                }
                continue;
            }
            let family = fams.iter().find(|(f, kind)| {
                *f == name
                    || (kind == "histogram"
                        && ["_bucket", "_sum", "_count"]
                            .iter()
                            .any(|s| name.strip_suffix(s) == Some(f.as_str())))
            });
            match family {
                Some((f, _)) => {
                    used.insert(f.clone());
                }
                None => problems.push(format!("{}: {name} is not exported", q.origin)),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Every exported metric is documented, and the exposition lists them all.
    let readme = std::fs::read_to_string(dashboards_dir().join("README.md")).unwrap();
    let undocumented: Vec<_> = fams
        .iter()
        .filter(|(f, _)| !readme.contains(&format!("`{f}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "not in dashboards/README.md: {undocumented:?}"
    );
    assert!(fams.len() >= 25, "every metric exercised: {}", fams.len());
    let unused: Vec<_> = fams.iter().filter(|(f, _)| !used.contains(f)).collect();
    assert!(
        unused.is_empty(),
        "exported but on no dashboard or rule: {unused:?}"
    );
}

#[test]
fn metric_names_are_found_in_expressions() {
    let names = metric_names(
        r#"sum by (le) (rate(tollgate_ttft_seconds_bucket{route=~"tollgate_x"}[5m])) / tollgate:a:b"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["tollgate:a:b", "tollgate_ttft_seconds_bucket"]
    );
}

#[test]
fn promtool_accepts_the_rules() {
    let out = std::process::Command::new("/usr/bin/promtool")
        .arg("check")
        .arg("rules")
        .arg(rules_file())
        .output()
        .expect("promtool (Debian package prometheus) is installed");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Serves `GET /metrics` from `m` on a loopback port; returns `host:port`.
fn serve_metrics(rt: &tokio::runtime::Runtime, m: Arc<Metering>) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    rt.spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            let m = Arc::clone(&m);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let body = m.encode_metrics(NOON);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    addr
}

/// Grafana's variables, replaced by what a default dashboard view sends.
fn as_promql(expr: &str) -> String {
    if let Some(args) = expr
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let (metric, label) = args.split_once(',').unwrap();
        return format!("group by ({}) ({})", label.trim(), metric.trim());
    }
    expr.replace("$__rate_interval", "1m")
        .replace("$__range", "1h")
        .replace("${route}", ".*")
        .replace("$route", ".*")
}

fn has_finite_value(result: &[Value]) -> bool {
    result.iter().any(|s| {
        s["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(f64::is_finite)
    })
}

#[test]
fn every_query_returns_data_from_a_real_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    // Small budgets so a realistic mix exhausts them and the budget alerts fire.
    let m = Arc::new(exercised(dir.path(), |cfg| {
        if let Some(acme) = cfg.budgets.tenants.get_mut("acme") {
            acme.daily_usd = Some(0.05);
        }
    }));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let target = serve_metrics(&rt, Arc::clone(&m));
    let rules_path = rules_file();
    let prom = Prometheus::start(&target, &[&rules_path]).unwrap();
    prom.wait_for("up{job=\"tollgate\"} == 1", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", prom.log()));
    // Keep traffic flowing across several scrapes so rates and rules have samples.
    for batch in 1..=8 {
        record_mix(&m, batch, NOON);
        std::thread::sleep(Duration::from_millis(600));
    }
    prom.wait_for("tollgate:budget_used:ratio", Duration::from_secs(20))
        .unwrap();

    let (_, alerts) = rules();
    let quiet = [
        "TollgateLedgerDroppingRows",
        "TollgateLedgerShippingLagging",
        "TollgateSensitiveServedExternally",
    ];
    let mut problems = Vec::new();
    for q in all_queries() {
        let expr = as_promql(&q.expr);
        let expect_empty = alerts
            .iter()
            .any(|(name, e)| *e == q.expr && quiet.contains(&name.as_str()));
        if expect_empty {
            match prom.query(&expr) {
                Ok(r) if r.is_empty() => {}
                Ok(r) => problems.push(format!("{}: fired on a healthy mix: {r:?}", q.origin)),
                Err(e) => problems.push(format!("{}: {e}\n  {expr}", q.origin)),
            }
            continue;
        }
        match prom.wait_for(&expr, Duration::from_secs(10)) {
            Ok(r) if has_finite_value(&r) || expr.starts_with("group by") => {}
            Ok(r) => problems.push(format!("{}: no finite value: {r:?}\n  {expr}", q.origin)),
            Err(e) => problems.push(format!("{}: {e}\n  {expr}", q.origin)),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Queries the live gateway cannot give data for yet, or that must not fire on healthy
/// traffic: they only have to evaluate without error.
fn may_be_empty_live(origin: &str, _expr: &str) -> bool {
    // Thresholds (30 s, 10 s) a quick test does not reach.
    origin.contains("TollgateHighLatencyP99")
        || origin.contains("TollgateSlowFirstToken")
        // Must stay quiet.
        || origin.contains("TollgateLedgerDroppingRows")
        || origin.contains("TollgateLedgerShippingLagging")
        || origin.contains("TollgateSensitiveServedExternally")
}

/// The live gateway config: a priced closed model, a local server priced by the hour (a tiny
/// budget it overruns in compute cost), a cutting, a failing and an unpriced backend, and the
/// on-device engine with the generated demo model (so its panels have data).
fn live_config(fakes: &[tollgate_e2e::fake_openai::FakeOpenAi]) -> String {
    let names = ["paid", "local", "cutter", "failing", "unpriced"];
    let mut s = String::from(
        r#"
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
grace_period_seconds = 1

[ledger]
path = "ledger.db"

[prices]
version = "live"
[prices.models."paid/m1"]
input_per_mtok = 2.5
output_per_mtok = 10.0
[prices.models."cutter/m1"]
input_per_mtok = 1.0
output_per_mtok = 1.0
[prices.models."failing/m1"]
input_per_mtok = 1.0
output_per_mtok = 1.0
[prices.backends.local]
cost_per_hour = 36000.0

[budgets.routes.local]
daily_usd = 0.01
[budgets.routes.tiered]
daily_usd = 0.000001
on_exhausted = "fall_through"
[budgets.routes.strict]
daily_usd = 0.000001

[routes.chat]
candidates = ["paid/m1"]
[routes.local]
candidates = ["local/m1"]
[routes.cut]
candidates = ["cutter/m1"]
[routes.fallback]
candidates = ["failing/m1", "paid/m1"]
[routes.unpriced]
candidates = ["unpriced/m1"]
[routes.tiered]
candidates = ["paid/m1", "local/m1"]
[routes.strict]
candidates = ["paid/m1"]
[routes.device]
candidates = ["device/demo"]

[backends.device]
kind = "on_device"
models = { demo = { licence = "Apache-2.0" } }
engine = { n_threads = 1, n_parallel = 1, n_ctx = 256 }
"#,
    );
    for (name, f) in names.iter().zip(fakes) {
        let zone = if *name == "local" {
            "local"
        } else {
            "external"
        };
        s += &format!(
            "[backends.{name}]\nkind = \"openai\"\nzone = \"{zone}\"\nbase_url = \"{}\"\n\
             models = {{ m1 = {{ licence = \"Apache-2.0\" }} }}\n",
            f.base_url()
        );
    }
    s
}

/// One round of mixed traffic: plain, streamed, estimated, cut, fallback, unpriced, budget
/// fall-through and budget refusal, the on-device engine, plus a rejected request.
async fn live_mix(gw: &tollgate_e2e::gateway::Gateway) {
    use tollgate_e2e::client::{chat, TestClient};
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    let internal = [("x-tollgate-data-class", "internal")];
    for (route, stream) in [
        ("chat", false),
        ("chat", true),
        ("local", true),
        ("cut", true),
        ("fallback", false),
        ("unpriced", false),
        ("tiered", true),
        ("strict", false),
        ("device", true),
        ("device", false),
        ("nope", false),
    ] {
        let r = c
            .post_json(&url, &internal, &chat(route, "one two three", stream))
            .await;
        assert!(r.status.as_u16() < 500, "{route}: {}", r.status);
    }
    // A head no request can be read from: the connection is refused and counted.
    let bad = tollgate_e2e::raw::exchange(
        gw.addr,
        b"POST /v1/chat/completions HTTP/1.1\r\ncontent-length: abc\r\n\r\n",
    )
    .await;
    assert_eq!(bad.map(|r| r.status), Some(400));
    // A prompt with personal data: counted by kind, served inside the trust boundary.
    let r = c
        .post_json(
            &url,
            &[],
            &chat("local", "mail jane.doe@acme-corp.com the minutes", false),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200);
}

#[test]
fn every_query_returns_data_from_the_live_gateway() {
    use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fakes = rt.block_on(async {
        vec![
            FakeOpenAi::start(Behavior::answer("Hello from the paid backend")).await,
            FakeOpenAi::start(Behavior::Answer {
                reply: "alpha beta gamma delta".into(),
                stream_usage: false,
                head_delay: Duration::ZERO,
                event_gap: Duration::from_millis(5),
            })
            .await,
            FakeOpenAi::start(Behavior::CutAfter { events: 3 }).await,
            FakeOpenAi::start(Behavior::Status {
                status: 503,
                retry_after: None,
            })
            .await,
            FakeOpenAi::start(Behavior::answer("free words")).await,
        ]
    });
    let gw = tollgate_e2e::gateway::Gateway::start(&live_config(&fakes));
    let admin = gw.admin.expect("admin listener").to_string();
    let rules_path = rules_file();
    let prom = Prometheus::start(&admin, &[&rules_path]).unwrap();
    prom.wait_for("up{job=\"tollgate\"} == 1", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", prom.log()));
    for _ in 0..8 {
        rt.block_on(live_mix(&gw));
        std::thread::sleep(Duration::from_millis(600));
    }
    prom.wait_for("tollgate:budget_used:ratio >= 1", Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("{e}\n{}", gw.stderr()));

    let mut problems = Vec::new();
    for q in all_queries() {
        let expr = as_promql(&q.expr);
        if may_be_empty_live(&q.origin, &q.expr) {
            if let Err(e) = prom.query(&expr) {
                problems.push(format!("{}: {e}\n  {expr}", q.origin));
            }
            continue;
        }
        match prom.wait_for(&expr, Duration::from_secs(10)) {
            Ok(r) if has_finite_value(&r) || expr.starts_with("group by") => {}
            Ok(r) => problems.push(format!("{}: no finite value: {r:?}\n  {expr}", q.origin)),
            Err(e) => problems.push(format!("{}: {e}\n  {expr}", q.origin)),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The backend priced by the hour has its idle accounting scraped too, and documented.
    let readme = std::fs::read_to_string(dashboards_dir().join("README.md")).unwrap();
    for name in [
        "tollgate_backend_utilisation",
        "tollgate_idle_cost_usd_total",
    ] {
        prom.wait_for(
            &format!("{name}{{backend=\"local\"}}"),
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(readme.contains(&format!("`{name}`")), "{name} undocumented");
    }
}
