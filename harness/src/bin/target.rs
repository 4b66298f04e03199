//! `target`: a loopback HTTP server for the comparison's load tests, cheap
//! enough that the client under test dominates the cost.
//!
//! It listens on `--addr` (default `127.0.0.1:0`), prints one line
//! `listening http://127.0.0.1:PORT` on stdout, and serves HTTP/1.1
//! (keep-alive) and h2c (by preface detection) until it is killed, or
//! `--max-seconds` have passed.
//!
//! Routes (any method; the query string is ignored):
//!
//! - `/fast`: 200 with a fixed 100-byte body.
//! - `/bytes/N`: 200 with N bytes (at most 64 MiB).
//! - `/delay/MS`: 200 with the 100-byte body after MS milliseconds (at most
//!   60,000), on a timer.
//! - `/stats`: 200 with a JSON object of the counters `requests`,
//!   `connections_total`, `connections_open`, `connections_peak` and
//!   `in_flight_peak` (`/stats` itself is not counted).
//! - anything else: 404.

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpSocket;

/// The loopback target server of the comparison harness.
#[derive(Debug, Parser)]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// End by itself after this many seconds.
    #[arg(long, default_value_t = 900)]
    max_seconds: u64,
}

/// The largest `/bytes/N` body.
const MAX_BYTES: usize = 64 << 20;
/// The longest `/delay/MS`.
const MAX_DELAY_MS: u64 = 60_000;

/// The `/fast` (and `/delay`) body.
static FAST_BODY: Bytes = Bytes::from_static(&[b'x'; 100]);
/// `/bytes/N` bodies are slices of this one buffer, made on first use. It is
/// zeros, so the allocator can hand out untouched (zero-page) memory and the
/// server's RSS does not grow by 64 MiB.
static BIG: LazyLock<Bytes> = LazyLock::new(|| Bytes::from(vec![0u8; MAX_BYTES]));

static REQUESTS: AtomicU64 = AtomicU64::new(0);
static CONNECTIONS_TOTAL: AtomicU64 = AtomicU64::new(0);
static CONNECTIONS_OPEN: AtomicU64 = AtomicU64::new(0);
static CONNECTIONS_PEAK: AtomicU64 = AtomicU64::new(0);
static IN_FLIGHT: AtomicU64 = AtomicU64::new(0);
static IN_FLIGHT_PEAK: AtomicU64 = AtomicU64::new(0);

/// Counts one up in `now` (and the peak in `peak`) while it lives.
struct Gauge {
    now: &'static AtomicU64,
}

impl Gauge {
    fn enter(now: &'static AtomicU64, peak: &'static AtomicU64) -> Self {
        let n = now.fetch_add(1, Ordering::Relaxed) + 1;
        peak.fetch_max(n, Ordering::Relaxed);
        Gauge { now }
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        self.now.fetch_sub(1, Ordering::Relaxed);
    }
}

fn ok(body: Bytes) -> Response<Full<Bytes>> {
    Response::new(Full::new(body))
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = code;
    res
}

fn stats() -> Response<Full<Bytes>> {
    let json = serde_json::json!({
        "requests": REQUESTS.load(Ordering::Relaxed),
        "connections_total": CONNECTIONS_TOTAL.load(Ordering::Relaxed),
        "connections_open": CONNECTIONS_OPEN.load(Ordering::Relaxed),
        "connections_peak": CONNECTIONS_PEAK.load(Ordering::Relaxed),
        "in_flight_peak": IN_FLIGHT_PEAK.load(Ordering::Relaxed),
    });
    let mut res = ok(Bytes::from(json.to_string()));
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    res
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    if path == "/stats" {
        return Ok(stats());
    }
    REQUESTS.fetch_add(1, Ordering::Relaxed);
    let _in_flight = Gauge::enter(&IN_FLIGHT, &IN_FLIGHT_PEAK);
    let res = if path == "/fast" {
        ok(FAST_BODY.clone())
    } else if let Some(n) = path.strip_prefix("/bytes/") {
        match n.parse::<usize>() {
            Ok(n) => ok(BIG.slice(..n.min(MAX_BYTES))),
            Err(_) => status(StatusCode::NOT_FOUND),
        }
    } else if let Some(ms) = path.strip_prefix("/delay/") {
        match ms.parse::<u64>() {
            Ok(ms) => {
                tokio::time::sleep(Duration::from_millis(ms.min(MAX_DELAY_MS))).await;
                ok(FAST_BODY.clone())
            }
            Err(_) => status(StatusCode::NOT_FOUND),
        }
    } else {
        status(StatusCode::NOT_FOUND)
    };
    Ok(res)
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    batch_fetch_harness::raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let socket = match args.addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        socket.bind(args.addr)?;
        // The kernel caps the backlog at net.core.somaxconn.
        let listener = socket.listen(16_384)?;
        let local = listener.local_addr()?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening http://{local}")?;
            out.flush()?;
        }

        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http2().max_concurrent_streams(20_000);

        let serve = async {
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of descriptors, say: wait a moment rather than spin.
                        eprintln!("target: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                CONNECTIONS_TOTAL.fetch_add(1, Ordering::Relaxed);
                let open = Gauge::enter(&CONNECTIONS_OPEN, &CONNECTIONS_PEAK);
                let builder = builder.clone();
                tokio::spawn(async move {
                    let _open = open;
                    let conn = builder.serve_connection(TokioIo::new(stream), service_fn(handle));
                    // A client that goes away mid-request is not news.
                    let _ = conn.await;
                });
            }
        };
        tokio::select! {
            () = serve => {}
            () = tokio::time::sleep(Duration::from_secs(args.max_seconds)) => {
                eprintln!("target: --max-seconds ({}) passed; exiting", args.max_seconds);
            }
        }
        Ok(())
    })
}
