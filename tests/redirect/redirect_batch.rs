//! Redirects inside batches: each input follows its own chain, results stay
//! in input order, each hop is retried on its own and `attempts()` counts
//! the final hop's attempts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::clients::{client_with, defaults, quick};
use crate::support::fn_server::{redirect, reply};
use crate::support::{FnServer, TestServer, bounded};
use batch_fetch::{ErrorKind, RetryPolicy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settled_batch_with_redirecting_inputs_keeps_order() {
    let target = TestServer::builder().ip([127, 0, 0, 2]).start().await;
    let target_base = target.url("");
    // `/to/{i}` → target `/id/{i}` after `?delay=`; `/loop` loops; `/gone` → target 404.
    let from = FnServer::start(move |seen| {
        let base = target_base.clone();
        async move {
            let path = seen.uri.path().to_string();
            if let Some(i) = path.strip_prefix("/to/") {
                let i: u64 = i.parse().unwrap();
                // Later inputs finish first.
                let delay = 100 - i * 4;
                redirect(302, &format!("{base}/id/{i}?delay={delay}"))
            } else if path == "/loop" {
                redirect(302, "/loop2")
            } else if path == "/loop2" {
                redirect(302, "/loop")
            } else if path == "/gone" {
                redirect(301, &format!("{base}/status/404"))
            } else {
                reply(200, format!("direct {path}"))
            }
        }
    })
    .await;
    let client = defaults()
        .concurrency(8)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();

    let mut inputs = Vec::new();
    for i in 0..20u64 {
        inputs.push(match i % 5 {
            0 => from.url(&format!("/plain/{i}")),
            3 if i == 8 => from.url("/loop"),
            4 if i == 14 => from.url("/gone"),
            _ => from.url(&format!("/to/{i}")),
        });
    }

    let results = bounded("settled redirects", client.fetch_all_settled(&inputs)).await;

    assert_eq!(results.len(), inputs.len());
    for (i, r) in results.iter().enumerate() {
        match (i % 5, i) {
            (0, _) => {
                let r = r.as_ref().unwrap();
                assert_eq!(r.text().unwrap(), format!("direct /plain/{i}"));
                assert_eq!(r.url().to_string(), inputs[i]);
            }
            (_, 8) => {
                let e = r.as_ref().expect_err("loop is an error");
                assert_eq!(e.kind(), ErrorKind::Redirect, "{e}");
                assert_eq!(e.index(), Some(8));
            }
            (_, 14) => {
                let r = r.as_ref().unwrap();
                assert_eq!(r.status(), 404);
                assert_eq!(r.url().to_string(), target.url("/status/404"));
            }
            _ => {
                let r = r.as_ref().unwrap_or_else(|e| panic!("input {i}: {e}"));
                assert_eq!(r.text().unwrap(), i.to_string(), "input {i} in its slot");
                assert!(
                    r.url()
                        .to_string()
                        .starts_with(&target.url(&format!("/id/{i}?"))),
                    "input {i}: final url {}",
                    r.url()
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_all_follows_redirects_in_order() {
    let server = FnServer::start(|seen| async move {
        let path = seen.uri.path().to_string();
        match path.strip_prefix("/r/") {
            Some(i) => redirect(307, &format!("/final/{i}")),
            None => reply(200, path),
        }
    })
    .await;
    let client = defaults().concurrency(10).build().unwrap();
    let urls: Vec<String> = (0..50).map(|i| server.url(&format!("/r/{i}"))).collect();

    let resps = bounded("fetch_all redirects", client.fetch_all(&urls))
        .await
        .unwrap();

    for (i, r) in resps.iter().enumerate() {
        assert_eq!(r.text().unwrap(), format!("/final/{i}"));
        assert_eq!(r.url().to_string(), server.url(&format!("/final/{i}")));
    }
    assert_eq!(server.total(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_hop_is_retried_and_attempts_count_the_final_hop() {
    let target = TestServer::start().await;
    let flaky_target = target.url("/flaky/final/2"); // 503, 503, then 200
    let first_failures = Arc::new(AtomicUsize::new(0));
    let counter = first_failures.clone();
    // `/flaky-start`: 503 once, then a redirect to the flaky target.
    // `/start`: a redirect to the flaky target at once.
    let from = FnServer::start(move |seen| {
        let location = flaky_target.clone();
        let counter = counter.clone();
        async move {
            match seen.uri.path() {
                "/flaky-start" if counter.fetch_add(1, Ordering::SeqCst) == 0 => {
                    reply(503, "try again")
                }
                _ => redirect(302, &location),
            }
        }
    })
    .await;
    let client = client_with(quick(3));

    let resp = bounded("retried hops", client.fetch(from.url("/start")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().unwrap(), "ok final");
    assert_eq!(
        (resp.attempts(), target.hits("/flaky/final/2")),
        (3, 3),
        "(attempts(), hits of the final hop): the final hop took 3 attempts"
    );
    assert_eq!(from.total(), 1, "the redirect itself is not re-requested");

    // A flaky first hop, then a final hop that succeeds at once.
    let resp = bounded("flaky first hop", client.fetch(from.url("/flaky-start")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.attempts(),
        1,
        "attempts() counts the final hop only, not the first hop's retry"
    );
    assert_eq!(
        from.seen_path("/flaky-start").len(),
        2,
        "first hop retried once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_per_hop_are_bounded_by_the_policy() {
    let target = TestServer::start().await;
    let location = target.url("/flaky/never/100"); // always 503
    let from = FnServer::redirecting(302, location).await;
    let client = client_with(quick(2));

    let resp = bounded("exhausted hop", client.fetch(from.url("/go")))
        .await
        .unwrap();

    assert_eq!(resp.status(), 503, "the final hop's last response");
    assert_eq!(
        (resp.attempts(), target.hits("/flaky/never/100")),
        (3, 3),
        "(attempts(), hits of the final hop): 1 + 2 retries on the final hop"
    );
    assert_eq!(from.total(), 1);
}
