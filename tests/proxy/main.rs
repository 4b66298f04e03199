//! Proxies: HTTP (CONNECT tunnels and forwarding) and SOCKS5, their
//! credentials and errors, and the test proxy itself.

#[path = "../support/mod.rs"]
mod support;

mod proxy;
mod proxy_socks;
mod proxy_tls;
mod support_proxy_selftest;
