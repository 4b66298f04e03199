//! Scale: 10,000 requests at concurrency 1000, each served exactly once,
//! all Ok and in input order.

use std::time::Duration;

use crate::support::clients::defaults;
use crate::support::{TestServer, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_requests_each_served_exactly_once() {
    const N: usize = 10_000;
    let server = TestServer::start().await;
    let client = defaults()
        .concurrency(1000)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let urls: Vec<String> = (0..N).map(|i| server.url(&format!("/id/{i}"))).collect();

    let resps = within(
        Duration::from_secs(60),
        "10k requests",
        client.fetch_all(&urls),
    )
    .await
    .expect("all 10k requests succeed");

    assert_eq!(resps.len(), N);
    for (i, r) in resps.iter().enumerate() {
        assert_eq!(r.status(), 200, "input {i}");
        assert_eq!(r.body().as_ref(), i.to_string().as_bytes(), "input {i}");
    }
    let counts = server.hit_counts();
    assert_eq!(counts.len(), N, "every id requested");
    for i in 0..N {
        assert_eq!(
            counts.get(&format!("/id/{i}")),
            Some(&1),
            "id {i} served exactly once"
        );
    }
    assert!(server.peak_in_flight() <= 1000);
}
