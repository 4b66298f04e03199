//! A file server on raw TCP ([`FileServer`]) for the download tests: each
//! path added with [`FileServer::add`] serves [`content`] of a given size,
//! as its [`FileSpec`] says: with or without range support and
//! validators, cut mid-body, changing between requests, answering a wrong
//! `Content-Range`, gzip-encoded, chunked, dripped, late, or failing with
//! a status.
//!
//! Raw TCP because a cut must be exact: the head announces the whole
//! length, exactly `K` body bytes go out, then the connection closes
//! (FIN), which no HTTP server library does on purpose.
//!
//! Every request is recorded ([`FileHit`]: its `Range` and `If-Range`, the
//! status and version answered), and the body bytes written are counted
//! per path. Connections are keep-alive, each lives at most [`CONN_CAP`];
//! dropping the server closes the listener and every connection. Bodies
//! are generated as they are written: the server holds no file in memory
//! (but for gzip, whose encoded body is made per request).
pub mod content;
pub mod spec;

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

pub use content::{Content, assert_file, check_file, content};
pub use spec::{FileSpec, Validator, WrongRange};

use super::http_date;
use super::listen::{ConnCounts, Listening};
use super::raw::{read_more, read_until_head};

/// How long a connection may live at most (long enough for a connection
/// to carry several large files one after the other in a debug build).
pub const CONN_CAP: Duration = Duration::from_secs(60);
/// How long a connection waits for its next request.
const IDLE_WAIT: Duration = Duration::from_secs(10);
/// Size of the body writes (but for drips).
const WRITE: usize = 64 * 1024;

/// One request a [`FileServer`] answered.
#[derive(Debug, Clone)]
pub struct FileHit {
    /// Server-side number of the connection (from 1).
    pub conn: usize,
    pub method: String,
    /// The request target, e.g. `/a.bin`.
    pub path: String,
    pub range: Option<String>,
    pub if_range: Option<String>,
    /// The status answered.
    pub status: u16,
    /// The version of the file served (0, or 1 once it changed).
    pub version: u32,
    pub at: Instant,
}

/// What a [`FileServer`] holds and counts.
#[derive(Debug, Default)]
struct FileState {
    files: Mutex<HashMap<String, FileSpec>>,
    log: Mutex<Vec<FileHit>>,
    bytes: Mutex<HashMap<String, u64>>,
    total: AtomicU64,
    conns: Arc<ConnCounts>,
}

/// Guard of a running file server on 127.0.0.1:0.
pub struct FileServer {
    state: Arc<FileState>,
    listening: Listening,
}

impl FileServer {
    /// A server with no files yet (every path is `404` until added).
    pub async fn start() -> FileServer {
        let state = Arc::new(FileState::default());
        let st = state.clone();
        let listening = Listening::counted(CONN_CAP, state.conns.clone(), move |stream, conn| {
            serve(stream, conn, st.clone())
        })
        .await;
        FileServer { state, listening }
    }

    /// Serves `spec` at `path` (which starts with `/`) from now on;
    /// returns its URL.
    pub fn add(&self, path: &str, spec: FileSpec) -> String {
        assert!(path.starts_with('/'), "{path}: not a path");
        self.state
            .files
            .lock()
            .unwrap()
            .insert(path.to_string(), spec);
        self.url(path)
    }

    pub fn addr(&self) -> SocketAddr {
        self.listening.addr()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// Every request answered, in arrival order.
    pub fn log(&self) -> Vec<FileHit> {
        self.state.log.lock().unwrap().clone()
    }

    /// The requests to `path`, in arrival order.
    pub fn requests(&self, path: &str) -> Vec<FileHit> {
        let log = self.state.log.lock().unwrap();
        log.iter().filter(|h| h.path == path).cloned().collect()
    }

    /// The `Range` of each request to `path` and the status answered, in
    /// arrival order.
    pub fn answers(&self, path: &str) -> Vec<(Option<String>, u16)> {
        let hits = self.requests(path);
        hits.into_iter().map(|h| (h.range, h.status)).collect()
    }

    /// Body bytes written for `path` so far (all requests).
    pub fn body_bytes(&self, path: &str) -> u64 {
        let bytes = self.state.bytes.lock().unwrap();
        bytes.get(path).copied().unwrap_or(0)
    }

    /// Body bytes written for every path so far.
    pub fn total_body_bytes(&self) -> u64 {
        self.state.total.load(Ordering::SeqCst)
    }

    /// TCP connections accepted.
    pub fn accepted(&self) -> usize {
        self.state.conns.accepted()
    }

    pub fn open_connections(&self) -> usize {
        self.state.conns.open()
    }

    /// Connection tasks that panicked.
    pub fn panics(&self) -> usize {
        self.state.conns.panics()
    }
}

/// The strong `ETag` of `version` of `path` (a [`Validator::Weak`] file
/// sends it with `W/` before).
pub fn etag(path: &str, version: u32) -> String {
    let h = path.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    });
    format!("\"{h:016x}-v{version}\"")
}

