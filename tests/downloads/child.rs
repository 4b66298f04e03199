//! Running one `#[ignore]`d test of this binary in a child process, under
//! limits or an identity the parent must not take on itself (a file-size
//! limit, another user, a memory measurement of its own). The parent keeps
//! the server and hands its URL over in [`SERVER_ENV`].

use std::process::Command;

use crate::support::within;

/// The base URL of the parent's server, for the child.
pub const SERVER_ENV: &str = "BATCH_FETCH_DOWNLOADS_SERVER";

/// Runs the ignored test `test` (its full name, e.g.
/// `disk_errors::under_a_file_size_limit`) of this binary as
/// `prefix… <this binary> <test>`, with `env`; asserts it ran and passed,
/// and returns its standard output.
pub async fn run(test: &str, prefix: &[&str], env: &[(&str, String)]) -> String {
    let exe = std::env::current_exe().unwrap();
    let mut command = match prefix {
        [] => Command::new(&exe),
        [program, args @ ..] => {
            let mut c = Command::new(program);
            c.args(args).arg(&exe);
            c
        }
    };
    command.args([
        test,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    command.envs(env.iter().map(|(k, v)| (k, v)));
    let output = within(
        std::time::Duration::from_secs(120),
        "child process",
        tokio::task::spawn_blocking(move || command.output()),
    )
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child {test} failed:\n{stdout}\n{stderr}"
    );
    // It ran the test rather than filtering it away.
    assert!(
        stdout.contains("1 passed"),
        "child {test}:\n{stdout}\n{stderr}"
    );
    stdout
}

/// The soft limit named `name` in `/proc/self/limits` (e.g. `Max file
/// size`), `None` when unlimited.
pub fn proc_limit(name: &str) -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("/proc/self/limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name:?} in /proc/self/limits"));
    line[name.len()..].split_whitespace().next()?.parse().ok()
}
