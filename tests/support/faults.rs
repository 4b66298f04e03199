//! Fault injection servers on loopback, told **per request** what to do.
//!
//! [`FaultServer`] is a raw HTTP/1.1 server: the request path names the
//! fault (see [`FaultServer`] for the paths), so one server and one batch
//! can mix well-behaved answers with resets, garbage, truncated and endless
//! answers, drips, silence, oversized heads, `Retry-After` statuses and
//! HTTP/1.0. It can also close keep-alive connections at random
//! ([`FaultServer::with_random_closes`]). [`H2FaultServer`] does the same
//! for HTTP/2 stream resets and GOAWAYs (h2c, prior knowledge).
//!
//! Built on the shared accept loop ([`Listening`]) and the raw request
//! reader ([`read_request`]); every loop is bounded in count or time, and
//! dropping a server ends its listener and its connections.
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::FutureExt;
use h2::Reason;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::listen::{LOOPBACK, Listening};
use super::raw::read_request;
use super::{Gauge, GaugeGuard, Rng, http_date};

/// How long any fault connection may live at most.
pub const FAULT_CONN_CAP: Duration = Duration::from_secs(30);
/// How long a connection waits for its next request before closing.
const IDLE_WAIT: Duration = Duration::from_secs(20);
/// What an endless head or body pushes at most before giving up.
pub const ENDLESS_CAP: u64 = 64 << 20;

/// One request head a fault server read.
#[derive(Debug, Clone)]
pub struct FaultHit {
    /// Server-side number of the connection (from 1).
    pub conn: usize,
    /// The request target, e.g. `/fault/garbage`.
    pub target: String,
    pub at: Instant,
}

/// What a [`FaultServer`] or [`H2FaultServer`] saw and did.
#[derive(Debug, Default)]
pub struct FaultStats {
    accepted: AtomicUsize,
    requests: AtomicUsize,
    /// Connections open now (and their peak).
    pub connections: Arc<Gauge>,
    /// Keep-alive connections closed by the random closer.
    random_closes: AtomicUsize,
    /// Connection tasks that panicked (must stay 0).
    panics: AtomicUsize,
    log: Mutex<Vec<FaultHit>>,
    /// Bytes an endless fault pushed before the client left, by target.
    pushed: Mutex<HashMap<String, u64>>,
    /// h2: streams reset by the server.
    resets: AtomicUsize,
}

impl FaultStats {
    /// TCP connections accepted.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Request heads read (HTTP/1) or streams accepted (HTTP/2).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn open_connections(&self) -> usize {
        self.connections.current()
    }

    pub fn random_closes(&self) -> usize {
        self.random_closes.load(Ordering::SeqCst)
    }

    pub fn panics(&self) -> usize {
        self.panics.load(Ordering::SeqCst)
    }

    /// HTTP/2 streams the server reset.
    pub fn resets(&self) -> usize {
        self.resets.load(Ordering::SeqCst)
    }

    /// Every request, in arrival order.
    pub fn log(&self) -> Vec<FaultHit> {
        self.log.lock().unwrap().clone()
    }

    /// Requests whose target was exactly `target`.
    pub fn hits(&self, target: &str) -> Vec<FaultHit> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.target == target)
            .cloned()
            .collect()
    }

    /// Bytes the endless fault at `target` pushed, once it has ended.
    pub fn pushed(&self, target: &str) -> Option<u64> {
        self.pushed.lock().unwrap().get(target).copied()
    }

    /// Records a request; returns how many times `target` was seen before.
    fn record(&self, conn: usize, target: &str) -> usize {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let mut log = self.log.lock().unwrap();
        let before = log.iter().filter(|h| h.target == target).count();
        log.push(FaultHit {
            conn,
            target: target.to_string(),
            at: Instant::now(),
        });
        before
    }
}

