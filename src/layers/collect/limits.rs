//! What a response may weigh, checked: the head's field count and bytes,
//! an announced body length, and the body as it is read.

use crate::download::content_length;
use crate::error::{BodyError, BoxError, ErrorKind, Raised};
use crate::response::ResponseLimits;

/// A body larger than `max_body_size`, seen in its `Content-Length` or while
/// reading it.
#[derive(Debug, thiserror::Error)]
#[error("body exceeds the limit of {limit} bytes")]
pub(super) struct BodyTooLarge {
    limit: usize,
}

/// A response head over `max_response_headers` or
/// `max_response_header_size`.
#[derive(Debug, thiserror::Error)]
#[error("response head has {what}")]
pub(super) struct HeadersTooLarge {
    what: String,
}

/// hyper bounds the HTTP/1 head by its read buffer, which one large read can
/// overshoot, and HTTP/2 by the header list size alone; this makes both
/// limits exact for both protocols. A field counts its name, its value and
/// 4 bytes of `": "` and CRLF.
pub(super) fn check_head(
    headers: &http::HeaderMap,
    limits: &ResponseLimits,
) -> Result<(), BoxError> {
    check_fields(headers, limits)?;
    // Refuse an announced oversize body without reading it. (A decoded
    // body has no Content-Length left; the body limit then counts its
    // decoded bytes.) Beside `Transfer-Encoding`, a `Content-Length` does
    // not say the body's size (RFC 9112 §6.3): the chunks do.
    if content_length(headers).is_some_and(|len| len > limits.max_body_size as u64)
        && !headers.contains_key(http::header::TRANSFER_ENCODING)
    {
        return Err(body_too_large(limits.max_body_size));
    }
    Ok(())
}

/// The head's field count and bytes, within their limits (a download's
/// body has a limit of its own).
pub(super) fn check_fields(
    headers: &http::HeaderMap,
    limits: &ResponseLimits,
) -> Result<(), BoxError> {
    if headers.len() > limits.max_headers {
        return Err(headers_too_large(format!(
            "{} header fields, over the limit of {}",
            headers.len(),
            limits.max_headers
        )));
    }
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if bytes > limits.max_header_bytes {
        return Err(headers_too_large(format!(
            "{bytes} bytes of header fields, over the limit of {}",
            limits.max_header_bytes
        )));
    }
    Ok(())
}

/// Names a body failure: over the limit, or anything else that broke the
/// body after its head arrived (which the retry policy does not repeat).
pub(super) fn body_error(err: BoxError, limit: usize) -> BoxError {
    if err.is::<http_body_util::LengthLimitError>() {
        return body_too_large(limit);
    }
    Box::new(BodyError(err))
}

fn body_too_large(limit: usize) -> BoxError {
    Raised::boxed(ErrorKind::BodyTooLarge, BodyTooLarge { limit })
}

fn headers_too_large(what: String) -> BoxError {
    Raised::boxed(ErrorKind::HeadersTooLarge, HeadersTooLarge { what })
}
