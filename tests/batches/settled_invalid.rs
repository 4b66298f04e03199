//! Settled mode with invalid inputs mixed with good ones: exactly one result
//! per input, in order; invalid inputs fail alone with kind InvalidRequest.

use crate::support::clients::default_client;
use crate::support::{TestServer, bounded, expect_err};
use batch_fetch::ErrorKind;
use bytes::Bytes;
use http::{Request, Uri};

const INVALID: [&str; 6] = [
    "not a url",
    "ftp://x",
    "/relative",
    "",
    "http://",
    "mailto:a@b.c",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_inputs_fail_alone_in_their_slot() {
    let server = TestServer::start().await;
    let client = default_client();
    // good, bad, good, bad, ... so that every invalid input sits between good ones.
    let mut inputs = Vec::new();
    let mut expect_ok = Vec::new();
    for (k, bad) in INVALID.iter().enumerate() {
        inputs.push(server.url(&format!("/id/{}", inputs.len())));
        expect_ok.push(true);
        inputs.push(bad.to_string());
        expect_ok.push(false);
        if k % 2 == 0 {
            inputs.push(server.url(&format!("/id/{}", inputs.len())));
            expect_ok.push(true);
        }
    }

    let results = bounded("settled", client.fetch_all_settled(inputs.clone())).await;

    assert_eq!(results.len(), inputs.len(), "exactly one result per input");
    for (i, (r, ok)) in results.iter().zip(&expect_ok).enumerate() {
        if *ok {
            let resp = r.as_ref().unwrap_or_else(|e| panic!("input {i}: {e}"));
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.text().unwrap(), i.to_string(), "input {i}");
        } else {
            let e = r
                .as_ref()
                .err()
                .unwrap_or_else(|| panic!("input {i} ({:?}) must fail", inputs[i]));
            assert_eq!(
                e.kind(),
                ErrorKind::InvalidRequest,
                "input {i} ({:?}): {e}",
                inputs[i]
            );
            assert_eq!(e.index(), Some(i), "input {i}");
            assert!(!e.is_timeout() && !e.is_connect());
        }
    }
    let good = expect_ok.iter().filter(|ok| **ok).count();
    assert_eq!(server.total_hits(), good, "invalid inputs send nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_invalid_inputs_are_errors_not_panics() {
    let client = default_client();
    for bad in INVALID {
        let e = expect_err(bounded("fetch", client.fetch(bad)).await, bad);
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{bad:?}: {e}");
    }
    let e = expect_err(
        bounded("relative Uri", client.fetch(Uri::from_static("/relative"))).await,
        "relative Uri",
    );
    assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
    let r = Request::builder()
        .uri("/relative/request")
        .body(Bytes::new())
        .unwrap();
    let e = expect_err(
        bounded("relative Request", client.fetch(r)).await,
        "relative Request",
    );
    assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
    let r = Request::builder()
        .uri("ftp://example.invalid/file")
        .body(())
        .unwrap();
    let e = expect_err(bounded("ftp Request", client.fetch(r)).await, "ftp Request");
    assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_uris_and_requests_in_a_settled_batch() {
    let server = TestServer::start().await;
    let client = default_client();
    let uris = vec![
        server.uri("/id/0"),
        Uri::from_static("/relative"),
        server.uri("/id/2"),
        Uri::from_static("ftp://x/y"),
    ];
    let results = bounded("settled uris", client.fetch_all_settled(uris)).await;
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].as_ref().unwrap().text().unwrap(), "0");
    assert_eq!(
        expect_err(results[1].as_ref(), "invalid input").index(),
        Some(1)
    );
    assert_eq!(
        expect_err(results[1].as_ref(), "invalid input").kind(),
        ErrorKind::InvalidRequest
    );
    assert_eq!(results[2].as_ref().unwrap().text().unwrap(), "2");
    assert_eq!(
        expect_err(results[3].as_ref(), "invalid input").index(),
        Some(3)
    );
    assert_eq!(
        expect_err(results[3].as_ref(), "invalid input").kind(),
        ErrorKind::InvalidRequest
    );

    let reqs = vec![
        Request::get(server.url("/id/0"))
            .body(Bytes::new())
            .unwrap(),
        Request::get("/nope").body(Bytes::new()).unwrap(),
    ];
    let results = bounded("settled requests", client.fetch_all_settled(reqs)).await;
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    let e = expect_err(results[1].as_ref(), "invalid input");
    assert_eq!((e.kind(), e.index()), (ErrorKind::InvalidRequest, Some(1)));
}
