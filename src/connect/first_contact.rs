//! One handshake, not `concurrency` of them, on first contact with an HTTPS
//! origin, and again each time its HTTP/2 connection goes away.
//!
//! Until a TLS handshake says (by ALPN) that an origin speaks HTTP/2, the
//! pool cannot know that one connection would carry every request. So a
//! batch that opens with 100 requests to a new HTTPS host starts 100
//! handshakes, and hyper-util throws 99 of them away once the first says
//! `h2`: wasted CPU on both sides, and 99 connections the server counts
//! against its limits. The same happens whenever the origin's HTTP/2
//! connection goes away (a GOAWAY after nginx's 1,000 requests, a load
//! balancer recycling it): every request that needs the next connection
//! starts a handshake of its own.
//!
//! This connector lets one connect to an origin go at a time; the ones that
//! arrive meanwhile follow it:
//!
//! - while its handshake runs, they wait for its outcome;
//! - HTTP/1.1, or a failure: they connect as usual;
//! - HTTP/2: the pool is about to hand that connection to their requests,
//!   and then drops (or detaches) these connects. When the connection
//!   cannot take requests any more (GOAWAY, closed) before that, they start
//!   over: the first to do so leads the next connect. One still waiting
//!   after a short while belongs to a request the pool will not hand the
//!   connection to, and ends with an error that has the request sent again
//!   at once (not a failure: nothing was sent). The whole wait is bounded
//!   by the connect timeout.
//!
//! Whether the connection can take requests is its [`Lifecycle`], which
//! its I/O updates the moment a GOAWAY arrives or the connection ends.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::future::{Either, select};

use http::Uri;
use tokio::sync::watch;

use super::record::{Lifecycle, Turnover};
use super::transport::Transport;
use crate::error::BoxError;

/// How long a connect that follows an HTTP/2 connection waits, from its own
/// start, for the pool to hand that connection to its request. The pool
/// has it a few milliseconds after the TLS handshake. Counted from the
/// start, not from the handshake: a request whose connect waited out a
/// slow handshake is sent again at once, where the pool has (or is about
/// to have) the connection, and under fast connection turnover that is
/// much quicker than another wait.
const HAND_OVER: Duration = Duration::from_millis(250);

/// How much longer than the connect timeout a whole connect may take, so
/// that a stage with a deadline of its own (TCP, a proxy's answer), which
/// counts from a moment later, reports its timeout first.
const STAGE_SLACK: Duration = Duration::from_millis(100);

/// A connect that followed another one to an HTTP/2 connection, whose
/// request the pool did not hand that connection to: nothing was sent, so
/// the request is sent again at once (see `retry::classify`).
#[derive(Debug, thiserror::Error)]
#[error("the pool did not hand this request the HTTP/2 connection another request opened")]
pub(crate) struct NotHandedOver;

/// What the connect that leads an origin found.
#[derive(Clone, Debug)]
enum Outcome {
    /// An HTTP/2 connection, usable while its lifecycle says so.
    Http2(Arc<Lifecycle>),
    /// HTTP/1.1, or no connection: others connect on their own.
    Other,
}

impl Outcome {
    /// Whether connects to the origin should still follow this one.
    fn holds(outcome: &Option<Outcome>) -> bool {
        match outcome {
            None => true,
            Some(Outcome::Http2(conn)) => conn.usable(),
            Some(Outcome::Other) => false,
        }
    }
}

type Origins = Arc<Mutex<HashMap<String, watch::Receiver<Option<Outcome>>>>>;

/// The connector of the pool, behind one `Arc`: hyper-util clones its
/// connector for every request, a connection needed or not (its lazy
/// connect future owns one), and the connectors below are half a dozen
/// `Arc`s and settings. Here a request clones one `Arc`; a connect clones
/// the connectors below, once per new connection.
#[derive(Debug)]
pub(crate) struct FirstContact<C> {
    shared: Arc<Shared<C>>,
}

impl<C> Clone for FirstContact<C> {
    fn clone(&self) -> Self {
        FirstContact {
            shared: self.shared.clone(),
        }
    }
}

#[derive(Debug)]
struct Shared<C> {
    inner: C,
    /// Off when ALPN cannot surprise us: HTTP/1 only, or HTTP/2 by prior
    /// knowledge (where hyper-util already connects once per origin).
    enabled: bool,
    /// How long a connect may follow another one.
    patience: Duration,
    origins: Origins,
    /// Where the client's HTTP/2 connections report going away.
    turnover: Arc<Turnover>,
}

impl<C> FirstContact<C> {
    pub(crate) fn new(
        inner: C,
        enabled: bool,
        patience: Duration,
        turnover: Arc<Turnover>,
    ) -> Self {
        FirstContact {
            shared: Arc::new(Shared {
                inner,
                enabled,
                patience,
                origins: Arc::default(),
                turnover,
            }),
        }
    }
}

enum Role {
    Leader(Leader),
    Follower(watch::Receiver<Option<Outcome>>),
}

/// The connect that leads an origin. Publishes its outcome; if dropped
/// before that, its followers connect on their own.
struct Leader {
    key: String,
    origins: Origins,
    outcome: watch::Sender<Option<Outcome>>,
}

