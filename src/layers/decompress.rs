//! Response decompression, by tower-http, when a compression feature is on.
//!
//! It sits directly on the pooled client, inside body collection, so the
//! size limit counts *decoded* bytes: a small compressed body that inflates
//! without end (a "zip bomb") stops at `max_body_size` with `BodyTooLarge`
//! instead of filling memory.

#[cfg(any(
    feature = "gzip",
    feature = "deflate",
    feature = "brotli",
    feature = "zstd"
))]
mod enabled {
    use crate::connect::HttpsClient;

    /// The pooled client (or another innermost service) with decompression
    /// in front.
    pub(crate) type Decompress<S = HttpsClient> = tower_http::decompression::Decompression<S>;

    impl<B: crate::connect::OnConnection + http_body::Body> crate::connect::OnConnection
        for tower_http::decompression::DecompressionBody<B>
    {
        fn connection(&self) -> Option<&crate::connect::ConnectedAt> {
            self.get_ref().connection()
        }
    }

    /// Wraps the client; with `on == false`, bodies pass through untouched
    /// and no `Accept-Encoding` is sent.
    pub(crate) fn decompress<S>(client: S, on: bool) -> Decompress<S> {
        let layer = tower_http::decompression::Decompression::new(client);
        #[cfg(feature = "gzip")]
        let layer = layer.gzip(on);
        #[cfg(feature = "deflate")]
        let layer = layer.deflate(on);
        #[cfg(feature = "brotli")]
        let layer = layer.br(on);
        #[cfg(feature = "zstd")]
        let layer = layer.zstd(on);
        layer
    }
}

#[cfg(not(any(
    feature = "gzip",
    feature = "deflate",
    feature = "brotli",
    feature = "zstd"
)))]
mod enabled {
    use crate::connect::HttpsClient;

    /// No compression feature: the client as it is.
    pub(crate) type Decompress<S = HttpsClient> = S;

    pub(crate) fn decompress<S>(client: S, _on: bool) -> Decompress<S> {
        client
    }
}

pub(crate) use enabled::{Decompress, decompress};
