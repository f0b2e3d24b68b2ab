//! Idle compute: a backend priced by the hour costs its rate for every hour the gateway runs
//! with it configured, whether anyone uses it or not.
//!
//! The time with at least one request in flight is busy time, shared among those requests
//! (their `compute_usd`, see [`crate::cost`]). The rest of each period is idle time, and its
//! cost is written as one ledger line per backend per UTC hour ([`IdleRow`]): at each hour
//! boundary, and for the partial hour when the gateway stops. A gateway started inside an
//! hour writes a partial period from its own start, so a restart never writes a period twice.
//!
//! This module is the arithmetic; the gateway reads each backend's cumulative busy time and
//! drives it (`gateway/src/idle.rs`). Periods are measured on the wall clock (they are UTC
//! hours); busy time on the monotonic clock of the requests. A busy share larger than the
//! period (clock skew, a tick late past the boundary) is capped at the period.

use crate::cost::HourlyRate;
use crate::ledger::IdleRow;
use std::time::Duration;

/// One hour, in ms.
pub const HOUR_MS: i64 = 3_600_000;

/// The first UTC hour boundary after `ms`.
pub fn next_hour_ms(ms: i64) -> i64 {
    (ms.div_euclid(HOUR_MS) + 1) * HOUR_MS
}

/// One backend's open period.
#[derive(Debug, Clone)]
pub struct IdleTracker {
    backend: String,
    rate: HourlyRate,
    currency: String,
    price_version: String,
    start_ms: i64,
    busy_at_start: Duration,
    /// Idle cost of this period already reported to the metrics.
    counted_usd: f64,
}

/// What one look at an open period found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accrual {
    /// Busy seconds ÷ elapsed seconds of the period so far (`None` in its first second, too
    /// short to say).
    pub utilisation: Option<f64>,
    /// Idle cost accrued since the previous look (for a counter).
    pub new_idle_usd: f64,
}

impl IdleTracker {
    /// A period of `backend` starting at `start_ms`, when its cumulative busy time was
    /// `busy_total`.
    pub fn new(
        backend: &str,
        rate: HourlyRate,
        currency: &str,
        price_version: &str,
        start_ms: i64,
        busy_total: Duration,
    ) -> IdleTracker {
        IdleTracker {
            backend: backend.to_string(),
            rate,
            currency: currency.to_string(),
            price_version: price_version.to_string(),
            start_ms,
            busy_at_start: busy_total,
            counted_usd: 0.0,
        }
    }

    /// The backend's name.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// When the open period started, unix ms.
    pub fn start_ms(&self) -> i64 {
        self.start_ms
    }

    /// The hour boundary that ends the open period, if `now_ms` has reached it.
    pub fn due(&self, now_ms: i64) -> Option<i64> {
        let boundary = next_hour_ms(self.start_ms);
        (boundary <= now_ms).then_some(boundary)
    }

    /// (busy, idle) seconds of the open period up to `now_ms`.
    fn split(&self, now_ms: i64, busy_total: Duration) -> (f64, f64) {
        let elapsed = (now_ms - self.start_ms).max(0) as f64 / 1000.0;
        let busy = busy_total
            .saturating_sub(self.busy_at_start)
            .as_secs_f64()
            .min(elapsed);
        (busy, elapsed - busy)
    }

    fn idle_cost(&self, idle_s: f64) -> f64 {
        idle_s * self.rate.per_hour() / 3600.0
    }

    /// The open period so far: its utilisation and the idle cost accrued since the last look.
    pub fn observe(&mut self, now_ms: i64, busy_total: Duration) -> Accrual {
        let (busy, idle) = self.split(now_ms, busy_total);
        let elapsed = busy + idle;
        let accrued = self.idle_cost(idle);
        let new_idle_usd = (accrued - self.counted_usd).max(0.0);
        self.counted_usd += new_idle_usd;
        Accrual {
            utilisation: (elapsed >= 1.0).then(|| busy / elapsed),
            new_idle_usd,
        }
    }

