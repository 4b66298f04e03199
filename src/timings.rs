//! Where the time of one request went.

use std::time::Duration;

/// The timing breakdown of one input, from [`Response::timings()`](crate::Response::timings)
/// or [`Error::timings()`](crate::Error::timings).
///
/// The phases do not overlap: `queued + connect + ttfb + body` plus the
/// time spent in retry backoffs (and in the earlier attempts) is `total`.
/// `connect`, `ttfb` and `body` describe the last attempt; `queued` adds up
/// the waits of every attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timings {
    pub(crate) queued: Duration,
    pub(crate) connect: Duration,
    pub(crate) ttfb: Duration,
    pub(crate) body: Duration,
    pub(crate) total: Duration,
}

impl Timings {
    /// Time spent waiting for rate-limit slots and concurrency permits,
    /// over all attempts.
    pub fn queued(&self) -> Duration {
        self.queued
    }

    /// Time the last attempt waited for a new connection: DNS, TCP, proxy
    /// handshake and TLS. Zero when a pooled connection was reused.
    pub fn connect(&self) -> Duration {
        self.connect
    }

    /// Time to first byte of the last attempt: from a ready connection to
    /// the response head (sending the request, and the server's work).
    pub fn ttfb(&self) -> Duration {
        self.ttfb
    }

    /// Time from the response head to the last byte of the body, in the
    /// last attempt.
    pub fn body(&self) -> Duration {
        self.body
    }

    /// Time from when the batch started the input to its result.
    pub fn total(&self) -> Duration {
        self.total
    }
}
