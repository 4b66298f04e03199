//! Property tests of the gather entry points against a model: random
//! batches (1..=60 inputs, concurrency 1..=32, per-host limit none or
//! 1..=8, 0..=3 fast retries, `max_delay` from 5 ms to 1 s) over two
//! randomly faulty loopback hosts (127.0.0.1 and 127.0.0.2, raw HTTP/1.1
//! servers on the shared accept loop), in settled (`fetch_all_settled`)
//! and fail-fast (`fetch_all`) mode. A quarter of the cases are retry-heavy
//! batches (40..=60 inputs, 3 retries, mostly retried answers) with the
//! retry budget on; the others switch it off.
//!
//! Each input's path says what the server does on each attempt: after a
//! delay of 0..=30 ms, answer 200, 404, 500, 503 or 429 (with the input's
//! `Retry-After`, 0 or 1 s: delta-seconds are whole seconds), reset the
//! connection (RST) or close it (FIN) before any response; the last step
//! repeats for later attempts. A few inputs point at a bound but not
//! listening port instead (connection refused). The server counts the
//! attempts it sees per input and its requests in flight, in total and per
//! host, and notes when each request arrived and when each 429 left. A
//! model replays the script under the retry rules (429/503, resets and
//! closes are retried for a GET, connect errors always; 200/404/500 are
//! final) and predicts, per input, the outcome and the attempts. With the
//! budget on (`budget_percent(0.0)`: only tower's reserve of 10 retries a
//! second over its 10 s window, 100 retries in all) the budget may refuse
//! any retry once 100 were made: an input then ends after fewer attempts,
//! with the outcome of the last one.
//!
//! What is asserted, for every case:
//! * one result per input, in input order; `Response::url()`,
//!   `Error::url()` and `Error::index()` name the input;
//! * statuses and `attempts()` are the model's (with the budget on: the
//!   model's run cut after some attempts, at most the model's number);
//!   a reset is a `Protocol` error caused by an `io::Error` of kind
//!   `ConnectionReset`, a close before any response a `Protocol` error
//!   caused by hyper's "incomplete message", a refused port a `Connect`
//!   error;
//! * a retry after a 429 waits at least `min(Retry-After, max_delay)`,
//!   from the answer leaving the server to the next request arriving;
//! * with the budget on, settled batches make exactly `min(100, the
//!   retries the model asks for)` retries (when the case took under 9 s,
//!   so that nothing left the budget's window), fail-fast ones at most
//!   100;
//! * the server saw, per input, exactly `attempts()` requests when the
//!   input reached it (the 200 body also carries the server's attempt
//!   number), besides, for each attempt that met a reset or a close on a
//!   kept connection, one more sent at once on a new connection as the
//!   same attempt (and never on a kept one); a refused input made `attempts()` connect attempts and the
//!   server saw none; in fail-fast mode, an input cut off by the stop was
//!   seen at most as often as the model allows and never without a
//!   `Started` event for it;
//! * the server's peak in-flight is at most the concurrency, and per host
//!   at most the per-host limit (the server stops counting a request
//!   before the first byte of its answer leaves, so its count never
//!   exceeds what the client holds permits for);
//! * the observer saw one `Started` per attempt, one `Retrying` per retry
//!   and one `Completed`/`Failed` per input (settled);
//! * fail-fast: with no failing input in the model the batch returns every
//!   response; otherwise it returns an error of a failing input, the
//!   observer (called as each input finishes, on the batch's task) saw
//!   exactly one `Failed` event, that one, and every input that completed
//!   before it is one the model says succeeds, with the model's status.
//!   Which failing input comes first in time is not predicted.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use batch_fetch::{ErrorKind, Event, RetryPolicy};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::support::clients::defaults;
use crate::support::listen::Listening;
use crate::support::raw::read_request;
use crate::support::{Gauge, GaugeGuard, within};

/// Cases per property. Each case starts its own runtime, servers and client.
const CASES: u32 = 64;
/// A case whose scripted server time, packed on the permits it may use,
/// exceeds this is not generated (keeps the file fast).
const MAX_SERIAL_MS: u64 = 600;
/// Nor one whose longest chain of `Retry-After` waits, for one input,
/// exceeds this.
const MAX_WAIT_MS: u64 = 1000;
/// Retries the budget allows with `budget_percent(0.0)`: tower's reserve
/// of 10 a second over a 10 s window.
const BUDGET_RESERVE: u32 = 100;
const HOSTS: [Ipv4Addr; 2] = [Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2)];

