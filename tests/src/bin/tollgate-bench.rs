//! The gateway overhead benchmark: the same fast fake upstream called directly and through the
//! real `tollgate` binary, in one run, so the figures are ratios measured side by side.
//!
//! By default the gateway runs as a user would run it in front of a closed API: the backend in
//! the external zone, the detector scanning every request, metrics and the SQLite ledger on,
//! one worker thread. A second gateway, identical but for `[ledger] enabled = false`, measures
//! what the ledger adds at the fixed rate.
//!
//! `cargo run --release -p tollgate-e2e --bin tollgate-bench -- --help`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark tool: any failure aborts the run

use bytes::Bytes;
use clap::Parser;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::{cpu_seconds, rss_mb, Gateway};

/// Measures what Tollgate adds on top of one HTTP hop.
#[derive(Debug, Parser)]
struct Args {
    /// Seconds of each saturation run.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent connections at saturation.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Requests per second of the fixed-rate latency run (a moderate, realistic load).
    #[arg(long, default_value_t = 50)]
    rate: u64,
    /// Streamed requests sampled for time to first byte.
    #[arg(long, default_value_t = 300)]
    stream_samples: usize,
    /// Extra TOML appended to the gateway's config (e.g. to switch metering on or off).
    #[arg(long, default_value = "")]
    extra_config: String,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn body(stream: bool) -> Bytes {
    Bytes::from(
        serde_json::json!({
            "model": "bench",
            "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello in five words."}],
            "max_tokens": 16,
            "stream": stream,
        })
        .to_string(),
    )
}

/// Sends one request; returns (time to first body byte, total time).
async fn one(client: &HttpClient, url: &str, body: Bytes) -> (Duration, Duration) {
    let started = Instant::now();
    let req = Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(body))
        .expect("request");
    let resp = client.request(req).await.expect("response");
    assert!(resp.status().is_success(), "status {}", resp.status());
    let mut b = resp.into_body();
    let mut first = None;
    while let Some(frame) = b.frame().await {
        frame.expect("body frame");
        first.get_or_insert_with(|| started.elapsed());
    }
    (
        first.unwrap_or_else(|| started.elapsed()),
        started.elapsed(),
    )
}

fn client() -> HttpClient {
    let mut c = HttpConnector::new();
    c.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1024)
        .build(c)
}

/// Closed-loop saturation: `connections` workers send back to back for `secs`.
async fn saturate(url: &str, connections: usize, secs: u64) -> f64 {
    let client = client();
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (client, url, done) = (client.clone(), url.to_string(), done.clone());
            tokio::spawn(async move {
                let b = body(false);
                while Instant::now() < until {
                    one(&client, &url, b.clone()).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("worker");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Open-loop fixed rate: latency measured from each request's scheduled time.
async fn fixed_rate(url: &str, rate: u64, secs: u64) -> Vec<Duration> {
    let client = client();
    // Warm the pool.
    for _ in 0..50 {
        one(&client, url, body(false)).await;
    }
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    let n = rate * secs;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for i in 0..n {
        let scheduled = start + interval * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, url) = (client.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            one(&client, &url, body(false)).await;
            scheduled.elapsed()
        }));
    }
    let mut lat = Vec::with_capacity(tasks.len());
    for t in tasks {
        lat.push(t.await.expect("task"));
    }
    lat.sort();
    lat
}

async fn first_bytes(url: &str, samples: usize) -> Vec<Duration> {
    let client = client();
    for _ in 0..20 {
        one(&client, url, body(true)).await;
    }
    let mut out = Vec::with_capacity(samples);
    for _ in 0..samples {
        out.push(one(&client, url, body(true)).await.0);
    }
    out.sort();
    out
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// user+system CPU seconds of a process, from /proc.
#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args = Args::parse();
    let fake = FakeOpenAi::start_on(
        "127.0.0.1:0",
        Behavior::answer("Hello there, how are you today?"),
        false,
    )
    .await;
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
threads = 1

[backends.fake]
kind = "openai"
zone = "external"
base_url = "{}"
models = {{ bench = {{ licence = "openai-terms" }} }}

[routes.bench]
candidates = ["fake/bench"]

[prices.models."fake/bench"]
input_per_mtok = 0.15
output_per_mtok = 0.6
{}
"#,
        fake.base_url(),
        args.extra_config
    );
    let gw = Gateway::start(&config);
    let no_ledger = Gateway::start(&format!("{config}\n[ledger]\nenabled = false\n"));
    let direct = format!("{}/chat/completions", fake.base_url());
    let via = gw.url("/v1/chat/completions");
    std::thread::sleep(Duration::from_millis(300));
    let idle_rss = rss_mb(gw.pid());

    println!(
        "tollgate-bench: closed-API zone, detection, metrics and ledger on; 1 gateway worker \
         thread; load generator and fake upstream on 1 thread"
    );
    println!("idle RSS of the gateway: {idle_rss:.1} MB");

    let direct_rps = saturate(&direct, args.connections, args.seconds).await;
    let cpu0 = cpu_seconds(gw.pid());
    let t0 = Instant::now();
    let via_rps = saturate(&via, args.connections, args.seconds).await;
    let sat_requests = via_rps * t0.elapsed().as_secs_f64();
    let sat_cpu_ms = (cpu_seconds(gw.pid()) - cpu0) * 1e3 / sat_requests;
    println!(
        "saturation ({} connections): direct {direct_rps:.0} req/s, via tollgate {via_rps:.0} req/s, ratio {:.2}",
        args.connections,
        via_rps / direct_rps
    );
    println!("gateway CPU per request at saturation: {sat_cpu_ms:.4} ms");

    let d = fixed_rate(&direct, args.rate, args.seconds).await;
    let cpu0 = cpu_seconds(gw.pid());
    let v = fixed_rate(&via, args.rate, args.seconds).await;
    let fixed_cpu_ms = (cpu_seconds(gw.pid()) - cpu0) * 1e3 / (v.len() + 50) as f64;
    println!(
        "fixed rate {} req/s: direct p50 {:.3} ms p99 {:.3} ms; via tollgate p50 {:.3} ms p99 {:.3} ms; added p50 {:.3} ms p99 {:.3} ms",
        args.rate,
        pct(&d, 0.5),
        pct(&d, 0.99),
        pct(&v, 0.5),
        pct(&v, 0.99),
        pct(&v, 0.5) - pct(&d, 0.5),
        pct(&v, 0.99) - pct(&d, 0.99)
    );
    println!("gateway CPU per request at fixed rate: {fixed_cpu_ms:.4} ms");
    let n = fixed_rate(
        &no_ledger.url("/v1/chat/completions"),
        args.rate,
        args.seconds,
    )
    .await;
    let v2 = fixed_rate(&via, args.rate, args.seconds).await;
    println!(
        "ledger at {} req/s: p50 without {:.3} ms, with {:.3} ms, added {:.3} ms",
        args.rate,
        pct(&n, 0.5),
        pct(&v2, 0.5),
        pct(&v2, 0.5) - pct(&n, 0.5)
    );

    let d = first_bytes(&direct, args.stream_samples).await;
    let v = first_bytes(&via, args.stream_samples).await;
    println!(
        "streamed time to first byte: direct p50 {:.3} ms, via tollgate p50 {:.3} ms, added p50 {:.3} ms (p90 {:.3} ms)",
        pct(&d, 0.5),
        pct(&v, 0.5),
        pct(&v, 0.5) - pct(&d, 0.5),
        pct(&v, 0.9) - pct(&d, 0.9)
    );
    println!("RSS after the run: {:.1} MB", rss_mb(gw.pid()));
}
