//! What a translating backend costs the gateway, measured on the real `tollgate` binary: the
//! same requests through an OpenAI-compatible backend, an Anthropic backend and a Gemini
//! backend, each against its faithful fake (whole events, no test-mode splitting), interleaved
//! in rounds within one run. Reported: the gateway's CPU per non-streamed request, per streamed
//! request, and per streamed chunk (what a stream costs over the whole answer, divided by its
//! chunks), and each kind's ratio to the OpenAI-compatible path.
//!
//! `cargo run --release -p tollgate-e2e --bin tollgate-vendor-bench -- --help`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark tool: any failure aborts the run

use bytes::Bytes;
use clap::Parser;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Instant;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::{cpu_seconds, Gateway};

/// Gateway CPU per request and per chunk, by backend kind.
#[derive(Debug, Parser)]
struct Args {
    /// Rounds; each runs every kind once, in turn.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Requests per kind per round, for each of whole and streamed.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Words in each answer: one streamed chunk each.
    #[arg(long, default_value_t = 100)]
    words: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

const KINDS: [&str; 3] = ["openai", "anthropic", "gemini"];

fn body(kind: &str, stream: bool) -> Bytes {
    Bytes::from(
        serde_json::json!({
            "model": format!("{kind}/m"),
            "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Tell me a long story."}],
            "max_tokens": 400,
            "stream": stream,
        })
        .to_string(),
    )
}

async fn send(client: &HttpClient, url: &str, body: Bytes) {
    let req = Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(body))
        .expect("request");
    let resp = client.request(req).await.expect("response");
    assert!(resp.status().is_success(), "status {}", resp.status());
    resp.into_body().collect().await.expect("body");
}

/// Gateway CPU seconds spent serving `n` requests of `kind`, `concurrency` at a time.
async fn cpu_for(
    gw: &Gateway,
    client: &HttpClient,
    kind: &str,
    stream: bool,
    n: usize,
    c: usize,
) -> f64 {
    let url = gw.url("/v1/chat/completions");
    let before = cpu_seconds(gw.pid());
    let per = n.div_ceil(c);
    let tasks: Vec<_> = (0..c)
        .map(|_| {
            let (client, url, b) = (client.clone(), url.clone(), body(kind, stream));
            tokio::spawn(async move {
                for _ in 0..per {
                    send(&client, &url, b.clone()).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("worker");
    }
    cpu_seconds(gw.pid()) - before
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args = Args::parse();
    let reply: Vec<String> = (0..args.words).map(|i| format!("word{i}")).collect();
    let fake = FakeOpenAi::start_on("127.0.0.1:0", Behavior::answer(&reply.join(" ")), false).await;
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
threads = 1

[backends.openai]
kind = "openai"
zone = "external"
base_url = "{root}/v1"
models = {{ m = {{ licence = "openai-terms" }} }}

[backends.anthropic]
kind = "anthropic"
base_url = "{root}/v1"
api_key_env = "BENCH_KEY"
models = {{ m = {{ licence = "anthropic-terms" }} }}

[backends.gemini]
kind = "gemini"
base_url = "{root}/v1beta"
api_key_env = "BENCH_KEY"
models = {{ m = {{ licence = "gemini-api-terms" }} }}
"#,
        root = fake.root_url()
    );
    let gw = Gateway::start_with_env(&config, &[("BENCH_KEY", "bench")]);
    let mut c = HttpConnector::new();
    c.set_nodelay(true);
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build(c);
    for kind in KINDS {
        for stream in [false, true] {
            cpu_for(&gw, &client, kind, stream, 50, args.concurrency).await;
        }
    }
    let started = Instant::now();
    // [kind][whole, streamed] CPU seconds, summed over rounds.
    let mut cpu = [[0.0f64; 2]; 3];
    for _ in 0..args.rounds {
        for (k, kind) in KINDS.iter().enumerate() {
            for (s, stream) in [false, true].into_iter().enumerate() {
                cpu[k][s] +=
                    cpu_for(&gw, &client, kind, stream, args.requests, args.concurrency).await;
            }
        }
    }
    let n = (args.rounds * args.requests.div_ceil(args.concurrency) * args.concurrency) as f64;
    println!(
        "tollgate-vendor-bench: {} rounds × {} requests per kind, {} chunks per stream, {} in flight, 1 gateway worker thread, {:.0} s",
        args.rounds,
        args.requests,
        args.words,
        args.concurrency,
        started.elapsed().as_secs_f64()
    );
    println!(
        "| kind | CPU per whole request | ratio | CPU per streamed request | per chunk | ratio |"
    );
    println!("|---|---|---|---|---|---|");
    for (k, kind) in KINDS.iter().enumerate() {
        let whole = cpu[k][0] / n * 1e6;
        let streamed = cpu[k][1] / n * 1e6;
        // What streaming adds over the whole answer, per chunk: per-request work (auth,
        // detection, decision, record) cancels out.
        let chunk = (streamed - whole) / args.words as f64;
        let base_whole = cpu[0][0] / n * 1e6;
        let base_chunk = (cpu[0][1] - cpu[0][0]) / n * 1e6 / args.words as f64;
        println!(
            "| {kind} | {whole:.1} µs | {:.2}× | {streamed:.1} µs | {chunk:.2} µs | {:.2}× |",
            whole / base_whole,
            chunk / base_chunk
        );
    }
}
