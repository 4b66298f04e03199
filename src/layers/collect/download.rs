//! The body of a download's answer, written to its partial file as it
//! arrives instead of collected (see `crate::download`).
//!
//! Chunks gather into a buffer of [`CHUNK`] bytes; a full buffer is
//! written on the blocking pool while the next one fills, so the disk and
//! the network work at once, the task that drives the batch never waits on
//! the disk, and a download holds about two buffers whatever its size.

use std::pin::pin;

use bytes::{Bytes, BytesMut};
use http_body::Body;
use http_body_util::BodyExt;

use super::detach;
use super::phases::Stopwatch;
use crate::download::{self, AttemptStart, Job, Placement};
use crate::error::{BoxError, ErrorKind, Interrupted, Raised};
use crate::observe::RequestRecord;
use crate::response::Downloaded;

/// The most bytes buffered before a write: big enough that a write costs
/// little per byte, small enough that a hundred downloads at once hold a
/// few MiB (two buffers each).
const CHUNK: usize = 128 << 10;

/// One attempt of a download, from its response head: where its body
/// goes, and the whole of it written there; on success, the file renamed
/// onto the target and an empty response that says so.
pub(super) async fn store<B>(
    job: Job,
    start: AttemptStart,
    own_range: bool,
    mut head: http::response::Parts,
    body: B,
    record: Option<RequestRecord>,
    stopwatch: Stopwatch,
) -> Result<http::Response<Bytes>, BoxError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let result = write_body(&job, &start, own_range, &head, body).await;
    if let Some(record) = &record {
        stopwatch.body_done(record);
    }
    head.extensions.insert(result?);
    // The head outlives the attempt in the results: off the read buffer.
    detach::headers(&mut head.headers);
    Ok(http::Response::from_parts(head, Bytes::new()))
}

async fn write_body<B>(
    job: &Job,
    start: &AttemptStart,
    own_range: bool,
    head: &http::response::Parts,
    body: B,
) -> Result<Downloaded, BoxError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let placement = if own_range {
        // The caller's own `Range`: the answer is what they asked for.
        Placement::At(0)
    } else {
        match download::placement(head.status, &head.headers, start) {
            Ok(placement) => placement,
            Err(why) => {
                // Unusable for resuming: the next attempt (or run) starts
                // over.
                job.set_resume(None);
                job.on_file(start.generation, |part, _, _| {
                    part.not_resumable();
                    Ok(())
                })
                .await?;
                return Err(Box::new(Interrupted {
                    received: None,
                    cause: why.into(),
                }));
            }
        }
    };
    // A 200 says whether a later attempt (or run) may resume.
    let validator = (head.status == http::StatusCode::OK).then(|| {
        let validator = (!own_range)
            .then(|| download::validator(&head.headers))
            .flatten();
        job.set_resume(validator.clone());
        validator
    });
    let generation = start.generation;
    let at = match placement {
        Placement::At(at) => at,
        Placement::Complete(total) => {
            let sha256 = job
                .on_file(generation, move |part, _, target| {
                    part.finish(total, target)
                })
                .await?;
            return Ok(stored(job, total, true, sha256));
        }
    };
    let max = job.settings().max_size;
    // A decoded body has no length left; a raw one's is the stored one.
    if let (Some(max), Some(len)) = (max, download::content_length(&head.headers))
        && at.saturating_add(len) > max
    {
        return Err(too_large(max));
    }
    let mut writer = Writer {
        job,
        generation,
        begin: Some(Begin {
            at,
            url: job.url().to_owned(),
            validator,
        }),
        end: at,
        buf: BytesMut::new(),
        writing: None,
    };
    let mut body = pin!(body);
    loop {
        let frame = body.frame().await.map(|f| f.map_err(Into::into));
        match frame {
            None => break,
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                if max.is_some_and(|max| writer.len_with(data.len()) > max) {
                    return Err(too_large(max.unwrap_or_default()));
                }
                writer.push(&data).await?;
            }
            Some(Err(err)) => {
                // Keep what arrived, so the next attempt asks for less.
                let received = writer.flush().await?;
                return Err(Box::new(Interrupted {
                    received: Some(received - at),
                    cause: err,
                }));
            }
        }
    }
    let (end, sha256) = writer.finish().await?;
    Ok(stored(job, end, at > 0, sha256))
}

