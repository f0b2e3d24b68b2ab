//! The gateway's state: the checked config, one live backend per configured backend, and the
//! key index that authentication reads.
//!
//! A reload builds a new `Gateway` from a new config (see `crate::live`): requests hold the
//! one they started with to their end. What must outlive a config is shared between the two:
//! the requests in flight, the body allowance, readiness, the idle accounting, unchanged
//! backends (their connections, health and on-device engines), and through the metering, the
//! metrics, the ledger and the shared state.

use crate::backends::{build_backend, BackendSlot};
use crate::config::env::{EnvSource, ProcessEnv};
use crate::config::Config;
use crate::policy::Policy;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tollgate_adapters::Backend;

/// Everything a request needs, shared by every worker.
#[derive(Debug)]
pub struct Gateway {
    /// The checked configuration.
    pub config: Config,
    /// One slot per backend, at the index of its config in `config.backends` (shared with the
    /// next config when a reload keeps the backend as it is).
    pub backends: Vec<Arc<BackendSlot>>,
    /// What counts each model's tokens when its backend reports no usage.
    pub counters: crate::counting::Counters,
    /// Catalogue, checked routes and detector.
    pub policy: Policy,
    /// The instant health deadlines are measured from.
    pub epoch: Instant,
    /// SHA-256 of each API key → tenant index.
    keys: HashMap<[u8; 32], usize>,
    /// Set once the listeners accept connections.
    ready: Arc<AtomicBool>,
    /// Set when the server starts shutting down.
    shutting_down: Arc<AtomicBool>,
    id_prefix: String,
    next_id: AtomicU64,
    /// Metrics, ledger and budgets.
    pub meter: crate::meter::Meter,
    /// Requests in flight, for a shutdown that waits for them and then ends them.
    pub drain: Arc<crate::drain::Drain>,
    /// Idle time of the backends priced by the hour, while serving.
    pub idle: Arc<crate::idle::Idle>,
    /// The bytes of request bodies held at once.
    pub bodies: Arc<crate::limits::BodyBudget>,
}

/// What a config's gateway shares with the next one.
struct Lasting {
    ready: Arc<AtomicBool>,
    shutting_down: Arc<AtomicBool>,
    drain: Arc<crate::drain::Drain>,
    idle: Arc<crate::idle::Idle>,
    bodies: Arc<crate::limits::BodyBudget>,
}

impl Gateway {
    /// Builds the live backends and the key index from a checked config, reading the keys
    /// that `api_key_env` names from the process environment.
    pub fn build(config: Config) -> Result<Gateway, String> {
        Self::build_with(config, &ProcessEnv)
    }

