//! The gateway under pressure, measured on the real binary against the fake upstream: a flood
//! of silent connections (does `/healthz` still answer, and how fast), resident memory idle,
//! with many streams open at once, with large bodies in flight, and in the minute after the
//! load ends.
//!
//! `cargo run --release -p tollgate-e2e --bin tollgate-memory -- --help`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark tool: any failure aborts the run

use bytes::Bytes;
use clap::Parser;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, Instant};
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::{rss_mb, Gateway};

#[derive(Debug, Parser)]
struct Args {
    /// Streams held open at once.
    #[arg(long, default_value_t = 1000)]
    streams: usize,
    /// Seconds each stream lasts.
    #[arg(long, default_value_t = 10)]
    stream_seconds: u64,
    /// Large bodies sent at once.
    #[arg(long, default_value_t = 32)]
    bodies: usize,
    /// Size of each large body in MB.
    #[arg(long, default_value_t = 30)]
    body_mb: usize,
    /// Seconds to watch memory after the load.
    #[arg(long, default_value_t = 60)]
    after_seconds: u64,
    /// Rounds of streams and bodies, each followed by the watch.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Extra TOML appended to the gateway's config.
    #[arg(long, default_value = "")]
    extra_config: String,
    /// Silent connections opened at once (each end of each one is a descriptor of this
    /// machine: keep it under half the open-file limit).
    #[arg(long, default_value_t = 9000)]
    silent: usize,
}

/// Opens `n` connections that send nothing, then times `GET /healthz` on a new connection.
async fn flood(gw: &Gateway, n: usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut held = Vec::with_capacity(n);
    let t = Instant::now();
    for _ in 0..n {
        match tokio::net::TcpStream::connect(gw.addr).await {
            Ok(c) => held.push(c),
            Err(_) => break,
        }
    }
    let opened = held.len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let probe = |addr: std::net::SocketAddr| async move {
        let t = Instant::now();
        let mut c = tokio::net::TcpStream::connect(addr).await.ok()?;
        c.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
            .await
            .ok()?;
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), c.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        let line = String::from_utf8_lossy(&buf[..n])
            .lines()
            .next()?
            .to_string();
        Some((line, t.elapsed()))
    };
    println!(
        "{opened} silent connections opened in {:.1} s; /healthz on a new API connection: {:?}",
        t.elapsed().as_secs_f64(),
        probe(gw.addr).await
    );
    if let Some(admin) = gw.admin {
        println!("  /healthz on the admin listener: {:?}", probe(admin).await);
    }
    // The head deadline (10 s by default) closes the silent ones.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let mut closed = 0;
    for c in &mut held {
        let mut b = [0u8; 1];
        if matches!(
            tokio::time::timeout(Duration::from_millis(1), c.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        ) {
            closed += 1;
        }
    }
    println!("  11 s later: {closed} of {opened} closed by the gateway");
}

fn chat(stream: bool, text: &str) -> Bytes {
    Bytes::from(
        serde_json::json!({
            "model": "r",
            "messages": [{"role": "user", "content": text}],
            "stream": stream,
        })
        .to_string(),
    )
}

async fn post(url: &str, body: Bytes) -> u16 {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(body))
        .unwrap();
    match client.request(req).await {
        Ok(r) => {
            let status = r.status().as_u16();
            let _ = r.into_body().collect().await;
            status
        }
        Err(_) => 0,
    }
}

/// Runs `n` requests at once while sampling the gateway's memory; returns (peak MB, statuses).
async fn under_load(gw: &Gateway, n: usize, body: Bytes) -> (f64, Vec<u16>) {
    let url = gw.url("/v1/chat/completions");
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (url, body) = (url.clone(), body.clone());
            tokio::spawn(async move { post(&url, body).await })
        })
        .collect();
    let mut peak = 0f64;
    let sampler = async {
        loop {
            peak = peak.max(rss_mb(gw.pid()));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let statuses: Vec<u16> = tokio::select! {
        () = sampler => unreachable!(),
        done = futures_util::future::join_all(tasks) => done.into_iter().map(Result::unwrap).collect(),
    };
    (peak.max(rss_mb(gw.pid())), statuses)
}

fn tally(statuses: &[u16]) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for s in statuses {
        *counts.entry(*s).or_insert(0) += 1;
    }
    format!("{counts:?}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let events = 20u64;
    let fake = FakeOpenAi::start_on(
        "127.0.0.1:0",
        Behavior::Answer {
            reply: vec!["word"; events as usize].join(" "),
            stream_usage: true,
            head_delay: Duration::ZERO,
            event_gap: Duration::from_millis(args.stream_seconds * 1000 / events),
        },
        false,
    )
    .await;
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nmax_body_bytes = {}\n\n\
         [backends.fake]\nkind = \"openai\"\nzone = \"local\"\nbase_url = \"{}\"\n\
         models = {{ m = {{ licence = \"Apache-2.0\" }} }}\n\n[routes.r]\ncandidates = [\"fake/m\"]\n",
        (args.body_mb + 1) << 20,
        fake.base_url()
    ) + &args.extra_config;
    let gw = Gateway::start(&config.replace(
        "listen = \"127.0.0.1:0\"\n",
        "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n",
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_mb(gw.pid());
    println!("tollgate-memory: the release binary, default [server] limits");
    println!("idle RSS: {idle:.1} MB");
    if args.silent > 0 {
        flood(&gw, args.silent).await;
    }

    for round in 1..=args.rounds {
        if args.rounds > 1 {
            println!("round {round}:");
        }
        load_and_watch(&gw, &args, idle).await;
    }
}

/// One round: the streams, then the bodies, then memory watched for `after_seconds`.
async fn load_and_watch(gw: &Gateway, args: &Args, idle: f64) {
    let t = Instant::now();
    let (peak, statuses) = under_load(gw, args.streams, chat(true, "hi")).await;
    println!(
        "{} streams open at once ({:.1} s each): peak RSS {peak:.1} MB; statuses {}; took {:.1} s",
        args.streams,
        args.stream_seconds as f64,
        tally(&statuses),
        t.elapsed().as_secs_f64()
    );

    let text = "x".repeat(args.body_mb << 20);
    let (peak, statuses) = under_load(gw, args.bodies, chat(false, &text)).await;
    drop(text);
    println!(
        "{} bodies of {} MB at once: peak RSS {peak:.1} MB; statuses {}",
        args.bodies,
        args.body_mb,
        tally(&statuses)
    );

    let end = Instant::now();
    let mut marks = vec![0u64, 5, 15, 30, args.after_seconds];
    marks.dedup();
    for mark in marks {
        let at = end + Duration::from_secs(mark);
        tokio::time::sleep_until(at.into()).await;
        let rss = rss_mb(gw.pid());
        println!(
            "{mark:>3} s after the load: RSS {rss:.1} MB ({:+.0}% of idle)",
            (rss / idle - 1.0) * 100.0
        );
    }
}
