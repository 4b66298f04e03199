//! The body of a streaming answer, left unread for the caller (see
//! `crate::streaming`) with what the body layer would have applied to it:
//! the size limit, the attempt's deadline, and the phases' record.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Limited;
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::timeout::error::Elapsed;

use super::limits;
use super::phases::Stopwatch;
use crate::error::BoxError;
use crate::observe::RequestRecord;
use crate::streaming::{BodySlot, Streaming};

/// The head of a streaming answer, its body in a [`BodySlot`] in its
/// extensions for the layers above to add to and the caller to read.
pub(super) fn hand_over<B>(
    mut head: http::response::Parts,
    body: B,
    limit: usize,
    mark: Streaming,
    stopwatch: Stopwatch,
    record: Option<RequestRecord>,
) -> http::Response<Bytes>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    if let Some(record) = &record {
        stopwatch.head_done(record);
    }
    let body = Unread {
        body: Limited::new(body, limit),
        limit,
        deadline: mark
            .deadline
            .map(|at| Box::pin(tokio::time::sleep_until(at))),
        phases: record.clone().map(|record| (stopwatch, record)),
    };
    super::detach::headers(&mut head.headers);
    head.extensions
        .insert(BodySlot::new(Box::pin(body), record));
    http::Response::from_parts(head, Bytes::new())
}

pin_project! {
    /// A body within its limit and its attempt's deadline; its phases are
    /// written down when it ends.
    struct Unread<B> {
        #[pin]
        body: Limited<B>,
        limit: usize,
        deadline: Option<Pin<Box<Sleep>>>,
        // Taken when the body ends.
        phases: Option<(Stopwatch, RequestRecord)>,
    }
}

impl<B> Body for Unread<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        // The body first: data that is here counts, even as time runs out.
        let polled = match this.body.poll_frame(cx) {
            Poll::Ready(frame) => frame.map(|f| f.map_err(|e| limits::body_error(e, *this.limit))),
            Poll::Pending => {
                let passed = this
                    .deadline
                    .as_mut()
                    .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
                if !passed {
                    return Poll::Pending;
                }
                Some(Err(Elapsed::new().into()))
            }
        };
        if !matches!(polled, Some(Ok(_)))
            && let Some((stopwatch, record)) = this.phases.take()
        {
            stopwatch.body_done(&record);
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
