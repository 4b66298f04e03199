//! Fault injection: one loopback server told per request which fault to act
//! out (`crate::support::raw::by_path`; `H2Mode::ByPath` for HTTP/2). Each
//! fault in [`FAULTS`] ends in its expected error kind (or response) after
//! the expected number of attempts, without hanging, alone and all together
//! in one settled batch mixed with good requests. `Retry-After` in every
//! form stays within `max_delay`; random keep-alive closes over hundreds of
//! GETs lose no request; HTTP/2 stream resets other than `REFUSED_STREAM`
//! fail only their own input, and a GOAWAY with an error code loses no GET.
//! Faults that need a sequence of requests or a request body are in
//! `framing.rs` (HTTP/1.1) and `h2_faults.rs` (HTTP/2).

use std::time::{Duration, Instant};

use crate::support::clients::{defaults, h2c_builder};
use crate::support::h2srv::{H2Mode, H2Server};
use crate::support::raw::{Behavior, ENDLESS_CAP, RawServer};
use crate::support::{bounded, eventually, within};
use batch_fetch::{BatchClient, Error, ErrorKind, Response, RetryPolicy};
use futures_util::future::join_all;

/// Per attempt: the slow-but-fine drip takes ~50–150 ms, the too-slow one 4 s.
const TIMEOUT: Duration = Duration::from_secs(2);
const MAX_HEADERS: usize = 20;
const MAX_HEADER_SIZE: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;

/// What an input must end in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    /// `200` with this body.
    Body(&'static str),
    /// A response with this status (the retries ran out).
    Status(u16),
    /// An error of this kind.
    Kind(ErrorKind),
}

use ErrorKind::{BodyTooLarge, HeadersTooLarge, Protocol, Timeout};
use Want::{Body, Kind, Status};

/// Every fault tried: (path on a [`Behavior::ByPath`] server, outcome, attempts the
/// server sees) with [`client`]'s limits and [`policy`] (2 retries).
const FAULTS: &[(&str, Want, usize)] = &[
    // Closed before the response head was whole: retried (a GET).
    ("/fault/reset/before-head", Kind(Protocol), 3),
    ("/fault/reset/mid-head", Kind(Protocol), 3),
    ("/fault/close/before-response", Kind(Protocol), 3),
    // A reset body, a garbage head, truncated bodies: not retried.
    ("/fault/reset/mid-body", Kind(Protocol), 1),
    ("/fault/garbage", Kind(Protocol), 1),
    ("/fault/truncated/length", Kind(Protocol), 1),
    ("/fault/truncated/chunked", Kind(Protocol), 1),
    // 45 bytes, one every 90 ms: 4 s in all, each byte well within the timeout.
    ("/fault/drip/90", Kind(Timeout), 3),
    // 45 bytes, one every 1 ms: slow, but well within the timeout.
    ("/fault/drip/1", Body("dripped"), 1),
    ("/fault/never", Kind(Timeout), 3),
    // Over max_response_header_size (16 KiB) and max_response_headers (20).
    ("/fault/huge-header/32768", Kind(HeadersTooLarge), 1),
    ("/fault/many-headers/50", Kind(HeadersTooLarge), 1),
    // Header lines for ever: long ones hit the size, short ones the count.
    ("/fault/endless-headers/1000", Kind(HeadersTooLarge), 1),
    ("/fault/endless-headers/1", Kind(HeadersTooLarge), 1),
    // A body for ever, over max_body_size (64 KiB).
    ("/fault/endless-body/chunked", Kind(BodyTooLarge), 1),
    ("/fault/endless-body/close", Kind(BodyTooLarge), 1),
    ("/fault/endless-body/length", Kind(BodyTooLarge), 1),
    // 429 and 503 twice, with every form of Retry-After, then 200.
    ("/fault/status/429/2/secs-1/", Body("ok"), 3),
    ("/fault/status/429/2/date-in-5/", Body("ok"), 3),
    ("/fault/status/429/2/date-past/", Body("ok"), 3),
    ("/fault/status/429/2/garbage/", Body("ok"), 3),
    ("/fault/status/429/2/huge/", Body("ok"), 3),
    ("/fault/status/503/2/secs-1/", Body("ok"), 3),
    ("/fault/status/503/2/date-in-5/", Body("ok"), 3),
    ("/fault/status/503/2/date-past/", Body("ok"), 3),
    ("/fault/status/503/2/garbage/", Body("ok"), 3),
    ("/fault/status/503/2/huge/", Body("ok"), 3),
    // More 503s than retries: the last response is the result.
    ("/fault/status/503/9/secs-0/", Status(503), 3),
    // HTTP/1.0 answers.
    ("/fault/http10/length", Body("hello 1.0"), 1),
    ("/fault/http10/close", Body("hello 1.0"), 1),
    ("/fault/http10/keep-alive", Body("hello 1.0"), 1),
    // A body longer than its Content-Length: the rest (a whole stray
    // response) is not taken for the next answer (see `framing.rs`).
    ("/fault/overlong/response", Body("hello"), 1),
    ("/fault/overlong/garbage", Body("hello"), 1),
    // Two Content-Length values: refused if they differ (RFC 9112 §6.3),
    // read if they agree.
    ("/fault/content-length/differ", Kind(Protocol), 1),
    ("/fault/content-length/same", Body("hello"), 1),
    ("/fault/content-length/list", Body("hello"), 1),
    // Content-Length and chunked: chunked wins (RFC 9112 §6.3).
    ("/fault/cl-te/3", Body("hello"), 1),
    // Informational answers before the final one are skipped.
    ("/fault/informational/100", Body("hello"), 1),
    ("/fault/informational/103", Body("hello"), 1),
    ("/fault/informational/many", Body("hello"), 1),
];

