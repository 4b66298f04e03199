//! The connection type the pool keeps: plain TCP as it is, TLS behind a box.
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
use std::task::{Context, Poll};

use futures_util::TryFutureExt;
use futures_util::future::MapOk;
use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_rustls::MaybeHttpsStream;
use hyper_util::client::legacy::connect::{Connected, Connection};

use super::proxy::Conn;

/// A connection to an origin or a proxy, with or without TLS.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(Conn),
    Tls(Box<MaybeHttpsStream<Conn>>),
}

impl From<MaybeHttpsStream<Conn>> for Stream {
    fn from(stream: MaybeHttpsStream<Conn>) -> Self {
        match stream {
            MaybeHttpsStream::Http(conn) => Stream::Plain(conn),
            tls => Stream::Tls(Box::new(tls)),
        }
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
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(conn) => Pin::new(conn).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(&mut **tls).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(conn) => Pin::new(conn).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(&mut **tls).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(conn) => conn.is_write_vectored(),
            Stream::Tls(tls) => tls.is_write_vectored(),
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
