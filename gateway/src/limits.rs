//! Bounds on concurrent work, so that load is shed with a clear answer instead of piling up in
//! memory: a per-backend concurrency limit with a bounded wait (the on-device engine has its
//! own), a cap on requests in flight, and a cap on the bytes of request bodies held at once.

use crate::config::Concurrency;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tollgate_adapters::AttemptError;

/// Seconds a shed client is told to wait.
const RETRY_AFTER_S: u64 = 1;

/// One backend's concurrency limit and its queue.
#[derive(Debug)]
pub struct Limiter {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    cfg: Concurrency,
}

/// A place in a limiter's queue, left however the wait ends (a dropped request included).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Limiter {
    /// A limiter with `cfg.max` slots.
    pub fn new(cfg: Concurrency) -> Limiter {
        Limiter {
            slots: Arc::new(Semaphore::new(cfg.max)),
            waiting: AtomicUsize::new(0),
            cfg,
        }
    }

    /// A slot, held until the answer is over: at once if one is free, else after a wait in
    /// the queue (when it has room) of at most `queue_timeout`. Otherwise the backend is busy,
    /// which fails over to the next candidate like a 429 would.
    pub async fn admit(&self) -> Result<OwnedSemaphorePermit, AttemptError> {
        if let Ok(slot) = self.slots.clone().try_acquire_owned() {
            return Ok(slot);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.cfg.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(busy());
        }
        let _waiting = Waiting(&self.waiting);
        match tokio::time::timeout(self.cfg.queue_timeout, self.slots.clone().acquire_owned()).await
        {
            Ok(Ok(slot)) => Ok(slot),
            _ => Err(busy()),
        }
    }

    /// Answers in flight on this backend.
    pub fn active(&self) -> usize {
        self.cfg.max - self.slots.available_permits()
    }
}

fn busy() -> AttemptError {
    AttemptError::Overloaded {
        retry_after: RETRY_AFTER_S,
    }
}

/// The bytes of request bodies held in memory at once, counted in KiB.
#[derive(Debug)]
pub struct BodyBudget {
    kib: Arc<Semaphore>,
}

/// Body bytes a request holds, released when it is dropped (with the request).
#[derive(Debug, Default)]
pub struct BodyHold {
    permit: Option<OwnedSemaphorePermit>,
    kib: usize,
}

impl BodyBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> BodyBudget {
        BodyBudget {
            kib: Arc::new(Semaphore::new(
                bytes.div_ceil(1024).min(Semaphore::MAX_PERMITS),
            )),
        }
    }

    /// Grows `hold` to cover `total` bytes; false when the budget cannot (the request is
    /// then refused: waiting would hold its bytes and connection longer still).
    pub fn cover(&self, hold: &mut BodyHold, total: usize) -> bool {
        let need = total.div_ceil(1024).saturating_sub(hold.kib);
        if need == 0 {
            return true;
        }
        let Ok(n) = u32::try_from(need) else {
            return false;
        };
        match self.kib.clone().try_acquire_many_owned(n) {
            Ok(more) => {
                match hold.permit.as_mut() {
                    Some(p) => p.merge(more),
                    None => hold.permit = Some(more),
                }
                hold.kib += need;
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limiter(max: usize, queue: usize, wait_ms: u64) -> Limiter {
        Limiter::new(Concurrency {
            max,
            queue,
            queue_timeout: Duration::from_millis(wait_ms),
        })
    }

    #[tokio::test]
    async fn past_its_slots_and_queue_a_backend_is_busy() {
        let l = limiter(1, 0, 1000);
        let held = l.admit().await.unwrap();
        assert_eq!(l.active(), 1);
        assert!(matches!(
            l.admit().await,
            Err(AttemptError::Overloaded { .. })
        ));
        drop(held);
        assert!(l.admit().await.is_ok());
    }

    #[tokio::test]
    async fn a_queued_request_gets_the_next_free_slot_or_gives_up_in_time() {
        let l = Arc::new(limiter(1, 1, 2000));
        let held = l.admit().await.unwrap();
        let l2 = l.clone();
        let queued = tokio::spawn(async move { l2.admit().await.is_ok() });
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The queue (of one) is full: a third request is shed at once.
        assert!(l.admit().await.is_err());
        drop(held);
        assert!(
            queued.await.unwrap(),
            "the queued request got the freed slot"
        );

        let short = limiter(1, 4, 30);
        let _held = short.admit().await.unwrap();
        let t = std::time::Instant::now();
        assert!(short.admit().await.is_err());
        assert!(t.elapsed() < Duration::from_secs(2));
        assert_eq!(
            short.waiting.load(Ordering::Acquire),
            0,
            "the queue is left"
        );
    }

    #[test]
    fn body_bytes_are_held_until_released() {
        let budget = BodyBudget::new(10 * 1024);
        let mut a = BodyHold::default();
        assert!(budget.cover(&mut a, 6000));
        assert!(budget.cover(&mut a, 8000), "growing within the budget");
        let mut b = BodyHold::default();
        assert!(!budget.cover(&mut b, 4096), "8 KiB of 10 are held");
        drop(a);
        assert!(budget.cover(&mut b, 4096));
    }
}