impl Leader {
    fn publish(self, outcome: Outcome) {
        let other = matches!(outcome, Outcome::Other);
        let _ = self.outcome.send(Some(outcome));
        // An HTTP/2 entry stays while its connection is usable; anything
        // else frees the origin at once.
        if other {
            self.forget();
        }
    }

    fn forget(&self) {
        let mut origins = self.origins.lock().unwrap_or_else(|p| p.into_inner());
        // Only this leader's own entry: a later leader may have replaced it.
        if origins
            .get(&self.key)
            .is_some_and(|rx| rx.same_channel(&self.outcome.subscribe()))
        {
            origins.remove(&self.key);
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if self.outcome.borrow().is_none() {
            let _ = self.outcome.send(Some(Outcome::Other));
            self.forget();
        }
    }
}

impl<C> Shared<C> {
    fn role(&self, key: &str) -> Role {
        let mut origins = self.origins.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rx) = origins.get(key)
            && Outcome::holds(&rx.borrow())
        {
            return Role::Follower(rx.clone());
        }
        if origins.len() > 1024 {
            // Forget origins whose connection is gone.
            origins.retain(|_, rx| Outcome::holds(&rx.borrow()));
        }
        let (tx, rx) = watch::channel(None);
        origins.insert(key.to_owned(), rx);
        Role::Leader(Leader {
            key: key.to_owned(),
            origins: self.origins.clone(),
            outcome: tx,
        })
    }

    /// `stream`, which reports to the client when it goes away if it is
    /// an HTTP/2 connection.
    fn reporting(&self, stream: Transport) -> Transport {
        if let Some(conn) = stream.http2_lifecycle() {
            conn.report_to(&self.turnover);
        }
        stream
    }
}

impl<C> tower::Service<Uri> for FirstContact<C>
where
    C: tower::Service<Uri, Response = Transport> + Clone + Send + Sync + 'static,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = Transport;
    type Error = BoxError;
    // Boxed: once per new connection, not per request.
    type Future = Pin<Box<dyn Future<Output = Result<Transport, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Each connect readies a clone of its own (see `connect`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move {
            let key = crate::origin::key(&dst);
            let patience = shared.patience;
            let following = AtomicBool::new(false);
            // Only TLS can turn out to be HTTP/2 by surprise.
            let connect = async {
                if !shared.enabled || dst.scheme_str() != Some("https") {
                    connect(shared.inner.clone(), dst).await
                } else {
                    first_contact(&shared, &key, dst, &following).await
                }
            };
            // The whole connect is bounded by the connect timeout, the TLS
            // handshake included, which has no deadline of its own. The
            // stages that have one (TCP, a proxy's answer) report their own
            // timeouts, which name the stage: the bound leaves them a
            // moment to.
            match tokio::time::timeout(patience + STAGE_SLACK, connect).await {
                Ok(result) => result.map(|stream| shared.reporting(stream)),
                Err(_) if following.load(Ordering::Relaxed) => Err(BoxError::from(format!(
                    "waited {patience:?} (the connect timeout) for the HTTP/2 connection \
                     to {key} that another request opened"
                ))),
                Err(_) => Err(BoxError::from(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the connect to {key} took longer than the connect timeout ({patience:?})"
                    ),
                ))),
            }
        })
    }
}

/// Leads the connect to the origin `key`, or follows the one under way.
async fn first_contact<C>(
    shared: &Shared<C>,
    key: &str,
    dst: Uri,
    following: &AtomicBool,
) -> Result<Transport, BoxError>
where
    C: tower::Service<Uri, Response = Transport> + Clone,
    C::Error: Into<BoxError>,
{
    let began = Instant::now();
    loop {
        match shared.role(key) {
            Role::Leader(leader) => {
                following.store(false, Ordering::Relaxed);
                let result = connect(shared.inner.clone(), dst).await;
                leader.publish(
                    match result.as_ref().ok().and_then(Transport::http2_lifecycle) {
                        Some(conn) => Outcome::Http2(conn.clone()),
                        None => Outcome::Other,
                    },
                );
                return result;
            }
            Role::Follower(mut outcome) => {
                following.store(true, Ordering::Relaxed);
                let seen = match outcome.wait_for(Option::is_some).await {
                    Ok(seen) => seen.clone(),
                    Err(_) => None,
                };
                let Some(Outcome::Http2(conn)) = seen else {
                    return connect(shared.inner.clone(), dst).await;
                };
                // The pool hands this connection to waiting requests, and
                // then drops (or detaches) this connect. Should it go away
                // first, look again. A connect still waiting after a while
                // belongs to a request the pool will not hand it to (its
                // wait for a pooled connection ended with one that had
                // closed): that request is sent again from the start,
                // where the pool has the connection.
                let retired = pin!(conn.retired());
                let hand_over = pin!(tokio::time::sleep_until((began + HAND_OVER).into()));
                if let Either::Right(((), _)) = select(retired, hand_over).await {
                    return Err(Box::new(NotHandedOver));
                }
            }
        }
    }
}

/// Connects on `inner`, a clone of the shared connector.
async fn connect<C>(mut inner: C, dst: Uri) -> Result<C::Response, BoxError>
where
    C: tower::Service<Uri>,
    C::Error: Into<BoxError>,
{
    use tower::ServiceExt;
    inner.ready().await.map_err(Into::into)?;
    inner.call(dst).await.map_err(Into::into)
}
