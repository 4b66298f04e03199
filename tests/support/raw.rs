//! Raw TCP servers that misbehave on purpose (no HTTP library on the
//! server side): [`RawServer`].
//!
//! A [`RawServer::start`] connection first reads one request head (and its
//! Content-Length or chunked body), then acts out its [`Behavior`]. A
//! [`RawServer::script`] connection is handed to a closure of the test
//! instead, for answers no HTTP library would write (or no HTTP at all).
//! A [`RawServer::blackhole`] never accepts: connecting to it hangs.
//!
//! All loops are bounded in count and time; dropping the [`RawServer`]
//! closes the listener and every connection.
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::listen::{ConnCounts, Listening};

/// How long any raw connection may live at most.
pub const CONN_CAP: Duration = Duration::from_secs(30);
/// How long a connection waits for the first request head.
const FIRST_REQUEST_WAIT: Duration = Duration::from_secs(10);

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
}

/// What a raw server saw.
#[derive(Debug, Default)]
pub struct RawStats {
    conns: Arc<ConnCounts>,
    requests: AtomicUsize,
    /// `"METHOD target"` of each request head read, in order.
    request_lines: Mutex<Vec<String>>,
}

impl RawStats {
    /// TCP connections accepted.
    pub fn accepted(&self) -> usize {
        self.conns.accepted()
    }

    /// Request heads read (none for scripted connections, which read for
    /// themselves).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn open_connections(&self) -> usize {
        self.conns.open()
    }

    /// Connection tasks that panicked.
    pub fn panics(&self) -> usize {
        self.conns.panics()
    }

    pub fn request_lines(&self) -> Vec<String> {
        self.request_lines.lock().unwrap().clone()
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

    pub fn accepted(&self) -> usize {
        self.stats.accepted()
    }

    pub fn requests(&self) -> usize {
        self.stats.requests()
    }

    pub fn open_connections(&self) -> usize {
        self.stats.open_connections()
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
    stream: &mut TcpStream,
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
pub async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>, limit: Duration) -> bool {
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

async fn handle(mut stream: TcpStream, behavior: Behavior, stats: &RawStats, conn_id: usize) {
    let mut buf = Vec::new();
    let mut served = 0usize;
    loop {
        let wait = match behavior {
            // Idle includes a fresh connection that has not sent anything yet.
            Behavior::KeepAlive { idle_close } => idle_close,
            _ => FIRST_REQUEST_WAIT,
        };
        let Some(line) = read_request(&mut stream, &mut buf, wait).await else {
            // EOF, error, or (keep-alive) idle too long: drop = FIN.
            return;
        };
        stats.requests.fetch_add(1, Ordering::SeqCst);
        stats.request_lines.lock().unwrap().push(line);
        served += 1;
        match behavior {
            Behavior::Garbage => {
                let answer = b"SPLORK 999 not http at all\r\n\x00\x01\x02garbage\r\n\r\n";
                return answer_and_close(stream, answer).await;
            }
            Behavior::TruncatedLength => {
                let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789";
                return answer_and_close(stream, answer).await;
            }
            Behavior::TruncatedChunked => {
                let answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
                return answer_and_close(stream, answer).await;
            }
            Behavior::CloseAfterHeaders => {
                let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
                return answer_and_close(stream, answer).await;
            }
            Behavior::DripHeaders { every } => {
                let mut resp = b"HTTP/1.1 200 OK\r\nX-Pad: ".to_vec();
                resp.extend(std::iter::repeat_n(b'a', 200));
                resp.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\nok");
                for b in resp {
                    if stream.write_all(&[b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(every).await;
                }
                return;
            }
            Behavior::NeverAnswer => {
                // Wait for the client to leave (EOF/error); bounded by CONN_LIFETIME_CAP.
                let mut tmp = [0u8; 1024];
                while let Ok(n) = stream.read(&mut tmp).await {
                    if n == 0 {
                        break;
                    }
                }
                return;
            }
            Behavior::ResetBeforeResponse => {
                let _ = stream.set_zero_linger();
                drop(stream);
                return;
            }
            Behavior::CloseBeforeResponse => {
                let _ = stream.shutdown().await;
                return;
            }
            Behavior::KeepAlive { .. } => {
                let body = format!("ok {conn_id}/{served}");
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\nX-Conn-Id: {conn_id}\r\n\r\n{body}",
                    body.len()
                );
                if stream.write_all(resp.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Writes `answer`, then closes (FIN).
async fn answer_and_close(mut stream: TcpStream, answer: &[u8]) {
    let _ = stream.write_all(answer).await;
    let _ = stream.shutdown().await;
}
