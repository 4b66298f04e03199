//! One JSON line per input on stdout.

use std::time::Duration;

use batch_fetch::{Error, ErrorKind, Response, Timings};
use serde::Serialize;

use crate::input::Origin;
use crate::redact;

/// What one input's line says.
#[derive(Serialize)]
pub(crate) struct Record<'a> {
    /// The input's position among the inputs (blank and comment lines do
    /// not count), from 0.
    index: usize,
    /// Its line in the file, from 1.
    line: u64,
    /// The URL as written (none for a line that did not parse), its
    /// credentials masked.
    url: Option<&'a str>,
    /// The URL that answered, after redirects, its credentials masked.
    final_url: Option<String>,
    status: Option<u16>,
    /// Body bytes (decoded).
    bytes: Option<usize>,
    attempts: u32,
    timings: Option<TimingsMs>,
    error: Option<ErrorRecord>,
    /// Where `--output-dir` put the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) file: Option<String>,
    /// Why the body could not be written there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) file_error: Option<String>,
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
    pub(crate) fn new(
        index: usize,
        origin: &'a Origin,
        result: &Result<Response, Error>,
        with_body: bool,
    ) -> Self {
        let mut record = Record {
            index,
            line: origin.line,
            url: origin.url.as_deref(),
            final_url: None,
            status: None,
            bytes: None,
            attempts: 0,
            timings: None,
            error: None,
            file: None,
            file_error: None,
            body: None,
            body_encoding: None,
        };
        match result {
            Ok(res) => {
                record.final_url = Some(redact::userinfo(&res.url().to_string()).into_owned());
                record.status = Some(res.status().as_u16());
                record.bytes = Some(res.body().len());
                record.attempts = res.attempts();
                record.timings = Some(TimingsMs::from(res.timings()));
                if with_body {
                    let (body, encoding) = body_text(res.body());
                    record.body = Some(body);
                    record.body_encoding = Some(encoding);
                }
            }
            Err(err) => {
                // A status taken as an error (--fail) still says which.
                record.status = err.status().map(|status| status.as_u16());
                record.attempts = err.attempts();
                record.timings = err.timings().map(TimingsMs::from);
                record.error = Some(ErrorRecord {
                    kind: kind_name(err.kind()),
                    message: redact::userinfo(&err.to_string()).into_owned(),
                });
            }
        }
        record
    }
}

impl Record<'_> {
    /// Why the tool counts this input as failed, when it does: its error,
    /// the body it could not write, or its status.
    pub(crate) fn failure(&self) -> String {
        match (&self.error, &self.file_error, self.status) {
            (Some(error), _, _) => error.message.clone(),
            (None, Some(file_error), _) => format!("cannot write the body: {file_error}"),
            (None, None, Some(status)) => format!("status {status}"),
            (None, None, None) => String::new(),
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
