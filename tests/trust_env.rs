//! The operating system's trust store, as rustls-native-certs reads it on
//! Linux: a CA named only by `SSL_CERT_FILE`, or found only in
//! `SSL_CERT_DIR`, is trusted by a client with default settings, as
//! OpenSSL and curl trust it; `tls_built_in_native_certs(false)` turns the
//! store off.
//!
//! Environment variables are process-global, so this file holds a single
//! test, and they are only changed outside the runtime, while no other
//! thread of this test runs (a current-thread runtime).
#![cfg(target_os = "linux")]

mod support;

use batch_fetch::{BatchClient, BatchClientBuilder, ErrorKind, RetryPolicy};
use support::{TestPki, TestServer, bounded};

const VARS: [&str; 2] = ["SSL_CERT_FILE", "SSL_CERT_DIR"];

/// Builds a client with exactly `vars` of [`VARS`] set, then unsets them.
fn build_with(vars: &[(&str, &std::path::Path)], builder: BatchClientBuilder) -> BatchClient {
    let set = |vars: &[(&str, &std::path::Path)]| {
        for v in VARS {
            // SAFETY: no other thread reads the environment meanwhile: the
            // runtime is current-thread and not running, and this binary
            // has one test.
            unsafe { std::env::remove_var(v) };
        }
        for (k, v) in vars {
            // SAFETY: as above.
            unsafe { std::env::set_var(k, v) };
        }
    };
    set(vars);
    let client = builder.build().expect("build");
    set(&[]);
    client
}

fn base() -> BatchClientBuilder {
    BatchClient::builder().no_proxy().retry(RetryPolicy::none())
}

#[test]
fn a_ca_in_the_systems_store_is_trusted() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pki = TestPki::generate();
    let server = rt.block_on(TestServer::start_tls(pki.server_config()));
    let dir = std::env::temp_dir().join(format!("batch-fetch-trust-{}", std::process::id()));
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    let file = dir.join("ca.pem");
    std::fs::write(&file, &pki.ca_pem).unwrap();
    std::fs::write(store.join("company-ca.pem"), &pki.ca_pem).unwrap();

    let fetch = |client: BatchClient, path: &str| {
        let url = server.url(path);
        rt.block_on(bounded("fetch", async move { client.fetch(url).await }))
    };

    // Not trusted while no store names it.
    let e = fetch(build_with(&[], base()), "/id/0").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");

    let client = build_with(&[("SSL_CERT_FILE", &file)], base());
    assert_eq!(fetch(client, "/id/1").unwrap().text().unwrap(), "1");

    let client = build_with(&[("SSL_CERT_DIR", &store)], base());
    assert_eq!(fetch(client, "/id/2").unwrap().text().unwrap(), "2");

    // The store switched off: refused again, the variable notwithstanding.
    let client = build_with(
        &[("SSL_CERT_FILE", &file)],
        base().tls_built_in_native_certs(false),
    );
    let e = fetch(client, "/id/3").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");

    // Only the store: the bundled roots off, the CA still found.
    let client = build_with(
        &[("SSL_CERT_FILE", &file)],
        base().tls_built_in_webpki_certs(false),
    );
    assert_eq!(fetch(client, "/id/4").unwrap().text().unwrap(), "4");

    assert_eq!(
        server.total_hits(),
        3,
        "nothing sent over refused handshakes"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
