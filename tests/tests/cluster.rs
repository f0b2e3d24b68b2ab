//! Several gateway processes sharing budgets and rate limits through a real Redis server:
//! limits hold across replicas, leases of a killed replica expire, an unreachable Redis is
//! answered by `state_unavailable`, and both modes recover without a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tollgate_e2e::client::{chat, Response, TestClient};
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::Gateway;
use tollgate_e2e::ledger::{count, open};
use tollgate_e2e::redis::Redis;

/// Replicas `paid/m1` ($1 in, $2 out per million tokens) on `fake`, sharing `redis`.
fn config(fake: &FakeOpenAi, redis: &Redis, cluster: &str, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
grace_period_seconds = 1

[ledger]
path = "ledger.db"

[cluster]
redis_url = "{url}"
{cluster}

[prices]
version = "e2e-1"
[prices.models."paid/m1"]
input_per_mtok = 1.0
output_per_mtok = 2.0

[backends.paid]
kind = "openai"
zone = "external"
base_url = "{base}"
models = {{ m1 = {{ licence = "Apache-2.0" }} }}

[routes.chat]
candidates = ["paid/m1"]
[routes.limited]
candidates = ["paid/m1"]
[routes.open]
candidates = ["paid/m1"]
{extra}
"#,
        url = redis.url(),
        base = fake.base_url(),
    )
}

fn replicas(n: usize, config: &str) -> Vec<Gateway> {
    (0..n).map(|_| Gateway::start(config)).collect()
}

fn ledger(gw: &Gateway) -> PathBuf {
    gw.dir.path().join("ledger.db")
}

