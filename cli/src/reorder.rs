//! `--ordered` over results that come in completion order: each is held
//! until every input before it is out.
//!
//! The library's ordered stream cannot serve here: a file kept by
//! `--continue` never enters the batch, yet its line has its place among
//! the others. What is held is bounded by the tool's intake (see
//! `writer::Intake`): an input's permit comes back only once its line is
//! written, so a slow input at the head stops the taking of new ones, as
//! the library's ordered stream would.

use std::collections::BTreeMap;

/// Items by input index, let out in index order from 0.
pub(crate) struct Reorder<T> {
    next: usize,
    held: BTreeMap<usize, T>,
}

impl<T> Reorder<T> {
    pub(crate) fn new() -> Self {
        Reorder {
            next: 0,
            held: BTreeMap::new(),
        }
    }

    /// Holds the item of input `index`.
    pub(crate) fn hold(&mut self, index: usize, item: T) {
        self.held.insert(index, item);
    }

    /// The next item in order, if it is in.
    pub(crate) fn next_due(&mut self) -> Option<T> {
        let item = self.held.remove(&self.next)?;
        self.next += 1;
        Some(item)
    }

    /// What is still held, in order: at the end, when a run cut short
    /// left gaps.
    pub(crate) fn rest(self) -> impl Iterator<Item = T> {
        self.held.into_values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_out_in_index_order() {
        let mut order = Reorder::new();
        let mut out = Vec::new();
        for index in [2, 0, 3, 1, 5] {
            order.hold(index, index);
            while let Some(item) = order.next_due() {
                out.push(item);
            }
        }
        assert_eq!(out, [0, 1, 2, 3]);
        order.hold(7, 7);
        assert_eq!(order.rest().collect::<Vec<_>>(), [5, 7]);
    }
}
