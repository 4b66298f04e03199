//! Watching a batch: events, progress, stats, timings, tracing spans.

#[path = "../support/mod.rs"]
mod support;

mod observe;
mod timings;
mod tracing_spans;
