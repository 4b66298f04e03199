//! Exponential backoff: with `jitter(false)` the delays are exactly
//! base, 2·base, 4·base, … capped by `max_delay`. Only lower bounds and a
//! wide "was capped" upper bound are asserted.

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
                .base_delay(Duration::from_millis(100))
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
    for (gap, expected_ms) in gaps.iter().zip([100u64, 200, 400]) {
        assert!(
            *gap >= Duration::from_millis(expected_ms * 9 / 10),
            "backoff gaps {gaps:?} must be at least 100, 200, 400 ms"
        );
    }
    assert!(resp.elapsed() >= Duration::from_millis(630));
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
