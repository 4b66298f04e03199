//! The innermost layer of our own: sends a request on the pooled client and
//! reads the whole response, within its limits (`limits`), timing the
//! attempt's phases (`phases`), and detaching what it keeps from the
//! connection's buffers (`detach`). Two kinds of request take another
//! path once their head is in, each chosen by a mark in the request's
//! extensions: a download's body goes to its file (`download`), and a
//! streaming request's is left unread for the caller (`stream`).
//!
//! Reading the body here, inside the concurrency limits and the timeout, is
//! what makes a permit last until the last body byte and the per-attempt
//! timeout cover the body: tower's limits release their permit when the
//! inner future resolves. A body left unread for the caller takes both
//! with it: the size limit and the attempt's deadline here, the permits
//! from the gate on the way up (see `crate::streaming`).

mod detach;
mod download;
mod idle;
mod limits;
mod phases;
mod stream;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Body;
use http_body_util::combinators::Collect;
use http_body_util::{BodyExt, Collected, Full, Limited};
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::timeout::error::Elapsed;

use crate::connect::OnConnection;
use crate::download::{AttemptClock, AttemptStart, Job};
use crate::error::BoxError;
use crate::layers::StackRequest;
use crate::observe::RequestRecord;
use crate::response::ResponseLimits;
use crate::streaming::Streaming;
use idle::Idle;
use phases::Stopwatch;

/// Sends requests on `S` and collects their bodies.
#[derive(Clone, Debug)]
pub(crate) struct CollectBody<S> {
    inner: S,
    limits: ResponseLimits,
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
    B: Body<Data = Bytes> + OnConnection + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Bytes>;
    type Error = BoxError;
    type Future = CollectFuture<S::Future, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: StackRequest) -> Self::Future {
        let (mut head, payload) = req.into_parts();
        let record = payload.record;
        let special = if head.extensions.is_empty() {
            // Most requests: no extensions, no lookups.
            None
        } else if let Some(job) = head.extensions.get::<Job>().cloned() {
            let start = job.begin_attempt();
            let own_range = head.headers.contains_key(http::header::RANGE);
            if !own_range {
                crate::download::ask_for_rest(&mut head.headers, &start);
            }
            let timeout = head.extensions.remove::<AttemptClock>().map(|c| c.timeout);
            Some(Box::new(Special::Download(Downloading {
                job,
                start,
                own_range,
                timeout,
                timer: timeout.map(|t| Box::pin(tokio::time::sleep(t))),
            })))
        } else {
            Streaming::of(&head.extensions).map(|mark| Box::new(Special::Stream(mark)))
        };
        CollectFuture {
            state: State::Head {
                send: self
                    .inner
                    .call(http::Request::from_parts(head, Full::new(payload.bytes))),
            },
            limits: self.limits,
            record,
            stopwatch: Some(Stopwatch::start()),
            special,
        }
    }
}

/// A request that takes another path once its head is in (boxed: rare,
/// and the future of every request carries the room for it).
enum Special {
    Download(Downloading),
    Stream(Streaming),
}

impl Special {
    /// Whether the answer with `head` takes this request's own path.
    fn takes(&self, head: &http::response::Parts) -> bool {
        match self {
            // Any other status is read here, for the retry policy and the
            // redirects to judge.
            Special::Stream(_) => head.status.is_success(),
            Special::Download(downloading) => stores(head, &downloading.start),
        }
    }

    /// Whether a download's attempt ran out of time: it is timed here,
    /// not by the timeout layer, so that its body, once it goes to the
    /// file, is not.
    fn too_late(&mut self, cx: &mut Context<'_>) -> bool {
        match self {
            Special::Download(Downloading {
                timer: Some(timer), ..
            }) => timer.as_mut().poll(cx).is_ready(),
            _ => false,
        }
    }
}

/// A download's attempt, until its response head arrives.
struct Downloading {
    job: Job,
    start: AttemptStart,
    own_range: bool,
    /// The attempt's timeout (see `timeout`), and its timer, which ends
    /// the attempt unless its body goes to the file first.
    timeout: Option<Duration>,
    timer: Option<Pin<Box<Sleep>>>,
}

/// The rest of a download's attempt, once its head is in.
type Storing = Pin<Box<dyn Future<Output = Result<http::Response<Bytes>, BoxError>> + Send>>;

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
        record: Option<RequestRecord>,
        // Taken by a download's or a streaming answer's body.
        stopwatch: Option<Stopwatch>,
        special: Option<Box<Special>>,
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
        // With a read timeout (boxed: rare, and this way the future of
        // every request is no larger for it).
        TimedBody {
            collect: Pin<Box<Collect<Limited<Idle<B>>>>>,
            head: Option<http::response::Parts>,
        },
        Download { storing: Storing },
    }
}

