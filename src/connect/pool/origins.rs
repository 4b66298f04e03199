//! What the pool keeps for each origin between requests: its idle
//! HTTP/1.1 connections, its HTTP/2 connection, and the requests waiting
//! for a connection while one is made.
//!
//! - **Idle HTTP/1.1 connections** are a stack: the connection put back
//!   last is taken first, so under a light load the others stay idle long
//!   enough to expire and close, and the ones in use stay warm. One idle
//!   for the pool's idle timeout is closed, by the next request to its
//!   origin or by a sweep that runs while any is idle.
//! - **The line.** A request that finds none idle connects, and meanwhile
//!   waits in its origin's line: a connection put back goes to the first
//!   in line rather than to the stack, and that request drops its connect.
//!   So a request never waits on a connect while another connection to
//!   its origin is free, and when connects stall (no file descriptor left,
//!   a slow server) the connections already open carry the batch.
//! - **First contact.** Until a TLS handshake says (by ALPN) whether an
//!   origin speaks HTTP/2, one connection might carry every request to it.
//!   So one request connects (it *leads*), and the others that arrive
//!   meanwhile wait in line for what it finds: its HTTP/2 connection,
//!   shared at once, or word to connect on their own (HTTP/1.1, or it
//!   failed). The same happens each time the origin's HTTP/2 connection
//!   goes away (a GOAWAY, a close).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::Context;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::http1::Http1;
use super::http2::Http2;
use super::slots::Slots;
use super::{Key, Shared};

pub(super) struct Origins {
    origins: Mutex<HashMap<Key, Origin>>,
    timeout: Duration,
    max_idle: usize,
    /// HTTP/1.1 connections open or opening per origin (see `slots`).
    max_open: usize,
    /// A sweep is scheduled.
    sweeping: AtomicBool,
}

struct Origin {
    idle: Vec<Parked>,
    /// Its HTTP/1.1 connections open or opening, counted.
    slots: Arc<Slots>,
    /// Requests waiting for a connection, first come first served.
    line: VecDeque<Place>,
    http2: Option<Http2>,
    /// A connect is under way that may find HTTP/2 (see the module's
    /// first contact).
    leading: bool,
    /// The origin answered the last connect in HTTP/1.1: no request waits
    /// for another's connect.
    http1: bool,
}

impl Origin {
    fn new(max_open: usize) -> Self {
        Origin {
            idle: Vec::new(),
            slots: Slots::new(max_open),
            line: VecDeque::new(),
            http2: None,
            leading: false,
            http1: false,
        }
    }

    /// A place at the end of the line; `connecting` when its request
    /// makes a connection of its own meanwhile.
    fn place_in_line(&mut self, connecting: bool) -> oneshot::Receiver<Handed> {
        let (tx, rx) = oneshot::channel();
        self.line.push_back(Place { tx, connecting });
        rx
    }

    /// Follows the connect that leads the origin's first contact, or
    /// leads it when none does.
    fn follow_or_lead(&mut self, pool: &Arc<Shared>, key: &Key) -> Checkout {
        if self.leading {
            return Checkout::Follow(self.place_in_line(false));
        }
        self.leading = true;
        Checkout::Connect(Some(Lead::new(pool, key)))
    }
}

struct Parked {
    conn: Http1,
    since: Instant,
}

/// A request's place in line.
struct Place {
    tx: oneshot::Sender<Handed>,
    /// It makes a connection of its own meanwhile (else it waits for the
    /// one that leads).
    connecting: bool,
}

/// What a request in line is given.
pub(super) enum Handed {
    /// An HTTP/1.1 connection put back.
    Http1(Http1),
    /// The HTTP/2 connection the leading request made.
    Http2(Http2),
    /// The leading request found no HTTP/2 connection: connect.
    Connect,
}

/// Where a request's connection comes from.
pub(super) enum Checkout {
    Http1(Http1),
    Http2(Http2),
    /// Another request's connect will tell: wait for what it hands over.
    Follow(oneshot::Receiver<Handed>),
    /// Connect, leading the origin's first contact when `Some`.
    Connect(Option<Lead>),
}

