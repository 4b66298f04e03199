//! A soak run: one client fetching without a break, for a bounded time,
//! from a loopback server that misbehaves in every ordinary way, while the
//! process's memory and open file descriptors are watched.
//!
//! ```text
//! cargo run --release --example soak          # 180 s
//! cargo run --release --example soak -- 60    # a shorter run
//! ```
//!
//! The client runs two things at once (clones share the pool and the
//! limits): one endless `fetch_stream` over a lazy input, and, beside it,
//! back-to-back `fetch_all_settled` batches of 1,000 URLs. The embedded
//! server, raw HTTP/1.1 over TCP on 127.0.0.1, picks its behaviour from the
//! path; each input's path is drawn at random (seeded, so runs repeat):
//!
//! | path       | share  | what the server does                                            |
//! |------------|--------|-----------------------------------------------------------------|
//! | `/ok`      | 70 %   | `200`, half of them after 0–20 ms                               |
//! | `/slow`    | 8 %    | `200` after 30–200 ms                                           |
//! | `/flaky`   | 6 %    | `503` on half the attempts (some with `Retry-After: 1`), else `200` |
//! | `/missing` | 5 %    | `404`                                                           |
//! | `/close`   | 4 %    | `200` with `Connection: close`, then closes                     |
//! | `/drop`    | 3 %    | `200` (keep-alive), then closes the connection anyway           |
//! | `/reset`   | 3.9 %  | resets the connection (RST) on half the attempts, else `200`    |
//! | `/hang`    | 0.1 %  | never answers: past the 1 s timeout on every attempt            |
//!
//! Every few seconds a line shows the requests done, the outcomes, the RSS
//! and the open file descriptors. At the end the run fails (exit code 1) if
//! an input got no result or two, if a response reached the wrong input, if
//! more than 0.1 % of outcomes are not what their path allows, if the RSS
//! at the end is more than twice the RSS after warm-up, or if file
//! descriptors leaked. Idle pooled connections are allowed while the
//! client lives (each is two descriptors here, the client's end and the
//! server's); once the client is dropped they close, and the count must
//! come back to where it started. Memory and descriptors are read from
//! `/proc/self` (Linux); elsewhere those checks are skipped.

#[path = "support/process.rs"]
mod process;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use batch_fetch::{BatchClient, Error, Response, RetryPolicy};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use process::{Memory, memory, open_fds, show_mib};