/// The `Last-Modified` of `version` of any file.
pub fn last_modified(version: u32) -> String {
    let secs = 1_600_000_000 + 86_400 * u64::from(version);
    http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// The gzip encoding of the whole of `version` of `path`, as served.
pub fn gzipped(path: &str, version: u32, size: u64) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&content(path, version, size)).unwrap();
    enc.finish().unwrap()
}

/// One request head, as far as the server cares.
struct Head {
    method: String,
    path: String,
    range: Option<String>,
    if_range: Option<String>,
    close: bool,
    body_len: usize,
}

/// Serves requests on one connection until the client leaves, idles for
/// [`IDLE_WAIT`], or an answer closes it.
async fn serve(mut stream: TcpStream, conn: usize, state: Arc<FileState>) {
    let mut buf = Vec::new();
    loop {
        let Some(head) = read_head(&mut stream, &mut buf).await else {
            return;
        };
        let (answer, delay) = state.answer(&head, conn);
        tokio::time::sleep(delay).await;
        let keep = answer.write(&mut stream, &head.path, &state).await;
        if !keep || head.close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// Reads the next request head (and discards its body); `None` on EOF,
/// error, idle timeout or a head that does not parse.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Head> {
    let end = read_until_head(stream, buf, IDLE_WAIT).await?;
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut fields);
    req.parse(&buf[..end]).ok()?;
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
    };
    let head = Head {
        method: req.method?.to_string(),
        path: req.path?.to_string(),
        range: header("range"),
        if_range: header("if-range"),
        close: header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")),
        body_len: header("content-length")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
    };
    buf.drain(..end);
    while buf.len() < head.body_len {
        if !read_more(stream, buf, IDLE_WAIT).await {
            return None;
        }
    }
    buf.drain(..head.body_len);
    Some(head)
}

/// What the server writes for one request.
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Body,
    /// Body bytes of the whole answer.
    len: u64,
    /// Close after this many body bytes.
    cut: Option<u64>,
    chunked: bool,
    drip: Option<(usize, Duration)>,
    /// Silent for a while after this many body bytes.
    stall: Option<(u64, Duration)>,
    head_only: bool,
}

enum Body {
    /// The content, from this offset.
    Content(Content, u64),
    Bytes(Vec<u8>),
}

impl FileState {
    /// Decides the answer to `head` and how long to wait before it, and
    /// records the request.
    fn answer(&self, head: &Head, conn: usize) -> (Answer, Duration) {
        let spec = self.files.lock().unwrap().get(&head.path).cloned();
        let mut log = self.log.lock().unwrap();
        let before = log.iter().filter(|h| h.path == head.path).count();
        let version = match &spec {
            Some(spec) if spec.changes && before > 0 => 1,
            _ => 0,
        };
        let delay = spec.as_ref().map_or(Duration::ZERO, |s| s.delay);
        let mut answer = match spec {
            None => Answer::text(404, "no such file"),
            Some(spec) => plan(&spec, head, &head.path, version, before),
        };
        answer.head_only = head.method == "HEAD";
        log.push(FileHit {
            conn,
            method: head.method.clone(),
            path: head.path.clone(),
            range: head.range.clone(),
            if_range: head.if_range.clone(),
            status: answer.status,
            version,
            at: Instant::now(),
        });
        (answer, delay)
    }

    fn count(&self, path: &str, n: u64) {
        *self
            .bytes
            .lock()
            .unwrap()
            .entry(path.to_string())
            .or_default() += n;
        self.total.fetch_add(n, Ordering::SeqCst);
    }
}