/// 2 retries, 20 ms doubling, at most 300 ms, no jitter.
fn policy() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(2)
        .base_delay(Duration::from_millis(20))
        .max_delay(Duration::from_millis(300))
        .jitter(false)
}

fn client() -> BatchClient {
    defaults()
        .retry(policy())
        .timeout(TIMEOUT)
        .max_response_headers(MAX_HEADERS)
        .max_response_header_size(MAX_HEADER_SIZE)
        .max_body_size(MAX_BODY)
        .build()
        .unwrap()
}

/// Asserts that `result` is `want`, after `attempts` attempts.
#[track_caller]
fn check(what: &str, result: &Result<Response, Error>, want: Want, attempts: usize) {
    match (want, result) {
        (Body(body), Ok(res)) => {
            assert_eq!(res.status(), 200, "{what}");
            assert_eq!(res.text().unwrap(), body, "{what}");
            assert_eq!(res.attempts() as usize, attempts, "{what}: attempts");
        }
        (Status(code), Ok(res)) => {
            assert_eq!(res.status(), code, "{what}");
            assert_eq!(res.attempts() as usize, attempts, "{what}: attempts");
        }
        (Kind(kind), Err(e)) => {
            assert_eq!(e.kind(), kind, "{what}: {e}");
            assert_eq!(e.attempts() as usize, attempts, "{what}: attempts: {e}");
        }
        (want, Ok(res)) => panic!(
            "{what}: wanted {want:?}, got {} {:?} after {} attempts",
            res.status(),
            res.text(),
            res.attempts()
        ),
        (want, Err(e)) => panic!("{what}: wanted {want:?}, got {:?}: {e}", e.kind()),
    }
    if what.contains("/http10/") {
        let res = result.as_ref().unwrap();
        assert_eq!(res.version(), http::Version::HTTP_10, "{what}");
    }
}

