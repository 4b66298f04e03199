//! Connections: TLS, HTTP versions, DNS and resolve overrides, and what
//! the client refuses to leak or trust.

#[path = "../support/mod.rs"]
mod support;

mod dns_hickory;
mod dns_resolver;
mod http_versions;
mod keep_alive;
mod key_share;
mod pool;
mod resolve_overrides;
mod security;
mod tls;
mod trust;
