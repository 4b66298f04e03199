//! Running a batch: the driver that starts inputs under the concurrency
//! limit, gathering its results in input order, and the streams; the
//! entry points (`BatchClient`, `Batch`) are the client's.

mod driver;
mod results;

pub(crate) use driver::{Driver, Start, Started, StopWhen};
pub(crate) use results::Results;

use std::future::poll_fn;
use std::pin::pin;
use std::task::Poll;

use futures_core::Stream;

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

/// The most result slots reserved up front from an input's size hint (a
/// hint may be wrong; past this the vector grows as results come).
const MAX_RESERVED: usize = 1 << 20;

/// Runs a batch to the end (or to its first error in fail-fast mode), and
/// puts the results in input order.
pub(crate) async fn gather<S, M>(
    driver: Driver<S, M>,
    mode: Mode,
) -> Result<Vec<Result<Response, Error>>, Error>
where
    S: Stream,
    S::Item: IntoRequest,
    M: Start<S::Item>,
{
    let mut driver = pin!(driver);
    // As many slots as the input says it has at least (an iterator of
    // known length says exactly), so the results are not moved again and
    // again as the vector grows.
    let mut slots: Vec<Option<Result<Response, Error>>> =
        Vec::with_capacity(driver.input_size_hint().min(MAX_RESERVED));
    poll_fn(|cx| {
        loop {
            match driver.as_mut().poll_next(cx) {
                Poll::Ready(Some((index, result))) => {
                    if mode == Mode::FailFast
                        && let Err(err) = result
                    {
                        return Poll::Ready(Err(err));
                    }
                    if slots.len() <= index {
                        // Inputs start in index order: grow to what started.
                        slots.resize_with(driver.started().max(index + 1), || None);
                    }
                    slots[index] = Some(result);
                }
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await?;

    Ok(slots
        .into_iter()
        .map(|slot| slot.expect("the batch ends only when every started input has its result"))
        .collect())
}
