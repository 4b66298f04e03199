//! A well-behaved, instrumented hyper server (HTTP/1.1 and HTTP/2 via
//! `hyper_util::server::conn::auto`, optionally behind TLS with ALPN).
//!
//! Routes (any route also accepts `?delay=MS`, slept before answering):
//!
//! | route | answer |
//! | --- | --- |
//! | `/` | 200 `ok` |
//! | `/delay/{ms}` | sleeps `ms`, 200 `delayed {ms}` |
//! | `/status/{code}` | `code`, body `status {code}` |
//! | `/id/{i}` | 200, body `i` |
//! | `/bytes/{n}` | 200, `n` bytes of [`super::pattern`], with Content-Length, streamed |
//! | `/bytes-chunked/{n}` | same bytes, chunked (no Content-Length) |
//! | `/chunked-endless` | endless chunked body (capped at 1 GiB; stops when the client goes) |
//! | `/drip-body/{n}/{ms}` | Content-Length `n`, head at once, then one byte every `ms` |
//! | `/echo` | method, uri, version, all headers, body as text (see [`super::Echo`]) |
//! | `/flaky-echo/{key}/{n}` | first `n` hits for `key`: 503, then like `/echo` |
//! | `/flaky/{key}/{n}` | first `n` hits for `key`: 503 (or `?code=C`, with `Retry-After: S` if `?retry_after=S`), then 200 `ok {key}` |
//! | `/retry-after/{key}/secs/{s}[/{n}]` | first `n` (default 1) hits: 503 + `Retry-After: s`, then 200 |
//! | `/retry-after/{key}/date/{s}[/{n}]` | same with an HTTP-date `now + s` |
//! | `/version` | body is the request's HTTP version (`HTTP/1.1`, `HTTP/2.0`) |
//! | `/invalid-utf8` | 200 with a body that is not UTF-8 |
//! | `/panic` | the handler panics (the guard reports it on drop) |
//!
//! Every response carries `x-http-version` (the version the server saw) and
//! `x-conn-id` (the server's number of the TCP connection, from 1).
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::stream;
use http::{HeaderValue, Method, Request, Response, StatusCode, Version};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use super::listen::{LOOPBACK, Listening};
use super::{Echo, Gauge, GaugeGuard, http_date, pattern_byte};

/// Body of the answers of the hyper servers here.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Cap of `/chunked-endless` so that even a broken client cannot make it run forever.
pub const ENDLESS_CAP: u64 = 1 << 30;
const CHUNK: usize = 64 * 1024;

/// One request as seen by the server (recorded when its handler starts).
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: Method,
    /// Path and query, e.g. `/id/3?delay=10`.
    pub path: String,
    pub at: Instant,
    /// Server-side number of the connection it arrived on (1-based).
    pub conn: usize,
    pub version: Version,
}

/// Counters shared by several servers (e.g. "overall" in-flight across hosts).
#[derive(Debug, Clone, Default)]
pub struct ServerGroup {
    pub in_flight: Arc<Gauge>,
    pub hits: Arc<AtomicUsize>,
}

impl ServerGroup {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Everything a [`TestServer`] counts.
#[derive(Debug)]
pub struct ServerStats {
    pub started: Instant,
    /// Requests whose handler is running (from head received to response head sent).
    pub in_flight: Arc<Gauge>,
    /// Open TCP connections (for TLS: from accept, handshake included).
    pub connections: Arc<Gauge>,
    accepted: AtomicUsize,
    hits: Mutex<HashMap<String, usize>>,
    log: Mutex<Vec<Hit>>,
    completed: AtomicUsize,
    cancelled: AtomicUsize,
    flaky: Mutex<HashMap<String, usize>>,
    /// Bytes of `/chunked-endless` handed to hyper so far.
    pub endless_bytes: AtomicU64,
    /// `/chunked-endless` bodies still being produced.
    pub endless_active: Arc<Gauge>,
    panic: Mutex<Option<String>>,
}

impl ServerStats {
    fn new() -> Self {
        ServerStats {
            started: Instant::now(),
            in_flight: Arc::default(),
            connections: Arc::default(),
            accepted: AtomicUsize::new(0),
            hits: Mutex::default(),
            log: Mutex::default(),
            completed: AtomicUsize::new(0),
            cancelled: AtomicUsize::new(0),
            flaky: Mutex::default(),
            endless_bytes: AtomicU64::new(0),
            endless_active: Arc::default(),
            panic: Mutex::default(),
        }
    }

