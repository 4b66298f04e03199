//! The partial file of a download, `<target>.part`: created at the first
//! answer to write, written at explicit offsets, and renamed onto the
//! target once whole, or removed. Every call here is blocking: they run on
//! the writer threads, under the job's lock (see `job` and `writers`).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::job::{DownloadSettings, Validator, file_error};
use crate::error::{BoxError, ErrorKind, Raised};

#[derive(Debug)]
pub(crate) struct PartFile {
    path: PathBuf,
    file: Option<File>,
    /// The file's length, as this download made it (every change to the
    /// file goes through here), so that cutting it to the length it has
    /// costs no call.
    len: u64,
    /// This download made the file (and so may remove it).
    created: bool,
    /// The download ended without a file: nothing may write any more.
    abandoned: bool,
    /// Renamed onto the target: its length and checksum.
    renamed: Option<(u64, Option<[u8; 32]>)>,
    /// The SHA-256 of the bytes written in order from the start, when
    /// asked; `None` once a write out of order (a resumed attempt) breaks
    /// the run, and the file is read again at the end.
    hash: Option<Hasher>,
    checksum: bool,
    /// Keep the file when the download fails, if it can be resumed: its
    /// validator is then in `<part>.meta` (see `meta`).
    keep: bool,
    /// `<part>.meta` was written: the file may be resumed.
    resumable: bool,
    /// This download holds its path against others in the process (see
    /// `job`), until the download ends.
    claimed: bool,
}

#[derive(Debug)]
struct Hasher {
    sha: Sha256,
    len: u64,
}

impl Hasher {
    fn new() -> Self {
        Hasher {
            sha: Sha256::new(),
            len: 0,
        }
    }
}

impl PartFile {
    pub(crate) fn new(path: PathBuf, settings: DownloadSettings) -> Self {
        PartFile {
            path,
            file: None,
            len: 0,
            created: false,
            abandoned: false,
            renamed: None,
            hash: settings.checksum.then(Hasher::new),
            checksum: settings.checksum,
            keep: settings.keep_partial,
            resumable: false,
            claimed: true,
        }
    }

    /// True the first time: the claim on the path is given up.
    pub(crate) fn take_claim(&mut self) -> bool {
        std::mem::take(&mut self.claimed)
    }

    /// Takes up the partial file an earlier run kept for `url`, if its
    /// `.meta` says how to resume it: its validator, and the bytes it has.
    pub(crate) fn take_up(&mut self, url: &str, persisted: &AtomicU64) -> Option<Validator> {
        let meta = std::fs::read(meta::path(&self.path)).ok()?;
        let validator = meta::parse(&meta, url)?;
        let file = no_follow().write(true).open(&self.path).ok()?;
        let len = file.metadata().ok()?.len();
        if len == 0 {
            return None;
        }
        self.file = Some(file);
        self.len = len;
        self.created = true;
        self.resumable = true;
        // The bytes already there are read again for the checksum.
        self.hash = None;
        persisted.store(len, Ordering::Release);
        Some(validator)
    }

