//! The TCP connector with proxies in front: direct, through an HTTP proxy
//! (a `CONNECT` tunnel for `https`, the proxy itself for `http`), spoken
//! to in plain TCP (`http://` proxies) or over TLS (`https://` proxies),
//! or through SOCKS5. TLS, when the target is `https`, is layered on top
//! by the HTTPS connector, so it is verified end to end against the
//! target (inside the TLS to an `https://` proxy, when there is one).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::proxy::SocksV5;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::descriptors::Descriptors;
use super::record::Lifecycle;
use super::tunnel::{self, ProxyError};
use crate::dns::DnsResolver;
use crate::error::BoxError;

type Tcp = HttpConnector<DnsResolver>;

/// Connects to a target, through the proxy the matcher names, if any.
#[derive(Clone, Debug)]
pub(crate) struct ProxyConnector {
    tcp: Tcp,
    matcher: Option<Arc<Matcher>>,
    descriptors: Arc<Descriptors>,
    /// How long a proxy has to answer a tunnel's `CONNECT`: the connect
    /// timeout.
    patience: Duration,
    /// For `https://` proxies: the client's TLS settings, with ALPN
    /// `http/1.1` (proxies are spoken to in HTTP/1.1).
    proxy_tls: Arc<rustls::ClientConfig>,
}

impl ProxyConnector {
    pub(crate) fn new(
        tcp: Tcp,
        matcher: Option<Arc<Matcher>>,
        descriptors: Arc<Descriptors>,
        patience: Duration,
        proxy_tls: Arc<rustls::ClientConfig>,
    ) -> Self {
        ProxyConnector {
            tcp,
            matcher,
            descriptors,
            patience,
            proxy_tls,
        }
    }
}

impl tower::Service<Uri> for ProxyConnector {
    type Response = Conn;
    type Error = BoxError;
    // Boxed: once per new connection, not per request.
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        tower::Service::<Uri>::poll_ready(&mut self.tcp, cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let tcp = self.tcp.clone();
        let intercept = self.matcher.as_ref().and_then(|m| m.intercept(&dst));
        let began = Instant::now();
        let descriptors = self.descriptors.clone();
        let proxy = ProxyReach {
            tls: TlsConnector::from(self.proxy_tls.clone()),
            began,
            patience: self.patience,
        };
        Box::pin(async move {
            let mut conn = descriptors
                .connect(|| connect(tcp.clone(), dst.clone(), intercept.clone(), &proxy))
                .await?;
            conn.descriptors = Some(descriptors);
            Ok(conn)
        })
    }
}

/// How an HTTP proxy is reached for one connect: over TLS with `tls` when
/// it is an `https://` one, within `patience` (the connect timeout) from
/// `began` for the TLS handshake and a tunnel's `CONNECT`.
struct ProxyReach {
    tls: TlsConnector,
    began: Instant,
    patience: Duration,
}

/// Connects to `dst` (through `proxy`, reached as `reach` says).
async fn connect(
    tcp: Tcp,
    dst: Uri,
    proxy: Option<Intercept>,
    reach: &ProxyReach,
) -> Result<Conn, BoxError> {
    use tower::ServiceExt;

    let began = reach.began;
    let Some(proxy) = proxy else {
        let io = tcp.oneshot(dst).await?;
        return Ok(Conn::direct(Stream::Tcp(io), began));
    };
    let proxy_uri = proxy.uri().clone();
    let name = tunnel::proxy_name(&proxy_uri);
    match proxy_uri.scheme_str() {
        Some(scheme @ ("socks5" | "socks5h")) => {
            let mut socks = SocksV5::new(proxy_uri.clone(), tcp).local_dns(scheme == "socks5");
            if let Some((user, pass)) = proxy.raw_auth() {
                socks = socks.with_auth(user.to_owned(), pass.to_owned());
            }
            // hyper-util's SOCKS connector assumes port 443 when the URL has
            // none; give it the scheme's own.
            let dst = with_port(dst)?;
            let target = authority(&dst);
            let io = socks.oneshot(dst).await.map_err(|source| {
                ProxyError::Socks {
                    proxy: name,
                    target,
                    source: source.into(),
                }
                .raised()
            })?;
            Ok(Conn::direct(Stream::Tcp(io), began))
        }
        _ => {
            let mut io = reach_proxy(tcp, &proxy_uri, &name, reach).await?;
            if dst.scheme_str() == Some("https") {
                let target = authority(&with_port(dst)?);
                let patience = (began, reach.patience);
                let opened = match &mut io {
                    Stream::Tcp(tcp) => {
                        tunnel::open(
                            tcp.inner_mut(),
                            &name,
                            &target,
                            proxy.basic_auth(),
                            patience,
                        )
                        .await
                    }
                    Stream::Tls(tls) => {
                        let tls = tls.inner_mut();
                        tunnel::open(tls, &name, &target, proxy.basic_auth(), patience).await
                    }
                };
                opened.map_err(ProxyError::raised)?;
                Ok(Conn::direct(io, began))
            } else {
                // Plain http: the proxy forwards absolute-form requests
                // (the pool sends them so for a proxied connection).
                Ok(Conn::proxied(io, began))
            }
        }
    }
}

