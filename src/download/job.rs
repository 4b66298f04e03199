//! One download, across all its attempts: where it goes, how far it got,
//! and whether the server lets the next attempt ask for the rest.
//!
//! A [`Job`] rides in the request's extensions, so every attempt (a clone
//! of the request) shares it. Its file is touched only on the writer
//! threads (see `part` and `writers`), under one lock: a write of an attempt that timed out
//! may still be running when the next attempt starts, and the lock orders
//! it before anything the new attempt does. Each attempt takes a new
//! *generation*; a write of an older generation that had not started yet
//! is skipped, and one that had is harmless, since the new attempt rewrites
//! from where it starts (see [`Job::begin_attempt`]).

use std::collections::HashSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use http::HeaderValue;

use super::part::PartFile;
use crate::error::{BoxError, ErrorKind, Raised};

/// What the client's builder says about downloads.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DownloadSettings {
    /// The most bytes a downloaded file may have; `None`: no limit.
    pub(crate) max_size: Option<u64>,
    /// Compute the SHA-256 of the stored bytes.
    pub(crate) checksum: bool,
    /// Keep a resumable partial file when the download fails, and resume
    /// one found at the start.
    pub(crate) keep_partial: bool,
}

/// One download, shared by its attempts.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    target: PathBuf,
    /// The input's URL, for the `.meta` of a kept partial file.
    url: String,
    settings: DownloadSettings,
    /// Bumped by each attempt; writes of older ones are skipped.
    generation: AtomicU64,
    /// The bytes at the start of the file known written, in order.
    persisted: AtomicU64,
    /// Set when an answer allowed resuming; cleared when one did not.
    resume: Mutex<Option<Validator>>,
    part: Mutex<PartFile>,
}

/// A download attempt's timeout, handed by the timeout layer to the body
/// layer, which times the attempt itself: up to the response head only,
/// so that a body on its way to the file may take as long as it needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AttemptClock {
    pub(crate) timeout: std::time::Duration,
}

/// What a `200` said that lets a later attempt ask for the rest of the
/// same version of the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Validator {
    /// For `If-Range`: a strong `ETag`, or else the `Last-Modified` date.
    pub(crate) if_range: HeaderValue,
    /// The whole body's length, as the `200` said.
    pub(crate) total: u64,
}

/// One attempt's start, as [`Job::begin_attempt`] decided it.
#[derive(Clone, Debug)]
pub(crate) struct AttemptStart {
    pub(crate) generation: u64,
    /// Where the body of a `206` must start; 0 when no range was asked.
    pub(crate) offset: u64,
    pub(crate) validator: Option<Validator>,
}

/// Paths of the partial files this process is writing now: two downloads
/// writing one file would make one file of both.
static CLAIMED: LazyLock<Mutex<HashSet<PathBuf>>> = LazyLock::new(Default::default);

