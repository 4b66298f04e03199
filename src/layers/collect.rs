//! The innermost service: sends a request on the pooled client and reads
//! the whole body, within the size limit.
//!
//! Reading the body here, inside the concurrency limits and the timeout, is
//! what makes a permit last until the last body byte and the per-attempt
//! timeout cover the body: tower's limits release their permit when the
//! inner future resolves.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body_util::combinators::Collect;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::ResponseFuture as SendFuture;
use pin_project_lite::pin_project;

use crate::connect::HttpsClient;
use crate::error::{BodyError, BodyTooLarge, BoxError};

/// Sends requests and collects their bodies.
#[derive(Clone, Debug)]
pub(crate) struct CollectBody {
    client: HttpsClient,
    max_body_size: usize,
}

impl CollectBody {
    pub(crate) fn new(client: HttpsClient, max_body_size: usize) -> Self {
        CollectBody {
            client,
            max_body_size,
        }
    }
}

impl tower::Service<http::Request<Bytes>> for CollectBody {
    type Response = http::Response<Bytes>;
    type Error = BoxError;
    type Future = CollectFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // The pooled client takes requests at any time.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Bytes>) -> CollectFuture {
        CollectFuture {
            state: State::Head {
                send: self.client.request(req.map(Full::new)),
            },
            limit: self.max_body_size,
        }
    }
}

pin_project! {
    /// The response head, then the body.
    pub(crate) struct CollectFuture {
        #[pin]
        state: State,
        limit: usize,
    }
}

pin_project! {
    #[project = StateProj]
    enum State {
        Head { #[pin] send: SendFuture },
        Body {
            #[pin]
            collect: Collect<Limited<Incoming>>,
            head: Option<http::response::Parts>,
        },
    }
}

impl Future for CollectFuture {
    type Output = Result<http::Response<Bytes>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Head { send } => {
                    let res = ready!(send.poll(cx))?;
                    let (head, body) = res.into_parts();
                    let limit = *this.limit;
                    // Refuse an announced oversize body without reading it.
                    if content_length(&head.headers).is_some_and(|len| len > limit as u64) {
                        return Poll::Ready(Err(Box::new(BodyTooLarge { limit })));
                    }
                    this.state.set(State::Body {
                        collect: Limited::new(body, limit).collect(),
                        head: Some(head),
                    });
                }
                StateProj::Body { collect, head } => {
                    let body = match ready!(collect.poll(cx)) {
                        Ok(collected) => collected.to_bytes(),
                        Err(err) => return Poll::Ready(Err(body_error(err, *this.limit))),
                    };
                    let head = head.take().expect("polled after completion");
                    return Poll::Ready(Ok(http::Response::from_parts(head, body)));
                }
            }
        }
    }
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Names a body failure: over the limit, or the connection's fault.
fn body_error(err: BoxError, limit: usize) -> BoxError {
    if err.is::<http_body_util::LengthLimitError>() {
        return Box::new(BodyTooLarge { limit });
    }
    match err.downcast::<hyper::Error>() {
        Ok(hyper) => Box::new(BodyError(*hyper)),
        Err(other) => other,
    }
}
