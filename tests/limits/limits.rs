//! Concurrency limits: the global limit and the per-host limit are reached
//! and never exceeded, and a saturated host does not stall the others.

use std::time::Instant;

use crate::support::clients::{default_client, defaults};
use crate::support::{ServerGroup, TestServer, bounded};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_limit_is_reached_and_never_exceeded() {
    let server = TestServer::start().await;
    let client = defaults().concurrency(8).build().unwrap();
    let urls: Vec<String> = (0..100)
        .map(|i| server.url(&format!("/delay/50?i={i}")))
        .collect();

    let resps = bounded("100 x /delay/50", client.fetch_all(urls))
        .await
        .unwrap();

    assert_eq!(resps.len(), 100);
    assert!(resps.iter().all(|r| r.status() == 200));
    assert_eq!(server.total_hits(), 100);
    assert_eq!(
        server.peak_in_flight(),
        8,
        "server peak in-flight must equal the global limit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_limit_is_reached_and_never_exceeded() {
    let group = ServerGroup::new();
    let mut servers = Vec::new();
    for ip in [[127, 0, 0, 1], [127, 0, 0, 2], [127, 0, 0, 3]] {
        servers.push(TestServer::builder().ip(ip).group(&group).start().await);
    }
    let client = defaults()
        .concurrency(100)
        .per_host_concurrency(3)
        .build()
        .unwrap();
    // Interleave the hosts: 30 requests each.
    let urls: Vec<String> = (0..90)
        .map(|i| servers[i % 3].url(&format!("/delay/50?i={i}")))
        .collect();

    let resps = bounded("3 hosts x 30", client.fetch_all(urls))
        .await
        .unwrap();

    assert!(resps.iter().all(|r| r.status() == 200));
    for s in &servers {
        assert_eq!(s.total_hits(), 30, "{}", s.addr());
        assert_eq!(
            s.peak_in_flight(),
            3,
            "{}: peak in-flight must equal the per-host limit",
            s.addr()
        );
    }
    let overall = group.in_flight.peak();
    assert!(
        (4..=9).contains(&overall),
        "hosts must run in parallel, each within its limit: overall peak {overall}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_limit_does_not_stall_other_hosts() {
    let slow = TestServer::start_on([127, 0, 0, 2]).await;
    let fast = TestServer::start_on([127, 0, 0, 3]).await;
    // Global limit 2, per-host 1: a request waiting for its host's permit must
    // not hold a global permit, or the fast host would be starved.
    let client = defaults()
        .concurrency(2)
        .per_host_concurrency(1)
        .build()
        .unwrap();
    let mut urls = Vec::new();
    for i in 0..10 {
        if i < 6 {
            urls.push(slow.url(&format!("/delay/500?i={i}")));
        }
        urls.push(fast.url(&format!("/id/{i}")));
    }
    let start = Instant::now();

    let resps = bounded("slow + fast hosts", client.fetch_all(urls))
        .await
        .unwrap();

    assert!(resps.iter().all(|r| r.status() == 200));
    let slow_hits = slow.log();
    let fast_hits = fast.log();
    assert_eq!(slow_hits.len(), 6);
    assert_eq!(fast_hits.len(), 10);
    assert_eq!(slow.peak_in_flight(), 1);
    assert_eq!(fast.peak_in_flight(), 1);
    // The slow host is serialised (one 500 ms request at a time); the fast
    // host's ten requests must all have been served before the slow host's
    // second request even started.
    let second_slow = slow_hits[1].at;
    let last_fast = fast_hits.last().unwrap().at;
    assert!(
        last_fast < second_slow,
        "fast host stalled behind the slow one: last fast hit at {:?}, second slow hit at {:?}",
        last_fast - start,
        second_slow - start
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_limits_are_100_global_and_unlimited_per_host() {
    let server = TestServer::start().await;
    let client = default_client();
    let urls: Vec<String> = (0..150)
        .map(|i| server.url(&format!("/delay/300?i={i}")))
        .collect();

    let resps = bounded("150 x /delay/300", client.fetch_all(urls))
        .await
        .unwrap();

    assert_eq!(resps.len(), 150);
    // One host: the per-host limit (unlimited by default) does not bind, the
    // global default of 100 does.
    assert_eq!(server.peak_in_flight(), 100);
}
