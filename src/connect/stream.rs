//! The connection type the pool keeps: plain TCP as it is, TLS behind a
//! box, and TLS that negotiated HTTP/2 with its frames watched for GOAWAY
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
use super::proxy::Conn;
use super::record::Lifecycle;

/// How much one read of a watched HTTP/2 connection takes at most: a TLS
/// record's plaintext.
const WATCHED_READ: usize = 16 * 1024;

/// A connection to an origin or a proxy, with or without TLS.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(Conn),
    Tls(Box<MaybeHttpsStream<Conn>>),
    /// TLS that negotiated `h2` by ALPN.
    Http2(Box<Watched>),
}

/// An HTTP/2 connection over TLS whose incoming frames are watched.
#[derive(Debug)]
pub(crate) struct Watched {
    tls: MaybeHttpsStream<Conn>,
    watch: FrameWatch,
    /// What the server sent passes through here to be looked at: hyper's
    /// read cursor cannot show the bytes it was given.
    scratch: Box<[u8]>,
    lifecycle: Arc<Lifecycle>,
}

impl From<MaybeHttpsStream<Conn>> for Stream {
    fn from(stream: MaybeHttpsStream<Conn>) -> Self {
        match stream {
            MaybeHttpsStream::Http(conn) => Stream::Plain(conn),
            MaybeHttpsStream::Https(tls) => {
                let (tcp, session) = tls.inner().get_ref();
                if session.alpn_protocol() == Some(b"h2") {
                    let lifecycle = tcp.inner().lifecycle().clone();
                    Stream::Http2(Box::new(Watched {
                        tls: MaybeHttpsStream::Https(tls),
                        watch: FrameWatch::default(),
                        scratch: vec![0; WATCHED_READ].into_boxed_slice(),
                        lifecycle,
                    }))
                } else {
                    Stream::Tls(Box::new(MaybeHttpsStream::Https(tls)))
                }
            }
        }
    }
}

impl Stream {
    /// The record of an HTTP/2 connection over TLS, whose GOAWAY retires
    /// it; `None` for any other connection.
    pub(crate) fn http2_lifecycle(&self) -> Option<&Arc<Lifecycle>> {
        match self {
            Stream::Http2(watched) => Some(&watched.lifecycle),
            Stream::Plain(_) | Stream::Tls(_) => None,
        }
    }
}

impl Watched {
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let n = buf.remaining().min(self.scratch.len());
        let mut scratch = ReadBuf::new(&mut self.scratch[..n]);
        if let Err(e) = ready!(Pin::new(&mut self.tls).poll_read(cx, scratch.unfilled())) {
            self.lifecycle.retire();
            return Poll::Ready(Err(e));
        }
        let read = scratch.filled();
        if (n > 0 && read.is_empty()) || self.watch.saw_goaway(read) {
            self.lifecycle.retire();
        }
        buf.put_slice(read);
        Poll::Ready(Ok(()))
    }
}

/// Turns what the connector below makes into a [`Stream`].
#[derive(Clone, Debug)]
pub(crate) struct Compact<C> {
    inner: C,
}

impl<C> Compact<C> {
    pub(crate) fn new(inner: C) -> Self {
        Compact { inner }
    }
}

impl<C> tower::Service<Uri> for Compact<C>
where
    C: tower::Service<Uri, Response = MaybeHttpsStream<Conn>>,
{
    type Response = Stream;
    type Error = C::Error;
    type Future = MapOk<C::Future, fn(MaybeHttpsStream<Conn>) -> Stream>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), C::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        self.inner.call(dst).map_ok(Stream::from as fn(_) -> _)
    }
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        match self {
            Stream::Plain(conn) => conn.connected(),
            Stream::Tls(tls) => tls.connected(),
            Stream::Http2(watched) => watched.tls.connected(),
        }
    }
}

impl Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(conn) => Pin::new(conn).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(&mut **tls).poll_read(cx, buf),
            Stream::Http2(watched) => watched.poll_read(cx, buf),
        }
    }
}

impl Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(conn) => Pin::new(conn).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(&mut **tls).poll_write(cx, buf),
            Stream::Http2(watched) => Pin::new(&mut watched.tls).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(conn) => Pin::new(conn).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(&mut **tls).poll_flush(cx),
            Stream::Http2(watched) => Pin::new(&mut watched.tls).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(conn) => Pin::new(conn).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(&mut **tls).poll_shutdown(cx),
            Stream::Http2(watched) => Pin::new(&mut watched.tls).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(conn) => conn.is_write_vectored(),
            Stream::Tls(tls) => tls.is_write_vectored(),
            Stream::Http2(watched) => watched.tls.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(conn) => Pin::new(conn).poll_write_vectored(cx, bufs),
            Stream::Tls(tls) => Pin::new(&mut **tls).poll_write_vectored(cx, bufs),
            Stream::Http2(watched) => Pin::new(&mut watched.tls).poll_write_vectored(cx, bufs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_connection_is_small() {
        let plain = std::mem::size_of::<Stream>();
        let inline = std::mem::size_of::<MaybeHttpsStream<Conn>>();
        assert!(plain <= 128, "Stream is {plain} bytes");
        assert!(
            plain * 4 < inline,
            "Stream {plain} vs MaybeHttpsStream {inline}"
        );
    }
}
