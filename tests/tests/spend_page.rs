//! The spend page end to end: the real binary with an admin token, two tenants on two routes
//! (a priced external backend and a priced local one), real traffic, then headless Chromium
//! reading the page as a finance user would. What the page shows must be what
//! `tollgate spend` reports on the same config, and its CSV downloads the CLI's bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use tollgate_e2e::client::{chat, TestClient};
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::{binary, Gateway};
use tollgate_e2e::ledger::{open, wait_rows};

const TOKEN: &str = "finance-s3cret-token";
const TOKEN_VAR: &str = "SPEND_PAGE_ADMIN_TOKEN";
const KEYS: [(&str, &str); 2] = [("ACME_KEY", "key-acme"), ("BETA_KEY", "key-beta")];
/// A word that appears in every prompt: it must appear nowhere on the page or in its exports.
const MARKER: &str = "zebraquartzprompt";

fn config(cloud: &FakeOpenAi, gpu: &FakeOpenAi, admin_token: bool) -> String {
    let token = if admin_token {
        format!("admin_token_env = \"{TOKEN_VAR}\"\n")
    } else {
        String::new()
    };
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
{token}grace_period_seconds = 1

[ledger]
path = "ledger.db"

[prices]
version = "e2e-page"
reference_model = "cloud/gpt-x"
[prices.models."cloud/gpt-x"]
input_per_mtok = 2.5
output_per_mtok = 10.0
[prices.models."gpu/llama-x"]
input_per_mtok = 0.2
output_per_mtok = 0.4

[backends.cloud]
kind = "openai"
zone = "external"
base_url = "{cloud}"
models = {{ gpt-x = {{ licence = "Apache-2.0" }} }}

[backends.gpu]
kind = "openai"
zone = "local"
base_url = "{gpu}"
models = {{ llama-x = {{ licence = "Apache-2.0" }} }}

[routes.chat]
candidates = ["cloud/gpt-x"]
[routes.local]
candidates = ["gpu/llama-x"]

[tenants.acme]
use = "commercial"
api_key_env = "ACME_KEY"
[tenants.beta]
use = "internal"
api_key_env = "BETA_KEY"

# Worst cases small enough for the small budgets below to take every request.
[budgets]
default_max_tokens = 16
[budgets.tenants.acme]
daily_usd = 0.001
[budgets.routes.chat]
monthly_usd = 0.01
"#,
        cloud = cloud.base_url(),
        gpu = gpu.base_url(),
    )
}

fn env() -> Vec<(&'static str, &'static str)> {
    let mut v = KEYS.to_vec();
    v.push((TOKEN_VAR, TOKEN));
    v
}

/// `n` words of prompt, the marker among them.
fn prompt(n: usize) -> String {
    let mut words = vec![MARKER.to_string()];
    words.extend((1..n).map(|i| format!("w{i}")));
    words.join(" ")
}

/// Sends `(key, route, prompt words, stream)` requests; returns how many rows they leave.
async fn traffic(gw: &Gateway) -> i64 {
    let sends = [
        ("key-acme", "chat", 40, false),
        ("key-acme", "chat", 60, true),
        ("key-acme", "chat", 25, false),
        ("key-beta", "local", 300, false),
        ("key-beta", "local", 120, true),
        ("key-beta", "chat", 10, false),
        // An unknown route: refused before any backend, recorded as unserved.
        ("key-acme", "nope", 5, false),
    ];
    let client = TestClient::new();
    for (key, route, words, stream) in sends {
        let auth = format!("Bearer {key}");
        let r = client
            .post_json(
                &gw.url("/v1/chat/completions"),
                &[("authorization", auth.as_str())],
                &chat(route, &prompt(words), stream),
            )
            .await;
        let want = if route == "nope" { 404 } else { 200 };
        assert_eq!(r.status, want, "{}", String::from_utf8_lossy(&r.body));
    }
    sends.len() as i64
}

