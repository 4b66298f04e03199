//! The pool's connector: the client's, each connect bounded as a whole by
//! the connect timeout.
//!
//! The TLS handshake has no deadline of its own; the stages that have one
//! (TCP, a proxy's answer) report their own timeouts, which name the
//! stage, so the bound leaves them a moment to.

use std::io;
use std::time::Duration;

use http::Uri;
use tower::ServiceExt;

use super::pool::Connector;
use super::transport::Transport;
use crate::error::BoxError;

/// How much longer than the connect timeout a whole connect may take, so
/// that a stage with a deadline of its own, which counts from a moment
/// later, reports its timeout first.
const STAGE_SLACK: Duration = Duration::from_millis(100);

/// `inner` as the pool's connector, each connect bounded by `timeout`. A
/// connect clones `inner` (once per new connection, not per request).
pub(super) fn within<C>(inner: C, timeout: Duration) -> Connector
where
    C: tower::Service<Uri, Response = Transport> + Clone + Send + Sync + 'static,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    Box::new(move |dst: Uri| {
        let inner = inner.clone();
        Box::pin(async move {
            let origin = crate::origin::key(&dst);
            match tokio::time::timeout(timeout + STAGE_SLACK, inner.oneshot(dst)).await {
                Ok(result) => result.map_err(Into::into),
                Err(_) => Err(BoxError::from(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the connect to {origin} took longer than the connect timeout ({timeout:?})"
                    ),
                ))),
            }
        })
    })
}