    /// Hits of exactly this path-and-query (e.g. `/id/3`).
    pub fn hits(&self, path_and_query: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .get(path_and_query)
            .copied()
            .unwrap_or(0)
    }

    /// Hits whose path-and-query starts with `prefix`.
    pub fn hits_prefix(&self, prefix: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| *v)
            .sum()
    }

    /// All requests received.
    pub fn total_hits(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Snapshot of hit counts per path-and-query.
    pub fn hit_counts(&self) -> HashMap<String, usize> {
        self.hits.lock().unwrap().clone()
    }

    /// Every request in arrival order.
    pub fn log(&self) -> Vec<Hit> {
        self.log.lock().unwrap().clone()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.current()
    }

    pub fn peak_in_flight(&self) -> usize {
        self.in_flight.peak()
    }

    /// TCP connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn open_connections(&self) -> usize {
        self.connections.current()
    }

    /// Handlers that ran to completion.
    pub fn completed(&self) -> usize {
        self.completed.load(Ordering::SeqCst)
    }

    /// Handlers dropped before answering (client went away / stream reset).
    pub fn cancelled(&self) -> usize {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Distinct connections that carried at least one request.
    pub fn connections_used(&self) -> usize {
        let mut ids: Vec<usize> = self.log.lock().unwrap().iter().map(|h| h.conn).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }
}

/// Options of the hyper servers here: where one listens and whether it
/// speaks TLS, plus the options `K` of its kind ([`Instrumented`] for a
/// [`TestServer`], [`super::fn_server::FnOptions`] for a
/// [`super::FnServer`]). See [`TestServer::builder`].
pub struct ServerBuilder<K> {
    pub(super) ip: IpAddr,
    pub(super) tls: Option<Arc<ServerConfig>>,
    pub(super) kind: K,
}

impl<K: Default> ServerBuilder<K> {
    pub(super) fn new() -> Self {
        ServerBuilder {
            ip: LOOPBACK,
            tls: None,
            kind: K::default(),
        }
    }
}

impl<K> ServerBuilder<K> {
    /// Listen on this loopback IP (127.0.0.1 by default; 127.0.0.2, … play other hosts).
    pub fn ip(mut self, ip: impl Into<IpAddr>) -> Self {
        self.ip = ip.into();
        self
    }

    /// Serve TLS with this config (set its ALPN list, see [`super::tls`]).
    pub fn tls(mut self, config: Arc<ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }
}

/// Options only a [`TestServer`] has.
#[derive(Default)]
pub struct Instrumented {
    group: Option<ServerGroup>,
}

impl ServerBuilder<Instrumented> {
    /// Also count in-flight requests and hits in `group`.
    pub fn group(mut self, group: &ServerGroup) -> Self {
        self.kind.group = Some(group.clone());
        self
    }

    pub async fn start(self) -> TestServer {
        let stats = Arc::new(ServerStats::new());
        let ctx = Arc::new(Ctx {
            stats: stats.clone(),
            group: self.kind.group,
        });
        let tls = self.tls.is_some();
        let acceptor = self.tls.map(TlsAcceptor::from);
        let listening = Listening::start(self.ip, None, move |stream| {
            let conn_id = ctx.stats.accepted.fetch_add(1, Ordering::SeqCst) + 1;
            let open = GaugeGuard::new(vec![ctx.stats.connections.clone()]);
            let ctx = ctx.clone();
            let acceptor = acceptor.clone();
            async move {
                let _open = open;
                let builder = auto::Builder::new(TokioExecutor::new());
                serve_http(stream, acceptor, builder, move |req| {
                    handle(req, ctx.clone(), conn_id)
                })
                .await;
            }
        })
        .await;
        TestServer {
            listening,
            tls,
            stats,
        }
    }
}

/// Guard of a running instrumented server. Dropping it stops the server
/// (listener and every connection) and panics if a handler or the accept
/// loop panicked (unless the test is already panicking).
pub struct TestServer {
    listening: Listening,
    tls: bool,
    stats: Arc<ServerStats>,
}

impl TestServer {
    pub fn builder() -> ServerBuilder<Instrumented> {
        ServerBuilder::new()
    }

