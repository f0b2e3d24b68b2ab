//! Speed of a GGUF model through the on-device engine (chat template, queue, engine thread,
//! OpenAI chunks): prompt processing, single-stream generation, time to first token, and
//! aggregate generation with 4 concurrent streams against 1, and the time to first token of a
//! conversation's second turn, whose first turn is in the KV cache.
//!
//! ```text
//! cargo run --release -p tollgate-adapters --example engine_bench -- MODEL.gguf --threads 2 \
//!     [--template gemma] [--prompt 128] [--batch 512] [--ubatch 512] [--reps 3]
//! ```
//!
//! Every prompt-processing measurement starts with a different word, so none is served from
//! the KV cache of the one before.

use futures_util::StreamExt;
use serde_json::json;
use std::error::Error;
use std::time::{Duration, Instant};
use tollgate_adapters::on_device::{OnDevice, OnDeviceConfig};
use tollgate_adapters::{ChatRequest, Event, Reply};

const STREAMS: usize = 4;
/// The first turn of the second-turn measurement.
const CONVERSATION_TOKENS: usize = 1000;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .ok_or("usage: engine_bench MODEL.gguf [--threads N] [--reps N]")?;
    let flag = |name: &str, default: u32| -> Result<u32, Box<dyn Error>> {
        match args.iter().position(|a| a == name) {
            Some(i) => Ok(args.get(i + 1).ok_or("flag needs a value")?.parse()?),
            None => Ok(default),
        }
    };
    let threads = flag("--threads", 1)?;
    let reps = flag("--reps", 3)? as usize;
    let prompt_tokens = flag("--prompt", 128)? as usize;

    let mut cfg = OnDeviceConfig::new(path);
    cfg.n_ctx = 2048;
    cfg.n_batch = flag("--batch", 512)?;
    cfg.n_ubatch = Some(flag("--ubatch", cfg.n_batch.min(512))?);
    if let Some(i) = args.iter().position(|a| a == "--template") {
        cfg.chat_template = Some(args.get(i + 1).ok_or("--template needs a value")?.clone());
    }
    cfg.n_threads = threads;
    cfg.n_parallel = STREAMS as u32;
    cfg.queue = 8;
    let t = Instant::now();
    let engine = OnDevice::load("bench", &cfg)?;
    println!(
        "engine {path}: loaded in {:.0} ms; threads {threads}, n_parallel {STREAMS}, n_batch {}, \
         n_ubatch {}",
        t.elapsed().as_secs_f64() * 1e3,
        cfg.n_batch,
        cfg.ubatch()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(&engine, reps, prompt_tokens))
}

async fn run(engine: &OnDevice, reps: usize, prompt_tokens: usize) -> Result<(), Box<dyn Error>> {
    let long = prompt_of(engine, prompt_tokens)?;
    let short = request("Hello there.", 1, false)?;
    println!(
        "prompt: {} tokens (long), {} tokens (short)",
        engine.count_prompt_tokens(&request(&long, 1, false)?)?,
        engine.count_prompt_tokens(&short)?
    );

    if let Reply::Complete(c) = engine
        .chat(&request("Hello there.", 24, false)?, "bench")
        .await?
    {
        let v: serde_json::Value = serde_json::from_slice(&c.body)?;
        println!("sample: {}", v["choices"][0]["message"]["content"]);
    }

    // Prompt processing: a 1-token completion of the long prompt is one prompt decode.
    let mut pp = Vec::new();
    let mut ttft = Vec::new();
    let words = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    ];
    for i in 0..reps {
        let fresh = format!("{} {long}", words[(2 * i) % words.len()]);
        let t0 = Instant::now();
        let reply = engine.chat(&request(&fresh, 1, false)?, "bench").await?;
        drop(reply);
        pp.push(prompt_tokens as f64 / t0.elapsed().as_secs_f64());
        let fresh = format!("{} {long}", words[(2 * i + 1) % words.len()]);
        let (first, _, _) = timed_stream(engine, &request(&fresh, 2, true)?).await?;
        ttft.push(first.as_secs_f64() * 1e3);
    }
    println!(
        "engine pp{prompt_tokens}: {:>8.1} tok/s   time to first token ({prompt_tokens}-token prompt, \
         streamed): {:.1} ms",
        median(&mut pp),
        median(&mut ttft)
    );
    second_turn(engine, reps).await?;

    for gen in [32usize, 128] {
        let mut tg = Vec::new();
        for _ in 0..reps {
            let (first, total, n) =
                timed_stream(engine, &request("Hello there.", gen, true)?).await?;
            // The first token comes from the prompt decode; the rest are generation steps.
            tg.push((n - 1) as f64 / (total - first).as_secs_f64());
        }
        println!(
            "engine tg{gen}: {:>7.1} tok/s (one stream)",
            median(&mut tg)
        );
    }

    // Aggregate: the same generation, 1 stream and then 4 at once.
    let gen = 64;
    let mut ratios = Vec::new();
    for _ in 0..reps {
        let single = aggregate(engine, 1, gen).await?;
        let multi = aggregate(engine, STREAMS, gen).await?;
        println!(
            "engine aggregate tg{gen}: 1 stream {single:>7.1} tok/s, {STREAMS} streams {multi:>7.1} \
             tok/s ({:.2}x)",
            multi / single
        );
        ratios.push(multi / single);
    }
    let stats = engine.stats();
    println!(
        "median {STREAMS}-stream speed-up: {:.2}x; max sequences in one decode: {}; decode steps: {}",
        median(&mut ratios),
        stats.max_batch_seen,
        stats.decode_steps
    );
    Ok(())
}

