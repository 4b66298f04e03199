//! Shared test infrastructure: real servers on loopback, no HTTP mocks.
//!
//! The servers, one per kind:
//!
//! * [`server::TestServer`]: the well-behaved hyper server (HTTP/1.1 + h2c,
//!   or TLS with ALPN h2/http1.1) with instrumented routes and counters.
//! * [`fn_server::FnServer`]: a hyper server answering with a test's closure.
//! * [`raw::RawServer`]: raw TCP that misbehaves on purpose: one
//!   [`raw::Behavior`] for every request or the fault each request path
//!   names, a test's script per connection, or a listener that never
//!   accepts.
//! * [`h2srv::H2Server`]: HTTP/2 that misbehaves on purpose: refused or
//!   reset streams and GOAWAYs, the same on every connection or as each
//!   request path names.
//! * [`proxy::ProxyServer`]: a loopback HTTP proxy (CONNECT and forwarding).
//! * [`files::FileServer`]: raw TCP serving deterministic files of any
//!   size, with or without ranges and validators, cut mid-body, changing
//!   between requests, wrong `Content-Range`s, gzip, drips (downloads).
//! * [`nginx::Nginx`]: a real nginx (Debian's) on loopback, with its access
//!   log; also a TLS front (its stream module) for a plain-TCP service.
//! * [`tinyproxy::Tinyproxy`]: a real forward proxy (Debian's tinyproxy) on
//!   loopback, with the requests its log shows.
//!
//! And what they and the tests share:
//!
//! * [`listen::Listening`]: the accept loop of all these servers but the
//!   real ones.
//! * [`external`]: what the real ones share (a child process in a
//!   temporary directory, free ports, a loud skip).
//! * [`tls::TestPki`]: a CA + leaf certificate generated at test time
//!   ([`TestPki::for_names`] for a leaf of other names).
//! * [`clients`]: the client builders and retry policies the tests share.
//! * [`scratch::Scratch`]: a test's own directory for files, removed on drop.
//! * [`json`]: the JSON payloads of the `json` feature's tests.
//!
//! Each test binary uses a subset of this module, hence the `allow`s.
#![allow(dead_code, unused_imports)]

pub mod clients;
pub mod external;
pub mod files;
pub mod fn_server;
pub mod h2srv;
pub mod json;
pub mod listen;
pub mod nginx;
pub mod proxy;
pub mod raw;
pub mod scratch;
pub mod server;
pub mod tinyproxy;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use raw::{Behavior, RawServer};
pub use server::{Hit, ServerGroup, ServerStats, TestServer};
pub use tls::TestPki;

pub use fn_server::{FnServer, Seen};
pub use h2srv::{H2Mode, H2Server};
pub use proxy::ProxyServer;

/// Generous bound for one batch: a bug must fail the test, not hang it.
pub const BATCH_TIMEOUT: Duration = Duration::from_secs(20);

/// Awaits `fut` but panics (failing the test) if it does not finish within `limit`.
pub async fn within<F: Future>(limit: Duration, what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: did not finish within {limit:?} (hang?)"),
    }
}

/// [`within`] with the default [`BATCH_TIMEOUT`].
pub async fn bounded<F: Future>(what: &str, fut: F) -> F::Output {
    within(BATCH_TIMEOUT, what, fut).await
}

/// Polls `cond` every 10 ms until it holds or `limit` passes; returns whether it held.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Takes the `Err` out of a result whose `Ok` type may not implement `Debug`.
#[track_caller]
pub fn expect_err<T, E>(r: Result<T, E>, what: &str) -> E {
    match r {
        Ok(_) => panic!("{what}: expected an error, got Ok"),
        Err(e) => e,
    }
}

/// A port on 127.0.0.1 where nothing listens (bound then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("local_addr").port();
    drop(l);
    port
}

/// Deterministic pseudo-random numbers (no `rand` dependency): splitmix64.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The byte pattern served by `/bytes/{n}` and `/bytes-chunked/{n}`.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(pattern_byte).collect()
}

pub fn pattern_byte(i: usize) -> u8 {
    b'a' + (i % 26) as u8
}

/// Formats `t` as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the
/// HTTP-date form of `Retry-After`.
pub fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).expect("after epoch").as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // 1970-01-01 was a Thursday.
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(mo - 1) as usize];
    format!("{wd}, {d:02} {mon} {y} {h:02}:{m:02}:{s:02} GMT")
}

/// Current and peak value of a quantity (in-flight requests, open connections).
#[derive(Debug, Default)]
pub struct Gauge {
    cur: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    pub fn inc(&self) -> usize {
        let now = self.cur.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        now
    }

    pub fn dec(&self) {
        self.cur.fetch_sub(1, Ordering::SeqCst);
    }

    pub fn current(&self) -> usize {
        self.cur.load(Ordering::SeqCst)
    }

    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Resets the peak to the current value.
    pub fn reset_peak(&self) {
        self.peak.store(self.current(), Ordering::SeqCst);
    }
}

/// Increments the given gauges on creation, decrements them on drop.
pub struct GaugeGuard(Vec<Arc<Gauge>>);

impl GaugeGuard {
    pub fn new(gauges: Vec<Arc<Gauge>>) -> Self {
        for g in &gauges {
            g.inc();
        }
        GaugeGuard(gauges)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        for g in &self.0 {
            g.dec();
        }
    }
}

/// Parsed reply of the `/echo` route.
#[derive(Debug, Clone)]
pub struct Echo {
    pub method: String,
    pub uri: String,
    pub version: String,
    /// Lower-case header name → values, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Echo {
    /// The `/echo` reply format: a request as text, which [`Echo::parse`]
    /// reads back.
    pub fn render(
        method: &http::Method,
        uri: &http::Uri,
        version: http::Version,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> String {
        let mut out = format!("method={method}\nuri={uri}\nversion={version:?}\n");
        for (k, v) in headers {
            out.push_str(&format!(
                "header.{}={}\n",
                k.as_str(),
                String::from_utf8_lossy(v.as_bytes())
            ));
        }
        out.push_str("body=");
        out.push_str(&String::from_utf8_lossy(body));
        out
    }

    /// Parses the `/echo` reply format (see [`Echo::render`]).
    pub fn parse(text: &str) -> Echo {
        let (head, body) = text
            .split_once("\nbody=")
            .unwrap_or_else(|| panic!("not an echo reply: {text:?}"));
        let mut e = Echo {
            method: String::new(),
            uri: String::new(),
            version: String::new(),
            headers: Vec::new(),
            body: body.to_string(),
        };
        for line in head.lines() {
            if let Some(v) = line.strip_prefix("method=") {
                e.method = v.to_string();
            } else if let Some(v) = line.strip_prefix("uri=") {
                e.uri = v.to_string();
            } else if let Some(v) = line.strip_prefix("version=") {
                e.version = v.to_string();
            } else if let Some(h) = line.strip_prefix("header.") {
                let (k, v) = h.split_once('=').expect("header line");
                e.headers.push((k.to_string(), v.to_string()));
            }
        }
        e
    }

    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header_all(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}
