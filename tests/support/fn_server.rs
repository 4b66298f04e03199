//! A hyper server (HTTP/1.1 + h2c, or TLS with ALPN) whose answers come
//! from a closure given by the test, for routes [`super::TestServer`] does
//! not have: redirects, compressed bodies, custom headers, HTTP/2 stream
//! limits.
//!
//! Every request is recorded (whole body included) as a [`Seen`] before
//! the handler runs; [`FnStats::in_flight`] counts running handlers.
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, Version,
};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use super::{Gauge, GaugeGuard};

/// Body type of [`FnServer`] answers.
pub type FnBody = UnsyncBoxBody<Bytes, Infallible>;

type Handler = Arc<dyn Fn(Seen) -> BoxFuture<'static, Response<FnBody>> + Send + Sync>;

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Server-side number of the connection (1-based).
    pub conn: usize,
}

impl Seen {
    /// Path and query, e.g. `/a?b=1`.
    pub fn path(&self) -> String {
        self.uri
            .path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.as_str().to_string())
    }

    /// First value of header `name`, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }
}

/// What an [`FnServer`] counted.
#[derive(Debug, Default)]
pub struct FnStats {
    accepted: AtomicUsize,
    log: Mutex<Vec<Seen>>,
    pub in_flight: Arc<Gauge>,
}

impl FnStats {
    /// TCP connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Every request, in arrival order.
    pub fn log(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    /// Requests whose path (without query) is `path`.
    pub fn seen_path(&self, path: &str) -> Vec<Seen> {
        self.log()
            .into_iter()
            .filter(|s| s.uri.path() == path)
            .collect()
    }

    pub fn total(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub fn peak_in_flight(&self) -> usize {
        self.in_flight.peak()
    }
}

/// Options of an [`FnServer`].
pub struct FnServerBuilder {
    ip: IpAddr,
    tls: Option<Arc<ServerConfig>>,
    h2_max_streams: Option<u32>,
}

impl FnServerBuilder {
    /// Listen on this loopback IP (127.0.0.1 by default).
    pub fn ip(mut self, ip: impl Into<IpAddr>) -> Self {
        self.ip = ip.into();
        self
    }

    /// Serve TLS with this config.
    pub fn tls(mut self, config: Arc<ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Advertise this SETTINGS_MAX_CONCURRENT_STREAMS to HTTP/2 clients.
    pub fn h2_max_concurrent_streams(mut self, n: u32) -> Self {
        self.h2_max_streams = Some(n);
        self
    }

    pub async fn start<F, Fut>(self, handler: F) -> FnServer
    where
        F: Fn(Seen) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<FnBody>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |seen| Box::pin(handler(seen)));
        let listener = TcpListener::bind(SocketAddr::new(self.ip, 0))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let stats = Arc::new(FnStats::default());
        let (shutdown, rx) = watch::channel(false);
        let tls = self.tls.is_some();
        let task = tokio::spawn(accept_loop(
            listener,
            self.tls,
            self.h2_max_streams,
            handler,
            stats.clone(),
            rx,
        ));
        FnServer {
            addr,
            tls,
            stats,
            shutdown,
            task,
        }
    }
}

/// Guard of a running [`FnServer`]; dropping it stops the server.
pub struct FnServer {
    addr: SocketAddr,
    tls: bool,
    stats: Arc<FnStats>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl FnServer {
    pub fn builder() -> FnServerBuilder {
        FnServerBuilder {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            tls: None,
            h2_max_streams: None,
        }
    }

    /// Plain HTTP on 127.0.0.1.
    pub async fn start<F, Fut>(handler: F) -> FnServer
    where
        F: Fn(Seen) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<FnBody>> + Send + 'static,
    {
        Self::builder().start(handler).await
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://IP:PORT` or `https://IP:PORT`, no trailing slash.
    pub fn origin(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    pub fn stats(&self) -> &Arc<FnStats> {
        &self.stats
    }
}

impl Deref for FnServer {
    type Target = FnStats;

    fn deref(&self) -> &FnStats {
        &self.stats
    }
}

impl Drop for FnServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    h2_max_streams: Option<u32>,
    handler: Handler,
    stats: Arc<FnStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    loop {
        let Some(stream) = super::accept_until_shutdown(&listener, &mut shutdown).await else {
            return;
        };
        let conn = stats.accepted.fetch_add(1, Ordering::SeqCst) + 1;
        let acceptor = acceptor.clone();
        let handler = handler.clone();
        let stats = stats.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let serve = async {
                match acceptor {
                    None => {
                        serve_io(TokioIo::new(stream), h2_max_streams, handler, stats, conn).await
                    }
                    Some(acceptor) => {
                        let hs =
                            tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                                .await;
                        if let Ok(Ok(tls)) = hs {
                            serve_io(TokioIo::new(tls), h2_max_streams, handler, stats, conn).await;
                        }
                    }
                }
            };
            tokio::select! {
                _ = serve => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}

async fn serve_io<I>(
    io: TokioIo<I>,
    h2_max_streams: Option<u32>,
    handler: Handler,
    stats: Arc<FnStats>,
    conn: usize,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    if let Some(n) = h2_max_streams {
        builder.http2().max_concurrent_streams(n);
    }
    let svc = service_fn(move |req: Request<Incoming>| {
        let handler = handler.clone();
        let stats = stats.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let seen = Seen {
                method: parts.method,
                uri: parts.uri,
                version: parts.version,
                headers: parts.headers,
                body,
                conn,
            };
            let _in_flight = GaugeGuard::new(vec![stats.in_flight.clone()]);
            stats.log.lock().unwrap().push(seen.clone());
            Ok::<_, Infallible>(handler(seen).await)
        }
    });
    // Connection errors (client went away) are expected in these tests.
    let _ = builder.serve_connection(io, svc).await;
}

/// A whole-body answer.
pub fn reply(status: u16, body: impl Into<Bytes>) -> Response<FnBody> {
    let mut r = Response::new(Full::new(body.into()).boxed_unsync());
    *r.status_mut() = StatusCode::from_u16(status).expect("status code");
    r
}

/// Adds a header to an answer.
pub fn with_header(mut r: Response<FnBody>, name: &str, value: &str) -> Response<FnBody> {
    r.headers_mut().append(
        HeaderName::from_bytes(name.as_bytes()).expect("header name"),
        HeaderValue::from_str(value).expect("header value"),
    );
    r
}

/// A `status` redirect to `location`.
pub fn redirect(status: u16, location: &str) -> Response<FnBody> {
    with_header(
        reply(status, format!("see {location}")),
        "location",
        location,
    )
}

/// The request in the `/echo` format of [`super::TestServer`], so that
/// [`super::Echo::parse`] reads it.
pub fn echo_text(seen: &Seen) -> String {
    let mut out = format!(
        "method={}\nuri={}\nversion={:?}\n",
        seen.method, seen.uri, seen.version
    );
    for (k, v) in &seen.headers {
        out.push_str(&format!(
            "header.{}={}\n",
            k.as_str(),
            String::from_utf8_lossy(v.as_bytes())
        ));
    }
    out.push_str("body=");
    out.push_str(&String::from_utf8_lossy(&seen.body));
    out
}

/// A 200 answer echoing the request (see [`echo_text`]).
pub fn echo(seen: &Seen) -> Response<FnBody> {
    reply(200, echo_text(seen))
}
