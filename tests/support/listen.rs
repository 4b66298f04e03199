//! What every server here shares: a loopback listener, an accept loop in
//! the background, one task per connection, and a stop on drop
//! ([`Listening`]); for the raw and HTTP/2 servers, also what that loop
//! counts ([`ConnCounts`]).
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Gauge, GaugeGuard};

/// 127.0.0.1, where the servers listen unless told otherwise.
pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Accepts the next connection, or `None` once `shutdown` fires. Accept
/// errors (e.g. EMFILE under heavy load) back off a little and go on.
pub async fn accept_until_shutdown(
    listener: &TcpListener,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<TcpStream> {
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    return Some(stream);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            _ = shutdown.changed() => return None,
        }
    }
}

/// A running accept loop. Dropping it stops the loop and ends the task of
/// every connection.
pub struct Listening {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Listening {
    /// Binds `ip`:0 and runs `serve(stream)` for every accepted connection
    /// (called in accept order), each in its own task. That task ends with
    /// the future, after `cap` if one is given, or when the server stops.
    pub async fn start<F, Fut>(ip: IpAddr, cap: Option<Duration>, mut serve: F) -> Listening
    where
        F: FnMut(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind(SocketAddr::new(ip, 0))
            .await
            .unwrap_or_else(|e| panic!("bind {ip}:0: {e}"));
        let addr = listener.local_addr().expect("local_addr");
        let (shutdown, mut rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            while let Some(stream) = accept_until_shutdown(&listener, &mut rx).await {
                let conn = serve(stream);
                let mut stop = rx.clone();
                tokio::spawn(async move {
                    let conn = async {
                        match cap {
                            Some(cap) => {
                                let _ = tokio::time::timeout(cap, conn).await;
                            }
                            None => conn.await,
                        }
                    };
                    tokio::select! {
                        _ = conn => {}
                        _ = stop.changed() => {}
                    }
                });
            }
        });
        Listening {
            addr,
            shutdown,
            task: Some(task),
        }
    }

    /// [`Listening::start`] on 127.0.0.1 whose connections run
    /// `serve(stream, conn_id)` (`conn_id` from 1), counted in `counts`:
    /// accepted, open now, and panics caught (a panicking connection task
    /// ends that connection only).
    pub async fn counted<F, Fut>(cap: Duration, counts: Arc<ConnCounts>, serve: F) -> Listening
    where
        F: Fn(TcpStream, usize) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Listening::start(LOOPBACK, Some(cap), move |stream| {
            let conn = counts.accepted.fetch_add(1, Ordering::SeqCst) + 1;
            let open = GaugeGuard::new(vec![counts.open.clone()]);
            let counts = counts.clone();
            let fut = serve(stream, conn);
            async move {
                let _open = open;
                if AssertUnwindSafe(fut).catch_unwind().await.is_err() {
                    counts.panics.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
        .await
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the accept loop and every connection. Returns the accept
    /// loop's panic (e.g. one of `serve`), if it had panicked by now.
    pub fn stop(&mut self) -> Option<String> {
        let _ = self.shutdown.send(true);
        let mut task = self.task.take()?;
        let mut panicked = None;
        if task.is_finished()
            && let Some(Err(e)) = (&mut task).now_or_never()
            && e.is_panic()
        {
            panicked = Some(e.to_string());
        }
        task.abort();
        panicked
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a [`Listening::counted`] accept loop counted.
#[derive(Debug, Default)]
pub struct ConnCounts {
    accepted: AtomicUsize,
    open: Arc<Gauge>,
    panics: AtomicUsize,
}

impl ConnCounts {
    /// TCP connections accepted.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.current()
    }

    /// Connection tasks that panicked.
    pub fn panics(&self) -> usize {
        self.panics.load(Ordering::SeqCst)
    }
}