/// What the server does on one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Status(u16),
    /// Reads the request, then resets the connection (RST).
    Reset,
    /// Reads the request, then closes the connection (FIN) without answering.
    Close,
}

impl Act {
    fn token(self) -> String {
        match self {
            Act::Status(code) => code.to_string(),
            Act::Reset => "rst".into(),
            Act::Close => "fin".into(),
        }
    }

    fn parse(s: &str) -> Option<Act> {
        match s {
            "rst" => Some(Act::Reset),
            "fin" => Some(Act::Close),
            code => code.parse().ok().map(Act::Status),
        }
    }

    /// Whether the client retries a GET after this attempt.
    fn retried(self) -> bool {
        matches!(self, Act::Status(429 | 503) | Act::Reset | Act::Close)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Host(usize),
    /// A bound port nobody listens on: every connect is refused.
    Refused,
}

#[derive(Clone, Debug)]
struct Input {
    target: Target,
    delay_ms: u64,
    /// `Retry-After` of its 429 answers, in seconds.
    retry_after_s: u64,
    /// Attempt `k` (from 0) gets `script[min(k, len - 1)]`.
    script: Vec<Act>,
}

impl Input {
    /// What the server does on attempt `k` (from 0).
    fn act(&self, k: u32) -> Act {
        self.script[(k as usize).min(self.script.len() - 1)]
    }
}

#[derive(Clone, Debug)]
struct Case {
    concurrency: usize,
    per_host: Option<usize>,
    max_retries: u32,
    /// The policy's `max_delay`, which also caps `Retry-After`.
    max_delay_ms: u64,
    /// Whether the retry budget is on (`budget_percent(0.0)`) or, in
    /// effect, off (`budget_percent(1000.0)`).
    budget: bool,
    inputs: Vec<Input>,
}

/// What the model predicts for one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Status(u16),
    Reset,
    Close,
    Refused,
}

#[derive(Clone, Copy, Debug)]
struct Expected {
    outcome: Outcome,
    attempts: u32,
    /// Requests the server sees for the input.
    server_hits: usize,
}

impl Expected {
    fn fails(&self) -> bool {
        !matches!(self.outcome, Outcome::Status(_))
    }
}

/// The model without a budget: the script run under the retry rules.
fn model(input: &Input, max_retries: u32) -> Expected {
    let mut attempt = 0u32;
    while attempt < max_retries && (input.target == Target::Refused || input.act(attempt).retried())
    {
        attempt += 1;
    }
    ended_after(input, attempt + 1)
}

/// What an input shows when it ends after `attempts` attempts: the outcome
/// of the last one.
fn ended_after(input: &Input, attempts: u32) -> Expected {
    if input.target == Target::Refused {
        return Expected {
            outcome: Outcome::Refused,
            attempts,
            server_hits: 0,
        };
    }
    let outcome = match input.act(attempts - 1) {
        Act::Status(code) => Outcome::Status(code),
        Act::Reset => Outcome::Reset,
        Act::Close => Outcome::Close,
    };
    Expected {
        outcome,
        attempts,
        server_hits: attempts as usize,
    }
}

/// The model for input `i` of `case` ended after `attempts` attempts, if it
/// may end so: after exactly the model's attempts without the budget; with
/// it, after any number from 1 up to the model's (a retry the budget
/// refused ends the input).
fn expected_after(case: &Case, i: usize, attempts: u32) -> Result<Expected, TestCaseError> {
    let full = model(&case.inputs[i], case.max_retries);
    if case.budget {
        prop_assert!(
            (1..=full.attempts).contains(&attempts),
            "input {i}: {attempts} attempts, the model (budget on) allows 1..={}",
            full.attempts
        );
    } else {
        prop_assert_eq!(attempts, full.attempts, "attempts of input {}", i);
    }
    Ok(ended_after(&case.inputs[i], attempts))
}

/// Whether input `i` fails (an error, not a response) however many
/// attempts it gets (`all`), or for some number it may get (`!all`).
fn fails(case: &Case, i: usize, all: bool) -> bool {
    let full = model(&case.inputs[i], case.max_retries);
    let first = if case.budget { 1 } else { full.attempts };
    let mut ends = (first..=full.attempts).map(|a| ended_after(&case.inputs[i], a).fails());
    if all {
        ends.all(|f| f)
    } else {
        ends.any(|f| f)
    }
}

