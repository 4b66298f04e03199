//! HTTP/2 `RST_STREAM(REFUSED_STREAM)` means the server did not process the
//! request: it is retried whatever the method, POST included, with the
//! default retry policy.
mod support;

use batch_fetch::{BatchClient, Request};
use support::clients::h2c_builder;
use support::{H2Mode, H2Server, bounded};

fn client() -> BatchClient {
    h2c_builder().build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_post_is_retried_by_the_default_policy() {
    let server = H2Server::start(H2Mode::RefuseFirst(2)).await;

    let resp = bounded(
        "refused post",
        client().fetch(Request::post(server.url("/submit")).body("payload-1")),
    )
    .await
    .unwrap();

    assert_eq!(resp.status(), 200);
    assert_eq!(resp.attempts(), 3, "two refusals, then served");
    assert_eq!(
        resp.text().unwrap(),
        "conn=1 method=POST path=/submit body=payload-1",
        "the retry resent method and body"
    );
    assert_eq!(server.refused(), 2);
    assert_eq!(server.log().len(), 1, "processed exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_streams_in_a_batch_are_retried() {
    let server = H2Server::start(H2Mode::RefuseFirst(5)).await;
    let reqs: Vec<Request> = (0..10)
        .map(|i| Request::post(server.url(&format!("/item/{i}"))).body(format!("body-{i}")))
        .collect();

    let resps = bounded("refused batch", client().fetch_all(reqs))
        .await
        .unwrap();

    for (i, r) in resps.iter().enumerate() {
        assert_eq!(r.status(), 200);
        assert!(
            r.text()
                .unwrap()
                .ends_with(&format!("method=POST path=/item/{i} body=body-{i}")),
            "input {i}: {}",
            r.text().unwrap()
        );
    }
    let attempts: u32 = resps.iter().map(|r| r.attempts()).sum();
    assert_eq!(server.refused(), 5);
    assert_eq!(attempts, 15, "five requests needed a second attempt");
    assert!(resps.iter().any(|r| r.attempts() > 1));
    assert_eq!(server.log().len(), 10, "each processed exactly once");
}