/// The server saw each fault as often as the client attempted it, and no
/// connection task panicked. A fault that closes the connection before the
/// response head, met on a kept connection (one that served others before),
/// is sent again at once on a new connection as the same attempt (the
/// server might have closed it idle as the request went out: see
/// `RetryPolicy`); so such a request is followed by one more.
fn check_server(server: &RawServer) {
    let log = server.log();
    for (path, _, attempts) in FAULTS {
        let closes = CLOSE_BEFORE_HEAD.contains(path);
        let mut hits = 0;
        let mut resent = 0;
        for (i, hit) in log.iter().enumerate() {
            if hit.target != *path {
                continue;
            }
            hits += 1;
            let kept = log[..i].iter().any(|earlier| earlier.conn == hit.conn);
            if closes && kept {
                resent += 1;
            }
        }
        assert_eq!(
            hits - resent,
            *attempts,
            "{path}: server hits ({resent} sent again)"
        );
    }
    assert_eq!(server.panics(), 0, "a fault connection panicked");
}

/// The faults that end the connection before the response head is whole.
const CLOSE_BEFORE_HEAD: [&str; 3] = [
    "/fault/reset/before-head",
    "/fault/reset/mid-head",
    "/fault/close/before-response",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_alone_ends_in_its_expected_outcome() {
    let server = RawServer::start(Behavior::ByPath).await;
    // Each fault on its own client (own pool), all at the same time.
    let runs = FAULTS.iter().map(|(path, want, attempts)| {
        let url = server.url(path);
        async move {
            let result = within(Duration::from_secs(15), path, client().fetch(url)).await;
            check(path, &result, *want, *attempts);
        }
    });
    join_all(runs).await;
    check_server(&server);

    // The endless faults stopped when the client left: far below the cap.
    for path in FAULTS.iter().map(|f| f.0).filter(|p| p.contains("endless")) {
        assert!(
            eventually(Duration::from_secs(5), || server.pushed(path).is_some()).await,
            "{path}: the server is still pushing"
        );
        let pushed = server.pushed(path).unwrap();
        assert!(pushed < ENDLESS_CAP / 4, "{path}: {pushed} bytes pushed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_faults_in_one_settled_batch_with_good_requests() {
    let server = RawServer::start(Behavior::ByPath).await;
    // A good request before each fault, and one at the end: `None` for a
    // good one, whose body is its tag.
    let mut inputs: Vec<(String, Option<(Want, usize)>)> = Vec::new();
    for (i, (path, want, attempts)) in FAULTS.iter().enumerate() {
        inputs.push((format!("/ok/good-{i}"), None));
        inputs.push((path.to_string(), Some((*want, *attempts))));
    }
    inputs.push(("/ok/last".into(), None));
    let urls: Vec<String> = inputs.iter().map(|(p, _)| server.url(p)).collect();
    let client = client();

    let start = Instant::now();
    let results = bounded("all faults", client.fetch_all_settled(&urls)).await;

    assert_eq!(results.len(), inputs.len(), "one result per input");
    for (i, ((path, expected), result)) in inputs.iter().zip(&results).enumerate() {
        let what = format!("input {i} {path}");
        match expected {
            Some((want, attempts)) => check(&what, result, *want, *attempts),
            None => {
                let res = result.as_ref().unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(res.text().unwrap(), path.rsplit('/').next().unwrap());
            }
        }
        match result {
            Err(e) => {
                assert_eq!(e.index(), Some(i), "{what}");
                assert_eq!(e.url().map(|u| u.to_string()).as_ref(), Some(&urls[i]));
            }
            Ok(res) => assert_eq!(res.url().to_string(), urls[i], "{what}"),
        }
    }
    check_server(&server);
    // The retried timeouts (3 attempts of TIMEOUT) set the pace.
    assert!(start.elapsed() >= 3 * TIMEOUT);

    // Once the client is gone, no server connection is left open.
    drop(client);
    assert!(
        eventually(Duration::from_secs(5), || server.open_connections() == 0).await,
        "{} connections still open",
        server.open_connections()
    );
}

/// Gaps between the successive hits of `target`.
fn gaps(server: &RawServer, target: &str) -> Vec<Duration> {
    let hits = server.hits(target);
    hits.windows(2).map(|w| w[1].at - w[0].at).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_of_retry_after_ends_within_max_delay() {
    const BASE: Duration = Duration::from_millis(300);
    const MAX_DELAY: Duration = Duration::from_millis(1500);
    let server = RawServer::start(Behavior::ByPath).await;
    let client = defaults()
        .retry(
            RetryPolicy::default()
                .max_retries(3)
                .base_delay(BASE)
                .max_delay(MAX_DELAY)
                .jitter(false),
        )
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let forms = ["secs-1", "date-in-5", "date-past", "garbage", "huge"];
    let targets: Vec<String> = [429, 503]
        .iter()
        .flat_map(|code| forms.map(|f| format!("/fault/status/{code}/2/{f}/")))
        .collect();
    let urls: Vec<String> = targets.iter().map(|t| server.url(t)).collect();

    let start = Instant::now();
    let results = bounded("retry-after forms", client.fetch_all_settled(&urls)).await;
    let took = start.elapsed();

    let ms = Duration::from_millis;
    for (target, result) in targets.iter().zip(&results) {
        check(target, result, Body("ok"), 3);
        let gaps = gaps(&server, target);
        assert_eq!(gaps.len(), 2, "{target}: two failures, then the answer");
        let form = target.split('/').nth(5).unwrap();
        match form {
            // Honoured: 1 s each time, below the cap.
            "secs-1" => assert!(gaps.iter().all(|g| *g >= ms(990)), "{target}: {gaps:?}"),
            // 4–5 s ahead, or 999999999 s: capped at max_delay, which was
            // waited (the computed backoff would be 300 ms, then 600 ms).
            "date-in-5" | "huge" => {
                assert!(gaps.iter().all(|g| *g >= ms(1490)), "{target}: {gaps:?}")
            }
            // Unreadable: ignored, so the computed backoff applies.
            "garbage" => assert!(gaps[0] >= BASE && gaps[1] >= 2 * BASE, "{target}: {gaps:?}"),
            // A date in the past is ignored too (taken as "now", a server
            // whose clock runs behind would get every retry at once).
            "date-past" => assert!(gaps[0] >= BASE && gaps[1] >= 2 * BASE, "{target}: {gaps:?}"),
            _ => unreachable!(),
        }
    }
    // 999999999 s was not waited: the whole batch is over in seconds.
    assert!(took >= 2 * MAX_DELAY, "{took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert_eq!(server.requests(), 3 * targets.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_keep_alive_closes_lose_no_get() {
    let client = defaults()
        .concurrency(8)
        .retry(crate::support::clients::quick(5))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut retried = 0;
    let mut total = 0;
    for seed in [0x5EED_u64, 0xFA17] {
        let server = RawServer::start(Behavior::ByPathClosingAtRandom { seed, percent: 15 }).await;
        // One batch that keeps every connection busy (closes race the
        // next request), then waves with pauses (closes of idle pooled
        // connections).
        let mut results = bounded(
            "busy batch",
            client.fetch_all_settled((0..300).map(|i| server.url(&format!("/ok/{seed}-{i}")))),
        )
        .await;
        for wave in 0..10 {
            tokio::time::sleep(Duration::from_millis(15)).await;
            let urls = (0..10).map(|i| server.url(&format!("/ok/{seed}-w{wave}-{i}")));
            results.extend(bounded("wave", client.fetch_all_settled(urls)).await);
        }
        assert_eq!(results.len(), 400);
        for (i, r) in results.iter().enumerate() {
            let res = r
                .as_ref()
                .unwrap_or_else(|e| panic!("seed {seed:x} input {i}: {e}"));
            assert!(res.text().unwrap().starts_with(&format!("{seed}-")));
            retried += res.attempts() as usize - 1;
        }
        total += results.len();
        assert!(server.random_closes() > 10, "{}", server.random_closes());
        assert!(server.accepted() > 10, "closed connections were replaced");
        assert!(server.requests() >= 400);
        assert_eq!(server.panics(), 0);
    }
    assert_eq!(total, 800);
    eprintln!("random closes: {retried} retries over {total} GETs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_stream_resets_mid_batch_fail_only_their_input() {
    // What tests/h2_refused_stream.rs does not cover: resets with other
    // codes, and a reset after the response head. A reset before the head
    // is the HTTP/2 form of a connection closed before the response: a GET
    // is retried (3 retries here), a reset mid-body is not.
    let server = H2Server::start(H2Mode::ByPath).await;
    let client = h2c_builder().build().unwrap();
    // (input, path, the error kind and attempts, or None for Ok)
    type Case = (usize, &'static str, Option<(ErrorKind, u32)>);
    let faults: [Case; 7] = [
        (3, "/h2/rst/2/99/internal", Some((Protocol, 4))),
        (6, "/h2/rst/8/99/cancel", Some((Protocol, 4))),
        (9, "/h2/rst/11/99/calm", Some((Protocol, 4))),
        (12, "/h2/rst/1/99/protocol", Some((Protocol, 4))),
        (14, "/h2/rst-body/2", Some((Protocol, 1))),
        // REFUSED_STREAM once: sent again (not an attempt), answered.
        (17, "/h2/rst/7/1/refused", None),
        // INTERNAL_ERROR once: retried, then answered.
        (19, "/h2/rst/2/1/internal-once", None),
    ];
    let mut paths: Vec<String> = (0..20).map(|i| format!("/h2/ok/{i}?delay=30")).collect();
    for (i, path, _) in &faults {
        paths[*i] = path.to_string();
    }
    let urls: Vec<String> = paths.iter().map(|p| server.url(p)).collect();

    let results = bounded("h2 resets", client.fetch_all_settled(&urls)).await;

    assert_eq!(results.len(), 20);
    for (i, r) in results.iter().enumerate() {
        match faults.iter().find(|f| f.0 == i) {
            Some((_, path, Some((kind, attempts)))) => {
                let e = r
                    .as_ref()
                    .err()
                    .unwrap_or_else(|| panic!("{path} must fail"));
                assert_eq!(e.kind(), *kind, "{path}: {e}");
                assert_eq!(e.attempts(), *attempts, "{path}: {e}");
                assert_eq!(e.index(), Some(i));
                assert_eq!(server.hits(path).len(), *attempts as usize, "{path}");
            }
            other => {
                let res = r.as_ref().unwrap_or_else(|e| panic!("input {i}: {e}"));
                assert_eq!(res.status(), 200);
                assert!(
                    res.text()
                        .unwrap()
                        .ends_with(&format!("path={} body=", paths[i]))
                );
                let attempts = match other {
                    Some((_, path, _)) if !path.ends_with("/refused") => 2,
                    _ => 1,
                };
                assert_eq!(res.attempts(), attempts, "input {i}");
            }
        }
    }
    assert_eq!(server.resets(), 19, "4 × 4 resets, 1 mid-body, 2 once");
    assert_eq!(
        server.accepted(),
        1,
        "a stream reset leaves the connection up"
    );
    assert_eq!(server.panics(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_goaway_with_an_error_code_mid_batch_loses_no_get() {
    // tests/h2_goaway.rs covers GOAWAY(NO_ERROR); this one is abrupt, with
    // INTERNAL_ERROR, while the other streams are still being answered.
    let server = H2Server::start(H2Mode::ByPath).await;
    let client = h2c_builder().build().unwrap();
    let mut paths: Vec<String> = (0..20).map(|i| format!("/h2/ok/{i}?delay=300")).collect();
    paths[10] = "/h2/goaway/2".into();
    let urls: Vec<String> = paths.iter().map(|p| server.url(p)).collect();

    let results = bounded("h2 goaway", client.fetch_all_settled(&urls)).await;

    for (i, r) in results.iter().enumerate() {
        let res = r.as_ref().unwrap_or_else(|e| panic!("input {i}: {e}"));
        assert_eq!(res.status(), 200);
        assert!(
            res.text()
                .unwrap()
                .ends_with(&format!("path={} body=", paths[i]))
        );
    }
    assert!(
        server.accepted() >= 2,
        "the batch went on on a new connection"
    );
    assert!(results[10].as_ref().unwrap().attempts() >= 2);
    assert_eq!(server.panics(), 0);
}
