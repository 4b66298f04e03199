//! Misbehaving servers (raw TCP): garbage, truncated bodies, early closes,
//! resets and dripping headers give typed errors — no hang, no panic.

use std::time::Duration;

use crate::support::clients::{builder, defaults};
use crate::support::{Behavior, RawServer, TestServer, bounded, expect_err};
use batch_fetch::{BatchClient, ErrorKind, RetryPolicy};

fn client() -> BatchClient {
    builder()
        .timeout(Duration::from_millis(800))
        .build()
        .unwrap()
}

async fn kind_for(behavior: Behavior) -> ErrorKind {
    let raw = RawServer::start(behavior).await;
    let url = raw.url("/misbehave");
    let e = expect_err(
        bounded("misbehaving server", client().fetch(url.as_str())).await,
        &format!("{behavior:?}"),
    );
    assert_eq!(e.url().map(|u| u.to_string()), Some(url), "{behavior:?}");
    assert!(raw.accepted() >= 1);
    e.kind()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_a_protocol_error() {
    assert_eq!(kind_for(Behavior::Garbage).await, ErrorKind::Protocol);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_content_length_body_is_a_protocol_error() {
    assert_eq!(
        kind_for(Behavior::TruncatedLength).await,
        ErrorKind::Protocol
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_chunked_body_is_a_protocol_error() {
    assert_eq!(
        kind_for(Behavior::TruncatedChunked).await,
        ErrorKind::Protocol
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_after_headers_is_a_protocol_error() {
    assert_eq!(
        kind_for(Behavior::CloseAfterHeaders).await,
        ErrorKind::Protocol
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_before_response_is_a_protocol_error() {
    assert_eq!(
        kind_for(Behavior::CloseBeforeResponse).await,
        ErrorKind::Protocol
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_before_response_is_a_protocol_error() {
    assert_eq!(
        kind_for(Behavior::ResetBeforeResponse).await,
        ErrorKind::Protocol
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_drip_is_a_timeout() {
    let kind = kind_for(Behavior::DripHeaders {
        every: Duration::from_millis(50),
    })
    .await;
    assert_eq!(kind, ErrorKind::Timeout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_answering_is_a_timeout() {
    assert_eq!(kind_for(Behavior::NeverAnswer).await, ErrorKind::Timeout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settled_batch_of_misbehaving_servers_returns_one_result_per_input() {
    let cases = [
        (Behavior::Garbage, ErrorKind::Protocol),
        (Behavior::TruncatedLength, ErrorKind::Protocol),
        (Behavior::TruncatedChunked, ErrorKind::Protocol),
        (Behavior::CloseAfterHeaders, ErrorKind::Protocol),
        (Behavior::CloseBeforeResponse, ErrorKind::Protocol),
        (Behavior::ResetBeforeResponse, ErrorKind::Protocol),
        (
            Behavior::DripHeaders {
                every: Duration::from_millis(50),
            },
            ErrorKind::Timeout,
        ),
        (Behavior::NeverAnswer, ErrorKind::Timeout),
    ];
    let good = TestServer::start().await;
    let mut servers = Vec::new();
    let mut urls = vec![good.url("/id/first")];
    for (b, _) in &cases {
        let s = RawServer::start(*b).await;
        urls.push(s.url("/x"));
        servers.push(s);
    }
    urls.push(good.url("/id/last"));

    let results = bounded(
        "mixed settled batch",
        client().fetch_all_settled(urls.clone()),
    )
    .await;

    assert_eq!(results.len(), urls.len());
    assert_eq!(results[0].as_ref().unwrap().text().unwrap(), "first");
    assert_eq!(
        results[urls.len() - 1].as_ref().unwrap().text().unwrap(),
        "last"
    );
    for (k, (behavior, kind)) in cases.iter().enumerate() {
        let i = k + 1;
        let e = results[i]
            .as_ref()
            .err()
            .unwrap_or_else(|| panic!("{behavior:?} must fail"));
        assert_eq!(e.kind(), *kind, "{behavior:?}: {e}");
        assert_eq!(e.index(), Some(i), "{behavior:?}");
        assert_eq!(
            e.url().map(|u| u.to_string()).as_deref(),
            Some(urls[i].as_str())
        );
    }

    // And in fail-fast mode the first failure wins without hanging.
    let e = expect_err(
        bounded("mixed fail-fast batch", client().fetch_all(urls)).await,
        "some inputs fail",
    );
    let i = e.index().expect("index");
    assert!(
        (1..=cases.len()).contains(&i),
        "failed input {i} is a misbehaving one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_retries_still_end_in_typed_errors() {
    // With the default policy some of these are retried; they must still end
    // in the same kinds, without hanging.
    let client = defaults()
        .timeout(Duration::from_millis(500))
        .retry(
            RetryPolicy::default()
                .max_retries(2)
                .base_delay(Duration::from_millis(5))
                .jitter(false),
        )
        .build()
        .unwrap();
    for (b, kind) in [
        (Behavior::Garbage, ErrorKind::Protocol),
        (Behavior::TruncatedLength, ErrorKind::Protocol),
        (Behavior::CloseBeforeResponse, ErrorKind::Protocol),
        (Behavior::NeverAnswer, ErrorKind::Timeout),
    ] {
        let raw = RawServer::start(b).await;
        let e = expect_err(
            bounded("retried misbehaviour", client.fetch(raw.url("/"))).await,
            "fails",
        );
        assert_eq!(e.kind(), kind, "{b:?}: {e}");
        assert!(
            (1..=3).contains(&e.attempts()),
            "{b:?}: attempts {}",
            e.attempts()
        );
    }
}
