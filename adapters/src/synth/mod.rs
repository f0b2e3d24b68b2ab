//! Generated GGUF models with seeded random weights: a tiny one that tests load in
//! milliseconds, and one with the exact shape of Qwen2.5-0.5B for realistic speed figures.
//!
//! Inference speed does not depend on weight values, and llama.cpp runs random weights like
//! trained ones. Two tricks keep the output well-behaved: embedding dimension 0 carries a
//! constant no layer reads, and the output rows of byte and special tokens turn it into a large
//! negative logit, so sampled text is always valid UTF-8 made of whole text pieces. A random
//! model rarely picks end of generation, so it writes exactly `max_tokens` unless a request
//! biases `<|im_end|>` (id 4).

mod vocab;

use crate::gguf::{GgufWriter, MetaValue, TensorData, TensorType};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use vocab::{FIRST_TEXT, IM_END, IM_START};

/// The ChatML template (as Qwen2.5 ships it, without the tool-calling branches).
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{'<|im_start|>' + \
    message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}\
    {% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// File name of the demo model in the cache directory.
pub const DEMO_MODEL_FILE: &str = "tollgate-demo-tiny-q8_0.gguf";

/// The model shapes that can be generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// llama architecture, 2 layers, 64 wide, 1024-token vocabulary: a few hundred KB.
    Tiny,
    /// The exact shape of Qwen2.5-0.5B (qwen2, 24 layers, 896 wide, 151936 tokens, tied
    /// embeddings, q/k/v bias): 494.03M parameters.
    Qwen25_05b,
}

impl FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tiny" => Ok(Preset::Tiny),
            "qwen2.5-0.5b" => Ok(Preset::Qwen25_05b),
            other => Err(format!(
                "unknown preset {other:?} (expected \"tiny\" or \"qwen2.5-0.5b\")"
            )),
        }
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Preset::Tiny => "tiny",
            Preset::Qwen25_05b => "qwen2.5-0.5b",
        })
    }
}

/// Storage type of the 2-D weights (norms and biases are always f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightType {
    /// 32-bit floats.
    F32,
    /// 16-bit floats.
    F16,
    /// 8-bit blocks of 32 with an f16 scale.
    Q8_0,
}

impl FromStr for WeightType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "f32" => Ok(WeightType::F32),
            "f16" => Ok(WeightType::F16),
            "q8_0" => Ok(WeightType::Q8_0),
            other => Err(format!(
                "unknown weight type {other:?} (expected \"f32\", \"f16\" or \"q8_0\")"
            )),
        }
    }
}

impl std::fmt::Display for WeightType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WeightType::F32 => "f32",
            WeightType::F16 => "f16",
            WeightType::Q8_0 => "q8_0",
        })
    }
}

impl WeightType {
    fn tensor_type(self) -> TensorType {
        match self {
            WeightType::F32 => TensorType::F32,
            WeightType::F16 => TensorType::F16,
            WeightType::Q8_0 => TensorType::Q8_0,
        }
    }

    /// `general.file_type` (llama_ftype): ALL_F32, MOSTLY_F16, MOSTLY_Q8_0.
    fn file_type(self) -> u32 {
        match self {
            WeightType::F32 => 0,
            WeightType::F16 => 1,
            WeightType::Q8_0 => 7,
        }
    }
}

/// What [`synth`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthReport {
    /// The file written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Number of parameters (tensor elements).
    pub n_params: u64,
    /// Number of tensors.
    pub n_tensors: usize,
    /// Vocabulary size.
    pub n_vocab: u32,
}

/// Why a model could not be generated.
#[derive(Debug, thiserror::Error)]
#[error("cannot write model {path}: {source}")]
pub struct SynthError {
    /// The requested output file.
    pub path: String,
    /// The I/O failure.
    pub source: std::io::Error,
}

#[derive(Debug, Clone, Copy)]
struct Shape {
    arch: &'static str,
    name: &'static str,
    n_layer: u64,
    n_embd: u64,
    n_head: u64,
    n_head_kv: u64,
    n_ff: u64,
    n_vocab: u64,
    n_ctx_train: u32,
    rope_base: f32,
    rms_eps: f32,
    tied: bool,
    qkv_bias: bool,
}

impl Preset {
    fn shape(self) -> Shape {
        match self {
            Preset::Tiny => Shape {
                arch: "llama",
                name: "tollgate-tiny",
                n_layer: 2,
                n_embd: 64,
                n_head: 4,
                n_head_kv: 2,
                n_ff: 128,
                n_vocab: 1024,
                n_ctx_train: 4096,
                rope_base: 10_000.0,
                rms_eps: 1e-5,
                tied: false,
                qkv_bias: false,
            },
            Preset::Qwen25_05b => Shape {
                arch: "qwen2",
                name: "tollgate-random-qwen2.5-0.5b-shape",
                n_layer: 24,
                n_embd: 896,
                n_head: 14,
                n_head_kv: 2,
                n_ff: 4864,
                n_vocab: 151_936,
                n_ctx_train: 32_768,
                rope_base: 1_000_000.0,
                rms_eps: 1e-6,
                tied: true,
                qkv_bias: true,
            },
        }
    }
}