impl<F, B, E> Future for CollectFuture<F, B>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: Into<BoxError>,
    B: Body<Data = Bytes> + OnConnection + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<http::Response<Bytes>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let (polled, head) = match this.state.as_mut().project() {
                StateProj::Head { send } => {
                    let Poll::Ready(res) = send.poll(cx) else {
                        return out_of_time(this.special, cx);
                    };
                    let (head, body) = res.map_err(Into::into)?.into_parts();
                    let stopwatch = this.stopwatch.as_mut().expect("taken only at the end");
                    stopwatch.head(body.connection().cloned());
                    if this.special.as_ref().is_some_and(|s| s.takes(&head)) {
                        let special = this.special.take().expect("just seen");
                        let stopwatch = this.stopwatch.take().expect("taken only at the end");
                        let record = this.record.clone();
                        match take_over(*special, head, body, this.limits, stopwatch, record)? {
                            TakenOver::Answer(res) => return Poll::Ready(Ok(res)),
                            TakenOver::Storing(storing) => {
                                this.state.set(State::Download { storing });
                                continue;
                            }
                        }
                    }
                    limits::check_head(&head.headers, this.limits)?;
                    let limit = this.limits.max_body_size;
                    match this.limits.read_timeout {
                        None => this.state.set(State::Body {
                            collect: Limited::new(body, limit).collect(),
                            head: Some(head),
                        }),
                        Some(silence) => this.state.set(State::TimedBody {
                            collect: Box::pin(
                                Limited::new(Idle::new(body, Some(silence)), limit).collect(),
                            ),
                            head: Some(head),
                        }),
                    }
                    continue;
                }
                StateProj::Body { collect, head } => (collect.poll(cx), head),
                StateProj::TimedBody { collect, head } => (collect.as_mut().poll(cx), head),
                StateProj::Download { storing } => return storing.as_mut().poll(cx),
            };
            return collected(
                polled,
                head,
                this.special,
                this.limits,
                this.record,
                this.stopwatch,
                cx,
            );
        }
    }
}

/// Pending, unless the request is a download whose attempt ran out of
/// time before its body went to its file (see [`Special::too_late`]).
#[inline]
fn out_of_time<T>(
    special: &mut Option<Box<Special>>,
    cx: &mut Context<'_>,
) -> Poll<Result<T, BoxError>> {
    if special.as_mut().is_some_and(|special| special.too_late(cx)) {
        return Poll::Ready(Err(Elapsed::new().into()));
    }
    Poll::Pending
}

/// The response once its body is collected whole (or the error that
/// ended it); pending meanwhile, unless time ran out (see
/// [`out_of_time`]).
#[inline]
fn collected(
    polled: Poll<Result<Collected<Bytes>, BoxError>>,
    head: &mut Option<http::response::Parts>,
    special: &mut Option<Box<Special>>,
    limits: &ResponseLimits,
    record: &Option<RequestRecord>,
    stopwatch: &Option<Stopwatch>,
    cx: &mut Context<'_>,
) -> Poll<Result<http::Response<Bytes>, BoxError>> {
    let Poll::Ready(collected) = polled else {
        return out_of_time(special, cx);
    };
    if let (Some(record), Some(stopwatch)) = (record, stopwatch) {
        stopwatch.body_done(record);
    }
    let body = match collected {
        Ok(collected) => detach::body(collected),
        Err(err) => return Poll::Ready(Err(limits::body_error(err, limits.max_body_size))),
    };
    let mut head = head.take().expect("polled after completion");
    detach::headers(&mut head.headers);
    Poll::Ready(Ok(http::Response::from_parts(head, body)))
}

/// What became of an answer [`Special::takes`].
enum TakenOver {
    /// A streaming answer, its body unread.
    Answer(http::Response<Bytes>),
    /// A download's answer, its body on the way to its file.
    Storing(Storing),
}

/// The other paths of an answer once its head is in: a streaming
/// request's `2xx` handed over unread, a download's stored. Out of the
/// way of the common path (`cold`).
#[cold]
#[inline(never)]
fn take_over<B>(
    special: Special,
    head: http::response::Parts,
    body: B,
    limits: &ResponseLimits,
    stopwatch: Stopwatch,
    record: Option<RequestRecord>,
) -> Result<TakenOver, BoxError>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    match special {
        Special::Stream(mark) => {
            limits::check_head(&head.headers, limits)?;
            let limit = limits.max_body_size;
            let body = Idle::new(body, limits.read_timeout);
            let res = stream::hand_over(head, body, limit, mark, stopwatch, record);
            Ok(TakenOver::Answer(res))
        }
        Special::Download(Downloading {
            job,
            start,
            own_range,
            timeout,
            timer: _,
        }) => {
            limits::check_fields(&head.headers, limits)?;
            // From here the body may take as long as it needs, as long as
            // its bytes keep coming.
            let body = Idle::new(body, limits.read_timeout.or(timeout));
            let storing = download::store(job, start, own_range, head, body, record, stopwatch);
            Ok(TakenOver::Storing(Box::pin(storing)))
        }
    }
}

/// Whether a download's answer goes to its file: a `2xx`, or the `416`
/// that may say a resumed file is whole. Any other answer is read into
/// memory as usual, for the retry policy and redirects to judge.
fn stores(head: &http::response::Parts, start: &AttemptStart) -> bool {
    head.status.is_success()
        || (head.status == http::StatusCode::RANGE_NOT_SATISFIABLE && start.offset > 0)
}