    /// Plain HTTP (HTTP/1.1 + h2c) on 127.0.0.1:0.
    pub async fn start() -> TestServer {
        Self::builder().start().await
    }

    /// Plain HTTP on `ip`:0 (e.g. `[127, 0, 0, 2]`).
    pub async fn start_on(ip: impl Into<IpAddr>) -> TestServer {
        Self::builder().ip(ip).start().await
    }

    /// TLS (ALPN per `config`) on 127.0.0.1:0.
    pub async fn start_tls(config: Arc<ServerConfig>) -> TestServer {
        Self::builder().tls(config).start().await
    }

    pub fn addr(&self) -> SocketAddr {
        self.listening.addr()
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// Absolute URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme(), self.addr(), path)
    }

    /// Absolute URL using `host` instead of the IP (e.g. `localhost`).
    pub fn url_with_host(&self, host: &str, path: &str) -> String {
        format!("{}://{}:{}{}", self.scheme(), host, self.port(), path)
    }

    pub fn uri(&self, path: &str) -> http::Uri {
        self.url(path).parse().expect("valid uri")
    }

    pub fn stats(&self) -> &Arc<ServerStats> {
        &self.stats
    }
}

impl Deref for TestServer {
    type Target = ServerStats;

    fn deref(&self) -> &ServerStats {
        &self.stats
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let loop_panic = self.listening.stop();
        let mut problem = self
            .stats
            .panic
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(e) = loop_panic {
            problem = Some(format!("accept loop panicked: {e}"));
        }
        if let Some(msg) = problem
            && !std::thread::panicking()
        {
            panic!("TestServer {}: {msg}", self.addr());
        }
    }
}

struct Ctx {
    stats: Arc<ServerStats>,
    group: Option<ServerGroup>,
}

/// Serves one connection of [`TestServer`] or [`super::FnServer`] with
/// `builder` (HTTP/1.1 and HTTP/2), answering each request with `handle`;
/// with `tls`, after a handshake of at most 10 s. A failed handshake (e.g.
/// the client rejects our certificate) just closes the connection.
pub(super) async fn serve_http<F, Fut>(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    builder: auto::Builder<TokioExecutor>,
    handle: F,
) where
    F: Fn(Request<Incoming>) -> Fut + Send + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let svc = service_fn(move |req| {
        let answer = handle(req);
        async move { Ok::<_, Infallible>(answer.await) }
    });
    // Connection errors (client reset, garbage) are expected in these tests.
    match tls {
        None => {
            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
        }
        Some(acceptor) => {
            let hs = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await;
            if let Ok(Ok(tls)) = hs {
                let _ = builder.serve_connection(TokioIo::new(tls), svc).await;
            }
        }
    }
}

/// Counts the handler as completed or cancelled when dropped.
struct HandlerGuard {
    stats: Arc<ServerStats>,
    done: bool,
    _in_flight: GaugeGuard,
}