fn stored(job: &Job, bytes: u64, resumed: bool, sha256: Option<[u8; 32]>) -> Downloaded {
    Downloaded {
        path: job.target().to_path_buf(),
        bytes,
        resumed,
        sha256,
    }
}

fn too_large(max: u64) -> BoxError {
    Raised::boxed(
        ErrorKind::BodyTooLarge,
        format!("download exceeds the limit of {max} bytes"),
    )
}

/// A step under way on the blocking pool.
type Writing = std::pin::Pin<Box<dyn Future<Output = Result<Option<[u8; 32]>, BoxError>> + Send>>;

/// What the first step of an attempt does before it writes: makes the
/// file ready from `at`, and says in its `.meta` whether it may be
/// resumed (when the answer was a `200`).
struct Begin {
    at: u64,
    url: String,
    validator: Option<Option<download::Validator>>,
}

/// Buffers a body's chunks and writes them, one step under way at most.
///
/// Each step is one hand-off to the blocking pool (a thread woken, the
/// task woken back), which costs more than the write of a buffer to the
/// page cache; so the first step also makes the file ready and the last
/// one also renames it: a body of two buffers takes two hand-offs, not
/// four.
struct Writer<'a> {
    job: &'a Job,
    generation: u64,
    /// Until the first step.
    begin: Option<Begin>,
    /// Where the buffered bytes go in the file.
    end: u64,
    buf: BytesMut,
    writing: Option<Writing>,
}

impl Writer<'_> {
    /// The file's length once `more` bytes are added to what is buffered.
    fn len_with(&self, more: usize) -> u64 {
        self.end + (self.buf.len() + more) as u64
    }

    async fn push(&mut self, data: &[u8]) -> Result<(), BoxError> {
        if self.buf.capacity() == 0 {
            self.buf.reserve(CHUNK);
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.wait().await?;
            self.writing = Some(Box::pin(self.step(false)));
        }
        Ok(())
    }

    /// Waits for the step under way.
    async fn wait(&mut self) -> Result<Option<[u8; 32]>, BoxError> {
        match self.writing.take() {
            Some(writing) => writing.await,
            None => Ok(None),
        }
    }

    /// Starts the next step: the file made ready if it is the first, the
    /// buffer written, and (`finish`: the body's end) the file renamed.
    fn step(
        &mut self,
        finish: bool,
    ) -> impl Future<Output = Result<Option<[u8; 32]>, BoxError>> + Send + 'static + use<> {
        let begin = self.begin.take();
        let bytes = std::mem::take(&mut self.buf).freeze();
        let at = self.end;
        self.end += bytes.len() as u64;
        let end = finish.then_some(self.end);
        self.job
            .on_file(self.generation, move |part, persisted, target| {
                if let Some(Begin { at, url, validator }) = begin {
                    part.start(at, persisted)?;
                    match validator {
                        Some(Some(validator)) => part.note_resumable(&url, &validator)?,
                        Some(None) => part.not_resumable(),
                        None => {}
                    }
                }
                if !bytes.is_empty() {
                    part.write(at, &bytes, persisted)?;
                }
                match end {
                    Some(end) => part.finish(end, target),
                    None => Ok(None),
                }
            })
    }

    /// Writes all that is buffered; the file's length after.
    async fn flush(&mut self) -> Result<u64, BoxError> {
        self.wait().await?;
        if !self.buf.is_empty() || self.begin.is_some() {
            self.step(false).await?;
        }
        Ok(self.end)
    }

    /// The body ended: the rest written and the file renamed onto its
    /// target, in one step; its length and checksum.
    async fn finish(mut self) -> Result<(u64, Option<[u8; 32]>), BoxError> {
        self.wait().await?;
        let sha256 = self.step(true).await?;
        Ok((self.end, sha256))
    }
}
