//! The gateway's metering handle: the metering crate's [`Metering`] (metrics, prices, ledger,
//! budgets) plus what only the running gateway knows, the requests in flight on each backend
//! priced by the hour (for each request's share of its busy time).

use crate::config::Config;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tollgate_metering::Metering;

/// Metering of one gateway: metrics, prices, ledger and budgets, plus the number of requests in
/// flight on each priced local backend (for its compute-cost share).
#[derive(Debug)]
pub struct Meter {
    metering: Metering,
    inflight: Vec<AtomicI64>,
    has_budgets: bool,
}

impl Meter {
    /// Opens the ledger and builds metrics and budgets from the checked config.
    pub fn open(config: &Config) -> Result<Meter, String> {
        let metering =
            Metering::open(&config.metering, now_ms()).map_err(|e| format!("metering: {e}"))?;
        let b = &config.metering.budgets;
        Ok(Meter {
            metering,
            inflight: config.backends.iter().map(|_| AtomicI64::new(0)).collect(),
            has_budgets: !(b.tenants.is_empty() && b.routes.is_empty()),
        })
    }

    /// Metrics, prices, ledger and budgets.
    pub fn metering(&self) -> &Metering {
        &self.metering
    }

    /// The `/metrics` exposition.
    pub fn encode_metrics(&self) -> String {
        self.metering.encode_metrics(now_ms())
    }

    /// Commits every recorded row and stops the ledger writer (call once the server stopped).
    pub fn close(&self) {
        match self.metering.close() {
            Ok(()) => tracing::info!("ledger flushed and closed"),
            Err(e) => tracing::error!(error = %e, "ledger did not close cleanly"),
        }
    }

    /// Whether any budget is configured (else the budget check is skipped).
    pub fn has_budgets(&self) -> bool {
        self.has_budgets
    }

    /// Notes an attempt starting on `backend`, which is priced by the hour.
    pub fn begin_busy(&self, backend: usize) -> BusyProbe {
        let before = self.inflight[backend].fetch_add(1, Ordering::Relaxed);
        BusyProbe {
            backend,
            started: Instant::now(),
            concurrency: before + 1,
        }
    }

    /// Ends an attempt that [`Meter::begin_busy`] started without charging it (it failed and
    /// the next candidate is tried).
    pub fn abandon_busy(&self, probe: BusyProbe) {
        self.inflight[probe.backend].fetch_sub(1, Ordering::Relaxed);
    }

    /// This request's share of its backend's busy time: the attempt's wall time divided by the mean
    /// number of requests in flight on that backend at its start and end.
    pub fn busy_time(&self, probe: BusyProbe) -> Duration {
        let now_inflight = self.inflight[probe.backend].fetch_sub(1, Ordering::Relaxed);
        let mean = (probe.concurrency + now_inflight).max(2) as f64 / 2.0;
        tollgate_metering::busy_share(probe.started.elapsed(), mean)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The start of an attempt on a backend priced by the hour, for its share of busy time.
#[derive(Debug, Clone, Copy)]
pub struct BusyProbe {
    backend: usize,
    started: Instant,
    concurrency: i64,
}
