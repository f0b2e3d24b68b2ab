//! The metrics of shipping the ledger to PostgreSQL (see `crate::ship`). They are registered
//! whether or not `[ledger] postgres_url` is set, so dashboards and alerts need no special
//! case: without it they stay at 0.

use super::build::{int_counter, int_gauge};
use prometheus::{Gauge, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// What the shipper thread updates.
#[derive(Clone, Debug)]
pub struct ShipMetrics {
    /// Age of the oldest committed row not yet in PostgreSQL, from its request's end; 0 when
    /// every row is shipped.
    pub lag_seconds: Gauge,
    /// Committed rows not yet in PostgreSQL.
    pub backlog_rows: IntGauge,
    /// Rows PostgreSQL accepted, by table (`requests`, `idle`).
    pub shipped_rows: IntCounterVec,
    /// Failed shipping rounds (connection lost, PostgreSQL refusing); retried with backoff.
    pub errors: IntCounter,
    /// 1 when the last round reached PostgreSQL, 0 when it did not (and without shipping).
    pub up: IntGauge,
}

impl ShipMetrics {
    /// Creates and registers the shipping metrics in `r`.
    pub fn register(r: &Registry) -> Result<ShipMetrics, prometheus::Error> {
        let lag_seconds = Gauge::new(
            "tollgate_ledger_ship_lag_seconds",
            "Age of the oldest committed ledger row not yet in PostgreSQL (0 when caught up).",
        )?;
        r.register(Box::new(lag_seconds.clone()))?;
        let shipped_rows = IntCounterVec::new(
            Opts::new(
                "tollgate_ledger_shipped_rows_total",
                "Ledger rows PostgreSQL accepted, by table.",
            ),
            &["table"],
        )?;
        r.register(Box::new(shipped_rows.clone()))?;
        // Both series exist from the start, at 0, for rates and alerts.
        for table in ["requests", "idle"] {
            shipped_rows.with_label_values(&[table]);
        }
        Ok(ShipMetrics {
            lag_seconds,
            backlog_rows: int_gauge(
                r,
                "tollgate_ledger_ship_backlog_rows",
                "Committed ledger rows not yet in PostgreSQL.",
            )?,
            shipped_rows,
            errors: int_counter(
                r,
                "tollgate_ledger_ship_errors_total",
                "Failed rounds shipping the ledger to PostgreSQL (retried with backoff).",
            )?,
            up: int_gauge(
                r,
                "tollgate_ledger_ship_up",
                "1 when the last round shipping the ledger reached PostgreSQL, else 0.",
            )?,
        })
    }
}
