//! Response decompression, by tower-http, when a compression feature is on.
//!
//! It sits directly on the pooled client, inside body collection, so the
//! size limit counts *decoded* bytes: a small compressed body that inflates
//! without end (a "zip bomb") stops at `max_body_size` with `BodyTooLarge`
//! instead of filling memory.
//!
//! tower-http drops `Content-Encoding` from a response it decodes; a
//! download needs to know (a decoded body cannot be resumed by ranges,
//! which count encoded bytes), so [`Encoded`] marks one first.

/// In a response's extensions: it came with a `Content-Encoding` (under
/// tower-http, which then removes the header).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Encoded;

/// Whether the response came encoded (marked, or with the header still
/// there when nothing decodes).
pub(crate) fn was_encoded(head: &http::response::Parts) -> bool {
    head.extensions.get::<Encoded>().is_some()
        || head.headers.contains_key(http::header::CONTENT_ENCODING)
}

#[cfg(any(
    feature = "gzip",
    feature = "deflate",
    feature = "brotli",
    feature = "zstd"
))]
mod enabled {
    use std::task::{Context, Poll};

    use futures_util::TryFutureExt;
    use futures_util::future::MapOk;

    use super::Encoded;
    use crate::connect::HttpsClient;

    /// The pooled client (or another innermost service) with decompression
    /// in front.
    pub(crate) type Decompress<S = HttpsClient> =
        tower_http::decompression::Decompression<NoteEncoding<S>>;

    /// Wraps the client; with `on == false`, bodies pass through untouched
    /// and no `Accept-Encoding` is sent.
    pub(crate) fn decompress<S>(client: S, on: bool) -> Decompress<S> {
        let layer = tower_http::decompression::Decompression::new(NoteEncoding { inner: client });
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

    /// Marks encoded responses with [`Encoded`].
    #[derive(Clone, Debug)]
    pub(crate) struct NoteEncoding<S> {
        inner: S,
    }

    impl<S, R, B> tower::Service<R> for NoteEncoding<S>
    where
        S: tower::Service<R, Response = http::Response<B>>,
    {
        type Response = http::Response<B>;
        type Error = S::Error;
        type Future = MapOk<S::Future, fn(http::Response<B>) -> http::Response<B>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, req: R) -> Self::Future {
            self.inner.call(req).map_ok(note as fn(_) -> _)
        }
    }

    fn note<B>(mut res: http::Response<B>) -> http::Response<B> {
        if res.headers().contains_key(http::header::CONTENT_ENCODING) {
            res.extensions_mut().insert(Encoded);
        }
        res
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
