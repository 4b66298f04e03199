//! How far a running batch has got.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A snapshot of a batch's progress, from [`Batch::progress()`](crate::Batch::progress).
///
/// Inputs move from *queued* (taken from the input, waiting for a rate
/// slot, a permit or a retry backoff) to *in flight* (being sent or
/// received) to *done* (a response, of any status) or *failed* (an error,
/// cancellation included). Inputs the batch has not pulled yet are not
/// counted: the input is lazy and its length may be unknown.
///
/// Its `Display` is a one-line status:
/// `812 done, 3 failed, 100 in flight, 85 queued, 1.2 MB, 7 retries, 2.0 s, 407/s`
/// (with `, N redispatched` after the retries when there were any).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    done: u64,
    failed: u64,
    in_flight: u64,
    queued: u64,
    bytes: u64,
    retries: u64,
    redispatches: u64,
    elapsed: Duration,
}

impl Progress {
    /// Inputs finished with a response (any status).
    pub fn done(&self) -> u64 {
        self.done
    }

    /// Inputs finished with an error.
    pub fn failed(&self) -> u64 {
        self.failed
    }

    /// Inputs finished either way: `done + failed`.
    pub fn finished(&self) -> u64 {
        self.done + self.failed
    }

    /// Requests being sent or received now (holding their permits).
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// Inputs started but not in flight: waiting for a rate-limit slot, a
    /// concurrency permit, or the end of a retry backoff.
    pub fn queued(&self) -> u64 {
        self.queued
    }

    /// Body bytes received by the finished inputs (after decompression).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Retries made so far.
    pub fn retries(&self) -> u64 {
        self.retries
    }

    /// Requests sent again at once because the server did not process
    /// them (see [`Event::Redispatched`](crate::Event::Redispatched)).
    pub fn redispatches(&self) -> u64 {
        self.redispatches
    }

    /// Time since the batch started.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Inputs finished per second, over the whole batch so far.
    pub fn rate(&self) -> f64 {
        per_second(self.finished(), self.elapsed)
    }
}

pub(crate) fn per_second(count: u64, over: Duration) -> f64 {
    let secs = over.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} done, {} failed, {} in flight, {} queued, {}, {} retries",
            self.done,
            self.failed,
            self.in_flight,
            self.queued,
            Bytes(self.bytes),
            self.retries,
        )?;
        if self.redispatches > 0 {
            write!(f, ", {} redispatched", self.redispatches)?;
        }
        write!(
            f,
            ", {:.1} s, {:.0}/s",
            self.elapsed.as_secs_f64(),
            self.rate()
        )
    }
}

/// A byte count in B, kB, MB or GB (powers of 1000).
pub(crate) struct Bytes(pub(crate) u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0 as f64;
        match self.0 {
            0..1_000 => write!(f, "{} B", self.0),
            1_000..1_000_000 => write!(f, "{:.1} kB", n / 1e3),
            1_000_000..1_000_000_000 => write!(f, "{:.1} MB", n / 1e6),
            _ => write!(f, "{:.2} GB", n / 1e9),
        }
    }
}

/// The live counters behind [`Progress`]: plain atomics, bumped from the
/// batch's task and its requests, read from anywhere.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pulled: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
    in_flight: AtomicU64,
    bytes: AtomicU64,
    retries: AtomicU64,
    redispatches: AtomicU64,
}

impl Counters {
    pub(crate) fn pulled(&self) {
        self.pulled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn finished(&self, ok: bool, bytes: u64) {
        let counter = if ok { &self.done } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn sending(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sent(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn redispatched(&self) {
        self.redispatches.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, since: Option<Instant>) -> Progress {
        let done = self.done.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        let in_flight = self.in_flight.load(Ordering::Relaxed);
        let pulled = self.pulled.load(Ordering::Relaxed);
        Progress {
            done,
            failed,
            in_flight,
            // Read one by one, the counters can be a moment apart.
            queued: pulled.saturating_sub(done + failed + in_flight),
            bytes: self.bytes.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            redispatches: self.redispatches.load(Ordering::Relaxed),
            elapsed: since.map_or(Duration::ZERO, |t| t.elapsed()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line() {
        let counters = Counters::default();
        for _ in 0..5 {
            counters.pulled();
        }
        counters.finished(true, 1500);
        counters.finished(false, 0);
        counters.sending();
        counters.retried();
        let line = counters.snapshot(None).to_string();
        assert_eq!(
            line,
            "1 done, 1 failed, 1 in flight, 2 queued, 1.5 kB, 1 retries, 0.0 s, 0/s"
        );
    }
}
