//! `Timings`: where each request's time went. A new connection shows in
//! `connect` (TLS handshake included) and a pooled one does not; the
//! server's delay shows in `ttfb`, a slow body in `body`, waiting for a
//! permit or a rate slot in `queued`; the phases never add up to more
//! than `total`, which is `Response::elapsed()`; errors carry timings too.
//! Only lower bounds that correctness guarantees are asserted.

use std::time::Duration;

use crate::support::clients::{builder, client, quick, trusting};
use crate::support::{TestPki, TestServer, bounded, closed_port, expect_err};
use batch_fetch::{ErrorKind, Response, Timings};
use http::Version;

/// Clock slack for lower bounds.
const SLACK: Duration = Duration::from_millis(5);

/// Slack for a wait measured from when a request reached the limits: the
/// two requests reach them in the same poll, but a busy machine may
/// pause the thread in between.
const QUEUE_SLACK: Duration = Duration::from_millis(20);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The phases of a result never add up to more than its total.
#[track_caller]
fn check_sum(t: &Timings, what: &str) {
    let sum = t.queued() + t.connect() + t.ttfb() + t.body();
    assert!(
        sum <= t.total() + ms(1),
        "{what}: phases {sum:?} > total: {t:?}"
    );
}

fn conn_id(res: &Response) -> String {
    res.headers()["x-conn-id"].to_str().unwrap().to_string()
}

// A new connection counts in `connect`; a pooled one reused counts zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_is_zero_on_a_reused_connection() {
    let server = TestServer::start().await;
    let client = client();

    let first = bounded("first", client.fetch(server.url("/id/0")))
        .await
        .unwrap();
    assert!(
        first.timings().connect() > Duration::ZERO,
        "{:?}",
        first.timings()
    );
    assert!(
        first.timings().ttfb() > Duration::ZERO,
        "{:?}",
        first.timings()
    );
    check_sum(first.timings(), "first");
    let mut known = vec![conn_id(&first)];

    // hyper puts a connection back in its pool from a background task once
    // the response is read: on a busy machine the next request may still
    // open a new one. Each response is checked against the connection it
    // really used; at least one must be a reuse.
    let mut reused = 0;
    for i in 1..=10 {
        tokio::time::sleep(ms(50)).await;
        let res = bounded("next", client.fetch(server.url(&format!("/id/{i}"))))
            .await
            .unwrap();
        let t = res.timings();
        assert!(t.ttfb() > Duration::ZERO, "{t:?}");
        check_sum(t, "next");
        let id = conn_id(&res);
        if known.contains(&id) {
            assert_eq!(t.connect(), Duration::ZERO, "pooled connection {id}: {t:?}");
            reused += 1;
            if reused == 2 {
                break;
            }
        } else {
            assert!(t.connect() > Duration::ZERO, "new connection {id}: {t:?}");
            known.push(id);
        }
    }
    assert!(reused >= 1, "no connection reused in 10 tries ({known:?})");
    assert!(
        server.accepted() < 10,
        "keep-alive works: {}",
        server.accepted()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_delay_is_time_to_first_byte() {
    let server = TestServer::start().await;
    let res = bounded("delay", client().fetch(server.url("/delay/200")))
        .await
        .unwrap();
    let t = *res.timings();
    assert!(t.ttfb() + SLACK >= ms(200), "{t:?}");
    assert!(t.total() >= t.ttfb(), "{t:?}");
    assert_eq!(res.elapsed(), t.total());
    check_sum(&t, "delay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_body_is_body_time() {
    let server = TestServer::start().await;
    // The head at once, then 5 bytes 40 ms apart.
    let res = bounded("drip", client().fetch(server.url("/drip-body/5/40")))
        .await
        .unwrap();
    assert_eq!(res.body().len(), 5);
    let t = *res.timings();
    assert!(
        t.body() + SLACK >= ms(160),
        "4 gaps of 40 ms at least: {t:?}"
    );
    assert!(t.total() >= t.body(), "{t:?}");
    check_sum(&t, "drip");
}

// Two requests at once on a client of concurrency 1: one waits for the
// other's permit, and that wait is `queued`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_the_client_permit_is_queued() {
    let server = TestServer::start().await;
    let client = builder().concurrency(1).build().unwrap();

    let (a, b) = bounded("two at once", async {
        tokio::join!(
            client.fetch(server.url("/delay/200")),
            client.fetch(server.url("/delay/200"))
        )
    })
    .await;
    let (a, b) = (a.unwrap(), b.unwrap());

    let (ta, tb) = (*a.timings(), *b.timings());
    let (first, second) = if ta.queued() <= tb.queued() {
        (ta, tb)
    } else {
        (tb, ta)
    };
    assert!(
        second.queued() + QUEUE_SLACK >= ms(200),
        "the second waited for the first: {second:?}"
    );
    assert!(second.total() + QUEUE_SLACK >= ms(400), "{second:?}");
    assert!(first.queued() < second.queued(), "{first:?} {second:?}");
    check_sum(&ta, "a");
    check_sum(&tb, "b");
    assert_eq!(server.peak_in_flight(), 1);
}

// In a batch, an input that waits for its host's permit is queued too.
// (A batch never starts more inputs than its client's concurrency, so a
// batch at concurrency 1 queues nothing: the second input is only pulled
// when the first is done.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_host_permit_in_a_batch_is_queued() {
    let server = TestServer::start().await;
    let client = builder().per_host_concurrency(1).build().unwrap();
    let urls = [server.url("/delay/200"), server.url("/delay/200")];

    let results = bounded("per host", client.fetch_all(&urls)).await.unwrap();

    let queued: Vec<Duration> = results.iter().map(|r| r.timings().queued()).collect();
    let longest = *queued.iter().max().unwrap();
    assert!(longest + QUEUE_SLACK >= ms(200), "one waited: {queued:?}");
    for r in &results {
        check_sum(r.timings(), "per host");
    }
}

