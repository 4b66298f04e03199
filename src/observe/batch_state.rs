//! What one batch (one [`Batch`](crate::Batch) and its clones) shares
//! between its driver, its requests and its caller: the progress counters,
//! the observer, and the stats.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use super::{BatchStats, Counters, Event, Observer, Progress};
use crate::error::Error;
use crate::response::Response;

pub(crate) struct BatchState {
    counters: Counters,
    observer: Option<Arc<dyn Observer>>,
    started: OnceLock<Instant>,
    /// Made when the batch starts, so its clock starts then.
    stats: Mutex<Option<BatchStats>>,
}

impl BatchState {
    pub(crate) fn new(observer: Option<Arc<dyn Observer>>) -> Self {
        BatchState {
            counters: Counters::default(),
            observer,
            started: OnceLock::new(),
            stats: Mutex::new(None),
        }
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    pub(crate) fn observer(&self) -> Option<&dyn Observer> {
        self.observer.as_deref()
    }

    fn stats_lock(&self) -> MutexGuard<'_, Option<BatchStats>> {
        // Counts only: a panic elsewhere leaves nothing half-done.
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The batch is being polled for the first time.
    pub(crate) fn begin(&self) {
        self.started.get_or_init(Instant::now);
        self.stats_lock().get_or_insert_with(BatchStats::new);
    }

    /// An input was taken from the input and started.
    pub(crate) fn pulled(&self) {
        self.counters.pulled();
    }

    /// An input has its result.
    pub(crate) fn finish(&self, index: usize, result: &Result<Response, Error>) {
        let bytes = result.as_ref().map_or(0, |res| res.transferred());
        self.counters.finished(result.is_ok(), bytes);
        if let Some(observer) = &self.observer {
            observer.on_event(&match result {
                Ok(response) => Event::Completed { index, response },
                Err(error) => Event::Failed { index, error },
            });
        }
        self.stats_lock()
            .get_or_insert_with(BatchStats::new)
            .record(result);
    }

    pub(crate) fn progress(&self) -> Progress {
        self.counters.snapshot(self.started.get().copied())
    }

    pub(crate) fn stats(&self) -> BatchStats {
        self.stats_lock().clone().unwrap_or_default()
    }
}

impl fmt::Debug for BatchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchState")
            .field("progress", &self.progress())
            .field("observer", &self.observer.is_some())
            .finish()
    }
}
