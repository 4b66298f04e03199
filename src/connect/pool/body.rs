//! The body of a response from the client: hyper's own (HTTP/2, whose
//! connection runs on its task), or one that carries its HTTP/1.1
//! connection back to the pool.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use super::http1::HeldBody;
use crate::connect::ConnectedAt;

/// The body of a response from the client.
pub(crate) enum ResponseBody {
    /// A stream of a connection that runs on its own task.
    Streams(Incoming, ConnectedAt),
    /// On an HTTP/1.1 connection it drives and gives back (see `http1`).
    Held(HeldBody),
}

/// A response body that knows the connection it came on. The record
/// travels with the body rather than in the response's extensions, whose
/// map costs two allocations (about 1,000 instructions) per response.
pub(crate) trait OnConnection {
    /// The record of the connection, if the body came on one (read with
    /// the head: a body that carries its connection back lets go of it at
    /// its end).
    fn connection(&self) -> Option<&ConnectedAt>;
}

impl OnConnection for ResponseBody {
    fn connection(&self) -> Option<&ConnectedAt> {
        match self {
            ResponseBody::Streams(_, connected) => Some(connected),
            ResponseBody::Held(body) => body.connected(),
        }
    }
}

/// A body made in memory (the crate's benchmarks and fuzzing).
impl OnConnection for http_body_util::Full<Bytes> {
    fn connection(&self) -> Option<&ConnectedAt> {
        None
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ResponseBody::Streams(body, _) => Pin::new(body).poll_frame(cx),
            ResponseBody::Held(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Streams(body, _) => body.is_end_stream(),
            ResponseBody::Held(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Streams(body, _) => body.size_hint(),
            ResponseBody::Held(body) => body.size_hint(),
        }
    }
}