impl Case {
    /// Scripted server time packed on the permits the client may use: a
    /// lower bound of the case's duration, used to keep cases short.
    fn serial_ms(&self) -> u64 {
        let work = |host: Option<usize>| -> u64 {
            self.inputs
                .iter()
                .filter(|i| host.is_none_or(|h| i.target == Target::Host(h)))
                .map(|i| i.delay_ms * model(i, self.max_retries).server_hits as u64)
                .sum()
        };
        let global = work(None) / self.concurrency as u64;
        let per_host_permits = self.per_host.unwrap_or(usize::MAX).min(self.concurrency) as u64;
        (0..HOSTS.len())
            .map(|h| work(Some(h)) / per_host_permits)
            .fold(global, u64::max)
    }

    /// The longest chain of waits after 429s of one input: waits hold no
    /// permit, so the inputs' chains overlap.
    fn wait_ms(&self) -> u64 {
        self.inputs
            .iter()
            .filter(|i| i.target != Target::Refused)
            .map(|i| {
                let retries = model(i, self.max_retries).attempts - 1;
                (0..retries)
                    .filter(|&k| i.act(k) == Act::Status(429))
                    .map(|_| (i.retry_after_s * 1000).min(self.max_delay_ms))
                    .sum::<u64>()
            })
            .max()
            .unwrap_or(0)
    }

    /// The retries the model asks for, in all.
    fn demand(&self) -> u32 {
        self.inputs
            .iter()
            .map(|i| model(i, self.max_retries).attempts - 1)
            .sum()
    }
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        4 => Just(Act::Status(200)),
        1 => Just(Act::Status(404)),
        1 => Just(Act::Status(500)),
        2 => Just(Act::Status(503)),
        2 => Just(Act::Status(429)),
        1 => Just(Act::Reset),
        1 => Just(Act::Close),
    ]
}

/// Mostly answers that are retried: batches that ask for more retries than
/// the budget allows.
fn retried_act() -> impl Strategy<Value = Act> {
    prop_oneof![
        1 => Just(Act::Status(200)),
        3 => Just(Act::Status(503)),
        3 => Just(Act::Status(429)),
        1 => Just(Act::Reset),
        1 => Just(Act::Close),
    ]
}

fn input(act: impl Strategy<Value = Act>) -> impl Strategy<Value = Input> {
    (
        prop_oneof![
            12 => (0..HOSTS.len()).prop_map(Target::Host),
            1 => Just(Target::Refused),
        ],
        prop_oneof![Just(0u64), 0u64..=30],
        0u64..=1,
        prop::collection::vec(act, 1..=3),
    )
        .prop_map(|(target, delay_ms, retry_after_s, script)| Input {
            target,
            delay_ms,
            retry_after_s,
            script,
        })
}

/// `max_delay`, from 5 ms to 1 s: with `Retry-After: 1` the wait is this.
fn max_delay_ms() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => Just(5u64),
        1 => Just(20),
        1 => Just(50),
        1 => Just(100),
        1 => Just(200),
        1 => Just(500),
        1 => Just(1000),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let plain = (
        1usize..=32,
        prop::option::of(1usize..=8),
        0u32..=3,
        Just(false),
        prop::collection::vec(input(act()), 1..=60),
    );
    let heavy = (
        1usize..=32,
        prop::option::of(1usize..=8),
        Just(3u32),
        Just(true),
        prop::collection::vec(input(retried_act()), 40..=60),
    );
    (
        prop_oneof![3 => plain, 1 => heavy],
        max_delay_ms(),
        // Half the cases have no connection faults at all, so that fail-fast
        // batches also run to the end.
        any::<bool>(),
    )
        .prop_map(
            |((concurrency, per_host, max_retries, budget, mut inputs), max_delay_ms, faults)| {
                if !faults {
                    for (i, input) in inputs.iter_mut().enumerate() {
                        if input.target == Target::Refused {
                            input.target = Target::Host(i % HOSTS.len());
                        }
                        for act in &mut input.script {
                            *act = match *act {
                                Act::Reset => Act::Status(503),
                                Act::Close => Act::Status(200),
                                other => other,
                            };
                        }
                    }
                }
                Case {
                    concurrency,
                    per_host,
                    max_retries,
                    max_delay_ms,
                    budget,
                    inputs,
                }
            },
        )
        .prop_filter("too slow for the time budget", |case| {
            case.serial_ms() <= MAX_SERIAL_MS && case.wait_ms() <= MAX_WAIT_MS
        })
}

