//! Messages on stderr, each written whole.
//!
//! `eprintln!` writes a message in pieces (each formatted part, then the
//! newline), so the messages of processes that share one stderr (the
//! tasks of a Spark executor, `xargs -P`) interleave mid-line. Here a
//! message is formatted first and written with one call, which a pipe
//! keeps whole up to `PIPE_BUF` (4 KiB).

use std::io::Write;

/// Writes `text` and a newline as one write.
pub(crate) fn line(text: impl std::fmt::Display) {
    block(&format!("{text}\n"));
}

/// Writes `text` (lines ending in newlines) as one write.
pub(crate) fn block(text: &str) {
    // Nowhere to say that stderr failed.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
