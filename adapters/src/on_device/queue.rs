//! Admission to the engine: a fixed number of places (sequence slots plus waiting room) held
//! as semaphore permits by the requests themselves, and the queue the engine thread takes
//! jobs from.
//!
//! A request holds its permit for as long as it is served, in the future or stream its client
//! polls, so a client that goes away gives its place back the moment its request is dropped,
//! whether it was queued or generating. The engine sweeps jobs whose client left out of the
//! queue before every decode step, so their prompts do not wait for a slot to be freed.

use super::job::Job;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The places of one engine.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    places: Arc<Semaphore>,
    capacity: usize,
}

impl Admission {
    pub fn new(capacity: usize) -> Admission {
        Admission {
            places: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// A place, or `None` when every place is taken.
    pub fn try_enter(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.places).try_acquire_owned().ok()
    }

    /// Requests holding a place now.
    pub fn taken(&self) -> usize {
        self.capacity - self.places.available_permits()
    }
}

/// Jobs waiting for a sequence slot, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    state: Mutex<State>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct State {
    jobs: VecDeque<Job>,
    closed: bool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain data behind: keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a job; gives it back when the engine is closed.
    pub fn push(&self, job: Job) -> Result<(), Job> {
        let mut s = self.lock();
        if s.closed {
            return Err(job);
        }
        s.jobs.push_back(job);
        self.ready.notify_one();
        Ok(())
    }

    /// No more jobs will come: the engine stops once its sequences are done.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// The oldest job whose client is still there; when `wait`, blocks until there is one.
    /// `None` when there is none (and, when waiting, the queue is closed).
    pub fn pop(&self, wait: bool) -> Option<Job> {
        let mut s = self.lock();
        loop {
            while let Some(job) = s.jobs.pop_front() {
                if !job.abandoned() {
                    return Some(job);
                }
            }
            if !wait || s.closed {
                return None;
            }
            s = self.ready.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Drops the jobs whose client went away.
    pub fn sweep(&self) {
        self.lock().jobs.retain(|j| !j.abandoned());
    }

    /// Whether the queue is closed and empty.
    pub fn finished(&self) -> bool {
        let s = self.lock();
        s.closed && s.jobs.is_empty()
    }
}