impl Drop for HandlerGuard {
    fn drop(&mut self) {
        let counter = if self.done {
            &self.stats.completed
        } else {
            &self.stats.cancelled
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

async fn handle(req: Request<Incoming>, ctx: Arc<Ctx>, conn_id: usize) -> Response<Body> {
    let stats = ctx.stats.clone();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    let version = req.version();
    {
        let mut gauges = vec![stats.in_flight.clone()];
        if let Some(g) = &ctx.group {
            gauges.push(g.in_flight.clone());
            g.hits.fetch_add(1, Ordering::SeqCst);
        }
        // Record the hit and enter in-flight under the log lock so that the
        // log order and the gauges agree.
        let mut guard = {
            let mut log = stats.log.lock().unwrap();
            *stats.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
            log.push(Hit {
                method: req.method().clone(),
                path: path.clone(),
                at: Instant::now(),
                conn: conn_id,
                version,
            });
            HandlerGuard {
                stats: stats.clone(),
                done: false,
                _in_flight: GaugeGuard::new(gauges),
            }
        };
        let result = AssertUnwindSafe(route(req, &stats)).catch_unwind().await;
        guard.done = true;
        drop(guard);
        let mut resp = match result {
            Ok(r) => r,
            Err(p) => {
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic".into());
                let mut slot = stats.panic.lock().unwrap();
                slot.get_or_insert_with(|| format!("handler for {path} panicked: {msg}"));
                text(StatusCode::INTERNAL_SERVER_ERROR, "handler panicked")
            }
        };
        let h = resp.headers_mut();
        h.insert(
            "x-http-version",
            HeaderValue::from_str(&format!("{version:?}")).unwrap(),
        );
        h.insert("x-conn-id", HeaderValue::from(conn_id));
        resp
    }
}

/// A whole-body answer.
pub(super) fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed_unsync());
    *r.status_mut() = status;
    r
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.parse().ok()
}

async fn route(req: Request<Incoming>, stats: &Arc<ServerStats>) -> Response<Body> {
    let query = req.uri().query().map(str::to_string);
    let query = query.as_deref();
    if let Some(ms) = query_param(query, "delay").and_then(num::<u64>) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let path = req.uri().path().to_string();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let not_found = || text(StatusCode::NOT_FOUND, "not found");
    match segs.as_slice() {
        [""] => text(StatusCode::OK, "ok"),
        ["delay", ms] => {
            let Some(ms) = num::<u64>(ms) else {
                return not_found();
            };
            tokio::time::sleep(Duration::from_millis(ms)).await;
            text(StatusCode::OK, format!("delayed {ms}"))
        }
        ["status", code] => match num::<u16>(code).and_then(|c| StatusCode::from_u16(c).ok()) {
            Some(code) => text(code, format!("status {}", code.as_u16())),
            None => not_found(),
        },
        ["id", i] => text(StatusCode::OK, i.to_string()),
        ["bytes", n] => match num::<u64>(n) {
            Some(n) => {
                let mut r = Response::new(pattern_stream(n));
                r.headers_mut()
                    .insert(http::header::CONTENT_LENGTH, HeaderValue::from(n));
                r
            }
            None => not_found(),
        },
        ["bytes-chunked", n] => match num::<u64>(n) {
            Some(n) => Response::new(pattern_stream(n)),
            None => not_found(),
        },
        ["chunked-endless"] => Response::new(endless(stats.clone())),
        ["drip-body", n, ms] => match (num::<u64>(n), num::<u64>(ms)) {
            (Some(n), Some(ms)) => {
                let s = stream::unfold(0u64, move |i| async move {
                    if i >= n {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Some((Ok(Frame::data(Bytes::from_static(b"x"))), i + 1))
                });
                let mut r = Response::new(StreamBody::new(s).boxed_unsync());
                r.headers_mut()
                    .insert(http::header::CONTENT_LENGTH, HeaderValue::from(n));
                r
            }
            _ => not_found(),
        },
        ["echo"] => echo(req).await,
        ["flaky-echo", key, n] => {
            let Some(n) = num::<usize>(n) else {
                return not_found();
            };
            let key = key.to_string();
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let resp = flaky(
                stats,
                &format!("flaky-echo/{key}"),
                n,
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                &key,
            );
            if resp.status() != StatusCode::OK {
                return resp;
            }
            echo(Request::from_parts(parts, Full::new(body))).await
        }
        ["flaky", key, n] => {
            let Some(n) = num::<usize>(n) else {
                return not_found();
            };
            let code = query_param(query, "code")
                .and_then(num::<u16>)
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let retry_after = query_param(query, "retry_after").map(str::to_string);
            flaky(stats, &format!("flaky/{key}"), n, code, retry_after, key)
        }
        ["retry-after", key, form, s, rest @ ..] => {
            let Some(s) = num::<u64>(s) else {
                return not_found();
            };
            let n = match rest {
                [] => 1,
                [n] => match num::<usize>(n) {
                    Some(n) => n,
                    None => return not_found(),
                },
                _ => return not_found(),
            };
            let value = match *form {
                "secs" => s.to_string(),
                "date" => http_date(SystemTime::now() + Duration::from_secs(s)),
                _ => return not_found(),
            };
            flaky(
                stats,
                &format!("retry-after/{key}"),
                n,
                StatusCode::SERVICE_UNAVAILABLE,
                Some(value),
                key,
            )
        }
        ["version"] => text(StatusCode::OK, format!("{:?}", req.version())),
        ["invalid-utf8"] => text(
            StatusCode::OK,
            Bytes::from_static(&[0xff, 0xfe, 0xfd, b'x']),
        ),
        ["panic"] => panic!("/panic requested"),
        _ => not_found(),
    }
}

fn flaky(
    stats: &ServerStats,
    counter: &str,
    failures: usize,
    code: StatusCode,
    retry_after: Option<String>,
    key: &str,
) -> Response<Body> {
    let seen = {
        let mut m = stats.flaky.lock().unwrap();
        let c = m.entry(counter.to_string()).or_default();
        *c += 1;
        *c
    };
    if seen <= failures {
        let mut r = text(code, format!("failure {seen} of {failures} for {key}"));
        if let Some(ra) = retry_after {
            r.headers_mut().insert(
                http::header::RETRY_AFTER,
                HeaderValue::from_str(&ra).expect("retry-after value"),
            );
        }
        r
    } else {
        text(StatusCode::OK, format!("ok {key}"))
    }
}

async fn echo<B>(req: Request<B>) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("body error: {e}")),
    };
    let out = Echo::render(
        &parts.method,
        &parts.uri,
        parts.version,
        &parts.headers,
        &body,
    );
    text(StatusCode::OK, out)
}

