//! Writes a generated GGUF model, as `tollgate model synth` will.
//!
//! ```text
//! cargo run --release -p tollgate-adapters --example synth_model -- \
//!     --preset qwen2.5-0.5b --type q8_0 -o /work/bench-models/qwen2.5-0.5b-q8_0.gguf
//! ```

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;
use tollgate_adapters::synth::{synth, Preset, WeightType};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let preset: Preset = value("--preset").unwrap_or_else(|| "tiny".into()).parse()?;
    let ty: WeightType = value("--type").unwrap_or_else(|| "q8_0".into()).parse()?;
    let seed: u64 = value("--seed").map(|s| s.parse()).transpose()?.unwrap_or(0);
    let out = PathBuf::from(
        value("-o").ok_or("usage: synth_model --preset P --type T -o FILE [--seed N]")?,
    );
    let t = Instant::now();
    let r = synth(preset, ty, seed, &out)?;
    println!(
        "wrote {} ({preset}, {ty}): {} bytes, {:.2}M params, {} tensors, vocab {} in {:.1} s",
        r.path.display(),
        r.bytes,
        r.n_params as f64 / 1e6,
        r.n_tensors,
        r.n_vocab,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
