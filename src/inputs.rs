//! What a batch can be made of: any iterator of requests, or a
//! [`Stream`](futures_core::Stream) of them wrapped in [`from_stream`].

use futures_core::Stream;
use futures_util::stream::{self, Iter};

use crate::request::IntoRequest;

/// The inputs of a batch: anything that iterates over requests (a `Vec`, a
/// slice of `String`s, a `map` over ids, ...), or a stream of requests
/// wrapped by [`from_stream`].
///
/// Inputs are pulled lazily, as capacity frees up, so an iterator over a
/// million lines of a file is never held in memory at once.
///
/// This trait is sealed.
pub trait IntoInputs: sealed::Sealed {
    #[doc(hidden)]
    type Item: IntoRequest;
    #[doc(hidden)]
    type Stream: Stream<Item = Self::Item>;
    #[doc(hidden)]
    fn into_stream(self) -> Self::Stream;
}

mod sealed {
    pub trait Sealed {}
}

impl<I> sealed::Sealed for I
where
    I: IntoIterator,
    I::Item: IntoRequest,
{
}

impl<I> IntoInputs for I
where
    I: IntoIterator,
    I::Item: IntoRequest,
{
    type Item = I::Item;
    type Stream = Iter<I::IntoIter>;

    fn into_stream(self) -> Self::Stream {
        stream::iter(self)
    }
}

/// Wraps a [`Stream`](futures_core::Stream) of requests (URLs read from a
/// file or a channel, say) so that every batch entry point accepts it; a
/// stream of `(request, path)` pairs, so that the `download` entry points
/// do.
///
/// ```
/// # async fn run() {
/// use batch_fetch::{BatchClient, from_stream};
///
/// let (tx, rx) = tokio::sync::mpsc::channel::<String>(100);
/// tokio::spawn(async move {
///     for i in 0..3 {
///         let _ = tx.send(format!("http://127.0.0.1:1/item/{i}")).await;
///     }
/// });
/// let urls = futures_util::stream::unfold(rx, |mut rx| async move {
///     rx.recv().await.map(|url| (url, rx))
/// });
/// let results = BatchClient::new().fetch_all_settled(from_stream(urls)).await;
/// assert_eq!(results.len(), 3);
/// # }
/// ```
pub fn from_stream<S: Stream>(stream: S) -> FromStream<S> {
    FromStream { stream }
}

/// A stream of requests as batch inputs; made by [`from_stream`].
#[derive(Debug)]
pub struct FromStream<S> {
    stream: S,
}

impl<S> FromStream<S> {
    /// The stream it wraps.
    pub(crate) fn into_inner(self) -> S {
        self.stream
    }
}

impl<S> sealed::Sealed for FromStream<S>
where
    S: Stream,
    S::Item: IntoRequest,
{
}

impl<S> IntoInputs for FromStream<S>
where
    S: Stream,
    S::Item: IntoRequest,
{
    type Item = S::Item;
    type Stream = S;

    fn into_stream(self) -> S {
        self.stream
    }
}
