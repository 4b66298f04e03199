//! What a request carries through the stack besides its head: its body,
//! and the record of its input.
//!
//! The record (a [`RequestRecord`]) rides beside the body rather than in the
//! request's extensions: `http::Extensions` is a boxed map, so putting the
//! record there allocates twice, and each copy of the request (for the next
//! hop or attempt) copies the map and boxes the record again. Beside the
//! body, a copy is one `Arc` clone, and the extensions stay empty unless
//! the caller set some of their own.

use bytes::Bytes;

use crate::observe::RequestRecord;

/// The body of a request in the stack, with its input's record.
#[derive(Clone, Debug, Default)]
pub(crate) struct Payload {
    pub(crate) bytes: Bytes,
    /// `None` only for requests made outside the client (benchmarks, the
    /// fuzzer).
    pub(crate) record: Option<RequestRecord>,
}

/// A request as the stack's layers see it.
pub(crate) type StackRequest = http::Request<Payload>;
