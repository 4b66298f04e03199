//! A raw TCP server whose connections are handled by a closure of the test:
//! for answers no HTTP library would write (too many headers, endless
//! header lines, corrupt bodies).
//!
//! Each connection lives at most [`SCRIPT_CONN_CAP`]; dropping the
//! [`ScriptServer`] closes the listener and every connection.
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;

use super::listen::{LOOPBACK, Listening};

/// How long any scripted connection may live at most.
pub const SCRIPT_CONN_CAP: Duration = Duration::from_secs(30);

/// Guard of a running scripted server on 127.0.0.1:0.
pub struct ScriptServer {
    listening: Listening,
    accepted: Arc<AtomicUsize>,
}

impl ScriptServer {
    /// Runs `script(stream, conn_id)` for every accepted connection
    /// (`conn_id` from 1).
    pub async fn start<F, Fut>(script: F) -> ScriptServer
    where
        F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let listening = Listening::start(LOOPBACK, Some(SCRIPT_CONN_CAP), move |stream| {
            let id = count.fetch_add(1, Ordering::SeqCst) + 1;
            script(stream, id)
        })
        .await;
        ScriptServer {
            listening,
            accepted,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.listening.addr()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr(), path)
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}