    /// Says in `<part>.meta` how to resume this file, when partial files
    /// are kept.
    pub(crate) fn note_resumable(
        &mut self,
        url: &str,
        validator: &Validator,
    ) -> Result<(), BoxError> {
        if !self.keep {
            return Ok(());
        }
        let meta_path = meta::path(&self.path);
        no_follow()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&meta_path)
            .and_then(|mut file| {
                io::Write::write_all(&mut file, meta::render(url, validator).as_bytes())
            })
            .map_err(|e| file_error(format!("cannot write {}: {e}", meta_path.display())))?;
        self.resumable = true;
        Ok(())
    }

    /// This file cannot be resumed (any more): a failure removes it.
    pub(crate) fn not_resumable(&mut self) {
        if self.resumable {
            let _ = std::fs::remove_file(meta::path(&self.path));
            self.resumable = false;
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Makes ready to write from `at`: creates the file if this download
    /// has none yet, and cuts it to `at` (a restart, or what a write of an
    /// earlier attempt put past where this one resumes).
    pub(crate) fn start(&mut self, at: u64, persisted: &AtomicU64) -> Result<(), BoxError> {
        self.check_open()?;
        if self.file.is_none() {
            if at > 0 {
                return Err(file_error(format!(
                    "{} is gone: cannot resume at byte {at}",
                    self.path.display()
                )));
            }
            let file = no_follow()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&self.path)
                .map_err(|e| self.io_error("cannot create", e))?;
            self.file = Some(file);
            self.len = 0;
            self.created = true;
        }
        self.cut(at)?;
        persisted.store(at, Ordering::Release);
        if at == 0 {
            self.hash = self.checksum.then(Hasher::new);
        } else if self.hash.as_ref().is_some_and(|h| h.len != at) {
            self.hash = None;
        }
        Ok(())
    }

    /// Writes `bytes` at `at`.
    pub(crate) fn write(
        &mut self,
        at: u64,
        bytes: &[u8],
        persisted: &AtomicU64,
    ) -> Result<(), BoxError> {
        self.check_open()?;
        if let Err(e) = write_all_at(self.file()?, bytes, at) {
            // Some of it may be written: the length is not known any more.
            self.len = u64::MAX;
            return Err(self.io_error("cannot write", e));
        }
        let end = at + bytes.len() as u64;
        self.len = self.len.max(end);
        persisted.store(end, Ordering::Release);
        match &mut self.hash {
            Some(hash) if hash.len == at => {
                hash.sha.update(bytes);
                hash.len = end;
            }
            _ => self.hash = None,
        }
        Ok(())
    }

    /// The body ended at `end`: cuts the file there, takes its SHA-256 if
    /// asked, and renames it onto `target`.
    pub(crate) fn finish(&mut self, end: u64, target: &Path) -> Result<Option<[u8; 32]>, BoxError> {
        if let Some((len, sha256)) = self.renamed
            && len == end
        {
            // An attempt that timed out as its file was renamed, and the
            // next one found the file whole (a `416`).
            return Ok(sha256);
        }
        self.check_open()?;
        if self.file.is_none() {
            if end > 0 {
                return Err(file_error(format!(
                    "{} is gone: cannot complete it",
                    self.path.display()
                )));
            }
            // An empty body: nothing was written, there is no file yet.
            self.start(0, &AtomicU64::new(0))?;
        }
        self.cut(end)?;
        let sha256 = match self.hash.take() {
            _ if !self.checksum => None,
            Some(hash) if hash.len == end => Some(hash.sha.finalize().into()),
            _ => Some(self.hash_file()?),
        };
        self.file = None;
        std::fs::rename(&self.path, target).map_err(|e| {
            file_error(format!(
                "cannot move {} to {}: {e}",
                self.path.display(),
                target.display()
            ))
        })?;
        self.renamed = Some((end, sha256));
        if self.resumable {
            let _ = std::fs::remove_file(meta::path(&self.path));
        }
        Ok(sha256)
    }

    /// No file after all: the partial file goes, and nothing writes again.
    pub(crate) fn abandon(&mut self) {
        if self.renamed.is_some() || self.abandoned {
            return;
        }
        self.abandoned = true;
        self.file = None;
        if self.keep && self.resumable {
            // For a later run to resume.
            return;
        }
        if self.created {
            // Gone already is fine; anything else leaves nothing better to do.
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// Cuts (or extends) the file to `len` bytes, if it is not that long.
    fn cut(&mut self, len: u64) -> Result<(), BoxError> {
        if self.len != len {
            self.file()?
                .set_len(len)
                .map_err(|e| self.io_error("cannot truncate", e))?;
            self.len = len;
        }
        Ok(())
    }

    fn check_open(&self) -> Result<(), BoxError> {
        if self.abandoned || self.renamed.is_some() {
            return Err(Raised::boxed(
                ErrorKind::Cancelled,
                "the download ended before this write",
            ));
        }
        Ok(())
    }

    fn file(&self) -> Result<&File, BoxError> {
        self.file
            .as_ref()
            .ok_or_else(|| file_error(format!("{} is not open", self.path.display())))
    }

    fn hash_file(&self) -> Result<[u8; 32], BoxError> {
        let mut file = File::open(&self.path).map_err(|e| self.io_error("cannot read", e))?;
        let mut sha = Sha256::new();
        io::copy(&mut file, &mut sha).map_err(|e| self.io_error("cannot read", e))?;
        Ok(sha.finalize().into())
    }

    fn io_error(&self, what: &str, err: io::Error) -> BoxError {
        file_error(format!("{what} {}: {err}", self.path.display()))
    }
}

/// `<part>.meta`: what a later run needs to resume a kept partial file
/// safely: the URL it came from and the validator for `If-Range`.
mod meta {
    use std::path::{Path, PathBuf};

    use http::HeaderValue;

    use super::Validator;

    const FIRST_LINE: &str = "batch-fetch partial download 1";

    pub(super) fn path(part: &Path) -> PathBuf {
        let mut name = part.as_os_str().to_os_string();
        name.push(".meta");
        PathBuf::from(name)
    }

    pub(super) fn render(url: &str, validator: &Validator) -> String {
        let total = validator.total;
        format!(
            "{FIRST_LINE}\nurl {url}\nif-range {}\ntotal {total}\n",
            String::from_utf8_lossy(validator.if_range.as_bytes())
        )
    }

    /// The validator, if `text` is a meta file of ours for `url`.
    pub(super) fn parse(text: &[u8], url: &str) -> Option<Validator> {
        let text = std::str::from_utf8(text).ok()?;
        let mut lines = text.lines();
        if lines.next()? != FIRST_LINE {
            return None;
        }
        let mut field =
            |name: &str| -> Option<&str> { lines.next()?.strip_prefix(name)?.strip_prefix(' ') };
        if field("url")? != url {
            return None;
        }
        let if_range = HeaderValue::from_str(field("if-range")?).ok()?;
        let total = field("total")?.parse().ok()?;
        Some(Validator { if_range, total })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_meta_file_reads_back_for_its_url_only() {
            let v = Validator {
                if_range: HeaderValue::from_static("\"abc\""),
                total: 42,
            };
            let text = render("http://h.test/a", &v);
            assert_eq!(parse(text.as_bytes(), "http://h.test/a"), Some(v.clone()));
            assert_eq!(parse(text.as_bytes(), "http://h.test/b"), None);
            assert_eq!(parse(b"garbage", "http://h.test/a"), None);
        }
    }
}

/// Options that refuse to open a symbolic link: a link planted at a
/// partial file's path would have the download write where it points.
fn no_follow() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    options
}

#[cfg(unix)]
fn write_all_at(file: &File, bytes: &[u8], at: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, at)
}

#[cfg(not(unix))]
fn write_all_at(mut file: &File, bytes: &[u8], at: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(at))?;
    file.write_all(bytes)
}
