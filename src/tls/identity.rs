//! [`Identity`]: the client's own certificate and key, for servers that
//! ask for one (mutual TLS).

use std::fmt;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;

/// A client certificate chain and its private key, presented to servers
/// that require one (mutual TLS); set with
/// [`identity`](crate::BatchClientBuilder::identity).
///
/// ```no_run
/// use batch_fetch::{BatchClient, Identity};
///
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// // The certificate (then any intermediates) and the key, in one file.
/// let pem = std::fs::read("/etc/service/client.pem")?;
/// let client = BatchClient::builder()
///     .identity(Identity::from_pem(&pem)?)
///     .build()?;
/// # drop(client); Ok(()) }
/// ```
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Identity {
    /// Reads the certificate chain (the client's certificate first, then
    /// its intermediates) and the private key (PKCS#8, PKCS#1 RSA or SEC1
    /// EC) from one PEM; two files' contents joined serve as well.
    ///
    /// # Errors
    ///
    /// An error of kind [`Config`](crate::ErrorKind::Config) if `pem` lacks
    /// a certificate or a key, or has a damaged section. Whether the key
    /// fits the certificate is checked by
    /// [`build()`](crate::BatchClientBuilder::build).
    pub fn from_pem(pem: &[u8]) -> Result<Identity, Error> {
        let chain = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::config(format!("identity PEM: {e}")))?;
        if chain.is_empty() {
            return Err(Error::config("identity PEM: no certificate in it"));
        }
        let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
            Error::config(format!("identity PEM: no usable private key in it ({e})"))
        })?;
        Ok(Identity { chain, key })
    }

    /// The chain and a copy of the key, for a rustls configuration.
    pub(crate) fn parts(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (self.chain.clone(), self.key.clone_key())
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        let (chain, key) = self.parts();
        Identity { chain, key }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn a_pem_without_key_or_certificate_is_a_config_error() {
        let err = Identity::from_pem(b"").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let key_only = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let err = Identity::from_pem(key_only).unwrap_err();
        assert!(err.to_string().contains("no certificate"), "{err}");
        let cert_only = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let err = Identity::from_pem(cert_only).unwrap_err();
        assert!(err.to_string().contains("private key"), "{err}");
    }
}
