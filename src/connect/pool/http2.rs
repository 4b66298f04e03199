//! An HTTP/2 connection of the pool: one per origin, shared by every
//! request to it, its I/O on a task of its own (several requests use it at
//! once, and it must answer PINGs and window updates while none reads).

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
        // Its end (a GOAWAY, a close, an error) reaches the requests on it,
        // and its record (the transport's I/O retires it).
        tokio::spawn(async move {
            let _ = io.await;
        });
        Ok(Http2 { sender, connected })
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
