//! Exponential backoff: with `jitter(false)` the delays are exactly
//! base, 2·base, 4·base, … capped by `max_delay`; with full jitter each is
//! drawn below that ceiling, afresh for every request. A gap between two
//! attempts is at least the wait (the sleep alone); the upper bounds are
//! wide, for a loaded machine, yet below what a wrong rule would give.

use std::time::Duration;

use crate::support::clients::defaults;
use crate::support::{TestServer, bounded};
use batch_fetch::RetryPolicy;

fn gaps(server: &TestServer, path: &str) -> Vec<Duration> {
    let hits: Vec<_> = server
        .log()
        .into_iter()
        .filter(|h| h.path == path)
        .collect();
    hits.windows(2).map(|w| w[1].at - w[0].at).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delays_double_from_the_base_delay() {
    let server = TestServer::start().await;
    let client = defaults()
        .retry(
            RetryPolicy::default()
                .max_retries(3)
                .base_delay(Duration::from_millis(200))
                .max_delay(Duration::from_secs(10))
                .jitter(false),
        )
        .build()
        .unwrap();
    let path = "/flaky/exp/3";

    let resp = bounded("3 failures", client.fetch(server.url(path)))
        .await
        .unwrap();

    assert_eq!(resp.status(), 200);
    assert_eq!(resp.attempts(), 4);
    let gaps = gaps(&server, path);
    assert_eq!(gaps.len(), 3);
    for (gap, expected_ms) in gaps.iter().zip([200u64, 400, 800]) {
        let expected = Duration::from_millis(expected_ms);
        assert!(
            *gap >= expected * 9 / 10,
            "backoff gaps {gaps:?} must be at least 200, 400, 800 ms"
        );
        // A quarter and 150 ms of slack for a busy machine, which a factor
        // of 2.5 or more already exceeds at the third wait (1250 ms).
        assert!(
            *gap < expected * 5 / 4 + Duration::from_millis(150),
            "backoff gaps {gaps:?} must double: 200, 400, 800 ms"
        );
    }
    assert!(resp.elapsed() >= Duration::from_millis(1260));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delays_are_capped_by_max_delay() {
    let server = TestServer::start().await;
    let client = defaults()
        .retry(
            RetryPolicy::default()
                .max_retries(4)
                .base_delay(Duration::from_millis(100))
                .max_delay(Duration::from_millis(100))
                .jitter(false),
        )
        .build()
        .unwrap();
    let path = "/flaky/cap/4";

    let resp = bounded("4 failures", client.fetch(server.url(path)))
        .await
        .unwrap();

    assert_eq!(resp.attempts(), 5);
    let gaps = gaps(&server, path);
    assert_eq!(gaps.len(), 4);
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(90)),
        "{gaps:?}"
    );
    // Uncapped it would be 100+200+400+800 = 1500 ms; capped it is 400 ms.
    let total: Duration = gaps.iter().sum();
    assert!(
        total < Duration::from_millis(1100),
        "max_delay not applied: gaps {gaps:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_jitter_stays_within_the_exponential_ceiling() {
    let server = TestServer::start().await;
    // Full jitter: each delay is random in [0, base·2^n]; with a ceiling of
    // 300 ms per retry, 3 retries must be over well before 3 × 300 ms + slack.
    let client = defaults()
        .retry(
            RetryPolicy::default()
                .max_retries(3)
                .base_delay(Duration::from_millis(300))
                .max_delay(Duration::from_millis(300))
                .jitter(true),
        )
        .build()
        .unwrap();
    let path = "/flaky/jit/3";
    let resp = bounded("jittered", client.fetch(server.url(path)))
        .await
        .unwrap();
    assert_eq!(resp.attempts(), 4);
    let total: Duration = gaps(&server, path).iter().sum();
    assert!(total < Duration::from_secs(3), "jittered delays {total:?}");
}

/// Full jitter draws each wait below the ceiling, with a generator of its
/// own per retry: across the requests of one batch the waits differ, and
/// some are well below the ceiling. Without jitter every gap would be at
/// least the ceiling; with one shared seed, every request would wait the
/// same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_jitter_makes_the_delays_differ_across_requests() {
    const REQUESTS: usize = 16;
    let ceiling = Duration::from_millis(400);
    let server = TestServer::start().await;
    let client = defaults()
        .retry(
            RetryPolicy::default()
                .max_retries(1)
                .base_delay(ceiling)
                .max_delay(ceiling)
                .jitter(true),
        )
        .build()
        .unwrap();
    let paths: Vec<String> = (0..REQUESTS)
        .map(|i| format!("/flaky/spread{i}/1"))
        .collect();
    let urls: Vec<String> = paths.iter().map(|p| server.url(p)).collect();

    let responses = bounded("one retry each", client.fetch_all(&urls))
        .await
        .unwrap();

    assert!(responses.iter().all(|r| r.attempts() == 2));
    let waits: Vec<Duration> = paths
        .iter()
        .map(|path| {
            let gaps = gaps(&server, path);
            assert_eq!(gaps.len(), 1, "{path}: {gaps:?}");
            gaps[0]
        })
        .collect();
    assert!(
        waits.iter().all(|w| *w < ceiling * 2),
        "waits {waits:?} must stay below the 400 ms ceiling (plus slack)"
    );
    // Each wait is uniform in [0, 400 ms): all 16 at 300 ms or more has a
    // chance of 0.25^16, and still 0.5^16 if scheduling adds 100 ms to each.
    assert!(
        waits.iter().any(|w| *w < ceiling * 3 / 4),
        "no wait under 300 ms, as if without jitter: {waits:?}"
    );
    // 16 uniform draws all within 100 ms of each other: about 16 · 0.25^15.
    let spread = waits
        .iter()
        .max()
        .unwrap()
        .saturating_sub(*waits.iter().min().unwrap());
    assert!(
        spread >= Duration::from_millis(100),
        "waits {waits:?} hardly differ across requests (spread {spread:?})"
    );
}