/// Starts an accept loop on 127.0.0.1 whose connections run `serve(stream,
/// conn_id)` counted in `stats`: accepted, open now, and panics caught.
async fn listen<F, Fut>(stats: &Arc<FaultStats>, serve: F) -> Listening
where
    F: Fn(TcpStream, usize) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let st = stats.clone();
    Listening::start(LOOPBACK, Some(FAULT_CONN_CAP), move |stream| {
        let conn = st.accepted.fetch_add(1, Ordering::SeqCst) + 1;
        let open = GaugeGuard::new(vec![st.connections.clone()]);
        let st = st.clone();
        let fut = serve(stream, conn);
        async move {
            let _open = open;
            if AssertUnwindSafe(fut).catch_unwind().await.is_err() {
                st.panics.fetch_add(1, Ordering::SeqCst);
            }
        }
    })
    .await
}

/// Random closes of keep-alive connections: after each answer, with
/// `percent` % chance, half the time the connection is closed at once (just
/// used) and half the time after an idle wait of 0–30 ms (closed without
/// answering a request that arrives meanwhile, as a real server does when
/// its idle close races the client's next request).
#[derive(Debug, Clone, Copy)]
struct RandomCloses {
    seed: u64,
    percent: u64,
}

/// A raw HTTP/1.1 server acting out the fault its request path names.
///
/// | path | answer |
/// |---|---|
/// | `/ok/{tag}` | `200`, body `{tag}`, keep-alive |
/// | `/fault/reset/before-head` | reads the request, resets (RST) |
/// | `/fault/reset/mid-head` | half a status line and header, then RST |
/// | `/fault/reset/mid-body` | head with `Content-Length: 100`, 10 bytes, RST |
/// | `/fault/close/before-response` | reads the request, closes (FIN) |
/// | `/fault/garbage` | bytes that are not HTTP, then FIN |
/// | `/fault/truncated/length` | `Content-Length: 1000`, 10 bytes, FIN |
/// | `/fault/truncated/chunked` | one chunk, no last chunk, FIN |
/// | `/fault/drip/{ms}` | a valid `200` (body `dripped`), one byte every `{ms}` ms |
/// | `/fault/never` | reads the request, never answers |
/// | `/fault/huge-header/{bytes}` | one header value of `{bytes}` bytes |
/// | `/fault/many-headers/{n}` | `{n}` header fields |
/// | `/fault/endless-headers/{len}` | header lines of `{len}`-byte values for ever ([`ENDLESS_CAP`]) |
/// | `/fault/endless-body/{chunked,close,length}` | a body for ever ([`ENDLESS_CAP`]): chunked, close-delimited, or announced as [`ENDLESS_CAP`] bytes |
/// | `/fault/status/{code}/{times}/{form}/...` | the first `{times}` requests to this exact target: `{code}` with `Retry-After` in `{form}`; later `200 ok` |
/// | `/fault/http10/{length,close,keep-alive}` | an `HTTP/1.0 200` (body `hello 1.0`) |
/// | anything else | `404` |
///
/// `Retry-After` forms: `secs-{n}`, `date-in-{n}` (an HTTP-date `{n}` s
/// ahead), `date-past`, `garbage`, `huge` (`999999999`), `none` (no header).
pub struct FaultServer {
    listening: Listening,
    stats: Arc<FaultStats>,
}

impl FaultServer {
    pub async fn start() -> FaultServer {
        FaultServer::start_with(None).await
    }

    /// A server that also closes keep-alive connections at random (see
    /// [`RandomCloses`]): after each answer, with `percent` % chance, from
    /// a generator seeded by `seed` and the connection number.
    pub async fn with_random_closes(seed: u64, percent: u64) -> FaultServer {
        FaultServer::start_with(Some(RandomCloses { seed, percent })).await
    }

    async fn start_with(closes: Option<RandomCloses>) -> FaultServer {
        let stats = Arc::new(FaultStats::default());
        let st = stats.clone();
        let listening = listen(&stats, move |stream, conn| {
            serve_h1(stream, conn, st.clone(), closes)
        })
        .await;
        FaultServer { listening, stats }
    }

