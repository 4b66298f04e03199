//! The download comparison's file server: HTTP/1.1 with keep-alive on
//! loopback, written on tokio's sockets rather than hyper so that it knows
//! exactly how many body bytes went into the socket and where a cut falls
//! (hyper queues up to about 400 KB of a body before it reaches the socket,
//! more than a whole 256 KiB file, and a body that fails drops that queue).
//!
//! Routes (GET and HEAD; the query string is ignored):
//!
//! - `/file/<id>/<size>`: `size` bytes of [`content`] file `id`, made
//!   chunk by chunk as they are sent, with `Accept-Ranges: bytes`, a
//!   strong `ETag` (`"<id>-<size>"`) and a fixed `Last-Modified`.
//!   `Range: bytes=N-` (also `N-M` and `-S`) is answered `206` with
//!   `Content-Range`, unless an `If-Range` names another validator (then
//!   `200`, the whole file); a start beyond the end is `416`; several
//!   ranges are ignored (`200`).
//! - `/stats`: the [`Stats`] as JSON (not counted in them).
//!
//! In cut mode the first GET of each file sends its head and a seeded
//! random number of body bytes, from none to all but one, and closes the
//! connection; later requests for that file are served whole.

use std::collections::HashSet;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::content;

/// The `Last-Modified` of every file (their content never changes).
const LAST_MODIFIED: &str = "Mon, 01 Jan 2024 00:00:00 GMT";
/// The largest file served.
const MAX_SIZE: u64 = 1 << 40;
/// The largest request head read.
const MAX_HEAD: usize = 64 << 10;
/// Bytes made and written per `write` call.
const CHUNK: usize = 128 << 10;

/// What the server counted since it started.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Stats {
    /// Requests answered (`/stats` aside).
    pub requests: u64,
    /// Body bytes the kernel accepted from the server (heads aside), cut
    /// transfers included: what "bytes re-sent" is computed from.
    pub body_bytes: u64,
    /// Connections accepted.
    pub connections: u64,
    /// `206` answers.
    pub partial: u64,
    /// Transfers cut on purpose.
    pub cuts: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    body_bytes: AtomicU64,
    connections: AtomicU64,
    partial: AtomicU64,
    cuts: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            requests: get(&self.requests),
            body_bytes: get(&self.body_bytes),
            connections: get(&self.connections),
            partial: get(&self.partial),
            cuts: get(&self.cuts),
        }
    }
}

#[derive(Debug)]
struct State {
    counters: Counters,
    /// The cut mode's seed.
    cut_seed: Option<u64>,
    /// Files whose first GET has been cut.
    cut_done: Mutex<HashSet<u64>>,
}

impl State {
    /// Where to cut this GET of file `id`, a body of `len` bytes: `None`
    /// but for the first GET of each file in cut mode.
    fn cut_at(&self, id: u64, len: u64) -> Option<u64> {
        let seed = self.cut_seed?;
        if len == 0 || !self.cut_done.lock().expect("not poisoned").insert(id) {
            return None;
        }
        Some(content::mix64(seed ^ content::mix64(id)) % len)
    }
}