const CONCURRENCY: usize = 100;
const TIMEOUT: Duration = Duration::from_secs(1);
const SETTLED_BATCH: usize = 1_000;
/// How often a progress line is printed.
const EVERY: Duration = Duration::from_secs(10);
/// Descriptors allowed above the start once the client is gone.
const FD_MARGIN: usize = 4;
/// Outcomes a path does not allow, as a share of all results, above which
/// the run fails (a loaded machine may time out a slow answer now and then).
const UNEXPECTED_SHARE: f64 = 0.001;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: u64 = match std::env::args().nth(1) {
        Some(s) => s.parse().map_err(|e| format!("seconds {s:?}: {e}"))?,
        None => 180,
    };
    let duration = Duration::from_secs(secs);
    let warmup = (duration / 4).min(Duration::from_secs(30));

    let server = Arc::new(ServerStats::default());
    let addr = start_server(server.clone()).await?;
    let fds_start = open_fds();
    let mem_start = memory();

    let client = BatchClient::builder()
        .concurrency(CONCURRENCY)
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .retry(
            RetryPolicy::default()
                .max_retries(3)
                .base_delay(Duration::from_millis(10))
                .max_delay(Duration::from_millis(200)),
        )
        .build()?;

    println!(
        "soak: {secs} s against a faulty server at {addr}; concurrency {CONCURRENCY}, \
         timeout {TIMEOUT:?}, 3 retries; a fetch_stream and fetch_all_settled batches of \
         {SETTLED_BATCH} side by side"
    );
    println!(
        "start: RSS {}, {} open fds",
        show_mib(mem_start.map(|m| m.now)),
        show_count(fds_start)
    );
    println!(
        "\n{:>6}  {:>9}  {:>7}  {:>8}  {:>6}  {:>5}  {:>10}  {:>10}  {:>5}  errors",
        "time", "requests", "req/s", "200", "404", "503", "RSS", "peak RSS", "fds"
    );

    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let deadline = started + duration;
    let stop = Arc::new(AtomicBool::new(false));
    let warm = Arc::new(Mutex::new(None::<Memory>));
    let ticker = tokio::spawn(report(
        tally.clone(),
        started,
        warmup,
        warm.clone(),
        stop.clone(),
    ));

    let side = tokio::spawn(settled_batches(
        client.clone(),
        addr,
        deadline,
        tally.clone(),
    ));
    let stream = run_stream(&client, addr, deadline, &tally).await;
    let batches = side.await?;
    stop.store(true, Ordering::SeqCst);
    ticker.await?;
    let wall = started.elapsed();

    // With the client alive: its pool may keep idle connections.
    let mem_end = memory();
    let fds_end = open_fds();
    let server_open_alive = server.open.load(Ordering::SeqCst);
    // Without it: every connection it opened must close.
    drop(client);
    let fds_after = settle_fds(fds_start).await;

    let t = tally.lock().unwrap();
    println!(
        "\n{} requests in {:.1} s ({:.0}/s)",
        t.done,
        wall.as_secs_f64(),
        t.done as f64 / wall.as_secs_f64()
    );
    println!(
        "  the stream: {} inputs; {} settled batches of {SETTLED_BATCH}",
        stream.issued, batches.batches
    );
    println!(
        "  server: {} connections accepted, {} requests read, {} resets, {} closes after a response, {} hangs",
        server.accepted.load(Ordering::SeqCst),
        server.requests.load(Ordering::SeqCst),
        server.resets.load(Ordering::SeqCst),
        server.closes.load(Ordering::SeqCst),
        server.hangs.load(Ordering::SeqCst),
    );
    println!("\n  {:<8}  {:>9}  outcomes", "path", "inputs");
    for (fault, outcomes) in &t.by_fault {
        let n: u64 = outcomes.values().sum();
        let list: Vec<String> = outcomes.iter().map(|(o, c)| format!("{o} ×{c}")).collect();
        println!("  {:<8}  {:>9}  {}", fault.name(), n, list.join(", "));
    }

    let warm = *warm.lock().unwrap();
    println!(
        "\nRSS: start {}, after warm-up ({:.0} s) {}, end {}; peak {}",
        show_mib(mem_start.map(|m| m.now)),
        warmup.as_secs_f64(),
        show_mib(warm.map(|m| m.now)),
        show_mib(mem_end.map(|m| m.now)),
        show_mib(mem_end.map(|m| m.peak)),
    );
    println!(
        "fds: start {}, end {} (client alive, {} server-side connections open), \
         after dropping the client {}",
        show_count(fds_start),
        show_count(fds_end),
        server_open_alive,
        show_count(fds_after),
    );

    let mut failures = Vec::new();
    let lost = stream.lost + batches.lost;
    if lost > 0 || stream.duplicates > 0 {
        failures.push(format!(
            "{lost} inputs without a result, {} results for no pending input",
            stream.duplicates
        ));
    }
    if t.done != stream.issued + (batches.batches * SETTLED_BATCH) as u64 {
        failures.push(format!(
            "{} results for {} inputs",
            t.done,
            stream.issued + (batches.batches * SETTLED_BATCH) as u64
        ));
    }
    if t.misrouted > 0 {
        failures.push(format!(
            "{} results reached the wrong input, e.g. {:?}",
            t.misrouted, t.misrouted_examples
        ));
    }
    if t.unexpected as f64 > UNEXPECTED_SHARE * t.done as f64 {
        failures.push(format!(
            "{} outcomes their path does not allow, e.g. {:?}",
            t.unexpected, t.unexpected_examples
        ));
    } else if t.unexpected > 0 {
        println!(
            "note: {} outcomes their path does not allow (tolerated), e.g. {:?}",
            t.unexpected, t.unexpected_examples
        );
    }
    if let (Some(warm), Some(end)) = (warm, mem_end)
        && end.now > 2 * warm.now
    {
        failures.push(format!(
            "RSS grew from {} after warm-up to {}",
            show_mib(Some(warm.now)),
            show_mib(Some(end.now))
        ));
    }
    if let (Some(start), Some(end)) = (fds_start, fds_end) {
        // Each pooled connection is two descriptors here (both ends are in
        // this process); the pool never holds more connections than were
        // open at once, which concurrency bounds, plus connects that lost a
        // race with a connection freed meanwhile.
        let cap = start + 2 * 2 * CONCURRENCY + 16;
        if end > cap {
            failures.push(format!("{end} fds with the client alive, over {cap}"));
        }
    }
    if let (Some(start), Some(after)) = (fds_start, fds_after)
        && after > start + FD_MARGIN
    {
        failures.push(format!(
            "{after} fds after dropping the client, {start} at the start"
        ));
    }
    if t.done == 0 {
        failures.push("no request completed".to_owned());
    }

    if failures.is_empty() {
        println!("\nsoak passed");
        Ok(())
    } else {
        for f in &failures {
            eprintln!("FAIL: {f}");
        }
        Err(format!("soak failed ({} checks)", failures.len()).into())
    }
}

