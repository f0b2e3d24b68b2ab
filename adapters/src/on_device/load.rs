//! Why a model could not be loaded, llama.cpp's process-wide state, and the file's digest.

use crate::gguf::GgufError;
use llama_cpp_2::llama_backend::LlamaBackend;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

/// Why an on-device model could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The configuration is unusable.
    #[error("on-device backend {name:?}: {message}")]
    Config {
        /// Backend name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The model file does not exist.
    #[error("on-device backend {name:?}: model file {path} does not exist")]
    Missing {
        /// Backend name.
        name: String,
        /// The configured path.
        path: String,
    },
    /// The model file could not be read.
    #[error("on-device backend {name:?}: cannot read model file {path}: {source}")]
    Io {
        /// Backend name.
        name: String,
        /// The configured path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file's SHA-256 is not the configured one.
    #[error(
        "on-device backend {name:?}: model file {path} has SHA-256 {actual}, but the \
         configuration expects {expected}; refusing to load it"
    )]
    Sha256Mismatch {
        /// Backend name.
        name: String,
        /// The configured path.
        path: String,
        /// The configured digest.
        expected: String,
        /// The file's digest.
        actual: String,
    },
    /// The file is truncated or not a valid GGUF model.
    #[error("on-device backend {name:?}: {source}")]
    Gguf {
        /// Backend name.
        name: String,
        /// What the header check found.
        source: GgufError,
    },
    /// llama.cpp refused the model or could not set up the engine.
    #[error("on-device backend {name:?}: {message}")]
    Engine {
        /// Backend name.
        name: String,
        /// What failed.
        message: String,
    },
}

/// llama.cpp's process-wide state: initialised once, shared by every engine.
static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

pub(super) fn backend(llama_logs: bool) -> Result<&'static LlamaBackend, String> {
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(
                llama_cpp_2::LogOptions::default().with_logs_enabled(llama_logs),
            );
            LlamaBackend::init().map_err(|e| format!("llama.cpp backend: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// SHA-256 of a file as lowercase hex, read in 1 MiB blocks.
pub(super) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