    pub fn addr(&self) -> SocketAddr {
        self.listening.addr()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr(), path)
    }

    pub fn stats(&self) -> &Arc<FaultStats> {
        &self.stats
    }
}

impl std::ops::Deref for FaultServer {
    type Target = FaultStats;

    fn deref(&self) -> &FaultStats {
        &self.stats
    }
}

/// What the connection does after a fault.
enum Next {
    KeepAlive,
    Close,
}

async fn serve_h1(
    mut stream: TcpStream,
    conn: usize,
    stats: Arc<FaultStats>,
    closes: Option<RandomCloses>,
) {
    let mut rng = closes.map(|c| Rng::new(c.seed ^ (conn as u64).wrapping_mul(0x9E37_79B9)));
    let mut buf = Vec::new();
    // Bounded: each turn reads a request, and the connection lives at most
    // FAULT_CONN_CAP.
    loop {
        let Some(line) = read_request(&mut stream, &mut buf, IDLE_WAIT).await else {
            return;
        };
        let target = line.split_once(' ').map_or("", |(_, t)| t).to_string();
        let seen_before = stats.record(conn, &target);
        match act(&mut stream, &target, seen_before, &stats).await {
            Next::Close => return,
            Next::KeepAlive => {}
        }
        let (Some(rng), Some(c)) = (rng.as_mut(), closes) else {
            continue;
        };
        if rng.below(100) >= c.percent {
            continue;
        }
        stats.random_closes.fetch_add(1, Ordering::SeqCst);
        if rng.below(2) == 1 {
            let idle = Duration::from_millis(rng.below(31));
            tokio::time::sleep(idle).await;
        }
        // Dropped: FIN, or RST if a request arrived unread meanwhile.
        return;
    }
}

/// Resets the connection: SO_LINGER 0, then close (as `raw.rs` does).
fn reset(stream: &mut TcpStream) -> Next {
    let _ = stream.set_zero_linger();
    Next::Close
}

/// Writes `bytes`; `false` if the client is gone.
async fn send(stream: &mut TcpStream, bytes: &[u8]) -> bool {
    stream.write_all(bytes).await.is_ok()
}

/// Writes `bytes`, then closes (FIN).
async fn send_and_close(stream: &mut TcpStream, bytes: &[u8]) -> Next {
    if send(stream, bytes).await {
        let _ = stream.shutdown().await;
    }
    Next::Close
}

/// Writes a keep-alive response.
async fn respond(stream: &mut TcpStream, status: &str, headers: &str, body: &str) -> Next {
    let resp = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if send(stream, resp.as_bytes()).await {
        Next::KeepAlive
    } else {
        Next::Close
    }
}