    /// [`Gateway::build`] with keys read from `env`.
    pub fn build_with(config: Config, env: &dyn EnvSource) -> Result<Gateway, String> {
        if let Some(e) = crate::config::serving_errors(&config, env).first() {
            return Err(e.to_string());
        }
        let backends = config
            .backends
            .iter()
            .map(|b| {
                build_backend(b, env)
                    .map(|live| Arc::new(BackendSlot::new(Some(live)).limited(b.concurrency)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let counters = crate::counting::Counters::build(&config, env)?;
        let meter = crate::meter::Meter::open(&config)?;
        Self::assemble(config, (backends, counters), env, meter, None)
    }

    /// The gateway of a reloaded `config`, sharing with `self` what outlives a config (see the
    /// module's comment). Backends whose checked config is unchanged are kept as they are;
    /// others are built anew. Returns the changes that need a restart, as warnings.
    pub fn reload(
        &self,
        config: Config,
        env: &dyn EnvSource,
    ) -> Result<(Gateway, Vec<String>), String> {
        if let Some(e) = crate::config::serving_errors(&config, env).first() {
            return Err(e.to_string());
        }
        let backends = config
            .backends
            .iter()
            .map(|b| {
                // Compared by their checked form: any change of a key rebuilds the backend.
                let same = self
                    .config
                    .backends
                    .iter()
                    .position(|o| o.name == b.name && format!("{o:?}") == format!("{b:?}"));
                match same {
                    Some(i) => Ok(Arc::clone(&self.backends[i])),
                    None => build_backend(b, env)
                        .map(|live| Arc::new(BackendSlot::new(Some(live)).limited(b.concurrency))),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let counters = crate::counting::Counters::build(&config, env)?;
        let (meter, mut warnings) = self.meter.reconfigure(&self.config, &config)?;
        let (old, new) = (&self.config.server, &config.server);
        if old.listen != new.listen
            || old.admin_listen != new.admin_listen
            || old.threads != new.threads
            || format!("{:?}", old.connections) != format!("{:?}", new.connections)
        {
            warnings.push(
                "server: listeners, threads and connection limits take effect at the next start"
                    .to_string(),
            );
        }
        let lasting = Lasting {
            ready: Arc::clone(&self.ready),
            shutting_down: Arc::clone(&self.shutting_down),
            drain: Arc::clone(&self.drain),
            idle: Arc::clone(&self.idle),
            bodies: Arc::clone(&self.bodies),
        };
        let gw = Self::assemble(config, (backends, counters), env, meter, Some(lasting))?;
        Ok((gw, warnings))
    }

    /// The policy engine alone, for offline commands (`explain`, `models`): no backend is
    /// built (no HTTP client, no llama.cpp, no demo model written) and no ledger is opened.
    /// Nothing may dispatch through it: it has no live backends.
    pub fn offline(mut config: Config) -> Result<Gateway, String> {
        config.metering.ledger.enabled = false;
        let backends = config
            .backends
            .iter()
            .map(|_| Arc::new(BackendSlot::new(None)))
            .collect();
        let counters = crate::counting::Counters::default();
        let meter = crate::meter::Meter::open(&config)?;
        Self::assemble(config, (backends, counters), &ProcessEnv, meter, None)
    }

    fn assemble(
        config: Config,
        (backends, counters): (Vec<Arc<BackendSlot>>, crate::counting::Counters),
        env: &dyn EnvSource,
        meter: crate::meter::Meter,
        lasting: Option<Lasting>,
    ) -> Result<Gateway, String> {
        let mut keys = HashMap::new();
        for (i, t) in config.tenants.iter().enumerate() {
            for d in &t.key_digests {
                keys.insert(*d, i);
            }
            if let Some(key) = t.api_key_env.as_deref().and_then(|v| env.var(v)) {
                keys.insert(digest(key.as_bytes()), i);
            }
        }
        let id_prefix = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        // The `cheapest` strategy orders by the same offline price table that costs requests.
        let prices = &config.metering.prices.models;
        let today = crate::meter::now_ms();
        let policy = Policy::build(&config, |key| {
            prices
                .get(key)
                .and_then(|p| p.at(today))
                .map(|p| tollgate_policies::Price {
                    input_per_mtok: p.input_per_mtok,
                    output_per_mtok: p.output_per_mtok,
                })
        })?;
        let lasting = lasting.unwrap_or_else(|| Lasting {
            ready: Arc::default(),
            shutting_down: Arc::default(),
            drain: Arc::default(),
            idle: Arc::default(),
            bodies: Arc::new(crate::limits::BodyBudget::new(
                config.server.max_body_bytes_in_flight,
            )),
        });
        Ok(Gateway {
            backends,
            counters,
            policy,
            epoch: Instant::now(),
            config,
            keys,
            ready: lasting.ready,
            shutting_down: lasting.shutting_down,
            id_prefix,
            next_id: AtomicU64::new(1),
            drain: lasting.drain,
            idle: lasting.idle,
            bodies: lasting.bodies,
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

    /// Copies each on-device engine's queue depth and active sequences into the metrics; read
    /// at scrape time, so the engines' hot loops never touch the registry.
    pub fn refresh_engine_gauges(&self) {
        for (b, backend) in self.backends.iter().enumerate() {
            if let Some(Backend::OnDevice(engine)) = &backend.live {
                let stats = engine.stats();
                self.meter.metering().metrics().set_ondevice(
                    &self.config.backends[b].name,
                    stats.queued as i64,
                    stats.active_sequences as i64,
                );
            }
        }
    }

    /// What the idle accounting reads.
    pub fn idle_parts(&self) -> crate::idle::Parts<'_> {
        crate::idle::Parts {
            backends: &self.config.backends,
            slots: &self.backends,
            metering: self.meter.metering(),
        }
    }

    /// Marks the listeners as accepting.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Whether the listeners accept connections.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) && !self.is_shutting_down()
    }

    /// Notes that the server is shutting down: requests cut from now on are recorded as cut by
    /// the shutdown, and `/readyz` answers 503 so load balancers stop sending.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// Whether the server is shutting down.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

/// SHA-256 of an API key.
pub fn digest(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}
