//! Batch semantics: gather in input order, fail-fast and settled results,
//! the streams, invalid inputs, deadlines and cancellation, and scale.

#[path = "../support/mod.rs"]
mod support;

mod api;
mod cancel_safety;
mod deadline_cancel;
mod fail_fast;
mod order;
mod scale;
mod settled_invalid;
mod stream;
