//! How a [`super::FileServer`] serves one path: [`FileSpec`].
use std::time::Duration;

/// What the answers of a file carry to tell its versions apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validator {
    /// `ETag: "…"` (strong): `If-Range` with it can match.
    Strong,
    /// `ETag: W/"…"`: never matches an `If-Range` (RFC 9110 §13.1.5).
    Weak,
    /// `Last-Modified` only.
    LastModified,
    /// Neither.
    None,
}

/// A `206` whose `Content-Range` does not describe what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrongRange {
    /// The range starts `delta` bytes away from the asked start (and the
    /// body is that range's bytes).
    Start(i64),
    /// The range starts where asked, but the total differs by `delta`.
    Total(i64),
}

/// One file of a [`super::FileServer`]: its size and switches. The
/// defaults are a well-behaved static file: `Accept-Ranges: bytes`, a
/// strong `ETag`, ranges (and `If-Range`) honoured, `Content-Length`, no
/// cut, one version.
#[derive(Debug, Clone)]
#[must_use]
pub struct FileSpec {
    pub(super) size: u64,
    pub(super) accept_ranges: bool,
    pub(super) validator: Validator,
    pub(super) honour_range: bool,
    pub(super) cuts: Vec<u64>,
    pub(super) cut_first: Option<(u64, usize)>,
    pub(super) changes: bool,
    pub(super) wrong_range: Option<WrongRange>,
    pub(super) gzip: bool,
    pub(super) chunked: bool,
    pub(super) drip: Option<(usize, Duration)>,
    pub(super) stall: Option<(u64, Duration, usize)>,
    pub(super) fail: Option<(u16, usize)>,
    pub(super) delay: Duration,
}

impl FileSpec {
    /// A file of `size` bytes.
    pub fn new(size: u64) -> FileSpec {
        FileSpec {
            size,
            accept_ranges: true,
            validator: Validator::Strong,
            honour_range: true,
            cuts: Vec::new(),
            cut_first: None,
            changes: false,
            wrong_range: None,
            gzip: false,
            chunked: false,
            drip: None,
            stall: None,
            fail: None,
            delay: Duration::ZERO,
        }
    }

    /// No `Accept-Ranges` header (ranges are still honoured unless
    /// [`ignore_range`](Self::ignore_range)).
    pub fn no_accept_ranges(mut self) -> Self {
        self.accept_ranges = false;
        self
    }

    pub fn validator(mut self, validator: Validator) -> Self {
        self.validator = validator;
        self
    }

    /// Answers every request with a whole `200`, `Range` or not (the
    /// `Accept-Ranges` header is still sent unless switched off).
    pub fn ignore_range(mut self) -> Self {
        self.honour_range = false;
        self
    }

    /// The first `times` requests of the path are cut (`usize::MAX`:
    /// every one): the connection closes after exactly `after` body bytes
    /// of the answer (whose head announced the whole length).
    pub fn cut_after(mut self, after: u64, times: usize) -> Self {
        self.cut_first = Some((after, times));
        self.cuts.clear();
        self
    }

    /// Request `i` of the path (from 0) is cut after `cuts[i]` body bytes
    /// of its answer; later requests are not cut.
    pub fn cuts(mut self, cuts: Vec<u64>) -> Self {
        self.cuts = cuts;
        self.cut_first = None;
        self
    }

    /// Where request `i` of the path (from 0) is cut, if it is.
    pub(super) fn cut(&self, i: usize) -> Option<u64> {
        let first = self.cut_first.filter(|(_, times)| i < *times);
        self.cuts.get(i).copied().or(first.map(|(after, _)| after))
    }

    /// The content and validator change after the first request: it is
    /// served version 0, every later one version 1.
    pub fn changes_after_first(mut self) -> Self {
        self.changes = true;
        self
    }

    /// Every `206` carries this wrong `Content-Range`.
    pub fn wrong_content_range(mut self, wrong: WrongRange) -> Self {
        self.wrong_range = Some(wrong);
        self
    }

    /// `Content-Encoding: gzip`: the body is the gzip of the content (a
    /// static pre-compressed file: ranges, validators and cuts apply to
    /// the encoded bytes).
    pub fn gzip(mut self) -> Self {
        self.gzip = true;
        self
    }

    /// `Transfer-Encoding: chunked` for whole answers, no `Content-Length`.
    pub fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }

    /// Writes the body `chunk` bytes at a time, one write every `every`.
    pub fn drip(mut self, chunk: usize, every: Duration) -> Self {
        self.drip = Some((chunk.max(1), every));
        self
    }

    /// The first `times` requests of the path go silent for `pause` after
    /// `after` body bytes of their answer, then send the rest.
    pub fn stall(mut self, after: u64, pause: Duration, times: usize) -> Self {
        self.stall = Some((after, pause, times));
        self
    }

    /// Where and how long request `i` of the path (from 0) goes silent.
    pub(super) fn stall_of(&self, i: usize) -> Option<(u64, Duration)> {
        self.stall
            .filter(|(_, _, times)| i < *times)
            .map(|(after, pause, _)| (after, pause))
    }

    /// The first `times` requests are answered `status` (a short text
    /// body, no validator); `usize::MAX` for every request.
    pub fn fail(mut self, status: u16, times: usize) -> Self {
        self.fail = Some((status, times));
        self
    }

    /// Waits `delay` before each answer's head.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn size(&self) -> u64 {
        self.size
    }
}
