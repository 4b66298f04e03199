//! TLS settings: whom the client trusts (its built-in roots and
//! [`Certificate`]s added), who it is ([`Identity`], for mutual TLS), and
//! the rustls configuration made of them, for targets and for HTTPS
//! proxies alike.

mod certificate;
mod identity;
mod provider;
mod roots;

pub use certificate::Certificate;
pub use identity::Identity;

use std::fmt;

use crate::error::Error;

/// The TLS part of a builder.
#[derive(Clone)]
pub(crate) struct TlsSettings {
    pub(crate) extra_roots: Vec<Certificate>,
    /// The web PKI roots bundled in the binary.
    pub(crate) built_in_webpki: bool,
    /// The operating system's roots.
    pub(crate) built_in_native: bool,
    pub(crate) identity: Option<Identity>,
    /// The caller's own configuration, which replaces all of the above.
    pub(crate) preconfigured: Option<rustls::ClientConfig>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            extra_roots: Vec::new(),
            built_in_webpki: true,
            built_in_native: true,
            identity: None,
            preconfigured: None,
        }
    }
}

impl TlsSettings {
    /// The rustls configuration: TLS 1.3 and 1.2, certificates always
    /// verified against the roots trusted, the identity presented when a
    /// server asks. ALPN is left to the caller.
    pub(crate) fn client_config(&self) -> Result<rustls::ClientConfig, Error> {
        if let Some(config) = &self.preconfigured {
            return Ok(config.clone());
        }
        let roots = roots::store(&roots::Trust {
            webpki: self.built_in_webpki,
            native: self.built_in_native,
            extra: &self.extra_roots,
        })?;
        let builder = rustls::ClientConfig::builder_with_provider(provider::provider()?)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| Error::config(format!("TLS configuration: {e}")))?
            .with_root_certificates(roots);
        match &self.identity {
            Some(identity) => {
                let (chain, key) = identity.parts();
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| Error::config(format!("client identity: {e}")))
            }
            None => Ok(builder.with_no_client_auth()),
        }
    }
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("extra_roots", &self.extra_roots.len())
            .field("built_in_webpki", &self.built_in_webpki)
            .field("built_in_native", &self.built_in_native)
            .field("identity", &self.identity)
            .field("preconfigured", &self.preconfigured.is_some())
            .finish()
    }
}
