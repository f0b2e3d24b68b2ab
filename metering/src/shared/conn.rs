//! The connection to Redis: its scripts on the state's own runtime, whether Redis is up, the
//! probe that waits for it to come back, and the names of the keys.

use super::parts::{ping, StateMetrics};
use crate::config::StateUnavailable;
use crate::window::{Period, Scope};
use redis::aio::ConnectionManager;
use redis::{FromRedisValue, RedisError, Script};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::{Handle, Runtime};

/// Pause between probes while Redis is unreachable.
const PROBE_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy)]
pub(super) enum Which {
    BudgetReserve,
    BudgetSettle,
    RateAdmit,
    RateSettle,
}

pub(super) struct Inner {
    pub(super) runtime: Option<Runtime>,
    pub(super) handle: Handle,
    pub(super) conn: ConnectionManager,
    pub(super) server: String,
    pub(super) prefix: String,
    pub(super) timeout: Duration,
    pub(super) lease_ms: i64,
    pub(super) mode: StateUnavailable,
    pub(super) replicas: u32,
    pub(super) up: AtomicBool,
    pub(super) probing: AtomicBool,
    pub(super) next_id: AtomicU64,
    pub(super) id_prefix: String,
    pub(super) metrics: StateMetrics,
    pub(super) scripts: [Script; 4],
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A runtime may not be dropped on an async thread; its tasks are only settlements.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Inner {
    pub(super) fn script(&self, which: Which) -> &Script {
        &self.scripts[which as usize]
    }

    pub(super) fn publish(&self, up: bool) {
        self.metrics.up.set(i64::from(up));
        let now = if up { "shared" } else { self.mode.as_str() };
        for m in ["shared", "reject", "local_share"] {
            self.metrics
                .mode
                .with_label_values(&[m])
                .set(i64::from(m == now));
        }
    }

    /// Runs one script, on the state's own runtime (the caller awaits it from anywhere).
    pub(super) async fn call<T: FromRedisValue>(
        self: &Arc<Self>,
        which: Which,
        keys: &[String],
        args: &[String],
    ) -> Result<T, RedisError> {
        let mut inv = self.script(which).prepare_invoke();
        for k in keys {
            inv.key(k);
        }
        for a in args {
            inv.arg(a);
        }
        let mut conn = self.conn.clone();
        match tokio::time::timeout(self.timeout, inv.invoke_async::<T>(&mut conn)).await {
            Ok(r) => r,
            Err(_) => Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {} ms", self.timeout.as_millis()),
            ))),
        }
    }

    pub(super) fn went_down(self: &Arc<Self>, why: &str) {
        self.metrics.errors.inc();
        if self.up.swap(false, Ordering::AcqRel) {
            tracing::warn!(
                server = %self.server,
                error = why,
                in_force = self.mode.as_str(),
                "shared state unreachable: budgets and rate limits now follow state_unavailable = {}",
                self.mode.as_str()
            );
            self.publish(false);
        }
        self.probe();
    }

    /// Pings until Redis answers, then marks the state up (once per outage).
    pub(super) fn probe(self: &Arc<Self>) {
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = Arc::clone(self);
        self.handle.spawn(async move {
            while !ping(&inner.conn, inner.timeout).await {
                tokio::time::sleep(PROBE_EVERY).await;
            }
            inner.probing.store(false, Ordering::Release);
            if !inner.up.swap(true, Ordering::AcqRel) {
                tracing::info!(server = %inner.server, "shared state reachable again: budgets and rate limits are shared");
                inner.publish(true);
            }
        });
    }

    pub(super) fn new_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n:x}", self.id_prefix)
    }

    pub(super) fn budget_key(
        &self,
        scope: Scope,
        name: &str,
        period: Period,
        window_start: i64,
    ) -> String {
        // The name's length first: a name with `:` in it cannot pass for another key.
        format!(
            "{}:budget:{}:{}:{name}:{}:{window_start}",
            self.prefix,
            scope.as_str(),
            name.len(),
            period.as_str()
        )
    }

    pub(super) fn rate_keys(&self, scope: Scope, name: &str, minute: i64) -> [String; 2] {
        let base = format!(
            "{}:rate:{}:{}:{name}",
            self.prefix,
            scope.as_str(),
            name.len()
        );
        [format!("{base}:m:{minute}"), format!("{base}:slots")]
    }

    pub(super) fn marker(&self, what: &str, id: &str) -> String {
        format!("{}:settled:{what}:{id}", self.prefix)
    }
}
