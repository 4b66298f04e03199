//! Status as failure: `Response::error_for_status()` (and `_ref`) turn a
//! `4xx`/`5xx` into an error of kind `Status` naming the status, URL and
//! attempts; the builder's `error_for_status(true)` does it for every
//! final response (after its retries), so a fail-fast batch stops at one
//! and a settled batch keeps it in its input's place.

use crate::support::clients::{builder, quick};
use crate::support::{TestServer, bounded};
use batch_fetch::ErrorKind;
use http::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_for_status_turns_4xx_and_5xx_into_errors() {
    let server = TestServer::start().await;
    let client = builder().retry(quick(0)).build().unwrap();

    for code in [200u16, 204, 301, 399] {
        let res = bounded("ok", client.fetch(server.url(&format!("/status/{code}"))))
            .await
            .unwrap();
        assert!(res.error_for_status_ref().is_ok(), "{code}");
        assert_eq!(res.error_for_status().unwrap().status().as_u16(), code);
    }
    for code in [400u16, 404, 418, 500, 503, 599] {
        let url = server.url(&format!("/status/{code}"));
        let res = bounded("error", client.fetch(url.as_str())).await.unwrap();
        let by_ref = res.error_for_status_ref().unwrap_err();
        let err = res.error_for_status().unwrap_err();
        for e in [&by_ref, &err] {
            assert_eq!(e.kind(), ErrorKind::Status, "{e}");
            assert_eq!(e.status(), Some(StatusCode::from_u16(code).unwrap()));
            assert_eq!(
                e.url().map(ToString::to_string).as_deref(),
                Some(url.as_str())
            );
            assert_eq!(e.attempts(), 1);
            assert!(e.to_string().contains(&code.to_string()), "{e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builder_setting_fails_final_statuses_after_their_retries() {
    let server = TestServer::start().await;
    let client = builder()
        .retry(quick(2))
        .error_for_status(true)
        .build()
        .unwrap();
    let urls = vec![
        server.url("/id/0"),
        server.url("/status/404"),
        // 503 twice, then 200: the retries make it a success.
        server.url("/flaky/status-a/2"),
        // 503 more often than the retries allow: a Status error after 3.
        server.url("/flaky/status-b/9"),
    ];

    let results = bounded("settled", client.fetch_all_settled(&urls)).await;
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].as_ref().unwrap().text().unwrap(), "0");
    let e = results[1].as_ref().unwrap_err();
    assert_eq!(
        (e.kind(), e.status(), e.index()),
        (ErrorKind::Status, Some(StatusCode::NOT_FOUND), Some(1))
    );
    assert_eq!(e.attempts(), 1, "a 404 is not retried: {e}");
    let ok = results[2].as_ref().unwrap();
    assert_eq!((ok.status(), ok.attempts()), (StatusCode::OK, 3));
    let e = results[3].as_ref().unwrap_err();
    assert_eq!(
        (e.kind(), e.status(), e.index()),
        (
            ErrorKind::Status,
            Some(StatusCode::SERVICE_UNAVAILABLE),
            Some(3)
        )
    );
    assert_eq!(e.attempts(), 3, "{e}");
    assert!(e.timings().is_some());

    // Fail-fast stops at the first one.
    let e = bounded("fail-fast", client.fetch_all([server.url("/status/500")]))
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.index()), (ErrorKind::Status, Some(0)));

    // Off by default: every status is a response.
    let plain = builder().retry(quick(0)).build().unwrap();
    let res = bounded("default", plain.fetch(server.url("/status/404"))).await;
    assert_eq!(res.unwrap().status(), StatusCode::NOT_FOUND);
}
