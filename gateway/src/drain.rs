//! Shutdown that loses nothing: on SIGTERM the listeners stop taking connections, requests in
//! flight get the grace period to finish, and whatever is still running then is ended in the
//! open (an error event for a stream, a 503 for a whole answer) and recorded as cut by the
//! shutdown. The process leaves as soon as nothing is in flight, not when the grace period is
//! over.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Requests in flight, and the signal that ends them.
#[derive(Debug)]
pub struct Drain {
    in_flight: AtomicUsize,
    idle: Notify,
    cut: watch::Sender<bool>,
}

impl Default for Drain {
    fn default() -> Self {
        Drain {
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            cut: watch::Sender::new(false),
        }
    }
}

/// One request in flight; it leaves the count when dropped (after its record is written, as
/// it is dropped after the [`crate::pipeline::trace::Recording`] holding it).
#[derive(Debug)]
pub struct InFlight<'a>(&'a Drain);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Drain {
    /// Counts a request in until the guard is dropped.
    pub fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self)
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Waits until nothing is in flight, at most `limit`; true if nothing is.
    pub async fn until_idle(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                // Registered before the count is read, so a request leaving in between is
                // not missed.
                let notified = self.idle.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.in_flight() == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }

    /// Ends every request still in flight: each one waiting in [`Drain::cut`] wakes.
    pub fn cut_now(&self) {
        self.cut.send_replace(true);
    }

    /// Resolves once [`Drain::cut_now`] is called (at once if it was).
    pub async fn cut(&self) {
        let mut rx = self.cut.subscribe();
        let _ = rx.wait_for(|cut| *cut).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_is_reached_when_the_last_request_leaves() {
        let drain = Drain::default();
        assert!(drain.until_idle(Duration::ZERO).await);
        let a = drain.enter();
        let b = drain.enter();
        assert!(!drain.until_idle(Duration::from_millis(20)).await);
        drop(a);
        assert_eq!(drain.in_flight(), 1);
        let waiting = drain.until_idle(Duration::from_secs(5));
        drop(b);
        assert!(waiting.await);
    }

    #[tokio::test]
    async fn a_cut_wakes_every_waiter_and_later_ones_at_once() {
        let drain = std::sync::Arc::new(Drain::default());
        let d = drain.clone();
        let waiter = tokio::spawn(async move { d.cut().await });
        tokio::task::yield_now().await;
        drain.cut_now();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        tokio::time::timeout(Duration::from_millis(50), drain.cut())
            .await
            .unwrap();
    }
}
