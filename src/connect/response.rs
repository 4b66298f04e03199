//! The client's response future, whichever pool sends its request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use super::pool::{self, ResponseBody};
use super::stranded;
use crate::error::BoxError;

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
                ready!(sent.poll(cx)).map(|res| res.map(ResponseBody::Streams))
            }
            SendingProj::Own { sent } => ready!(sent.as_mut().poll(cx)),
        })
    }
}