/// One request the server saw: when it arrived, and when its answer left
/// if that was a 429.
type Seen429 = (Instant, Option<Instant>);

/// What the faulty servers counted.
struct Counts {
    /// Attempts seen per input: requests, less those sent again at once.
    hits: Vec<AtomicUsize>,
    /// Per input, requests sent again at once as the same attempt: one
    /// that met a reset or a close on a kept connection (one that had
    /// answered before) goes out again on a new connection (see
    /// `RetryPolicy`).
    resent: Vec<AtomicUsize>,
    /// Per input, the next request is such a resend.
    resend_due: Vec<AtomicBool>,
    /// Per input, its requests in order.
    timeline: Vec<Mutex<Vec<Seen429>>>,
    total: Arc<Gauge>,
    per_host: Vec<Arc<Gauge>>,
    /// Requests the servers could not make sense of (or that reached the
    /// wrong host).
    unexpected: Mutex<Vec<String>>,
}

/// What a request line asks of the server.
#[derive(Debug, PartialEq, Eq)]
struct Asked {
    host: usize,
    id: usize,
    delay_ms: u64,
    retry_after_s: u64,
    script: Vec<Act>,
}

/// Parses `GET /p/{host}/{id}/{delay}/{retry_after}/{act}.{act}...`.
fn parse_target(line: &str) -> Option<Asked> {
    let target = line.strip_prefix("GET ")?;
    let mut parts = target.strip_prefix("/p/")?.split('/');
    let host = parts.next()?.parse().ok()?;
    let id = parts.next()?.parse().ok()?;
    let delay_ms = parts.next()?.parse().ok()?;
    let retry_after_s = parts.next()?.parse().ok()?;
    let script: Option<Vec<Act>> = parts.next()?.split('.').map(Act::parse).collect();
    let script = script.filter(|s| !s.is_empty())?;
    parts.next().is_none().then_some(Asked {
        host,
        id,
        delay_ms,
        retry_after_s,
        script,
    })
}

/// One keep-alive HTTP/1.1 connection of a faulty host: each request acts
/// out the step of its script for the attempt number the server counted.
async fn serve(mut stream: TcpStream, host: usize, counts: Arc<Counts>) {
    let mut buf = Vec::new();
    // Requests this connection answered.
    let mut answered = 0usize;
    loop {
        let Some(line) = read_request(&mut stream, &mut buf, Duration::from_secs(30)).await else {
            return;
        };
        let arrived = Instant::now();
        let parsed = parse_target(&line).filter(|a| a.host == host && a.id < counts.hits.len());
        let Some(Asked {
            id,
            delay_ms: delay,
            retry_after_s,
            script,
            ..
        }) = parsed
        else {
            counts
                .unexpected
                .lock()
                .unwrap()
                .push(format!("host {host}: {line}"));
            return;
        };
        let attempt = if counts.resend_due[id].swap(false, Ordering::SeqCst) {
            counts.resent[id].fetch_add(1, Ordering::SeqCst);
            if answered > 0 {
                counts.unexpected.lock().unwrap().push(format!(
                    "host {host}: {line} sent again on a kept connection"
                ));
            }
            counts.hits[id].load(Ordering::SeqCst)
        } else {
            counts.hits[id].fetch_add(1, Ordering::SeqCst) + 1
        };
        // Noted before anything is answered: the next attempt of this input
        // cannot arrive before this one is answered.
        let entry = {
            let mut timeline = counts.timeline[id].lock().unwrap();
            timeline.push((arrived, None));
            timeline.len() - 1
        };
        let act = script[(attempt - 1).min(script.len() - 1)];
        {
            let _in_flight =
                GaugeGuard::new(vec![counts.total.clone(), counts.per_host[host].clone()]);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            // Out of flight before any byte of the answer leaves.
        }
        match act {
            Act::Status(code) => {
                let body = format!("{id}:{attempt}");
                let retry_after = if code == 429 {
                    format!("Retry-After: {retry_after_s}\r\n")
                } else {
                    String::new()
                };
                let answer = format!(
                    "HTTP/1.1 {code} Scripted\r\nContent-Length: {}\r\n{retry_after}\r\n{body}",
                    body.len()
                );
                if code == 429 {
                    // Before the first byte leaves: the client's wait
                    // starts later than this.
                    counts.timeline[id].lock().unwrap()[entry].1 = Some(Instant::now());
                }
                if stream.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
            }
            Act::Reset | Act::Close => {
                if answered > 0 {
                    counts.resend_due[id].store(true, Ordering::SeqCst);
                }
                if act == Act::Reset {
                    let _ = stream.set_zero_linger();
                } else {
                    let _ = stream.shutdown().await;
                }
                return;
            }
        }
        answered += 1;
    }
}

