//! The gateway's state: the checked config, one live backend per configured backend, and the
//! key index that authentication reads.

use crate::config::raw::BackendKind;
use crate::config::{Backend as BackendConfig, Config};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tollgate_adapters::openai_compat::{OpenAiCompat, OpenAiCompatConfig};
use tollgate_adapters::Backend;

/// Everything a request needs, shared by every worker.
#[derive(Debug)]
pub struct Gateway {
    /// The checked configuration.
    pub config: Config,
    /// Live backends, at the same indexes as `config.backends`.
    pub backends: Vec<Backend>,
    /// SHA-256 of each API key → tenant index.
    keys: HashMap<[u8; 32], usize>,
    /// Set once the listeners accept connections.
    ready: AtomicBool,
    id_prefix: String,
    next_id: AtomicU64,
    /// Metrics, ledger and budgets.
    pub meter: crate::pipeline::meter::Meter,
}

impl Gateway {
    /// Builds the live backends and the key index from a checked config.
    pub fn build(config: Config) -> Result<Gateway, String> {
        let backends = config
            .backends
            .iter()
            .map(build_backend)
            .collect::<Result<Vec<_>, _>>()?;
        let mut keys = HashMap::new();
        for (i, t) in config.tenants.iter().enumerate() {
            for d in &t.key_digests {
                keys.insert(*d, i);
            }
            if let Some(key) = t.api_key_env.as_deref().and_then(|v| std::env::var(v).ok()) {
                keys.insert(digest(key.as_bytes()), i);
            }
        }
        let id_prefix = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        let meter = crate::pipeline::meter::Meter::open(&config)?;
        Ok(Gateway {
            config,
            backends,
            keys,
            ready: AtomicBool::new(false),
            id_prefix,
            next_id: AtomicU64::new(1),
            meter,
        })
    }

    /// The tenant index a key belongs to.
    pub fn tenant_for_key(&self, key: &[u8]) -> Option<usize> {
        self.keys.get(&digest(key)).copied()
    }

    /// Whether requests are authenticated at all.
    pub fn auth_enabled(&self) -> bool {
        !self.config.tenants.is_empty()
    }

    /// A new request id, unique within this process and very likely across processes.
    pub fn next_request_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("req_{}{n:010x}", self.id_prefix)
    }

    /// Marks the listeners as accepting.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Whether the listeners accept connections.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// SHA-256 of an API key.
pub fn digest(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

fn build_backend(b: &BackendConfig) -> Result<Backend, String> {
    match b.kind {
        BackendKind::Openai => {
            let (api_key, missing_key_env) = match &b.api_key_env {
                Some(var) => match std::env::var(var) {
                    Ok(key) if !key.is_empty() => (Some(key), None),
                    _ => (None, Some(var.clone())),
                },
                None => (None, None),
            };
            let cfg = OpenAiCompatConfig {
                name: b.name.clone(),
                base_url: b.base_url.clone().unwrap_or_default(),
                api_key,
                missing_key_env,
                headers: b.headers.clone(),
                timeouts: b.timeouts,
            };
            OpenAiCompat::new(cfg)
                .map(Backend::OpenAiCompat)
                .map_err(|e| format!("backends.{}: {e}", b.name))
        }
    }
}
