//! A connection pool of our own, on hyper's connection API
//! (`hyper::client::conn`): every request of the client goes through it.
//!
//! Connections are made by the client's connector (TCP, proxies, TLS with
//! ALPN, the connect timeout, descriptor back-pressure, the connection's
//! record), then hyper's handshake for the protocol the transport speaks:
//!
//! - **HTTP/1.1**: each connection is driven by the request that holds it
//!   (see `http1`), and kept idle by origin between requests. A request
//!   takes the origin's idle connection when there is one, and opens one
//!   otherwise; its response body gives the connection back the moment it
//!   ends, before the request lets go of its permits, and a connection
//!   put back goes first to a request waiting on a connect. So a batch
//!   holds no more connections to an origin than it has requests in flight
//!   there, and never waits on a connect while another sits idle.
//! - **HTTP/2**: one connection per origin, shared, its I/O on a task of
//!   its own (see `http2`); one request leads the first contact with an
//!   origin that may speak it, the others wait for what it finds (see
//!   `origins`).

mod body;
mod http1;
mod http2;
mod origins;
mod slots;

pub(crate) use body::{OnConnection, ResponseBody};

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Weak};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{Either, select};
use http::Uri;
use http::uri::{Authority, Scheme};
use http_body_util::Full;

use super::ConnectedAt;
use super::transport::Transport;
use crate::error::{BoxError, ConnectFailed};
use http1::{HeldBody, Http1};
use http2::Http2;
use hyper::body::Incoming;
use hyper::client::conn::TrySendError;
use hyper_util::rt::TokioExecutor;
use origins::{Checkout, Handed, Lead, Origins};
use slots::Slot;

/// What makes the pool's connections: the client's connector.
pub(crate) type Connector = Box<
    dyn Fn(Uri) -> Pin<Box<dyn Future<Output = Result<Transport, BoxError>> + Send>> + Send + Sync,
>;

/// The response future of a request sent through the pool (boxed: hyper's
/// send future cannot be named).
pub(crate) type Sending =
    Pin<Box<dyn Future<Output = Result<http::Response<ResponseBody>, BoxError>> + Send>>;

/// An origin, as the pool keys its connections: the URL's scheme and
/// authority as written. Compared and hashed as bytes, in one go (http's
/// own `Authority` hashes a byte at a time, ignoring case); request URLs
/// come normalised (lowercase host), so one origin has one spelling.
#[derive(Clone, Debug)]
pub(super) struct Key {
    scheme: Scheme,
    authority: Authority,
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.authority.as_str() == other.authority.as_str() && self.scheme == other.scheme
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(self.authority.as_str().as_bytes());
        state.write_u8(u8::from(self.scheme == Scheme::HTTPS));
    }
}

impl Key {
    fn of(uri: &Uri) -> Option<Key> {
        Some(Key {
            scheme: uri.scheme()?.clone(),
            authority: uri.authority()?.clone(),
        })
    }
}

/// The pool, shared by the client's clones.
#[derive(Clone)]
pub(crate) struct Pool(Arc<Shared>);

pub(super) struct Shared {
    origins: Origins,
    /// This, for what outlives a call (the idle sweep, a connection put
    /// back).
    me: Weak<Shared>,
    connector: Connector,
    http1: hyper::client::conn::http1::Builder,
    http2: hyper::client::conn::http2::Builder<TokioExecutor>,
    /// TLS offers `h2` by ALPN.
    alpn_offers_http2: bool,
    /// Plain `http` is HTTP/2 (h2c) by prior knowledge.
    prior_knowledge: bool,
}

/// How the pool's connections are set up.
pub(crate) struct Protocols {
    pub(crate) http1: hyper::client::conn::http1::Builder,
    pub(crate) http2: hyper::client::conn::http2::Builder<TokioExecutor>,
    pub(crate) alpn_offers_http2: bool,
    pub(crate) prior_knowledge: bool,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool whose connections `connector` makes and `protocols` set
    /// up, closed after `idle_timeout` idle, at most `max_idle_per_origin`
    /// kept idle per origin, and at most `max_open_per_origin` HTTP/1.1
    /// ones open or opening per origin.
    pub(crate) fn new(
        connector: Connector,
        protocols: Protocols,
        idle_timeout: Duration,
        max_idle_per_origin: usize,
        max_open_per_origin: usize,
    ) -> Self {
        Pool(Arc::new_cyclic(|me| Shared {
            origins: Origins::new(idle_timeout, max_idle_per_origin, max_open_per_origin),
            me: me.clone(),
            connector,
            http1: protocols.http1,
            http2: protocols.http2,
            alpn_offers_http2: protocols.alpn_offers_http2,
            prior_knowledge: protocols.prior_knowledge,
        }))
    }

    /// What closes the connection idle longest, of any origin (a
    /// descriptor is wanted); it says false when none is idle, or the pool
    /// is gone.
    pub(crate) fn closer_of_oldest_idle(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let pool = Arc::downgrade(&self.0);
        move || {
            pool.upgrade()
                .is_some_and(|pool| pool.origins.close_oldest())
        }
    }

