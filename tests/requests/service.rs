//! `BatchClient` as a tower `Service`: one fetch through the whole stack
//! for any input `fetch` takes, always ready, usable by value, by
//! reference and inside a `ServiceBuilder` composition.

use std::task::{Context, Poll, Waker};

use crate::support::clients::{client, quick};
use crate::support::{TestServer, bounded};
use batch_fetch::{BatchClient, Error, ErrorKind, Request, Response};
use http::StatusCode;
use tower::{Service, ServiceBuilder, ServiceExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oneshot_fetches_every_kind_of_input() {
    let server = TestServer::start().await;
    let client = client();

    let res = bounded("&str", client.clone().oneshot(server.url("/id/1").as_str()))
        .await
        .unwrap();
    assert_eq!(res.text().unwrap(), "1");
    let http_req = http::Request::get(server.url("/id/2")).body(()).unwrap();
    let res = bounded("http::Request", client.clone().oneshot(http_req))
        .await
        .unwrap();
    assert_eq!(res.text().unwrap(), "2");
    let res = bounded(
        "Request",
        client.clone().oneshot(Request::get(server.url("/id/3"))),
    )
    .await
    .unwrap();
    assert_eq!(res.text().unwrap(), "3");
    assert_eq!(res.url().to_string(), server.url("/id/3"));

    // A bad input is the call's error, not a panic.
    let err = bounded("bad input", client.oneshot("not a url"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_builder_composition_runs_the_whole_stack() {
    let server = TestServer::start().await;
    // Retries are the client's: the composition sees the final answer.
    let client = crate::support::clients::client_with(quick(3));
    let statuses = ServiceBuilder::new()
        .map_response(|res: Response| (res.status(), res.attempts()))
        .map_err(|err: Error| err.kind())
        .service(client);
    let got = bounded(
        "flaky through the composition",
        statuses.clone().oneshot(server.url("/flaky/composed/2")),
    )
    .await;
    assert_eq!(got, Ok((StatusCode::OK, 3)));
    assert_eq!(server.hits("/flaky/composed/2"), 3);
    let got = bounded("bad input", statuses.oneshot("ftp://x/")).await;
    assert_eq!(got, Err(ErrorKind::InvalidRequest));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_is_a_service_too_and_always_ready() {
    let server = TestServer::start().await;
    let client: BatchClient = client();
    let mut cx = Context::from_waker(Waker::noop());
    let mut by_ref = &client;
    assert!(matches!(
        Service::<&str>::poll_ready(&mut by_ref, &mut cx),
        Poll::Ready(Ok(()))
    ));
    let mut by_value = client.clone();
    assert!(matches!(
        Service::<String>::poll_ready(&mut by_value, &mut cx),
        Poll::Ready(Ok(()))
    ));

    // Many calls at once, without a clone per call; the future owns what
    // it needs, so it can be spawned.
    let futures: Vec<_> = (0..5)
        .map(|i| by_ref.call(server.url(&format!("/id/{i}"))))
        .collect();
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    for (i, handle) in handles.into_iter().enumerate() {
        let res = bounded("spawned", handle).await.unwrap().unwrap();
        assert_eq!(res.text().unwrap(), i.to_string());
    }
}