// ---------------------------------------------------------------------------
// The client side

#[derive(Default)]
struct StreamOutcome {
    issued: u64,
    lost: u64,
    duplicates: u64,
}

/// One `fetch_stream` over a lazy input that ends at `deadline`. Each input
/// is pending from when the stream pulls it until its result arrives:
/// a result for no pending input is a duplicate, a pending input left at
/// the end is lost.
async fn run_stream(
    client: &BatchClient,
    addr: SocketAddr,
    deadline: Instant,
    tally: &Mutex<Tally>,
) -> StreamOutcome {
    let pending = Arc::new(Mutex::new(HashSet::new()));
    let issued = Arc::new(AtomicU64::new(0));
    let inputs = {
        let (pending, issued) = (pending.clone(), issued.clone());
        let mut i = 0usize;
        std::iter::from_fn(move || {
            if Instant::now() >= deadline {
                return None;
            }
            pending.lock().unwrap().insert(i);
            issued.fetch_add(1, Ordering::Relaxed);
            let url = format!("http://{addr}{}", path(0, i));
            i += 1;
            Some(url)
        })
    };
    let mut out = StreamOutcome::default();
    let mut results = client.fetch_stream(inputs);
    while let Some((index, result)) = results.next().await {
        if !pending.lock().unwrap().remove(&index) {
            out.duplicates += 1;
        }
        tally.lock().unwrap().record(0, index, &result);
    }
    out.issued = issued.load(Ordering::Relaxed);
    out.lost = pending.lock().unwrap().len() as u64;
    out
}

#[derive(Default)]
struct BatchesOutcome {
    batches: usize,
    lost: u64,
}

/// `fetch_all_settled` batches back to back until `deadline`.
async fn settled_batches(
    client: BatchClient,
    addr: SocketAddr,
    deadline: Instant,
    tally: Arc<Mutex<Tally>>,
) -> BatchesOutcome {
    let mut out = BatchesOutcome::default();
    while Instant::now() < deadline {
        let tag = out.batches as u64 + 1;
        let urls: Vec<String> = (0..SETTLED_BATCH)
            .map(|i| format!("http://{addr}{}", path(tag, i)))
            .collect();
        let results = client.fetch_all_settled(&urls).await;
        out.lost += urls.len().saturating_sub(results.len()) as u64;
        let mut t = tally.lock().unwrap();
        for (i, result) in results.iter().enumerate() {
            t.record(tag, i, result);
        }
        out.batches += 1;
    }
    out
}

/// What the server does for a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    Ok,
    Slow,
    Flaky,
    Missing,
    Close,
    Drop,
    Reset,
    Hang,
}

impl Fault {
    /// Per mille of the inputs.
    const SHARES: [(Fault, u64); 8] = [
        (Fault::Ok, 700),
        (Fault::Slow, 80),
        (Fault::Flaky, 60),
        (Fault::Missing, 50),
        (Fault::Close, 40),
        (Fault::Drop, 30),
        (Fault::Reset, 39),
        (Fault::Hang, 1),
    ];

    fn name(self) -> &'static str {
        match self {
            Fault::Ok => "ok",
            Fault::Slow => "slow",
            Fault::Flaky => "flaky",
            Fault::Missing => "missing",
            Fault::Close => "close",
            Fault::Drop => "drop",
            Fault::Reset => "reset",
            Fault::Hang => "hang",
        }
    }

    fn from_name(name: &str) -> Option<Fault> {
        Fault::SHARES
            .iter()
            .map(|&(f, _)| f)
            .find(|f| f.name() == name)
    }

    /// The fault of input `i` of the run `tag` (0 is the stream, then
    /// one per settled batch).
    fn of(tag: u64, i: usize) -> Fault {
        let mut draw = Rng::new(tag.wrapping_mul(0x1000_0000_01B3) ^ i as u64).below(1000);
        for (fault, share) in Fault::SHARES {
            if draw < share {
                return fault;
            }
            draw -= share;
        }
        Fault::Ok
    }

    /// Whether an outcome ("200", "Timeout", ...) is one this path allows.
    fn allows(self, outcome: &str) -> bool {
        match self {
            Fault::Ok | Fault::Slow | Fault::Close | Fault::Drop => outcome == "200",
            Fault::Missing => outcome == "404",
            // Four 503s in a row end as the last response.
            Fault::Flaky => outcome == "200" || outcome == "503",
            // Four resets in a row end as the last error.
            Fault::Reset => outcome == "200" || outcome == "Protocol",
            Fault::Hang => outcome == "Timeout",
        }
    }
}