    /// Sends `req` (absolute URL, `Host` set) on one of the pool's
    /// connections.
    pub(crate) fn send(&self, req: http::Request<Full<Bytes>>) -> Sending {
        Box::pin(send(self.0.clone(), req))
    }
}

async fn send(
    pool: Arc<Shared>,
    mut req: http::Request<Full<Bytes>>,
) -> Result<http::Response<ResponseBody>, BoxError> {
    let uri = req.uri().clone();
    let key = Key::of(&uri).ok_or("the request's URL has no scheme or host")?;
    let may_be_http2 = pool.may_be_http2(&uri);
    let new_connection = req.extensions().get::<NewConnection>().is_some();
    // Each turn that finds a connection unable to take the request (it
    // closed, or went away) tries another; a few are plenty.
    for _ in 0..MAX_TURNS {
        let checkout =
            poll_fn(|cx| Poll::Ready(pool.origins.checkout(&pool, &key, may_be_http2, cx))).await;
        let conn = match checkout {
            Checkout::Http2(conn) => Conn::Http2(conn),
            Checkout::Http1(conn) => Conn::Http1 { conn, reused: true },
            Checkout::Follow(place) => match place.await {
                Ok(Handed::Http2(conn)) => Conn::Http2(conn),
                Ok(Handed::Http1(conn)) => Conn::Http1 { conn, reused: true },
                // No HTTP/2 connection came of it (HTTP/1.1, or the connect
                // failed): connect, as every follower does at once.
                Ok(Handed::Connect) | Err(_) => pool.connect_or_wait(&key, &uri, None).await?,
            },
            Checkout::Connect(lead) => pool.connect_or_wait(&key, &uri, lead).await?,
        };
        // One that served others is let go for a connection made for the
        // request, on its slot: the last one it went out on was closing.
        let conn = match conn {
            Conn::Http1 { conn, .. }
                if new_connection && conn.connected().lifecycle().answered_before() =>
            {
                let slot = conn.into_slot();
                Shared::connect(pool.clone(), key.clone(), uri.clone(), None, slot).await?
            }
            conn => conn,
        };
        match conn {
            Conn::Http1 { mut conn, reused } => match conn.send(req).await {
                Ok(res) => {
                    let (head, body) = answered(res, conn.connected());
                    let body = HeldBody::new(body, conn, pool, key);
                    return Ok(http::Response::from_parts(head, ResponseBody::Held(body)));
                }
                Err(mut failed) => match failed.take_message() {
                    // A kept connection that closed before taking the
                    // request: it was not sent, so another one takes it.
                    Some(mut back) if reused => {
                        *back.uri_mut() = uri.clone();
                        req = back;
                    }
                    _ => return Err(failure(conn.connected(), failed)),
                },
            },
            Conn::Http2(conn) => match conn.send(req).await {
                Ok(res) => {
                    let (head, body) = answered(res, conn.connected());
                    let connected = conn.connected().clone();
                    return Ok(http::Response::from_parts(
                        head,
                        ResponseBody::Streams(body, connected),
                    ));
                }
                Err(mut failed) => match failed.take_message() {
                    // A connection that failed before answering anything
                    // (refused at its start): what it failed with is the
                    // request's answer, not another connection.
                    Some(_) if conn.failed_unanswered() => {
                        pool.origins.retire(&key, &conn);
                        return Err(conn.failure_of_start());
                    }
                    // The connection went away before taking it: not sent.
                    Some(back) => {
                        pool.origins.retire(&key, &conn);
                        req = back;
                    }
                    None => return Err(failure(conn.connected(), failed)),
                },
            },
        }
    }
    Err(format!(
        "{MAX_TURNS} connections to {} in a row could not take the request",
        key.authority
    )
    .into())
}

/// How many connections a request tries that turn out unable to take it.
const MAX_TURNS: usize = 8;

/// A connection a request got.
enum Conn {
    Http1 { conn: Http1, reused: bool },
    Http2(Http2),
}

/// A response that came on `connected`, noted in the connection's record
/// (for the retry policy's reading of a later failure on it).
fn answered(
    res: http::Response<Incoming>,
    connected: &ConnectedAt,
) -> (http::response::Parts, Incoming) {
    connected.lifecycle().answered();
    res.into_parts()
}

fn failure(connected: &ConnectedAt, failed: TrySendError<http::Request<Full<Bytes>>>) -> BoxError {
    Box::new(SendFailed {
        connected: connected.clone(),
        source: failed.into_error(),
    })
}

impl Shared {
    /// Whether a connection for `uri` may turn out to speak HTTP/2.
    fn may_be_http2(&self, uri: &Uri) -> bool {
        if uri.scheme() == Some(&Scheme::HTTPS) {
            self.alpn_offers_http2
        } else {
            self.prior_knowledge
        }
    }

