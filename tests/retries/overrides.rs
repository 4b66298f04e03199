//! An input's own timeout and retry policy (`Request::timeout`,
//! `Request::retry`) replace the client's for that input alone: its
//! neighbours in the same batch keep the client's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::clients::{builder, quick};
use crate::support::fn_server::{failing_first, reply};
use crate::support::{FnServer, TestServer, bounded, expect_err};
use batch_fetch::{ErrorKind, Request, RetryPolicy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_timeout_of_its_own_ends_an_input_while_its_neighbour_waits() {
    let server = TestServer::start().await;
    let client = builder().timeout(Duration::from_secs(10)).build().unwrap();
    let results = bounded(
        "slow batch",
        client.fetch_all_settled([
            Request::get(server.url("/delay/1000?input=short")).timeout(Duration::from_millis(200)),
            Request::get(server.url("/delay/1000?input=client")),
        ]),
    )
    .await;

    let err = results[0].as_ref().expect_err("a 1 s answer in 200 ms");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.is_timeout());
    assert_eq!(err.attempts(), 1);
    assert_eq!(err.index(), Some(0));
    // The same error as the client's own timeout raises.
    let client_timeout = expect_err(
        bounded(
            "client timeout",
            builder()
                .timeout(Duration::from_millis(200))
                .build()
                .unwrap()
                .fetch(server.url("/delay/1000?input=reference")),
        )
        .await,
        "a 1 s answer with a 200 ms client timeout",
    );
    assert_eq!(err.kind(), client_timeout.kind());
    let cause = |e: &batch_fetch::Error| std::error::Error::source(e).map(ToString::to_string);
    assert_eq!(cause(err), cause(&client_timeout));
    assert_eq!(cause(err).as_deref(), Some("request timed out"));

    let res = results[1].as_ref().expect("the client's 10 s is enough");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().unwrap(), "delayed 1000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_timeout_of_its_own_outlasts_the_client_s() {
    let server = TestServer::start().await;
    let client = builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let results = bounded(
        "slow batch",
        client.fetch_all_settled([
            Request::get(server.url("/delay/600?input=long")).timeout(Duration::from_secs(10)),
            Request::get(server.url("/delay/600?input=client")),
        ]),
    )
    .await;
    assert_eq!(results[0].as_ref().unwrap().status(), 200);
    let err = results[1]
        .as_ref()
        .expect_err("600 ms in the client's 200 ms");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_s_timeout_is_per_attempt() {
    // The first attempt hangs past the input's timeout, the second answers
    // at once: the input succeeds on its retry, each attempt timed alone.
    let calls = Arc::new(Mutex::new(0));
    let server = {
        let calls = calls.clone();
        FnServer::start(move |_| {
            let n = {
                let mut calls = calls.lock().unwrap();
                *calls += 1;
                *calls
            };
            async move {
                if n == 1 {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                reply(200, format!("attempt {n}"))
            }
        })
        .await
    };
    let client = builder().timeout(Duration::from_secs(10)).build().unwrap();
    let res = bounded(
        "retried after its own timeout",
        client.fetch(
            Request::get(server.url("/hang-once"))
                .timeout(Duration::from_millis(300))
                .retry(quick(2)),
        ),
    )
    .await
    .unwrap();
    assert_eq!(res.text().unwrap(), "attempt 2");
    assert_eq!(res.attempts(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_with_retry_none_is_sent_once_while_its_neighbour_is_retried() {
    let server = failing_first(2).await;
    let client = builder().retry(quick(3)).build().unwrap();
    let results = bounded(
        "503 twice",
        client.fetch_all_settled([
            Request::get(server.url("/once")).retry(RetryPolicy::none()),
            Request::get(server.url("/retried")),
        ]),
    )
    .await;

    let once = results[0].as_ref().unwrap();
    assert_eq!(once.status(), 503);
    assert_eq!(once.attempts(), 1);
    assert_eq!(server.seen_path("/once").len(), 1);

    let retried = results[1].as_ref().unwrap();
    assert_eq!(retried.status(), 200);
    assert_eq!(retried.attempts(), 3);
    assert_eq!(server.seen_path("/retried").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_s_own_policy_retries_when_the_client_s_does_not() {
    let server = failing_first(2).await;
    // `builder()` never retries.
    let client = builder().build().unwrap();
    let results = bounded(
        "503 twice",
        client.fetch_all_settled([
            Request::get(server.url("/own")).retry(quick(2)),
            Request::get(server.url("/client")),
        ]),
    )
    .await;
    let own = results[0].as_ref().unwrap();
    assert_eq!((own.status().as_u16(), own.attempts()), (200, 3));
    assert_eq!(server.seen_path("/own").len(), 3);
    let client_s = results[1].as_ref().unwrap();
    assert_eq!((client_s.status().as_u16(), client_s.attempts()), (503, 1));
    assert_eq!(server.seen_path("/client").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_s_own_retry_policy_follows_its_own_statuses() {
    // The client retries 503 only; the input retries 500 too.
    let seen = Arc::new(Mutex::new(0));
    let server = {
        let seen = seen.clone();
        FnServer::start(move |_| {
            let n = {
                let mut seen = seen.lock().unwrap();
                *seen += 1;
                *seen
            };
            async move { reply(if n == 1 { 500 } else { 200 }, "") }
        })
        .await
    };
    let client = builder().retry(quick(3)).build().unwrap();
    let own = quick(3).retry_statuses([http::StatusCode::INTERNAL_SERVER_ERROR]);
    let res = bounded(
        "500 once",
        client.fetch(Request::get(server.url("/x")).retry(own)),
    )
    .await
    .unwrap();
    assert_eq!((res.status().as_u16(), res.attempts()), (200, 2));
}