/// Logit the output rows of byte and special tokens produce with an untied output matrix:
/// far below any text piece, yet within reach of a `logit_bias` of 100.
const UNTIED_BANNED: f32 = -25.0;
/// With tied embeddings the same row is input and output, so the banned rows hold `-TIED_BANNED`
/// in dimension 0 and layer 0 writes `2 * TIED_BANNED` there, keeping it positive after any input.
const TIED_BANNED: f32 = 8.0;

/// Writes a model with seeded random weights to `out`, through a temporary file renamed into
/// place, so a crash never leaves half a model under the final name.
pub fn synth(
    preset: Preset,
    ty: WeightType,
    seed: u64,
    out: &Path,
) -> Result<SynthReport, SynthError> {
    let err = |source| SynthError {
        path: out.display().to_string(),
        source,
    };
    let shape = preset.shape();
    let vocab = vocab::build(shape.n_vocab as usize);
    let mut w = GgufWriter::new();
    metadata(&mut w, &shape, ty, vocab);
    tensors(&mut w, &shape, ty, seed).map_err(err)?;

    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(err)?;
    let file_name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model.gguf".into());
    let tmp = dir.join(format!(".{file_name}.{}.partial", std::process::id()));
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut bw = BufWriter::with_capacity(1 << 20, file);
        let bytes = w.write_to(&mut bw)?;
        let file = bw.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, out)?;
        Ok(bytes)
    })();
    let bytes = match result {
        Ok(b) => b,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(err(e));
        }
    };
    Ok(SynthReport {
        path: out.to_path_buf(),
        bytes,
        n_params: w.n_params(),
        n_tensors: n_tensors(&shape),
        n_vocab: shape.n_vocab as u32,
    })
}

/// Generates the tiny demo model into `cache_dir` unless a valid one is already there, and
/// returns its path. The gateway calls this on first start when no real model is configured.
pub fn ensure_demo_model(cache_dir: &Path) -> Result<PathBuf, SynthError> {
    let path = cache_dir.join(DEMO_MODEL_FILE);
    if crate::gguf::check_file(&path).is_ok() {
        return Ok(path);
    }
    synth(Preset::Tiny, WeightType::Q8_0, 0x7011_6a7e, &path)?;
    Ok(path)
}

fn n_tensors(s: &Shape) -> usize {
    let per_layer = if s.qkv_bias { 12 } else { 9 };
    let top = if s.tied { 2 } else { 3 };
    top + per_layer * s.n_layer as usize
}

fn metadata(w: &mut GgufWriter<'_>, s: &Shape, ty: WeightType, v: vocab::Vocab) {
    let a = s.arch;
    let u = |x: u64| MetaValue::U32(x as u32);
    w.meta("general.architecture", MetaValue::Str(a.into()))
        .meta("general.name", MetaValue::Str(s.name.into()))
        .meta("general.file_type", MetaValue::U32(ty.file_type()))
        .meta("general.quantization_version", MetaValue::U32(2))
        .meta(format!("{a}.vocab_size"), u(s.n_vocab))
        .meta(format!("{a}.context_length"), MetaValue::U32(s.n_ctx_train))
        .meta(format!("{a}.embedding_length"), u(s.n_embd))
        .meta(format!("{a}.block_count"), u(s.n_layer))
        .meta(format!("{a}.feed_forward_length"), u(s.n_ff))
        .meta(format!("{a}.attention.head_count"), u(s.n_head))
        .meta(format!("{a}.attention.head_count_kv"), u(s.n_head_kv))
        .meta(
            format!("{a}.attention.layer_norm_rms_epsilon"),
            MetaValue::F32(s.rms_eps),
        )
        .meta(format!("{a}.rope.dimension_count"), u(s.n_embd / s.n_head))
        .meta(format!("{a}.rope.freq_base"), MetaValue::F32(s.rope_base))
        .meta("tokenizer.ggml.model", MetaValue::Str("llama".into()))
        .meta("tokenizer.ggml.tokens", MetaValue::StrArray(v.tokens))
        .meta("tokenizer.ggml.scores", MetaValue::F32Array(v.scores))
        .meta("tokenizer.ggml.token_type", MetaValue::I32Array(v.types))
        .meta(
            "tokenizer.ggml.unknown_token_id",
            MetaValue::U32(vocab::UNK),
        )
        .meta("tokenizer.ggml.bos_token_id", MetaValue::U32(vocab::BOS))
        .meta("tokenizer.ggml.eos_token_id", MetaValue::U32(vocab::EOS))
        .meta(
            "tokenizer.ggml.padding_token_id",
            MetaValue::U32(vocab::UNK),
        )
        .meta("tokenizer.ggml.add_bos_token", MetaValue::Bool(false))
        .meta("tokenizer.ggml.add_eos_token", MetaValue::Bool(false))
        .meta("tokenizer.ggml.add_space_prefix", MetaValue::Bool(false))
        .meta(
            "tokenizer.chat_template",
            MetaValue::Str(CHATML_TEMPLATE.into()),
        );
}

