//! The threads that write downloads to disk: two, shared by every client
//! of the process and fed by one queue, and more only while the disk
//! stalls.
//!
//! Tokio's blocking pool wakes a sleeping thread for every operation and
//! grows to a thread per download in flight. A hundred downloads of
//! 256 KiB at once took 35 % more CPU time and 40 % more wall time there
//! than here (tmpfs, loopback): here a thread that is busy takes the next
//! operation without being woken, and two threads keep the disk busy, a
//! write to the page cache taking microseconds.
//!
//! A disk that stops answering (a network filesystem, say) would hold
//! both threads and every download of the process behind them; so when an
//! operation has waited [`STALL`] while no operation ended, another thread
//! starts (one per [`STALL`] at most), up to [`MAX_THREADS`]. Threads beyond the first two end
//! after [`KEEP_ALIVE`] without work, as the first two do.
//!
//! Each download has at most one operation queued or running (see
//! `collect::download`), so its operations run in order.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Threads while the disk keeps up: one writes while the other creates or
/// renames a file (slow when the directory is busy).
const THREADS: usize = 2;

/// Threads at most, while operations wait on a stalled disk.
const MAX_THREADS: usize = 16;

/// No operation ended for this long while others wait: the threads are
/// stuck on the disk, and another one starts.
const STALL: Duration = Duration::from_millis(100);

/// How long a thread waits for work before it ends.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

type Operation = Box<dyn FnOnce() + Send>;

struct Pool {
    state: Mutex<State>,
    /// Signalled when an operation is queued and a thread sleeps.
    queued: Condvar,
}

struct State {
    queue: VecDeque<Operation>,
    threads: usize,
    sleeping: usize,
    /// Wakeups sent and not yet taken: a sleeping thread is woken only
    /// when none is on its way already (each wakeup is a system call).
    woken: usize,
    /// When an operation last ended or a thread started.
    progress: Option<Instant>,
}

static POOL: Pool = Pool {
    state: Mutex::new(State {
        queue: VecDeque::new(),
        threads: 0,
        sleeping: 0,
        woken: 0,
        progress: None,
    }),
    queued: Condvar::new(),
};

/// An operation that did not finish: it panicked, or no thread could be
/// started for it.
#[derive(Debug)]
pub(crate) struct Lost;

/// Runs `op` on a writer thread; the future gives its result. The
/// operation runs even if the future is dropped.
pub(crate) fn run<T, F>(op: F) -> impl Future<Output = Result<T, Lost>> + Send + 'static + use<T, F>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (done, result) = oneshot::channel();
    submit(Box::new(move || {
        if let Ok(value) = catch_unwind(AssertUnwindSafe(op)) {
            // The future may be gone: nobody waits for the result then.
            let _ = done.send(value);
        }
    }));
    async move {
        let mut result = std::pin::pin!(result);
        if let Ok(done) = tokio::time::timeout(STALL, &mut result).await {
            return done.map_err(|_| Lost);
        }
        // Waiting long: the threads may be stuck on the disk.
        unstall();
        result.await.map_err(|_| Lost)
    }
}

/// Starts another thread if operations wait while none has ended for
/// [`STALL`].
fn unstall() {
    let mut state = lock();
    if !state.queue.is_empty() && state.threads < MAX_THREADS && stalled(&state) {
        start_thread(&mut state);
    }
}

fn stalled(state: &State) -> bool {
    state.progress.is_some_and(|at| at.elapsed() >= STALL)
}

fn submit(op: Operation) {
    let mut state = lock();
    state.queue.push_back(op);
    if state.sleeping > state.woken {
        state.woken += 1;
        drop(state);
        POOL.queued.notify_one();
        return;
    }
    if state.threads < THREADS || (state.threads < MAX_THREADS && stalled(&state)) {
        start_thread(&mut state);
    }
}

fn start_thread(state: &mut State) {
    let started = std::thread::Builder::new()
        .name("batch-fetch-writer".to_owned())
        .spawn(work);
    match started {
        Ok(_) => {
            state.threads += 1;
            // A stall adds one thread per [`STALL`], not one per download
            // that waits.
            state.progress = Some(Instant::now());
        }
        Err(_) if state.threads == 0 => {
            // No thread will take what is queued: its futures see it lost.
            state.queue.clear();
        }
        // The threads there take it.
        Err(_) => {}
    }
}

fn lock() -> MutexGuard<'static, State> {
    POOL.state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A writer thread: runs what is queued, sleeps when nothing is, ends
/// after [`KEEP_ALIVE`] without work.
fn work() {
    let mut state = lock();
    loop {
        if let Some(op) = state.queue.pop_front() {
            drop(state);
            op();
            state = lock();
            state.progress = Some(Instant::now());
            continue;
        }
        state.sleeping += 1;
        let (woken, wait) = POOL
            .queued
            .wait_timeout(state, KEEP_ALIVE)
            .unwrap_or_else(PoisonError::into_inner);
        state = woken;
        state.sleeping -= 1;
        // Whatever woke it (a wakeup, the time, or nothing), it looks at
        // the queue now.
        state.woken = state.woken.saturating_sub(1);
        if wait.timed_out() && state.queue.is_empty() {
            state.threads -= 1;
            if state.threads == 0 {
                state.progress = None;
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn operations_run_and_give_their_results() {
        let results = futures_util::future::join_all((0..100).map(|i| run(move || i * 2))).await;
        let doubled: Vec<_> = results.into_iter().map(|r| r.ok()).collect();
        assert_eq!(doubled, (0..100).map(|i| Some(i * 2)).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_panic_is_lost_and_the_threads_go_on() {
        let lost = run(|| -> u32 { panic!("a writer operation fails") }).await;
        assert!(lost.is_err());
        assert_eq!(run(|| 7).await.ok(), Some(7));
    }

    #[tokio::test]
    async fn a_stalled_disk_gets_more_threads() {
        // Two operations that block (a disk that stopped), then one that
        // should not wait for them.
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = std::sync::Arc::new(Mutex::new(gate));
        let blocked: Vec<_> = (0..THREADS)
            .map(|_| {
                let gate = gate.clone();
                run(move || {
                    let _ = gate.lock().map(|g| g.recv_timeout(Duration::from_secs(10)));
                })
            })
            .collect();
        tokio::time::sleep(STALL * 2).await;
        // Queued behind the blocked ones: a new thread takes them.
        let waiting = run(|| 1);
        let next = run(|| 2);
        let both = tokio::time::timeout(Duration::from_secs(5), async {
            (waiting.await.ok(), next.await.ok())
        })
        .await;
        for _ in 0..THREADS {
            let _ = release.send(());
        }
        for op in blocked {
            let _ = op.await;
        }
        assert_eq!(both.ok(), Some((Some(1), Some(2))));
    }
}
