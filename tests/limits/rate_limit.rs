//! Rate limits: `rate_limit` spaces every request of the client (all its
//! clones) one `per / n` apart, `per_host_rate_limit` does so per origin
//! without one origin waiting behind another, a request waiting for its
//! slot holds no concurrency permit, retries and redirect hops take slots,
//! and unusable limits are `Config` errors from `build()`.
//!
//! Spacings are read from the servers' arrival times. They are lower
//! bounds the limiter guarantees (minus [`SLACK`] for delivery jitter);
//! the only upper bounds are a whole spacing of 1 s or more, which only a
//! request held behind the wrong limiter would exceed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::clients::{builder, defaults, quick};
use crate::support::fn_server::{redirect, reply};
use crate::support::{FnServer, ServerGroup, TestServer, bounded, expect_err};
use batch_fetch::ErrorKind;

/// Scheduling jitter allowed between the moment a request is let through
/// and the moment its server sees it. A host's first request also opens
/// its connection, which its next one reuses: on a loaded 2-core CI
/// machine that made the first arrive 25–28 ms late, so two arrivals 1 s
/// apart by the limiter were seen 972 ms apart. No limiter at all would
/// show gaps near zero.
const SLACK: Duration = Duration::from_millis(60);

/// Arrival times at `server`, in arrival order.
fn arrivals(server: &TestServer) -> Vec<Instant> {
    server.log().iter().map(|h| h.at).collect()
}

/// Asserts that consecutive `times` are at least `spacing - SLACK` apart.
#[track_caller]
fn assert_spaced(times: &[Instant], spacing: Duration, what: &str) {
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    for (i, gap) in gaps.iter().enumerate() {
        assert!(
            *gap + SLACK >= spacing,
            "{what}: arrivals {i} and {} only {gap:?} apart, want {spacing:?}; all gaps: {gaps:?}",
            i + 1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_rate_limit_spaces_a_batch_evenly() {
    let spacing = Duration::from_millis(200);
    let server = TestServer::start().await;
    let client = builder()
        .rate_limit(5, Duration::from_secs(1))
        .build()
        .unwrap();
    // Warm-up: the batch below then reuses this pooled connection, so that
    // no arrival is late by a connection set-up (the warm-up also takes a
    // slot, so the batch's first request waits for the next one).
    bounded("warm-up", client.fetch(server.url("/")))
        .await
        .unwrap();
    let urls: Vec<String> = (0..6).map(|i| server.url(&format!("/id/{i}"))).collect();

    let results = bounded("6 requests at 5/s", client.fetch_all_settled(&urls)).await;

    assert_eq!(results.len(), 6);
    for (i, r) in results.iter().enumerate() {
        let res = r.as_ref().unwrap_or_else(|e| panic!("input {i}: {e}"));
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().unwrap(), i.to_string(), "results in input order");
    }
    let log = server.log();
    assert_eq!(log.len(), 7, "warm-up + 6, each sent once: {log:?}");
    let batch: Vec<Instant> = log[1..].iter().map(|h| h.at).collect();
    assert_spaced(&batch, spacing, "rate_limit(5, 1s)");
    let span = batch[5] - batch[0];
    assert!(
        span + SLACK >= spacing * 5,
        "6 requests at one per 200 ms span at least 1 s, got {span:?}"
    );
}

// All clones of a client, and all their batches, share one limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_rate_limit_is_shared_by_clones_and_batches() {
    let spacing = Duration::from_millis(200);
    let server = TestServer::start().await;
    let client = builder()
        .rate_limit(5, Duration::from_secs(1))
        .build()
        .unwrap();
    let other_batch = client.clone().batch();
    let a: Vec<String> = (0..2).map(|i| server.url(&format!("/id/a{i}"))).collect();
    let b: Vec<String> = (0..2).map(|i| server.url(&format!("/id/b{i}"))).collect();

    let (ra, rb) = bounded("two batches on two clones", async {
        tokio::join!(client.fetch_all(&a), other_batch.fetch_all(&b))
    })
    .await;

    assert_eq!(ra.unwrap().len(), 2);
    assert_eq!(rb.unwrap().len(), 2);
    let times = arrivals(&server);
    assert_eq!(times.len(), 4);
    assert_spaced(&times, spacing, "two batches under one rate_limit");
}

// Each origin has its own spacing; the two hosts' requests interleave, so
// host B's first request does not wait behind host A's queue even though
// all of A's inputs come first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_rate_limit_spaces_each_origin_apart() {
    let spacing = Duration::from_secs(1);
    let host_a = TestServer::start_on([127, 0, 0, 1]).await;
    let host_b = TestServer::start_on([127, 0, 0, 2]).await;
    let client = builder().per_host_rate_limit(1, spacing).build().unwrap();
    let urls: Vec<String> = (0..3)
        .map(|i| host_a.url(&format!("/id/{i}")))
        .chain((3..6).map(|i| host_b.url(&format!("/id/{i}"))))
        .collect();

    let results = bounded("3 + 3 requests", client.fetch_all_settled(&urls)).await;

    for (i, r) in results.iter().enumerate() {
        let res = r.as_ref().unwrap_or_else(|e| panic!("input {i}: {e}"));
        assert_eq!(res.text().unwrap(), i.to_string(), "results in input order");
    }
    let (a, b) = (arrivals(&host_a), arrivals(&host_b));
    assert_eq!((a.len(), b.len()), (3, 3), "each request sent once");
    assert_spaced(&a, spacing, "host A");
    assert_spaced(&b, spacing, "host B");
    // One shared limiter would put B's first a whole spacing (or more)
    // after A's first, and the six requests 5 s apart end to end.
    let firsts = a[0].max(b[0]) - a[0].min(b[0]);
    assert!(
        firsts < spacing,
        "both hosts' first requests go at once, got {firsts:?} apart"
    );
    let span = a[2].max(b[2]) - a[0].min(b[0]);
    assert!(
        span < spacing * 4,
        "the hosts' queues run side by side (2 s, where one shared limiter takes 5 s), got {span:?}"
    );
}

