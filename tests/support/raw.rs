//! Raw TCP servers that misbehave on purpose (no HTTP library on the
//! server side): [`RawServer`].
//!
//! A [`RawServer::start`] connection first reads one request head (and its
//! Content-Length or chunked body), then acts out its [`Behavior`]: the
//! same misbehaviour for every request, or ([`Behavior::ByPath`]) the
//! fault the request path names, see [`by_path`]. A
//! [`RawServer::script`] connection is handed to a closure of the test
//! instead, for answers no HTTP library would write (or no HTTP at all).
//! A [`RawServer::blackhole`] never accepts: connecting to it hangs.
//!
//! All loops are bounded in count and time; dropping the [`RawServer`]
//! closes the listener and every connection.
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::Rng;
use super::listen::{ConnCounts, Listening};

pub mod by_path;

pub use by_path::ENDLESS_CAP;

/// How long any raw connection may live at most.
pub const CONN_CAP: Duration = Duration::from_secs(30);
/// How long a connection waits for the first request head.
const FIRST_REQUEST_WAIT: Duration = Duration::from_secs(10);
/// How long a [`Behavior::ByPath`] connection waits for its next request.
const BY_PATH_IDLE_WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// Answers bytes that are not HTTP, then closes.
    Garbage,
    /// `Content-Length: 1000` but only 10 body bytes, then closes.
    TruncatedLength,
    /// Chunked body with one chunk and no final `0` chunk, then closes.
    TruncatedChunked,
    /// Status line and headers (`Content-Length: 100`), then closes.
    CloseAfterHeaders,
    /// A full valid response, written one byte every `every`.
    DripHeaders { every: Duration },
    /// Reads the request and never answers (until the client leaves or the server drops).
    NeverAnswer,
    /// Reads the request, then resets the connection (RST, SO_LINGER 0).
    ResetBeforeResponse,
    /// Reads the request, then closes (FIN) without a response.
    CloseBeforeResponse,
    /// Valid keep-alive HTTP/1.1: answers `200 ok {conn}/{n}` to every
    /// request, and closes a connection left idle for `idle_close` (also a
    /// fresh one on which no request arrives).
    KeepAlive { idle_close: Duration },
    /// [`Behavior::KeepAlive`]'s answer to the first request of each
    /// connection, which says nothing of closing; the next request read
    /// on it is not answered: the connection closes (FIN). So does
    /// tinyproxy, closing each connection after one answer, when the
    /// client's next request wins the race with its close.
    OneAnswerPerConnection,
    /// Acts out, request by request, the fault the request path names (see
    /// [`by_path`] for the paths): one server and one batch can mix
    /// well-behaved keep-alive answers with every fault.
    ByPath,
    /// [`Behavior::ByPath`], and closes keep-alive connections at random:
    /// after each answer, with `percent` % chance (from a generator seeded
    /// by `seed` and the connection number), half the time at once (just
    /// used) and half the time after an idle wait of 0–30 ms (closed
    /// without answering a request that arrives meanwhile, as a real server
    /// does when its idle close races the client's next request).
    ByPathClosingAtRandom { seed: u64, percent: u64 },
}

/// One request head a raw server read.
#[derive(Debug, Clone)]
pub struct RawHit {
    /// Server-side number of the connection (from 1).
    pub conn: usize,
    pub method: String,
    /// The request target, e.g. `/fault/garbage`.
    pub target: String,
    pub at: Instant,
}

/// What a raw server saw.
#[derive(Debug, Default)]
pub struct RawStats {
    conns: Arc<ConnCounts>,
    log: Mutex<Vec<RawHit>>,
    /// Keep-alive connections closed by [`Behavior::ByPathClosingAtRandom`].
    random_closes: AtomicUsize,
    /// Bytes an endless fault pushed before the client left, by target.
    pushed: Mutex<HashMap<String, u64>>,
}

impl RawStats {
    /// TCP connections accepted.
    pub fn accepted(&self) -> usize {
        self.conns.accepted()
    }

    /// Request heads read (none for scripted connections, which read for
    /// themselves).
    pub fn requests(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub fn open_connections(&self) -> usize {
        self.conns.open()
    }

    /// Connection tasks that panicked.
    pub fn panics(&self) -> usize {
        self.conns.panics()
    }

    /// Keep-alive connections closed by [`Behavior::ByPathClosingAtRandom`].
    pub fn random_closes(&self) -> usize {
        self.random_closes.load(Ordering::SeqCst)
    }

    /// Every request head read, in arrival order.
    pub fn log(&self) -> Vec<RawHit> {
        self.log.lock().unwrap().clone()
    }

    /// `"METHOD target"` of each request head read, in order.
    pub fn request_lines(&self) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter()
            .map(|h| format!("{} {}", h.method, h.target))
            .collect()
    }

    /// Requests whose target was exactly `target`.
    pub fn hits(&self, target: &str) -> Vec<RawHit> {
        let log = self.log.lock().unwrap();
        log.iter().filter(|h| h.target == target).cloned().collect()
    }