    /// A new connection, or the first of the origin's put back while it
    /// is made (whichever comes first; see `origins`). Leading the
    /// origin's first contact with `lead`.
    ///
    /// The connect waits for one of the origin's slots first (see
    /// `slots`). One that has begun when a connection is handed over goes
    /// on by itself, and its connection joins the origin's idle ones: the
    /// server has likely accepted it already, and dropping it half made
    /// would only make the next request connect again.
    async fn connect_or_wait(
        self: &Arc<Self>,
        key: &Key,
        uri: &Uri,
        lead: Option<Lead>,
    ) -> Result<Conn, BoxError> {
        let (mut place, slots) = self.origins.wait(key);
        let slot = match select(pin!(slots.take()), &mut place).await {
            Either::Left((slot, _)) => slot,
            Either::Right((handed, taking)) => match handed {
                Ok(Handed::Http1(conn)) => return Ok(Conn::Http1 { conn, reused: true }),
                Ok(Handed::Http2(conn)) => return Ok(Conn::Http2(conn)),
                // Not given to a request that connects; and the line is
                // gone only with the pool's state.
                Ok(Handed::Connect) | Err(_) => taking.await,
            },
        };
        let mut connect = Shared::connect(self.clone(), key.clone(), uri.clone(), lead, slot);
        match select(connect.as_mut(), &mut place).await {
            Either::Left((made, _)) => {
                // One may have been handed over just now: keep it.
                place.close();
                if let Ok(Handed::Http1(conn)) = place.try_recv() {
                    self.origins.put(key.clone(), conn, self.me.clone());
                }
                made
            }
            Either::Right((Ok(Handed::Http1(conn)), _)) => {
                self.finish_alone(key, connect);
                Ok(Conn::Http1 { conn, reused: true })
            }
            Either::Right((Ok(Handed::Http2(conn)), _)) => {
                self.finish_alone(key, connect);
                Ok(Conn::Http2(conn))
            }
            Either::Right((Ok(Handed::Connect) | Err(_), _)) => connect.await,
        }
    }

    /// Lets `connect`, whose request was served by another connection,
    /// finish on a task of its own; an HTTP/1.1 connection it makes is
    /// kept for the origin (an HTTP/2 one the connect keeps itself).
    fn finish_alone(&self, key: &Key, connect: Connecting) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (key, pool) = (key.clone(), self.me.clone());
        runtime.spawn(async move {
            if let Ok(Conn::Http1 { conn, .. }) = connect.await
                && let Some(shared) = pool.upgrade()
            {
                shared.origins.put(key, conn, pool);
            }
        });
    }

    /// A new connection to `uri`'s origin, HTTP/2 or HTTP/1.1 as its
    /// transport says, on `slot`; what it found published by `lead`. An
    /// HTTP/2 connection lets its slot go: slots count HTTP/1.1 ones.
    fn connect(
        pool: Arc<Shared>,
        key: Key,
        uri: Uri,
        lead: Option<Lead>,
        slot: Slot,
    ) -> Connecting {
        Box::pin(async move {
            let transport = (pool.connector)(uri).await.map_err(ConnectFailed)?;
            let connected = ConnectedAt::new(transport.lifecycle().clone());
            if transport.http2_lifecycle().is_some() {
                drop(slot);
                let conn = Http2::handshake(&pool.http2, transport, connected)
                    .await
                    .map_err(|e| Box::new(ConnectFailed(e.into())) as BoxError)?;
                match lead {
                    Some(lead) => lead.found_http2(&conn),
                    // Kept for the origin if it has none (a follower's
                    // connect after its lead failed).
                    None => pool.origins.adopt(&key, &conn),
                }
                pool.origins.sweep_from(pool.me.clone());
                return Ok(Conn::Http2(conn));
            }
            pool.origins.speaks_http1(&key);
            drop(lead);
            let conn = Http1::handshake(&pool.http1, transport, connected, slot)
                .await
                .map_err(|e| Box::new(ConnectFailed(e.into())) as BoxError)?;
            Ok(Conn::Http1 {
                conn,
                reused: false,
            })
        })
    }
}

/// A connect under way (see [`Shared::connect`]); boxed, so it can be
/// left to finish on a task of its own.
type Connecting = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

/// Marks a request to be sent on a connection made for it, not on one
/// that served others: the last one it went out on closed under it (see
/// `retry::classify::Redispatch::StaleConnection`), and the others kept
/// may be closing the same way.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NewConnection;

/// The request failed on its connection (after it was handed to it).
#[derive(Debug, thiserror::Error)]
#[error("the request failed on its connection")]
pub(crate) struct SendFailed {
    connected: ConnectedAt,
    #[source]
    source: hyper::Error,
}

impl SendFailed {
    /// The connection the request failed on.
    pub(crate) fn connected(&self) -> &ConnectedAt {
        &self.connected
    }
}