/// `/{fault}/{tag}/{i}`: the server answers with this path as the body.
fn path(tag: u64, i: usize) -> String {
    format!("/{}/{tag}/{i}", Fault::of(tag, i).name())
}

#[derive(Default)]
struct Tally {
    done: u64,
    status: BTreeMap<u16, u64>,
    errors: BTreeMap<String, u64>,
    by_fault: BTreeMap<Fault, BTreeMap<String, u64>>,
    unexpected: u64,
    unexpected_examples: Vec<String>,
    misrouted: u64,
    misrouted_examples: Vec<String>,
}

impl Tally {
    fn record(&mut self, tag: u64, index: usize, result: &Result<Response, Error>) {
        let path = path(tag, index);
        let fault = Fault::of(tag, index);
        self.done += 1;
        let outcome = match result {
            Ok(res) => {
                *self.status.entry(res.status().as_u16()).or_default() += 1;
                if res.body() != path.as_bytes() || res.url().path() != path {
                    self.misrouted += 1;
                    if self.misrouted_examples.len() < 3 {
                        self.misrouted_examples.push(format!(
                            "input {path} got {:?} from {}",
                            String::from_utf8_lossy(res.body()),
                            res.url()
                        ));
                    }
                }
                res.status().as_str().to_owned()
            }
            Err(err) => {
                let kind = format!("{:?}", err.kind());
                *self.errors.entry(kind.clone()).or_default() += 1;
                if err.index() != Some(index) || err.url().map(|u| u.path()) != Some(&path) {
                    self.misrouted += 1;
                    if self.misrouted_examples.len() < 3 {
                        self.misrouted_examples
                            .push(format!("input {path} (index {index}) got: {err}"));
                    }
                }
                kind
            }
        };
        if !fault.allows(&outcome) {
            self.unexpected += 1;
            if self.unexpected_examples.len() < 5 {
                let detail = match result {
                    Ok(res) => format!("status {}", res.status()),
                    Err(err) => err.to_string(),
                };
                self.unexpected_examples.push(format!("{path}: {detail}"));
            }
        }
        *self
            .by_fault
            .entry(fault)
            .or_default()
            .entry(outcome)
            .or_default() += 1;
    }
}

/// Prints a progress line every [`EVERY`] until `stop`, and keeps the
/// memory reading taken once `warmup` has passed.
async fn report(
    tally: Arc<Mutex<Tally>>,
    started: Instant,
    warmup: Duration,
    warm: Arc<Mutex<Option<Memory>>>,
    stop: Arc<AtomicBool>,
) {
    let mut next = started + EVERY;
    let mut last_done = 0;
    let mut last_at = started;
    while !stop.load(Ordering::SeqCst) {
        // Wake often enough to notice `stop`, print on the beat.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = Instant::now();
        if warm.lock().unwrap().is_none() && now - started >= warmup {
            *warm.lock().unwrap() = memory();
        }
        if now < next {
            continue;
        }
        next += EVERY;
        let (line, done) = {
            let t = tally.lock().unwrap();
            let status = |code| t.status.get(&code).copied().unwrap_or(0);
            let errors: Vec<String> = t.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let mem = memory();
            let line = format!(
                "{:>5.0}s  {:>9}  {:>7.0}  {:>8}  {:>6}  {:>5}  {:>10}  {:>10}  {:>5}  {}",
                (now - started).as_secs_f64(),
                t.done,
                (t.done - last_done) as f64 / (now - last_at).as_secs_f64(),
                status(200),
                status(404),
                status(503),
                show_mib(mem.map(|m| m.now)),
                show_mib(mem.map(|m| m.peak)),
                show_count(open_fds()),
                if errors.is_empty() {
                    "none".to_owned()
                } else {
                    errors.join(", ")
                },
            );
            (line, t.done)
        };
        println!("{line}");
        last_done = done;
        last_at = now;
    }
}

