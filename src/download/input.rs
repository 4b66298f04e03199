//! What the `download` entry points take: pairs of a request and the path
//! its body goes to, from an iterator or a stream.

use std::path::PathBuf;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;

use crate::error::Error;
use crate::inputs::{FromStream, IntoInputs, from_stream};
use crate::request::{IntoRequest, sealed::Sealed as SealedRequest};

/// The inputs of a batch of downloads: anything that iterates over
/// `(request, path)` pairs (a request as [`IntoRequest`] takes it, a path
/// as `Into<PathBuf>`), or a stream of them wrapped by
/// [`from_stream`](crate::from_stream).
///
/// ```
/// # async fn run() {
/// let client = batch_fetch::BatchClient::new();
/// let dir = std::env::temp_dir();
/// let items = ["a.bin", "b.bin"]
///     .map(|name| (format!("http://127.0.0.1:1/{name}"), dir.join(name)));
/// let results = client.download_all_settled(items).await;
/// assert_eq!(results.len(), 2);
/// # }
/// ```
///
/// This trait is sealed.
pub trait IntoDownloads: sealed::Sealed {
    #[doc(hidden)]
    type Inputs: IntoInputs;
    #[doc(hidden)]
    fn into_inputs(self) -> Self::Inputs;
}

mod sealed {
    pub trait Sealed {}

    /// One download as a batch input: its request, marked with its path.
    /// Public in a private module: nameable nowhere outside the crate.
    #[derive(Debug)]
    pub struct DownloadInput<R, P> {
        pub(super) request: R,
        pub(super) path: P,
    }
}

use sealed::DownloadInput;

/// The path of a download, in its request's extensions until the client
/// makes it a job.
#[derive(Clone, Debug)]
pub(crate) struct Target(pub(crate) PathBuf);

impl<R, P> DownloadInput<R, P> {
    fn new((request, path): (R, P)) -> Self {
        DownloadInput { request, path }
    }
}

/// One download as an input of [`BatchClient::fetch`](crate::BatchClient::fetch).
pub(crate) fn one<R: IntoRequest, P: Into<PathBuf>>(request: R, path: P) -> impl IntoRequest {
    DownloadInput { request, path }
}

impl<R: IntoRequest, P: Into<PathBuf>> SealedRequest for DownloadInput<R, P> {}

impl<R: IntoRequest, P: Into<PathBuf>> IntoRequest for DownloadInput<R, P> {
    fn into_request(self) -> Result<http::Request<Bytes>, Error> {
        let mut req = self.request.into_request()?;
        req.extensions_mut().insert(Target(self.path.into()));
        Ok(req)
    }
}

type ToInput<R, P> = fn((R, P)) -> DownloadInput<R, P>;

impl<I, R, P> sealed::Sealed for I
where
    I: IntoIterator<Item = (R, P)>,
    R: IntoRequest,
    P: Into<PathBuf>,
{
}

impl<I, R, P> IntoDownloads for I
where
    I: IntoIterator<Item = (R, P)>,
    R: IntoRequest,
    P: Into<PathBuf>,
{
    type Inputs = std::iter::Map<I::IntoIter, ToInput<R, P>>;

    fn into_inputs(self) -> Self::Inputs {
        self.into_iter().map(DownloadInput::new as ToInput<R, P>)
    }
}

impl<S, R, P> sealed::Sealed for FromStream<S>
where
    S: Stream<Item = (R, P)>,
    R: IntoRequest,
    P: Into<PathBuf>,
{
}

impl<S, R, P> IntoDownloads for FromStream<S>
where
    S: Stream<Item = (R, P)>,
    R: IntoRequest,
    P: Into<PathBuf>,
{
    type Inputs = FromStream<futures_util::stream::Map<S, ToInput<R, P>>>;

    fn into_inputs(self) -> Self::Inputs {
        from_stream(self.into_inner().map(DownloadInput::new as ToInput<R, P>))
    }
}
