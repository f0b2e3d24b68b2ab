//! One slot per configured backend: its live client or engine, its passive health and the
//! requests in flight on it, kept together so nothing has to stay "at the same index" by hand.

use crate::config::env::EnvSource;
use crate::config::raw::BackendKind;
use crate::config::Backend as BackendConfig;
use crate::health::Health;
use parking_lot::Mutex;
use std::time::{Duration, Instant};
use tollgate_adapters::anthropic::{self, Anthropic, AnthropicConfig};
use tollgate_adapters::gemini::{Gemini, GeminiConfig};
use tollgate_adapters::on_device::OnDevice;
use tollgate_adapters::openai_compat::{AzureConfig, OpenAiCompat, OpenAiCompatConfig};
use tollgate_adapters::synth;
use tollgate_adapters::upstream::{Credential, UpstreamConfig};
use tollgate_adapters::Backend;

/// A backend at run time, at the index of its config in `config.backends`.
#[derive(Debug)]
pub struct BackendSlot {
    /// The client or engine; `None` in an offline gateway (`explain`, `models`), which never
    /// dispatches.
    pub live: Option<Backend>,
    /// Passive health, fed by every attempt.
    pub health: Health,
    /// Requests in flight and busy time, for a backend priced by the hour.
    busy: Mutex<BusyClock>,
    /// The concurrency limit of an HTTP backend that has one.
    pub limit: Option<crate::limits::Limiter>,
}

/// A backend's requests in flight and the time during which there was at least one: its busy
/// time, the rest being idle (see `crate::idle`). Behind a lock, because "the last one left"
/// and "the first one came" must be seen in order to add up the right intervals.
#[derive(Debug, Default)]
struct BusyClock {
    inflight: i64,
    since: Option<Instant>,
    total: Duration,
}

impl BusyClock {
    /// One more in flight; returns how many now.
    fn enter(&mut self, now: Instant) -> i64 {
        if self.inflight == 0 {
            self.since = Some(now);
        }
        self.inflight += 1;
        self.inflight
    }

    /// One fewer in flight; returns how many were before.
    fn leave(&mut self, now: Instant) -> i64 {
        let before = self.inflight;
        self.inflight = (before - 1).max(0);
        if self.inflight == 0 {
            if let Some(since) = self.since.take() {
                self.total += now.saturating_duration_since(since);
            }
        }
        before
    }

    fn total_at(&self, now: Instant) -> Duration {
        self.total
            + self
                .since
                .map_or(Duration::ZERO, |s| now.saturating_duration_since(s))
    }
}

/// The start of an attempt on a backend priced by the hour, for its share of busy time.
#[derive(Debug, Clone, Copy)]
pub struct BusyProbe {
    /// The backend's index.
    pub backend: usize,
    started: Instant,
    concurrency: i64,
}

impl BackendSlot {
    /// With a concurrency limit, when the backend has one.
    pub fn limited(mut self, limit: Option<crate::config::Concurrency>) -> BackendSlot {
        self.limit = limit.map(crate::limits::Limiter::new);
        self
    }

    /// A slot around a built backend (or none, offline).
    pub fn new(live: Option<Backend>) -> BackendSlot {
        BackendSlot {
            live,
            health: Health::default(),
            busy: Mutex::new(BusyClock::default()),
            limit: None,
        }
    }

    /// Notes an attempt starting on this backend (index `backend`).
    pub fn begin_busy(&self, backend: usize) -> BusyProbe {
        let started = Instant::now();
        let concurrency = self.busy.lock().enter(started);
        BusyProbe {
            backend,
            started,
            concurrency,
        }
    }

    /// Ends an attempt that [`BackendSlot::begin_busy`] started without charging it (it failed
    /// and the next candidate is tried). Its time still counts as the backend's busy time.
    pub fn abandon_busy(&self) {
        self.busy.lock().leave(Instant::now());
    }

    /// This request's share of the backend's busy time: the attempt's wall time divided by the
    /// mean number of requests in flight on it at the attempt's start and end.
    pub fn busy_time(&self, probe: BusyProbe) -> Duration {
        let now_inflight = self.busy.lock().leave(Instant::now());
        let mean = (probe.concurrency + now_inflight).max(2) as f64 / 2.0;
        tollgate_metering::busy_share(probe.started.elapsed(), mean)
    }

    /// Time so far during which at least one request was in flight on this backend (only
    /// counted for backends priced by the hour, the only ones [`BackendSlot::begin_busy`] is
    /// called for); it includes the interval still open.
    pub fn busy_total(&self) -> Duration {
        self.busy.lock().total_at(Instant::now())
    }
}