    /// Bytes the endless fault at `target` pushed, once it has ended.
    pub fn pushed(&self, target: &str) -> Option<u64> {
        self.pushed.lock().unwrap().get(target).copied()
    }

    /// Records the request `line` (`"METHOD target"`) of connection
    /// `conn`; returns its target and how many times that target was seen
    /// before.
    fn record(&self, conn: usize, line: &str) -> (String, usize) {
        let (method, target) = line.split_once(' ').unwrap_or((line, ""));
        let mut log = self.log.lock().unwrap();
        let before = log.iter().filter(|h| h.target == target).count();
        log.push(RawHit {
            conn,
            method: method.to_string(),
            target: target.to_string(),
            at: Instant::now(),
        });
        (target.to_string(), before)
    }
}

/// Guard of a running raw TCP server on 127.0.0.1:0.
pub struct RawServer {
    addr: SocketAddr,
    stats: Arc<RawStats>,
    /// What keeps it running; dropped with the server.
    _running: Running,
}

enum Running {
    Accepting(Listening),
    /// A listener never accepted from, and the connections that fill its
    /// accept queue.
    Blackhole(TcpListener, Vec<TcpStream>),
}

impl RawServer {
    /// Every connection acts out `behavior`.
    pub async fn start(behavior: Behavior) -> RawServer {
        RawServer::serve(move |stream, conn, stats| async move {
            handle(stream, behavior, &stats, conn).await
        })
        .await
    }

    /// Runs `script(stream, conn_id)` for every accepted connection
    /// (`conn_id` from 1), with nothing read from it before.
    pub async fn script<F, Fut>(script: F) -> RawServer
    where
        F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        RawServer::serve(move |stream, conn, _| script(stream, conn)).await
    }

    /// A listener whose accept queue is full and never drained: new
    /// connection attempts to it hang in SYN-SENT (the kernel drops their
    /// SYNs), which makes a real connect timeout on loopback. Its stats
    /// stay at zero.
    pub async fn blackhole() -> RawServer {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.bind("127.0.0.1:0".parse().unwrap()).expect("bind");
        let listener = socket.listen(1).expect("listen");
        let addr = listener.local_addr().expect("local_addr");
        let mut fillers = Vec::new();
        // Fill the accept queue until a connect attempt no longer completes.
        for _ in 0..64 {
            match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
                Ok(Ok(s)) => fillers.push(s),
                Ok(Err(e)) => panic!("blackhole filler connect failed: {e}"),
                Err(_) => {
                    return RawServer {
                        addr,
                        stats: Arc::default(),
                        _running: Running::Blackhole(listener, fillers),
                    };
                }
            }
        }
        panic!("could not fill the accept queue of the blackhole listener");
    }

    /// The accept loop every connection of which runs `serve(stream,
    /// conn_id, stats)`.
    async fn serve<F, Fut>(serve: F) -> RawServer
    where
        F: Fn(TcpStream, usize, Arc<RawStats>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let stats = Arc::new(RawStats::default());
        let st = stats.clone();
        let listening = Listening::counted(CONN_CAP, stats.conns.clone(), move |stream, conn| {
            serve(stream, conn, st.clone())
        })
        .await;
        RawServer {
            addr: listening.addr(),
            stats,
            _running: Running::Accepting(listening),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr(), path)
    }

    pub fn stats(&self) -> &Arc<RawStats> {
        &self.stats
    }
}

impl std::ops::Deref for RawServer {
    type Target = RawStats;

    fn deref(&self) -> &RawStats {
        &self.stats
    }
}

/// Sends `request` to `addr` and reads until EOF or `limit`.
pub async fn exchange(addr: SocketAddr, request: &[u8], limit: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, s.read_to_end(&mut out)).await;
    out
}

/// Reads from `stream` into `buf` until it holds a whole request (or
/// response) head, waiting at most `wait` for the first byte and 10 s for
/// each later read. Returns the length of the head (blank line included),
/// or `None` on EOF/timeout/error or a head over 64 KiB.
pub async fn read_until_head(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    buf: &mut Vec<u8>,
    wait: Duration,
) -> Option<usize> {
    loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            return Some(i + 4);
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let limit = if buf.is_empty() {
            wait
        } else {
            Duration::from_secs(10)
        };
        if !read_more(stream, buf, limit).await {
            return None;
        }
    }
}

/// Reads once from `stream` and appends to `buf`, waiting at most `limit`;
/// `false` on EOF, error or timeout.
pub async fn read_more(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    buf: &mut Vec<u8>,
    limit: Duration,
) -> bool {
    let mut tmp = [0u8; 4096];
    match tokio::time::timeout(limit, stream.read(&mut tmp)).await {
        Ok(Ok(n)) if n > 0 => {
            buf.extend_from_slice(&tmp[..n]);
            true
        }
        _ => false,
    }
}

