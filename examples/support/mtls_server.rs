//! An HTTPS server on loopback that requires a client certificate signed
//! by a given CA (rustls's `WebPkiClientVerifier`: a handshake without one
//! fails), speaks HTTP/2 or HTTP/1.1 as ALPN decides, and tells its handler
//! which client sent each request: the common name of the certificate the
//! client presented. It records each connection's client.

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

/// How long a client may take over its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server presents and whom it accepts.
pub struct ServerTls {
    /// Its certificate, then intermediates.
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The CA client certificates must chain to.
    pub client_ca: CertificateDer<'static>,
}

/// A connection that completed its handshake.
#[derive(Clone, Debug)]
pub struct Connection {
    /// Where it came from.
    pub peer: SocketAddr,
    /// The common name of the client's certificate (`None` if it had
    /// none, which the verifier does not let through).
    pub client: Option<String>,
    /// The protocol ALPN chose (`h2`, `http/1.1`).
    pub alpn: String,
}

/// What the server saw.
#[derive(Default, Debug)]
pub struct ServerStats {
    connections: Mutex<Vec<Connection>>,
    refused: AtomicUsize,
}

impl ServerStats {
    /// The connections that completed a handshake, in order.
    pub fn connections(&self) -> Vec<Connection> {
        self.connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Handshakes that failed: no client certificate, an untrusted one, or
    /// a client that did not trust the server.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

/// A running server.
pub struct MtlsServer {
    pub addr: SocketAddr,
    pub stats: Arc<ServerStats>,
}

/// Serves `handle` over mutual TLS on a free port of 127.0.0.1 until the
/// process ends; `handle` is given each request and its client's name.
pub async fn serve<F, Fut>(
    tls: ServerTls,
    handle: F,
) -> Result<MtlsServer, Box<dyn std::error::Error>>
where
    F: Fn(Request<Incoming>, Arc<str>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let acceptor = TlsAcceptor::from(Arc::new(server_config(tls)?));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(ServerStats::default());
    let seen = stats.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                // Out of file descriptors, say: wait rather than spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let (acceptor, handle, seen) = (acceptor.clone(), handle.clone(), seen.clone());
            tokio::spawn(serve_one(acceptor, stream, peer, handle, seen));
        }
    });
    Ok(MtlsServer { addr, stats })
}

/// One connection: the handshake, what it showed, then its requests.
async fn serve_one<F, Fut>(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    handle: F,
    seen: Arc<ServerStats>,
) where
    F: Fn(Request<Incoming>, Arc<str>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await else {
        seen.refused.fetch_add(1, Ordering::SeqCst);
        return;
    };
    let session = tls.get_ref().1;
    let connection = Connection {
        peer,
        client: session
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| common_name(leaf)),
        alpn: String::from_utf8_lossy(session.alpn_protocol().unwrap_or(b"none")).into_owned(),
    };
    let client: Arc<str> = connection.client.as_deref().unwrap_or("").into();
    seen.connections
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(connection);
    let service = hyper::service::service_fn(move |req| {
        let answer = handle(req, client.clone());
        async move { Ok::<_, Infallible>(answer.await) }
    });
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

/// TLS 1.3 and 1.2, a client certificate required, ALPN `h2` then
/// `http/1.1`.
fn server_config(tls: ServerTls) -> Result<ServerConfig, Box<dyn std::error::Error>> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(tls.client_ca)?;
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(tls.chain, tls.key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The subject's common name of a DER certificate: enough of X.509 to walk
/// Certificate → TBSCertificate → subject → its attributes, and no more.
fn common_name(cert: &[u8]) -> Option<String> {
    const SEQUENCE: u8 = 0x30;
    const SET: u8 = 0x31;
    const VERSION: u8 = 0xa0;
    const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03]; // 2.5.4.3
    let (cert, _) = tlv(cert, SEQUENCE)?;
    let (mut tbs, _) = tlv(cert, SEQUENCE)?;
    if tbs.first() == Some(&VERSION) {
        tbs = tlv(tbs, VERSION)?.1;
    }
    // serialNumber, signature, issuer, validity, then the subject.
    for _ in 0..4 {
        tbs = tlv(tbs, tbs.first().copied()?)?.1;
    }
    let (mut subject, _) = tlv(tbs, SEQUENCE)?;
    while !subject.is_empty() {
        let (mut set, rest) = tlv(subject, SET)?;
        subject = rest;
        while !set.is_empty() {
            let (attribute, rest) = tlv(set, SEQUENCE)?;
            set = rest;
            let (oid, value) = tlv(attribute, 0x06)?;
            if oid == COMMON_NAME {
                // UTF8String, PrintableString and the like: bytes of text.
                let (text, _) = tlv(value, value.first().copied()?)?;
                return String::from_utf8(text.to_vec()).ok();
            }
        }
    }
    None
}

/// One DER element of tag `tag` at the start of `input`: its contents and
/// what follows it. `None` if it is another tag or runs past the input.
fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        // Long form: the next 1 to 4 bytes hold the length.
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, after) = rest.split_at(count);
        rest = after;
        bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b))
    };
    if rest.len() < len {
        return None;
    }
    let (contents, after) = rest.split_at(len);
    Some((contents, after))
}
