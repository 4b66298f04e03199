//! The body of a download's answer, written to its partial file as it
//! arrives instead of collected (see `crate::download`).
//!
//! Each chunk hyper reads goes to a writer thread as it is (no copy), and
//! the download waits for the write before it takes the next one: the
//! task that drives the batch never waits on the disk, the disk and the
//! network still work at once (hyper reads the next chunk meanwhile), and
//! a download holds two chunks of at most hyper's read buffer (64 KiB)
//! whatever its size. Holding more, to write in bigger steps, measured no
//! cheaper and used more memory (see `download::writers`).

use std::pin::pin;

use bytes::Bytes;
use http_body::Body;
use http_body_util::BodyExt;

use super::detach;
use super::phases::Stopwatch;
use crate::download::{self, AttemptStart, Job, Placement};
use crate::error::{BoxError, ErrorKind, Interrupted, Raised};
use crate::observe::RequestRecord;
use crate::response::Downloaded;

/// The fewest bytes a write takes (but the last): on a slow link hyper
/// reads a few KiB at a time, and each write is a hand-off to a thread.
const MIN_WRITE: usize = 16 << 10;

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
        waiting: Vec::new(),
        waiting_len: 0,
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
                writer.push(data).await?;
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

/// What the first step of an attempt does before it writes: makes the
/// file ready from `at`, and says in its `.meta` whether it may be
/// resumed (when the answer was a `200`).
struct Begin {
    at: u64,
    url: String,
    validator: Option<Option<download::Validator>>,
}

/// Hands a body's chunks to a writer thread, a step at a time.
///
/// Each step is one hand-off (a thread woken, the task woken back), which
/// costs more than writing a chunk to the page cache; so the first step
/// also makes the file ready, and the last one renames it along with
/// whatever still waits. (Holding the chunk that completes the length for
/// that last step saves one more hand-off per file, but measured no
/// difference in CPU time or context switches with 2,000 files.)
struct Writer<'a> {
    job: &'a Job,
    generation: u64,
    /// Until the first step.
    begin: Option<Begin>,
    /// Where the waiting chunks go in the file.
    end: u64,
    /// Chunks not written yet: fewer than [`MIN_WRITE`] bytes.
    waiting: Vec<Bytes>,
    waiting_len: usize,
}

impl Writer<'_> {
    /// The file's length once `more` bytes are added to what waits.
    fn len_with(&self, more: usize) -> u64 {
        self.end + (self.waiting_len + more) as u64
    }

    /// Takes a chunk; writes what waits once it is enough.
    async fn push(&mut self, data: Bytes) -> Result<(), BoxError> {
        self.waiting_len += data.len();
        self.waiting.push(data);
        if self.waiting_len >= MIN_WRITE {
            self.step(false).await?;
        }
        Ok(())
    }

    /// One step: the file made ready if it is the first, the waiting
    /// chunks written, and (`finish`: the body's end) the file renamed.
    /// Its future may be dropped; the step still ends on its thread.
    async fn step(&mut self, finish: bool) -> Result<Option<[u8; 32]>, BoxError> {
        let begin = self.begin.take();
        let chunks = std::mem::take(&mut self.waiting);
        let mut at = self.end;
        self.end += std::mem::take(&mut self.waiting_len) as u64;
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
                for chunk in &chunks {
                    part.write(at, chunk, persisted)?;
                    at += chunk.len() as u64;
                }
                match end {
                    Some(end) => part.finish(end, target),
                    None => Ok(None),
                }
            })
            .await
    }

    /// Writes all that waits; the file's length after.
    async fn flush(&mut self) -> Result<u64, BoxError> {
        if !self.waiting.is_empty() || self.begin.is_some() {
            self.step(false).await?;
        }
        Ok(self.end)
    }

    /// The body ended: the rest written and the file renamed onto its
    /// target, in one step; its length and checksum.
    async fn finish(mut self) -> Result<(u64, Option<[u8; 32]>), BoxError> {
        let sha256 = self.step(true).await?;
        Ok((self.end, sha256))
    }
}