/// `tollgate spend` on the gateway's config, as finance would run it.
fn cli_spend(gw: &Gateway, by: &str, format: &str, since: &str, until: &str) -> String {
    let out = Command::new(binary())
        .args(["spend", "--config"])
        .arg(gw.dir.path().join("tollgate.toml"))
        .args([
            "--by", by, "--format", format, "--since", since, "--until", until,
        ])
        .env(TOKEN_VAR, TOKEN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn u64_of(v: &Value) -> u64 {
    v.as_str().unwrap().parse().unwrap()
}

/// The savings the page shows are the CLI's: what the requests would have cost at the
/// reference model, what they cost, and the difference.
fn assert_savings_match_cli(gw: &Gateway, page: &Value, since: &str, until: &str) {
    assert_eq!(page["savings"], "recorded", "{page}");
    let cli: Value = serde_json::from_str(&cli_spend(gw, "route", "json", since, until)).unwrap();
    let sum = |field: &str| -> f64 {
        cli.as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l[field].as_f64())
            .sum()
    };
    let figures = &page["savingsFigures"];
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    let equivalent = f64_of(&figures["api_equivalent_usd"]);
    let saved = f64_of(&figures["saved_usd"]);
    assert!(equivalent > 0.0, "{figures}");
    assert!(
        close(equivalent, sum("api_equivalent_usd")),
        "{figures} vs {cli}"
    );
    assert!(close(saved, sum("savings_usd")), "{figures} vs {cli}");
    // Local traffic priced below the reference model is what was saved.
    assert!(saved > 0.0, "{figures}");
}

fn f64_of(v: &Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

/// Every table of the page equals the CLI's JSON report for the same window, figure by figure.
fn assert_tables_match_cli(gw: &Gateway, page: &Value, since: &str, until: &str) {
    for by in ["route", "tenant", "model"] {
        let cli: Value = serde_json::from_str(&cli_spend(gw, by, "json", since, until)).unwrap();
        let cli = cli.as_array().unwrap();
        let rows = page["tables"][by].as_array().unwrap();
        assert_eq!(rows.len(), cli.len(), "{by}: {rows:?} vs {cli:?}");
        for (row, line) in rows.iter().zip(cli) {
            assert_eq!(row["key"], line["key"], "{by}");
            for field in [
                "requests",
                "prompt_tokens",
                "completion_tokens",
                "cached_tokens",
                "estimated_requests",
                "unknown_cost_requests",
            ] {
                assert_eq!(
                    u64_of(&row[field]),
                    line[field].as_u64().unwrap(),
                    "{by} {} {field}",
                    line["key"]
                );
                assert_eq!(row[format!("{field}_text")], row[field], "shown as is");
            }
            let cost = line["cost_usd"].as_f64().unwrap();
            assert_eq!(f64_of(&row["cost_usd"]), cost, "{by} {} cost", line["key"]);
            assert_eq!(row["cost_usd_text"], format!("{cost:.6}"), "six decimals");
        }
    }
}

/// The most expensive requests, as the ledger ranks them.
fn ledger_top(db: &Path) -> Vec<(String, f64)> {
    let conn = open(db);
    let mut stmt = conn
        .prepare(
            "SELECT request_id, cost_usd FROM requests WHERE cost_usd IS NOT NULL \
             ORDER BY cost_usd DESC, ts_ms DESC, id DESC",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn side<'a>(page: &'a Value, name: &str) -> &'a Value {
    page["shares"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["side"] == name)
        .unwrap_or_else(|| panic!("no {name} share"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spend_page_shows_what_tollgate_spend_reports() {
    let cloud = FakeOpenAi::start(Behavior::answer("five words in this reply")).await;
    let gpu = FakeOpenAi::start(Behavior::answer("a local answer")).await;
    let gw = Gateway::start_with_env(&config(&cloud, &gpu, true), &env());
    let rows = traffic(&gw).await;
    let db = gw.dir.path().join("ledger.db");
    wait_rows(&db, rows);
    let admin = gw.admin.expect("admin listener");
    let client = TestClient::new();

    // Without the token nothing but /healthz answers.
    let ui = format!("http://{admin}/ui");
    for path in ["/ui", "/ui/spend.csv?by=route", "/metrics"] {
        let r = client.get(&format!("http://{admin}{path}"), &[]).await;
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"tollgate admin\", charset=\"UTF-8\"")
        );
        let wrong = client
            .get(
                &format!("http://{admin}{path}"),
                &[("authorization", "Bearer nope")],
            )
            .await;
        assert_eq!(wrong.status, 401, "{path}");
    }
    assert_eq!(
        client
            .get(&format!("http://{admin}/healthz"), &[])
            .await
            .status,
        200
    );
    let bearer = format!("Bearer {TOKEN}");
    let metrics = client
        .get(
            &format!("http://{admin}/metrics"),
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(metrics.status, 200);

    let shot = workspace_root().join("target/test-artifacts/spend-page.png");
    let _ = std::fs::remove_file(&shot);
    let page = tollgate_e2e::browser::run(
        "spend_page.mjs",
        &[ui, TOKEN.to_string(), shot.display().to_string()],
    )
    .await;

    assert_eq!(page["status"], 200, "{page}");
    assert_eq!(page["unauthenticated"]["status"], 401);
    assert_ne!(
        page["unauthenticated"]["navigation"]["status"], 200,
        "the page showed without credentials: {}",
        page["unauthenticated"]
    );
    assert!(page["unauthenticated"]["challenge"]
        .as_str()
        .unwrap()
        .starts_with("Basic realm=\"tollgate admin\""));
    assert_eq!(page["foreignRequests"], Value::Array(vec![]), "{page}");
    assert_eq!(page["consoleErrors"], Value::Array(vec![]), "{page}");
    assert!(page["contentSecurityPolicy"]
        .as_str()
        .unwrap()
        .starts_with("default-src 'none'"));

    // The default window: the last 30 days up to today.
    let since = page["window"]["since"].as_str().unwrap().to_string();
    let until = page["window"]["until"].as_str().unwrap().to_string();
    assert_eq!(
        cli_spend(&gw, "day", "json", &until, &until),
        cli_spend(&gw, "day", "json", "1970-01-01", "9999-12-31"),
        "every request is of today, the window's last day"
    );
    assert_tables_match_cli(&gw, &page, &since, &until);
    assert_eq!(page["totals"]["requests"], rows.to_string());

    // The CSV links download exactly what the CLI writes.
    for by in ["route", "tenant", "model", "day"] {
        let csv = page["csv"][by]["text"].as_str().unwrap();
        assert_eq!(csv, cli_spend(&gw, by, "csv", &since, &until), "{by} CSV");
        assert_eq!(
            page["csv"][by]["filename"],
            format!("spend-by-{by}-{since}-to-{until}.csv")
        );
    }

    // Charts: one series per group, their segments adding up to the table's cost.
    for by in ["route", "tenant", "model"] {
        let chart = &page["charts"][by];
        let lines = page["tables"][by].as_array().unwrap();
        let priced = lines
            .iter()
            .filter(|l| f64_of(&l["cost_usd"]) > 0.0)
            .count();
        assert_eq!(
            chart["series"].as_u64().unwrap() as usize,
            lines.len(),
            "{by}"
        );
        let segments = chart["segments"].as_array().unwrap();
        assert_eq!(
            segments.len(),
            priced,
            "{by}: one day, one bar segment per priced group"
        );
        for l in lines.iter().filter(|l| f64_of(&l["cost_usd"]) > 0.0) {
            let seg = segments.iter().find(|s| s["key"] == l["key"]).unwrap();
            assert!((seg["cost"].as_f64().unwrap() - f64_of(&l["cost_usd"])).abs() < 1e-15);
            assert_eq!(seg["day"], until);
        }
    }

    // Budgets burn what the tenant and route spent.
    let tenants: Value =
        serde_json::from_str(&cli_spend(&gw, "tenant", "json", &since, &until)).unwrap();
    let acme_cost = tenants
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == "acme")
        .unwrap()["cost_usd"]
        .as_f64()
        .unwrap();
    let budgets = page["budgets"].as_array().unwrap();
    assert_eq!(budgets.len(), 2, "{budgets:?}");
    let acme = budgets.iter().find(|b| b["name"] == "acme").unwrap();
    assert_eq!(
        (acme["scope"].as_str(), acme["period"].as_str()),
        (Some("tenant"), Some("daily"))
    );
    assert_eq!(f64_of(&acme["limit_usd"]), 0.001);
    assert!(
        (f64_of(&acme["spent_usd"]) - acme_cost).abs() < 1e-12,
        "{acme}"
    );
    assert!(
        (f64_of(&acme["burn"]) - acme_cost / 0.001).abs() < 1e-9,
        "{acme}"
    );
    assert!(budgets
        .iter()
        .any(|b| b["name"] == "chat" && b["period"] == "monthly"));

    // Local versus external: beta's two local requests, four on the cloud, one unserved.
    assert_eq!(side(&page, "local")["requests"], "2");
    assert_eq!(side(&page, "external")["requests"], "4");
    assert_eq!(side(&page, "unserved")["requests"], "1");
    assert_eq!(side(&page, "local")["zones"], "local");
    let local_share = f64_of(&side(&page, "local")["spend_share"]);
    let external_share = f64_of(&side(&page, "external")["spend_share"]);
    assert!((local_share + external_share - 1.0).abs() < 1e-12);

    // The costliest requests, in the ledger's order, ids and metadata only.
    let ranked = ledger_top(&db);
    let top = page["top"].as_array().unwrap();
    assert_eq!(top.len(), ranked.len().min(20));
    for (row, (id, cost)) in top.iter().zip(&ranked) {
        assert_eq!(row["request_id"], id.as_str());
        assert_eq!(f64_of(&row["cost_usd"]), *cost);
    }
    assert_eq!(top[0]["tenant"], "acme");
    assert_eq!(top[0]["model"], "cloud/gpt-x");
    let top_csv = page["csv"]["top"]["text"].as_str().unwrap();
    let csv_ids: Vec<&str> = top_csv
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let page_ids: Vec<&str> = top
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(csv_ids, page_ids);
    assert!(top_csv.starts_with("request_id,time_utc,ts_ms,tenant,route,backend,model,zone,"));

    // Every section is there (idle compute says none was recorded); no prompt text anywhere.
    for section in [
        "Spend over time",
        "Budgets",
        "Most expensive requests",
        "Savings",
        "Idle compute",
    ] {
        assert!(
            page["headings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h == section),
            "{section}"
        );
    }
    assert_savings_match_cli(&gw, &page, &since, &until);
    let text = page["text"].as_str().unwrap();
    assert!(!text.contains(MARKER), "prompt text on the page");
    for csv in page["csv"].as_object().unwrap().values() {
        assert!(!csv["text"].as_str().unwrap().contains(MARKER));
    }
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "{}",
        png.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_token_the_page_is_off_and_metrics_stay_open() {
    let cloud = FakeOpenAi::start(Behavior::answer("hi")).await;
    let gpu = FakeOpenAi::start(Behavior::answer("hi")).await;
    let gw = Gateway::start_with_env(&config(&cloud, &gpu, false), &KEYS);
    let admin = gw.admin.expect("admin listener");
    let client = TestClient::new();
    let r = client.get(&format!("http://{admin}/ui"), &[]).await;
    assert_eq!(r.status, 403);
    assert!(String::from_utf8_lossy(&r.body).contains("server.admin_token_env"));
    assert_eq!(
        client
            .get(&format!("http://{admin}/metrics"), &[])
            .await
            .status,
        200
    );
}

#[test]
fn check_config_refuses_an_unset_or_empty_admin_token_variable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tollgate.toml");
    let cfg = "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n\
               admin_token_env = \"SPEND_PAGE_CHECK_TOKEN\"\n[ledger]\nenabled = false\n";
    std::fs::write(&path, cfg).unwrap();
    let run = |value: Option<&str>| {
        let mut cmd = Command::new(binary());
        cmd.arg("check-config")
            .arg(&path)
            .env_remove("SPEND_PAGE_CHECK_TOKEN");
        if let Some(v) = value {
            cmd.env("SPEND_PAGE_CHECK_TOKEN", v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    for value in [None, Some(""), Some("   ")] {
        let (code, out) = run(value);
        assert_eq!(code, Some(1), "{value:?}: {out}");
        assert!(
            out.contains(
                "error: server.admin_token_env: environment variable SPEND_PAGE_CHECK_TOKEN"
            ),
            "{out}"
        );
    }
    let (code, out) = run(Some("t0ken"));
    assert_eq!(code, Some(0), "{out}");
}
