//! Concurrency and rate limits: global and per host, across clones.

#[path = "../support/mod.rs"]
mod support;

mod limits;
mod rate_limit;
