//! Requests and responses: URL inputs (WHATWG), the Request builder, JSON
//! both ways, bodies decoded (gzip, deflate, brotli, zstd) and limited,
//! response heads limited.

#[path = "../support/mod.rs"]
mod support;

mod body_limit;
mod decode_errors;
mod decompress;
mod header_limits;
mod json_request;
mod json_response;
mod request_builder;
mod status_errors;
mod urls;
