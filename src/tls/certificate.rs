//! [`Certificate`]: a certificate authority to trust.

use std::fmt;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::error::Error;

/// A certificate authority the client trusts besides its built-in roots
/// (a company's private CA, a test CA), given to
/// [`add_root_certificate`](crate::BatchClientBuilder::add_root_certificate).
///
/// Each constructor checks that the certificate can serve as a root, so a
/// wrong file is reported where it is read, not at the first request.
///
/// ```no_run
/// use batch_fetch::{BatchClient, Certificate};
///
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let pem = std::fs::read("/etc/company/ca.pem")?;
/// let client = BatchClient::builder()
///     .add_root_certificate(Certificate::from_pem(&pem)?)
///     .build()?;
/// # drop(client); Ok(()) }
/// ```
#[derive(Clone)]
pub struct Certificate {
    der: CertificateDer<'static>,
}

impl Certificate {
    /// A certificate in DER (binary) form.
    ///
    /// # Errors
    ///
    /// An error of kind [`Config`](crate::ErrorKind::Config) if `der` is no
    /// X.509 certificate usable as a root.
    pub fn from_der(der: &[u8]) -> Result<Certificate, Error> {
        Certificate::checked(CertificateDer::from(der.to_vec()))
    }

    /// The first certificate of a PEM file (`-----BEGIN CERTIFICATE-----`);
    /// other sections (a key, say) are passed over.
    ///
    /// # Errors
    ///
    /// An error of kind [`Config`](crate::ErrorKind::Config) if `pem` holds
    /// no certificate, or its first is not usable as a root.
    pub fn from_pem(pem: &[u8]) -> Result<Certificate, Error> {
        let der = CertificateDer::from_pem_slice(pem)
            .map_err(|e| Error::config(format!("PEM certificate: {e}")))?;
        Certificate::checked(der)
    }

    /// Every certificate of a PEM bundle (as `curl --cacert` reads one: a
    /// file of several CAs, one after the other).
    ///
    /// # Errors
    ///
    /// An error of kind [`Config`](crate::ErrorKind::Config) if `pem` holds
    /// no certificate, a damaged section, or one not usable as a root (it
    /// is named by its place in the bundle).
    pub fn from_pem_bundle(pem: &[u8]) -> Result<Vec<Certificate>, Error> {
        let mut certificates = Vec::new();
        for (i, der) in CertificateDer::pem_slice_iter(pem).enumerate() {
            let der =
                der.map_err(|e| Error::config(format!("PEM bundle, certificate #{}: {e}", i + 1)))?;
            let certificate = Certificate::checked(der)
                .map_err(|e| Error::config(format!("PEM bundle, certificate #{}: {e}", i + 1)))?;
            certificates.push(certificate);
        }
        if certificates.is_empty() {
            return Err(Error::config("PEM bundle: no certificate in it"));
        }
        Ok(certificates)
    }

    /// `der` if rustls can take it as a trust anchor.
    fn checked(der: CertificateDer<'static>) -> Result<Certificate, Error> {
        RootCertStore::empty()
            .add(der.clone())
            .map_err(|e| Error::config(format!("certificate not usable as a root: {e}")))?;
        Ok(Certificate { der })
    }

    pub(crate) fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("der_len", &self.der.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn garbage_is_a_config_error_never_a_panic() {
        for bad in [&b""[..], b"not a certificate", &[0x30, 0x82, 0xff, 0xff]] {
            let err = Certificate::from_der(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            let err = Certificate::from_pem(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            let err = Certificate::from_pem_bundle(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
        }
        let damaged = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let err = Certificate::from_pem_bundle(damaged).unwrap_err();
        assert!(err.to_string().contains("#1"), "{err}");
    }
}
