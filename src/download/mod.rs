//! Downloads: bodies streamed to files rather than held in memory.
//!
//! A download is a request like any other, through the same limits,
//! timeout and retries; its input carries a target path (`input`), which
//! the client turns into a [`Job`] in the request's extensions, and the
//! body layer, seeing one, writes the body to the job's partial file
//! (`part`) instead of collecting it. A body cut off mid-way is retried,
//! and resumed where the server allows it (`resume`).

mod input;
mod job;
mod part;
mod resume;
mod writers;

pub use input::IntoDownloads;
pub(crate) use input::{Target, one};
pub(crate) use job::Validator;
pub(crate) use job::{AttemptClock, AttemptStart, DownloadSettings, Job, file_error};
pub(crate) use resume::{Placement, ask_for_rest, content_length, placement, validator};

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{HeaderMap, StatusCode, Uri, Version};

use crate::response::{Downloaded, Response};
use crate::timings::Timings;

/// A finished download: the file is complete at [`path()`](Self::path).
///
/// Made by [`BatchClient::download_all`](crate::BatchClient::download_all)
/// and the other `download` entry points.
pub struct Download {
    response: Response,
    path: PathBuf,
    bytes: u64,
    resumed: bool,
    sha256: Option<[u8; 32]>,
}

impl Download {
    /// `res`, a response whose body the body layer stored (see
    /// `layers::collect`).
    pub(crate) fn from_response(mut res: Response) -> Self {
        let Downloaded {
            path,
            bytes,
            resumed,
            sha256,
        } = res
            .take_downloaded()
            .expect("the client checks that a download was stored");
        Download {
            response: res,
            path,
            bytes,
            resumed,
            sha256,
        }
    }

    /// Where the file is: the path given with the input.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The bytes in the file (decoded, when the server compressed the
    /// body; see [`BatchClient::download_all`](crate::BatchClient::download_all)).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The status of the last attempt: `200`, or `206 Partial Content`
    /// when it was resumed (`416` when the file turned out whole already).
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// True when part of the file came from an earlier attempt, and the
    /// last one asked only for the rest (`Range` with `If-Range`).
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// The SHA-256 of the file, when the client was built with
    /// [`download_checksum(true)`](crate::BatchClientBuilder::download_checksum).
    pub fn sha256(&self) -> Option<[u8; 32]> {
        self.sha256
    }

    /// The headers of the last attempt's response.
    pub fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    /// The HTTP version of the last attempt's connection.
    pub fn version(&self) -> Version {
        self.response.version()
    }

    /// The URL that answered: the input's, or the last of its redirects.
    pub fn url(&self) -> &Uri {
        self.response.url()
    }

    /// How many attempts were made: 1 when the first one was kept.
    pub fn attempts(&self) -> u32 {
        self.response.attempts()
    }

    /// Time from when the batch started this input to the file's rename.
    pub fn elapsed(&self) -> Duration {
        self.response.elapsed()
    }

    /// Where the time went: queued, connect, time to first byte, body.
    pub fn timings(&self) -> &Timings {
        self.response.timings()
    }
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("path", &self.path)
            .field("bytes", &self.bytes)
            .field("status", &self.status())
            .field("resumed", &self.resumed)
            .field("url", &crate::error::Redacted(self.url()))
            .field("attempts", &self.attempts())
            .finish_non_exhaustive()
    }
}
