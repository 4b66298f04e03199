//! How a batch knows when to pull its next input.
//!
//! A batch keeps `concurrency` requests *running*, and pulls the next input
//! only when one of them stops running. A request that waits out a retry
//! backoff, or waits for a per-host permit, is *parked*: it does not count,
//! so the batch starts other inputs in its place instead of stalling behind
//! one slow or flaky host. The concurrency limit itself is enforced by the
//! tower stack; this count only keeps the input lazy without starving the
//! limit.
//!
//! Every change to the count happens while the batch's own task polls its
//! requests, so the batch needs no waker: it looks again after each poll.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The running count of one batch, carried in each of its requests'
/// extensions so that the layers can park and unpark them.
#[derive(Clone, Debug)]
pub(crate) struct Admission {
    running: Arc<AtomicUsize>,
}

impl Admission {
    pub(crate) fn new() -> Self {
        Admission {
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// Counts a request that starts.
    pub(crate) fn enter(&self) {
        self.running.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request that finished.
    pub(crate) fn leave(&self) {
        self.running.fetch_sub(1, Ordering::Relaxed);
    }

    /// Parks a running request until the returned guard is dropped.
    pub(crate) fn park(&self) -> Parked {
        self.running.fetch_sub(1, Ordering::Relaxed);
        Parked {
            running: self.running.clone(),
        }
    }
}

/// A parked request; dropping it counts the request as running again.
#[derive(Debug)]
pub(crate) struct Parked {
    running: Arc<AtomicUsize>,
}

impl Drop for Parked {
    fn drop(&mut self) {
        self.running.fetch_add(1, Ordering::Relaxed);
    }
}
