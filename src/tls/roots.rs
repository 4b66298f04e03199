//! The roots a client trusts: the web PKI roots bundled in the binary
//! (webpki-roots), the operating system's (rustls-native-certs: on Linux
//! the distribution's bundle, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when
//! set), and the caller's own.

use std::ffi::OsString;
use std::sync::{Arc, Mutex};

use rustls::RootCertStore;
use rustls::pki_types::TrustAnchor;

use super::Certificate;
use crate::error::Error;

/// Which roots to trust.
pub(super) struct Trust<'a> {
    pub(super) webpki: bool,
    pub(super) native: bool,
    pub(super) extra: &'a [Certificate],
}

/// The store of every root `trust` names.
///
/// # Errors
///
/// A configuration error when it comes out empty: no certificate could
/// then be verified, and every request would fail alike.
pub(super) fn store(trust: &Trust<'_>) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    if trust.webpki {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if trust.native {
        roots.roots.extend(native().iter().cloned());
    }
    for certificate in trust.extra {
        // Checked when the `Certificate` was made.
        roots
            .add(certificate.der().clone())
            .map_err(|e| Error::config(format!("root certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(Error::config(
            "no root certificate to trust: the built-in roots are off, the \
             operating system has none, and none was added",
        ));
    }
    Ok(roots)
}

/// Which system bundle `rustls-native-certs` reads.
type Source = (Option<OsString>, Option<OsString>);

/// The operating system's roots, read once per process for each value of
/// `SSL_CERT_FILE` / `SSL_CERT_DIR`: reading and parsing a distribution's
/// bundle takes milliseconds, and programs build clients often (the
/// crate's tests, by the hundred). A bundle changed on disk is seen by the
/// next process.
fn native() -> Arc<Vec<TrustAnchor<'static>>> {
    static READ: Mutex<Option<(Source, Arc<Vec<TrustAnchor<'static>>>)>> = Mutex::new(None);

    let source = (
        std::env::var_os("SSL_CERT_FILE"),
        std::env::var_os("SSL_CERT_DIR"),
    );
    let mut read = READ.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((seen, roots)) = read.as_ref()
        && *seen == source
    {
        return roots.clone();
    }
    let roots = Arc::new(load());
    *read = Some((source, roots.clone()));
    roots
}

/// Reads the system's roots. What cannot be read or parsed is passed over
/// (with a warning under the `tracing` feature): a machine without a
/// bundle still has the built-in roots, and one bad file in a directory
/// of certificates must not cost the others.
fn load() -> Vec<TrustAnchor<'static>> {
    let found = rustls_native_certs::load_native_certs();
    #[cfg(feature = "tracing")]
    for err in &found.errors {
        tracing::warn!("the operating system's root certificates: {err}");
    }
    let mut roots = RootCertStore::empty();
    let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
    #[cfg(feature = "tracing")]
    if _ignored > 0 {
        tracing::warn!(
            "{_ignored} of the operating system's root certificates could not be parsed"
        );
    }
    roots.roots
}
