//! Requests and responses: URL inputs (WHATWG), the Request builder, JSON
//! both ways, bodies decoded (gzip, deflate, brotli, zstd) and limited,
//! text by charset, response heads limited, bodies streamed.

#[path = "../support/mod.rs"]
mod support;

mod attempt_layers;
mod body_limit;
mod decompress;
mod header_limits;
mod json_request;
mod json_response;
mod request_builder;
mod service;
mod status_errors;
mod streaming;
mod text_charset;
mod urls;