/// Waits until the replicas' ledgers hold `n` rows between them.
fn wait_total(gws: &[Gateway], n: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let total: i64 = gws.iter().map(|g| count(&ledger(g))).sum();
        if total == n {
            return;
        }
        assert!(total < n, "{total} rows for {n} requests");
        assert!(Instant::now() < deadline, "{total} of {n} rows after 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spent(gws: &[Gateway], route: &str) -> f64 {
    gws.iter()
        .map(|g| {
            open(&ledger(g))
                .query_row(
                    "SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE route = ?1",
                    [route],
                    |r| r.get::<_, f64>(0),
                )
                .unwrap()
        })
        .sum()
}

/// Sends `n` requests at once, spread round-robin over `gws`.
async fn burst(gws: &[Gateway], n: usize, body: &serde_json::Value) -> Vec<Response> {
    let client = TestClient::new();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (client, body) = (client.clone(), body.clone());
            let url = gws[i % gws.len()].url("/v1/chat/completions");
            tokio::spawn(async move { client.post_json(&url, &[], &body).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn statuses(rs: &[Response]) -> (usize, usize) {
    let ok = rs.iter().filter(|r| r.status == 200).count();
    let limited = rs.iter().filter(|r| r.status == 429).count();
    assert_eq!(
        ok + limited,
        rs.len(),
        "{:?}",
        rs.iter()
            .map(|r| (r.status, String::from_utf8_lossy(&r.body).to_string()))
            .collect::<Vec<_>>()
    );
    (ok, limited)
}

/// Waits, when needed, until at least `secs` seconds are left in the current UTC minute, so
/// a per-minute count is not split by the minute's end.
async fn room_in_minute(secs: u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let left = 60 - now % 60;
    if left < secs {
        tokio::time::sleep(Duration::from_secs(left + 1)).await;
    }
}

/// Waits until `n` rate-limit tickets have been settled in `redis`. A replica settles a
/// ticket after the answer has gone out, so a client can see its answer a moment before its
/// slot and its unused tokens are back.
async fn wait_rate_settled(redis: &Redis, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reply = redis.command(&[
            "EVAL",
            "return #redis.call('KEYS', ARGV[1])",
            "0",
            "tollgate:settled:rate:*",
        ]);
        let settled: usize = reply
            .as_deref()
            .and_then(|r| r.strip_prefix(':'))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if settled >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{settled} of {n} rate tickets settled after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn metric(gw: &Gateway, name: &str) -> Option<f64> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(gw.admin.unwrap()).unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_share_one_budget_and_one_rate_limit() {
    let fake = FakeOpenAi::start(Behavior::answer("one two three four five")).await;
    let redis = Redis::start();
    // Worst case of "one two three" with max_tokens 10: (4 + 10 × 2) / 1e6 = $0.000024; the
    // real cost is (3 + 5 × 2) / 1e6 = $0.000013. The limit fits 8 worst cases at once, and
    // 15 real costs: three replicas with a budget each would let 45 through.
    let limit = 0.0002;
    let extra = format!(
        "[budgets.routes.chat]\ndaily_usd = {limit}\n\
         [rate_limits.routes.limited]\nrequests_per_minute = 10\n"
    );
    let gws = replicas(3, &config(&fake, &redis, "", &extra));
    let mut body = chat("chat", "one two three", false);
    body["max_tokens"] = json!(10);
    let rs = burst(&gws, 100, &body).await;
    let (served, refused) = statuses(&rs);
    for r in rs.iter().filter(|r| r.status == 429) {
        assert_eq!(r.json()["error"]["code"], "budget_exceeded");
    }
    // Every row is in; the budget held across replicas.
    wait_total(&gws, 100);
    let total = spent(&gws, "chat");
    assert!(
        total <= limit + 1e-12,
        "spent ${total} over the shared limit ${limit} ({served} served)"
    );
    assert!(
        (8..=15).contains(&served) && served + refused == 100,
        "served {served}, refused {refused}"
    );

    // Requests per minute, across replicas, hold exactly (each request counts once).
    room_in_minute(15).await;
    let rs = burst(&gws, 30, &chat("limited", "hi", false)).await;
    let (served, limited) = statuses(&rs);
    assert_eq!((served, limited), (10, 20));
    let refused = rs.iter().find(|r| r.status == 429).unwrap();
    let e = &refused.json()["error"];
    assert_eq!(e["code"], "rate_limit_exceeded");
    assert_eq!(e["type"], "rate_limit_error");
    assert_eq!(e["rate_limit"]["limit"], "requests_per_minute");
    assert_eq!(e["rate_limit"]["name"], "limited");
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "retry-after {retry}");
    let ok = rs.iter().find(|r| r.status == 200).unwrap();
    assert_eq!(ok.header("x-ratelimit-limit-requests"), Some("10"));
    assert!(ok.header("x-ratelimit-remaining-requests").is_some());
    assert!(ok.header("x-ratelimit-reset-requests").is_some());
    // A route without limits is not counted.
    let rs = burst(&gws, 12, &chat("open", "hi", false)).await;
    assert_eq!(statuses(&rs), (12, 0));
    assert_eq!(metric(&gws[0], "tollgate_shared_state_up"), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_and_tokens_per_minute_hold_across_replicas() {
    let slow = FakeOpenAi::start(Behavior::Answer {
        reply: "slow answer".into(),
        stream_usage: true,
        head_delay: Duration::from_millis(1500),
        event_gap: Duration::ZERO,
    })
    .await;
    let redis = Redis::start();
    let gws = replicas(
        2,
        &config(
            &slow,
            &redis,
            "",
            "[rate_limits.routes.limited]\nconcurrent_requests = 2\n",
        ),
    );
    let rs = burst(&gws, 8, &chat("limited", "hi", false)).await;
    assert_eq!(statuses(&rs), (2, 6), "two slots across both replicas");
    let e = &rs.iter().find(|r| r.status == 429).unwrap().json()["error"];
    assert_eq!(e["rate_limit"]["limit"], "concurrent_requests");
    // The slots came back when the answers ended.
    wait_rate_settled(&redis, 2).await;
    let rs = burst(&gws, 2, &chat("limited", "hi", false)).await;
    assert_eq!(statuses(&rs), (2, 0));

    // Tokens per minute: each request reserves its prompt estimate plus max_tokens (100).
    let fast = FakeOpenAi::start(Behavior::answer("one two")).await;
    let redis2 = Redis::start();
    let gws = replicas(
        2,
        &config(
            &fast,
            &redis2,
            "",
            "[rate_limits.routes.limited]\ntokens_per_minute = 350\n",
        ),
    );
    room_in_minute(15).await;
    let mut body = chat("limited", "hi", false);
    body["max_tokens"] = json!(100);
    // Sequential: each answer uses a few tokens and refunds the rest of its 100.
    let client = TestClient::new();
    for i in 0..5 {
        let r = client
            .post_json(&gws[i % 2].url("/v1/chat/completions"), &[], &body)
            .await;
        assert_eq!(r.status, 200, "request {i}: refunds make room");
        wait_rate_settled(&redis2, i + 1).await;
    }
    // At once (slow answers, so no refund comes in between): the reservations count in
    // full, so at most three fit.
    fast.set_behavior(Behavior::Answer {
        reply: "one two".into(),
        stream_usage: true,
        head_delay: Duration::from_millis(1000),
        event_gap: Duration::ZERO,
    });
    let rs = burst(&gws, 6, &body).await;
    let (ok, limited) = statuses(&rs);
    assert!((2..=3).contains(&ok) && limited >= 3, "{ok} served at once");
    let e = &rs.iter().find(|r| r.status == 429).unwrap().json()["error"];
    assert_eq!(e["rate_limit"]["limit"], "tokens_per_minute");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_replica_leaves_nothing_held_past_its_lease() {
    let streaming = FakeOpenAi::start(Behavior::Answer {
        reply: "a b c d e f g h i j k l m n o p".into(),
        stream_usage: true,
        head_delay: Duration::ZERO,
        event_gap: Duration::from_millis(400),
    })
    .await;
    let redis = Redis::start();
    // One worst case ($0.000024) fits, two do not.
    let cfg = config(
        &streaming,
        &redis,
        "lease_seconds = 3",
        "[budgets.routes.chat]\ndaily_usd = 0.00003\n\
         [rate_limits.routes.chat]\nconcurrent_requests = 1\n",
    );
    let mut a = Gateway::start(&cfg);
    let b = Gateway::start(&cfg);
    let mut body = chat("chat", "one two three", true);
    body["max_tokens"] = json!(10);
    let client = TestClient::new();
    let url = a.url("/v1/chat/completions");
    let stream = {
        let (client, body) = (client.clone(), body.clone());
        tokio::spawn(async move { client.post_json(&url, &[], &body).await })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    // A holds the slot and the budget: B refuses.
    let r = client
        .post_json(&b.url("/v1/chat/completions"), &[], &body)
        .await;
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    a.kill();
    let _ = stream.await;
    let killed = Instant::now();
    // Until the lease ends, what A held stays held; then B serves.
    let served_at = loop {
        let r = client
            .post_json(&b.url("/v1/chat/completions"), &[], &body)
            .await;
        if r.status == 200 {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "lease never ended"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        served_at >= Duration::from_millis(1500),
        "served {served_at:?} after the kill: the lease was not held"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        count(&ledger(&b)) >= 2,
        "B recorded its refusal and its answer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_down_rejects_fast_or_serves_a_share_and_both_recover() {
    let fake = FakeOpenAi::start(Behavior::answer("fine")).await;
    let mut redis = Redis::start();
    let limits = "[rate_limits.routes.limited]\nrequests_per_minute = 8\n";
    let reject = Gateway::start(&config(&fake, &redis, "timeout_ms = 100", limits));
    let share = Gateway::start(&config(
        &fake,
        &redis,
        "timeout_ms = 100\nstate_unavailable = \"local_share\"\nreplicas = 2",
        limits,
    ));
    let client = TestClient::new();
    let send = |gw: &Gateway, route: &str| {
        let (client, url) = (client.clone(), gw.url("/v1/chat/completions"));
        let body = chat(route, "hi", false);
        async move { client.post_json(&url, &[], &body).await }
    };
    assert_eq!(send(&reject, "limited").await.status, 200);
    redis.stop();
    room_in_minute(20).await;

    // Reject: a limited route answers 503 at once (the first call finds out, by its timeout;
    // later ones do not wait); a route without limits is served as usual.
    let mut first = true;
    for _ in 0..5 {
        let started = Instant::now();
        let r = send(&reject, "limited").await;
        assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["error"]["code"], "state_unavailable");
        assert!(r.header("retry-after").is_some());
        let bound = if first { 1500 } else { 250 };
        assert!(
            started.elapsed() < Duration::from_millis(bound),
            "took {:?}",
            started.elapsed()
        );
        first = false;
    }
    assert_eq!(send(&reject, "open").await.status, 200);
    assert_eq!(metric(&reject, "tollgate_shared_state_up"), Some(0.0));
    assert!(reject.stderr().contains("shared state unreachable"));

    // Local share: 8 per minute over 2 replicas is 4 here.
    let mut ok = 0;
    for _ in 0..7 {
        match send(&share, "limited").await.status.as_u16() {
            200 => ok += 1,
            429 => {}
            s => panic!("local_share answered {s}"),
        }
    }
    assert_eq!(ok, 4, "local_share serves its share");
    assert_eq!(
        metric(&share, "tollgate_shared_state_mode{mode=\"local_share\"}"),
        Some(1.0)
    );

    // Redis back: both recover by themselves.
    redis.resume();
    let back = Instant::now();
    loop {
        let (a, b) = (
            send(&reject, "limited").await,
            send(&share, "limited").await,
        );
        if a.status == 200 && b.status == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "no recovery: {} {}",
            a.status,
            b.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(metric(&reject, "tollgate_shared_state_up"), Some(1.0));
    assert!(reject.stderr().contains("shared state reachable again"));
}
