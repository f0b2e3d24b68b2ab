//! Passive backend health: a backend that keeps failing is taken out of decisions for a
//! cool-down, then tried again. Observed latency feeds the `lowest_latency` strategy.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tollgate_policies::Live;

/// Consecutive failures that mark a backend unhealthy.
const FAILURES_TO_TRIP: u32 = 3;
/// How long an unhealthy backend is skipped before it is tried again.
const COOL_DOWN: Duration = Duration::from_secs(10);

/// One backend's health, updated lock-free by every attempt.
#[derive(Debug, Default)]
pub struct Health {
    consecutive_failures: AtomicU32,
    /// Microseconds since `epoch` until which the backend is skipped; 0 when healthy.
    down_until_us: AtomicU64,
    /// Exponentially weighted time to first byte, microseconds (0: none yet).
    latency_us: AtomicU64,
}

impl Health {
    /// Notes a successful attempt and its time to first byte.
    pub fn success(&self, first_byte: Duration) {
        self.consecutive_failures.store(0, Ordering::Relaxed);
        self.down_until_us.store(0, Ordering::Relaxed);
        let sample = first_byte.as_micros() as u64;
        let old = self.latency_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old * 7 + sample) / 8
        };
        self.latency_us.store(new.max(1), Ordering::Relaxed);
    }

    /// Notes a failure that says something about the backend (not the request).
    pub fn failure(&self, epoch: Instant) {
        let n = self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= FAILURES_TO_TRIP {
            let until = epoch.elapsed() + COOL_DOWN;
            self.down_until_us
                .store(until.as_micros() as u64, Ordering::Relaxed);
        }
    }

    /// The backend's state for `decide`.
    pub fn live(&self, epoch: Instant) -> Live {
        let until = self.down_until_us.load(Ordering::Relaxed);
        let healthy = until == 0 || (epoch.elapsed().as_micros() as u64) >= until;
        let lat = self.latency_us.load(Ordering::Relaxed);
        Live {
            healthy,
            latency_ms: (lat > 0).then(|| lat as f32 / 1000.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_after_repeated_failures_and_recovers_on_success() {
        let epoch = Instant::now();
        let h = Health::default();
        assert!(h.live(epoch).healthy);
        h.failure(epoch);
        h.failure(epoch);
        assert!(h.live(epoch).healthy, "two failures are not enough");
        h.failure(epoch);
        assert!(!h.live(epoch).healthy);
        h.success(Duration::from_millis(8));
        let live = h.live(epoch);
        assert!(live.healthy);
        assert_eq!(live.latency_ms, Some(8.0));
    }

    #[test]
    fn comes_back_after_the_cool_down() {
        let h = Health::default();
        let epoch = Instant::now() - COOL_DOWN - Duration::from_secs(1);
        // Trip it "in the past": down_until is relative to the epoch.
        h.consecutive_failures
            .store(FAILURES_TO_TRIP, Ordering::Relaxed);
        h.down_until_us.store(1, Ordering::Relaxed);
        assert!(h.live(epoch).healthy);
    }
}
