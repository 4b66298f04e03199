//! What the client knows of one connection: when it was made, where it
//! goes, and, while the pool holds it, whether it can still take requests
//! and whether it has answered any.
//!
//! The connector makes one [`Lifecycle`] per connection; the connection's
//! I/O marks it ready, going away (an HTTP/2 GOAWAY read, end of stream or
//! a read error) and ended (the connection dropped), and every response
//! and pool error of that connection carries it in its [`ConnectedAt`].
//! So the pool knows when an HTTP/2 connection stops taking new streams,
//! and the retry policy knows whether a connection
//! that failed a request had served others (a keep-alive connection the
//! server closed as the request went out, not a server that fails
//! requests).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The record of one connection, shared by its I/O, the pool's records of
/// it and the requests it answered.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    began: Instant,
    /// When hyper's handshake on the connection finished (right after the
    /// connect, TLS included).
    ready: OnceLock<Instant>,
    /// The peer: the server, or the proxy when one carries the requests.
    remote: Option<SocketAddr>,
    /// The server said it takes no new streams (HTTP/2 GOAWAY), or the
    /// connection is closed.
    unusable: AtomicBool,
    /// HTTP/2 response heads the server sent on this connection (counted
    /// as they are read, see `frame_watch`).
    heads: AtomicU32,
    /// When the last response head arrived on this connection, in
    /// nanoseconds since `began`; 0 while none has.
    last_answer: AtomicU64,
}

impl Lifecycle {
    /// A connection to `remote` whose connect began at `began`.
    pub(crate) fn new(began: Instant, remote: Option<SocketAddr>) -> Arc<Self> {
        Arc::new(Lifecycle {
            began,
            ready: OnceLock::new(),
            remote,
            unusable: AtomicBool::new(false),
            heads: AtomicU32::new(0),
            last_answer: AtomicU64::new(0),
        })
    }

    /// The peer: the server, or the proxy.
    pub(crate) fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// Marks the connection ready (the first call counts).
    pub(crate) fn ready(&self) {
        self.ready.get_or_init(Instant::now);
    }

    /// The server sent GOAWAY, or the connection ended: no new request
    /// should be sent on it.
    pub(crate) fn retire(&self) {
        self.unusable.store(true, Ordering::Release);
    }

    /// Whether new requests may still go on this connection.
    pub(crate) fn usable(&self) -> bool {
        !self.unusable.load(Ordering::Acquire)
    }

    /// The connection is gone (its I/O was dropped): it is retired.
    pub(crate) fn end(&self) {
        self.retire();
    }

    /// The server sent `n` more HTTP/2 response heads.
    pub(crate) fn heads_read(&self, n: u32) {
        if n > 0 {
            self.heads.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Whether the server answered any stream of this HTTP/2 connection:
    /// it processes requests here, so streams it refuses on it are turned
    /// away by connection recycling, not by a server that refuses all.
    pub(crate) fn served_streams(&self) -> bool {
        self.heads.load(Ordering::Relaxed) > 0
    }

    /// A response head arrived on this connection.
    pub(crate) fn answered(&self) {
        let since = u64::try_from(self.began.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_answer.store(since.max(1), Ordering::Relaxed);
    }

    /// How long since the connection's connect began.
    pub(crate) fn age(&self) -> Duration {
        self.began.elapsed()
    }

    /// Whether a response has come on this connection: a failure on it
    /// before the next response came may be the server closing it as the
    /// request went out.
    pub(crate) fn answered_before(&self) -> bool {
        self.last_answer.load(Ordering::Relaxed) != 0
    }

    /// How long ago the last response came on this connection, if any
    /// did.
    pub(crate) fn since_last_answer(&self) -> Option<Duration> {
        match self.last_answer.load(Ordering::Relaxed) {
            0 => None,
            at => Some(
                self.began
                    .elapsed()
                    .saturating_sub(Duration::from_nanos(at)),
            ),
        }
    }
}

/// A connection's record as response bodies (see `pool::OnConnection`)
/// and the pool's errors carry it.
#[derive(Clone, Debug)]
pub(crate) struct ConnectedAt(Arc<Lifecycle>);

impl ConnectedAt {
    pub(crate) fn new(lifecycle: Arc<Lifecycle>) -> Self {
        ConnectedAt(lifecycle)
    }

    /// The peer's address: the server's, or the proxy's.
    pub(crate) fn remote(&self) -> Option<SocketAddr> {
        self.0.remote_addr()
    }

    /// How much of an attempt that started at `sent` was spent waiting for
    /// this connection: none if it was ready before (reused from the pool).
    pub(crate) fn waited(&self, sent: Instant) -> Duration {
        let ready = self.0.ready.get().copied().unwrap_or(self.0.began);
        ready.saturating_duration_since(self.0.began.max(sent))
    }

    /// Whether `other` is the record of the same connection.
    pub(crate) fn same_connection(&self, other: &ConnectedAt) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The connection's live state.
    pub(crate) fn lifecycle(&self) -> &Lifecycle {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retired_connection_takes_no_more_requests() {
        let life = Lifecycle::new(Instant::now(), None);
        assert!(life.usable());
        life.retire();
        life.retire();
        assert!(!life.usable());
        let life = Lifecycle::new(Instant::now(), None);
        life.end();
        assert!(!life.usable(), "an ended one neither");
    }

    #[test]
    fn answers_are_timed() {
        let life = Lifecycle::new(Instant::now(), None);
        assert_eq!(life.since_last_answer(), None);
        assert!(!life.answered_before());
        life.answered();
        assert!(life.since_last_answer().unwrap() < Duration::from_secs(5));
        assert!(life.answered_before());
    }
}
