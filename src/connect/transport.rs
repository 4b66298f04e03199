//! The connection type the pool keeps: plain TCP as it is, TLS behind a
//! box, and HTTP/2 (over TLS, or h2c) with its frames watched for GOAWAY
//! (see `frame_watch`).
//!
//! hyper-rustls's `MaybeHttpsStream` is an enum whose TLS variant holds a
//! whole rustls connection inline, so a plain-HTTP connection is as large
//! as a TLS one, and hyper moves and keeps that size in every connection
//! task it spawns. Boxing the TLS side keeps a plain connection small (a
//! batch of 10,000 loopback connections holds 10,000 of them); a TLS
//! connection pays one allocation next to the kilobytes its handshake
//! allocates anyway.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_util::TryFutureExt;
use futures_util::future::MapOk;
use http::Uri;
use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};
use hyper_rustls::MaybeHttpsStream;
use hyper_util::client::legacy::connect::{Connected, Connection};

use super::frame_watch::FrameWatch;
use super::record::Lifecycle;
use super::tcp::Conn;
use crate::error::TLS_FAILURE_MARK;

/// How much one read of a watched HTTP/2 connection takes at most: a TLS
/// record's plaintext.
const WATCHED_READ: usize = 16 * 1024;

/// A connection to an origin or a proxy, with or without TLS.
#[derive(Debug)]
pub(crate) enum Transport {
    Plain(Conn),
    Tls(Box<MaybeHttpsStream<Conn>>),
    /// HTTP/2: TLS that negotiated `h2` by ALPN, or plain TCP when the
    /// client speaks HTTP/2 by prior knowledge.
    Http2(Box<Watched>),
}

/// An HTTP/2 connection whose incoming frames are watched.
#[derive(Debug)]
pub(crate) struct Watched {
    io: MaybeHttpsStream<Conn>,
    watch: FrameWatch,
    /// What the server sent passes through here to be looked at: hyper's
    /// read cursor cannot show the bytes it was given.
    scratch: Box<[u8]>,
    lifecycle: Arc<Lifecycle>,
    /// Whether the server has sent anything yet.
    heard: bool,
    /// A write that failed before the server was heard, held back while
    /// the socket turns readable with what may say why (see
    /// `write_failed`); once only.
    held_write_error: Option<io::Error>,
    waited_for_alert: bool,
}

impl From<MaybeHttpsStream<Conn>> for Transport {
    fn from(stream: MaybeHttpsStream<Conn>) -> Self {
        match stream {
            MaybeHttpsStream::Http(conn) => Transport::Plain(conn),
            MaybeHttpsStream::Https(tls) => {
                let (tcp, session) = tls.inner().get_ref();
                if session.alpn_protocol() == Some(b"h2") {
                    let lifecycle = tcp.inner().lifecycle().clone();
                    Watched::wrap(MaybeHttpsStream::Https(tls), lifecycle)
                } else {
                    Transport::Tls(Box::new(MaybeHttpsStream::Https(tls)))
                }
            }
        }
    }
}

impl Transport {
    /// What the connector made, for a client that speaks HTTP/2 by prior
    /// knowledge: plain TCP is HTTP/2 too.
    fn prior_knowledge(stream: MaybeHttpsStream<Conn>) -> Self {
        match stream {
            MaybeHttpsStream::Http(conn) => {
                let lifecycle = conn.lifecycle().clone();
                Watched::wrap(MaybeHttpsStream::Http(conn), lifecycle)
            }
            tls => Transport::from(tls),
        }
    }
}

impl Transport {
    /// The connection's record.
    pub(crate) fn lifecycle(&self) -> &Arc<Lifecycle> {
        match self {
            Transport::Plain(conn) => conn.lifecycle(),
            Transport::Tls(tls) => match &**tls {
                MaybeHttpsStream::Http(conn) => conn.lifecycle(),
                MaybeHttpsStream::Https(tls) => tls.inner().get_ref().0.inner().lifecycle(),
            },
            Transport::Http2(watched) => &watched.lifecycle,
        }
    }

    /// Whether it goes to a proxy that forwards each request, which wants
    /// its URL whole (absolute form).
    pub(crate) fn is_forwarding_proxy(&self) -> bool {
        match self {
            Transport::Plain(conn) => conn.is_forwarding_proxy(),
            Transport::Tls(_) | Transport::Http2(_) => false,
        }
    }

    /// The record of an HTTP/2 connection, whose GOAWAY retires it;
    /// `None` for any other connection.
    pub(crate) fn http2_lifecycle(&self) -> Option<&Arc<Lifecycle>> {
        match self {
            Transport::Http2(watched) => Some(&watched.lifecycle),
            Transport::Plain(_) | Transport::Tls(_) => None,
        }
    }
}

/// `e`, its message marked when it is a TLS failure, so that it is still
/// known as one once h2 has kept only its kind and message (see
/// `error::TLS_FAILURE_MARK`).
fn tls_marked(e: io::Error) -> io::Error {
    match tls_failure(&e) {
        Some(inner) => io::Error::new(e.kind(), format!("{TLS_FAILURE_MARK}{inner}")),
        None => e,
    }
}

