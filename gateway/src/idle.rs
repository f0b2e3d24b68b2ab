//! Idle compute of the backends priced by the hour, while the gateway serves: one ledger line
//! per backend per UTC hour with the time nothing was in flight and what it cost (the
//! arithmetic is `tollgate_metering::idle`), and the utilisation and idle-cost metrics.
//!
//! The server starts the accounting when the listeners start ([`Idle::start`]), and a task
//! calls [`Idle::tick`], which closes each period at the hour boundary and refreshes the
//! metrics; [`Idle::pause`] says how long it may sleep. [`Idle::flush`] closes the partial
//! period at shutdown; it must run before the ledger is closed, which drops later lines.

use crate::backends::BackendSlot;
use crate::config::Backend;
use parking_lot::Mutex;
use std::time::Duration;
use tollgate_metering::idle::next_hour_ms;
use tollgate_metering::{IdleTracker, Metering};

/// How often the utilisation gauge and idle-cost counter are brought up to date.
pub const REFRESH: Duration = Duration::from_secs(5);
/// The first look, soon after the start: the gauge is not left empty for a whole interval.
pub const FIRST_LOOK: Duration = Duration::from_secs(1);

/// What the accounting reads of the gateway: its backends, their slots (busy time), and
/// metering (prices, ledger, metrics).
pub struct Parts<'a> {
    /// The configured backends.
    pub backends: &'a [Backend],
    /// Their live slots, at the same indexes.
    pub slots: &'a [std::sync::Arc<BackendSlot>],
    /// Metering.
    pub metering: &'a Metering,
}

/// The open period of every backend priced by the hour; empty until started, and again once
/// flushed.
#[derive(Debug, Default)]
pub struct Idle {
    /// (index in `gw.backends`, its tracker).
    trackers: Mutex<Vec<(usize, IdleTracker)>>,
}

impl Idle {
    /// Opens a period at `now_ms` for every backend priced by the hour (once; later calls do
    /// nothing).
    pub fn start(&self, p: &Parts<'_>, now_ms: i64) {
        let mut trackers = self.trackers.lock();
        if !trackers.is_empty() {
            return;
        }
        for (i, b) in p.backends.iter().enumerate() {
            let busy = p.slots[i].busy_total();
            if let Some(t) = p.metering.idle_tracker(&b.name, now_ms, busy) {
                trackers.push((i, t));
            }
        }
    }

    /// Closes every period whose hour ended by `now_ms`, and updates the metrics of the ones
    /// open.
    pub fn tick(&self, p: &Parts<'_>, now_ms: i64) {
        let metering = p.metering;
        for (i, t) in self.trackers.lock().iter_mut() {
            let busy = p.slots[*i].busy_total();
            while let Some(boundary) = t.due(now_ms) {
                metering.idle_close(t, boundary, busy);
            }
            metering.idle_observe(t, now_ms, busy);
        }
    }

    /// Closes every open period at `now_ms` (the gateway stops) and stops the accounting.
    pub fn flush(&self, p: &Parts<'_>, now_ms: i64) {
        self.tick(p, now_ms);
        for (i, mut t) in std::mem::take(&mut *self.trackers.lock()) {
            p.metering
                .idle_close(&mut t, now_ms, p.slots[i].busy_total());
        }
    }

    /// Whether periods are open (started and not yet flushed).
    pub fn is_running(&self) -> bool {
        !self.trackers.lock().is_empty()
    }

    /// How long the task may sleep after a look at `now_ms`: `pause`, or less to be on time
    /// for the next hour boundary.
    pub fn pause(pause: Duration, now_ms: i64) -> Duration {
        let to_boundary = u64::try_from(next_hour_ms(now_ms) - now_ms).unwrap_or(0);
        pause.min(Duration::from_millis(to_boundary))
    }
}
