//! `rusage [--limit SECS] PROGRAM [ARGS...]`: runs one program and prints,
//! after whatever the program printed, one JSON line
//! ([`ChildUsage`](batch_fetch_harness::ChildUsage)) with its exit code,
//! wall time, CPU time and peak RSS as the kernel accounted them.
//!
//! The `downloads` comparison runs every client under it, so aria2c and
//! curl, which report nothing of their own, are measured the same way as
//! batch-fetch. The figures come from `getrusage(RUSAGE_CHILDREN)`, which
//! is exactly the program's own as this process has no other child.
//!
//! The kernel's peak RSS of a program started by `posix_spawn` (vfork and
//! exec) is at least the parent's RSS at the exec, about 2 MiB here: the
//! figure is the program's own whenever it peaks higher than that, as every
//! client does.
//!
//! The program is killed after `--limit` seconds (default 600); the line
//! then says `"killed": true`.

use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use batch_fetch_harness::ChildUsage;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1).peekable();
    let mut limit = Duration::from_secs(600);
    if args.peek().is_some_and(|a| a == "--limit") {
        args.next();
        let secs = args.next().and_then(|s| s.to_str()?.parse::<f64>().ok());
        match secs {
            Some(s) if s.is_finite() && s > 0.0 => limit = Duration::from_secs_f64(s),
            _ => return usage("--limit takes a number of seconds"),
        }
    }
    let Some(program) = args.next() else {
        return usage("no program given");
    };
    let started = Instant::now();
    let mut child = match Command::new(&program).args(args).spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("rusage: cannot start {}: {e}", program.to_string_lossy());
            return ExitCode::from(127);
        }
    };
    // A watchdog kills it at the limit, so that waiting blocks (a polling
    // loop would add its period to the wall time).
    let done = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    {
        let (done, killed) = (Arc::clone(&done), Arc::clone(&killed));
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("a pid fits i32"));
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            if !done.load(Ordering::SeqCst) {
                killed.store(true, Ordering::SeqCst);
                let _ = kill(pid, Signal::SIGKILL);
            }
        });
    }
    let status = match child.wait() {
        Ok(status) => status,
        Err(e) => {
            eprintln!("rusage: cannot wait for the program: {e}");
            return ExitCode::from(1);
        }
    };
    done.store(true, Ordering::SeqCst);
    let killed = killed.load(Ordering::SeqCst);
    let wall_s = started.elapsed().as_secs_f64();
    let (user_s, sys_s, max_rss_kib) = batch_fetch_harness::children_usage();
    let usage = ChildUsage {
        exit_code: status.code(),
        killed,
        wall_s,
        user_s,
        sys_s,
        max_rss_kib,
    };
    // On a line of its own even if the program's output did not end one.
    println!(
        "\n{}",
        serde_json::to_string(&usage).expect("a usage serializes")
    );
    ExitCode::SUCCESS
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("rusage: {problem}\nusage: rusage [--limit SECS] PROGRAM [ARGS...]");
    ExitCode::from(2)
}
