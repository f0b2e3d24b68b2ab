//! Live reload through the real binary: SIGHUP and `tollgate reload` load the config file
//! again during traffic; no request fails, new requests see new keys and prices, and an
//! invalid file is refused with its errors while the running config keeps serving.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollgate_e2e::client::{chat, TestClient};
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::{binary, sha256_hex, Gateway};
use tollgate_e2e::ledger::open;

fn config(fake: &FakeOpenAi, keys: &[(&str, &str)], input_price: f64) -> String {
    let mut s = format!(
        r#"
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
grace_period_seconds = 1

[ledger]
path = "ledger.db"

[prices]
version = "p{input_price}"
[prices.models."paid/m1"]
input_per_mtok = {input_price}
output_per_mtok = 2.0

[backends.paid]
kind = "openai"
zone = "external"
base_url = "{base}"
models = {{ m1 = {{ licence = "Apache-2.0" }} }}

[routes.chat]
candidates = ["paid/m1"]
"#,
        base = fake.base_url()
    );
    for (tenant, key) in keys {
        s += &format!(
            "[tenants.{tenant}]\nuse = \"commercial\"\napi_key_sha256 = [\"{}\"]\n",
            sha256_hex(key)
        );
    }
    s
}

fn wait_for(gw: &Gateway, text: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while gw.stderr().matches(text).count() < n {
        assert!(
            Instant::now() < deadline,
            "no '{text}' in:\n{}",
            gw.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn metric(gw: &Gateway, line: &str) -> Option<f64> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(gw.admin.unwrap()).unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.lines()
        .find(|l| l.starts_with(line))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloads_during_traffic_fail_no_request_and_refuse_bad_files() {
    let fake = FakeOpenAi::start(Behavior::Answer {
        reply: "one two three four".into(),
        stream_usage: true,
        head_delay: Duration::ZERO,
        event_gap: Duration::from_millis(30),
    })
    .await;
    let gw = Gateway::start(&config(&fake, &[("acme", "key-a")], 1.0));
    let path = gw.dir.path().join("tollgate.toml");
    let client = TestClient::new();
    let url = gw.url("/v1/chat/completions");

    // Traffic through every reload: streams that are in flight while the config changes.
    let stop = Arc::new(AtomicBool::new(false));
    let traffic: Vec<_> = (0..4)
        .map(|i| {
            let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let body = chat("chat", "hello there", i % 2 == 0);
                    let r = client
                        .post_json(&url, &[("authorization", "Bearer key-a")], &body)
                        .await;
                    statuses.push(r.status.as_u16());
                }
                statuses
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A new tenant and a new price, by SIGHUP.
    std::fs::write(
        &path,
        config(&fake, &[("acme", "key-a"), ("beta", "key-b")], 10.0),
    )
    .unwrap();
    let before = client
        .post_json(
            &url,
            &[("authorization", "Bearer key-b")],
            &chat("chat", "hi", false),
        )
        .await;
    assert_eq!(
        before.status, 401,
        "the new key is unknown before the reload"
    );
    let kill = std::process::Command::new("kill")
        .args(["-HUP", &gw.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    wait_for(&gw, "config reloaded", 1);
    let r = client
        .post_json(
            &url,
            &[("authorization", "Bearer key-b")],
            &chat("chat", "hi", false),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let new_id = r.header("x-tollgate-request-id").unwrap().to_string();

    // An invalid file, by `tollgate reload`: refused with its errors and path; still serving.
    std::fs::write(
        &path,
        "[server]\nlisten = 5\n[routes.chat]\ncandidates = [\"nope/m\"]\n",
    )
    .unwrap();
    let admin = format!("http://{}", gw.admin.unwrap());
    let out = std::process::Command::new(binary())
        .args(["reload", "--admin", &admin])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reload refused (HTTP 422)"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("server.listen"), "{err}");
    wait_for(&gw, "config reload refused", 1);
    assert_eq!(
        metric(&gw, "tollgate_config_reloads_total{result=\"refused\"}"),
        Some(1.0)
    );
    let r = client
        .post_json(
            &url,
            &[("authorization", "Bearer key-b")],
            &chat("chat", "hi", true),
        )
        .await;
    assert_eq!(r.status, 200, "the running config stays");

    // A good file again, by `tollgate reload`: the price goes back; beta is gone.
    std::fs::write(&path, config(&fake, &[("acme", "key-a")], 1.0)).unwrap();
    let out = std::process::Command::new(binary())
        .args(["reload", "--admin", &admin])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("reloaded"));
    let r = client
        .post_json(
            &url,
            &[("authorization", "Bearer key-b")],
            &chat("chat", "hi", false),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        metric(&gw, "tollgate_config_reloads_total{result=\"applied\"}"),
        Some(2.0)
    );

    stop.store(true, Ordering::Relaxed);
    let mut sent = 0;
    for t in traffic {
        let statuses = t.await.unwrap();
        sent += statuses.len();
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    }
    assert!(sent >= 8, "only {sent} requests during the reloads");

    // The request after the first reload was priced by the new table.
    std::thread::sleep(Duration::from_millis(300));
    let (version, cost): (String, f64) = open(&gw.dir.path().join("ledger.db"))
        .query_row(
            "SELECT price_version, cost_usd FROM requests WHERE request_id = ?1",
            [&new_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(version, "p10");
    assert!(cost > 0.0);
}
