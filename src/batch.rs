//! The gather driver: pulls inputs lazily, runs them concurrently on the
//! caller's task, and puts the results back in input order.

use std::future::poll_fn;
use std::task::Poll;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::admission::Admission;
use crate::client::BatchClient;
use crate::error::Error;
use crate::request::IntoRequest;
use crate::response::Response;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Stop at the first error and drop the rest.
    FailFast,
    /// Run everything; one result per input.
    Settled,
}

/// Requests parked (waiting out a backoff or for a busy host) do not count
/// against the concurrency, so the batch may hold more futures than that.
/// This bounds how many more, so a batch that is mostly one slow host does
/// not pull its whole input into memory.
const MAX_PARKED: usize = 1024;

/// Runs a batch. No task is spawned per request: the request futures live in
/// a `FuturesUnordered` polled by the caller's task (hyper's connection tasks
/// do the I/O), and dropping this future cancels all of them.
pub(crate) async fn gather<I>(
    client: &BatchClient,
    reqs: I,
    mode: Mode,
) -> Result<Vec<Result<Response, Error>>, Error>
where
    I: IntoIterator,
    I::Item: IntoRequest,
{
    let concurrency = client.concurrency();
    let max_futures = concurrency.saturating_add(concurrency.max(MAX_PARKED));
    let admission = Admission::new();
    let mut inputs = reqs.into_iter().enumerate();
    let mut slots: Vec<Option<Result<Response, Error>>> =
        Vec::with_capacity(inputs.size_hint().0.min(1 << 16));
    let mut running = FuturesUnordered::new();
    let mut exhausted = false;

    poll_fn(|cx| {
        loop {
            // Start inputs while fewer than `concurrency` are running.
            while !exhausted && admission.running() < concurrency && running.len() < max_futures {
                match inputs.next() {
                    Some((index, input)) => {
                        slots.push(None);
                        admission.enter();
                        let admission = admission.clone();
                        running.push(async move {
                            (
                                index,
                                client.execute(Some(index), input, Some(admission)).await,
                            )
                        });
                    }
                    None => exhausted = true,
                }
            }
            match running.poll_next_unpin(cx) {
                Poll::Ready(Some((index, result))) => {
                    admission.leave();
                    if mode == Mode::FailFast {
                        if let Err(err) = result {
                            return Poll::Ready(Err(err));
                        }
                    }
                    slots[index] = Some(result);
                }
                Poll::Ready(None) if exhausted => return Poll::Ready(Ok(())),
                // Nothing running but inputs left: go round and start some.
                Poll::Ready(None) => {}
                Poll::Pending => {
                    // A request that parked while being polled made room.
                    let room = admission.running() < concurrency && running.len() < max_futures;
                    if exhausted || !room {
                        return Poll::Pending;
                    }
                }
            }
        }
    })
    .await?;

    Ok(slots
        .into_iter()
        .map(|slot| slot.expect("the batch ends only when every started input has its result"))
        .collect())
}