/// Reads one request head and its Content-Length / chunked body from `stream`
/// into `buf` (leftover bytes stay in `buf`). Waits at most `wait` for the
/// first byte and 10 s overall. Returns the request line, or `None` on
/// EOF/timeout/error.
pub async fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    wait: Duration,
) -> Option<String> {
    let head_end = read_until_head(stream, buf, wait).await?;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    buf.drain(..head_end);
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut content_length = 0usize;
    let mut chunked = false;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim();
            if k == "content-length" {
                content_length = v.parse().unwrap_or(0);
            } else if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            }
        }
    }
    // Read (and discard) the body.
    let body_done = |buf: &Vec<u8>| {
        if chunked {
            find(buf, b"0\r\n\r\n").map(|i| i + 5)
        } else if buf.len() >= content_length {
            Some(content_length)
        } else {
            None
        }
    };
    loop {
        if let Some(end) = body_done(buf) {
            buf.drain(..end);
            break;
        }
        if !read_more(stream, buf, Duration::from_secs(10)).await {
            return None;
        }
    }
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    Some(format!("{method} {target}"))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn handle(mut stream: TcpStream, behavior: Behavior, stats: &RawStats, conn: usize) {
    let mut closer = match behavior {
        Behavior::ByPathClosingAtRandom { seed, percent } => Some((
            Rng::new(seed ^ (conn as u64).wrapping_mul(0x9E37_79B9)),
            percent,
        )),
        _ => None,
    };
    let mut buf = Vec::new();
    let mut served = 0usize;
    // Bounded: each turn reads a request, and the connection lives at most
    // CONN_CAP.
    loop {
        let wait = match behavior {
            // Idle includes a fresh connection that has not sent anything yet.
            Behavior::KeepAlive { idle_close } => idle_close,
            Behavior::ByPath | Behavior::ByPathClosingAtRandom { .. } => BY_PATH_IDLE_WAIT,
            _ => FIRST_REQUEST_WAIT,
        };
        let Some(line) = read_request(&mut stream, &mut buf, wait).await else {
            // EOF, error, or idle too long: drop = FIN.
            return;
        };
        let (target, seen_before) = stats.record(conn, &line);
        served += 1;
        let next = match behavior {
            Behavior::ByPath | Behavior::ByPathClosingAtRandom { .. } => {
                by_path::act_out(&mut stream, &target, seen_before, stats, conn).await
            }
            fixed => act(&mut stream, fixed, conn, served).await,
        };
        if let Next::Close = next {
            return;
        }
        let Some((rng, percent)) = closer.as_mut() else {
            continue;
        };
        if rng.below(100) >= *percent {
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

/// What the connection does after an answer.
enum Next {
    KeepAlive,
    Close,
}

/// Acts out a fixed `behavior` (not `ByPath`) for the `served`th request
/// of connection `conn`.
async fn act(stream: &mut TcpStream, behavior: Behavior, conn: usize, served: usize) -> Next {
    match behavior {
        Behavior::Garbage => {
            let answer = b"SPLORK 999 not http at all\r\n\x00\x01\x02garbage\r\n\r\n";
            send_and_close(stream, answer).await
        }
        Behavior::TruncatedLength => {
            let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789";
            send_and_close(stream, answer).await
        }
        Behavior::TruncatedChunked => {
            let answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
            send_and_close(stream, answer).await
        }
        Behavior::CloseAfterHeaders => {
            let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
            send_and_close(stream, answer).await
        }
        Behavior::DripHeaders { every } => {
            let mut resp = b"HTTP/1.1 200 OK\r\nX-Pad: ".to_vec();
            resp.extend(std::iter::repeat_n(b'a', 200));
            resp.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\nok");
            drip(stream, &resp, every).await;
            Next::Close
        }
        Behavior::NeverAnswer => {
            // Wait for the client to leave (EOF/error); bounded by CONN_CAP.
            let mut tmp = [0u8; 1024];
            while let Ok(1..) = stream.read(&mut tmp).await {}
            Next::Close
        }
        Behavior::ResetBeforeResponse => reset(stream),
        Behavior::CloseBeforeResponse => {
            let _ = stream.shutdown().await;
            Next::Close
        }
        Behavior::OneAnswerPerConnection if served > 1 => Next::Close,
        Behavior::KeepAlive { .. } | Behavior::OneAnswerPerConnection => {
            let body = format!("ok {conn}/{served}");
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\nX-Conn-Id: {conn}\r\n\r\n{body}",
                body.len()
            );
            keep_alive_if(send(stream, resp.as_bytes()).await)
        }
        Behavior::ByPath | Behavior::ByPathClosingAtRandom { .. } => {
            unreachable!("by-path behaviours are acted out by by_path::act_out")
        }
    }
}

/// Resets the connection: SO_LINGER 0, then (when the caller drops the
/// stream) close.
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

/// Writes `bytes` one byte every `every`; `false` if the client left.
async fn drip(stream: &mut TcpStream, bytes: &[u8], every: Duration) -> bool {
    for b in bytes {
        if !send(stream, &[*b]).await {
            return false;
        }
        tokio::time::sleep(every).await;
    }
    true
}

fn keep_alive_if(sent: bool) -> Next {
    if sent { Next::KeepAlive } else { Next::Close }
}
