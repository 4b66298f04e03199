//! Redirects that are refused with `ErrorKind::Redirect`: loops, chains
//! longer than `redirect_limit` (default 10), and https → http unless
//! `redirect_https_downgrade(true)`. The error names the chain.

use crate::support::clients::{builder, trusting};
use crate::support::fn_server::{echo, redirect, reply};
use crate::support::{FnServer, TestPki, TestServer, bounded, expect_err};
use batch_fetch::ErrorKind;

/// `/loop/a` → `/loop/b` → `/loop/c` → `/loop/a`; `/hop/{i}/{n}` → `/hop/{i+1}/{n}`
/// until `i == n`, which answers 200.
async fn chains() -> FnServer {
    FnServer::start(|seen| async move {
        let path = seen.uri.path().to_string();
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match segs.as_slice() {
            ["loop", "a"] => redirect(302, "/loop/b"),
            ["loop", "b"] => redirect(307, "/loop/c"),
            ["loop", "c"] => redirect(301, "/loop/a"),
            ["self"] => redirect(302, "/self"),
            ["hop", i, n] => {
                let (i, n): (usize, usize) = (i.parse().unwrap(), n.parse().unwrap());
                if i >= n {
                    echo(&seen)
                } else {
                    redirect(302, &format!("/hop/{}/{n}", i + 1))
                }
            }
            _ => reply(404, "no such route"),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_is_a_redirect_error_naming_the_chain() {
    let server = chains().await;
    let client = builder().build().unwrap();

    let e = expect_err(
        bounded("loop", client.fetch(server.url("/loop/a"))).await,
        "a redirect loop",
    );

    assert_eq!(e.kind(), ErrorKind::Redirect, "{e}");
    let shown = e.to_string();
    let (a, b, c) = (
        shown.find("/loop/a"),
        shown.find("/loop/b"),
        shown.find("/loop/c"),
    );
    assert!(
        a.is_some() && b.is_some() && c.is_some(),
        "the chain is named: {shown}"
    );
    assert!(a < b && b < c, "in order: {shown}");
    assert!(shown.contains(" -> "), "as `a -> b -> c`: {shown}");
    // The loop is noticed when /loop/a comes back: 3 requests, not 10.
    assert_eq!(server.total(), 3, "{:?}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_redirect_is_a_loop() {
    let server = chains().await;
    let client = builder().build().unwrap();
    let e = expect_err(
        bounded("self loop", client.fetch(server.url("/self"))).await,
        "redirect to itself",
    );
    assert_eq!(e.kind(), ErrorKind::Redirect, "{e}");
    assert_eq!(server.total(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_hops_than_the_limit_is_a_redirect_error() {
    let server = chains().await;
    let client = builder().redirect_limit(3).build().unwrap();

    // Exactly 3 redirects: fine.
    let ok = bounded("3 hops", client.fetch(server.url("/hop/0/3")))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.url().to_string(), server.url("/hop/3/3"));

    // 4 redirects: refused after following 3, the 4th target never asked.
    let e = expect_err(
        bounded("4 hops", client.fetch(server.url("/hop/0/4"))).await,
        "over the limit",
    );
    assert_eq!(e.kind(), ErrorKind::Redirect, "{e}");
    let shown = e.to_string();
    assert!(
        shown.contains("/hop/0/4") && shown.contains("/hop/3/4") && shown.contains(" -> "),
        "the chain is named: {shown}"
    );
    let paths: Vec<String> = server.log().iter().map(|s| s.path()).collect();
    assert!(
        !paths.contains(&"/hop/4/4".to_string()),
        "no request past the limit: {paths:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_limit_is_ten_hops() {
    let server = chains().await;
    let client = builder().build().unwrap();

    let ok = bounded("10 hops", client.fetch(server.url("/hop/0/10")))
        .await
        .unwrap();
    assert_eq!(ok.url().to_string(), server.url("/hop/10/10"));

    let e = expect_err(
        bounded("11 hops", client.fetch(server.url("/hop/0/11"))).await,
        "11 redirects",
    );
    assert_eq!(e.kind(), ErrorKind::Redirect, "{e}");
}

/// A TLS server whose every path redirects to `location`.
async fn tls_redirecting_to(pki: &TestPki, location: String) -> FnServer {
    FnServer::builder()
        .tls(pki.server_config())
        .redirecting(302, location)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_http_is_refused_by_default() {
    let pki = TestPki::generate();
    let plain = TestServer::start().await;
    let secure = tls_redirecting_to(&pki, plain.url("/id/1")).await;
    let client = trusting(&pki).build().unwrap();

    let e = expect_err(
        bounded("downgrade", client.fetch(secure.url("/go"))).await,
        "https -> http",
    );

    assert_eq!(e.kind(), ErrorKind::Redirect, "{e}");
    assert_eq!(secure.total(), 1);
    assert_eq!(plain.total_hits(), 0, "nothing sent in clear text");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_http_is_followed_when_allowed() {
    let pki = TestPki::generate();
    let plain = TestServer::start().await;
    let secure = tls_redirecting_to(&pki, plain.url("/id/5")).await;
    let client = trusting(&pki)
        .redirect_https_downgrade(true)
        .build()
        .unwrap();

    let resp = bounded("downgrade allowed", client.fetch(secure.url("/go")))
        .await
        .unwrap();

    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().unwrap(), "5");
    assert_eq!(resp.url().to_string(), plain.url("/id/5"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_to_https_is_followed() {
    let pki = TestPki::generate();
    let secure = TestServer::start_tls(pki.server_config()).await;
    let plain = FnServer::redirecting(301, secure.url("/id/9")).await;
    let client = trusting(&pki).build().unwrap();

    let resp = bounded("upgrade", client.fetch(plain.url("/go")))
        .await
        .unwrap();

    assert_eq!(resp.text().unwrap(), "9");
    assert_eq!(resp.url().to_string(), secure.url("/id/9"));
}

/// A refusal reports the attempts of the hop whose response it refused,
/// read from the input's record like a response's: here the second hop,
/// which took two (a `503`, then the redirect past the limit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_counts_the_attempts_of_its_hop() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let flaky_hits = Arc::new(AtomicUsize::new(0));
    let hits = flaky_hits.clone();
    let server = FnServer::start(move |seen| {
        let hits = hits.clone();
        async move {
            match seen.uri.path() {
                "/start" => redirect(302, "/flaky"),
                "/flaky" if hits.fetch_add(1, Ordering::SeqCst) == 0 => reply(503, "busy"),
                "/flaky" => redirect(302, "/next"),
                _ => reply(404, "no such route"),
            }
        }
    })
    .await;
    let client = builder()
        .redirect_limit(1)
        .retry(crate::support::clients::quick(2))
        .build()
        .unwrap();

    let e = expect_err(
        bounded("refused", client.fetch(server.url("/start"))).await,
        "a chain past the limit",
    );

    assert_eq!(e.kind(), ErrorKind::Redirect, "{e}");
    assert_eq!(flaky_hits.load(Ordering::SeqCst), 2, "{:?}", server.log());
    assert_eq!(e.attempts(), 2, "{e}");
    assert!(e.to_string().contains("after 2 attempts"), "{e}");
}