/// A running file server on 127.0.0.1, stopped on drop (its runtime with
/// it, which closes every connection).
#[derive(Debug)]
pub struct FileServer {
    base: String,
    state: Arc<State>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FileServer {
    /// Starts a server on a free loopback port; in cut mode (`cut_seed`)
    /// the first GET of each file is cut at an offset drawn from the seed.
    pub fn start(cut_seed: Option<u64>) -> io::Result<FileServer> {
        // Two workers: the machines this runs on have two cores, shared
        // with the client under test.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("file-server")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            counters: Counters::default(),
            cut_seed,
            cut_done: Mutex::new(HashSet::new()),
        });
        runtime.spawn(accept(listener, Arc::clone(&state)));
        Ok(FileServer {
            base: format!("http://{addr}"),
            state,
            runtime: Some(runtime),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.state.counters.snapshot()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn accept(listener: TcpListener, state: Arc<State>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                state.counters.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(serve(stream, Arc::clone(&state)));
            }
            Err(e) => {
                // Out of descriptors, say: wait a moment rather than spin.
                eprintln!("file server: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// What the server needs of one request head.
#[derive(Debug, PartialEq)]
struct Head {
    head_only: bool,
    path: String,
    range: Option<String>,
    if_range: Option<String>,
    close: bool,
}

/// Parses a request head from the start of `buf`: the head and its length,
/// `None` while incomplete, or the status to refuse it with.
fn parse(buf: &[u8]) -> Result<Option<(Head, usize)>, &'static str> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Err("431 Request Header Fields Too Large");
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err("400 Bad Request"),
    };
    let head_only = match req.method {
        Some("GET") => false,
        Some("HEAD") => true,
        _ => return Err("405 Method Not Allowed"),
    };
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(|v| v.trim().to_owned())
    };
    // GET and HEAD carry no body here; one would be read as the next head.
    if header("transfer-encoding").is_some() || header("content-length").is_some_and(|v| v != "0") {
        return Err("400 Bad Request");
    }
    let close = req.version == Some(0)
        || header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let path = req.path.unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path).to_owned();
    Ok(Some((
        Head {
            head_only,
            path,
            range: header("range"),
            if_range: header("if-range"),
            close,
        },
        len,
    )))
}

/// Which part of a file of `size` bytes to send.
#[derive(Debug, PartialEq)]
enum Part {
    Whole,
    /// `[start, end)`.
    Range(u64, u64),
    Unsatisfiable,
}

/// Reads a `Range` header for a file of `size` bytes (RFC 9110 §14.2: a
/// header that cannot be read, or several ranges, is ignored).
fn part(range: Option<&str>, if_range: Option<&str>, etag: &str, size: u64) -> Part {
    let Some(spec) = range else {
        return Part::Whole;
    };
    if if_range.is_some_and(|v| v != etag && v != LAST_MODIFIED) {
        return Part::Whole;
    }
    let Some(spec) = spec
        .get(..6)
        .filter(|unit| unit.eq_ignore_ascii_case("bytes="))
        .map(|_| spec[6..].trim())
    else {
        return Part::Whole;
    };
    if spec.contains(',') {
        return Part::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Part::Whole;
    };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), number(first), number(last)) {
        // `-S`: the last S bytes.
        (true, _, Some(0)) => Part::Unsatisfiable,
        (true, _, Some(suffix)) => Part::Range(size.saturating_sub(suffix), size),
        (false, Some(start), _) if start >= size => Part::Unsatisfiable,
        (false, Some(start), None) if last.trim().is_empty() => Part::Range(start, size),
        (false, Some(start), Some(end)) if end >= start => {
            Part::Range(start, end.saturating_add(1).min(size))
        }
        _ => Part::Whole,
    }
}

/// `/file/<id>/<size>`.
fn file_route(path: &str) -> Option<(u64, u64)> {
    let rest = path.strip_prefix("/file/")?;
    let (id, size) = rest.split_once('/')?;
    let size = size.parse().ok().filter(|&s| s <= MAX_SIZE)?;
    Some((id.parse().ok()?, size))
}

/// Serves one connection until the client closes it, a request asks to
/// close, or a transfer is cut.
async fn serve(mut stream: TcpStream, state: Arc<State>) {
    let mut input = Vec::with_capacity(4096);
    let mut out = Vec::new();
    loop {
        let (head, len) = loop {
            match parse(&input) {
                Ok(Some(parsed)) => break parsed,
                Ok(None) => {}
                Err(status) => {
                    let text = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    let _ = stream.write_all(text.as_bytes()).await;
                    return;
                }
            }
            match stream.read_buf(&mut input).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        input.drain(..len);
        match respond(&mut stream, &state, &head, &mut out).await {
            Ok(true) if !head.close => {}
            _ => return,
        }
    }
}

/// Answers one request; whether the connection may carry another.
async fn respond(
    stream: &mut TcpStream,
    state: &State,
    head: &Head,
    out: &mut Vec<u8>,
) -> io::Result<bool> {
    let counters = &state.counters;
    if head.path == "/stats" {
        let json = serde_json::to_string(&counters.snapshot()).expect("stats serialize");
        let text = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
            json.len()
        );
        stream.write_all(text.as_bytes()).await?;
        return Ok(true);
    }
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let Some((id, size)) = file_route(&head.path) else {
        stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            .await?;
        return Ok(true);
    };
    let etag = format!("\"{id}-{size}\"");
    let common = format!(
        "Content-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\nETag: {etag}\r\nLast-Modified: {LAST_MODIFIED}\r\n"
    );
    let (start, end, text) = match part(
        head.range.as_deref(),
        head.if_range.as_deref(),
        &etag,
        size,
    ) {
        Part::Whole => (
            0,
            size,
            format!("HTTP/1.1 200 OK\r\n{common}Content-Length: {size}\r\n\r\n"),
        ),
        Part::Range(start, end) => {
            counters.partial.fetch_add(1, Ordering::Relaxed);
            let text = format!(
                "HTTP/1.1 206 Partial Content\r\n{common}Content-Range: bytes {start}-{}/{size}\r\nContent-Length: {}\r\n\r\n",
                end - 1,
                end - start
            );
            (start, end, text)
        }
        Part::Unsatisfiable => {
            let text = format!(
                "HTTP/1.1 416 Range Not Satisfiable\r\n{common}Content-Range: bytes */{size}\r\nContent-Length: 0\r\n\r\n"
            );
            stream.write_all(text.as_bytes()).await?;
            return Ok(true);
        }
    };
    if head.head_only {
        stream.write_all(text.as_bytes()).await?;
        return Ok(true);
    }
    let cut = state.cut_at(id, end - start);
    let stop = cut.map_or(end, |at| start + at);
    if out.is_empty() {
        out.resize(CHUNK, 0);
    }
    // The head goes out with the first chunk of the body.
    let mut head_left = text.len();
    out[..head_left].copy_from_slice(text.as_bytes());
    let mut filled = head_left;
    let mut offset = start;
    loop {
        let n = (CHUNK - filled).min((stop - offset) as usize);
        content::fill(id, offset, &mut out[filled..filled + n]);
        offset += n as u64;
        send(stream, &out[..filled + n], &mut head_left, counters).await?;
        filled = 0;
        if offset == stop {
            break;
        }
    }
    if cut.is_some() {
        counters.cuts.fetch_add(1, Ordering::Relaxed);
        let _ = stream.shutdown().await;
        return Ok(false);
    }
    Ok(true)
}