// A rate slot waited for is queued time as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_rate_slot_is_queued() {
    let server = TestServer::start().await;
    let client = builder().rate_limit(1, ms(200)).build().unwrap();
    let urls = [server.url("/id/0"), server.url("/id/1")];

    let results = bounded("rate", client.fetch_all(&urls)).await.unwrap();

    let longest = results.iter().map(|r| r.timings().queued()).max().unwrap();
    assert!(
        longest + QUEUE_SLACK >= ms(200),
        "one waited for its slot: {results:?}"
    );
    for r in &results {
        check_sum(r.timings(), "rate");
    }
}

// The TLS handshake is part of `connect`; later requests over the same
// HTTP/2 connection wait for none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshake_is_connect_time() {
    let pki = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config()).await;
    let client = trusting(&pki).build().unwrap();

    let first = bounded("tls", client.fetch(server.url("/id/1")))
        .await
        .unwrap();
    assert_eq!(first.version(), Version::HTTP_2);
    assert!(
        first.timings().connect() > Duration::ZERO,
        "{:?}",
        first.timings()
    );
    assert!(first.timings().ttfb() > Duration::ZERO);
    check_sum(first.timings(), "tls first");

    let second = bounded("tls again", client.fetch(server.url("/id/2")))
        .await
        .unwrap();
    assert_eq!(server.accepted(), 1, "one HTTP/2 connection for both");
    assert_eq!(
        second.timings().connect(),
        Duration::ZERO,
        "{:?}",
        second.timings()
    );
    check_sum(second.timings(), "tls second");
}

// The phases describe the last attempt; the earlier attempt and the
// backoff before the retry are in `total` only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phases_add_up_to_at_most_total() {
    let server = TestServer::start().await;
    let client = builder().retry(quick(2)).build().unwrap();
    let urls = [
        server.url("/id/0"),
        server.url("/delay/50"),
        server.url("/drip-body/3/20"),
        server.url("/flaky/sum/1?delay=30"),
        server.url("/bytes/100000"),
    ];

    let results = bounded("mixed", client.fetch_all(&urls)).await.unwrap();

    for (url, r) in urls.iter().zip(&results) {
        check_sum(r.timings(), url);
        assert_eq!(r.elapsed(), r.timings().total());
    }
    let retried = &results[3];
    assert_eq!(retried.attempts(), 2);
    let t = retried.timings();
    let last = t.queued() + t.connect() + t.ttfb() + t.body();
    // First attempt (≥ 30 ms at the server) + 5 ms backoff are outside the phases.
    assert!(
        t.total() + SLACK >= last + ms(35),
        "the first attempt and the backoff count in total only: {t:?}"
    );
    assert!(
        t.ttfb() + SLACK >= ms(30),
        "the last attempt's own wait: {t:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_timings() {
    // Refused twice (one retry): nothing connected, but time passed.
    let refused = format!("http://127.0.0.1:{}/", closed_port());
    let client = builder().retry(quick(1)).build().unwrap();
    let err = expect_err(
        bounded("refused", client.fetch(&refused)).await,
        "nobody listens",
    );
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert_eq!(err.attempts(), 2);
    let t = err.timings().expect("an error after attempts has timings");
    assert!(t.total() > Duration::ZERO, "{t:?}");
    assert!(
        t.total() + SLACK >= ms(5),
        "includes the 5 ms backoff: {t:?}"
    );
    check_sum(t, "refused");

    // Timed out twice at 200 ms each.
    let server = TestServer::start().await;
    let client = builder().retry(quick(1)).timeout(ms(200)).build().unwrap();
    let err = expect_err(
        bounded("timeout", client.fetch(server.url("/delay/2000"))).await,
        "slower than the timeout",
    );
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(err.attempts(), 2);
    let t = err.timings().expect("timings");
    assert!(
        t.total() + SLACK >= ms(400),
        "two attempts of 200 ms: {t:?}"
    );
    check_sum(t, "timeout");

    // In a batch too, with the input's index.
    let results = bounded("settled", client.fetch_all_settled([refused])).await;
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.index(), Some(0));
    assert!(err.timings().is_some_and(|t| t.total() > Duration::ZERO));
}
