//! `downloads`: batch-fetch's `download_all_settled` beside `aria2c -i
//! list -j N` and `curl --parallel --parallel-max N` (issue 19), on
//! loopback against a file server of its own that can cut every
//! transfer once.
//!
//! Each client is its own process, run under `rusage` for its wall time,
//! CPU time and peak RSS as the kernel accounts them; the cases and
//! clients interleave; every file of every run is verified byte for byte
//! against the content function, and the server's count of body bytes
//! gives the bytes re-sent. The tables go into BENCHMARKS.md between the
//! `downloads` markers.
//!
//! `bash harness/downloads` builds everything in release mode and runs this.

mod cases;
mod clients;
mod content;
mod files_dir;
mod report;
mod run;
mod server;

use std::path::PathBuf;

use clap::Parser;

use cases::Case;
use clients::Client;
use run::{Sample, Workspace};

#[derive(Debug, Parser)]
#[command(about = "batch-fetch's downloads beside aria2c and curl --parallel, on loopback")]
struct Args {
    /// Interleaved runs of every case (medians need at least 3).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Shrunk cases and one run: checks the comparison works; its figures
    /// are not for quoting.
    #[arg(long)]
    quick: bool,
    /// Only these cases (comma-separated: large, small, rss-small,
    /// rss-large, cut).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Only these clients (comma-separated: batch-fetch, aria2, curl).
    #[arg(long, value_delimiter = ',')]
    clients: Vec<String>,
    /// The Markdown file the results go into (between its markers).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md"))]
    out: PathBuf,
    /// Only serve files (for trying a client by hand): print the address
    /// and serve for `--max-seconds`.
    #[arg(long)]
    serve: bool,
    /// With `--serve`: cut the first GET of each file, offsets drawn from
    /// this seed.
    #[arg(long)]
    cut_seed: Option<u64>,
    /// Where the files go (one run's at a time): by default /dev/shm if it
    /// is a tmpfs with room, else the temp directory (see `files_dir`).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// With `--serve`: how long to serve.
    #[arg(long, default_value_t = 600)]
    max_seconds: u64,
}

/// One case's samples for each client, and the runs that failed.
pub struct Row {
    pub case: Case,
    pub samples: Vec<(Client, Vec<Sample>)>,
}

fn main() {
    let mut args = Args::parse();
    if args.serve {
        if let Err(e) = server::serve_for(args.cut_seed, args.max_seconds) {
            eprintln!("downloads: cannot serve: {e}");
            std::process::exit(1);
        }
        return;
    }
    if args.quick {
        args.runs = 1;
    }
    let bins = clients::bins_dir();
    if !bins.join("rusage").is_file() {
        eprintln!("downloads: no rusage beside this program (bash harness/downloads builds it)");
        std::process::exit(2);
    }
    let mut wanted = Client::ALL.to_vec();
    if !args.clients.is_empty() {
        wanted.retain(|c| args.clients.iter().any(|name| name == c.name()));
        for name in &args.clients {
            if Client::parse(name).is_none() {
                eprintln!("downloads: no client {name:?} (batch-fetch, aria2, curl)");
                std::process::exit(2);
            }
        }
    }
    let mut missing = Vec::new();
    wanted.retain(|c| {
        let there = c.available(&bins);
        if !there {
            eprintln!(
                "*** {} is not installed: the comparison runs without it",
                c.name()
            );
            missing.push(*c);
        }
        there
    });
    let mut cases = cases::cases(args.quick);
    if !args.only.is_empty() {
        cases.retain(|c| args.only.iter().any(|k| k == c.key));
    }
    // Room for the largest case, and a quarter more.
    let room = cases.iter().map(Case::total_bytes).max().unwrap_or(0) / 4 * 5;
    let files_under = files_dir::choose(args.dir.clone(), room);
    let filesystem = files_dir::filesystem(&files_under).unwrap_or_else(|| "?".to_owned());
    let ws = Workspace::new(&files_under).unwrap_or_else(|e| {
        eprintln!("downloads: cannot make a working directory: {e}");
        std::process::exit(2);
    });

    // Other work on the machine shows in every figure: say how much.
    let load_before = load_average();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for case in cases {
        let mut samples: Vec<(Client, Vec<Sample>)> =
            wanted.iter().map(|&c| (c, Vec::new())).collect();
        for round in 0..args.runs {
            // Each round a different client goes first; the cut offsets
            // are the same for every client of a round.
            let seed = 0x5eed_0000 + round as u64;
            for k in 0..samples.len() {
                let slot = (round + k) % samples.len();
                let client = samples[slot].0;
                match run::run_one(&bins, &ws, &case, client, seed) {
                    Ok(sample) => {
                        eprintln!(
                            "round {round} {} {}: wall {:.2} s, CPU {:.2} ms/MiB, peak RSS {:.1} MiB, \
                             {} requests, {} connections, re-sent {:.2} %",
                            case.title(),
                            client.name(),
                            sample.usage.wall_s,
                            sample.cpu_ms_per_mib(),
                            sample.rss_mib(),
                            sample.server.requests,
                            sample.server.connections,
                            sample.resent_pct()
                        );
                        samples[slot].1.push(sample);
                    }
                    Err(e) => {
                        eprintln!(
                            "round {round} {} {}: FAILED: {e}",
                            case.title(),
                            client.name()
                        );
                        failures.push(format!("{}, {}: {e}", case.title(), client.name()));
                    }
                }
            }
        }
        rows.push(Row { case, samples });
    }
    drop(ws);

    let load = (load_before, load_average());
    let files_on = format!("{} ({filesystem})", files_under.display());
    let section = report::render(
        args.runs, args.quick, load, &files_on, &rows, &missing, &failures,
    );
    batch_fetch_harness::write_between(&args.out, report::BEGIN, report::END, &section);
    eprintln!("{section}");
    eprintln!("wrote {}", args.out.display());
    if !failures.is_empty() {
        eprintln!("{} run(s) FAILED:", failures.len());
        for f in &failures {
            eprintln!("  {f}");
        }
        std::process::exit(1);
    }
}

/// The 1-minute load average, from /proc/loadavg (`?` where unreadable).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}
