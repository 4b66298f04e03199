//! Redirects: following them (methods, bodies, relative and absolute
//! Location), the headers that travel or not, refusals (loops, limits,
//! downgrades), and redirects inside batches.

#[path = "../support/mod.rs"]
mod support;

mod redirect_batch;
mod redirect_follow;
mod redirect_headers;
mod redirect_refused;