/// Builds the live backend of one config entry.
pub fn build_backend(b: &BackendConfig, env: &dyn EnvSource) -> Result<Backend, String> {
    let at = |e: String| format!("backends.{}: {e}", b.name);
    let base_url = b.base_url.clone().unwrap_or_default();
    match b.kind {
        BackendKind::Openai => OpenAiCompat::new(OpenAiCompatConfig {
            base_url,
            azure: None,
            upstream: upstream_config(b, env, "authorization", |k| format!("Bearer {k}")),
        })
        .map(Backend::OpenAiCompat)
        .map_err(at),
        BackendKind::AzureOpenai => OpenAiCompat::new(OpenAiCompatConfig {
            base_url,
            azure: Some(AzureConfig {
                api_version: b.api_version.clone().unwrap_or_default(),
                deployments: b
                    .models
                    .iter()
                    .map(|m| (m.name.clone(), m.deployment.clone()))
                    .collect(),
            }),
            upstream: upstream_config(b, env, "api-key", str::to_string),
        })
        .map(Backend::OpenAiCompat)
        .map_err(at),
        BackendKind::Anthropic => Anthropic::new(AnthropicConfig {
            base_url,
            version: b
                .api_version
                .clone()
                .unwrap_or_else(|| anthropic::DEFAULT_VERSION.to_string()),
            beta: b.beta.clone(),
            default_max_tokens: b.max_tokens.unwrap_or(anthropic::DEFAULT_MAX_TOKENS),
            upstream: upstream_config(b, env, "x-api-key", str::to_string),
        })
        .map(Backend::Anthropic)
        .map_err(at),
        BackendKind::Gemini => Gemini::new(GeminiConfig {
            base_url,
            upstream: upstream_config(b, env, "x-goog-api-key", str::to_string),
        })
        .map(Backend::Gemini)
        .map_err(at),
        BackendKind::OnDevice => {
            let Some((engine, demo)) = &b.engine else {
                return Err(format!("backends.{}: no engine settings", b.name));
            };
            if *demo {
                let dir = engine
                    .path
                    .parent()
                    .unwrap_or_else(|| std::path::Path::new("."));
                let path = synth::ensure_demo_model(dir)
                    .map_err(|e| format!("backends.{}: {e}", b.name))?;
                tracing::warn!(
                    backend = %b.name,
                    path = %path.display(),
                    "no model configured: serving a generated demo model with RANDOM weights; it proves \
                     the path, not the answers (set [backends.{}.engine] path to a real GGUF)",
                    b.name
                );
            }
            let started = std::time::Instant::now();
            let engine = OnDevice::load(&b.name, engine).map_err(|e| e.to_string())?;
            tracing::info!(
                backend = %b.name,
                n_ctx = engine.n_ctx(),
                load_ms = started.elapsed().as_millis() as u64,
                "on-device model loaded"
            );
            Ok(Backend::OnDevice(engine))
        }
    }
}

/// Credentials, headers and timeouts of an HTTP backend: the key read from its variable and
/// put in the kind's own header, or the variable's name when it is unset.
fn upstream_config(
    b: &BackendConfig,
    env: &dyn EnvSource,
    header: &'static str,
    value: impl Fn(&str) -> String,
) -> UpstreamConfig {
    let (credential, missing_key_env) = match &b.api_key_env {
        Some(var) => match env.var(var) {
            Some(key) if !key.is_empty() => (
                Some(Credential {
                    header,
                    value: value(&key),
                }),
                None,
            ),
            _ => (None, Some(var.clone())),
        },
        None => (None, None),
    };
    UpstreamConfig {
        name: b.name.clone(),
        credential,
        missing_key_env,
        headers: b.headers.clone(),
        timeouts: b.timeouts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_counts_overlapping_requests_once() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut c = BusyClock::default();
        assert_eq!(c.enter(at(0)), 1);
        assert_eq!(c.enter(at(100)), 2);
        assert_eq!(c.leave(at(300)), 2);
        assert_eq!(
            c.total_at(at(350)),
            Duration::from_millis(350),
            "still open"
        );
        assert_eq!(c.leave(at(400)), 1);
        // Idle from 400 to 1000, then busy again for 50.
        c.enter(at(1000));
        c.leave(at(1050));
        assert_eq!(c.total_at(at(2000)), Duration::from_millis(450));
        // An extra leave (never entered) cannot go below zero or add time.
        c.leave(at(3000));
        assert_eq!(c.total_at(at(4000)), Duration::from_millis(450));
    }
}