/// Waits up to 10 s for the descriptors to come back to `start` (the
/// pool's connections close as the client drops, the server's ends as it
/// reads their EOF), and returns the count then.
async fn settle_fds(start: Option<usize>) -> Option<usize> {
    let start = start?;
    for _ in 0..100 {
        let now = open_fds()?;
        if now <= start {
            return Some(now);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    open_fds()
}

// ---------------------------------------------------------------------------
// The faulty server: raw HTTP/1.1 over TCP, one task per connection.

#[derive(Default)]
struct ServerStats {
    accepted: AtomicU64,
    open: AtomicUsize,
    requests: AtomicU64,
    resets: AtomicU64,
    closes: AtomicU64,
    hangs: AtomicU64,
}

/// How long a server connection waits for the next request: longer than
/// the client's pool idle timeout (30 s), so the client closes first.
const SERVER_IDLE: Duration = Duration::from_secs(40);
/// How long a hanging request holds its connection at most.
const HANG_CAP: Duration = Duration::from_secs(60);

async fn start_server(stats: Arc<ServerStats>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let mut seed = 0u64;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // E.g. out of descriptors: the clients see it as errors.
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            seed += 1;
            stats.accepted.fetch_add(1, Ordering::Relaxed);
            stats.open.fetch_add(1, Ordering::SeqCst);
            let stats = stats.clone();
            tokio::spawn(async move {
                serve(stream, &stats, Rng::new(seed)).await;
                stats.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Ok(addr)
}

async fn serve(mut stream: TcpStream, stats: &ServerStats, mut rng: Rng) {
    let mut buf = Vec::with_capacity(1024);
    loop {
        let Some(path) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        stats.requests.fetch_add(1, Ordering::Relaxed);
        let fault = path
            .split('/')
            .nth(1)
            .and_then(Fault::from_name)
            .unwrap_or(Fault::Missing);
        let mut keep_alive = true;
        let answer = match fault {
            Fault::Ok => {
                if rng.below(2) == 0 {
                    sleep_ms(rng.below(21)).await;
                }
                reply(200, &path, "")
            }
            Fault::Slow => {
                sleep_ms(30 + rng.below(171)).await;
                reply(200, &path, "")
            }
            Fault::Flaky => match rng.below(4) {
                0 => reply(503, &path, "retry-after: 1\r\n"),
                1 => reply(503, &path, ""),
                _ => reply(200, &path, ""),
            },
            Fault::Missing => reply(404, &path, ""),
            Fault::Close => {
                keep_alive = false;
                reply(200, &path, "connection: close\r\n")
            }
            Fault::Drop => {
                // Says nothing of closing, then closes.
                keep_alive = false;
                reply(200, &path, "")
            }
            Fault::Reset => {
                if rng.below(2) == 0 {
                    stats.resets.fetch_add(1, Ordering::Relaxed);
                    let _ = stream.set_zero_linger();
                    return; // dropped with linger 0: RST
                }
                reply(200, &path, "")
            }
            Fault::Hang => {
                stats.hangs.fetch_add(1, Ordering::Relaxed);
                // Until the client gives up and closes.
                let mut tmp = [0u8; 512];
                let _ = tokio::time::timeout(HANG_CAP, async {
                    while let Ok(1..) = stream.read(&mut tmp).await {}
                })
                .await;
                return;
            }
        };
        if stream.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
        if !keep_alive {
            stats.closes.fetch_add(1, Ordering::Relaxed);
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// Reads one request head (GET, no body) and returns its path; `None` on
/// EOF, error, a head over 16 KiB or [`SERVER_IDLE`] without a byte.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            let line = head.lines().next()?;
            return line.split(' ').nth(1).map(str::to_owned);
        }
        if buf.len() > 16 * 1024 {
            return None;
        }
        let mut tmp = [0u8; 2048];
        match tokio::time::timeout(SERVER_IDLE, stream.read(&mut tmp)).await {
            Ok(Ok(n @ 1..)) => buf.extend_from_slice(&tmp[..n]),
            _ => return None,
        }
    }
}

fn reply(status: u16, body: &str, extra: &str) -> String {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Service Unavailable",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
}

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Deterministic pseudo-random numbers: splitmix64.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

// ---------------------------------------------------------------------------

fn show_count(n: Option<usize>) -> String {
    n.map_or_else(|| "n/a".to_owned(), |n| n.to_string())
}
