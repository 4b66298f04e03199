//! Reading a body as asked can fail without the fetch failing:
//! `Response::text()` of a body that is not UTF-8 is an error of kind
//! `Decode` that names the URL.

use crate::support::clients::default_client;
use crate::support::{TestServer, bounded, expect_err};
use batch_fetch::ErrorKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_of_invalid_utf8_is_a_decode_error() {
    let server = TestServer::start().await;
    let resp = bounded("utf8", default_client().fetch(server.url("/invalid-utf8")))
        .await
        .expect("the fetch itself succeeds");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body().len(), 4, "the raw bytes are kept");

    let e = expect_err(resp.text(), "not UTF-8");

    assert_eq!(e.kind(), ErrorKind::Decode, "{e}");
    assert_eq!(
        e.url().map(|u| u.to_string()),
        Some(server.url("/invalid-utf8"))
    );
    assert!(std::error::Error::source(&e).is_some(), "the cause is kept");
}
