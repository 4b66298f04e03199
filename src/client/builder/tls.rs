//! The builder's TLS settings: the roots it trusts, the identity it
//! presents, or a rustls configuration of the caller's own.

use super::BatchClientBuilder;
use crate::tls::{Certificate, Identity};

impl BatchClientBuilder {
    /// Trusts a certificate authority besides the built-in roots: a
    /// company's private CA, say. Can be called more than once; for a PEM
    /// bundle, once per [`Certificate::from_pem_bundle`] entry.
    ///
    /// Default is none. Certificates are always verified. A proxy reached
    /// over TLS (`https://` proxy URLs) is verified against the same
    /// roots.
    pub fn add_root_certificate(mut self, certificate: Certificate) -> Self {
        self.tls.extra_roots.push(certificate);
        self
    }

    /// Whether to trust the built-in roots: the operating system's and the
    /// web PKI roots bundled in the binary (both switches below at once).
    /// With `false`, only the certificates of
    /// [`add_root_certificate`](Self::add_root_certificate) are trusted.
    ///
    /// Default is `true`.
    pub fn tls_built_in_root_certs(mut self, enabled: bool) -> Self {
        self.tls.built_in_webpki = enabled;
        self.tls.built_in_native = enabled;
        self
    }

    /// Whether to trust the web PKI roots bundled in the binary (Mozilla's
    /// list, from the `webpki-roots` crate): what makes public sites work
    /// on a machine without a trust store.
    ///
    /// Default is `true`.
    pub fn tls_built_in_webpki_certs(mut self, enabled: bool) -> Self {
        self.tls.built_in_webpki = enabled;
        self
    }

    /// Whether to trust the operating system's roots, read when the client
    /// is built (with `rustls-native-certs`), so that a corporate or
    /// internal CA installed on the machine just works. On Linux these are
    /// the distribution's bundle, or the files `SSL_CERT_FILE` and
    /// `SSL_CERT_DIR` name when set (as OpenSSL and curl read them). A
    /// store that cannot be read is passed over (with a warning under the
    /// `tracing` feature).
    ///
    /// Default is `true`.
    pub fn tls_built_in_native_certs(mut self, enabled: bool) -> Self {
        self.tls.built_in_native = enabled;
        self
    }

    /// Presents `identity` (a client certificate and its key) to servers
    /// that ask for one: mutual TLS. Proxies reached over TLS are offered
    /// it too.
    ///
    /// Default is none.
    pub fn identity(mut self, identity: Identity) -> Self {
        self.tls.identity = Some(identity);
        self
    }

    /// Uses `config` for every TLS connection, in place of the settings
    /// above (roots, identity): for what they do not cover (a custom
    /// verifier, certificate pinning, session settings, another crypto
    /// provider). Its ALPN protocols are set by the client (`h2` and
    /// `http/1.1` as [`http1_only`](Self::http1_only) and
    /// [`http2_prior_knowledge`](Self::http2_prior_knowledge) allow;
    /// `http/1.1` to proxies).
    ///
    /// The type is rustls 0.23's, which this crate's API thereby includes:
    /// a rustls of another semver-incompatible version does not fit.
    pub fn use_preconfigured_tls(mut self, config: rustls::ClientConfig) -> Self {
        self.tls.preconfigured = Some(config);
        self
    }
}