/// SplitMix64: tiny, fast, and good enough for weights nobody trains.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut r = Rng(seed);
        r.next();
        r
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fills `out` with uniform values of standard deviation `std`.
    fn fill_uniform(&mut self, out: &mut [f32], std: f32) {
        let a = std * 3f32.sqrt();
        for chunk in out.chunks_mut(2) {
            let x = self.next();
            for (i, v) in chunk.iter_mut().enumerate() {
                let bits = (x >> (32 * i)) as u32 >> 8;
                *v = (bits as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * a;
            }
        }
    }
}

fn stream_seed(seed: u64, name: &str) -> u64 {
    // FNV-1a of the tensor name, mixed with the model seed: each tensor's values depend only
    // on (seed, name, row), never on generation order.
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed.wrapping_mul(0x1000_0000_01b3);
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x1000_0000_01b3);
    }
    h
}

/// How a random matrix is shaped around the reserved dimension 0.
#[derive(Debug, Clone, Copy, Default)]
struct Special {
    /// Reads the residual stream: column 0 is zero so no layer sees the constant.
    zero_col0: bool,
    /// Writes the residual stream: row 0 is zero so no layer disturbs the constant...
    zero_row0: bool,
    /// ...except layer 0's attention output in tied models, which writes this into it.
    row0_col0: Option<f32>,
}

fn random<'a>(
    name: String,
    rows: u64,
    cols: u64,
    ty: TensorType,
    std: f32,
    seed: u64,
    sp: Special,
) -> TensorData<'a> {
    let s = stream_seed(seed, &name);
    TensorData {
        name,
        rows,
        cols,
        ty,
        fill: Box::new(move |r: u64, row: &mut [f32]| {
            if r == 0 && (sp.zero_row0 || sp.row0_col0.is_some()) {
                if let Some(v) = sp.row0_col0 {
                    row[0] = v;
                }
                return;
            }
            Rng::new(s ^ r.wrapping_mul(0xD1B5_4A32_D192_ED03)).fill_uniform(row, std);
            if sp.zero_col0 {
                row[0] = 0.0;
            }
        }),
    }
}

fn constant<'a>(name: String, n: u64, value: f32, first: Option<f32>) -> TensorData<'a> {
    TensorData {
        name,
        rows: 1,
        cols: n,
        ty: TensorType::F32,
        fill: Box::new(move |_: u64, row: &mut [f32]| {
            row.fill(value);
            if let Some(f) = first {
                row[0] = f;
            }
        }),
    }
}

