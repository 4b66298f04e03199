//! scratch, not committed
use std::time::Instant;
#[tokio::main]
async fn main() {
    let base = std::env::args().nth(1).unwrap();
    let n: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let size: usize = std::env::args().nth(3).unwrap().parse().unwrap();
    let c: usize = std::env::args().nth(4).unwrap().parse().unwrap();
    let dir = std::path::PathBuf::from("/tmp/scratch");
    let client = batch_fetch::BatchClient::builder()
        .concurrency(c)
        .build()
        .unwrap();
    let t = Instant::now();
    let items = (0..n).map(|i| {
        (
            format!("{base}/bytes/{size}?i={i}"),
            dir.join(format!("f{i}")),
        )
    });
    let res = client.download_all(items).await.unwrap();
    let total: u64 = res.iter().map(|d| d.bytes()).sum();
    let el = t.elapsed();
    let ru = nix_rusage();
    eprintln!(
        "{} files {} MiB in {:?}; cpu {:.3}s; {:.1} ms CPU/GiB; maxrss {} MiB",
        res.len(),
        total >> 20,
        el,
        ru.0,
        ru.0 * 1000.0 / (total as f64 / (1u64 << 30) as f64),
        ru.1 / 1024
    );
}
fn nix_rusage() -> (f64, i64) {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    let tick = 100.0;
    let cpu = (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / tick;
    let st = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = st
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    (cpu, hwm)
}