/// A connection to the HTTP proxy at `proxy`: TCP, then TLS for an
/// `https://` one, verified against the client's roots like any server.
async fn reach_proxy(
    tcp: Tcp,
    proxy: &Uri,
    name: &str,
    reach: &ProxyReach,
) -> Result<Stream, BoxError> {
    use tower::ServiceExt;
    let io = tcp.oneshot(proxy.clone()).await.map_err(|source| {
        ProxyError::Unreachable {
            proxy: name.to_owned(),
            source: source.into(),
        }
        .raised()
    })?;
    if proxy.scheme_str() != Some("https") {
        return Ok(Stream::Tcp(io));
    }
    let tls_failed = |source: BoxError| {
        ProxyError::Tls {
            proxy: name.to_owned(),
            source,
        }
        .raised()
    };
    // `[::1]` is named `::1` in TLS.
    let host = proxy.host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let server_name = ServerName::try_from(host.to_owned()).map_err(|e| tls_failed(e.into()))?;
    let handshake = reach.tls.connect(server_name, io.into_inner());
    let deadline = (reach.began + reach.patience).into();
    match tokio::time::timeout_at(deadline, handshake).await {
        Ok(Ok(tls)) => Ok(Stream::Tls(Box::new(TokioIo::new(tls)))),
        Ok(Err(e)) => Err(tls_failed(e.into())),
        Err(_) => Err(tls_failed(
            format!(
                "no TLS handshake within {:?} (the connect timeout)",
                reach.patience
            )
            .into(),
        )),
    }
}

/// `host:port` of `dst`, which has its port spelled out.
fn authority(dst: &Uri) -> String {
    dst.authority()
        .map_or_else(String::new, |a| a.as_str().to_owned())
}

/// The `Proxy-Authorization` to add to a plain `http` request that goes
/// through a forwarding HTTP proxy with credentials. (Tunnels and SOCKS
/// carry their credentials in their own handshake.)
pub(crate) fn forward_auth(matcher: &Matcher, dst: &Uri) -> Option<http::HeaderValue> {
    if dst.scheme_str() != Some("http") {
        return None;
    }
    let proxy = matcher.intercept(dst)?;
    if !matches!(proxy.uri().scheme_str(), Some("http" | "https")) {
        return None;
    }
    proxy.basic_auth().cloned()
}

/// `dst` with its scheme's default port spelled out.
fn with_port(dst: Uri) -> Result<Uri, BoxError> {
    if dst.port().is_some() {
        return Ok(dst);
    }
    let port = crate::origin::port(&dst);
    let host = dst.host().ok_or("URL has no host")?;
    let mut parts = dst.clone().into_parts();
    parts.authority = Some(format!("{host}:{port}").parse()?);
    Ok(Uri::from_parts(parts)?)
}

/// A TCP connection, marked when it goes to an HTTP proxy that forwards
/// requests (so the pool writes them in absolute form), and timed: each
/// response it carries learns when it was made (see `record::ConnectedAt`).
#[derive(Debug)]
pub(crate) struct Conn {
    io: Stream,
    forwarding_proxy: bool,
    /// Told when the connection closes, freeing its descriptor.
    descriptors: Option<Arc<Descriptors>>,
    /// When it was made, where it goes, whether it can take requests.
    lifecycle: Arc<Lifecycle>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.lifecycle.end();
        if let Some(descriptors) = &self.descriptors {
            descriptors.freed();
        }
    }
}

impl Conn {
    fn direct(io: Stream, began: Instant) -> Self {
        Conn {
            lifecycle: Lifecycle::new(began, io.tcp().peer_addr().ok()),
            io,
            forwarding_proxy: false,
            descriptors: None,
        }
    }

    fn proxied(io: Stream, began: Instant) -> Self {
        let mut conn = Conn::direct(io, began);
        conn.forwarding_proxy = true;
        conn
    }

    /// The connection's record.
    pub(crate) fn lifecycle(&self) -> &Arc<Lifecycle> {
        &self.lifecycle
    }

    /// Whether it goes to a proxy that forwards each request (plain
    /// `http` through an HTTP proxy), which wants its URL whole.
    pub(crate) fn is_forwarding_proxy(&self) -> bool {
        self.forwarding_proxy
    }
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        // hyper-rustls's connector asks for the trait; the pool reads what
        // it needs of a connection from its record (`ConnectedAt`).
        Connected::new().proxy(self.forwarding_proxy)
    }
}

/// What a connection runs over: TCP, or TLS to an `https://` proxy (boxed:
/// a rustls connection is large, and rare here).
#[derive(Debug)]
enum Stream {
    Tcp(TokioIo<TcpStream>),
    Tls(Box<TokioIo<TlsStream<TcpStream>>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Tcp(io) => io.inner(),
            Stream::Tls(io) => io.inner().get_ref().0,
        }
    }
}

/// Forwards to the stream, whichever it is.
macro_rules! on_stream {
    ($stream:expr, $io:ident => $call:expr) => {
        match $stream {
            Stream::Tcp($io) => $call,
            Stream::Tls($io) => $call,
        }
    };
}

impl Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        on_stream!(self.get_mut(), io => Pin::new(io).poll_read(cx, buf))
    }
}

impl Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        on_stream!(self.get_mut(), io => Pin::new(io).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        on_stream!(self.get_mut(), io => Pin::new(io).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        on_stream!(self.get_mut(), io => Pin::new(io).poll_shutdown(cx))
    }

    fn is_write_vectored(&self) -> bool {
        on_stream!(self, io => io.is_write_vectored())
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        on_stream!(self.get_mut(), io => Pin::new(io).poll_write_vectored(cx, bufs))
    }
}

impl Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}