fn tensors(w: &mut GgufWriter<'_>, s: &Shape, ty: WeightType, seed: u64) -> std::io::Result<()> {
    let t = ty.tensor_type();
    let (e, v, ff) = (s.n_embd, s.n_vocab, s.n_ff);
    let hd = e / s.n_head;
    let (q_dim, kv_dim) = (s.n_head * hd, s.n_head_kv * hd);
    let inv = |n: u64| 1.0 / (n as f32).sqrt();
    let residual = inv(2 * s.n_layer);
    let banned = |id: u64| id < u64::from(vocab::FIRST_TEXT);

    // Token embeddings: dimension 0 is the reserved constant.
    let embd_seed = stream_seed(seed, "token_embd.weight");
    let tied = s.tied;
    let emb_std = inv(e);
    w.tensor(TensorData {
        name: "token_embd.weight".into(),
        rows: v,
        cols: e,
        ty: t,
        fill: Box::new(move |r: u64, row: &mut [f32]| {
            if tied && banned(r) {
                row[0] = -TIED_BANNED;
                return;
            }
            Rng::new(embd_seed ^ r.wrapping_mul(0xD1B5_4A32_D192_ED03)).fill_uniform(row, emb_std);
            row[0] = if tied { 0.0 } else { 1.0 };
        }),
    })?;
    w.tensor(constant("output_norm.weight".into(), e, 1.0, None))?;
    if !tied {
        let out_seed = stream_seed(seed, "output.weight");
        w.tensor(TensorData {
            name: "output.weight".into(),
            rows: v,
            cols: e,
            ty: t,
            fill: Box::new(move |r: u64, row: &mut [f32]| {
                if banned(r) {
                    row[0] = UNTIED_BANNED;
                    return;
                }
                Rng::new(out_seed ^ r.wrapping_mul(0xD1B5_4A32_D192_ED03))
                    .fill_uniform(row, emb_std);
                row[0] = 0.0;
            }),
        })?;
    }

    let reads = Special {
        zero_col0: true,
        ..Special::default()
    };
    let writes = Special {
        zero_row0: true,
        ..Special::default()
    };
    for l in 0..s.n_layer {
        let p = |n: &str| format!("blk.{l}.{n}");
        // In tied models layer 0 turns a constant value (bias of V row 0) into dimension 0.
        let lift = tied && l == 0;
        w.tensor(constant(p("attn_norm.weight"), e, 1.0, None))?;
        w.tensor(random(p("attn_q.weight"), q_dim, e, t, inv(e), seed, reads))?;
        w.tensor(random(
            p("attn_k.weight"),
            kv_dim,
            e,
            t,
            inv(e),
            seed,
            reads,
        ))?;
        let v_sp = Special {
            zero_col0: true,
            zero_row0: lift,
            row0_col0: None,
        };
        w.tensor(random(p("attn_v.weight"), kv_dim, e, t, inv(e), seed, v_sp))?;
        if s.qkv_bias {
            w.tensor(constant(p("attn_q.bias"), q_dim, 0.0, None))?;
            w.tensor(constant(p("attn_k.bias"), kv_dim, 0.0, None))?;
            let first = lift.then_some(1.0);
            w.tensor(constant(p("attn_v.bias"), kv_dim, 0.0, first))?;
        }
        let o_sp = Special {
            zero_col0: false,
            zero_row0: true,
            row0_col0: lift.then_some(2.0 * TIED_BANNED),
        };
        w.tensor(random(
            p("attn_output.weight"),
            e,
            q_dim,
            t,
            inv(q_dim) * residual,
            seed,
            o_sp,
        ))?;
        w.tensor(constant(p("ffn_norm.weight"), e, 1.0, None))?;
        w.tensor(random(p("ffn_gate.weight"), ff, e, t, inv(e), seed, reads))?;
        w.tensor(random(p("ffn_up.weight"), ff, e, t, inv(e), seed, reads))?;
        w.tensor(random(
            p("ffn_down.weight"),
            e,
            ff,
            t,
            inv(ff) * residual,
            seed,
            writes,
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::check_file;

    #[test]
    fn presets_and_types_parse_from_their_cli_names() {
        assert_eq!("tiny".parse::<Preset>(), Ok(Preset::Tiny));
        assert_eq!("qwen2.5-0.5b".parse::<Preset>(), Ok(Preset::Qwen25_05b));
        assert!("big".parse::<Preset>().is_err());
        for ty in ["f32", "f16", "q8_0"] {
            assert_eq!(ty.parse::<WeightType>().unwrap().to_string(), ty);
        }
        assert!("q4_0".parse::<WeightType>().is_err());
    }

    #[test]
    fn tiny_model_is_small_valid_and_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.gguf");
        let b = dir.path().join("b.gguf");
        let r = synth(Preset::Tiny, WeightType::Q8_0, 7, &a).unwrap();
        synth(Preset::Tiny, WeightType::Q8_0, 7, &b).unwrap();
        assert!(r.bytes < 1_000_000, "{} bytes", r.bytes);
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let sum = check_file(&a).unwrap();
        assert_eq!(sum.version, 3);
        assert_eq!(sum.tensor_count as usize, r.n_tensors);
        assert_eq!(sum.required_len, sum.file_len);
        assert_eq!(sum.architecture.as_deref(), Some("llama"));
        assert!(sum.has_chat_template);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary file is left behind");
    }

    #[test]
    fn demo_model_is_generated_once_and_replaced_when_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let path = ensure_demo_model(&cache).unwrap();
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(ensure_demo_model(&cache).unwrap(), path);
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            modified
        );
        std::fs::write(&path, b"GGUF").unwrap();
        ensure_demo_model(&cache).unwrap();
        check_file(&path).unwrap();
    }

    #[test]
    fn qwen_shape_has_the_published_parameter_count() {
        let s = Preset::Qwen25_05b.shape();
        let mut w = GgufWriter::new();
        tensors(&mut w, &s, WeightType::Q8_0, 1).unwrap();
        assert_eq!(w.n_params(), 494_032_768);
        assert_eq!(n_tensors(&s), 2 + 12 * 24);
    }
}
