//! One JSON line per input on stdout.

use std::time::Duration;

use batch_fetch::{ErrorKind, Timings};
use serde::Serialize;

use crate::input::Origin;
use crate::outcome::Outcome;
use crate::redact;

/// What one input's line says.
#[derive(Serialize)]
pub(crate) struct Record<'a> {
    /// The input's position among the inputs (blank and comment lines do
    /// not count), from 0.
    index: usize,
    /// Its line in the file, from 1.
    line: u64,
    /// A hash of that line's text, for `--resume` (see `resume`).
    input_hash: String,
    /// The URL as written (none for a line that did not parse), its
    /// credentials masked.
    url: Option<&'a str>,
    /// The URL that answered, after redirects, its credentials masked.
    final_url: Option<String>,
    status: Option<u16>,
    /// Body bytes (decoded): in memory, or in the file.
    bytes: Option<u64>,
    attempts: u32,
    timings: Option<TimingsMs>,
    error: Option<ErrorRecord>,
    /// Where `--output-dir` put the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    /// Whether part of the file came from an earlier attempt or run.
    #[serde(skip_serializing_if = "Option::is_none")]
    resumed: Option<bool>,
    /// The file was there from an earlier run (`--continue`): no request
    /// was sent.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    kept: bool,
    /// The file's SHA-256, in hex (`--checksum`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sha256: Option<String>,
    /// The body (`--body`): as text when it is UTF-8, else base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_encoding: Option<&'static str>,
}

/// The timing breakdown, in milliseconds.
#[derive(Serialize)]
struct TimingsMs {
    queued_ms: f64,
    connect_ms: f64,
    ttfb_ms: f64,
    body_ms: f64,
    total_ms: f64,
}

#[derive(Serialize)]
struct ErrorRecord {
    kind: &'static str,
    message: String,
}

impl<'a> Record<'a> {
    /// The line of input `index`, which was at `position` in the batch
    /// (none when it was not sent).
    pub(crate) fn new(
        index: usize,
        position: Option<usize>,
        origin: &'a Origin,
        outcome: &Outcome,
        with_body: bool,
    ) -> Self {
        let mut record = Record {
            index,
            line: origin.line,
            input_hash: crate::resume::hash_text(origin.hash),
            url: origin.url.as_deref(),
            final_url: outcome
                .final_url()
                .map(|url| redact::userinfo(&url.to_string()).into_owned()),
            // A status taken as an error (--fail, or a download's) still
            // says which.
            status: outcome.status(),
            bytes: outcome.bytes(),
            attempts: outcome.attempts(),
            timings: outcome.timings().map(TimingsMs::from),
            error: None,
            file: outcome.file().map(|path| path.display().to_string()),
            resumed: None,
            kept: false,
            sha256: None,
            body: None,
            body_encoding: None,
        };
        match outcome {
            Outcome::Fetched(Ok(res)) if with_body => {
                let (body, encoding) = body_text(res.body());
                record.body = Some(body);
                record.body_encoding = Some(encoding);
            }
            Outcome::Fetched(Ok(_)) => {}
            Outcome::Downloaded(Ok(download)) => {
                record.resumed = Some(download.resumed());
                record.sha256 = download.sha256().as_ref().map(|sha| hex(sha));
            }
            Outcome::Kept { .. } => {
                record.resumed = Some(false);
                record.kept = true;
            }
            Outcome::Fetched(Err(err)) | Outcome::Downloaded(Err(err)) => {
                let mut message = err.to_string();
                if let Some(position) = position.filter(|&p| p != index) {
                    message = renumbered(&message, position, index);
                }
                record.error = Some(ErrorRecord {
                    kind: kind_name(err.kind()),
                    message: redact::userinfo(&message).into_owned(),
                });
            }
            Outcome::FileFailed(reason) => {
                record.error = Some(ErrorRecord {
                    kind: kind_name(ErrorKind::File),
                    message: reason.clone(),
                });
            }
        }
        record
    }
}

impl Record<'_> {
    /// Why the tool counts this input as failed, when it does: its error,
    /// or its status.
    pub(crate) fn failure(&self) -> String {
        match (&self.error, self.status) {
            (Some(error), _) => error.message.clone(),
            (None, Some(status)) => format!("status {status}"),
            (None, None) => String::new(),
        }
    }
}

impl From<&Timings> for TimingsMs {
    fn from(t: &Timings) -> Self {
        TimingsMs {
            queued_ms: ms(t.queued()),
            connect_ms: ms(t.connect()),
            ttfb_ms: ms(t.ttfb()),
            body_ms: ms(t.body()),
            total_ms: ms(t.total()),
        }
    }
}

/// `message` saying `(input {index})` where the library, which numbers
/// only the inputs it was given, said `(input {position})`: with
/// `--continue`, the inputs kept are not given to it. The library's
/// number comes first in its message, after the URL (which has no
/// spaces) or the input as written (quoted: in the rare input that holds
/// the very same text, that would be renumbered instead).
fn renumbered(message: &str, position: usize, index: usize) -> String {
    message.replacen(
        &format!(" (input {position})"),
        &format!(" (input {index})"),
        1,
    )
}

/// A body as JSON text: itself when it is UTF-8, else its base64.
fn body_text(body: &[u8]) -> (String, &'static str) {
    use base64::Engine;

    match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), "utf-8"),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(body),
            "base64",
        ),
    }
}

/// Bytes as lowercase hex, as `sha256sum` writes a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;

    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// Milliseconds with microsecond precision.
fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

/// The kind's name in the JSON lines and the summary.
pub(crate) fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Config => "config",
        ErrorKind::InvalidRequest => "invalid_request",
        ErrorKind::Connect => "connect",
        ErrorKind::Tls => "tls",
        ErrorKind::Timeout => "timeout",
        ErrorKind::BodyTooLarge => "body_too_large",
        ErrorKind::Protocol => "protocol",
        ErrorKind::Cancelled => "cancelled",
        ErrorKind::Redirect => "redirect",
        ErrorKind::HeadersTooLarge => "headers_too_large",
        ErrorKind::Decode => "decode",
        ErrorKind::Status => "status",
        ErrorKind::File => "file",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_librarys_number_for_an_input_becomes_the_tools() {
        assert_eq!(
            renumbered(
                "HTTP status error for http://h.test/a (input 1): 404 Not Found",
                1,
                4
            ),
            "HTTP status error for http://h.test/a (input 4): 404 Not Found"
        );
        assert_eq!(
            renumbered(
                "timed out for http://h.test/ (input 12) after 2 attempts",
                1,
                4
            ),
            "timed out for http://h.test/ (input 12) after 2 attempts",
            "only that number"
        );
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
