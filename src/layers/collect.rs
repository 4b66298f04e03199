//! The innermost layer of our own: sends a request on the pooled client and
//! reads the whole body, within the size limit.
//!
//! Reading the body here, inside the concurrency limits and the timeout, is
//! what makes a permit last until the last body byte and the per-attempt
//! timeout cover the body: tower's limits release their permit when the
//! inner future resolves.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::Body;
use http_body_util::combinators::Collect;
use http_body_util::{BodyExt, Full, Limited};
use pin_project_lite::pin_project;

use super::detach;
use crate::connect::ConnectedAt;
use crate::error::{BodyError, BodyTooLarge, BoxError, HeadersTooLarge};
use crate::layers::StackRequest;
use crate::observe::Trace;

/// Sends requests on `S` and collects their bodies.
#[derive(Clone, Debug)]
pub(crate) struct CollectBody<S> {
    inner: S,
    limits: ResponseLimits,
}

/// What a response may weigh.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ResponseLimits {
    pub(crate) max_body_size: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_header_bytes: usize,
}

impl<S> CollectBody<S> {
    pub(crate) fn new(inner: S, limits: ResponseLimits) -> Self {
        CollectBody { inner, limits }
    }
}

impl<S, B> tower::Service<StackRequest> for CollectBody<S>
where
    S: tower::Service<http::Request<Full<Bytes>>, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Bytes>;
    type Error = BoxError;
    type Future = CollectFuture<S::Future, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: StackRequest) -> Self::Future {
        let (head, payload) = req.into_parts();
        let trace = payload.trace;
        CollectFuture {
            state: State::Head {
                send: self
                    .inner
                    .call(http::Request::from_parts(head, Full::new(payload.bytes))),
            },
            limits: self.limits,
            trace,
            sent: Instant::now(),
            head_at: None,
        }
    }
}

pin_project! {
    /// The response head, then the body.
    pub(crate) struct CollectFuture<F, B>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        #[pin]
        state: State<F, B>,
        limits: ResponseLimits,
        // Where the attempt's phases are written down.
        trace: Option<Trace>,
        sent: Instant,
        // When the head came, the connect wait, and the peer.
        head_at: Option<(Instant, Duration, Option<SocketAddr>)>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        Head { #[pin] send: F },
        Body {
            #[pin]
            collect: Collect<Limited<B>>,
            head: Option<http::response::Parts>,
        },
    }
}

impl<F, B, E> Future for CollectFuture<F, B>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: Into<BoxError>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Output = Result<http::Response<Bytes>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Head { send } => {
                    let res = ready!(send.poll(cx)).map_err(Into::into)?;
                    let (mut head, body) = res.into_parts();
                    let connected = head.extensions.remove::<ConnectedAt>();
                    if let Some(connected) = &connected {
                        connected.lifecycle().answered();
                    }
                    let connect = connected
                        .as_ref()
                        .map_or(Duration::ZERO, |c| c.waited(*this.sent));
                    let remote = connected.and_then(|c| c.remote());
                    *this.head_at = Some((Instant::now(), connect, remote));
                    check_head(&head.headers, this.limits)?;
                    let limit = this.limits.max_body_size;
                    // Refuse an announced oversize body without reading it.
                    // (A decoded body has no Content-Length left; the limit
                    // below then counts its decoded bytes.)
                    if content_length(&head.headers).is_some_and(|len| len > limit as u64) {
                        return Poll::Ready(Err(Box::new(BodyTooLarge { limit })));
                    }
                    this.state.set(State::Body {
                        collect: Limited::new(body, limit).collect(),
                        head: Some(head),
                    });
                }
                StateProj::Body { collect, head } => {
                    let collected = ready!(collect.poll(cx));
                    if let (Some(trace), Some((head_at, connect, remote))) =
                        (this.trace, this.head_at)
                    {
                        let ttfb = head_at.duration_since(*this.sent).saturating_sub(*connect);
                        trace.phases(*connect, ttfb, head_at.elapsed(), *remote);
                    }
                    let body = match collected {
                        Ok(collected) => detach::body(collected),
                        Err(err) => {
                            let limit = this.limits.max_body_size;
                            return Poll::Ready(Err(body_error(err, limit)));
                        }
                    };
                    let mut head = head.take().expect("polled after completion");
                    detach::headers(&mut head.headers);
                    return Poll::Ready(Ok(http::Response::from_parts(head, body)));
                }
            }
        }
    }
}

/// hyper bounds the HTTP/1 head by its read buffer, which one large read can
/// overshoot, and HTTP/2 by the header list size alone; this makes both
/// limits exact for both protocols. A field counts its name, its value and
/// 4 bytes of `": "` and CRLF.
fn check_head(headers: &http::HeaderMap, limits: &ResponseLimits) -> Result<(), BoxError> {
    if headers.len() > limits.max_headers {
        return Err(Box::new(HeadersTooLarge {
            what: format!(
                "{} header fields, over the limit of {}",
                headers.len(),
                limits.max_headers
            ),
        }));
    }
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if bytes > limits.max_header_bytes {
        return Err(Box::new(HeadersTooLarge {
            what: format!(
                "{bytes} bytes of header fields, over the limit of {}",
                limits.max_header_bytes
            ),
        }));
    }
    Ok(())
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

/// Names a body failure: over the limit, or anything else that broke the
/// body after its head arrived (which the retry policy does not repeat).
fn body_error(err: BoxError, limit: usize) -> BoxError {
    if err.is::<http_body_util::LengthLimitError>() {
        return Box::new(BodyTooLarge { limit });
    }
    Box::new(BodyError(err))
}