    /// Ends the open period at `end_ms`: its idle line, and the idle cost not yet reported
    /// (`Accrual::new_idle_usd`). The next period starts there. `None` for an empty period.
    pub fn close(&mut self, end_ms: i64, busy_total: Duration) -> Option<(IdleRow, Accrual)> {
        if end_ms <= self.start_ms {
            return None;
        }
        let (busy_s, idle_s) = self.split(end_ms, busy_total);
        let cost_usd = self.idle_cost(idle_s);
        let line = IdleRow {
            backend: self.backend.clone(),
            period_start_ms: self.start_ms,
            period_end_ms: end_ms,
            busy_s,
            idle_s,
            cost_usd,
            cost_per_hour: self.rate.cost_per_hour,
            energy_per_hour: self.rate.energy_per_hour,
            currency: self.currency.clone(),
            price_version: self.price_version.clone(),
        };
        let elapsed = busy_s + idle_s;
        let accrual = Accrual {
            utilisation: (elapsed > 0.0).then(|| busy_s / elapsed),
            new_idle_usd: (cost_usd - self.counted_usd).max(0.0),
        };
        self.start_ms = end_ms;
        self.busy_at_start = busy_total;
        self.counted_usd = 0.0;
        Some((line, accrual))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_749_988_800_000; // 2025-06-15T12:00:00Z, an hour boundary

    fn tracker(start_ms: i64) -> IdleTracker {
        let rate = HourlyRate {
            cost_per_hour: 3.0,
            energy_per_hour: 0.6,
        };
        IdleTracker::new("gpu", rate, "USD", "v1", start_ms, Duration::from_secs(100))
    }

    #[test]
    fn hours_close_at_utc_boundaries_and_a_partial_one_at_the_end() {
        assert_eq!(next_hour_ms(T0), T0 + HOUR_MS);
        assert_eq!(next_hour_ms(T0 - 1), T0);
        // Started 15 minutes past the hour.
        let start = T0 + 15 * 60_000;
        let mut t = tracker(start);
        assert_eq!(t.due(T0 + HOUR_MS - 1), None);
        assert_eq!(t.due(T0 + HOUR_MS + 5), Some(T0 + HOUR_MS));
        // 9 minutes busy in the first 45: 36 idle at $3.6/h.
        let busy = Duration::from_secs(100 + 9 * 60);
        let (line, acc) = t.close(T0 + HOUR_MS, busy).unwrap();
        assert_eq!(
            (line.period_start_ms, line.period_end_ms),
            (start, T0 + HOUR_MS)
        );
        assert!((line.busy_s - 540.0).abs() < 1e-9 && (line.idle_s - 2160.0).abs() < 1e-9);
        assert!((line.cost_usd - 2.16).abs() < 1e-9);
        assert!((acc.utilisation.unwrap() - 0.2).abs() < 1e-9);
        assert_eq!((line.cost_per_hour, line.energy_per_hour), (3.0, 0.6));
        // The next period starts at the boundary; stopping 30 s into it writes a partial one.
        assert_eq!(t.start_ms(), T0 + HOUR_MS);
        let (line, _) = t.close(T0 + HOUR_MS + 30_000, busy).unwrap();
        assert!((line.idle_s - 30.0).abs() < 1e-9 && line.busy_s == 0.0);
        assert!(
            t.close(T0 + HOUR_MS + 30_000, busy).is_none(),
            "nothing left"
        );
    }

    #[test]
    fn looks_report_each_idle_cent_once_and_busy_is_capped() {
        let mut t = tracker(T0);
        let first = t.observe(T0 + 500, Duration::from_secs(100));
        assert_eq!(first.utilisation, None, "too early to say");
        let a = t.observe(T0 + 60_000, Duration::from_secs(130));
        assert!((a.utilisation.unwrap() - 0.5).abs() < 1e-9);
        // 30 s idle in the first minute, half a second of it reported by the first look.
        let per_s = 3.6 / 3600.0;
        assert!((first.new_idle_usd + a.new_idle_usd - 30.0 * per_s).abs() < 1e-12);
        let b = t.observe(T0 + 120_000, Duration::from_secs(130));
        assert!((b.new_idle_usd - 60.0 * per_s).abs() < 1e-12);
        let (line, rest) = t.close(T0 + 180_000, Duration::from_secs(130)).unwrap();
        let reported = first.new_idle_usd + a.new_idle_usd + b.new_idle_usd + rest.new_idle_usd;
        assert!((reported - line.cost_usd).abs() < 1e-12);
        // More busy time than the period (a late tick): capped, never negative idle.
        let (line, _) = t.close(T0 + 181_000, Duration::from_secs(500)).unwrap();
        assert_eq!((line.busy_s, line.idle_s, line.cost_usd), (1.0, 0.0, 0.0));
    }
}
