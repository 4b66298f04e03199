//! What became of one input: a response read into memory, a body written
//! to its file (`--output-dir`), a file kept from an earlier run
//! (`--continue`, no request sent), or a file the tool itself found it
//! cannot use.

use std::path::PathBuf;

use batch_fetch::{Download, Error, ErrorKind, Response, Timings};
use http::Uri;

/// One input's result, as the output, the report and the summary see it.
pub(crate) enum Outcome {
    /// A response, its body in memory.
    Fetched(Result<Response, Error>),
    /// A body streamed to its file.
    Downloaded(Result<Download, Error>),
    /// Not sent: the file is there, whole, from an earlier run.
    Kept { path: PathBuf, bytes: u64 },
    /// The tool's own error of kind `file`, naming the path: a partial
    /// file's place holds something it will not follow (nothing is sent),
    /// or a kept file could not be read for `--checksum`.
    FileFailed(String),
}

impl Outcome {
    /// Whether the tool counts the input as failed: an error, or a status
    /// of 400 or more (a download is stored only on a 2xx, so any other
    /// status is its error already).
    pub(crate) fn failed(&self) -> bool {
        match self {
            Outcome::Fetched(Ok(res)) => res.status().as_u16() >= 400,
            Outcome::Fetched(Err(_)) | Outcome::Downloaded(Err(_)) => true,
            Outcome::Downloaded(Ok(_)) | Outcome::Kept { .. } => false,
            Outcome::FileFailed(_) => true,
        }
    }

    /// The library's error, if it gave one.
    pub(crate) fn error(&self) -> Option<&Error> {
        match self {
            Outcome::Fetched(Err(err)) | Outcome::Downloaded(Err(err)) => Some(err),
            _ => None,
        }
    }

    /// Whether the request was cancelled (a signal, the deadline).
    pub(crate) fn cancelled(&self) -> bool {
        self.error()
            .is_some_and(|err| err.kind() == ErrorKind::Cancelled)
    }

    /// The final status: the answer's, or the one an error of kind
    /// `status` names; none when no answer was kept or no request sent.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            Outcome::Fetched(Ok(res)) => Some(res.status().as_u16()),
            Outcome::Downloaded(Ok(download)) => Some(download.status().as_u16()),
            Outcome::Fetched(Err(err)) | Outcome::Downloaded(Err(err)) => {
                err.status().map(|status| status.as_u16())
            }
            Outcome::Kept { .. } | Outcome::FileFailed(_) => None,
        }
    }

    /// The URL that answered, after redirects.
    pub(crate) fn final_url(&self) -> Option<&Uri> {
        match self {
            Outcome::Fetched(Ok(res)) => Some(res.url()),
            Outcome::Downloaded(Ok(download)) => Some(download.url()),
            _ => None,
        }
    }

    /// The body's bytes (decoded): in memory, or in the file.
    pub(crate) fn bytes(&self) -> Option<u64> {
        match self {
            Outcome::Fetched(Ok(res)) => Some(res.body().len() as u64),
            Outcome::Downloaded(Ok(download)) => Some(download.bytes()),
            Outcome::Kept { bytes, .. } => Some(*bytes),
            _ => None,
        }
    }

    pub(crate) fn attempts(&self) -> u32 {
        match self {
            Outcome::Fetched(Ok(res)) => res.attempts(),
            Outcome::Downloaded(Ok(download)) => download.attempts(),
            Outcome::Fetched(Err(err)) | Outcome::Downloaded(Err(err)) => err.attempts(),
            Outcome::Kept { .. } | Outcome::FileFailed(_) => 0,
        }
    }

    pub(crate) fn timings(&self) -> Option<&Timings> {
        match self {
            Outcome::Fetched(Ok(res)) => Some(res.timings()),
            Outcome::Downloaded(Ok(download)) => Some(download.timings()),
            Outcome::Fetched(Err(err)) | Outcome::Downloaded(Err(err)) => err.timings(),
            Outcome::Kept { .. } | Outcome::FileFailed(_) => None,
        }
    }

    /// The file the body is in, when there is one.
    pub(crate) fn file(&self) -> Option<&std::path::Path> {
        match self {
            Outcome::Downloaded(Ok(download)) => Some(download.path()),
            Outcome::Kept { path, .. } => Some(path),
            _ => None,
        }
    }
}
