//! Proxies from the environment: `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`
//! and `NO_PROXY` (or lowercase), read at `build()`; `.no_proxy()` and an
//! explicit `.proxy()` ignore them.
//!
//! Environment variables are process-global, so this file holds a single
//! test. Variables are only changed outside the runtime, while no other
//! thread of this test runs (a current-thread runtime).
mod support;

use batch_fetch::{BatchClient, BatchClientBuilder, Proxy};
use support::{ProxyServer, TestPki, TestServer, bounded};

const VARS: [&str; 9] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "REQUEST_METHOD",
];

fn clear_env() {
    for v in VARS {
        // SAFETY: no other thread reads the environment meanwhile: the
        // runtime is current-thread and not running, and this binary has
        // one test.
        unsafe { std::env::remove_var(v) };
    }
}

/// Builds a client with exactly `vars` set, then clears them again.
fn build_with(vars: &[(&str, &str)], builder: BatchClientBuilder) -> BatchClient {
    clear_env();
    for (k, v) in vars {
        // SAFETY: as in `clear_env`.
        unsafe { std::env::set_var(k, v) };
    }
    let client = builder.build().expect("build");
    clear_env();
    client
}

#[test]
fn environment_proxies_are_read_at_build() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pki = TestPki::generate();
    let (secure, plain, proxy, other, tls_proxy) = rt.block_on(async {
        (
            TestServer::start_tls(pki.server_config()).await,
            TestServer::start().await,
            ProxyServer::start().await,
            ProxyServer::start().await,
            ProxyServer::start_tls(pki.server_config_with_alpn(&[b"http/1.1"]), None).await,
        )
    });
    // Not the shared test builders: those ignore the environment.
    let base = || BatchClient::builder().add_root_certificate(pki.certificate());
    let http_url = plain.url("/id/1");
    let https_url = secure.url("/id/2");
    // Fetches both URLs; returns how many requests reached `proxy`.
    let run = |client: &BatchClient, what: &str| -> (usize, usize) {
        let before = (proxy.forwards().len(), proxy.connects().len());
        rt.block_on(async {
            let a = bounded(what, client.fetch(http_url.as_str())).await;
            assert_eq!(a.unwrap().text().unwrap(), "1", "{what}: http");
            let b = bounded(what, client.fetch(https_url.as_str())).await;
            assert_eq!(b.unwrap().text().unwrap(), "2", "{what}: https");
        });
        (
            proxy.forwards().len() - before.0,
            proxy.connects().len() - before.1,
        )
    };
    let p = proxy.url();

    // Nothing set: direct.
    let client = build_with(&[], base());
    assert_eq!(run(&client, "no variables"), (0, 0));

    // HTTP_PROXY: http only; still used after the variable is gone (read at build).
    let client = build_with(&[("HTTP_PROXY", &p)], base());
    assert_eq!(run(&client, "HTTP_PROXY"), (1, 0));

    // HTTPS_PROXY: https only, through CONNECT.
    let client = build_with(&[("HTTPS_PROXY", &p)], base());
    assert_eq!(run(&client, "HTTPS_PROXY"), (0, 1));

    // ALL_PROXY: both.
    let client = build_with(&[("ALL_PROXY", &p)], base());
    assert_eq!(run(&client, "ALL_PROXY"), (1, 1));

    // Lowercase forms.
    let client = build_with(&[("http_proxy", &p), ("https_proxy", &p)], base());
    assert_eq!(run(&client, "lowercase"), (1, 1));
    let client = build_with(&[("all_proxy", &p)], base());
    assert_eq!(run(&client, "all_proxy"), (1, 1));

    // NO_PROXY bypasses listed hosts.
    let client = build_with(&[("ALL_PROXY", &p), ("NO_PROXY", "127.0.0.1")], base());
    assert_eq!(run(&client, "NO_PROXY"), (0, 0));
    let client = build_with(&[("ALL_PROXY", &p), ("no_proxy", "127.0.0.1")], base());
    assert_eq!(run(&client, "no_proxy"), (0, 0));

    // `.no_proxy()` ignores the environment.
    let client = build_with(&[("ALL_PROXY", &p)], base().no_proxy());
    assert_eq!(run(&client, ".no_proxy()"), (0, 0));

    // An explicit proxy replaces the environment's.
    let client = build_with(&[("ALL_PROXY", &p)], base().proxy(Proxy::all(other.url())));
    assert_eq!(run(&client, "explicit proxy"), (0, 0));
    assert_eq!(other.forwards().len(), 1);
    assert_eq!(other.connects().len(), 1);

    // An `https://` proxy (TLS to the proxy itself), from HTTPS_PROXY.
    let client = build_with(&[("HTTPS_PROXY", &tls_proxy.url())], base());
    assert_eq!(run(&client, "HTTPS_PROXY=https://"), (0, 0));
    assert_eq!(tls_proxy.connects(), [secure.addr().to_string()]);
    assert_eq!(tls_proxy.handshakes(), 1);

    assert_eq!(secure.total_hits(), 11);
    assert_eq!(plain.total_hits(), 11);

    // A value the client cannot use is skipped, not fatal: `new()` must
    // not panic whatever the environment holds (it did, on `expect`).
    for bad in [
        "socks4://127.0.0.1:9",
        "ftp://127.0.0.1:9",
        "http://us@er:pw@127.0.0.1:9",
    ] {
        for var in ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"] {
            clear_env();
            // SAFETY: as in `clear_env`.
            unsafe { std::env::set_var(var, bad) };
            drop(BatchClient::new());
            drop(BatchClient::default());
        }
        // The usable variable still applies; the unusable one's requests
        // go direct.
        let client = build_with(&[("HTTP_PROXY", &p), ("HTTPS_PROXY", bad)], base());
        assert_eq!(run(&client, bad), (1, 0), "{bad}");
        // Given to the builder, it stays an error.
        let err = base()
            .proxy(Proxy::https(bad))
            .build()
            .expect_err("an unusable explicit proxy");
        assert_eq!(err.kind(), batch_fetch::ErrorKind::Config, "{bad}: {err}");
    }
    clear_env();
    clear_env();
    drop((secure, plain, proxy, other, tls_proxy));
}
