//! The TCP connector with proxies in front: direct, through an HTTP proxy
//! (a `CONNECT` tunnel for `https`, the proxy itself for `http`), or
//! through SOCKS5. TLS, when the target is `https`, is layered on top by
//! the HTTPS connector, so it is verified end to end against the target.

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
use tokio::net::TcpStream;

use super::descriptors::Descriptors;
use super::record::{ConnectedAt, Lifecycle};
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
}

impl ProxyConnector {
    pub(crate) fn new(
        tcp: Tcp,
        matcher: Option<Arc<Matcher>>,
        descriptors: Arc<Descriptors>,
        patience: Duration,
    ) -> Self {
        ProxyConnector {
            tcp,
            matcher,
            descriptors,
            patience,
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
        let patience = self.patience;
        Box::pin(async move {
            let mut conn = descriptors
                .connect(|| connect(tcp.clone(), dst.clone(), intercept.clone(), began, patience))
                .await?;
            conn.descriptors = Some(descriptors);
            Ok(conn)
        })
    }
}

/// Connects to `dst` (through `proxy`), for a connect that began at
/// `began`; a proxy has `patience` to answer a tunnel's `CONNECT`.
async fn connect(
    tcp: Tcp,
    dst: Uri,
    proxy: Option<Intercept>,
    began: Instant,
    patience: Duration,
) -> Result<Conn, BoxError> {
    use tower::ServiceExt;

    let Some(proxy) = proxy else {
        let io = tcp.oneshot(dst).await?;
        return Ok(Conn::direct(io, began));
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
            Ok(Conn::direct(io, began))
        }
        _ if dst.scheme_str() == Some("https") => {
            let target = authority(&with_port(dst)?);
            let mut io = reach(tcp, proxy_uri, &name).await?;
            tunnel::open(
                io.inner_mut(),
                &name,
                &target,
                proxy.basic_auth(),
                (began, patience),
            )
            .await
            .map_err(ProxyError::raised)?;
            Ok(Conn::direct(io, began))
        }
        // Plain http: talk to the proxy, which forwards absolute-form
        // requests (the pool sends them so for a proxied connection).
        _ => {
            let io = reach(tcp, proxy_uri, &name).await?;
            Ok(Conn::proxied(io, began))
        }
    }
}

/// A TCP connection to the HTTP proxy at `proxy`.
async fn reach(tcp: Tcp, proxy: Uri, name: &str) -> Result<TokioIo<TcpStream>, BoxError> {
    use tower::ServiceExt;
    tcp.oneshot(proxy).await.map_err(|source| {
        ProxyError::Unreachable {
            proxy: name.to_owned(),
            source: source.into(),
        }
        .raised()
    })
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
    if proxy.uri().scheme_str() != Some("http") {
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
/// response it carries learns when it was made (see [`ConnectedAt`]).
#[derive(Debug)]
pub(crate) struct Conn {
    io: TokioIo<TcpStream>,
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
    fn direct(io: TokioIo<TcpStream>, began: Instant) -> Self {
        Conn {
            lifecycle: Lifecycle::new(began, io.inner().peer_addr().ok()),
            io,
            forwarding_proxy: false,
            descriptors: None,
        }
    }

    fn proxied(io: TokioIo<TcpStream>, began: Instant) -> Self {
        let mut conn = Conn::direct(io, began);
        conn.forwarding_proxy = true;
        conn
    }

    /// The connection's record.
    pub(crate) fn lifecycle(&self) -> &Arc<Lifecycle> {
        &self.lifecycle
    }
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        // Asked first right after the whole connect, TLS included, is done
        // (by hyper-util, or by the first-contact check just before it).
        //
        // Not `self.io.connected()`: that adds hyper-util's `HttpInfo`,
        // which hyper-util then copies into every response (a box, and a
        // second entry in the response's extension map, per request).
        // `ConnectedAt` carries the peer's address instead.
        self.lifecycle.ready();
        Connected::new()
            .proxy(self.forwarding_proxy)
            .extra(ConnectedAt::new(self.lifecycle.clone()))
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
