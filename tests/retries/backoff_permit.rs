//! A request waiting out its backoff holds no concurrency permit: with
//! concurrency 1, other requests are served while it waits.

use std::time::Duration;

use crate::support::clients::defaults;
use crate::support::{TestServer, bounded};
use batch_fetch::RetryPolicy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_does_not_hold_the_concurrency_permit() {
    let server = TestServer::start().await;
    let client = defaults()
        .concurrency(1)
        .retry(
            RetryPolicy::default()
                .max_retries(2)
                .base_delay(Duration::from_millis(10))
                .max_delay(Duration::from_secs(10))
                .jitter(false),
        )
        .build()
        .unwrap();
    // First input: 503 with Retry-After: 2, then 200. Then 20 fast requests.
    let flaky = "/flaky/slowpoke/1?retry_after=2";
    let mut urls = vec![server.url(flaky)];
    urls.extend((0..20).map(|i| server.url(&format!("/id/{i}"))));

    let resps = bounded("flaky + 20 fast", client.fetch_all(urls))
        .await
        .unwrap();

    assert_eq!(resps.len(), 21);
    assert!(resps.iter().all(|r| r.status() == 200));
    assert_eq!(resps[0].attempts(), 2);
    assert_eq!(server.peak_in_flight(), 1, "concurrency 1");

    let log = server.log();
    let flaky_hits: Vec<_> = log.iter().filter(|h| h.path == flaky).collect();
    assert_eq!(flaky_hits.len(), 2);
    let (first, retry) = (flaky_hits[0].at, flaky_hits[1].at);
    assert!(
        retry - first >= Duration::from_millis(1900),
        "Retry-After: 2 must be waited out (waited {:?})",
        retry - first
    );
    let fast: Vec<_> = log.iter().filter(|h| h.path.starts_with("/id/")).collect();
    assert_eq!(fast.len(), 20);
    let during_backoff = fast.iter().filter(|h| h.at > first && h.at < retry).count();
    let after_retry = fast.iter().filter(|h| h.at > retry).count();
    assert!(
        during_backoff > 0,
        "no fast request was served while the flaky one backed off: the backoff holds the permit"
    );
    assert_eq!(
        after_retry, 0,
        "fast requests were queued behind the backing-off request ({after_retry} served after its retry)"
    );
}
