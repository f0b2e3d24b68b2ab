//! Live reload: `SIGHUP`, or `POST /reload` on the admin listener (`tollgate reload`), loads
//! the config file again and swaps the gateway new requests get.
//!
//! Each request takes the current [`Gateway`] when it starts and keeps it to its end, so a
//! request in flight finishes on the config it started with; no connection is dropped. A file
//! that does not load or check is refused with every error and its path logged, and the
//! running config stays; `tollgate_config_reloads_total{result}` counts both outcomes.

use crate::config;
use crate::config::env::ProcessEnv;
use crate::gateway::Gateway;
use parking_lot::{Mutex, RwLock};
use std::path::PathBuf;
use std::sync::Arc;

/// The gateway new requests get, and where its config comes from.
#[derive(Debug)]
pub struct Live {
    current: RwLock<Arc<Gateway>>,
    path: PathBuf,
    /// One reload at a time: two at once could apply the older file last.
    reloading: Mutex<()>,
}

/// What a reload did.
#[derive(Debug)]
pub enum Reloaded {
    /// The new config serves; these changes need a restart.
    Applied(Vec<String>),
    /// The file was refused (every error, with its path); the running config stays.
    Refused(String),
}

impl Live {
    /// `gw`, whose config was loaded from `path`.
    pub fn new(gw: Arc<Gateway>, path: PathBuf) -> Arc<Live> {
        Arc::new(Live {
            current: RwLock::new(gw),
            path,
            reloading: Mutex::new(()),
        })
    }

    /// The gateway a request starting now gets.
    pub fn current(&self) -> Arc<Gateway> {
        Arc::clone(&self.current.read())
    }

    /// Loads the config file again and, if it is valid, serves it from now on. Blocking (it
    /// reads files, commits the ledger, may load models): call it off the server's threads.
    pub fn reload(&self) -> Reloaded {
        let _one = self.reloading.lock();
        let old = self.current();
        let metrics = Arc::clone(old.meter.metering().metrics());
        let built = config::load(&self.path)
            .map_err(|errors| errors.to_string())
            .and_then(|mut cfg| {
                // The connection cap was fitted to the open-file limit at start; keep it.
                cfg.server.connections = old.config.server.connections;
                old.reload(cfg, &ProcessEnv)
            });
        match built {
            Ok((gw, warnings)) => {
                for w in gw.config.warnings.iter().chain(&warnings) {
                    tracing::warn!("{w}");
                }
                *self.current.write() = Arc::new(gw);
                metrics.reloaded(true);
                tracing::info!(path = %self.path.display(), "config reloaded");
                Reloaded::Applied(warnings)
            }
            Err(errors) => {
                metrics.reloaded(false);
                tracing::error!(
                    path = %self.path.display(),
                    "config reload refused; the running config stays:\n{errors}"
                );
                Reloaded::Refused(format!(
                    "invalid configuration in {}:\n{errors}",
                    self.path.display()
                ))
            }
        }
    }

    /// Reloads on every `SIGHUP` for as long as the process runs (spawn it on the server's
    /// runtime).
    pub async fn on_hangup(self: Arc<Self>) {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGHUP: reload through the admin listener");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            let live = Arc::clone(&self);
            let _ = tokio::task::spawn_blocking(move || live.reload()).await;
        }
    }
}
