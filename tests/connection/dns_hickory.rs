//! The `hickory-dns` feature: a client built with `hickory_dns(true)` works,
//! and IP-literal URLs need no lookup (no DNS traffic leaves the machine:
//! no real name is resolved here).
#![cfg(feature = "hickory-dns")]

use std::time::Duration;

use crate::support::clients::defaults;
use crate::support::{TestServer, bounded};
use batch_fetch::RetryPolicy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hickory_client_fetches_ip_literal_urls() {
    let server = TestServer::start().await;
    let client = defaults()
        .hickory_dns(true)
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client with hickory builds");
    let urls: Vec<String> = (0..10).map(|i| server.url(&format!("/id/{i}"))).collect();

    let resps = bounded("hickory ip literal", client.fetch_all(&urls))
        .await
        .unwrap();

    for (i, r) in resps.iter().enumerate() {
        assert_eq!(r.text().unwrap(), i.to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_overrides_still_come_first_with_hickory() {
    let server = TestServer::start().await;
    let client = defaults()
        .hickory_dns(true)
        .resolve("pinned.test", server.addr())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();

    let resp = bounded("hickory override", client.fetch("http://pinned.test/id/7"))
        .await
        .unwrap();

    assert_eq!(resp.text().unwrap(), "7");
}
