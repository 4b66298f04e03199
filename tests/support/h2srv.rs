//! HTTP/2 (h2c, prior knowledge) servers that misbehave on purpose:
//! [`H2Server`]. They refuse streams, reset them, or go away, as their
//! [`H2Mode`] says: the same way for every connection, or ([`H2Mode::ByPath`])
//! as each request path names. All are written with the `h2` crate's server
//! side but two, written frame by frame: a GOAWAY whose last stream id is
//! known in advance, and a header block that never ends.
//!
//! Answers are `200` with body `conn={c} method={m} path={p} body={b}`.
//! A `?delay=MS` query delays the answer.
//!
//! Every loop is bounded in count or time; dropping a server ends its
//! listener and its connections.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use h2::Reason;
use h2::server::SendResponse;
use http::{Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::listen::{ConnCounts, Listening};

/// How long any connection may live at most.
const CONN_CAP: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H2Mode {
    /// The first `n` streams (over all connections) are reset with
    /// `REFUSED_STREAM` before anything of them is read; later ones answered.
    RefuseFirst(usize),
    /// On the first connection, once `after` streams were accepted: a
    /// graceful shutdown (GOAWAY 2^31-1, PING, then GOAWAY with the last
    /// stream id seen). Every stream the server accepted is answered after
    /// `delay_ms`. Later connections serve normally.
    GracefulGoAway { after: usize, delay_ms: u64 },
    /// The first connection is served frame by frame: it waits for `wait`
    /// request HEADERS (at most 3 s), answers streams 1 and 3 only, sends
    /// `GOAWAY(last_stream_id = 3, NO_ERROR)` and closes. Later connections
    /// serve normally.
    RawGoAwayAfterTwo { wait: usize },
    /// Every connection answers its first `n` streams (in order, before
    /// reading the next), then refuses the rest (`REFUSED_STREAM`) and
    /// shuts down gracefully: a server that recycles its connections after
    /// `n` requests.
    RecycleAfter(usize),
    /// The first connection answers its first `n` streams, then goes
    /// silent: it reads nothing more (no stream answered, no PING
    /// acknowledged) but keeps its socket open, as a server or a middlebox
    /// that died without closing. Later connections serve normally.
    SilentAfter(usize),
    /// Acts out, stream by stream, the fault the request path names, so
    /// that one batch can mix them with well-behaved answers:
    ///
    /// | path | answer |
    /// |---|---|
    /// | `/h2/rst/{code}/{times}/...` | the first `{times}` requests to this exact target: `RST_STREAM({code})` before any response; later answered |
    /// | `/h2/rst-body/{code}` | response headers and 5 body bytes, then `RST_STREAM({code})` |
    /// | `/h2/goaway/{code}` | the first request to it: `GOAWAY({code})` (abrupt: last stream id = the last one accepted) on its connection; later answered |
    /// | `/h2/huge-header/{bytes}` | `200` with one `x-huge` field of `{bytes}` bytes, body `ok` |
    /// | anything else | answered |
    ByPath,
    /// Every connection's initial stream window is 0 and never raised (no
    /// capacity is ever released): a request without a body is answered,
    /// one with a body is held unanswered and unread for as long as the
    /// connection lives, so the client can never send it.
    ZeroWindow,
    /// Every connection is served frame by frame: to its first request
    /// HEADERS it answers a HEADERS frame without END_HEADERS
    /// (`:status: 200`), then CONTINUATION frames of `x-flood` fields, none
    /// with END_HEADERS, until the client leaves, [`FLOOD_CAP`] bytes went
    /// out, or 10 s passed ([`H2Stats::floods`]).
    ContinuationFlood,
}

/// What a [`H2Mode::ContinuationFlood`] connection pushes at most.
pub const FLOOD_CAP: u64 = 64 << 20;

/// One request a connection answered.
#[derive(Debug, Clone)]
pub struct H2Hit {
    pub conn: usize,
    pub method: String,
    pub path: String,
    pub body: String,
}

#[derive(Debug, Default)]
pub struct H2Stats {
    conns: Arc<ConnCounts>,
    streams: AtomicUsize,
    refused: AtomicUsize,
    resets: AtomicUsize,
    /// HEADERS frames the raw first connection received (RawGoAwayAfterTwo).
    raw_headers: AtomicUsize,
    /// Bytes of CONTINUATION frames each flooding connection pushed.
    floods: Mutex<Vec<u64>>,
    /// (connection, target) of every stream accepted, in order.
    received: Mutex<Vec<(usize, String)>>,
    log: Mutex<Vec<H2Hit>>,
}

impl H2Stats {
    /// TCP connections accepted.
    pub fn accepted(&self) -> usize {
        self.conns.accepted()
    }

    /// Connection tasks that panicked.
    pub fn panics(&self) -> usize {
        self.conns.panics()
    }

    /// Streams accepted by the `h2` crate servers (refused ones included).
    pub fn streams(&self) -> usize {
        self.streams.load(Ordering::SeqCst)
    }

    /// Streams reset with REFUSED_STREAM.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    /// Streams reset, whatever the code (REFUSED_STREAM included).
    pub fn resets(&self) -> usize {
        self.resets.load(Ordering::SeqCst)
    }

    /// Request HEADERS frames the raw connection read before going away.
    pub fn raw_headers(&self) -> usize {
        self.raw_headers.load(Ordering::SeqCst)
    }

    /// Bytes of CONTINUATION frames pushed by each
    /// [`H2Mode::ContinuationFlood`] connection whose flood has ended.
    pub fn floods(&self) -> Vec<u64> {
        self.floods.lock().unwrap().clone()
    }

    /// The connection of each stream accepted (by the `h2` crate servers)
    /// whose target was exactly `target`, answered or not, in order.
    pub fn hits(&self, target: &str) -> Vec<usize> {
        let received = self.received.lock().unwrap();
        received
            .iter()
            .filter(|(_, t)| t == target)
            .map(|(conn, _)| *conn)
            .collect()
    }

    /// Requests answered (by `h2` crate servers), in order.
    pub fn log(&self) -> Vec<H2Hit> {
        self.log.lock().unwrap().clone()
    }

    /// Records a stream accepted on `conn`; returns its number over all
    /// connections (from 1) and how many streams to `target` were accepted
    /// before it.
    fn record(&self, conn: usize, target: &str) -> (usize, usize) {
        let n = self.streams.fetch_add(1, Ordering::SeqCst) + 1;
        let mut received = self.received.lock().unwrap();
        let before = received.iter().filter(|(_, t)| t == target).count();
        received.push((conn, target.to_string()));
        (n, before)
    }

    /// Counts a stream reset with `reason`.
    fn count_reset(&self, reason: Reason) {
        self.resets.fetch_add(1, Ordering::SeqCst);
        if reason == Reason::REFUSED_STREAM {
            self.refused.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Guard of a running server on 127.0.0.1:0.
pub struct H2Server {
    listening: Listening,
    stats: Arc<H2Stats>,
}

impl H2Server {
    pub async fn start(mode: H2Mode) -> H2Server {
        let stats = Arc::new(H2Stats::default());
        let st = stats.clone();
        let listening = Listening::counted(CONN_CAP, stats.conns.clone(), move |stream, conn| {
            let st = st.clone();
            async move {
                match mode {
                    H2Mode::RawGoAwayAfterTwo { wait } if conn == 1 => {
                        raw_go_away(stream, wait, &st).await
                    }
                    H2Mode::ContinuationFlood => continuation_flood(stream, &st).await,
                    _ => serve(stream, mode, st, conn).await,
                }
            }
        })
        .await;
        H2Server { listening, stats }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.listening.addr(), path)
    }

    pub fn stats(&self) -> &Arc<H2Stats> {
        &self.stats
    }
}

impl std::ops::Deref for H2Server {
    type Target = H2Stats;

    fn deref(&self) -> &H2Stats {
        &self.stats
    }
}

async fn serve(stream: TcpStream, mode: H2Mode, stats: Arc<H2Stats>, conn: usize) {
    let mut builder = h2::server::Builder::new();
    builder.max_concurrent_streams(100);
    if mode == H2Mode::ZeroWindow {
        builder.initial_window_size(0);
    }
    let Ok(mut connection) = builder.handshake::<_, Bytes>(stream).await else {
        return;
    };
    let mut accepted_here = 0usize;
    let mut going_away = false;
    // Streams held open (unanswered): once the connection went away
    // (ByPath), or with a body that cannot be sent (ZeroWindow).
    let mut held = Vec::new();
    // Bounded by the client's streams and CONN_CAP.
    while let Some(Ok((req, mut respond))) = connection.accept().await {
        accepted_here += 1;
        let target = req
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
        let (n, seen_before) = stats.record(conn, &target);
        let mut delay_ms = 0;
        match mode {
            H2Mode::RefuseFirst(k) if n <= k => {
                stats.count_reset(Reason::REFUSED_STREAM);
                respond.send_reset(Reason::REFUSED_STREAM);
                continue;
            }
            H2Mode::SilentAfter(k) if conn == 1 && accepted_here > k => {
                // Held, with the connection, unpolled: the socket stays
                // open and nothing is read from it any more.
                tokio::time::sleep(CONN_CAP).await;
                drop((req, respond, connection));
                return;
            }
            H2Mode::RecycleAfter(k) if accepted_here > k => {
                stats.count_reset(Reason::REFUSED_STREAM);
                respond.send_reset(Reason::REFUSED_STREAM);
                if !going_away {
                    going_away = true;
                    connection.graceful_shutdown();
                }
                continue;
            }
            H2Mode::GracefulGoAway { after, delay_ms: d } if conn == 1 => {
                delay_ms = d;
                if accepted_here >= after && !going_away {
                    going_away = true;
                    connection.graceful_shutdown();
                }
            }
            H2Mode::ByPath => {
                let path = target.split('?').next().unwrap_or_default();
                let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
                let code = |i: usize| {
                    parts
                        .get(i)
                        .and_then(|c| c.parse::<u32>().ok())
                        .map_or(Reason::INTERNAL_ERROR, Reason::from)
                };
                match parts.as_slice() {
                    ["h2", "rst", _, times, ..] if seen_before < times.parse().unwrap_or(1) => {
                        stats.count_reset(code(2));
                        respond.send_reset(code(2));
                        continue;
                    }
                    ["h2", "rst-body", _] => {
                        let reason = code(2);
                        let stats = stats.clone();
                        tokio::spawn(async move {
                            let head = Response::builder().status(200).body(()).unwrap();
                            if let Ok(mut send) = respond.send_response(head, false) {
                                let _ = send.send_data(Bytes::from_static(b"hello"), false);
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                stats.count_reset(reason);
                                send.send_reset(reason);
                            }
                        });
                        continue;
                    }
                    ["h2", "huge-header", bytes] => {
                        let value = "v".repeat(bytes.parse().unwrap_or(100_000));
                        let head = Response::builder()
                            .status(200)
                            .header("x-huge", value)
                            .body(())
                            .unwrap();
                        if let Ok(mut send) = respond.send_response(head, false) {
                            let _ = send.send_data(Bytes::from_static(b"ok"), true);
                        }
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
            }
            H2Mode::ZeroWindow if !req.body().is_end_stream() => {
                held.push((req, respond));
                continue;
            }
            _ => {}
        }
        let stats = stats.clone();
        if matches!(mode, H2Mode::RecycleAfter(_) | H2Mode::SilentAfter(_)) {
            // In order, as nginx does: the answers go out before the
            // refusals of the streams after them.
            answer(req, respond, stats, conn, delay_ms).await;
            continue;
        }
        tokio::spawn(answer(req, respond, stats, conn, delay_ms));
    }
}

async fn answer(
    req: Request<h2::RecvStream>,
    mut respond: SendResponse<Bytes>,
    stats: Arc<H2Stats>,
    conn: usize,
    delay_ms: u64,
) {
    let (parts, mut body) = req.into_parts();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        let Ok(chunk) = chunk else { return };
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
        if data.len() > 1 << 20 {
            return;
        }
    }
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
    let delay = parts
        .uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("delay=")))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        .max(delay_ms);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let hit = H2Hit {
        conn,
        method: parts.method.to_string(),
        path,
        body: String::from_utf8_lossy(&data).into_owned(),
    };
    let text = format!(
        "conn={} method={} path={} body={}",
        hit.conn, hit.method, hit.path, hit.body
    );
    stats.log.lock().unwrap().push(hit);
    let resp = Response::builder()
        .status(200)
        .header("x-conn-id", conn.to_string())
        .body(())
        .unwrap();
    if let Ok(mut send) = respond.send_response(resp, false) {
        let _ = send.send_data(Bytes::from(text), true);
    }
}

// ----- the frame-by-frame connection -------------------------------------

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Reads one frame: (type, flags, stream id, payload).
async fn read_frame(stream: &mut TcpStream) -> Option<(u8, u8, u32, Vec<u8>)> {
    let mut head = [0u8; 9];
    stream.read_exact(&mut head).await.ok()?;
    let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
    if len > 1 << 20 {
        return None;
    }
    let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.ok()?;
    Some((head[3], head[4], id, payload))
}

/// Waits for `wait` requests, each complete (END_STREAM seen; 3 s at most),
/// answers streams 1 and 3, sends GOAWAY(3, NO_ERROR), closes its side and
/// drains the client's. Waiting for whole requests keeps the close from
/// cutting a request body the client is still sending.
async fn raw_go_away(mut stream: TcpStream, wait: usize, stats: &H2Stats) {
    let mut preface = [0u8; 24];
    if stream.read_exact(&mut preface).await.is_err() || preface != PREFACE {
        return;
    }
    // Our (empty) SETTINGS first, as the server preface.
    if stream.write_all(&frame(SETTINGS, 0, 0, &[])).await.is_err() {
        return;
    }
    let mut streams: Vec<u32> = Vec::new();
    let mut ended: Vec<u32> = Vec::new();
    let collect = async {
        while streams.len() < wait || ended.len() < streams.len() {
            let Some((kind, flags, id, _payload)) = read_frame(&mut stream).await else {
                return;
            };
            if kind == HEADERS {
                stats.raw_headers.fetch_add(1, Ordering::SeqCst);
                streams.push(id);
            }
            if (kind == HEADERS || kind == DATA) && flags & END_STREAM != 0 {
                ended.push(id);
            }
            let settings_to_ack = kind == SETTINGS && flags & ACK == 0;
            if settings_to_ack
                && stream
                    .write_all(&frame(SETTINGS, ACK, 0, &[]))
                    .await
                    .is_err()
            {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), collect).await;
    let mut out = Vec::new();
    for id in [1u32, 3] {
        if streams.contains(&id) {
            // HPACK 0x88 is the static-table entry `:status: 200`.
            out.extend(frame(HEADERS, END_HEADERS, id, &[0x88]));
            out.extend(frame(DATA, END_STREAM, id, b"answered before GOAWAY"));
        }
    }
    let mut goaway = 3u32.to_be_bytes().to_vec();
    goaway.extend_from_slice(&0u32.to_be_bytes()); // NO_ERROR
    out.extend(frame(GOAWAY, 0, 0, &goaway));
    if stream.write_all(&out).await.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
    // Drain what the client still sends until it closes (bounded), so that
    // closing does not turn into a reset that could destroy our answers.
    let drain = async {
        let mut buf = [0u8; 4096];
        while let Ok(1..) = stream.read(&mut buf).await {}
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
}

/// Reads the client preface and the first request HEADERS (3 s at most),
/// then floods that stream with a header block that never ends: HEADERS
/// without END_HEADERS, then CONTINUATION frames of ~16 KB (the smallest
/// SETTINGS_MAX_FRAME_SIZE) of complete `x-flood` fields, none with
/// END_HEADERS. Stops when a write fails, at [`FLOOD_CAP`] bytes or after
/// 10 s, and records the bytes pushed.
async fn continuation_flood(mut stream: TcpStream, stats: &H2Stats) {
    let mut preface = [0u8; 24];
    if stream.read_exact(&mut preface).await.is_err() || preface != PREFACE {
        return;
    }
    if stream.write_all(&frame(SETTINGS, 0, 0, &[])).await.is_err() {
        return;
    }
    let first_request = async {
        // Bounded by the timeout around it.
        loop {
            let (kind, flags, id, _payload) = read_frame(&mut stream).await?;
            if kind == SETTINGS && flags & ACK == 0 {
                stream.write_all(&frame(SETTINGS, ACK, 0, &[])).await.ok()?;
            }
            if kind == HEADERS {
                return Some(id);
            }
        }
    };
    let Ok(Some(id)) = tokio::time::timeout(Duration::from_secs(3), first_request).await else {
        return;
    };
    stats.raw_headers.fetch_add(1, Ordering::SeqCst);
    // HPACK literal fields without indexing, new name: 0x00, the name's
    // length and bytes, the value's length and bytes (lengths below 127).
    let mut field = vec![0x00, 7];
    field.extend_from_slice(b"x-flood");
    field.push(100);
    field.extend_from_slice(&[b'f'; 100]);
    let block: Vec<u8> = field
        .iter()
        .copied()
        .cycle()
        .take(field.len() * (16_000 / field.len()))
        .collect();
    let continuation = frame(CONTINUATION, 0, id, &block);
    let mut pushed = 0u64;
    let flood = async {
        // HPACK 0x88 is the static-table entry `:status: 200`.
        if stream
            .write_all(&frame(HEADERS, 0, id, &[0x88]))
            .await
            .is_err()
        {
            return;
        }
        while pushed < FLOOD_CAP && stream.write_all(&continuation).await.is_ok() {
            pushed += continuation.len() as u64;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), flood).await;
    stats.floods.lock().unwrap().push(pushed);
}
