//! Faults from the client side, through the real binary on real sockets: connections that say
//! nothing or say it a byte at a time, idle keep-alives, a full listener, framing that can be
//! read two ways, pipelining, and credentials in trace logs. Each case is bounded: short
//! deadlines, a handful of connections.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};
use tollgate_e2e::config::Config;
use tollgate_e2e::gateway::{sha256_hex, start_failure, Gateway};
use tollgate_e2e::raw::{exchange, RawConn};

const WAIT: Duration = Duration::from_secs(10);

/// A gateway whose one backend is never reached: these faults end before any backend.
fn config(server: &[&str]) -> Config {
    let mut c = Config::new()
        .backend(
            "up",
            "local",
            "http://127.0.0.1:9/v1",
            &[("m", "Apache-2.0")],
        )
        .route("auto", &["up/m"]);
    for s in server {
        c = c.server(s);
    }
    c
}

fn start(server: &[&str]) -> Gateway {
    Gateway::start(&config(server).build())
}

#[tokio::test]
async fn a_silent_connection_is_closed_at_the_header_deadline() {
    let gw = start(&["header_timeout_ms = 300"]);
    let mut conn = RawConn::connect(gw.addr).await;
    let t = Instant::now();
    assert!(
        conn.closed_within(WAIT).await,
        "a silent connection stays open"
    );
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn a_head_sent_a_byte_at_a_time_gets_a_408_at_its_deadline() {
    let gw = start(&["header_timeout_ms = 600"]);
    let mut conn = RawConn::connect(gw.addr).await;
    let head =
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: tollgate\r\nx-long: aaaaaaaaaaaaaaaa\r\n";
    let t = Instant::now();
    let mut answer = None;
    // One byte each 100 ms: every read succeeds quickly, so only a deadline on the whole head
    // can end this.
    for byte in head.iter() {
        if !conn.send(&[*byte]).await {
            break;
        }
        if let Some(r) = conn.response(Duration::from_millis(100)).await {
            answer = Some(r);
            break;
        }
    }
    let r = answer.unwrap_or_else(|| panic!("no answer after {:?}", t.elapsed()));
    assert_eq!(r.status, 408);
    assert_eq!(r.json()["error"]["code"], "request_timeout");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(conn.closed_within(WAIT).await);
}

#[tokio::test]
async fn a_trickled_body_gets_a_408() {
    let gw = start(&["body_timeout_ms = 300", "body_min_rate = 1000000"]);
    let mut conn = RawConn::connect(gw.addr).await;
    conn.send(b"POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{")
        .await;
    let t = Instant::now();
    let mut answer = None;
    for _ in 0..100 {
        if !conn.send(b" ").await {
            break;
        }
        if let Some(r) = conn.response(Duration::from_millis(100)).await {
            answer = Some(r);
            break;
        }
    }
    let r = answer.expect("the trickled body was never cut");
    assert_eq!(r.status, 408);
    assert_eq!(r.json()["error"]["code"], "request_timeout");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    let ok = exchange(gw.addr, b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n").await;
    assert_eq!(ok.unwrap().status, 200, "the gateway keeps serving");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_and_a_short_request_is_answered() {
    let gw = start(&["idle_timeout_ms = 300"]);
    let mut conn = RawConn::connect(gw.addr).await;
    conn.send(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n").await;
    let r = conn.response(WAIT).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("keep-alive"));
    let t = Instant::now();
    assert!(conn.closed_within(WAIT).await, "idle keep-alive stays open");
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );

    // Shorter than the HTTP/2 preface: it must not wait for 24 bytes.
    let short = b"GET /healthz HTTP/1.0\r\n\r\n";
    let r = exchange(gw.addr, short)
        .await
        .expect("a short request is answered");
    assert_eq!(r.status, 200);

    let mut conn = RawConn::connect(gw.addr).await;
    conn.send(b"HEAD /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
        .await;
    let r = conn.head_response(WAIT).await.unwrap();
    assert_eq!(r.status, 200, "HEAD /healthz");
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn bad_framing_and_oversized_heads_get_json_errors_and_the_gateway_keeps_serving() {
    let gw = start(&[]);
    let many: String = (0..1000).map(|i| format!("x-{i}: v\r\n")).collect();
    let big = format!("x-big: {}\r\n", "a".repeat(2 << 20));
    let long = format!("GET /{} HTTP/1.1\r\nhost: t\r\n\r\n", "a".repeat(2 << 20));
    let chat = "POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\n";
    let cases: Vec<(String, u16, &str)> = vec![
        (
            format!("{chat}content-length: abc\r\n\r\n"),
            400,
            "malformed_http",
        ),
        (
            format!("{chat}content-length: 5\r\ncontent-length: 6\r\n\r\n"),
            400,
            "malformed_http",
        ),
        (
            format!("{chat}content-length: 5\r\ntransfer-encoding: chunked\r\n\r\n"),
            400,
            "malformed_http",
        ),
        (
            format!("{chat}transfer-encoding: gzip\r\n\r\n"),
            400,
            "malformed_http",
        ),
        (
            format!("{chat}bad header line\r\n\r\n"),
            400,
            "malformed_http",
        ),
        (
            format!("GET / HTTP/1.1\r\n{many}\r\n"),
            431,
            "headers_too_large",
        ),
        (
            format!("GET / HTTP/1.1\r\n{big}\r\n"),
            431,
            "headers_too_large",
        ),
        (long, 414, "uri_too_long"),
        (
            "CONNECT example.com:443 HTTP/1.1\r\nhost: example.com\r\n\r\n".into(),
            405,
            "method_not_allowed",
        ),
    ];
    for (request, status, code) in cases {
        let shown: String = request.chars().take(80).collect();
        let r = exchange(gw.addr, request.as_bytes())
            .await
            .unwrap_or_else(|| panic!("no answer to {shown:?}"));
        assert_eq!(r.status, status, "{shown:?}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json()["error"]["code"], code, "{shown:?}");
    }
    // Absolute-form targets are HTTP/1.1 too (RFC 9112 §3.2.2).
    let r = exchange(
        gw.addr,
        b"GET http://tollgate/healthz HTTP/1.1\r\nhost: tollgate\r\n\r\n",
    );
    assert_eq!(r.await.unwrap().status, 200);
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let gw = start(&[]);
    let mut conn = RawConn::connect(gw.addr).await;
    let body = r#"{"model":"auto"}"#;
    let pipelined = format!(
        "GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n\
         POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}\
         GET /nowhere HTTP/1.1\r\nhost: t\r\n\r\n\
         GET /readyz HTTP/1.1\r\nhost: t\r\n\r\n",
        body.len()
    );
    conn.send(pipelined.as_bytes()).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = conn
            .response(WAIT)
            .await
            .expect("every pipelined request is answered");
        statuses.push(r.status);
    }
    // 400: the chat body lacks `messages`; 404: an unknown path.
    assert_eq!(statuses, [200, 400, 404, 200]);
}

#[tokio::test]
async fn a_full_listener_answers_503_and_the_admin_listener_still_answers() {
    let gw = start(&[
        "max_connections = 4",
        "header_timeout_ms = 20000",
        "admin_listen = \"127.0.0.1:0\"",
    ]);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(RawConn::connect(gw.addr).await);
    }
    // The gateway accepts asynchronously: let it take all four.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = exchange(gw.addr, b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .expect("a connection past the cap is answered");
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["error"]["code"], "too_many_connections");
    let admin = gw.admin.expect("admin listener");
    let r = exchange(admin, b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n").await;
    assert_eq!(
        r.unwrap().status,
        200,
        "the admin listener answers at the cap"
    );
    let metrics = exchange(admin, b"GET /metrics HTTP/1.1\r\nhost: t\r\n\r\n").await;
    let metrics = String::from_utf8(metrics.unwrap().body).unwrap();
    let sample = |name: &str, label: &str| -> Option<String> {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && l.contains(label))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_string)
    };
    assert_eq!(
        sample("tollgate_connections_open{", "listener=\"api\"").as_deref(),
        Some("4")
    );
    assert_eq!(
        sample(
            "tollgate_connections_refused_total{",
            "code=\"too_many_connections\""
        )
        .as_deref(),
        Some("1"),
        "{metrics}"
    );
    drop(held);
    let deadline = Instant::now() + WAIT;
    loop {
        let r = exchange(gw.addr, b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n").await;
        if r.as_ref().map(|r| r.status) == Some(200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "closed connections never freed their slots"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn trace_logging_never_prints_a_client_key() {
    let key = "sk-client-f00dfeed-never-logged";
    let toml = config(&[])
        .extra(&format!(
            "[tenants.acme]\nuse = \"commercial\"\napi_key_sha256 = [\"{}\"]\n",
            sha256_hex(key)
        ))
        .build();
    let gw = Gateway::start_with_env(&toml, &[("TOLLGATE_LOG", "trace")]);
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}"
    );
    let r = exchange(gw.addr, request.as_bytes()).await.unwrap();
    assert_eq!(r.status, 400, "authenticated, then refused for its body");
    let h2 = tollgate_e2e::client::TestClient::h2c();
    let r = h2
        .get(
            &gw.url("/v1/models"),
            &[("authorization", &format!("Bearer {key}"))],
        )
        .await;
    assert_eq!(r.status, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = gw.stderr();
    assert!(logs.contains("DEBUG"), "verbose logging is on");
    assert!(!logs.contains(key), "a client key reached the logs");
}

#[test]
fn an_admin_listener_off_loopback_needs_tenants() {
    let toml = config(&["admin_listen = \"0.0.0.0:0\""]).build();
    let (code, stderr) = start_failure(&toml);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("server.admin_listen"), "{stderr}");
}

/// curl (installed by `scripts/setup.sh`) reports a reset that arrives while it is still
/// uploading, where hyper's client quietly keeps the response it already had.
fn curl_upload(gw: &Gateway, protocol: &str, stdin: bool, expect: bool) -> (String, String) {
    let body = format!(
        r#"{{"model":"auto","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(4 << 20)
    );
    let path = gw.dir.path().join("big.json");
    std::fs::write(&path, body).unwrap();
    // `-T -` uploads stdin: no content-length, so the limit is found mid-body.
    let upload = if stdin { "-" } else { path.to_str().unwrap() };
    let out = std::process::Command::new("curl")
        .args(["-sS", protocol, "-X", "POST", "-T", upload])
        .args(["-H", "content-type: application/json"])
        // curl asks for `100 Continue` before a large upload unless told not to.
        .args(if expect {
            vec![]
        } else {
            vec!["-H", "expect:"]
        })
        .args(["-w", "\n%{http_code}"])
        .arg(gw.url("/v1/chat/completions"))
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .expect("curl (scripts/setup.sh installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{protocol}: {stdout} {stderr}");
    let (json, code) = stdout.rsplit_once('\n').unwrap();
    (json.to_string(), code.to_string())
}

#[test]
fn an_oversized_body_gets_its_413_not_a_reset_while_the_client_still_sends() {
    let gw = start(&["max_body_bytes = 4096"]);
    for protocol in ["--http2-prior-knowledge", "--http1.1"] {
        // Of unknown length (found mid-body), and declared too large up front.
        for stdin in [true, false] {
            let (json, code) = curl_upload(&gw, protocol, stdin, false);
            assert_eq!(code, "413", "{protocol} stdin={stdin}");
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(v["error"]["code"], "body_too_large");
        }
    }
    // A client waiting for `100 Continue` is answered at once, without sending its body
    // (curl would otherwise wait a second before sending it anyway).
    let t = Instant::now();
    let (_, code) = curl_upload(&gw, "--http1.1", false, true);
    assert_eq!(code, "413");
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
}
