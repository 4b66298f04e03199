//! The public result streams: completion order as the driver yields it, or
//! input order through a reorder buffer of bounded size.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use super::driver::{Driver, Outcome};
use crate::admission::Admission;
use crate::error::Error;
use crate::response::Response;

pin_project! {
    /// In input order, holds early results until the ones before them
    /// arrive. The driver's window bounds how far ahead of the oldest
    /// unfinished input it may start, so one slow request cannot make the
    /// buffer grow without end.
    pub(crate) struct Ordered<S, F, M> {
        #[pin]
        driver: Driver<S, F, M>,
        in_order: bool,
        next: usize,
        buffer: VecDeque<Option<Result<Response, Error>>>,
    }
}

impl<S, F, M> Ordered<S, F, M>
where
    S: Stream,
    F: Future<Output = Outcome>,
    M: FnMut(usize, S::Item, Admission) -> F,
{
    /// Results in input order when `in_order`, else as they complete.
    pub(crate) fn new(driver: Driver<S, F, M>, in_order: bool) -> Self {
        let driver = if in_order {
            let window = driver.concurrency().saturating_mul(2);
            driver.with_window(window)
        } else {
            driver
        };
        Ordered {
            driver,
            in_order,
            next: 0,
            buffer: VecDeque::new(),
        }
    }
}

impl<S, F, M> Stream for Ordered<S, F, M>
where
    S: Stream,
    F: Future<Output = Outcome>,
    M: FnMut(usize, S::Item, Admission) -> F,
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