/// What the batch's observer saw, per input.
#[derive(Default)]
struct Seen {
    started: Vec<u32>,
    retrying: Vec<u32>,
    redispatched: Vec<u32>,
    /// `(index, ok)` in the order inputs finished.
    finished: Vec<(usize, bool)>,
    /// `(index, status, attempts)` of each `Completed`.
    completed: Vec<(usize, u16, u32)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Settled,
    FailFast,
}

/// The connection fault an error's causes show: a reset
/// (`io::ErrorKind::ConnectionReset`) or a close before any response
/// (hyper's "incomplete message").
fn fault(err: &batch_fetch::Error) -> Option<Outcome> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionReset
        {
            return Some(Outcome::Reset);
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>()
            && h.is_incomplete_message()
        {
            return Some(Outcome::Close);
        }
        cause = e.source();
    }
    None
}

/// Checks one input's error against the model.
fn check_error(
    err: &batch_fetch::Error,
    case: &Case,
    i: usize,
    url: &str,
) -> Result<Expected, TestCaseError> {
    let exp = expected_after(case, i, err.attempts())?;
    prop_assert!(
        exp.fails(),
        "input {i}: model says {exp:?}, got error {err}"
    );
    prop_assert_eq!(err.index(), Some(i), "{}", err);
    prop_assert_eq!(err.url().map(|u| u.to_string()), Some(url.to_string()));
    match exp.outcome {
        Outcome::Refused => {
            prop_assert_eq!(err.kind(), ErrorKind::Connect, "input {}: {}", i, err);
            prop_assert!(err.is_connect(), "input {i}: {err}");
        }
        _ => {
            // A reset or a close before any response: both protocol
            // errors, told apart by their cause.
            prop_assert_eq!(err.kind(), ErrorKind::Protocol, "input {}: {}", i, err);
            prop_assert!(!err.is_connect(), "input {i}: {err}");
            prop_assert_eq!(
                fault(err),
                Some(exp.outcome),
                "input {}: the cause of {:?}",
                i,
                err
            );
        }
    }
    Ok(exp)
}

/// Checks one input's response against the model and the server's count.
fn check_response(
    res: &batch_fetch::Response,
    case: &Case,
    i: usize,
    url: &str,
    hits: usize,
) -> Result<(), TestCaseError> {
    let exp = expected_after(case, i, res.attempts())?;
    let Outcome::Status(code) = exp.outcome else {
        return Err(TestCaseError::fail(format!(
            "input {i}: model says {exp:?}, got a {} response after {} attempts",
            res.status(),
            res.attempts()
        )));
    };
    prop_assert_eq!(res.status().as_u16(), code, "input {}", i);
    prop_assert_eq!(res.url().to_string(), url);
    prop_assert_eq!(res.text().unwrap(), format!("{i}:{}", exp.attempts));
    prop_assert_eq!(hits, exp.server_hits, "server's count for input {}", i);
    Ok(())
}

/// Checks that each retry after a 429 waited at least what `Retry-After`
/// asked, capped by `max_delay`.
fn check_waits(case: &Case, counts: &Counts) -> Result<(), TestCaseError> {
    for (i, input) in case.inputs.iter().enumerate() {
        let asked =
            Duration::from_secs(input.retry_after_s).min(Duration::from_millis(case.max_delay_ms));
        let timeline = counts.timeline[i].lock().unwrap();
        for pair in timeline.windows(2) {
            if let (Some(left), (next, _)) = (pair[0].1, pair[1]) {
                let waited = next.saturating_duration_since(left);
                prop_assert!(
                    waited >= asked,
                    "input {i}: retried {waited:?} after a 429 with Retry-After: {} \
                     (max_delay {} ms)",
                    input.retry_after_s,
                    case.max_delay_ms
                );
            }
        }
    }
    Ok(())
}

fn run_case(case: &Case, mode: Mode) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { within(Duration::from_secs(20), "case", run(case, mode)).await })
}