/// The lead of an origin's first contact: publishes what the connect
/// found, and if dropped unpublished (the connect failed, or its request
/// was cancelled), sends those that followed it to connect on their own.
pub(super) struct Lead {
    pool: Arc<Shared>,
    key: Key,
    published: bool,
}

impl Lead {
    fn new(pool: &Arc<Shared>, key: &Key) -> Self {
        Lead {
            pool: pool.clone(),
            key: key.clone(),
            published: false,
        }
    }

    /// The connect found HTTP/2: every follower gets it.
    pub(super) fn found_http2(mut self, conn: &Http2) {
        self.pool.origins.publish(&self.key, Some(conn));
        self.published = true;
    }
}

impl Drop for Lead {
    fn drop(&mut self) {
        if !self.published {
            self.pool.origins.publish(&self.key, None);
        }
    }
}

impl Origins {
    pub(super) fn new(timeout: Duration, max_idle: usize, max_open: usize) -> Self {
        Origins {
            origins: Mutex::default(),
            timeout,
            max_idle,
            max_open,
            sweeping: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Origin>> {
        // A panic while holding it leaves at worst a connection too many.
        self.origins.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where `key`'s next request gets its connection: the HTTP/2
    /// connection, an idle HTTP/1.1 one that can take a request now, the
    /// connect another request leads, or a connect of its own (leading
    /// when `may_be_http2` and the origin's protocol is not known to be
    /// HTTP/1.1). The connections found closed or expired on the way are
    /// dropped.
    pub(super) fn checkout(
        &self,
        pool: &Arc<Shared>,
        key: &Key,
        may_be_http2: bool,
        cx: &mut Context<'_>,
    ) -> Checkout {
        let mut closed = Vec::new();
        let checkout = {
            let mut origins = self.lock();
            let Some(origin) = origins.get_mut(key) else {
                drop(origins);
                return self.first_checkout(pool, key, may_be_http2);
            };
            if let Some(conn) = &origin.http2 {
                if conn.usable() {
                    return Checkout::Http2(conn.clone());
                }
                origin.http2 = None;
            }
            let mut found = None;
            while let Some(mut parked) = origin.idle.pop() {
                if parked.since.elapsed() < self.timeout && parked.conn.reusable(cx) {
                    found = Some(parked.conn);
                    break;
                }
                closed.push(parked);
            }
            match found {
                Some(conn) => Checkout::Http1(conn),
                None if may_be_http2 && !origin.http1 => origin.follow_or_lead(pool, key),
                None => Checkout::Connect(None),
            }
        };
        // Closed outside the lock.
        drop(closed);
        checkout
    }

    /// The first request to an origin the pool holds nothing of.
    fn first_checkout(&self, pool: &Arc<Shared>, key: &Key, may_be_http2: bool) -> Checkout {
        if !may_be_http2 {
            return Checkout::Connect(None);
        }
        let mut origins = self.lock();
        // Another request may have got here in between.
        self.entry(&mut origins, key.clone())
            .follow_or_lead(pool, key)
    }

    /// `key`'s entry, made if it has none.
    fn entry<'a>(&self, origins: &'a mut HashMap<Key, Origin>, key: Key) -> &'a mut Origin {
        origins
            .entry(key)
            .or_insert_with(|| Origin::new(self.max_open))
    }

    /// A place in `key`'s line for a request that connects: it receives
    /// the first connection put back meanwhile. With the origin's slots,
    /// one of which its connect takes.
    pub(super) fn wait(&self, key: &Key) -> (oneshot::Receiver<Handed>, Arc<Slots>) {
        let mut origins = self.lock();
        let origin = self.entry(&mut origins, key.clone());
        (origin.place_in_line(true), origin.slots.clone())
    }

    /// The lead's outcome: an HTTP/2 connection for the origin and all
    /// who follow, or none (HTTP/1.1, or no connection), and the
    /// followers connect on their own.
    fn publish(&self, key: &Key, http2: Option<&Http2>) {
        let mut origins = self.lock();
        let Some(origin) = origins.get_mut(key) else {
            return;
        };
        origin.leading = false;
        if let Some(conn) = http2 {
            origin.http2 = Some(conn.clone());
            origin.http1 = false;
        }
        // Followers only: the others wait for a connection put back while
        // they make their own.
        let mut kept = VecDeque::new();
        for place in origin.line.drain(..) {
            if place.connecting {
                kept.push_back(place);
                continue;
            }
            let _ = place.tx.send(match http2 {
                Some(conn) => Handed::Http2(conn.clone()),
                None => Handed::Connect,
            });
        }
        origin.line = kept;
    }

    /// `conn` becomes `key`'s HTTP/2 connection if it has none usable.
    pub(super) fn adopt(&self, key: &Key, conn: &Http2) {
        let mut origins = self.lock();
        let origin = self.entry(&mut origins, key.clone());
        if !origin.http2.as_ref().is_some_and(Http2::usable) {
            origin.http2 = Some(conn.clone());
            origin.http1 = false;
        }
    }

    /// The origin answered in HTTP/1.1: later requests connect without
    /// waiting for another's connect.
    pub(super) fn speaks_http1(&self, key: &Key) {
        if let Some(origin) = self.lock().get_mut(key) {
            origin.http1 = true;
        }
    }

    /// The origin's HTTP/2 connection `conn` cannot take requests any
    /// more: the next request makes another.
    pub(super) fn retire(&self, key: &Key, conn: &Http2) {
        if let Some(origin) = self.lock().get_mut(key)
            && origin.http2.as_ref().is_some_and(|kept| kept.same(conn))
        {
            origin.http2 = None;
        }
    }

    /// Keeps `conn` for `key`'s next request: the first in its line, or
    /// its idle stack (unless the origin has as many idle as it may
    /// keep). `pool` starts the sweep when none is scheduled.
    pub(super) fn put(&self, key: Key, mut conn: Http1, pool: Weak<Shared>) {
        let refused = {
            let mut origins = self.lock();
            let origin = self.entry(&mut origins, key);
            while let Some(place) = origin.line.pop_front() {
                match place.tx.send(Handed::Http1(conn)) {
                    Ok(()) => return,
                    // That request connected first, or is gone.
                    Err(Handed::Http1(back)) => conn = back,
                    Err(_) => unreachable!("the value sent comes back"),
                }
            }
            if origin.idle.len() < self.max_idle {
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
        self.sweep_from(pool);
    }

    /// Makes sure a sweep is scheduled (`pool` is the pool's own).
    pub(super) fn sweep_from(&self, pool: Weak<Shared>) {
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
                if !pool.origins.sweep() {
                    return;
                }
            }
        });
    }

    /// Drops the expired connections, the HTTP/2 ones that went away or
    /// sat unused, and the places in line no request holds any more; false
    /// (and no sweep scheduled any more) when the pool keeps no
    /// connection.
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
                origin.line.retain(|place| !place.tx.is_closed());
                // An HTTP/2 connection with no answer for the idle timeout
                // is let go: hyper closes it once no request holds it and
                // its streams are done.
                if origin
                    .http2
                    .as_ref()
                    .is_some_and(|conn| !conn.usable() || conn.idle_for() >= self.timeout)
                {
                    origin.http2 = None;
                }
            }
            // An origin holding nothing is forgotten, what it spoke with
            // it: a crawl meets millions.
            origins.retain(|_, origin| {
                !origin.idle.is_empty()
                    || !origin.line.is_empty()
                    || origin.http2.is_some()
                    || origin.leading
                    // Its connections in use are still counted.
                    || !origin.slots.unused()
            });
            let any = origins
                .values()
                .any(|origin| !origin.idle.is_empty() || origin.http2.is_some());
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
