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

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long any scripted connection may live at most.
pub const SCRIPT_CONN_CAP: Duration = Duration::from_secs(30);

/// Guard of a running scripted server on 127.0.0.1:0.
pub struct ScriptServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ScriptServer {
    /// Runs `script(stream, conn_id)` for every accepted connection
    /// (`conn_id` from 1).
    pub async fn start<F, Fut>(script: F) -> ScriptServer
    where
        F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let (shutdown, mut rx) = watch::channel(false);
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            loop {
                let Some(stream) = super::accept_until_shutdown(&listener, &mut rx).await else {
                    return;
                };
                let id = count.fetch_add(1, Ordering::SeqCst) + 1;
                let conn = script(stream, id);
                let mut stop = rx.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = tokio::time::timeout(SCRIPT_CONN_CAP, conn) => {}
                        _ = stop.changed() => {}
                    }
                });
            }
        });
        ScriptServer {
            addr,
            accepted,
            shutdown,
            task,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for ScriptServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.task.abort();
    }
}
