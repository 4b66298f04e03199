//! Whom the client trusts and who it is: CAs given as PEM, a PEM bundle,
//! the built-in roots switched off, a rustls configuration of the
//! caller's own, and a client certificate for a server that requires one
//! (mutual TLS). The operating system's store, read through
//! `SSL_CERT_FILE` / `SSL_CERT_DIR`, has its own binary
//! (tests/trust_env.rs): the environment is process-wide.

use std::sync::Arc;

use crate::support::clients::{defaults, quick};
use crate::support::{TestPki, TestServer, bounded, expect_err};
use batch_fetch::{Certificate, ErrorKind, Identity, RetryPolicy};
use http::Version;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_given_as_pem_is_trusted() {
    let pki = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config()).await;
    let ca = Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap();
    let client = defaults().add_root_certificate(ca).build().unwrap();

    let resp = bounded("pem", client.fetch(server.url("/id/1")))
        .await
        .unwrap();
    assert_eq!(resp.text().unwrap(), "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ca_of_a_pem_bundle_is_trusted() {
    let (a, b, unknown) = (
        TestPki::generate(),
        TestPki::generate(),
        TestPki::generate(),
    );
    let server_a = TestServer::start_tls(a.server_config()).await;
    let server_b = TestServer::start_tls(b.server_config()).await;
    let server_unknown = TestServer::start_tls(unknown.server_config()).await;
    // As curl's --cacert reads one: certificates one after the other,
    // with whatever text between them.
    let bundle = format!("# first\n{}\n# second\n{}", a.ca_pem, b.ca_pem);
    let cas = Certificate::from_pem_bundle(bundle.as_bytes()).unwrap();
    assert_eq!(cas.len(), 2);
    let client = cas
        .into_iter()
        .fold(defaults(), |builder, ca| builder.add_root_certificate(ca))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();

    let results = bounded(
        "bundle",
        client.fetch_all_settled([
            server_a.url("/id/1"),
            server_b.url("/id/2"),
            server_unknown.url("/id/3"),
        ]),
    )
    .await;
    assert_eq!(results[0].as_ref().unwrap().text().unwrap(), "1");
    assert_eq!(results[1].as_ref().unwrap().text().unwrap(), "2");
    let e = results[2].as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "a CA outside the bundle: {e}");
    assert_eq!(server_unknown.total_hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_built_in_roots_off_only_the_added_cas_are_trusted() {
    let pki = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config()).await;
    let client = defaults()
        .tls_built_in_root_certs(false)
        .add_root_certificate(pki.certificate())
        .build()
        .unwrap();
    let resp = bounded("own CA only", client.fetch(server.url("/id/5")))
        .await
        .unwrap();
    assert_eq!(resp.text().unwrap(), "5");

    let e = defaults()
        .tls_built_in_webpki_certs(false)
        .tls_built_in_native_certs(false)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
}

/// Over HTTP/1.1 and HTTP/2 alike: TLS 1.3 refuses the missing certificate
/// with an alert after the client's side of the handshake, which h2 would
/// report as a protocol error had the connection not marked it. Over
/// HTTP/2 the client's first writes race the alert: a write that fails on
/// the closed connection first waits for the socket to turn readable and
/// reads the alert (without that wait, about one attempt in ten failed as
/// `Protocol`, sometimes six in a row; and before the pool kept the
/// error of a connection that failed at its start, 9 runs of this test in
/// 30 failed as "8 connections … could not take the request").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_requiring_a_client_certificate_refuses_a_client_without_one() {
    for alpn in [&[&b"http/1.1"[..]][..], &[b"h2", b"http/1.1"]] {
        let pki = TestPki::generate();
        let server = TestServer::start_tls(pki.server_config_requiring_client_auth(alpn)).await;

        let anonymous = defaults()
            .add_root_certificate(pki.certificate())
            .retry(quick(5))
            .build()
            .unwrap();
        // Repeated: the alert and the connection's end race each other.
        for round in 0..20 {
            let e = expect_err(
                bounded("no identity", anonymous.fetch(server.url("/id/1"))).await,
                "the server requires a client certificate",
            );
            assert_eq!(e.kind(), ErrorKind::Tls, "{alpn:?}, round {round}: {e:#}");
        }
        assert_eq!(server.total_hits(), 0, "no request got through");

        let identity = Identity::from_pem(pki.client_identity_pem.as_bytes()).unwrap();
        let known = defaults()
            .add_root_certificate(pki.certificate())
            .identity(identity)
            .build()
            .unwrap();
        let results = bounded(
            "identity",
            known.fetch_all((1..=3).map(|i| server.url(&format!("/id/{i}")))),
        )
        .await
        .unwrap();
        let bodies: Vec<String> = results.iter().map(|r| r.text().unwrap()).collect();
        assert_eq!(bodies, ["1", "2", "3"]);
        assert_eq!(server.total_hits(), 3);
    }
}

#[test]
fn an_identity_whose_key_is_not_its_certificates_is_a_config_error() {
    let pki = TestPki::generate();
    let other = TestPki::generate();
    // This CA's client certificate with the other's key.
    let cert = &pki.client_identity_pem[..pki
        .client_identity_pem
        .find("-----BEGIN PRIVATE KEY-----")
        .unwrap()];
    let key = &other.client_identity_pem[other
        .client_identity_pem
        .find("-----BEGIN PRIVATE KEY-----")
        .unwrap()..];
    let mismatched = Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap();
    let e = defaults().identity(mismatched).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.to_string().contains("client identity"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preconfigured_rustls_config_is_used_with_the_clients_alpn() {
    let pki = TestPki::generate();
    let server = TestServer::start_tls(pki.server_config()).await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(pki.ca_der.clone()))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();

    let client = defaults().use_preconfigured_tls(config).build().unwrap();
    let resp = bounded("preconfigured", client.fetch(server.url("/id/9")))
        .await
        .unwrap();
    assert_eq!(resp.text().unwrap(), "9");
    assert_eq!(resp.version(), Version::HTTP_2, "ALPN is the client's");
}
