//! The crypto provider's key exchange, as the server sees it: the
//! ClientHello's key shares, read off the wire by a listener that answers
//! nothing. aws-lc-rs (the default) offers the post-quantum hybrid
//! X25519MLKEM768 first; ring (the `ring` feature with the defaults off)
//! offers X25519.

use std::time::Duration;

use crate::support::bounded;
use crate::support::clients::defaults;
use batch_fetch::{ErrorKind, RetryPolicy};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

const X25519: u16 = 0x001d;
const X25519MLKEM768: u16 = 0x11ec;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_hello_offers_the_providers_key_shares() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://localhost:{}/",
        listener.local_addr().unwrap().port()
    );
    let hello = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        read_client_hello(&mut conn).await
        // Dropped without an answer: the handshake fails.
    });
    let client = defaults()
        .retry(RetryPolicy::none())
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let e = bounded("hello", client.fetch(url)).await.unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Tls | ErrorKind::Connect | ErrorKind::Protocol
        ),
        "{e}"
    );
    let groups = key_share_groups(&bounded("read hello", hello).await.unwrap());

    if cfg!(feature = "aws-lc-rs") {
        assert_eq!(
            groups.first(),
            Some(&X25519MLKEM768),
            "post-quantum hybrid first: {groups:04x?}"
        );
        assert!(groups.contains(&X25519), "{groups:04x?}");
    } else {
        assert_eq!(groups, [X25519], "ring offers X25519: {groups:04x?}");
    }
}

/// The first TLS record (the ClientHello's handshake message), whole.
async fn read_client_hello(conn: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut header = [0u8; 5];
    conn.read_exact(&mut header).await.unwrap();
    assert_eq!(header[0], 0x16, "a handshake record");
    let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).await.unwrap();
    body
}

/// The groups of the `key_share` extension (51) of a ClientHello
/// handshake message, in the client's order.
fn key_share_groups(msg: &[u8]) -> Vec<u16> {
    let mut r = Reader(msg);
    assert_eq!(r.u8(), 1, "a ClientHello");
    r.take(3); // length
    r.take(2 + 32); // legacy version, random
    let n = usize::from(r.u8());
    r.take(n); // session id
    r.vec16(); // cipher suites
    let n = usize::from(r.u8());
    r.take(n); // compression methods
    let mut extensions = Reader(r.vec16());
    while !extensions.0.is_empty() {
        let kind = extensions.u16();
        let body = extensions.vec16();
        if kind == 51 {
            let mut body = Reader(body);
            let mut shares = Reader(body.vec16());
            let mut groups = Vec::new();
            while !shares.0.is_empty() {
                groups.push(shares.u16());
                shares.vec16(); // the key
            }
            return groups;
        }
    }
    panic!("no key_share extension in the ClientHello");
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        assert!(self.0.len() >= n, "ClientHello cut short");
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    fn u16(&mut self) -> u16 {
        let b = self.take(2);
        u16::from_be_bytes([b[0], b[1]])
    }
    /// A vector with a two-byte length.
    fn vec16(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.take(n)
    }
}
