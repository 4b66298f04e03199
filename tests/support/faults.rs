//! A fault injection server on loopback, told **per request** what to do:
//! [`H2FaultServer`] acts out HTTP/2 stream resets and GOAWAYs (h2c, prior
//! knowledge). (Its HTTP/1.1 counterpart is [`super::raw::Behavior::ByPath`].)
//!
//! Built on the shared accept loop ([`Listening`]); every loop is bounded
//! in count or time, and dropping a server ends its listener and its
//! connections.
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use h2::Reason;
use tokio::net::TcpStream;

use super::listen::{LOOPBACK, Listening};
use super::{Gauge, GaugeGuard};

/// How long any fault connection may live at most.
pub const FAULT_CONN_CAP: Duration = Duration::from_secs(30);

/// One request head a fault server read.
#[derive(Debug, Clone)]
pub struct FaultHit {
    /// Server-side number of the connection (from 1).
    pub conn: usize,
    /// The request target, e.g. `/fault/garbage`.
    pub target: String,
    pub at: Instant,
}

/// What an [`H2FaultServer`] saw and did.
#[derive(Debug, Default)]
pub struct FaultStats {
    accepted: AtomicUsize,
    requests: AtomicUsize,
    /// Connections open now (and their peak).
    pub connections: Arc<Gauge>,
    /// Connection tasks that panicked (must stay 0).
    panics: AtomicUsize,
    log: Mutex<Vec<FaultHit>>,
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
