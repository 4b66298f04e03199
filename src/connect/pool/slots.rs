//! How many HTTP/1.1 connections an origin may have open or opening at
//! once: as many as requests the client lets run there at once (its
//! per-host limit, or its concurrency), so a batch never opens more
//! connections to an origin than it can use.
//!
//! A connect takes a slot before it starts, and the connection holds it
//! until it closes; a request that finds every slot taken waits in line
//! for one, while a connection put back meanwhile serves it first (see
//! `origins`). A slot let go goes to the first in line.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// One origin's slots.
pub(super) struct Slots {
    max: usize,
    state: Mutex<State>,
}

struct State {
    taken: usize,
    /// Requests waiting for a slot, first come first served.
    line: VecDeque<oneshot::Sender<Slot>>,
}

/// The right to one connection, open or opening; let go when dropped.
pub(super) struct Slot {
    slots: Arc<Slots>,
    /// False for a slot that was handed to no one (its request had gone):
    /// its right stays with the one who let it go.
    held: bool,
}

impl Slots {
    pub(super) fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            max: max.max(1),
            state: Mutex::new(State {
                taken: 0,
                line: VecDeque::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Only counts change under it; a panic leaves them sound.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether no slot is taken and none is waited for: the origin can be
    /// forgotten without losing count.
    pub(super) fn unused(&self) -> bool {
        let state = self.lock();
        state.taken == 0 && state.line.is_empty()
    }

    /// A slot, now or when one is let go.
    pub(super) async fn take(self: Arc<Slots>) -> Slot {
        loop {
            let waiting = {
                let mut state = self.lock();
                if state.taken < self.max {
                    state.taken += 1;
                    return Slot {
                        slots: self.clone(),
                        held: true,
                    };
                }
                let (tx, rx) = oneshot::channel();
                state.line.push_back(tx);
                rx
            };
            // The line lives as long as `self`, which this holds: a place
            // in it is only ever answered.
            if let Ok(slot) = waiting.await {
                return slot;
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        let mut state = self.slots.lock();
        while let Some(next) = state.line.pop_front() {
            let handed = Slot {
                slots: self.slots.clone(),
                held: true,
            };
            match next.send(handed) {
                Ok(()) => return,
                // That request is gone: the slot stays ours to pass on
                // (dropped unheld, it does nothing, so not under the lock
                // again).
                Err(mut back) => back.held = false,
            }
        }
        state.taken -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[tokio::test]
    async fn a_slot_let_go_goes_to_the_first_in_line() {
        let slots = Slots::new(1);
        let first = slots.clone().take().await;
        let mut second = Box::pin(slots.clone().take());
        let mut third = Box::pin(slots.clone().take());
        assert!((&mut second).now_or_never().is_none());
        assert!((&mut third).now_or_never().is_none());
        drop(first);
        let second = second.await;
        assert!((&mut third).now_or_never().is_none());
        assert!(!slots.unused());
        drop(second);
        drop(third.await);
        assert!(slots.unused());
    }

    #[tokio::test]
    async fn a_request_gone_from_line_takes_nothing_with_it() {
        let slots = Slots::new(2);
        let a = slots.clone().take().await;
        let b = slots.clone().take().await;
        let mut gone = Box::pin(slots.clone().take());
        assert!((&mut gone).now_or_never().is_none());
        drop(gone);
        drop(a);
        // The slot came back to the count: two can be taken again.
        let c = slots.clone().take().await;
        drop(b);
        let d = slots.clone().take().await;
        drop((c, d));
        assert!(slots.unused());
    }
}