fn claimed() -> MutexGuard<'static, HashSet<PathBuf>> {
    CLAIMED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Job {
    /// A download to `target`, through its partial file `<target>.part`.
    ///
    /// Fails (kind [`File`](ErrorKind::File)) when `target` has no file
    /// name, or another download of this process is writing the same file.
    pub(crate) fn new(
        target: PathBuf,
        url: &http::Uri,
        settings: DownloadSettings,
    ) -> Result<Job, BoxError> {
        let part = part_path(&target)
            .ok_or_else(|| file_error(format!("{} is not a file path", target.display())))?;
        if !claimed().insert(part.clone()) {
            return Err(file_error(format!(
                "another download of this process is writing {}",
                target.display()
            )));
        }
        Ok(Job {
            shared: Arc::new(Shared {
                target,
                url: url.to_string(),
                settings,
                generation: AtomicU64::new(0),
                persisted: AtomicU64::new(0),
                resume: Mutex::new(None),
                part: Mutex::new(PartFile::new(part, settings)),
            }),
        })
    }

    pub(crate) fn target(&self) -> &Path {
        &self.shared.target
    }

    pub(crate) fn url(&self) -> &str {
        &self.shared.url
    }

    pub(crate) fn settings(&self) -> DownloadSettings {
        self.shared.settings
    }

    /// A new attempt: from where it may ask the server to start.
    ///
    /// The offset is what is known written; a write of the attempt before
    /// may still land beyond it, which the new attempt then overwrites
    /// with the same bytes (a `206`) or cuts off (a `200`).
    pub(crate) fn begin_attempt(&self) -> AttemptStart {
        let generation = self.shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let validator = self.resume().clone();
        let offset = match &validator {
            Some(_) => self.shared.persisted.load(Ordering::Acquire),
            None => 0,
        };
        AttemptStart {
            generation,
            offset,
            validator,
        }
    }

    /// With [`keep_partial`](DownloadSettings::keep_partial), takes up the
    /// partial file an earlier run left for `url`: the first attempt then
    /// asks for the rest. Anything unusable is started over.
    pub(crate) async fn take_up_partial(&self) {
        if !self.shared.settings.keep_partial {
            return;
        }
        let url = self.shared.url.clone();
        let generation = self.shared.generation.load(Ordering::Acquire);
        let found = self
            .on_file(generation, move |part, persisted, _| {
                Ok(part.take_up(&url, persisted))
            })
            .await;
        if let Ok(Some(validator)) = found {
            self.set_resume(Some(validator));
        }
    }

    /// The answer to an attempt allows (or not) resuming a later one.
    pub(crate) fn set_resume(&self, validator: Option<Validator>) {
        *self.resume() = validator;
    }

    fn resume(&self) -> MutexGuard<'_, Option<Validator>> {
        self.shared
            .resume
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `op` on the partial file, on a writer thread, for an attempt
    /// of `generation`: queued now, awaited by the attempt. Dropping the future leaves
    /// the operation to finish on its own.
    pub(crate) fn on_file<T, F>(
        &self,
        generation: u64,
        op: F,
    ) -> impl Future<Output = Result<T, BoxError>> + Send + 'static + use<T, F>
    where
        F: FnOnce(&mut PartFile, &AtomicU64, &Path) -> Result<T, BoxError> + Send + 'static,
        T: Send + 'static,
    {
        let shared = self.shared.clone();
        let running = super::writers::run(move || {
            let mut part = shared
                .part
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if shared.generation.load(Ordering::Acquire) != generation {
                return Err(superseded());
            }
            op(&mut part, &shared.persisted, &shared.target)
        });
        async move {
            match running.await {
                Ok(result) => result,
                Err(super::writers::Lost) => Err(file_error(
                    "writing the download failed: its writer thread panicked or could not start"
                        .to_owned(),
                )),
            }
        }
    }

    /// The download ended without a file: its partial file goes. Called
    /// by the one who ran the download (also when that future is dropped);
    /// waits for a write under way (one chunk) rather than leave a file
    /// that write would then extend.
    ///
    /// Called when the download ends, with its file or not: after it, no
    /// write of this job happens, so its path is free for another.
    pub(crate) fn abandon(&self) {
        let mut part = self
            .shared
            .part
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        part.abandon();
        release(&mut part);
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let part = self
            .part
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        part.abandon();
        release(part);
    }
}

/// Frees the path of `part` for another download, once.
fn release(part: &mut PartFile) {
    if part.take_claim() {
        claimed().remove(part.path());
    }
}

/// `<target>.part`, beside the target.
fn part_path(target: &Path) -> Option<PathBuf> {
    let name = target.file_name()?;
    let mut part = name.to_os_string();
    part.push(".part");
    std::path::absolute(target.with_file_name(part)).ok()
}

/// A failure of the file, of kind [`File`](ErrorKind::File).
pub(crate) fn file_error(msg: String) -> BoxError {
    Raised::boxed(ErrorKind::File, msg)
}

/// Seen only by an attempt that was dropped already.
fn superseded() -> BoxError {
    Raised::boxed(
        ErrorKind::Cancelled,
        "a later attempt of this download took over",
    )
}
