//! The pooled client's response future, watching for a request stranded
//! on a connection that ended as it was handed over, and noting each
//! answer in its connection's record.
//!
//! hyper-util checks that a pooled HTTP/2 connection is open, then pushes
//! the request into the channel of the connection's dispatch task. If that
//! task ends in between (the connection just read a GOAWAY, or closed), the
//! channel's receiver has already been drained, and the request stays in
//! the channel unanswered: the channel lives on because the request's own
//! hold on the pooled connection keeps its sender alive. Without a watch
//! the request would wait out its whole attempt timeout.
//!
//! So a request learns which connection the pool gave it (hyper-util's
//! connection capture), and once that connection has ended and a grace
//! period has passed with no answer, it ends with [`Stranded`]. When a
//! connection ends, hyper has already failed every request it took (their
//! answers only wait for their tasks to run), so a request still waiting
//! after the grace period was never taken: it is sent again at once (see
//! `retry::classify`). The capture has a cost on every request, so a
//! client pays it only once one of its HTTP/2 connections has gone away
//! (see `record::Turnover`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::client::legacy::ResponseFuture;
use hyper_util::client::legacy::connect::CaptureConnection;
use tokio::sync::futures::OwnedNotified;
use tokio::time::Sleep;

use super::record::{ConnectedAt, Lifecycle};
use crate::error::BoxError;

/// How long a request may still wait after its connection ended before it
/// counts as never taken. hyper's answers to the requests it took are on
/// their way by then; the grace only covers their tasks getting to run.
const GRACE: Duration = Duration::from_millis(250);

/// A request left unanswered in the queue of an HTTP/2 connection that
/// ended as the request was handed to it: it was never sent.
#[derive(Debug, thiserror::Error)]
#[error("the connection the request was handed to ended before taking it (it was not sent)")]
pub(crate) struct Stranded;

pin_project_lite::pin_project! {
    /// The response future of the pooled client, with the watch above.
    pub(crate) struct Sent {
        #[pin]
        response: ResponseFuture,
        captured: Option<CaptureConnection>,
        #[pin]
        watch: Watch,
    }
}

pin_project_lite::pin_project! {
    #[project = WatchProj]
    enum Watch {
        /// The pool has not said yet which connection carries the request.
        Unknown,
        /// Carried by this connection, waiting for it to end.
        On {
            connection: Arc<Lifecycle>,
            #[pin]
            ended: OwnedNotified,
        },
        /// The connection ended; the grace period runs.
        Ended { grace: Pin<Box<Sleep>> },
        /// Not watched, or the connection's record cannot be had.
        Off,
    }
}

impl Sent {
    /// `response`, watched if the connection it is sent on is `captured`.
    pub(crate) fn new(response: ResponseFuture, captured: Option<CaptureConnection>) -> Self {
        let watch = match captured {
            Some(_) => Watch::Unknown,
            None => Watch::Off,
        };
        Sent {
            response,
            captured,
            watch,
        }
    }
}

impl Future for Sent {
    type Output = Result<http::Response<Incoming>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(result) = this.response.poll(cx) {
            if let Ok(res) = &result {
                // For the redispatch of a request lost on this connection
                // later (see `retry::classify`).
                if let Some(connected) = res.extensions().get::<ConnectedAt>() {
                    connected.lifecycle().answered();
                }
            }
            return Poll::Ready(result.map_err(Into::into));
        }
        loop {
            match this.watch.as_mut().project() {
                WatchProj::Unknown => {
                    let Some(captured) = this.captured else {
                        return Poll::Pending;
                    };
                    let connection = match captured.connection_metadata().as_ref() {
                        // Not checked out yet: the capture is set before
                        // the request is handed over, and the response
                        // future is polled again after that.
                        None => return Poll::Pending,
                        Some(connected) => {
                            let mut extras = http::Extensions::new();
                            connected.get_extras(&mut extras);
                            extras.remove::<ConnectedAt>()
                        }
                    };
                    this.watch.set(match connection {
                        Some(connection) => {
                            let connection = connection.into_lifecycle();
                            let ended = connection.on_end();
                            Watch::On { connection, ended }
                        }
                        None => Watch::Off,
                    });
                }
                WatchProj::On { connection, ended } => {
                    // The wait counts ends from its creation on, so an end
                    // between that and this check still wakes it.
                    if !connection.ended() && ended.poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.watch.set(Watch::Ended {
                        grace: Box::pin(tokio::time::sleep(GRACE)),
                    });
                }
                WatchProj::Ended { grace } => {
                    return match grace.as_mut().poll(cx) {
                        Poll::Ready(()) => Poll::Ready(Err(Box::new(Stranded))),
                        Poll::Pending => Poll::Pending,
                    };
                }
                WatchProj::Off => return Poll::Pending,
            }
        }
    }
}