/// The answer of `spec` to request number `before` (from 0) of `path`.
fn plan(spec: &FileSpec, head: &Head, path: &str, version: u32, before: usize) -> Answer {
    if let Some((status, times)) = spec.fail
        && before < times
    {
        return Answer::text(status, &format!("status {status}"));
    }
    let encoded = spec.gzip.then(|| gzipped(path, version, spec.size));
    let total = encoded.as_ref().map_or(spec.size, |e| e.len() as u64);
    let mut headers = Vec::new();
    if spec.accept_ranges {
        headers.push(("Accept-Ranges", "bytes".to_string()));
    }
    match spec.validator {
        Validator::Strong => headers.push(("ETag", etag(path, version))),
        Validator::Weak => headers.push(("ETag", format!("W/{}", etag(path, version)))),
        Validator::LastModified => headers.push(("Last-Modified", last_modified(version))),
        Validator::None => {}
    }
    if spec.gzip {
        headers.push(("Content-Encoding", "gzip".to_string()));
    }
    // RFC 9110 §13.1.5: If-Range matches a strong ETag or an exact
    // Last-Modified date, never a weak ETag.
    let fresh = match (&head.if_range, spec.validator) {
        (None, _) => true,
        (Some(v), Validator::Strong) => *v == etag(path, version),
        (Some(v), Validator::LastModified) => *v == last_modified(version),
        (Some(_), _) => false,
    };
    let range = head
        .range
        .as_deref()
        .filter(|_| spec.honour_range && fresh)
        .and_then(parse_range);
    let (status, start, end) = match range {
        Some((start, _)) if start >= total => {
            headers.push(("Content-Range", format!("bytes */{total}")));
            let mut answer = Answer::text(416, "range not satisfiable");
            answer.headers.extend(headers);
            return answer;
        }
        Some((start, end)) => {
            let end = end.map_or(total, |e| (e + 1).min(total));
            let (start, claimed) = match spec.wrong_range {
                None => (start, format!("bytes {start}-{}/{total}", end - 1)),
                Some(WrongRange::Start(delta)) => {
                    let moved = start.saturating_add_signed(delta).min(total - 1);
                    (moved, format!("bytes {moved}-{}/{total}", end - 1))
                }
                Some(WrongRange::Total(delta)) => (
                    start,
                    format!(
                        "bytes {start}-{}/{}",
                        end - 1,
                        total.saturating_add_signed(delta)
                    ),
                ),
            };
            headers.push(("Content-Range", claimed));
            (206, start, end)
        }
        None => (200, 0, total),
    };
    let body = match encoded {
        Some(e) => Body::Bytes(e[start as usize..end as usize].to_vec()),
        None => Body::Content(Content::new(path, version), start),
    };
    Answer {
        status,
        headers,
        body,
        len: end - start,
        cut: spec.cut(before),
        chunked: spec.chunked && status == 200,
        drip: spec.drip,
        stall: spec.stall_of(before),
        head_only: false,
    }
}

/// `bytes=N-` or `bytes=N-M`; `None` for any other form (answered whole).
fn parse_range(value: &str) -> Option<(u64, Option<u64>)> {
    let (start, end) = value.trim().strip_prefix("bytes=")?.split_once('-')?;
    let start = start.trim().parse().ok()?;
    let end = match end.trim() {
        "" => None,
        end => Some(end.parse().ok()?),
    };
    Some((start, end)).filter(|(s, e)| e.is_none_or(|e| e >= *s))
}

impl Answer {
    fn text(status: u16, text: &str) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type", "text/plain".to_string())],
            body: Body::Bytes(text.as_bytes().to_vec()),
            len: text.len() as u64,
            cut: None,
            chunked: false,
            drip: None,
            stall: None,
            head_only: false,
        }
    }

    /// Writes the answer; whether the connection stays open.
    async fn write(self, stream: &mut TcpStream, path: &str, state: &FileState) -> bool {
        let reason = match self.status {
            200 => "OK",
            206 => "Partial Content",
            404 => "Not Found",
            416 => "Range Not Satisfiable",
            500..=599 => "Server Error",
            _ => "Status",
        };
        let mut head = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if self.chunked {
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
        } else {
            head.push_str(&format!("Content-Length: {}\r\n\r\n", self.len));
        }
        if stream.write_all(head.as_bytes()).await.is_err() {
            return false;
        }
        if self.head_only {
            return true;
        }
        let send = self.cut.map_or(self.len, |cut| cut.min(self.len));
        let piece = self.drip.map_or(WRITE, |(chunk, _)| chunk);
        let mut buf = vec![0; piece];
        let mut sent = 0u64;
        while sent < send {
            let mut n = (send - sent).min(piece as u64) as usize;
            if let Some((at, _)) = self.stall.filter(|(at, _)| *at > sent) {
                n = n.min((at - sent) as usize);
            }
            match &self.body {
                Body::Content(content, start) => content.fill(start + sent, &mut buf[..n]),
                Body::Bytes(bytes) => {
                    buf[..n].copy_from_slice(&bytes[sent as usize..sent as usize + n]);
                }
            }
            let written = if self.chunked {
                let mut framed = format!("{n:x}\r\n").into_bytes();
                framed.extend_from_slice(&buf[..n]);
                framed.extend_from_slice(b"\r\n");
                stream.write_all(&framed).await
            } else {
                stream.write_all(&buf[..n]).await
            };
            if written.is_err() {
                return false;
            }
            state.count(path, n as u64);
            sent += n as u64;
            if let Some((at, pause)) = self.stall
                && at == sent
            {
                tokio::time::sleep(pause).await;
            }
            if let Some((_, every)) = self.drip {
                tokio::time::sleep(every).await;
            }
        }
        if self.cut.is_some() {
            // Cut: FIN after exactly `send` body bytes.
            return false;
        }
        !self.chunked || stream.write_all(b"0\r\n\r\n").await.is_ok()
    }
}
