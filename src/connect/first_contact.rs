//! One handshake, not `concurrency` of them, on first contact with an HTTPS
//! origin.
//!
//! Until a TLS handshake says (by ALPN) that an origin speaks HTTP/2, the
//! pool cannot know that one connection would carry every request. So a
//! batch that opens with 100 requests to a new HTTPS host starts 100
//! handshakes, and hyper-util throws 99 of them away once the first says
//! `h2`: wasted CPU on both sides, and 99 connections the server counts
//! against its limits.
//!
//! This connector lets the first connect to an origin go alone. The ones
//! that arrive meanwhile wait for its outcome. HTTP/1.1 (or a failure):
//! they connect as usual. HTTP/2: their requests are about to be served by
//! the pool from the new connection, which drops or detaches these connect
//! attempts; one that is still waiting after a grace period ends with an
//! error instead of a second handshake (the retry policy treats it as the
//! connect error it is).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::Uri;
use hyper_util::client::legacy::connect::Connection;
use tokio::sync::watch;

use crate::error::BoxError;

/// How long after an HTTP/2 handshake other connects to that origin are
/// held back. The pool has the connection a few milliseconds after the
/// handshake; this is ample.
const GRACE: Duration = Duration::from_millis(200);

/// What the first connect to an origin found.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    Http2 {
        at: Instant,
    },
    /// HTTP/1.1, or no connection: others connect on their own.
    Other,
}

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
    origins: Arc<Mutex<HashMap<String, watch::Receiver<Option<Outcome>>>>>,
}

impl<C> FirstContact<C> {
    pub(crate) fn new(inner: C, enabled: bool) -> Self {
        FirstContact {
            shared: Arc::new(Shared {
                inner,
                enabled,
                origins: Arc::default(),
            }),
        }
    }
}

enum Role {
    Leader(Leader),
    Follower(watch::Receiver<Option<Outcome>>),
}

/// The first connect to an origin. Publishes its outcome; if dropped
/// before that, its followers connect on their own.
struct Leader {
    key: String,
    origins: Arc<Mutex<HashMap<String, watch::Receiver<Option<Outcome>>>>>,
    outcome: watch::Sender<Option<Outcome>>,
}

impl Leader {
    fn publish(self, outcome: Outcome) {
        let _ = self.outcome.send(Some(outcome));
        // An HTTP/2 entry stays for the grace period; anything else frees
        // the origin at once.
        if matches!(outcome, Outcome::Other) {
            self.forget();
        }
    }

    fn forget(&self) {
        let mut origins = self.origins.lock().unwrap_or_else(|p| p.into_inner());
        origins.remove(&self.key);
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
    fn role(&self, key: String) -> Role {
        let mut origins = self.origins.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rx) = origins.get(&key) {
            let live = match *rx.borrow() {
                None => true,
                Some(Outcome::Http2 { at }) => at.elapsed() < GRACE,
                Some(Outcome::Other) => false,
            };
            if live {
                return Role::Follower(rx.clone());
            }
        }
        if origins.len() > 1024 {
            // Forget origins whose grace is over.
            origins.retain(|_, rx| match *rx.borrow() {
                None => true,
                Some(Outcome::Http2 { at }) => at.elapsed() < GRACE,
                Some(Outcome::Other) => false,
            });
        }
        let (tx, rx) = watch::channel(None);
        origins.insert(key.clone(), rx);
        Role::Leader(Leader {
            key,
            origins: self.origins.clone(),
            outcome: tx,
        })
    }
}

impl<C> tower::Service<Uri> for FirstContact<C>
where
    C: tower::Service<Uri> + Clone + Send + 'static,
    C::Response: Connection + Send,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    // Boxed: once per new connection, not per request.
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Each connect readies a clone of its own (see `connect`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let shared = &*self.shared;
        let inner = shared.inner.clone();
        // Only TLS can turn out to be HTTP/2 by surprise.
        if !shared.enabled || dst.scheme_str() != Some("https") {
            return Box::pin(connect(inner, dst));
        }
        match shared.role(crate::origin::key(&dst)) {
            Role::Leader(leader) => Box::pin(async move {
                let result = connect(inner, dst).await;
                let outcome = match &result {
                    Ok(io) if io.connected().is_negotiated_h2() => {
                        Outcome::Http2 { at: Instant::now() }
                    }
                    _ => Outcome::Other,
                };
                leader.publish(outcome);
                result
            }),
            Role::Follower(mut outcome) => Box::pin(async move {
                let seen = match outcome.wait_for(Option::is_some).await {
                    Ok(seen) => *seen,
                    Err(_) => None,
                };
                if let Some(Outcome::Http2 { at }) = seen {
                    tokio::time::sleep_until((at + GRACE).into()).await;
                    return Err(BoxError::from(
                        "a new HTTP/2 connection to this origin was to carry the request, \
                         but the pool did not hand it over",
                    ));
                }
                connect(inner, dst).await
            }),
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