/// The rustls error inside `e`, if it is one.
fn tls_failure(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

impl Watched {
    fn wrap(io: MaybeHttpsStream<Conn>, lifecycle: Arc<Lifecycle>) -> Transport {
        Transport::Http2(Box::new(Watched {
            io,
            watch: FrameWatch::default(),
            scratch: vec![0; WATCHED_READ].into_boxed_slice(),
            lifecycle,
            heard: false,
            held_write_error: None,
            waited_for_alert: false,
        }))
    }

    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let n = buf.remaining().min(self.scratch.len());
        let mut scratch = ReadBuf::new(&mut self.scratch[..n]);
        if let Err(e) = ready!(Pin::new(&mut self.io).poll_read(cx, scratch.unfilled())) {
            self.lifecycle.retire();
            return Poll::Ready(Err(tls_marked(e)));
        }
        let read = scratch.filled();
        self.heard |= !read.is_empty();
        let seen = self.watch.read(read);
        self.lifecycle.heads_read(seen.heads);
        if (n > 0 && read.is_empty()) || seen.goaway {
            self.lifecycle.retire();
        }
        buf.put_slice(read);
        Poll::Ready(Ok(()))
    }
}

impl Watched {
    /// A write that failed before the server sent anything: a TLS 1.3
    /// server that refuses the client's certificate sends its alert and
    /// closes, and the client's next write can fail (broken pipe) before
    /// it reads the alert. Reading tells the alert, which says why, when
    /// it is there; otherwise `e` stands.
    ///
    /// The alert is often in the socket before the runtime has seen it
    /// readable, and then the read says "not yet". A write that failed
    /// because the server closed or reset the connection has left the
    /// socket readable, so the runtime wakes the connection at its next
    /// turn: `e` is held back once until then (measured: one run in 30 of
    /// the mutual-TLS refusal test lost the alert six attempts in a row
    /// without this).
    fn write_failed(&mut self, cx: &mut Context<'_>, e: io::Error) -> Poll<io::Error> {
        if self.heard {
            return Poll::Ready(e);
        }
        let mut scratch = ReadBuf::new(&mut self.scratch[..]);
        match Pin::new(&mut self.io).poll_read(cx, scratch.unfilled()) {
            Poll::Ready(Err(read)) if tls_failure(&read).is_some() => Poll::Ready(tls_marked(read)),
            Poll::Pending
                if !self.waited_for_alert
                    && matches!(
                        e.kind(),
                        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                    ) =>
            {
                self.waited_for_alert = true;
                self.held_write_error = Some(e);
                Poll::Pending
            }
            _ => Poll::Ready(e),
        }
    }

    fn poll_write_with<T>(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut MaybeHttpsStream<Conn>>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let failed = match self.held_write_error.take() {
            Some(held) => held,
            None => match ready!(write(Pin::new(&mut self.io), cx)) {
                Err(e) => e,
                ok => return Poll::Ready(ok),
            },
        };
        self.write_failed(cx, failed).map(Err)
    }
}

/// Turns what the connector below makes into a [`Transport`].
#[derive(Clone, Debug)]
pub(crate) struct Compact<C> {
    inner: C,
    /// Plain TCP carries HTTP/2 (h2c by prior knowledge).
    prior_knowledge: bool,
}

impl<C> Compact<C> {
    pub(crate) fn new(inner: C, prior_knowledge: bool) -> Self {
        Compact {
            inner,
            prior_knowledge,
        }
    }
}

impl<C> tower::Service<Uri> for Compact<C>
where
    C: tower::Service<Uri, Response = MaybeHttpsStream<Conn>>,
{
    type Response = Transport;
    type Error = C::Error;
    type Future = MapOk<C::Future, fn(MaybeHttpsStream<Conn>) -> Transport>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), C::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let stream: fn(_) -> _ = if self.prior_knowledge {
            Transport::prior_knowledge
        } else {
            Transport::from
        };
        self.inner.call(dst).map_ok(stream)
    }
}

impl Connection for Transport {
    fn connected(&self) -> Connected {
        match self {
            Transport::Plain(conn) => conn.connected(),
            Transport::Tls(tls) => tls.connected(),
            Transport::Http2(watched) => watched.io.connected(),
        }
    }
}

impl Read for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(conn) => Pin::new(conn).poll_read(cx, buf),
            Transport::Tls(tls) => Pin::new(&mut **tls).poll_read(cx, buf),
            Transport::Http2(watched) => watched.poll_read(cx, buf),
        }
    }
}

impl Write for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(conn) => Pin::new(conn).poll_write(cx, buf),
            Transport::Tls(tls) => Pin::new(&mut **tls).poll_write(cx, buf),
            Transport::Http2(watched) => {
                watched.poll_write_with(cx, |io, cx| io.poll_write(cx, buf))
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(conn) => Pin::new(conn).poll_flush(cx),
            Transport::Tls(tls) => Pin::new(&mut **tls).poll_flush(cx),
            Transport::Http2(watched) => watched.poll_write_with(cx, |io, cx| io.poll_flush(cx)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(conn) => Pin::new(conn).poll_shutdown(cx),
            Transport::Tls(tls) => Pin::new(&mut **tls).poll_shutdown(cx),
            Transport::Http2(watched) => Pin::new(&mut watched.io).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(conn) => conn.is_write_vectored(),
            Transport::Tls(tls) => tls.is_write_vectored(),
            Transport::Http2(watched) => watched.io.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(conn) => Pin::new(conn).poll_write_vectored(cx, bufs),
            Transport::Tls(tls) => Pin::new(&mut **tls).poll_write_vectored(cx, bufs),
            Transport::Http2(watched) => {
                watched.poll_write_with(cx, |io, cx| io.poll_write_vectored(cx, bufs))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_connection_is_small() {
        let plain = std::mem::size_of::<Transport>();
        let inline = std::mem::size_of::<MaybeHttpsStream<Conn>>();
        assert!(plain <= 128, "Transport is {plain} bytes");
        assert!(
            plain * 4 < inline,
            "Transport {plain} vs MaybeHttpsStream {inline}"
        );
    }
}
