//! `BatchClientBuilder::layer`: the caller's own tower layers around each
//! attempt, inside the retries, limits and per-attempt timeout. A signing
//! layer signs every attempt of a retried request; a test double answers
//! without any server; several layers compose in the documented order
//! (the first call outermost); a layer that drops the extensions breaks
//! nothing but the attempt's timings and peer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request as HttpRequest, Response as HttpResponse};
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Service, ServiceBuilder};

use crate::support::clients::{builder, quick};
use crate::support::fn_server::{failing_first, reply};
use crate::support::{FnServer, bounded};
use batch_fetch::ErrorKind;

/// What a layer given to `BatchClientBuilder::layer` wraps.
type Attempt = BoxCloneSyncService<HttpRequest<Bytes>, HttpResponse<Bytes>, BoxError>;

/// A stand-in signature: the method, the path and the attempt's number.
fn signature(method: &http::Method, path: &str, attempt: u32) -> String {
    format!("{method} {path} #{attempt}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signing_layer_signs_every_attempt_of_a_retried_request() {
    let server = failing_first(2).await;
    let attempts = Arc::new(AtomicU32::new(0));
    let signer = {
        let attempts = attempts.clone();
        tower::util::MapRequestLayer::new(move |mut req: HttpRequest<Bytes>| {
            let n = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            let sig = signature(req.method(), req.uri().path(), n);
            let headers = req.headers_mut();
            headers.insert("x-signature", HeaderValue::try_from(sig).unwrap());
            headers.insert("x-attempt", HeaderValue::from(n));
            req
        })
    };
    let client = builder().retry(quick(3)).layer(signer).build().unwrap();

    let res = bounded("signed", client.fetch(server.url("/signed")))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.attempts(), 3);
    let seen = server.seen_path("/signed");
    assert_eq!(seen.len(), 3, "503, 503, then 200");
    for (i, attempt) in seen.iter().enumerate() {
        let n = i as u32 + 1;
        assert_eq!(
            attempt.header("x-signature"),
            Some(signature(&http::Method::GET, "/signed", n))
        );
        assert_eq!(attempt.header("x-attempt"), Some(n.to_string()));
    }
    // The client's own headers reach the layer, and on to the server.
    assert!(seen[0].header("user-agent").is_some());
    // The record went through the layer: it learnt the attempt's peer.
    assert_eq!(res.remote_addr(), Some(server.addr()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_double_answers_without_any_server() {
    // Nothing listens on port 1: only the double can answer.
    let calls = Arc::new(AtomicU32::new(0));
    let double = {
        let calls = calls.clone();
        tower::layer::layer_fn(move |_network: Attempt| {
            let calls = calls.clone();
            tower::service_fn(move |req: HttpRequest<Bytes>| {
                calls.fetch_add(1, Ordering::SeqCst);
                let path = req.uri().path().to_owned();
                async move {
                    let mut res = HttpResponse::new(Bytes::from_static(b"stub"));
                    res.headers_mut()
                        .insert("x-path", HeaderValue::try_from(path).unwrap());
                    Ok::<_, BoxError>(res)
                }
            })
        })
    };
    let client = builder().layer(double).build().unwrap();
    let results = bounded(
        "stubbed",
        client.fetch_all(["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"]),
    )
    .await
    .unwrap();
    for (res, path) in results.iter().zip(["/a", "/b"]) {
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().unwrap(), "stub");
        assert_eq!(res.headers()["x-path"], path);
        assert_eq!(res.attempts(), 1);
        assert_eq!(res.remote_addr(), None);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layers_compose_the_first_call_outermost() {
    let server = FnServer::start(|_| async { reply(200, "ok") }).await;
    // Appends `name` to the request's `x-order` on the way out, and to the
    // response's `x-trail` on the way back.
    let tag = |name: &'static str| {
        tower::layer::layer_fn(move |inner: Attempt| {
            ServiceBuilder::new()
                .map_request(move |mut req: HttpRequest<Bytes>| {
                    req.headers_mut()
                        .append("x-order", HeaderValue::from_static(name));
                    req
                })
                .map_response(move |mut res: HttpResponse<Bytes>| {
                    res.headers_mut()
                        .append("x-trail", HeaderValue::from_static(name));
                    res
                })
                .service(inner)
        })
    };
    let client = builder()
        .layer(tag("first"))
        .layer(tag("second"))
        .build()
        .unwrap();
    let res = bounded("tagged", client.fetch(server.url("/tagged")))
        .await
        .unwrap();
    let seen = server.seen_path("/tagged");
    let order: Vec<_> = seen[0]
        .headers
        .get_all("x-order")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(order, ["first", "second"], "out: the first layer first");
    let trail: Vec<_> = res
        .headers()
        .get_all("x-trail")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(trail, ["second", "first"], "back: the first layer last");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_s_time_counts_in_the_attempt_timeout() {
    let server = FnServer::start(|_| async { reply(200, "ok") }).await;
    let slow = tower::layer::layer_fn(|inner: Attempt| {
        tower::service_fn(move |req: HttpRequest<Bytes>| {
            let mut inner = inner.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                tower::ServiceExt::ready(&mut inner).await?;
                inner.call(req).await
            }
        })
    });
    let client = builder()
        .timeout(Duration::from_millis(200))
        .layer(slow)
        .build()
        .unwrap();
    let err = bounded("slow layer", client.fetch(server.url("/slow")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(server.total(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_that_drops_the_extensions_breaks_nothing_else() {
    let server = failing_first(1).await;
    let forgetful = tower::util::MapRequestLayer::new(|mut req: HttpRequest<Bytes>| {
        *req.extensions_mut() = http::Extensions::new();
        req
    });
    let client = builder().retry(quick(2)).layer(forgetful).build().unwrap();
    let res = bounded("forgetful", client.fetch(server.url("/forgot")))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.attempts(), 2);
    assert_eq!(server.seen_path("/forgot").len(), 2);
    // What only the record learns of an attempt is lost.
    assert_eq!(res.remote_addr(), None);
}