async fn run(case: &Case, mode: Mode) -> Result<(), TestCaseError> {
    let n = case.inputs.len();
    let counts = Arc::new(Counts {
        hits: (0..n).map(|_| AtomicUsize::new(0)).collect(),
        resent: (0..n).map(|_| AtomicUsize::new(0)).collect(),
        resend_due: (0..n).map(|_| AtomicBool::new(false)).collect(),
        timeline: (0..n).map(|_| Mutex::default()).collect(),
        total: Arc::default(),
        per_host: HOSTS.iter().map(|_| Arc::default()).collect(),
        unexpected: Mutex::default(),
    });
    let mut servers = Vec::new();
    for (host, ip) in HOSTS.into_iter().enumerate() {
        let counts = counts.clone();
        let cap = Some(Duration::from_secs(30));
        servers.push(
            Listening::start(IpAddr::V4(ip), cap, move |stream| {
                serve(stream, host, counts.clone())
            })
            .await,
        );
    }
    // Bound, never listening: connections to it are refused.
    let dead = TcpSocket::new_v4().unwrap();
    dead.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let dead_port = dead.local_addr().unwrap().port();

    let urls: Vec<String> = case
        .inputs
        .iter()
        .enumerate()
        .map(|(id, input)| {
            let script: Vec<String> = input.script.iter().map(|a| a.token()).collect();
            let (host, addr) = match input.target {
                Target::Host(h) => (h, servers[h].addr().to_string()),
                Target::Refused => (0, format!("127.0.0.1:{dead_port}")),
            };
            format!(
                "http://{addr}/p/{host}/{id}/{}/{}/{}",
                input.delay_ms,
                input.retry_after_s,
                script.join(".")
            )
        })
        .collect();
    let full: Vec<Expected> = case
        .inputs
        .iter()
        .map(|i| model(i, case.max_retries))
        .collect();

    let mut builder = defaults()
        .concurrency(case.concurrency)
        .timeout(Duration::from_secs(10))
        // A keep-alive connection idle for 1 s that then fails is taken
        // for one the server closed idle and sent again, unseen by the
        // model; none is reused after 500 ms idle.
        .pool_idle_timeout(Duration::from_millis(500))
        .retry(
            RetryPolicy::default()
                .max_retries(case.max_retries)
                .base_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(case.max_delay_ms))
                // On: the reserve alone. Off: room for every retry the
                // model asks for (10 per request).
                .budget_percent(if case.budget { 0.0 } else { 1000.0 }),
        );
    if let Some(limit) = case.per_host {
        builder = builder.per_host_concurrency(limit);
    }
    let client = builder.build().unwrap();

    let seen = Arc::new(Mutex::new(Seen {
        started: vec![0; n],
        retrying: vec![0; n],
        redispatched: vec![0; n],
        ..Seen::default()
    }));
    let log = seen.clone();
    let batch = client.batch().observer(move |event: &Event<'_>| {
        let mut seen = log.lock().unwrap();
        match event {
            Event::Started { index, .. } => seen.started[*index] += 1,
            Event::Retrying { index, .. } => seen.retrying[*index] += 1,
            Event::Redispatched { index, .. } => seen.redispatched[*index] += 1,
            Event::Completed { index, response } => {
                seen.finished.push((*index, true));
                let (status, attempts) = (response.status().as_u16(), response.attempts());
                seen.completed.push((*index, status, attempts));
            }
            Event::Failed { index, .. } => seen.finished.push((*index, false)),
            _ => {}
        }
    });

    let hits = |i: usize| counts.hits[i].load(Ordering::SeqCst);
    let began = Instant::now();
    match mode {
        Mode::Settled => {
            let results = batch.fetch_all_settled(&urls).await;
            let took = began.elapsed();
            prop_assert_eq!(results.len(), n, "one result per input");
            let mut ended = Vec::with_capacity(n);
            for (i, result) in results.iter().enumerate() {
                match result {
                    Ok(res) => {
                        check_response(res, case, i, &urls[i], hits(i))?;
                        ended.push(expected_after(case, i, res.attempts())?);
                    }
                    Err(err) => {
                        let exp = check_error(err, case, i, &urls[i])?;
                        prop_assert_eq!(hits(i), exp.server_hits, "input {}", i);
                        ended.push(exp);
                    }
                }
            }
            let seen = seen.lock().unwrap();
            for (i, exp) in ended.iter().enumerate() {
                // One more for each request sent again at once.
                prop_assert_eq!(
                    seen.started[i],
                    exp.attempts + seen.redispatched[i],
                    "Started events of {}",
                    i
                );
                prop_assert_eq!(
                    seen.redispatched[i] as usize,
                    counts.resent[i].load(Ordering::SeqCst),
                    "Redispatched events of {}, and requests the server saw sent again",
                    i
                );
                prop_assert_eq!(seen.retrying[i], exp.attempts - 1, "Retrying of {}", i);
            }
            let mut finished = seen.finished.clone();
            finished.sort_unstable();
            let want: Vec<(usize, bool)> = ended
                .iter()
                .enumerate()
                .map(|(i, e)| (i, !e.fails()))
                .collect();
            prop_assert_eq!(finished, want, "one Completed or Failed per input");
            if case.budget && took < Duration::from_secs(9) {
                let retries: u32 = ended.iter().map(|e| e.attempts - 1).sum();
                prop_assert_eq!(
                    retries,
                    case.demand().min(BUDGET_RESERVE),
                    "retries made with the budget on (the model asks for {})",
                    case.demand()
                );
            }
        }
        Mode::FailFast => {
            let outcome = batch.fetch_all(&urls).await;
            let seen = seen.lock().unwrap();
            match outcome {
                Ok(responses) => {
                    let failing: Vec<usize> = (0..n).filter(|&i| fails(case, i, true)).collect();
                    prop_assert!(failing.is_empty(), "inputs {failing:?} must fail the batch");
                    prop_assert_eq!(responses.len(), n);
                    for (i, res) in responses.iter().enumerate() {
                        check_response(res, case, i, &urls[i], hits(i))?;
                    }
                    prop_assert!(seen.finished.iter().all(|(_, ok)| *ok));
                    prop_assert_eq!(seen.finished.len(), n);
                }
                Err(err) => {
                    let i = err.index().unwrap_or(usize::MAX);
                    let may_fail: Vec<usize> = (0..n).filter(|&i| fails(case, i, false)).collect();
                    prop_assert!(
                        may_fail.contains(&i),
                        "returned {err} (input {i}), but the failing inputs are {may_fail:?}"
                    );
                    let exp = check_error(&err, case, i, &urls[i])?;
                    prop_assert_eq!(hits(i), exp.server_hits, "input {}", i);
                    // The returned failure is the first (and only) one the
                    // batch finished; whatever finished before it succeeded,
                    // as the model says.
                    let failures: Vec<usize> = seen
                        .finished
                        .iter()
                        .filter(|(_, ok)| !ok)
                        .map(|(j, _)| *j)
                        .collect();
                    prop_assert_eq!(failures, vec![i], "Failed events");
                    prop_assert_eq!(seen.finished.last().copied(), Some((i, false)));
                    for &(j, status, attempts) in &seen.completed {
                        let exp = expected_after(case, j, attempts)?;
                        prop_assert_eq!(
                            Outcome::Status(status),
                            exp.outcome,
                            "input {} completed before the failure",
                            j
                        );
                        prop_assert_eq!(hits(j), exp.server_hits, "input {}", j);
                    }
                }
            }
            // Inputs cut off by the stop: never seen more often than the
            // model allows, nor without a Started event for each request.
            for (i, exp) in full.iter().enumerate() {
                let h = hits(i);
                prop_assert!(
                    h <= exp.server_hits,
                    "input {i}: {h} requests, model {exp:?}"
                );
                prop_assert!(
                    h <= seen.started[i] as usize,
                    "input {i}: the server saw {h} requests, the client started {}",
                    seen.started[i]
                );
            }
            if case.budget {
                let retries: u32 = seen.retrying.iter().sum();
                prop_assert!(
                    retries <= BUDGET_RESERVE,
                    "{retries} retries with the budget on"
                );
            }
        }
    }
    check_waits(case, &counts)?;

    let peak = counts.total.peak();
    prop_assert!(
        peak <= case.concurrency,
        "server peak in flight {peak} > concurrency {}",
        case.concurrency
    );
    if let Some(limit) = case.per_host {
        for (h, gauge) in counts.per_host.iter().enumerate() {
            prop_assert!(
                gauge.peak() <= limit,
                "host {h}: peak in flight {} > per-host limit {limit}",
                gauge.peak()
            );
        }
    }
    for i in 0..n {
        let resent = counts.resent[i].load(Ordering::SeqCst);
        prop_assert!(resent <= hits(i), "input {i}: sent again {resent} times");
    }
    let unexpected = counts.unexpected.lock().unwrap().clone();
    prop_assert!(unexpected.is_empty(), "unexpected requests: {unexpected:?}");
    drop(dead);
    Ok(())
}

