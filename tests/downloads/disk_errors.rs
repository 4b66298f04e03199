//! Disk errors are the failing input's own error, of kind `File` and
//! naming the path; the other inputs of the batch download as usual, and
//! no `.part` file is left anywhere: a missing directory, a parent that is
//! a file, a target that is a directory (the rename fails after the whole
//! body is written), a read-only directory, and a file-size limit
//! (`RLIMIT_FSIZE`, set in a child process: writing past it fails with
//! `EFBIG`).

use std::path::{Path, PathBuf};

use batch_fetch::{Error, ErrorKind};

use super::child::{self, SERVER_ENV};
use super::{assert_no_part, client, done};
use crate::support::bounded;
use crate::support::files::{FileServer, FileSpec, assert_file};
use crate::support::scratch::Scratch;

const SIZE: u64 = 200_000;

/// Serves the three files of [`batch_with_a_bad_target`] on `server`.
fn add_files(server: &FileServer, bad_size: u64) {
    server.add("/a.bin", FileSpec::new(SIZE));
    server.add("/bad.bin", FileSpec::new(bad_size));
    server.add("/c.bin", FileSpec::new(SIZE));
}

/// Downloads `/a.bin` and `/c.bin` into `dir` and `/bad.bin` (see
/// [`add_files`]) to `bad`, in one batch from `base` (the server's URL);
/// checks that the good two are whole and `bad` failed with a `File`
/// error naming it, and that no `.part` is left in `dir`. Returns that
/// error.
async fn batch_with_a_bad_target(base: &str, dir: &Scratch, bad: &Path) -> Error {
    let items: Vec<(String, PathBuf)> = vec![
        (format!("{base}/a.bin"), dir.join("a.bin")),
        (format!("{base}/bad.bin"), bad.to_path_buf()),
        (format!("{base}/c.bin"), dir.join("c.bin")),
    ];
    let mut results = bounded("batch", client(2).download_all_settled(items)).await;
    assert_eq!(results.len(), 3);
    let c = done(results.pop().unwrap());
    let err = super::failed(results.pop().unwrap());
    let a = done(results.pop().unwrap());
    assert_file(a.path(), "/a.bin", 0, SIZE);
    assert_file(c.path(), "/c.bin", 0, SIZE);
    println!("{}: {err}", bad.display());
    assert_eq!(err.kind(), ErrorKind::File, "{err}");
    assert_eq!(err.index(), Some(1), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&bad.display().to_string()),
        "the path is not named: {err}"
    );
    assert_no_part(dir);
    err
}

#[tokio::test]
async fn a_missing_directory_is_a_file_error_of_that_input_alone() {
    let server = FileServer::start().await;
    add_files(&server, SIZE);
    let dir = Scratch::new("dl-missing-dir");
    let bad = dir.join("missing/sub/bad.bin");

    batch_with_a_bad_target(&server.url(""), &dir, &bad).await;

    assert!(!dir.join("missing").exists());
    assert_eq!(
        server.requests("/bad.bin").len(),
        1,
        "a disk error is not retried"
    );
}

#[tokio::test]
async fn a_parent_that_is_a_file_is_a_file_error_of_that_input_alone() {
    let server = FileServer::start().await;
    add_files(&server, SIZE);
    let dir = Scratch::new("dl-parent-file");
    std::fs::write(dir.join("plain"), "a file, not a directory").unwrap();
    let bad = dir.join("plain/bad.bin");

    batch_with_a_bad_target(&server.url(""), &dir, &bad).await;

    assert_eq!(
        std::fs::read(dir.join("plain")).unwrap(),
        b"a file, not a directory"
    );
}

// The rename onto a directory fails after the whole body is written: the
// temporary file must still go.
#[tokio::test]
async fn a_target_that_is_a_directory_is_a_file_error_and_leaves_no_part() {
    let server = FileServer::start().await;
    add_files(&server, SIZE);
    let dir = Scratch::new("dl-target-dir");
    let bad = dir.join("taken");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("inside"), "kept").unwrap();

    batch_with_a_bad_target(&server.url(""), &dir, &bad).await;

    assert!(bad.is_dir());
    assert_eq!(std::fs::read(bad.join("inside")).unwrap(), b"kept");
}

