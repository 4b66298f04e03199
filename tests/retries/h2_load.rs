//! HTTP/2 under load: 500 concurrent requests to a server that allows 100
//! streams all succeed, and the server never runs more than 100 at once.

use std::time::Duration;

use crate::support::clients::defaults;
use crate::support::fn_server::reply;
use crate::support::{FnServer, bounded};
use batch_fetch::RetryPolicy;
use http::Version;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_requests_respect_max_concurrent_streams() {
    let server = FnServer::builder()
        .h2_max_concurrent_streams(100)
        .start(|seen| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            reply(200, seen.uri.path().to_string())
        })
        .await;
    let client = defaults()
        .http2_prior_knowledge()
        .concurrency(500)
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let urls: Vec<String> = (0..500)
        .map(|i| server.url(&format!("/item/{i}")))
        .collect();

    let results = bounded("500 over h2", client.fetch_all_settled(&urls)).await;

    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    assert!(
        failed.is_empty(),
        "{} failed, e.g. {:?}",
        failed.len(),
        failed.first()
    );
    for (i, r) in results.iter().enumerate() {
        let r = r.as_ref().unwrap();
        assert_eq!(r.version(), Version::HTTP_2);
        assert_eq!(r.text().unwrap(), format!("/item/{i}"));
    }
    let peak = server.peak_in_flight();
    assert!(
        peak <= 100,
        "the server allows 100 streams, saw {peak} at once"
    );
    assert!(peak >= 10, "the streams are multiplexed: peak {peak}");
    assert_eq!(server.total(), 500, "each request served once");
}