/// `n` bytes of the shared pattern in chunks of at most 64 KiB.
fn pattern_stream(n: u64) -> Body {
    let block: Bytes = (0..CHUNK + 26)
        .map(pattern_byte)
        .collect::<Vec<u8>>()
        .into();
    let s = stream::unfold(0u64, move |sent| {
        let block = block.clone();
        async move {
            if sent >= n {
                return None;
            }
            let len = (n - sent).min(CHUNK as u64) as usize;
            // Every chunk starts at a multiple of CHUNK; shift so the pattern is continuous.
            let off = (sent % 26) as usize;
            let chunk = block.slice(off..off + len);
            Some((Ok(Frame::data(chunk)), sent + len as u64))
        }
    });
    StreamBody::new(s).boxed_unsync()
}

/// Endless chunked body, capped at [`ENDLESS_CAP`]; hyper stops polling it
/// (and drops it) when the client goes away.
fn endless(stats: Arc<ServerStats>) -> Body {
    let active = GaugeGuard::new(vec![stats.endless_active.clone()]);
    let block = Bytes::from(vec![b'z'; CHUNK]);
    let state = (0u64, stats, active);
    let s = stream::unfold(state, move |(sent, stats, active)| {
        let block = block.clone();
        async move {
            if sent >= ENDLESS_CAP {
                return None;
            }
            stats
                .endless_bytes
                .fetch_add(block.len() as u64, Ordering::SeqCst);
            // Yield so that one endless body cannot monopolise a worker.
            tokio::task::yield_now().await;
            Some((
                Ok(Frame::data(block.clone())),
                (sent + block.len() as u64, stats, active),
            ))
        }
    });
    StreamBody::new(s).boxed_unsync()
}
