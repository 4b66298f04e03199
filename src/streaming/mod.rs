//! Streaming responses: a response handed over when its head arrives, its
//! body read by the caller chunk by chunk.
//!
//! A streaming input is a request like any other, through the same limits,
//! timeout and retries; it carries a mark ([`Streaming`], `input`) that
//! tells the body layer to hand back a `2xx` answer's head at once and
//! leave its body unread, in a [`BodySlot`] in the response's extensions
//! (`body`). On the way up, the gate puts the attempt's permits into that
//! slot instead of releasing them, so they last until the body ends or is
//! dropped; the body carries the attempt's deadline and the size limit
//! with it. Any other answer (a redirect, a status the retry policy
//! repeats, an error page) is read whole as usual, for the retry policy
//! and the redirects to judge, and handed over as one chunk.

mod body;
mod input;

pub(crate) use body::{BodySlot, OpenBody, Streaming};
pub(crate) use input::{inputs, one};

use std::fmt;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http::{HeaderMap, StatusCode, Uri, Version};

use crate::error::{BoxError, Error};
use crate::response::Response;
use crate::timings::Timings;

/// A response whose body has not been read yet: its head is here, its
/// body comes chunk by chunk, as the server sends it.
///
/// Made by [`BatchClient::fetch_streaming`](crate::BatchClient::fetch_streaming)
/// and [`fetch_stream_bodies`](crate::BatchClient::fetch_stream_bodies).
/// Read the body with [`chunk()`](Self::chunk), as a
/// [`Stream`] with [`bytes_stream()`](Self::bytes_stream), or whole with
/// [`bytes()`](Self::bytes), as with reqwest's `Response`.
///
/// Until its body ends or this is dropped, the response holds its
/// request's concurrency permits (the client's and its host's) and its
/// connection: read or drop each one promptly. The body is still bound by
/// the attempt's [`timeout`](crate::BatchClientBuilder::timeout), counted
/// from the attempt's start (a body that has not ended by then fails with
/// [`Timeout`](crate::ErrorKind::Timeout), also when it is the reader
/// that is slow), and by [`max_body_size`](crate::BatchClientBuilder::max_body_size),
/// counted in decoded bytes ([`BodyTooLarge`](crate::ErrorKind::BodyTooLarge)).
/// A body cut off by the server is a [`Protocol`](crate::ErrorKind::Protocol)
/// error. A failure in the body is not retried: the head was handed over,
/// and what was read of the body with it.
///
/// Only a `2xx` answer streams. Any other status is read whole before it
/// is handed over (within `max_body_size`), because the retry policy and
/// the redirects judge it first; its body then comes as one chunk.
pub struct StreamingResponse {
    head: http::response::Parts,
    url: Uri,
    attempts: u32,
    timings: Timings,
    remote_addr: Option<SocketAddr>,
    index: Option<usize>,
    // A mutex only to be `Sync`: every access is through `&mut self`
    // (`get_mut`), which takes no lock.
    rest: Mutex<Rest>,
}

/// What is left of the body.
enum Rest {
    Open(OpenBody),
    /// A body the layers read whole (any status but a `2xx`, or an answer
    /// of a caller's layer).
    Read(Bytes),
    Done,
}

