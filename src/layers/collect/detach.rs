//! Detaches a finished response from its connection's read buffer.
//!
//! hyper and h2 hand out header values and body chunks as `Bytes` slices of
//! the buffer a connection reads into, so one 100-byte response kept in a
//! gathered batch keeps that whole buffer (8 KiB or more) alive, and a
//! large batch's results hold many times their own size. Copying what a response keeps
//! into allocations of its own size costs one copy of the head and of a
//! single-chunk body (a body of several chunks is copied once anyway when
//! it is joined), and the buffer goes back to the connection.

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue};
use http_body_util::Collected;

/// The body in one allocation of its own.
pub(super) fn body(collected: Collected<Bytes>) -> Bytes {
    let mut data = collected.aggregate();
    // `aggregate` keeps a single chunk as it is (still a slice of the read
    // buffer); `copy_to_bytes` over it would too, so copy by hand.
    let mut owned = BytesMut::with_capacity(data.remaining());
    while data.has_remaining() {
        let chunk = data.chunk();
        owned.extend_from_slice(chunk);
        let n = chunk.len();
        data.advance(n);
    }
    owned.freeze()
}

/// Every header value moved into one shared allocation for the whole map.
pub(super) fn headers(headers: &mut HeaderMap) {
    let total: usize = headers.values().map(HeaderValue::len).sum();
    let mut joined = BytesMut::with_capacity(total);
    for value in headers.values() {
        joined.extend_from_slice(value.as_bytes());
    }
    let joined = joined.freeze();
    let mut at = 0;
    for value in headers.values_mut() {
        let len = value.len();
        // The bytes were a valid value already; should the stricter check
        // of `from_maybe_shared` refuse them, the value stays as it was.
        if let Ok(mut owned) = HeaderValue::from_maybe_shared(joined.slice(at..at + len)) {
            owned.set_sensitive(value.is_sensitive());
            *value = owned;
        }
        at += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn body_is_copied_whole_from_one_or_many_chunks() {
        let one = http_body_util::Full::new(Bytes::from_static(b"hello"))
            .collect()
            .await
            .unwrap();
        assert_eq!(body(one), Bytes::from_static(b"hello"));

        let chunks = futures_util::stream::iter([&b"ab"[..], b"", b"cde"].map(|c| {
            Ok::<_, std::convert::Infallible>(http_body::Frame::data(Bytes::from_static(c)))
        }));
        let many = http_body_util::StreamBody::new(chunks)
            .collect()
            .await
            .unwrap();
        assert_eq!(body(many), Bytes::from_static(b"abcde"));
    }

    #[test]
    fn header_values_keep_their_order_bytes_and_sensitivity() {
        let mut map = HeaderMap::new();
        map.append("x-a", HeaderValue::from_static("1"));
        map.append("x-b", HeaderValue::from_static("two"));
        map.append("x-a", HeaderValue::from_static("three"));
        let mut secret = HeaderValue::from_static("s3cret");
        secret.set_sensitive(true);
        map.insert("authorization", secret);
        map.insert("x-empty", HeaderValue::from_static(""));
        map.insert("x-obs", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let before = map.clone();
        headers(&mut map);
        assert_eq!(map, before);
        assert!(map["authorization"].is_sensitive());
        assert!(!map["x-b"].is_sensitive());
        let all: Vec<_> = map.get_all("x-a").iter().collect();
        assert_eq!(all, ["1", "three"]);
    }
}