/// Writes `data`, counting as body bytes what the kernel accepted past
/// the `head_left` bytes of head still in front.
async fn send(
    stream: &mut TcpStream,
    mut data: &[u8],
    head_left: &mut usize,
    counters: &Counters,
) -> io::Result<()> {
    while !data.is_empty() {
        let n = stream.write(data).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let head = n.min(*head_left);
        *head_left -= head;
        counters
            .body_bytes
            .fetch_add((n - head) as u64, Ordering::Relaxed);
        data = &data[n..];
    }
    Ok(())
}

/// Serves until `max_seconds` pass (for trying clients by hand: `downloads
/// --serve`).
pub fn serve_for(cut_seed: Option<u64>, max_seconds: u64) -> io::Result<()> {
    let server = FileServer::start(cut_seed)?;
    println!("listening {}", server.base());
    std::thread::sleep(std::time::Duration::from_secs(max_seconds));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &str = "\"1-100\"";

    #[test]
    fn ranges() {
        let p = |range: &str| part(Some(range), None, ETAG, 100);
        assert_eq!(part(None, None, ETAG, 100), Part::Whole);
        assert_eq!(p("bytes=10-"), Part::Range(10, 100));
        assert_eq!(p("bytes=10-19"), Part::Range(10, 20));
        assert_eq!(p("bytes=90-200"), Part::Range(90, 100));
        assert_eq!(p("bytes=-30"), Part::Range(70, 100));
        assert_eq!(p("bytes=-300"), Part::Range(0, 100));
        assert_eq!(p("bytes=100-"), Part::Unsatisfiable);
        assert_eq!(p("bytes=-0"), Part::Unsatisfiable);
        assert_eq!(p("bytes=0-1,5-6"), Part::Whole);
        assert_eq!(p("bytes=5-2"), Part::Whole);
        assert_eq!(p("items=1-"), Part::Whole);
        assert_eq!(p("bytes=x-"), Part::Whole);
    }

    #[test]
    fn if_range_must_name_the_current_validator() {
        let p = |v: &str| part(Some("bytes=10-"), Some(v), ETAG, 100);
        assert_eq!(p(ETAG), Part::Range(10, 100));
        assert_eq!(p(LAST_MODIFIED), Part::Range(10, 100));
        assert_eq!(p("\"1-99\""), Part::Whole);
        assert_eq!(p("W/\"1-100\""), Part::Whole);
    }

    #[test]
    fn routes() {
        assert_eq!(file_route("/file/3/1048576"), Some((3, 1 << 20)));
        assert_eq!(file_route("/file/3/"), None);
        assert_eq!(file_route("/file/x/10"), None);
        assert_eq!(file_route("/bytes/10"), None);
    }

    #[test]
    fn heads() {
        let (head, len) = parse(b"GET /file/1/2?i=1 HTTP/1.1\r\nRange: bytes=1-\r\n\r\nGET")
            .unwrap()
            .unwrap();
        assert_eq!(len, 47);
        assert_eq!(head.path, "/file/1/2");
        assert_eq!(head.range.as_deref(), Some("bytes=1-"));
        assert!(!head.close && !head.head_only);
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n"), Ok(None));
        assert!(parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap().0.close);
        assert!(parse(b"POST / HTTP/1.1\r\n\r\n").is_err());
    }
}