impl StreamingResponse {
    /// `res`, the response to input `index`, with its body left unread in
    /// its extensions (or read, when it was not a `2xx`).
    pub(crate) fn from_response(res: Response, index: Option<usize>) -> Self {
        let url = res.url().clone();
        let attempts = res.attempts();
        let timings = *res.timings();
        let remote_addr = res.remote_addr();
        let (mut head, body) = res.into_http().into_parts();
        let rest = match head.extensions.remove::<BodySlot>().and_then(|s| s.take()) {
            Some(open) => Rest::Open(open),
            None => Rest::Read(body),
        };
        StreamingResponse {
            head,
            url,
            attempts,
            timings,
            remote_addr,
            index,
            rest: Mutex::new(rest),
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.head.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    /// The HTTP version of the connection that carries the response.
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// The URL that answered: the input's, or the last one of its redirects.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// How many attempts were made: 1 when the first one was kept.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The address of the peer that sent this response (the proxy's when
    /// a proxy carried the request); `None` only when the operating
    /// system could not tell.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }

    /// This response, or an error of kind [`Status`](crate::ErrorKind::Status)
    /// if its status is `4xx` or `5xx`, as
    /// [`Response::error_for_status`] says. The body is dropped with it.
    ///
    /// # Errors
    ///
    /// When the status is a client or server error.
    pub fn error_for_status(self) -> Result<Self, Error> {
        match Error::for_status(self.status(), &self.url, self.attempts, self.timings) {
            Some(err) => Err(err.with_index(self.index)),
            None => Ok(self),
        }
    }

    /// The next chunk of the body as it arrives, or `None` once the body
    /// has ended (its permits are then released). Chunks are as the
    /// connection delivers them (decoded, when the server compressed the
    /// body), never empty.
    ///
    /// ```
    /// # async fn run(mut resp: batch_fetch::StreamingResponse) -> Result<(), batch_fetch::Error> {
    /// let mut len = 0;
    /// while let Some(chunk) = resp.chunk().await? {
    ///     len += chunk.len();
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// When the body fails: [`Timeout`](crate::ErrorKind::Timeout) (the
    /// attempt's timeout passed), [`BodyTooLarge`](crate::ErrorKind::BodyTooLarge)
    /// (over `max_body_size`), [`Protocol`](crate::ErrorKind::Protocol)
    /// (cut off, or a body that cannot be decoded). The error carries the
    /// input's URL and index; the body has ended with it.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// The body as a [`Stream`] of chunks, as [`chunk()`](Self::chunk)
    /// gives them; it ends after the body's last chunk or its error.
    pub fn bytes_stream(mut self) -> impl Stream<Item = Result<Bytes, Error>> + Send + 'static {
        futures_util::stream::poll_fn(move |cx| self.poll_chunk(cx).map(Result::transpose))
    }

    /// The rest of the body, whole.
    ///
    /// # Errors
    ///
    /// As for [`chunk()`](Self::chunk).
    pub async fn bytes(mut self) -> Result<Bytes, Error> {
        let Some(first) = self.chunk().await? else {
            return Ok(Bytes::new());
        };
        let Some(second) = self.chunk().await? else {
            return Ok(first);
        };
        let mut all = BytesMut::with_capacity(first.len() + second.len());
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        while let Some(chunk) = self.chunk().await? {
            all.extend_from_slice(&chunk);
        }
        Ok(all.freeze())
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, Error>> {
        let rest = self.rest.get_mut().unwrap_or_else(PoisonError::into_inner);
        let polled = match rest {
            Rest::Open(open) => ready!(open.poll_chunk(cx)),
            Rest::Read(bytes) => {
                let bytes = std::mem::take(bytes);
                *rest = Rest::Done;
                return Poll::Ready(Ok((!bytes.is_empty()).then_some(bytes)));
            }
            Rest::Done => return Poll::Ready(Ok(None)),
        };
        match polled {
            Some(Ok(chunk)) => Poll::Ready(Ok(Some(chunk))),
            None => {
                // Ended: the permits and the connection go now.
                *rest = Rest::Done;
                Poll::Ready(Ok(None))
            }
            Some(Err(err)) => {
                let Rest::Open(open) = std::mem::replace(rest, Rest::Done) else {
                    unreachable!("polled as open just above");
                };
                Poll::Ready(Err(self.body_error(err, &open)))
            }
        }
    }

    /// A failure of the body, as an error of its input.
    fn body_error(&self, err: BoxError, open: &OpenBody) -> Error {
        let err = Error::from_stack(err, self.attempts).with_index(self.index);
        match open.record() {
            Some(record) => err
                .with_url(record.url().clone())
                .with_timings(record.timings()),
            None => err.with_url(self.url.clone()),
        }
    }
}

impl fmt::Debug for StreamingResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamingResponse")
            .field("url", &crate::error::Redacted(&self.url))
            .field("status", &self.head.status)
            .field("version", &self.head.version)
            .field("attempts", &self.attempts)
            .field("remote_addr", &self.remote_addr)
            .finish_non_exhaustive()
    }
}

// It can move to another task, or be shared: checked at compile time.
fn _assert_impls() {
    fn ok<T: Send + Sync + Unpin + 'static>() {}
    ok::<StreamingResponse>();
}
