//! An HTTP/2 connection of the pool: one per origin, shared by every
//! request to it, its I/O on a task of its own (several requests use it at
//! once, and it must answer PINGs and window updates while none reads).

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{TrySendError, http2};
use hyper_util::rt::TokioExecutor;

use crate::connect::ConnectedAt;
use crate::connect::transport::Transport;

/// A handle on an HTTP/2 connection; clones share it.
#[derive(Clone)]
pub(crate) struct Http2 {
    sender: http2::SendRequest<Full<Bytes>>,
    connected: ConnectedAt,
    /// The error the connection ended with, if it failed.
    failure: Arc<OnceLock<hyper::Error>>,
}

impl Http2 {
    /// The HTTP/2 side of a new connection, its I/O spawned.
    pub(super) async fn handshake(
        builder: &http2::Builder<TokioExecutor>,
        transport: Transport,
        connected: ConnectedAt,
    ) -> hyper::Result<Self> {
        let (sender, io) = builder.handshake(transport).await?;
        connected.lifecycle().ready();
        let failure = Arc::new(OnceLock::new());
        let failed = failure.clone();
        // Its end (a GOAWAY, a close, an error) reaches the requests on it,
        // and its record (the transport's I/O retires it).
        tokio::spawn(async move {
            // Pinned here, not consumed by the wait: the requests it never
            // took go back to their senders only when it is dropped, and
            // by then its error is kept for them.
            let mut io = std::pin::pin!(io);
            if let Err(e) = io.as_mut().await {
                let _ = failed.set(e);
            }
        });
        Ok(Http2 {
            sender,
            connected,
            failure,
        })
    }

    /// Whether the connection failed before it answered anything: a
    /// server that refuses the client at the start (a TLS alert after the
    /// handshake, say). A request it gave back then gets its error; one
    /// given back by a connection that served others goes on another.
    pub(super) fn failed_unanswered(&self) -> bool {
        let life = self.connected.lifecycle();
        self.failure.get().is_some() && !life.served_streams() && !life.answered_before()
    }

    /// The error the connection failed with, for a request it gave back.
    pub(super) fn failure_of_start(&self) -> crate::error::BoxError {
        Box::new(FailedAtStart {
            failure: self.failure.clone(),
        })
    }

    /// Whether new requests may go on it: the server has not said GOAWAY
    /// (the transport watches for it) and it is open.
    pub(super) fn usable(&self) -> bool {
        self.connected.lifecycle().usable() && !self.sender.is_closed()
    }

    /// How long since its last answer (or since it was made).
    pub(super) fn idle_for(&self) -> std::time::Duration {
        let life = self.connected.lifecycle();
        life.since_last_answer().unwrap_or_else(|| life.age())
    }

    /// The connection's record.
    pub(super) fn connected(&self) -> &ConnectedAt {
        &self.connected
    }

    /// Whether `self` and `other` are the same connection.
    pub(super) fn same(&self, other: &Http2) -> bool {
        self.connected.same_connection(&other.connected)
    }

    /// Sends `req` (its URL whole: HTTP/2 takes the scheme and authority
    /// from it); its error gives the request back when the connection
    /// never took it.
    pub(super) async fn send(
        &self,
        req: http::Request<Full<Bytes>>,
    ) -> Result<http::Response<Incoming>, TrySendError<http::Request<Full<Bytes>>>> {
        self.sender.clone().try_send_request(req).await
    }
}

/// A connection failed before it answered anything; its error is the
/// source (shared: the connection may give back several requests).
#[derive(Debug)]
pub(crate) struct FailedAtStart {
    failure: Arc<OnceLock<hyper::Error>>,
}

impl std::fmt::Display for FailedAtStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the HTTP/2 connection failed before it answered")
    }
}

impl std::error::Error for FailedAtStart {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.failure
            .get()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
