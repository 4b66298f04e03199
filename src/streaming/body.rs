//! What the layers hand to a streaming response: the mark that asks for
//! one, and the body they leave unread, with what it holds until it ends.

use std::any::Any;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::Body;

use crate::error::BoxError;
use crate::observe::RequestRecord;

/// What an attempt holds until its body ends (the gate's permits and its
/// in-flight count), type-erased: this module sits below the layers.
pub(crate) type Held = Box<dyn Any + Send>;

/// In a request's extensions: its answer's body is to be streamed to the
/// caller rather than read by the body layer.
///
/// Each attempt's copy carries the attempt's deadline, which the timeout
/// layer sets, down to the body layer, so that the body, read after the
/// head has left the layers, still ends at the deadline.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Streaming {
    pub(crate) deadline: Option<tokio::time::Instant>,
}

impl Streaming {
    /// The mark in `extensions`, to give it the attempt's deadline. Most
    /// requests have no extensions at all: for them this is a null check
    /// (`Extensions::get_mut` is not inlined).
    #[inline]
    pub(crate) fn of_mut(extensions: &mut http::Extensions) -> Option<&mut Streaming> {
        if extensions.is_empty() {
            return None;
        }
        extensions.get_mut::<Streaming>()
    }

    /// The mark in `extensions` (see [`of_mut`](Self::of_mut)).
    #[inline]
    pub(crate) fn of(extensions: &http::Extensions) -> Option<Streaming> {
        if extensions.is_empty() {
            return None;
        }
        extensions.get::<Streaming>().copied()
    }
}

/// A body as the layers leave it: limited, timed, decoded.
pub(crate) type BoxedBody = Pin<Box<dyn Body<Data = Bytes, Error = BoxError> + Send>>;

/// In the extensions of a response whose body was left unread: the body,
/// for the caller to take, and where the layers above the body layer put
/// what the attempt holds until the body ends (the gate's permits).
///
/// Shared (an `Arc`), because `http::Extensions` wants its values to be
/// `Clone` and `Sync`; only one holder ever takes the body out.
#[derive(Clone)]
pub(crate) struct BodySlot(Arc<Mutex<Option<OpenBody>>>);

impl BodySlot {
    pub(crate) fn new(body: BoxedBody, record: Option<RequestRecord>) -> Self {
        BodySlot(Arc::new(Mutex::new(Some(OpenBody {
            body,
            held: Vec::new(),
            record,
        }))))
    }

    /// Keeps `held` until the body ends or is dropped.
    pub(crate) fn hold(&self, held: Held) {
        if let Some(open) = self.lock().as_mut() {
            open.held.push(held);
        }
    }

    /// The body, once.
    pub(crate) fn take(&self) -> Option<OpenBody> {
        self.lock().take()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<OpenBody>> {
        // Nothing in it can be left half-changed by a panic.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for BodySlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodySlot").finish_non_exhaustive()
    }
}

/// A body not read yet, and what it keeps until it is dropped: what its
/// attempt holds, and its input's record (for the error of a body that
/// fails).
pub(crate) struct OpenBody {
    body: BoxedBody,
    held: Vec<Held>,
    record: Option<RequestRecord>,
}

impl OpenBody {
    /// The next chunk of data (trailers and empty chunks skipped), or
    /// `None` at the end.
    pub(crate) fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, BoxError>>> {
        loop {
            match ready!(self.body.as_mut().poll_frame(cx)) {
                None => return Poll::Ready(None),
                Some(Err(err)) => return Poll::Ready(Some(Err(err))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
            }
        }
    }

    pub(crate) fn record(&self) -> Option<&RequestRecord> {
        self.record.as_ref()
    }
}