/// Whether the permissions of a read-only directory bind this process
/// (they do not for root).
fn read_only_binds(root: &Path) -> bool {
    let probe = Scratch::under(root, "dl-probe");
    let ro = probe.join("ro");
    make_read_only(&ro);
    std::fs::File::create(ro.join("probe")).is_err()
}

#[cfg(unix)]
fn make_read_only(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
}

/// The read-only case proper, as a user whom permissions bind, with its
/// directories under `root`.
async fn read_only_case(base: &str, root: &Path) {
    let dir = Scratch::under(root, "dl-read-only");
    let ro = dir.join("ro");
    make_read_only(&ro);
    let bad = ro.join("bad.bin");

    batch_with_a_bad_target(base, &dir, &bad).await;

    assert_eq!(
        std::fs::read_dir(&ro).unwrap().count(),
        0,
        "written in a read-only directory"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_read_only_directory_is_a_file_error_of_that_input_alone() {
    let server = FileServer::start().await;
    add_files(&server, SIZE);
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    if read_only_binds(root) {
        read_only_case(&server.url(""), root).await;
        return;
    }
    // Root writes anywhere: run the case as nobody, in a child process.
    let setpriv = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    if !Path::new("/usr/bin/setpriv").exists() {
        eprintln!(
            "SKIP a_read_only_directory_is_a_file_error: permissions do not bind this user and setpriv is missing"
        );
        return;
    }
    let env = [(SERVER_ENV, server.url(""))];
    child::run(
        "disk_errors::read_only_directory_as_another_user",
        &setpriv,
        &env,
    )
    .await;
    assert_eq!(
        server.requests("/a.bin").len(),
        1,
        "the child used this server"
    );
}

#[cfg(unix)]
#[tokio::test]
#[ignore = "run by a_read_only_directory_is_a_file_error_of_that_input_alone, as user nobody"]
async fn read_only_directory_as_another_user() {
    let base = std::env::var(SERVER_ENV).expect("run by the parent test");
    // The target directory is not nobody's; /tmp is everybody's.
    let root = std::env::temp_dir();
    assert!(read_only_binds(&root), "still not bound by permissions");
    read_only_case(&base, &root).await;
}

/// The file-size limit of the child: between the small files and the big one.
const FSIZE_BLOCKS: u64 = 2048;
const BIG: u64 = 8 << 20;

#[cfg(unix)]
#[tokio::test]
async fn a_file_size_limit_is_a_file_error_of_that_input_alone() {
    let server = FileServer::start().await;
    add_files(&server, BIG);
    // `ulimit -f` sets RLIMIT_FSIZE (in blocks of 512 or 1024 bytes, as the
    // shell counts); `trap '' XFSZ` ignores SIGXFSZ, which an exec keeps, so
    // a write past the limit fails with EFBIG instead of killing the child.
    let sh = format!(r#"trap '' XFSZ; ulimit -f {FSIZE_BLOCKS} && exec "$0" "$@""#);
    let env = [(SERVER_ENV, server.url(""))];
    let stdout = child::run(
        "disk_errors::under_a_file_size_limit",
        &["sh", "-c", &sh],
        &env,
    )
    .await;
    for line in stdout
        .lines()
        .filter(|l| l.contains("bad.bin") || l.contains("limit"))
    {
        println!("child: {line}");
    }
    assert!(
        server.body_bytes("/bad.bin") > 0,
        "the child used this server"
    );
}

#[cfg(unix)]
#[tokio::test]
#[ignore = "run by a_file_size_limit_is_a_file_error_of_that_input_alone, under RLIMIT_FSIZE"]
async fn under_a_file_size_limit() {
    let base = std::env::var(SERVER_ENV).expect("run by the parent test");
    let limit = child::proc_limit("Max file size").expect("a file-size limit");
    println!("file-size limit {limit} bytes");
    assert!(SIZE < limit && limit < BIG, "limit {limit}");
    let dir = Scratch::new("dl-fsize");

    let err = batch_with_a_bad_target(&base, &dir, &dir.join("bad.bin")).await;

    assert!(!dir.join("bad.bin").exists());
    let efbig = std::io::Error::from_raw_os_error(27).to_string();
    let message = super::chain(&err);
    assert!(message.contains(&efbig), "not EFBIG ({efbig}): {message}");
}
