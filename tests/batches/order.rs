//! Gather semantics: results come back in input order whatever the order of
//! completion (fetch_all and fetch_all_settled).

use std::time::Duration;

use crate::support::clients::{default_client, defaults};
use crate::support::{Rng, TestServer, bounded};
use batch_fetch::ErrorKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_all_keeps_input_order_under_random_delays() {
    let server = TestServer::start().await;
    let client = defaults().concurrency(16).build().unwrap();
    let mut rng = Rng::new(0x5eed);
    let urls: Vec<String> = (0..80)
        .map(|i| server.url(&format!("/id/{i}?delay={}", rng.below(120))))
        .collect();

    let resps = bounded("fetch_all", client.fetch_all(urls.clone()))
        .await
        .expect("all requests succeed");

    assert_eq!(resps.len(), urls.len());
    for (i, r) in resps.iter().enumerate() {
        assert_eq!(r.status(), 200, "input {i}");
        assert_eq!(
            r.text().unwrap(),
            i.to_string(),
            "input {i}: body names its id"
        );
        assert_eq!(r.url().to_string(), urls[i], "input {i}: url");
        assert_eq!(r.attempts(), 1);
    }
    assert_eq!(server.total_hits(), urls.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_all_keeps_input_order_when_completion_order_is_reversed() {
    let server = TestServer::start().await;
    let client = defaults().concurrency(100).build().unwrap();
    let n = 20;
    // Later inputs answer sooner: completion order is the reverse of input order.
    let urls: Vec<String> = (0..n)
        .map(|i| server.url(&format!("/id/{i}?delay={}", (n - i) * 25)))
        .collect();

    let resps = bounded("fetch_all", client.fetch_all(&urls)).await.unwrap();

    let bodies: Vec<String> = resps.iter().map(|r| r.text().unwrap()).collect();
    let expected: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    assert_eq!(bodies, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_all_settled_keeps_input_order_under_random_delays() {
    let server = TestServer::start().await;
    let client = defaults().concurrency(10).build().unwrap();
    let mut rng = Rng::new(42);
    let mut urls: Vec<String> = (0..60)
        .map(|i| server.url(&format!("/id/{i}?delay={}", rng.below(120))))
        .collect();
    // Non-2xx statuses are Ok results too; an invalid input is an Err in its slot.
    urls[13] = server.url("/status/404?delay=30");
    urls[29] = server.url("/status/500");
    urls[41] = "not a url".to_string();

    let results = bounded("fetch_all_settled", client.fetch_all_settled(urls.clone())).await;

    assert_eq!(results.len(), urls.len(), "one result per input");
    for (i, r) in results.iter().enumerate() {
        match i {
            13 => assert_eq!(r.as_ref().unwrap().status(), 404),
            29 => assert_eq!(r.as_ref().unwrap().status(), 500),
            41 => {
                let e = crate::support::expect_err(r.as_ref(), "invalid input is an error");
                assert_eq!(e.kind(), ErrorKind::InvalidRequest);
                assert_eq!(e.index(), Some(41));
            }
            _ => {
                let resp = r.as_ref().unwrap_or_else(|e| panic!("input {i}: {e}"));
                assert_eq!(resp.status(), 200);
                assert_eq!(resp.text().unwrap(), i.to_string(), "input {i}");
                assert_eq!(resp.url().to_string(), urls[i]);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_batches_return_empty_results() {
    let client = default_client();
    let none: Vec<String> = Vec::new();
    let resps = crate::support::within(
        Duration::from_secs(5),
        "empty fetch_all",
        client.fetch_all(none.clone()),
    )
    .await
    .unwrap();
    assert!(resps.is_empty());
    let settled = crate::support::within(
        Duration::from_secs(5),
        "empty settled",
        client.fetch_all_settled(none),
    )
    .await;
    assert!(settled.is_empty());
}
