//! The public result streams: completion order as the driver yields it, or
//! input order through a reorder buffer of bounded size.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use super::driver::{Driver, Outcome, Start};
use crate::error::Error;
use crate::request::IntoRequest;
use crate::response::Response;

pin_project! {
    /// In input order, holds early results until the ones before them
    /// arrive. The driver's window bounds how far ahead of the oldest
    /// unfinished input it may start, so one slow request cannot make the
    /// buffer grow without end.
    pub(crate) struct Results<S, M>
    where
        S: Stream,
        M: Start<S::Item>,
    {
        #[pin]
        driver: Driver<S, M>,
        in_order: bool,
        next: usize,
        buffer: VecDeque<Option<Result<Response, Error>>>,
    }
}

impl<S, M> Results<S, M>
where
    S: Stream,
    S::Item: IntoRequest,
    M: Start<S::Item>,
{
    /// Results in input order when `in_order`, else as they complete.
    pub(crate) fn new(driver: Driver<S, M>, in_order: bool) -> Self {
        let driver = if in_order {
            let window = driver.concurrency().saturating_mul(2);
            driver.with_window(window)
        } else {
            driver
        };
        Results {
            driver,
            in_order,
            next: 0,
            buffer: VecDeque::new(),
        }
    }
}

impl<S, M> Stream for Results<S, M>
where
    S: Stream,
    S::Item: IntoRequest,
    M: Start<S::Item>,
{
    type Item = Outcome;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Outcome>> {
        let mut this = self.project();
        if !*this.in_order {
            return this.driver.poll_next(cx);
        }
        loop {
            if let Some(Some(_)) = this.buffer.front() {
                let result = this
                    .buffer
                    .pop_front()
                    .flatten()
                    .expect("checked just above");
                let index = *this.next;
                *this.next += 1;
                this.driver.as_mut().release();
                return Poll::Ready(Some((index, result)));
            }
            match this.driver.as_mut().poll_next(cx) {
                Poll::Ready(Some((index, result))) => {
                    let slot = index - *this.next;
                    if this.buffer.len() <= slot {
                        this.buffer.resize_with(slot + 1, || None);
                    }
                    this.buffer[slot] = Some(result);
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
