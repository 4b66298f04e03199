//! The crypto provider behind every TLS connection.
//!
//! aws-lc-rs by default, as rustls itself defaults to: it offers the
//! post-quantum hybrid key exchange X25519MLKEM768 (first, ahead of
//! X25519), which ring does not implement. The `ring` feature (with the
//! default features off) switches to ring: a smaller build with no C
//! toolchain step of its own, but classical key exchange only. Neither
//! feature: the provider the program installed with
//! `rustls::crypto::CryptoProvider::install_default`.
//!
//! Named here rather than taken from the process-wide default, which
//! rustls cannot pick when a dependency tree enables both providers.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

use crate::error::Error;

/// The provider of this build.
pub(super) fn provider() -> Result<Arc<CryptoProvider>, Error> {
    #[cfg(feature = "aws-lc-rs")]
    {
        Ok(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
    }
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    {
        Ok(Arc::new(rustls::crypto::ring::default_provider()))
    }
    #[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
    {
        CryptoProvider::get_default().cloned().ok_or_else(|| {
            Error::config(
                "no TLS crypto provider: enable the `aws-lc-rs` or `ring` feature, \
                 or install one with rustls's CryptoProvider::install_default",
            )
        })
    }
}
