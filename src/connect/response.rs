//! The client's response, whichever pool sent its request: its future,
//! and its body (hyper-util's, or one that carries its connection back to
//! our pool).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use super::pool::{self, HeldBody};
use super::stranded;
use crate::error::BoxError;

/// The body of a response from the client.
pub(crate) enum ResponseBody {
    /// From hyper-util's pool.
    Pooled(Incoming),
    /// From our own (see `pool`).
    Held(HeldBody),
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ResponseBody::Pooled(body) => Pin::new(body).poll_frame(cx),
            ResponseBody::Held(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Pooled(body) => body.is_end_stream(),
            ResponseBody::Held(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Pooled(body) => body.size_hint(),
            ResponseBody::Held(body) => body.size_hint(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The client's response future.
    #[project = SendingProj]
    pub(crate) enum Sending {
        /// Through hyper-util's pool, watched for a stranded request.
        Pooled { #[pin] sent: stranded::Sent },
        /// Through our own.
        Own { sent: pool::Sending },
    }
}

impl Future for Sending {
    type Output = Result<http::Response<ResponseBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match self.project() {
            SendingProj::Pooled { sent } => {
                ready!(sent.poll(cx)).map(|res| res.map(ResponseBody::Pooled))
            }
            SendingProj::Own { sent } => {
                ready!(sent.as_mut().poll(cx)).map(|res| res.map(ResponseBody::Held))
            }
        })
    }
}