/// Time to first token of a conversation's first turn (about 1,000 tokens, fresh) and of its
/// second turn, which adds about 20 tokens after the answer.
async fn second_turn(engine: &OnDevice, reps: usize) -> Result<(), Box<dyn Error>> {
    let history = prompt_of(engine, CONVERSATION_TOKENS)?;
    let follow_up = "Now say the same again, but shorter, and in other words please.";
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let mut cached = 0;
    for i in 0..reps {
        let opening = format!("conversation {i}: {history}");
        let turn1 = request(&opening, 8, true)?;
        let (t1, _, _) = timed_stream(engine, &turn1).await?;
        let answer = answer_of(engine, &request(&opening, 8, false)?).await?;
        let body = json!({
            "model": "bench",
            "messages": [
                {"role": "user", "content": opening},
                {"role": "assistant", "content": answer},
                {"role": "user", "content": follow_up}
            ],
            "max_tokens": 2,
            "temperature": 0,
            "stream": true,
        });
        let turn2 = ChatRequest::parse(&serde_json::to_vec(&body)?)?;
        let added = engine.count_prompt_tokens(&turn2)? - engine.count_prompt_tokens(&turn1)?;
        let before = engine.stats().cached_tokens;
        let (t2, _, _) = timed_stream(engine, &turn2).await?;
        cached = engine.stats().cached_tokens - before;
        first.push(t1.as_secs_f64() * 1e3);
        second.push(t2.as_secs_f64() * 1e3);
        if i == 0 {
            println!(
                "second turn: {} prompt tokens, {added} more than the first turn, {cached} reused",
                engine.count_prompt_tokens(&turn2)?
            );
        }
    }
    let (a, b) = (median(&mut first), median(&mut second));
    println!(
        "time to first token: first turn {a:.1} ms, second turn {b:.1} ms ({:.1}% of the first; \
         {cached} tokens from the cache)",
        100.0 * b / a
    );
    Ok(())
}

async fn answer_of(engine: &OnDevice, req: &ChatRequest) -> Result<String, Box<dyn Error>> {
    match engine.chat(req, "bench").await? {
        Reply::Complete(c) => {
            let v: serde_json::Value = serde_json::from_slice(&c.body)?;
            Ok(v["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_string())
        }
        Reply::Stream(_) => Err("expected a whole answer".into()),
    }
}

/// `streams` concurrent streams of `gen` tokens: generated tokens per second of wall time.
async fn aggregate(engine: &OnDevice, streams: usize, gen: usize) -> Result<f64, Box<dyn Error>> {
    let reqs = (0..streams)
        .map(|i| request(&format!("Hello there, stream {i}."), gen, true))
        .collect::<Result<Vec<_>, _>>()?;
    let t0 = Instant::now();
    let results =
        futures_util::future::join_all(reqs.iter().map(|r| timed_stream(engine, r))).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let mut tokens = 0;
    for r in results {
        tokens += r?.2;
    }
    Ok(tokens as f64 / elapsed)
}

/// Runs one streamed request: (time to first content, total time, completion tokens).
async fn timed_stream(
    engine: &OnDevice,
    req: &ChatRequest,
) -> Result<(Duration, Duration, u64), Box<dyn Error>> {
    let t0 = Instant::now();
    let Reply::Stream(mut s) = engine.chat(req, "bench").await? else {
        return Err("expected a stream".into());
    };
    let mut first = None;
    let mut tokens = 0;
    while let Some(ev) = s.next().await {
        match ev? {
            Event::Data(b) => {
                if first.is_none() && memchr_content(&b) {
                    first = Some(t0.elapsed());
                }
                if let Some(u) = tollgate_adapters::Usage::from_openai_json(&b) {
                    tokens = u.completion_tokens;
                }
            }
            Event::Done => break,
        }
    }
    let total = t0.elapsed();
    Ok((first.unwrap_or(total), total, tokens))
}

fn memchr_content(chunk: &[u8]) -> bool {
    let v: serde_json::Value = serde_json::from_slice(chunk).unwrap_or_default();
    v["choices"][0]["delta"]["content"]
        .as_str()
        .is_some_and(|c| !c.is_empty())
}

fn request(content: &str, max_tokens: usize, stream: bool) -> Result<ChatRequest, Box<dyn Error>> {
    let body = json!({
        "model": "bench",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": stream,
    });
    Ok(ChatRequest::parse(&serde_json::to_vec(&body)?)?)
}

/// User text whose whole chat prompt is as close to `target` tokens as words allow.
fn prompt_of(engine: &OnDevice, target: usize) -> Result<String, Box<dyn Error>> {
    let words = [
        "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "data", "model",
    ];
    let mut text = String::new();
    let mut best = String::new();
    for i in 0.. {
        let n = engine.count_prompt_tokens(&request(&text, 1, false)?)?;
        if n > target {
            break;
        }
        best.clone_from(&text);
        if n == target {
            break;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(words[i % words.len()]);
    }
    Ok(best)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
