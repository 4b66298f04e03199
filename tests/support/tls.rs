//! Certificates generated at test time: a CA and a leaf signed by it, for
//! `localhost` / `127.0.0.1` or for names of the test's choosing (e.g.
//! `api.example.test`, reached through `resolve()` overrides).
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::danger::ClientCertVerifier;

/// A throw-away PKI: CA certificate (DER) and a server leaf signed by it.
pub struct TestPki {
    /// DER of the CA certificate: what `add_root_certificate` wants.
    pub ca_der: Vec<u8>,
    /// DER of the leaf (SANs `localhost`, `127.0.0.1`, or the names given
    /// to [`TestPki::for_names`]).
    pub leaf_der: Vec<u8>,
    /// PKCS#8 DER of the leaf's private key.
    pub leaf_key_der: Vec<u8>,
    /// The CA certificate, PEM: what curl's `--cacert` wants.
    pub ca_pem: String,
    /// The leaf then the CA, PEM: a chain file for servers such as nginx.
    pub chain_pem: String,
    /// The leaf's private key, PEM.
    pub leaf_key_pem: String,
    /// A client certificate (common name `batch-fetch test client`, for
    /// client authentication) signed by the CA, then its key: what
    /// `Identity::from_pem` reads.
    pub client_identity_pem: String,
}

impl TestPki {
    /// A fresh CA and a leaf for `localhost` and `127.0.0.1`.
    pub fn generate() -> TestPki {
        Self::for_names(&["localhost", "127.0.0.1"])
    }

    /// A fresh CA and a leaf whose SANs are exactly `names` (DNS names or
    /// IP addresses); the first is also its common name.
    pub fn for_names(names: &[&str]) -> TestPki {
        Self::build(names, None)
    }

    /// A fresh CA and a leaf for `localhost` and `127.0.0.1` that is valid
    /// only from January 1st of `from` to January 1st of `to` (years in
    /// the past for an expired one, in the future for one not yet valid).
    pub fn valid_between(from: i32, to: i32) -> TestPki {
        Self::build(&["localhost", "127.0.0.1"], Some((from, to)))
    }

    fn build(names: &[&str], years: Option<(i32, i32)>) -> TestPki {
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "batch-fetch test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = ca_params.self_signed(&ca_key).expect("self-sign CA");

        let leaf_key = KeyPair::generate().expect("leaf key");
        let sans: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut leaf_params = CertificateParams::new(sans).expect("leaf params");
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
        leaf_params.use_authority_key_identifier_extension = true;
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        if let Some((from, to)) = years {
            leaf_params.not_before = rcgen::date_time_ymd(from, 1, 1);
            leaf_params.not_after = rcgen::date_time_ymd(to, 1, 1);
        }
        let leaf = leaf_params
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("sign leaf");

        let client_key = KeyPair::generate().expect("client key");
        let mut client_params = CertificateParams::new(Vec::<String>::new()).expect("client");
        client_params
            .distinguished_name
            .push(DnType::CommonName, "batch-fetch test client");
        client_params.use_authority_key_identifier_extension = true;
        client_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client = client_params
            .signed_by(&client_key, &ca, &ca_key)
            .expect("sign client");

        TestPki {
            client_identity_pem: format!("{}{}", client.pem(), client_key.serialize_pem()),
            ca_der: ca.der().to_vec(),
            leaf_der: leaf.der().to_vec(),
            leaf_key_der: leaf_key.serialize_der(),
            ca_pem: ca.pem(),
            chain_pem: format!("{}{}", leaf.pem(), ca.pem()),
            leaf_key_pem: leaf_key.serialize_pem(),
        }
    }

    /// rustls server config (ring provider) presenting leaf + CA, with the
    /// given ALPN protocols, e.g. `&[b"h2", b"http/1.1"]`.
    pub fn server_config_with_alpn(&self, alpn: &[&[u8]]) -> Arc<ServerConfig> {
        self.server_config_verifying(None, alpn)
    }

    /// Server config presenting leaf + CA, with `clients` verifying client
    /// certificates (`None`: none asked for) and `alpn`.
    fn server_config_verifying(
        &self,
        clients: Option<Arc<dyn ClientCertVerifier>>,
        alpn: &[&[u8]],
    ) -> Arc<ServerConfig> {
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions");
        let builder = match clients {
            Some(verifier) => builder.with_client_cert_verifier(verifier),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(
                vec![
                    CertificateDer::from(self.leaf_der.clone()),
                    CertificateDer::from(self.ca_der.clone()),
                ],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key_der.clone())),
            )
            .expect("server cert");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// The CA, as the client takes it.
    pub fn certificate(&self) -> batch_fetch::Certificate {
        batch_fetch::Certificate::from_der(&self.ca_der).expect("the test CA")
    }

    /// Server config (with `alpn`) that requires a client certificate
    /// signed by this CA: a handshake without one fails (in TLS 1.3, by an
    /// alert the client reads after its side of the handshake).
    pub fn server_config_requiring_client_auth(&self, alpn: &[&[u8]]) -> Arc<ServerConfig> {
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.ca_der.clone()))
            .expect("the CA");
        let verifier = tokio_rustls::rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .expect("client verifier");
        self.server_config_verifying(Some(verifier), alpn)
    }

    /// Server config with ALPN `["h2", "http/1.1"]`.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.server_config_with_alpn(&[b"h2", b"http/1.1"])
    }
}
