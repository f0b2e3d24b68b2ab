//! Configuration of one on-device backend, as the gateway embeds it in its TOML.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One on-device model and how the engine runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnDeviceConfig {
    /// The GGUF file. It is memory-mapped, not read into memory.
    pub path: PathBuf,
    /// Expected SHA-256 of the file (64 hex digits). When set, a mismatch refuses to start:
    /// model files are a supply-chain risk.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Context window of each sequence in tokens: prompt plus completion.
    #[serde(default = "default_n_ctx")]
    pub n_ctx: u32,
    /// CPU threads llama.cpp uses for decoding.
    #[serde(default = "default_n_threads")]
    pub n_threads: u32,
    /// Sequences decoded together in one batch (each has its own KV-cache slot).
    #[serde(default = "default_n_parallel")]
    pub n_parallel: u32,
    /// Requests that may wait for a free sequence; past this the backend answers 429.
    #[serde(default = "default_queue")]
    pub queue: u32,
    /// Most tokens submitted to one decode call; long prompts are fed in chunks of this size
    /// so they do not stall sequences that are generating.
    #[serde(default = "default_n_batch")]
    pub n_batch: u32,
    /// Tokens llama.cpp computes in one pass (prefill is split into passes of this size);
    /// its compute buffers grow with it. Default: `n_batch`, at most 512.
    #[serde(default)]
    pub n_ubatch: Option<u32>,
    /// A chat template to use instead of the model's `tokenizer.chat_template` (for models
    /// that have none): a llama.cpp template name such as `chatml`, or a template text.
    #[serde(default)]
    pub chat_template: Option<String>,
    /// llama.cpp's flash attention. Greedy answers can differ between on and off where two
    /// tokens are nearly tied, so `off` matches a reference run with it off (llama-cpp-python's
    /// default).
    #[serde(default)]
    pub flash_attn: FlashAttn,
    /// Send llama.cpp's own log lines to `tracing` instead of discarding them. The first
    /// engine loaded in a process decides.
    #[serde(default)]
    pub llama_logs: bool,
}

/// Whether llama.cpp computes attention with its fused flash-attention kernels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlashAttn {
    /// llama.cpp decides (on where its backend supports it, as on CPUs): its own default.
    #[default]
    Auto,
    /// Always.
    On,
    /// Never.
    Off,
}

fn default_n_ctx() -> u32 {
    4096
}

fn default_n_threads() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
}

fn default_n_parallel() -> u32 {
    4
}

fn default_queue() -> u32 {
    16
}

fn default_n_batch() -> u32 {
    512
}

impl OnDeviceConfig {
    /// Tokens per llama.cpp compute pass.
    pub fn ubatch(&self) -> u32 {
        self.n_ubatch.unwrap_or(self.n_batch.min(512))
    }

    /// The defaults for the model at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        OnDeviceConfig {
            path: path.into(),
            sha256: None,
            n_ctx: default_n_ctx(),
            n_threads: default_n_threads(),
            n_parallel: default_n_parallel(),
            queue: default_queue(),
            n_batch: default_n_batch(),
            n_ubatch: None,
            chat_template: None,
            flash_attn: FlashAttn::Auto,
            llama_logs: false,
        }
    }

    /// Checks the numbers; the message names the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.n_ctx < 16 {
            return Err(format!("n_ctx must be at least 16, not {}", self.n_ctx));
        }
        if self.n_ctx > 1 << 20 {
            return Err(format!("n_ctx {} is larger than 1048576", self.n_ctx));
        }
        if !(1..=256).contains(&self.n_threads) {
            return Err(format!("n_threads must be 1..=256, not {}", self.n_threads));
        }
        if !(1..=64).contains(&self.n_parallel) {
            return Err(format!(
                "n_parallel must be 1..=64, not {}",
                self.n_parallel
            ));
        }
        if let Some(u) = self.n_ubatch.filter(|u| !(1..=self.n_batch).contains(u)) {
            return Err(format!(
                "n_ubatch must be 1..=n_batch ({}), not {u}",
                self.n_batch
            ));
        }
        if !(16..=1 << 16).contains(&self.n_batch) {
            return Err(format!("n_batch must be 16..=65536, not {}", self.n_batch));
        }
        if self.n_batch < self.n_parallel {
            return Err(format!(
                "n_batch ({}) must be at least n_parallel ({}): every sequence needs a place in \
                 each decode step",
                self.n_batch, self.n_parallel
            ));
        }
        if let Some(h) = &self.sha256 {
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("sha256 must be 64 hex digits, not {h:?}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_missing_fields_and_unknown_fields_are_refused() {
        let cfg: OnDeviceConfig =
            serde_json::from_str(r#"{"path":"m.gguf","n_parallel":2}"#).unwrap();
        assert_eq!(cfg.n_parallel, 2);
        assert_eq!(cfg.n_ctx, 4096);
        assert_eq!(cfg.queue, 16);
        assert!(cfg.sha256.is_none());
        cfg.validate().unwrap();
        let err = serde_json::from_str::<OnDeviceConfig>(r#"{"path":"m","n_ctxx":1}"#).unwrap_err();
        assert!(err.to_string().contains("n_ctxx"), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let mut cfg = OnDeviceConfig::new("m");
        cfg.sha256 = Some("abc".into());
        assert!(cfg.validate().unwrap_err().contains("sha256"));
        let mut cfg = OnDeviceConfig::new("m");
        cfg.n_parallel = 0;
        assert!(cfg.validate().unwrap_err().contains("n_parallel"));
    }
}
