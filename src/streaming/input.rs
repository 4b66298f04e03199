//! Inputs marked for streaming: any input of the other entry points,
//! wrapped so that its request carries the [`Streaming`] mark.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use pin_project_lite::pin_project;

use super::Streaming;
use crate::error::Error;
use crate::inputs::{FromStream, IntoInputs, from_stream};
use crate::request::{IntoRequest, sealed::Sealed};

/// An input whose answer's body is streamed.
#[derive(Debug)]
pub(crate) struct Streamed<R>(R);

impl<R: IntoRequest> Sealed for Streamed<R> {}

impl<R: IntoRequest> IntoRequest for Streamed<R> {
    fn into_request(self) -> Result<http::Request<Bytes>, Error> {
        let mut req = self.0.into_request()?;
        req.extensions_mut().insert(Streaming::default());
        Ok(req)
    }
}

/// One streaming input.
pub(crate) fn one<R: IntoRequest>(req: R) -> Streamed<R> {
    Streamed(req)
}

/// Every input of `reqs`, marked.
pub(crate) fn inputs<I: IntoInputs>(reqs: I) -> FromStream<Marked<I::Stream>> {
    from_stream(Marked {
        inputs: reqs.into_stream(),
    })
}

pin_project! {
    /// The inputs of a stream, marked. (A type of its own rather than a
    /// `map` with a function pointer, whose type would name the input
    /// type and so need it to be `'static` where only the stream is.)
    #[derive(Debug)]
    pub(crate) struct Marked<S> {
        #[pin]
        inputs: S,
    }
}

impl<S: Stream> Stream for Marked<S> {
    type Item = Streamed<S::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.project()
            .inputs
            .poll_next(cx)
            .map(|input| input.map(Streamed))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inputs.size_hint()
    }
}
