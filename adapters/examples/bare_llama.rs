//! Baseline speed of a GGUF model through a bare llama-cpp-2 loop: prompt processing of a
//! 128-token prompt and greedy generation, one sequence, no gateway code in the way.
//!
//! ```text
//! cargo run --release -p tollgate-adapters --example bare_llama -- MODEL.gguf --threads 2
//! ```

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use std::error::Error;
use std::num::NonZeroU32;
use std::time::Instant;

const PROMPT_TOKENS: usize = 128;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model_path = args
        .first()
        .ok_or("usage: bare_llama MODEL.gguf [--threads N] [--reps N]")?;
    let flag = |name: &str, default: u32| -> Result<u32, Box<dyn Error>> {
        match args.iter().position(|a| a == name) {
            Some(i) => Ok(args.get(i + 1).ok_or("flag needs a value")?.parse()?),
            None => Ok(default),
        }
    };
    let threads = flag("--threads", 1)?;
    let reps = flag("--reps", 3)?;

    llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default().with_logs_enabled(false));
    let backend = LlamaBackend::init()?;
    let t = Instant::now();
    let model = LlamaModel::load_from_file(&backend, model_path, &LlamaModelParams::default())?;
    println!(
        "model {model_path}: {:.1}M params, loaded in {:.0} ms; threads {threads}",
        model.n_params() as f64 / 1e6,
        t.elapsed().as_secs_f64() * 1e3
    );
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(1024))
        .with_n_batch(512)
        .with_n_ubatch(512)
        .with_n_threads(threads as i32)
        .with_n_threads_batch(threads as i32);
    let mut ctx = model.new_context(&backend, params)?;
    let vocab = model.vocab();
    let text =
        "The quick brown fox jumps over the lazy dog while people think about data. ".repeat(20);
    let mut prompt = vocab.tokenize(text.as_bytes(), false, false);
    if prompt.len() < PROMPT_TOKENS {
        return Err(format!("prompt text gave only {} tokens", prompt.len()).into());
    }
    prompt.truncate(PROMPT_TOKENS);
    let mut batch = LlamaBatch::new(512, 1);

    for gen in [32usize, 128] {
        let mut pp = Vec::new();
        let mut tg = Vec::new();
        for _ in 0..reps {
            ctx.clear_kv_cache();
            batch.clear();
            batch.add_sequence(&prompt, 0, false)?;
            let t0 = Instant::now();
            ctx.decode(&mut batch)?;
            pp.push(PROMPT_TOKENS as f64 / t0.elapsed().as_secs_f64());

            let mut sampler = LlamaSampler::greedy();
            let mut at = batch.n_tokens() - 1;
            let t1 = Instant::now();
            for pos in (PROMPT_TOKENS as i32..).take(gen) {
                let token = sampler.sample(&ctx, at);
                batch.clear();
                batch.add(token, pos, &[0], true)?;
                ctx.decode(&mut batch)?;
                at = 0;
            }
            tg.push(gen as f64 / t1.elapsed().as_secs_f64());
        }
        println!(
            "bare  threads={threads} pp{PROMPT_TOKENS}: {:>8.1} tok/s   tg{gen}: {:>7.1} tok/s   \
             (median of {reps})",
            median(&mut pp),
            median(&mut tg)
        );
    }
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
