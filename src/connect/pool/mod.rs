//! A connection pool of our own, on hyper's connection API: for now the
//! plain-`http` HTTP/1.1 requests, direct or through a proxy (the others
//! still go through hyper-util's pool).
//!
//! Connections are made by the client's connector (TCP, the connect
//! timeout, descriptor back-pressure, the connection's record) and
//! hyper's `client::conn::http1` handshake. Each is driven by the request
//! that holds it (see `http1`), and kept idle by origin between requests
//! (see `idle`). A request takes the origin's idle connection when there
//! is one, and opens one otherwise; its response body gives the
//! connection back the moment it ends, before the request lets go of its
//! permits. So a batch holds no more connections to an origin than it has
//! requests in flight there, and never opens one while another sits idle.

mod http1;
mod idle;

pub(crate) use http1::HeldBody;

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
use tower::ServiceExt;

use super::ConnectedAt;
use super::transport::Transport;
use crate::error::{BoxError, ConnectFailed};
use http1::Http1;
use idle::IdleSet;

/// What makes the pool's connections: the client's connector.
pub(crate) type Connector = Box<
    dyn Fn(Uri) -> Pin<Box<dyn Future<Output = Result<Transport, BoxError>> + Send>> + Send + Sync,
>;

/// The response future of a request sent through the pool (boxed: hyper's
/// send future cannot be named; hyper-util boxes its own as well).
pub(crate) type Sending =
    Pin<Box<dyn Future<Output = Result<http::Response<HeldBody>, BoxError>> + Send>>;

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
    idle: IdleSet,
    /// This, for what outlives a call (the idle sweep, a connection put
    /// back).
    me: Weak<Shared>,
    connector: Connector,
    http1: hyper::client::conn::http1::Builder,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool whose connections `connector` makes and `http1` sets up,
    /// closed after `idle_timeout` idle, at most `max_idle_per_origin`
    /// kept idle per origin.
    pub(crate) fn new(
        connector: Connector,
        http1: hyper::client::conn::http1::Builder,
        idle_timeout: Duration,
        max_idle_per_origin: usize,
    ) -> Self {
        Pool(Arc::new_cyclic(|me| Shared {
            idle: IdleSet::new(idle_timeout, max_idle_per_origin),
            me: me.clone(),
            connector,
            http1,
        }))
    }

    /// What closes the connection idle longest, of any origin (a
    /// descriptor is wanted); it says false when none is idle, or the pool
    /// is gone.
    pub(crate) fn closer_of_oldest_idle(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let pool = Arc::downgrade(&self.0);
        move || pool.upgrade().is_some_and(|pool| pool.idle.close_oldest())
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
) -> Result<http::Response<HeldBody>, BoxError> {
    let uri = req.uri().clone();
    let key = Key::of(&uri).ok_or("the request's URL has no scheme or host")?;
    loop {
        let (mut conn, reused) = match poll_fn(|cx| Poll::Ready(pool.idle.take(&key, cx))).await {
            Some(conn) => (conn, true),
            None => pool.connect_or_wait(&key, &uri).await?,
        };
        match conn.send(req).await {
            Ok(res) => {
                let (mut head, body) = res.into_parts();
                let connected = conn.connected().clone();
                connected.lifecycle().answered();
                head.extensions.insert(connected);
                let body = HeldBody::new(body, conn, pool, key);
                return Ok(http::Response::from_parts(head, body));
            }
            Err(mut failed) => match failed.take_message() {
                // A kept connection that closed before taking the request:
                // it was not sent, so another connection takes it.
                Some(mut back) if reused => {
                    *back.uri_mut() = uri.clone();
                    req = back;
                }
                _ => {
                    return Err(Box::new(SendFailed {
                        connected: conn.connected().clone(),
                        source: failed.into_error(),
                    }));
                }
            },
        }
    }
}

impl Shared {
    /// A new connection, or the first one of the origin's put back while
    /// it is made (whichever comes first; see `idle`); true for one that
    /// served requests before.
    async fn connect_or_wait(&self, key: &Key, uri: &Uri) -> Result<(Http1, bool), BoxError> {
        let mut place = self.idle.wait(key);
        let connect = pin!(self.connect(uri));
        match select(connect, &mut place).await {
            Either::Left((made, _)) => {
                // One may have been handed over just now: keep it.
                place.close();
                if let Ok(conn) = place.try_recv() {
                    self.idle.put(key.clone(), conn, self.me.clone());
                }
                made.map(|conn| (conn, false))
            }
            Either::Right((Ok(conn), _)) => Ok((conn, true)),
            // The line is gone with the pool's state; the connect goes on.
            Either::Right((Err(_), connect)) => connect.await.map(|conn| (conn, false)),
        }
    }

    async fn connect(&self, uri: &Uri) -> Result<Http1, BoxError> {
        let transport = (self.connector)(uri.clone()).await.map_err(ConnectFailed)?;
        let connected = ConnectedAt::new(transport.lifecycle().clone());
        Http1::handshake(&self.http1, transport, connected)
            .await
            .map_err(|e| Box::new(ConnectFailed(e.into())) as BoxError)
    }
}

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

/// A connector for the pool made of a tower one.
pub(crate) fn connector<C>(inner: C) -> Connector
where
    C: tower::Service<Uri, Response = Transport, Error = BoxError> + Clone + Send + Sync + 'static,
    C::Future: Send + 'static,
{
    Box::new(move |uri| Box::pin(inner.clone().oneshot(uri)))
}
