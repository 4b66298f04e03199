//! A hyper server (HTTP/1.1 + h2c, or TLS with ALPN) whose answers come
//! from a closure given by the test, for routes [`super::TestServer`] does
//! not have: redirects, compressed bodies, custom headers, HTTP/2 stream
//! limits.
//!
//! Every request is recorded (whole body included) as a [`Seen`] before
//! the handler runs; [`FnStats::in_flight`] counts running handlers.
use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, Version,
};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;
use tokio_rustls::TlsAcceptor;

use super::listen::Listening;
use super::server::{ServerBuilder, serve_http, text};
use super::{Echo, Gauge, GaugeGuard};

/// Body type of [`FnServer`] answers.
pub type FnBody = super::server::Body;

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
pub type FnServerBuilder = ServerBuilder<FnOptions>;

/// Options only an [`FnServer`] has.
#[derive(Default)]
pub struct FnOptions {
    h2_max_streams: Option<u32>,
}

impl ServerBuilder<FnOptions> {
    /// Advertise this SETTINGS_MAX_CONCURRENT_STREAMS to HTTP/2 clients.
    pub fn h2_max_concurrent_streams(mut self, n: u32) -> Self {
        self.kind.h2_max_streams = Some(n);
        self
    }

    pub async fn start<F, Fut>(self, handler: F) -> FnServer
    where
        F: Fn(Seen) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<FnBody>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |seen| Box::pin(handler(seen)));
        let stats = Arc::new(FnStats::default());
        let tls = self.tls.is_some();
        let acceptor = self.tls.map(TlsAcceptor::from);
        let h2_max_streams = self.kind.h2_max_streams;
        let st = stats.clone();
        let listening = Listening::start(self.ip, None, move |stream| {
            let conn = st.accepted.fetch_add(1, Ordering::SeqCst) + 1;
            let mut builder = auto::Builder::new(TokioExecutor::new());
            if let Some(n) = h2_max_streams {
                builder.http2().max_concurrent_streams(n);
            }
            let (handler, stats) = (handler.clone(), st.clone());
            serve_http(stream, acceptor.clone(), builder, move |req| {
                answer(req, handler.clone(), stats.clone(), conn)
            })
        })
        .await;
        FnServer {
            listening,
            tls,
            stats,
        }
    }

    /// Starts a server whose every answer is a `status` redirect to
    /// `location`.
    pub async fn redirecting(self, status: u16, location: impl Into<String>) -> FnServer {
        let location = location.into();
        self.start(move |_| {
            let location = location.clone();
            async move { redirect(status, &location) }
        })
        .await
    }
}

/// Guard of a running [`FnServer`]; dropping it stops the server.
pub struct FnServer {
    listening: Listening,
    tls: bool,
    stats: Arc<FnStats>,
}

impl FnServer {
    pub fn builder() -> FnServerBuilder {
        ServerBuilder::new()
    }

    /// Plain HTTP on 127.0.0.1.
    pub async fn start<F, Fut>(handler: F) -> FnServer
    where
        F: Fn(Seen) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<FnBody>> + Send + 'static,
    {
        Self::builder().start(handler).await
    }

    /// Plain HTTP on 127.0.0.1, every answer a `status` redirect to
    /// `location`.
    pub async fn redirecting(status: u16, location: impl Into<String>) -> FnServer {
        Self::builder().redirecting(status, location).await
    }

    pub fn addr(&self) -> SocketAddr {
        self.listening.addr()
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// `http://IP:PORT` or `https://IP:PORT`, no trailing slash.
    pub fn origin(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr())
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

/// Records the request (whole body included) as a [`Seen`], then answers
/// it with `handler`, counted in flight meanwhile.
async fn answer(
    req: Request<Incoming>,
    handler: Handler,
    stats: Arc<FnStats>,
    conn: usize,
) -> Response<FnBody> {
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
    handler(seen).await
}

/// A server that answers `503` to the first `failures` requests for each
/// path, then `200`: each path counts its own attempts, which
/// [`FnStats::seen_path`] lists.
pub async fn failing_first(failures: usize) -> FnServer {
    let seen: Arc<Mutex<std::collections::HashMap<String, usize>>> = Arc::default();
    FnServer::start(move |req| {
        let n = {
            let mut seen = seen.lock().unwrap();
            let n = seen.entry(req.path()).or_default();
            *n += 1;
            *n
        };
        async move {
            if n <= failures {
                reply(503, format!("failure {n}"))
            } else {
                reply(200, format!("ok after {n}"))
            }
        }
    })
    .await
}

/// A whole-body answer.
pub fn reply(status: u16, body: impl Into<Bytes>) -> Response<FnBody> {
    text(StatusCode::from_u16(status).expect("status code"), body)
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
    Echo::render(
        &seen.method,
        &seen.uri,
        seen.version,
        &seen.headers,
        &seen.body,
    )
}

/// A 200 answer echoing the request (see [`echo_text`]).
pub fn echo(seen: &Seen) -> Response<FnBody> {
    reply(200, echo_text(seen))
}
