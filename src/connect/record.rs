//! What the client knows of one connection: when it was made, where it
//! goes, and, while the pool holds it, whether it can still take requests
//! and whether it has answered any.
//!
//! The connector makes one [`Lifecycle`] per connection; the connection's
//! I/O marks it ready, going away (an HTTP/2 GOAWAY read, end of stream or
//! a read error) and ended (the connection dropped), and every response
//! and pool error of that connection carries it in its [`ConnectedAt`].
//! So the first-contact connector knows when an HTTP/2 connection stops
//! taking new streams, and the retry policy knows whether a connection
//! that failed a request had sat idle after serving others (a keep-alive
//! connection the server closed idle, not a server that fails requests).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The record of one connection, shared by its I/O, the pool's records of
/// it and the first-contact connector.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    began: Instant,
    /// The first time hyper-util asked the connection what it is, which
    /// it does right after the connect (TLS included) resolves.
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
    changed: Notify,
    /// The connection is gone: hyper dropped its I/O.
    ended: AtomicBool,
    /// Woken when the connection ends; shared, so a request's response
    /// future can wait on it without borrowing the record.
    on_end: Arc<Notify>,
    /// Where an HTTP/2 connection reports its retirement to its client.
    turnover: OnceLock<Arc<Turnover>>,
}

/// Whether an HTTP/2 connection of a client has gone away (a GOAWAY, or
/// closed): from then on its requests are watched for being stranded
/// (see `stranded`), which costs a few thousand instructions a request
/// that a client whose connections stay up does not pay.
#[derive(Debug, Default)]
pub(crate) struct Turnover(AtomicBool);

impl Turnover {
    /// Whether a connection has gone away.
    pub(crate) fn seen(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
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
            changed: Notify::new(),
            ended: AtomicBool::new(false),
            on_end: Arc::new(Notify::new()),
            turnover: OnceLock::new(),
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
        if !self.unusable.swap(true, Ordering::AcqRel) {
            if let Some(turnover) = self.turnover.get() {
                turnover.0.store(true, Ordering::Relaxed);
            }
            self.changed.notify_waiters();
        }
    }

    /// This HTTP/2 connection reports its retirement to `turnover`.
    pub(crate) fn report_to(&self, turnover: &Arc<Turnover>) {
        let _ = self.turnover.set(turnover.clone());
    }

    /// Whether new requests may still go on this connection.
    pub(crate) fn usable(&self) -> bool {
        !self.unusable.load(Ordering::Acquire)
    }

    /// Waits until the connection is retired.
    pub(crate) async fn retired(&self) {
        let changed = self.changed.notified();
        tokio::pin!(changed);
        // Registered before the check, so a `retire` in between wakes it.
        changed.as_mut().enable();
        if self.usable() {
            changed.await;
        }
    }

    /// The connection is gone (its I/O was dropped): it is retired, and
    /// whatever is still waiting on it will not be answered by it.
    pub(crate) fn end(&self) {
        self.retire();
        if !self.ended.swap(true, Ordering::AcqRel) {
            self.on_end.notify_waiters();
        }
    }

    /// Whether the connection is gone.
    pub(crate) fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// A wait for the connection's end, which owns what it waits on.
    /// Check [`ended`](Self::ended) after enabling it: an end before
    /// that does not wake it.
    pub(crate) fn on_end(&self) -> tokio::sync::futures::OwnedNotified {
        self.on_end.clone().notified_owned()
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

    /// How long ago the last response came on this connection, if any
    /// did: a failure on a connection that sat idle that long may be the
    /// server closing it idle as the request went out.
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

/// A connection's record as responses and pool errors carry it
/// (hyper-util copies a connection's extras into each response's
/// extensions, and keeps them in an error's connect info).
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

    /// The connection's live state, kept.
    pub(crate) fn into_lifecycle(self) -> Arc<Lifecycle> {
        self.0
    }

    /// The record of the connection a pool error happened on, if the
    /// error names one.
    pub(crate) fn of_error(err: &hyper_util::client::legacy::Error) -> Option<ConnectedAt> {
        let mut extensions = http::Extensions::new();
        err.connect_info()?.get_extras(&mut extensions);
        extensions.remove::<ConnectedAt>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn retiring_wakes_every_waiter_once() {
        let life = Lifecycle::new(Instant::now(), None);
        assert!(life.usable());
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let life = life.clone();
                tokio::spawn(async move { life.retired().await })
            })
            .collect();
        tokio::task::yield_now().await;
        life.retire();
        life.retire();
        for w in waiters {
            tokio::time::timeout(Duration::from_secs(5), w)
                .await
                .expect("woken")
                .unwrap();
        }
        assert!(!life.usable());
        // Already retired: returns at once.
        life.retired().await;
    }

    #[test]
    fn answers_are_timed() {
        let life = Lifecycle::new(Instant::now(), None);
        assert_eq!(life.since_last_answer(), None);
        life.answered();
        assert!(life.since_last_answer().unwrap() < Duration::from_secs(5));
    }
}
