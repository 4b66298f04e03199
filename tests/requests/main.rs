//! Requests and responses: the Request builder, JSON both ways, bodies
//! decoded (gzip, deflate, brotli, zstd) and limited, response heads limited.

#[path = "../support/mod.rs"]
mod support;

mod attempt_layers;
mod body_limit;
mod decode_errors;
mod decompress;
mod header_limits;
mod json_request;
mod json_response;
mod request_builder;
mod service;
mod status_errors;