#[cfg(test)]
mod served {
    //! The server over real loopback sockets.

    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;

    /// Sends `request` on a new connection and reads until the server
    /// closes it: the head and the body.
    fn exchange(server: &FileServer, request: &str) -> (String, Vec<u8>) {
        let addr = server.base().trim_start_matches("http://");
        let mut sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        sock.write_all(request.as_bytes()).unwrap();
        let mut all = Vec::new();
        sock.read_to_end(&mut all).unwrap();
        let end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8(all[..end].to_vec()).unwrap();
        (head, all[end..].to_vec())
    }

    fn expected(id: u64, start: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        content::fill(id, start, &mut v);
        v
    }

    #[test]
    fn whole_file_then_a_range_on_one_connection() {
        let server = FileServer::start(None).unwrap();
        let size = 300_001;
        let (head, body) = exchange(
            &server,
            &format!(
                "GET /file/4/{size} HTTP/1.1\r\n\r\n\
                 GET /file/4/{size} HTTP/1.1\r\nRange: bytes=299990-\r\nIf-Range: \"4-{size}\"\r\nConnection: close\r\n\r\n"
            ),
        );
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("Accept-Ranges: bytes\r\n"), "{head}");
        assert!(head.contains(&format!("ETag: \"4-{size}\"\r\n")), "{head}");
        assert_eq!(body[..size], expected(4, 0, size)[..]);
        let (second, rest) = body[size..].split_at(
            body[size..]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap()
                + 4,
        );
        let second = String::from_utf8(second.to_vec()).unwrap();
        assert!(
            second.starts_with("HTTP/1.1 206 Partial Content\r\n"),
            "{second}"
        );
        assert!(
            second.contains(&format!("Content-Range: bytes 299990-300000/{size}\r\n")),
            "{second}"
        );
        assert_eq!(rest, &expected(4, 299_990, 11)[..]);
        let stats = server.stats();
        assert_eq!(stats.requests, 2);
        assert_eq!(stats.partial, 1);
        assert_eq!(stats.body_bytes, size as u64 + 11);
    }

    #[test]
    fn cut_mode_cuts_the_first_get_of_each_file_only() {
        let server = FileServer::start(Some(1)).unwrap();
        let size = 1 << 20;
        let request = format!("GET /file/9/{size} HTTP/1.1\r\n\r\n");
        // HEAD is not a transfer: it is not cut.
        let (head, body) = exchange(
            &server,
            &format!("HEAD /file/9/{size} HTTP/1.1\r\nConnection: close\r\n\r\n"),
        );
        assert!(
            head.starts_with("HTTP/1.1 200 OK\r\n") && body.is_empty(),
            "{head}"
        );
        let (head, cut) = exchange(&server, &request);
        assert!(
            head.contains(&format!("Content-Length: {size}\r\n")),
            "{head}"
        );
        assert!(cut.len() < size, "cut at {}", cut.len());
        assert_eq!(cut, expected(9, 0, cut.len()));
        let (_, whole) = exchange(
            &server,
            &format!("GET /file/9/{size} HTTP/1.1\r\nConnection: close\r\n\r\n"),
        );
        assert_eq!(whole, expected(9, 0, size));
        let stats = server.stats();
        assert_eq!(stats.cuts, 1);
        assert_eq!(stats.body_bytes, (cut.len() + size) as u64);
    }

    #[test]
    fn refusals() {
        let server = FileServer::start(None).unwrap();
        let (head, _) = exchange(
            &server,
            "GET /nothing HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
        let (head, _) = exchange(
            &server,
            "GET /file/1/10 HTTP/1.1\r\nRange: bytes=10-\r\nConnection: close\r\n\r\n",
        );
        assert!(head.starts_with("HTTP/1.1 416"), "{head}");
        assert!(head.contains("Content-Range: bytes */10\r\n"), "{head}");
        let (head, _) = exchange(&server, "PUT /file/1/10 HTTP/1.1\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 405"), "{head}");
    }
}
