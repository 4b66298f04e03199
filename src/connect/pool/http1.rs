//! An HTTP/1.1 connection driven by the request that holds it, and the
//! response body that carries it back to the pool.
//!
//! An HTTP/1.1 connection serves one request at a time, so it needs no
//! task of its own: whoever holds it polls hyper's connection future
//! beside its own (the response head, then the body), and so does the
//! connection's reading and writing on the request's own task. hyper-util
//! gives each connection a task, which every request crosses to and back
//! from (two wake-ups), and spawns one more task per request to return the
//! connection once its body is read.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1;

use super::slots::Slot;
use super::{Key, Shared};
use crate::connect::ConnectedAt;
use crate::connect::head::set_host_from_authority;
use crate::connect::transport::Transport;

/// A connection of the pool, held by one request at a time. Boxed: hyper's
/// connection state is several hundred bytes, and a connection moves in
/// and out of the pool, into the request's future and into its response's
/// body, which moves up through every layer.
pub(crate) struct Http1(Box<Inner>);

struct Inner {
    sender: http1::SendRequest<Full<Bytes>>,
    io: http1::Connection<Transport, Full<Bytes>>,
    /// hyper's connection future has completed: the connection is closed.
    ended: bool,
    /// It goes to a proxy that forwards each request (absolute form).
    forwarding: bool,
    connected: ConnectedAt,
    /// Its place in the origin's count, let go when it closes.
    slot: Slot,
}

impl Http1 {
    /// The HTTP/1.1 side of a new connection.
    pub(super) async fn handshake(
        builder: &http1::Builder,
        transport: Transport,
        connected: ConnectedAt,
        slot: Slot,
    ) -> hyper::Result<Self> {
        let forwarding = transport.is_forwarding_proxy();
        let (sender, io) = builder.handshake(transport).await?;
        connected.lifecycle().ready();
        Ok(Http1(Box::new(Inner {
            sender,
            io,
            ended: false,
            forwarding,
            connected,
            slot,
        })))
    }

    /// Does what the connection has to do now (send, read); false once it
    /// has closed. Whatever error closed it reaches the request or body it
    /// was serving through them.
    fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        let conn = &mut *self.0;
        if !conn.ended && Pin::new(&mut conn.io).poll(cx).is_ready() {
            conn.ended = true;
        }
        !conn.ended
    }

    /// Whether the connection can take a request now. An idle connection
    /// that the server closed (or sent something unasked) ends at its
    /// first poll, so this is the check before each reuse.
    pub(super) fn reusable(&mut self, cx: &mut Context<'_>) -> bool {
        self.drive(cx) && self.0.sender.is_ready()
    }

    /// Whether the connection can take a request, as its body has just
    /// ended: reading that body usually drove it back to idle already, so
    /// it is driven again only when it says it is not ready. (The check
    /// before reuse, `reusable`, always drives it, to see a close.)
    fn ready_after_body(&mut self, cx: &mut Context<'_>) -> bool {
        (!self.0.ended && self.0.sender.is_ready()) || self.reusable(cx)
    }

    /// Closes the connection, keeping its place in the origin's count for
    /// another.
    pub(super) fn into_slot(self) -> Slot {
        self.0.slot
    }

    /// The connection's record.
    pub(super) fn connected(&self) -> &ConnectedAt {
        &self.0.connected
    }

    /// Sends `req` on this connection, driving it until the response head
    /// comes: with its URL as the connection wants it (the path, or the
    /// whole URL for a forwarding proxy). Its error gives the request back
    /// when it never went out (the connection had closed).
    pub(super) async fn send(
        &mut self,
        mut req: http::Request<Full<Bytes>>,
    ) -> Result<
        http::Response<Incoming>,
        hyper::client::conn::TrySendError<http::Request<Full<Bytes>>>,
    > {
        // HTTPS learns it speaks HTTP/1.1 only from the handshake; plain
        // `http` has its `Host` already.
        set_host_from_authority(&mut req);
        if req.method() == http::Method::CONNECT {
            authority_form(req.uri_mut());
        } else if !self.0.forwarding {
            origin_form(req.uri_mut());
        }
        let mut response = pin!(self.0.sender.try_send_request(req));
        poll_fn(|cx| {
            self.drive(cx);
            response.as_mut().poll(cx)
        })
        .await
    }
}

