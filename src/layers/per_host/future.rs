//! The response future of [`PerHostLimit`](super::PerHostLimit).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

type Boxed<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

pin_project! {
    /// Either the inner future as it is (no per-host limit), or one that
    /// first waits for the host's permit and holds it to the end.
    pub(crate) struct ResponseFuture<F, T, E> {
        #[pin]
        kind: Kind<F, T, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, T, E> {
        Direct { #[pin] future: F },
        // Boxed: only used when a per-host limit is set, and the semaphore's
        // acquire future cannot be named.
        Limited { future: Boxed<T, E> },
    }
}

impl<F, T, E> ResponseFuture<F, T, E> {
    pub(crate) fn direct(future: F) -> Self {
        ResponseFuture {
            kind: Kind::Direct { future },
        }
    }

    pub(crate) fn limited(future: impl Future<Output = Result<T, E>> + Send + 'static) -> Self {
        ResponseFuture {
            kind: Kind::Limited {
                future: Box::pin(future),
            },
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F, T, E>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Direct { future } => future.poll(cx),
            KindProj::Limited { future } => future.as_mut().poll(cx),
        }
    }
}
