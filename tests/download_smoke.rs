//! Scratch: downloads end to end against a raw server that cuts the first
//! transfer and honours Range + If-Range.

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::raw::{RawServer, read_until_head};
use tokio::io::AsyncWriteExt;

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[tokio::test]
async fn cut_then_resumed() {
    const LEN: usize = 1 << 20;
    let body = Arc::new(content(LEN));
    let requests = Arc::new(AtomicUsize::new(0));
    let (b, r) = (body.clone(), requests.clone());
    let server = RawServer::script(move |mut stream, _| {
        let (body, requests) = (b.clone(), r.clone());
        async move {
            let mut buf = Vec::new();
            let Some(end) = read_until_head(&mut stream, &mut buf, Duration::from_secs(5)).await else { return };
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let n = requests.fetch_add(1, Ordering::SeqCst);
            let from = head.lines().find_map(|l| l.strip_prefix("range: bytes=")).map(|v| v.trim_end_matches('-').parse::<usize>().unwrap());
            let (status, slice, extra) = match from {
                Some(from) => ("206 Partial Content", &body[from..], format!("content-range: bytes {from}-{}/{LEN}\r\n", LEN - 1)),
                None => ("200 OK", &body[..], String::new()),
            };
            let headhdr = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\naccept-ranges: bytes\r\netag: \"v1\"\r\n{extra}connection: close\r\n\r\n", slice.len());
            let _ = stream.write_all(headhdr.as_bytes()).await;
            let cut = if n == 0 { 300_000 } else { slice.len() };
            let _ = stream.write_all(&slice[..cut]).await;
            let _ = stream.shutdown().await;
        }
    }).await;
    let dir = tempdir();
    let client = batch_fetch::BatchClient::builder()
        .download_checksum(true)
        .build()
        .unwrap();
    let target = dir.join("f.bin");
    let dl = client.download(server.url("/f"), &target).await.unwrap();
    eprintln!("{dl:?}");
    assert!(dl.resumed());
    assert_eq!(dl.status(), 206);
    assert_eq!(std::fs::read(&target).unwrap(), *body);
    assert!(!dir.join("f.bin.part").exists());
    use sha2::Digest;
    let want: [u8; 32] = sha2::Sha256::digest(&*body).into();
    assert_eq!(dl.sha256(), Some(want));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn continue_across_clients() {
    const LEN: usize = 1 << 20;
    let body = Arc::new(content(LEN));
    let requests = Arc::new(AtomicUsize::new(0));
    let (b, r) = (body.clone(), requests.clone());
    let server = RawServer::script(move |mut stream, _| {
        let (body, requests) = (b.clone(), r.clone());
        async move {
            let mut buf = Vec::new();
            let Some(end) = read_until_head(&mut stream, &mut buf, Duration::from_secs(5)).await else { return };
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let n = requests.fetch_add(1, Ordering::SeqCst);
            let from = head.lines().find_map(|l| l.strip_prefix("range: bytes=")).map(|v| v.trim_end_matches('-').parse::<usize>().unwrap());
            assert!(n == 0 || head.contains("if-range: \"v1\""), "{head}");
            let (status, slice, extra) = match from {
                Some(from) => ("206 Partial Content", &body[from..], format!("content-range: bytes {from}-{}/{LEN}\r\n", LEN - 1)),
                None => ("200 OK", &body[..], String::new()),
            };
            let headhdr = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\naccept-ranges: bytes\r\netag: \"v1\"\r\n{extra}connection: close\r\n\r\n", slice.len());
            let _ = stream.write_all(headhdr.as_bytes()).await;
            let cut = if n == 0 { 300_000 } else { slice.len() };
            let _ = stream.write_all(&slice[..cut]).await;
            let _ = stream.shutdown().await;
        }
    }).await;
    let dir = tempdir();
    let target = dir.join("f.bin");
    let first = batch_fetch::BatchClient::builder()
        .download_continue(true)
        .retry(batch_fetch::RetryPolicy::none())
        .build()
        .unwrap();
    let err = first.download(server.url("/f"), &target).await.unwrap_err();
    eprintln!("{err}");
    assert!(dir.join("f.bin.part").exists());
    assert!(dir.join("f.bin.part.meta").exists());
    assert!(!target.exists());
    let second = batch_fetch::BatchClient::builder()
        .download_continue(true)
        .download_checksum(true)
        .build()
        .unwrap();
    let dl = second.download(server.url("/f"), &target).await.unwrap();
    assert!(dl.resumed());
    assert_eq!(dl.attempts(), 1);
    assert_eq!(std::fs::read(&target).unwrap(), *body);
    assert!(!dir.join("f.bin.part").exists());
    assert!(!dir.join("f.bin.part.meta").exists());
    use sha2::Digest;
    let want: [u8; 32] = sha2::Sha256::digest(&*body).into();
    assert_eq!(dl.sha256(), Some(want));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("bf-dl-{}-{}", std::process::id(), rand_id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
fn rand_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}