/// Runs `CASES` cases of `mode` and checks that they all ran.
fn check_property(mode: Mode) {
    let config = Config {
        cases: CASES,
        // No regression files in the source tree; a failure prints its
        // minimal input instead.
        failure_persistence: None,
        max_shrink_iters: 128,
        max_shrink_time: 20_000,
        max_global_rejects: 10_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let ran = AtomicUsize::new(0);
    let result = runner.run(&case(), |case| {
        ran.fetch_add(1, Ordering::SeqCst);
        run_case(&case, mode)
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, case)) => {
            panic!("{mode:?}: {why}\nminimal failing case: {case:#?}")
        }
        Err(TestError::Abort(why)) => panic!("{mode:?}: aborted: {why}"),
    }
    let ran = ran.load(Ordering::SeqCst);
    eprintln!("{mode:?}: {ran} cases passed");
    assert_eq!(ran, CASES as usize, "every generated case ran");
}

#[test]
fn settled_batches_match_the_model() {
    check_property(Mode::Settled);
}

#[test]
fn fail_fast_batches_match_the_model() {
    check_property(Mode::FailFast);
}

#[test]
fn the_model_follows_the_retry_rules() {
    let input = |target, script: &[Act]| Input {
        target,
        delay_ms: 0,
        retry_after_s: 0,
        script: script.to_vec(),
    };
    let host = Target::Host(0);
    let e = model(
        &input(host, &[Act::Status(503), Act::Reset, Act::Status(404)]),
        3,
    );
    assert_eq!(
        (e.outcome, e.attempts, e.server_hits),
        (Outcome::Status(404), 3, 3)
    );
    let e = model(&input(host, &[Act::Status(429)]), 2);
    assert_eq!((e.outcome, e.attempts), (Outcome::Status(429), 3));
    let e = model(&input(host, &[Act::Close, Act::Status(200)]), 0);
    assert_eq!((e.outcome, e.attempts), (Outcome::Close, 1));
    let e = model(&input(host, &[Act::Status(500), Act::Status(200)]), 3);
    assert_eq!((e.outcome, e.attempts), (Outcome::Status(500), 1));
    let e = model(&input(Target::Refused, &[Act::Status(200)]), 2);
    assert_eq!(
        (e.outcome, e.attempts, e.server_hits),
        (Outcome::Refused, 3, 0)
    );

    // With the budget on, an input may end after fewer attempts.
    let case = Case {
        concurrency: 1,
        per_host: None,
        max_retries: 3,
        max_delay_ms: 5,
        budget: true,
        inputs: vec![
            input(host, &[Act::Reset, Act::Status(503), Act::Status(200)]),
            input(host, &[Act::Status(429), Act::Status(200)]),
        ],
    };
    assert_eq!(case.demand(), 3);
    let e = expected_after(&case, 0, 2).unwrap();
    assert_eq!((e.outcome, e.server_hits), (Outcome::Status(503), 2));
    assert!(expected_after(&case, 0, 4).is_err());
    assert!(fails(&case, 0, false) && !fails(&case, 0, true));
    assert!(!fails(&case, 1, false));
    let off = Case {
        budget: false,
        ..case.clone()
    };
    assert!(expected_after(&off, 0, 2).is_err());
    assert!(!fails(&off, 0, false));

    // Retry-After: 1 waits max_delay when that is shorter.
    let slow = Case {
        max_delay_ms: 200,
        inputs: vec![Input {
            retry_after_s: 1,
            ..input(
                host,
                &[Act::Status(429), Act::Status(429), Act::Status(200)],
            )
        }],
        ..case
    };
    assert_eq!(slow.wait_ms(), 400);

    assert_eq!(
        parse_target("GET /p/1/7/30/1/503.rst.200"),
        Some(Asked {
            host: 1,
            id: 7,
            delay_ms: 30,
            retry_after_s: 1,
            script: vec![Act::Status(503), Act::Reset, Act::Status(200)]
        })
    );
    assert_eq!(parse_target("GET /p/1/7/30/0/"), None);
    assert_eq!(parse_target("GET /p/1/7/30/503"), None);
}
