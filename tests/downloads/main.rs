//! Downloads: bodies streamed to files (`download`, `download_all`,
//! `download_all_settled`, `download_stream`), against the loopback
//! [`FileServer`](support::files::FileServer): resume with `Range` and
//! `If-Range` after a cut, restarts where resuming would be wrong, status
//! and size limits, decoding, disk errors, cancellation, replacing targets,
//! timeouts, one result per input, and memory that stays flat over large
//! files.

#[path = "../support/mod.rs"]
mod support;

mod cancel;
mod changed;
mod checksum;
mod child;
mod decode;
mod disk_errors;
mod ignored_range;
mod kept_partial;
mod memory;
mod order;
mod replace;
mod restart;
mod resume;
mod size_limit;
mod status;
mod timeouts;
mod wrong_range;

use std::path::{Path, PathBuf};

use batch_fetch::{BatchClient, Download, Error};

use support::clients::{builder, quick};
use support::scratch::Scratch;

/// A client whose downloads are retried `retries` times with short,
/// deterministic backoff (and a 10 s attempt timeout).
fn client(retries: u32) -> BatchClient {
    builder().retry(quick(retries)).build().unwrap()
}

/// The download of `result`, or a panic with its error.
#[track_caller]
fn done(result: Result<Download, Error>) -> Download {
    result.unwrap_or_else(|e| panic!("expected a download, got: {e}"))
}

/// The error of `result`, or a panic naming the file that was written.
#[track_caller]
fn failed(result: Result<Download, Error>) -> Error {
    match result {
        Ok(d) => panic!(
            "expected an error, got {} ({} bytes)",
            d.path().display(),
            d.bytes()
        ),
        Err(e) => e,
    }
}

/// `(Range, status)` pairs as [`FileServer::answers`] lists them.
///
/// [`FileServer::answers`]: support::files::FileServer::answers
fn answers<const N: usize>(expected: [(Option<&str>, u16); N]) -> Vec<(Option<String>, u16)> {
    expected
        .into_iter()
        .map(|(range, status)| (range.map(String::from), status))
        .collect()
}

/// The temporary file of `target`: `<target>.part`.
fn part_of(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

/// Asserts that no `.part` file is left under `dir`.
#[track_caller]
fn assert_no_part(dir: &Scratch) {
    let parts = dir.part_files();
    assert!(parts.is_empty(), "temporary files left behind: {parts:?}");
}

/// `err` and its sources, joined by `: `.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    // Bounded by the chain's length.
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