async fn act(stream: &mut TcpStream, target: &str, seen_before: usize, stats: &FaultStats) -> Next {
    let path = target.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let num = |i: usize| parts.get(i).and_then(|p| p.parse::<u64>().ok());
    match parts.as_slice() {
        ["ok", tag] => respond(stream, "200 OK", "", tag).await,
        ["fault", "reset", "before-head"] => reset(stream),
        ["fault", "reset", "mid-head"] => {
            if send(stream, b"HTTP/1.1 200 OK\r\nContent-Le").await {
                // Let the client read the half head before the reset.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            reset(stream)
        }
        ["fault", "reset", "mid-body"] => {
            let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
            if send(stream, head).await {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            reset(stream)
        }
        ["fault", "close", "before-response"] => {
            let _ = stream.shutdown().await;
            Next::Close
        }
        ["fault", "garbage"] => {
            send_and_close(
                stream,
                b"SPLORK 999 not http\r\n\x00\x01\x02garbage\r\n\r\n",
            )
            .await
        }
        ["fault", "truncated", "length"] => {
            let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789";
            send_and_close(stream, answer).await
        }
        ["fault", "truncated", "chunked"] => {
            let answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
            send_and_close(stream, answer).await
        }
        ["fault", "drip", _] => {
            let every = Duration::from_millis(num(2).unwrap_or(100));
            let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\ndripped";
            for b in resp {
                if !send(stream, &[*b]).await {
                    return Next::Close;
                }
                tokio::time::sleep(every).await;
            }
            Next::KeepAlive
        }
        ["fault", "never"] => {
            // Until the client leaves (bounded by FAULT_CONN_CAP).
            let mut tmp = [0u8; 1024];
            while let Ok(1..) = stream.read(&mut tmp).await {}
            Next::Close
        }
        ["fault", "huge-header", _] => {
            let value = "v".repeat(num(2).unwrap_or(100_000) as usize);
            respond(stream, "200 OK", &format!("X-Huge: {value}\r\n"), "ok").await
        }
        ["fault", "many-headers", _] => {
            let headers: String = (0..num(2).unwrap_or(1000))
                .map(|i| format!("X-Many-{i}: {i}\r\n"))
                .collect();
            respond(stream, "200 OK", &headers, "ok").await
        }
        ["fault", "endless-headers", _] => {
            let line = format!(
                "X-Endless: {}\r\n",
                "e".repeat(num(2).unwrap_or(1000) as usize)
            );
            endless(
                stream,
                target,
                stats,
                b"HTTP/1.1 200 OK\r\n",
                line.as_bytes(),
            )
            .await
        }
        ["fault", "endless-body", framing] => {
            let block = vec![b'b'; 16 * 1024];
            match *framing {
                "chunked" => {
                    let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
                    let mut chunk = format!("{:x}\r\n", block.len()).into_bytes();
                    chunk.extend_from_slice(&block);
                    chunk.extend_from_slice(b"\r\n");
                    endless(stream, target, stats, head, &chunk).await
                }
                "close" => {
                    let head = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
                    endless(stream, target, stats, head, &block).await
                }
                _ => {
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {ENDLESS_CAP}\r\n\r\n");
                    endless(stream, target, stats, head.as_bytes(), &block).await
                }
            }
        }
        ["fault", "status", code, _, form, ..] => {
            let times = num(3).unwrap_or(1) as usize;
            if seen_before >= times {
                return respond(stream, "200 OK", "", "ok").await;
            }
            let retry_after = match *form {
                "none" => None,
                "date-past" => Some(http_date(SystemTime::now() - Duration::from_secs(3600))),
                "garbage" => Some("soon, maybe".to_string()),
                "huge" => Some("999999999".to_string()),
                f => {
                    if let Some(n) = f.strip_prefix("secs-") {
                        Some(n.to_string())
                    } else {
                        let n: u64 = f
                            .strip_prefix("date-in-")
                            .unwrap_or("1")
                            .parse()
                            .unwrap_or(1);
                        Some(http_date(SystemTime::now() + Duration::from_secs(n)))
                    }
                }
            };
            let headers = retry_after.map_or(String::new(), |v| format!("Retry-After: {v}\r\n"));
            respond(stream, &format!("{code} Fault"), &headers, code).await
        }
        ["fault", "http10", "length"] => {
            send_and_close(
                stream,
                b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nhello 1.0",
            )
            .await
        }
        ["fault", "http10", "close"] => {
            let answer = b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nhello 1.0";
            send_and_close(stream, answer).await
        }
        ["fault", "http10", "keep-alive"] => {
            let answer =
                b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 9\r\n\r\nhello 1.0";
            if send(stream, answer).await {
                Next::KeepAlive
            } else {
                Next::Close
            }
        }
        _ => respond(stream, "404 Not Found", "", "no such fault").await,
    }
}

/// Writes `head`, then `unit` over and over until the client leaves or
/// [`ENDLESS_CAP`] bytes went out; records the bytes pushed for `target`.
async fn endless(
    stream: &mut TcpStream,
    target: &str,
    stats: &FaultStats,
    head: &[u8],
    unit: &[u8],
) -> Next {
    let mut pushed = 0u64;
    if send(stream, head).await {
        while pushed < ENDLESS_CAP && send(stream, unit).await {
            pushed += unit.len() as u64;
        }
    }
    stats
        .pushed
        .lock()
        .unwrap()
        .insert(target.to_string(), pushed);
    Next::Close
}

// ----- HTTP/2 ---------------------------------------------------------------

/// An h2c (prior knowledge) server, written with the `h2` crate's server
/// side, acting out the fault its request path names. Answers are `200`
/// with body `conn={c} path={p}`; `?delay=MS` delays an answer.
///
/// | path | answer |
/// |---|---|
/// | `/h2/rst/{code}/{times}/...` | the first `{times}` requests to this exact target: `RST_STREAM({code})` before any response; later answered |
/// | `/h2/rst-body/{code}` | response headers and 5 body bytes, then `RST_STREAM({code})` |
/// | `/h2/goaway/{code}` | the first request to it: `GOAWAY({code})` (abrupt: last stream id = the last one accepted) on its connection; later answered |
/// | anything else | answered |
pub struct H2FaultServer {
    listening: Listening,
    stats: Arc<FaultStats>,
}

impl H2FaultServer {
    pub async fn start() -> H2FaultServer {
        let stats = Arc::new(FaultStats::default());
        let st = stats.clone();
        let listening = listen(&stats, move |stream, conn| {
            serve_h2(stream, conn, st.clone())
        })
        .await;
        H2FaultServer { listening, stats }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.listening.addr(), path)
    }
}

impl std::ops::Deref for H2FaultServer {
    type Target = FaultStats;

    fn deref(&self) -> &FaultStats {
        &self.stats
    }
}

async fn serve_h2(stream: TcpStream, conn: usize, stats: Arc<FaultStats>) {
    let mut builder = h2::server::Builder::new();
    builder.max_concurrent_streams(100);
    let Ok(mut connection) = builder.handshake::<_, Bytes>(stream).await else {
        return;
    };
    // Streams held open (unanswered) once the connection went away.
    let mut held = Vec::new();
    // Bounded by the client's streams and FAULT_CONN_CAP.
    while let Some(Ok((req, mut respond))) = connection.accept().await {
        let target = req
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
        let seen_before = stats.record(conn, &target);
        let path = target.split('?').next().unwrap_or_default().to_string();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let code = |i: usize| {
            parts
                .get(i)
                .and_then(|c| c.parse::<u32>().ok())
                .map_or(Reason::INTERNAL_ERROR, Reason::from)
        };
        match parts.as_slice() {
            ["h2", "rst", _, times, ..] if seen_before < times.parse().unwrap_or(1) => {
                stats.resets.fetch_add(1, Ordering::SeqCst);
                respond.send_reset(code(2));
                continue;
            }
            ["h2", "rst-body", _] => {
                let reason = code(2);
                let stats = stats.clone();
                tokio::spawn(async move {
                    let head = http::Response::builder().status(200).body(()).unwrap();
                    if let Ok(mut send) = respond.send_response(head, false) {
                        let _ = send.send_data(Bytes::from_static(b"hello"), false);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        stats.resets.fetch_add(1, Ordering::SeqCst);
                        send.send_reset(reason);
                    }
                });
                continue;
            }
            ["h2", "goaway", _] if seen_before == 0 => {
                connection.abrupt_shutdown(code(2));
                // Held unanswered: the connection ends once the GOAWAY is out.
                held.push((req, respond));
                continue;
            }
            _ => {}
        }
        tokio::spawn(answer_h2(req, respond, conn, target));
    }
}

async fn answer_h2(
    req: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    conn: usize,
    target: String,
) {
    let (parts, mut body) = req.into_parts();
    let mut read = 0usize;
    while let Some(Ok(chunk)) = body.data().await {
        let _ = body.flow_control().release_capacity(chunk.len());
        read += chunk.len();
        if read > 1 << 20 {
            return;
        }
    }
    let delay = parts
        .uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("delay=")))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let head = http::Response::builder().status(200).body(()).unwrap();
    if let Ok(mut send) = respond.send_response(head, false) {
        let _ = send.send_data(Bytes::from(format!("conn={conn} path={target}")), true);
    }
}
