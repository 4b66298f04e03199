//! What a fresh TLS connection costs with this build's crypto provider:
//! one request per iteration over a new connection (no pooling, no
//! session resumption: a full handshake each time), against a loopback
//! TLS server in the same process using the same provider, so that
//! aws-lc-rs negotiates its post-quantum hybrid X25519MLKEM768 and ring
//! X25519.
//!
//! Compare the providers in one sitting:
//!
//! ```text
//! cargo bench --bench tls_handshake
//! cargo bench --bench tls_handshake --no-default-features --features ring
//! ```

#[path = "../tests/support/tls.rs"]
#[allow(dead_code)]
mod tls;

use std::sync::Arc;

use batch_fetch::BatchClient;
use criterion::{Criterion, criterion_group, criterion_main};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PROVIDER: &str = if cfg!(feature = "aws-lc-rs") {
    "aws-lc-rs"
} else {
    "ring"
};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    #[cfg(feature = "aws-lc-rs")]
    return Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    #[cfg(not(feature = "aws-lc-rs"))]
    return Arc::new(rustls::crypto::ring::default_provider());
}

/// A TLS server that answers each connection's one request and closes it;
/// it keeps no sessions and sends no tickets, so no handshake resumes.
async fn server(pki: &tls::TestPki) -> String {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(pki.leaf_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.leaf_key_der.clone())),
        )
        .unwrap();
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://localhost:{}/",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk).await {
                        Ok(n @ 1..) => buf.extend_from_slice(&chunk[..n]),
                        _ => return,
                    }
                }
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    url
}

fn handshake(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pki = tls::TestPki::generate();
    let url = rt.block_on(server(&pki));
    let client = BatchClient::builder()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .add_root_certificate(pki.certificate())
        .pool_max_idle_per_host(0)
        .http1_only()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("tls_handshake");
    group.bench_function(format!("full_handshake_and_request/{PROVIDER}"), |b| {
        b.to_async(&rt).iter(|| async {
            let res = client.fetch(url.as_str()).await.unwrap();
            assert_eq!(res.body().as_ref(), b"ok");
        })
    });
    group.finish();
}

criterion_group!(benches, handshake);
criterion_main!(benches);
