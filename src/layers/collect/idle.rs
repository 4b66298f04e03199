//! The read timeout (`read_timeout` on the builder): a body fails when no
//! bytes of it come for that long, however long the whole body takes.
//!
//! The timer is not reset for every frame, which would touch tokio's timer
//! wheel once per chunk: each frame only moves a due time, and the timer,
//! when it fires early, is set again for it.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::error::{BoxError, ErrorKind, Raised};

pin_project! {
    /// `B`, failing with a timeout when it stays silent for its read
    /// timeout (none: `B` as it is).
    pub(super) struct Idle<B> {
        #[pin]
        body: B,
        watch: Option<Box<Watch>>,
    }
}

struct Watch {
    after: Duration,
    /// When the body is silent too long, unless a frame comes first.
    due: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<B> Idle<B> {
    pub(super) fn new(body: B, after: Option<Duration>) -> Self {
        let watch = after.and_then(|after| {
            let due = Instant::now().checked_add(after)?;
            Some(Box::new(Watch {
                after,
                due,
                timer: Box::pin(tokio::time::sleep_until(due)),
            }))
        });
        Idle { body, watch }
    }
}

impl<B> Body for Idle<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, BoxError>>> {
        let this = self.project();
        // The body first: bytes that are here count, even as time runs out.
        if let Poll::Ready(frame) = this.body.poll_frame(cx) {
            if let Some(watch) = this.watch
                && let Some(due) = Instant::now().checked_add(watch.after)
            {
                watch.due = due;
            }
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let Some(watch) = this.watch else {
            return Poll::Pending;
        };
        loop {
            if watch.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if Instant::now() >= watch.due {
                let silence = watch.after;
                return Poll::Ready(Some(Err(Raised::boxed(
                    ErrorKind::Timeout,
                    format!("no bytes of the body came for {silence:?} (the read timeout)"),
                ))));
            }
            let due = watch.due;
            watch.timer.as_mut().reset(due);
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
