//! The gateway's metering handle: the metering crate's [`Metering`] (metrics, prices, ledger,
//! budgets) as the running gateway uses it.

use crate::config::Config;
use std::time::{SystemTime, UNIX_EPOCH};
use tollgate_metering::Metering;

/// Metering of one gateway: metrics, prices, ledger and budgets.
#[derive(Debug)]
pub struct Meter {
    metering: Metering,
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
            has_budgets: !(b.tenants.is_empty() && b.routes.is_empty()),
        })
    }

    /// The metering of a reloaded config, on the same metrics, ledger and shared state, with
    /// the changes that need a restart as warnings.
    pub fn reconfigure(
        &self,
        old: &Config,
        config: &Config,
    ) -> Result<(Meter, Vec<String>), String> {
        let (metering, warnings) = self
            .metering
            .reconfigure(&old.metering, &config.metering, now_ms())
            .map_err(|e| format!("metering: {e}"))?;
        let b = &config.metering.budgets;
        let meter = Meter {
            metering,
            has_budgets: !(b.tenants.is_empty() && b.routes.is_empty()),
        };
        Ok((meter, warnings))
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
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
