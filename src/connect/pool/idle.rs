//! The pool's HTTP/1.1 connections between requests, by origin: the idle
//! ones, and the requests waiting for one while they connect.
//!
//! Each origin's idle connections are a stack: the connection put back
//! last is taken first, so under a light load the others stay idle long
//! enough to expire and close, and the ones in use stay warm. A
//! connection idle for the pool's idle timeout is closed, by the next
//! request to its origin or by a sweep that runs while any is idle.
//!
//! A request that finds none idle connects, and meanwhile waits in its
//! origin's line: a connection put back goes to the first in line rather
//! than to the idle stack, and that request drops its connect. So a
//! request never waits on a connect while another connection to its
//! origin is free, and when connects stall (no file descriptor left, a
//! slow server) the connections already open carry the batch.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Weak};
use std::task::Context;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::http1::Http1;
use super::{Key, Shared};

pub(super) struct IdleSet {
    origins: Mutex<HashMap<Key, Origin>>,
    timeout: Duration,
    max_per_origin: usize,
    /// A sweep is scheduled.
    sweeping: AtomicBool,
}

#[derive(Default)]
struct Origin {
    idle: Vec<Parked>,
    /// Requests connecting, first come first served.
    line: VecDeque<oneshot::Sender<Http1>>,
}

struct Parked {
    conn: Http1,
    since: Instant,
}

impl IdleSet {
    pub(super) fn new(timeout: Duration, max_per_origin: usize) -> Self {
        IdleSet {
            origins: Mutex::default(),
            timeout,
            max_per_origin,
            sweeping: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Origin>> {
        // A panic while holding it leaves at worst a connection too many.
        self.origins.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle connection to `key` that can take a request now, if there
    /// is one; the ones found closed or expired on the way are dropped.
    pub(super) fn take(&self, key: &Key, cx: &mut Context<'_>) -> Option<Http1> {
        let mut closed = Vec::new();
        let found = {
            let mut origins = self.lock();
            let origin = origins.get_mut(key)?;
            let mut found = None;
            while let Some(mut parked) = origin.idle.pop() {
                if parked.since.elapsed() < self.timeout && parked.conn.reusable(cx) {
                    found = Some(parked.conn);
                    break;
                }
                closed.push(parked);
            }
            found
        };
        // Closed outside the lock.
        drop(closed);
        found
    }

    /// A place in `key`'s line, for a request that connects: it receives
    /// the first connection put back meanwhile.
    pub(super) fn wait(&self, key: &Key) -> oneshot::Receiver<Http1> {
        let (tx, rx) = oneshot::channel();
        self.lock()
            .entry(key.clone())
            .or_default()
            .line
            .push_back(tx);
        rx
    }

    /// Keeps `conn` for `key`'s next request: the first in its line, or
    /// its idle stack (unless the origin has as many idle as it may
    /// keep). `pool` starts the sweep when none is scheduled.
    pub(super) fn put(&self, key: Key, mut conn: Http1, pool: Weak<Shared>) {
        let refused = {
            let mut origins = self.lock();
            let origin = origins.entry(key).or_default();
            loop {
                let Some(next) = origin.line.pop_front() else {
                    break;
                };
                match next.send(conn) {
                    Ok(()) => return,
                    // That request connected first, or is gone.
                    Err(back) => conn = back,
                }
            }
            if origin.idle.len() < self.max_per_origin {
                origin.idle.push(Parked {
                    conn,
                    since: Instant::now(),
                });
                None
            } else {
                Some(conn)
            }
        };
        drop(refused);
        if !self.sweeping.swap(true, Ordering::AcqRel) {
            self.schedule_sweep(pool);
        }
    }

    /// Closes the connections idle for the timeout, every half timeout,
    /// while any connection is idle (so an origin never asked again does
    /// not keep its descriptors).
    fn schedule_sweep(&self, pool: Weak<Shared>) {
        let every = (self.timeout / 2).max(Duration::from_millis(100));
        // A pool used outside a runtime has no sweep, only the checks at
        // each request.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.sweeping.store(false, Ordering::Release);
            return;
        };
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(pool) = pool.upgrade() else { return };
                if !pool.idle.sweep() {
                    return;
                }
            }
        });
    }

    /// Drops the expired connections and the places in line no request
    /// holds any more; false (and no sweep scheduled any more) when no
    /// connection is left idle.
    fn sweep(&self) -> bool {
        let mut expired = Vec::new();
        let any = {
            let mut origins = self.lock();
            for origin in origins.values_mut() {
                expired.extend(
                    origin
                        .idle
                        .extract_if(.., |p| p.since.elapsed() >= self.timeout),
                );
                origin.line.retain(|place| !place.is_closed());
            }
            origins.retain(|_, origin| !origin.idle.is_empty() || !origin.line.is_empty());
            let any = origins.values().any(|origin| !origin.idle.is_empty());
            if !any {
                self.sweeping.store(false, Ordering::Release);
            }
            any
        };
        // Closed outside the lock.
        drop(expired);
        any
    }

    /// Closes the idle connection that has been idle longest, of any
    /// origin; false when none is idle.
    pub(super) fn close_oldest(&self) -> bool {
        let oldest = {
            let mut origins = self.lock();
            let Some(origin) = origins
                .values_mut()
                .filter(|origin| !origin.idle.is_empty())
                .min_by_key(|origin| origin.idle[0].since)
            else {
                return false;
            };
            origin.idle.remove(0)
        };
        drop(oldest);
        true
    }
}