// With one concurrency permit, a request waiting for its host's rate slot
// gives the permit back: the inputs after it, on other origins, run and
// finish meanwhile. Were the permit held through the wait, the first B
// request could only start when A's wait ended, and the second B request
// not before A's second request had been sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_rate_slot_holds_no_permit() {
    let spacing = Duration::from_secs(1);
    let group = ServerGroup::new();
    let host_a = TestServer::builder()
        .ip([127, 0, 0, 1])
        .group(&group)
        .start()
        .await;
    // Host B is two origins with one request each, so their own per-host
    // limit never makes them wait.
    let mut host_b = Vec::new();
    for ip in [[127, 0, 0, 2], [127, 0, 0, 3]] {
        host_b.push(TestServer::builder().ip(ip).group(&group).start().await);
    }
    let client = builder()
        .concurrency(1)
        .per_host_rate_limit(1, spacing)
        .build()
        .unwrap();
    let urls = vec![
        host_a.url("/id/0"),
        host_a.url("/id/1"),
        host_b[0].url("/id/2"),
        host_b[1].url("/id/3"),
    ];

    let results = bounded("A, A, B, B", client.fetch_all_settled(&urls)).await;

    for (i, r) in results.iter().enumerate() {
        let res = r.as_ref().unwrap_or_else(|e| panic!("input {i}: {e}"));
        assert_eq!(res.text().unwrap(), i.to_string(), "results in input order");
    }
    assert_eq!(group.in_flight.peak(), 1, "concurrency(1) was in force");
    let a = arrivals(&host_a);
    assert_eq!(a.len(), 2);
    assert_spaced(&a, spacing, "host A");
    for (j, server) in host_b.iter().enumerate() {
        let b = arrivals(server);
        assert_eq!(b.len(), 1, "B{j} sent once");
        assert!(
            b[0] < a[1],
            "B{j} must arrive while A's second request waits for its slot \
             (B{j} {:?} after A's first, A's second {:?} after it)",
            b[0] - a[0],
            a[1] - a[0]
        );
    }
}

// A retry takes a rate slot like any attempt: with a 5 ms backoff under a
// limit of one per 500 ms, the retry still arrives a spacing after the
// first attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_take_rate_slots() {
    let spacing = Duration::from_millis(500);
    let server = TestServer::start().await;
    let client = builder()
        .retry(quick(2))
        .rate_limit(2, Duration::from_secs(1))
        .build()
        .unwrap();

    let res = bounded("flaky once", client.fetch(server.url("/flaky/r/1")))
        .await
        .unwrap();

    assert_eq!(res.status(), 200);
    assert_eq!(res.text().unwrap(), "ok r");
    assert_eq!(res.attempts(), 2);
    let times = arrivals(&server);
    assert_eq!(times.len(), 2, "the 503, then the retry");
    assert_spaced(&times, spacing, "first attempt and retry");
    // The request began before its first slot and ended after its second.
    assert!(
        res.elapsed() + SLACK >= spacing,
        "elapsed {:?} spans both slots",
        res.elapsed()
    );
}

// A redirect hop takes a rate slot too: the target of a 302 arrives a
// spacing after the request that was redirected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_hops_take_rate_slots() {
    let spacing = Duration::from_millis(500);
    let seen: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let log = seen.clone();
    let server = FnServer::start(move |req| {
        log.lock().unwrap().push((req.path(), Instant::now()));
        async move {
            match req.path().as_str() {
                "/start" => redirect(302, "/end"),
                _ => reply(200, "end"),
            }
        }
    })
    .await;
    let client = builder()
        .rate_limit(2, Duration::from_secs(1))
        .build()
        .unwrap();

    let res = bounded("one redirect", client.fetch(server.url("/start")))
        .await
        .unwrap();

    assert_eq!(res.status(), 200);
    assert_eq!(res.text().unwrap(), "end");
    assert_eq!(res.url().path(), "/end");
    let seen = seen.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["/start", "/end"]);
    let times: Vec<Instant> = seen.iter().map(|(_, t)| *t).collect();
    assert_spaced(&times, spacing, "redirect and its target");
}

#[test]
fn unusable_rate_limits_are_config_errors() {
    let e = expect_err(
        defaults().rate_limit(0, Duration::from_secs(1)).build(),
        "rate_limit(0, 1s)",
    );
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("rate_limit") && !msg.contains("per_host"),
        "names rate_limit: {msg}"
    );

    let e = expect_err(
        defaults().per_host_rate_limit(1, Duration::ZERO).build(),
        "per_host_rate_limit(1, 0)",
    );
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(
        e.to_string().contains("per_host_rate_limit"),
        "names per_host_rate_limit: {e}"
    );

    // 5 ns / 10 rounds to a spacing of zero.
    let e = expect_err(
        defaults().rate_limit(10, Duration::from_nanos(5)).build(),
        "rate_limit(10, 5ns)",
    );
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("rate_limit") && !msg.contains("per_host"),
        "names rate_limit: {msg}"
    );

    // The smallest usable spacing (1 ns) builds.
    defaults()
        .rate_limit(5, Duration::from_nanos(5))
        .per_host_rate_limit(u32::MAX, Duration::from_secs(5))
        .build()
        .expect("a spacing of 1 ns is usable");
}