/// The body of a response on a held connection: reading it drives the
/// connection, and the connection goes back to the pool the moment the
/// body ends, before the request lets go of its permits; so the next
/// request to the origin finds it idle instead of opening another.
pub(crate) struct HeldBody {
    body: Incoming,
    held: Option<Held>,
}

/// A connection on its way back to the pool.
struct Held {
    conn: Http1,
    pool: Arc<Shared>,
    key: Key,
}

impl HeldBody {
    pub(super) fn new(body: Incoming, conn: Http1, pool: Arc<Shared>, key: Key) -> Self {
        HeldBody {
            body,
            held: Some(Held { conn, pool, key }),
        }
    }

    /// The record of the connection the body came on, while the body
    /// holds it (from its head until its end).
    pub(super) fn connected(&self) -> Option<&ConnectedAt> {
        self.held.as_ref().map(|held| held.conn.connected())
    }

    /// Once the body has ended: the connection to the pool, if it can
    /// take another request.
    fn give_back(&mut self, cx: &mut Context<'_>) {
        if let Some(mut held) = self.held.take()
            && held.conn.ready_after_body(cx)
        {
            held.pool
                .origins
                .put(held.key, held.conn, held.pool.me.clone());
        }
    }
}

impl Body for HeldBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        if let Some(held) = &mut this.held {
            held.conn.drive(cx);
        }
        let frame = Pin::new(&mut this.body).poll_frame(cx);
        match &frame {
            Poll::Ready(None) => this.give_back(cx),
            Poll::Ready(Some(Ok(_))) if this.body.is_end_stream() => this.give_back(cx),
            Poll::Ready(Some(Err(_))) => this.held = None,
            _ => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for HeldBody {
    fn drop(&mut self) {
        // A body read to its end whose end was not asked for (a reader
        // that stopped at the length it knew), or an empty one never read:
        // the connection still goes back. One that was not read to its end
        // closes with it.
        if self.held.is_some() && self.body.is_end_stream() {
            self.give_back(&mut Context::from_waker(Waker::noop()));
        }
    }
}

/// `uri` reduced to its authority, as HTTP/1.1 asks of a `CONNECT`
/// (RFC 9110 §9.3.6): `host:port`, the port written even when it is the
/// scheme's default.
fn authority_form(uri: &mut http::Uri) {
    let Some(authority) = uri.authority() else {
        return;
    };
    let text = format!("{}:{}", authority.host(), crate::origin::port(uri));
    if let Ok(form) = http::Uri::try_from(text) {
        *uri = form;
    }
}

/// `uri` reduced to its path and query, as HTTP/1.1 asks of a request to
/// an origin (`/` when it has no path).
fn origin_form(uri: &mut http::Uri) {
    let path = match uri.path_and_query() {
        Some(path) if path.as_str().starts_with('/') => path.clone(),
        _ => http::uri::PathAndQuery::from_static("/"),
    };
    *uri = http::Uri::from(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The literal `url` as `form` writes it on the request line.
    fn written(url: &str, form: fn(&mut http::Uri)) -> String {
        let mut uri: http::Uri = url.parse().expect("a test URL");
        form(&mut uri);
        uri.to_string()
    }

    #[test]
    fn a_connect_names_host_and_port() {
        let authority = |url| written(url, authority_form);
        assert_eq!(authority("http://example.test/"), "example.test:80");
        assert_eq!(authority("https://example.test/x?y"), "example.test:443");
        assert_eq!(authority("http://example.test:8080/"), "example.test:8080");
        assert_eq!(authority("http://[::1]/"), "[::1]:80");
    }

    #[test]
    fn other_requests_name_their_path() {
        let form = |url| written(url, origin_form);
        assert_eq!(form("http://example.test"), "/");
        assert_eq!(form("http://example.test/a/b?c=d"), "/a/b?c=d");
    }
}
