//! Runs the scenarios of issue 6 for batch-fetch, reqwest and a raw
//! hyper-util client side by side, interleaved, each client its own process
//! against a fresh loopback target server, and writes the tables, the goals
//! and a chart into BENCHMARKS.md (between its `harness` markers, so the
//! hand-written parts stay).
//!
//! `bash harness/run` builds everything in release mode and runs this.

mod chart;
mod run;
mod scenario;
mod summary;

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Parser;

use run::Binaries;
use summary::Results;

#[derive(Debug, Parser)]
#[command(about = "Compare batch-fetch with reqwest and a raw hyper-util client on loopback")]
struct Args {
    /// Interleaved runs of every scenario (medians need at least 3).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Scenarios shrunk tenfold (S5 a hundredfold) and one run: checks the
    /// harness works; its figures are not for quoting.
    #[arg(long)]
    quick: bool,
    /// Only these scenarios (comma-separated ids: S1-64,S1-256,S2,S3,S4,S5).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Only these clients (batch-fetch, hyper-util, reqwest).
    #[arg(long, value_delimiter = ',', default_values_t = ["batch-fetch".to_owned(), "hyper-util".to_owned(), "reqwest".to_owned()])]
    clients: Vec<String>,
    /// Seconds wrk runs for in S1 and S2: long enough for its sustained rate (a
    /// run as short as the scenario stops wrk with a round in flight,
    /// which flatters the clients).
    #[arg(long, default_value_t = 5)]
    wrk_seconds: u64,
    /// The Markdown file the results go into (between its markers).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md"))]
    out: PathBuf,
}

const BEGIN: &str = "<!-- harness:begin (written by `bash harness/run`; edits inside are lost) -->";
const END: &str = "<!-- harness:end -->";

fn main() {
    let mut args = Args::parse();
    if args.quick {
        args.runs = 1;
        args.wrk_seconds = args.wrk_seconds.min(2);
    }
    let scenarios: Vec<_> = scenario::all(args.quick)
        .into_iter()
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| o == s.id))
        .collect();
    let bins = Binaries::beside_this_one();
    let wrk = run::have_wrk();
    if !wrk {
        eprintln!("wrk is not installed: S1 and S2 run without its load-generator row");
    }
    let mut results = Results::default();
    let mut failures = Vec::new();
    for round in 0..args.runs {
        for s in &scenarios {
            // A different client goes first each round, so none always
            // meets the machine in the same state.
            let mut order = args.clients.clone();
            let first = round % order.len().max(1);
            order.rotate_left(first);
            for client in &order {
                match run::run_client(&bins, client, s) {
                    Ok(sample) => {
                        eprintln!(
                            "round {round} {} {client}: ok {}/{} wall {:.3} s, {:.1} µs CPU/request, peak RSS {:.1} MiB, server peak {} conns {} in flight",
                            s.id,
                            sample.report.ok,
                            sample.report.n,
                            sample.report.wall_s,
                            summary::cpu_us_per_request(&sample),
                            sample.report.peak_rss_kib as f64 / 1024.0,
                            sample.server.connections_peak,
                            sample.server.in_flight_peak,
                        );
                        if sample.server.requests < sample.report.ok as u64 {
                            failures.push(format!(
                                "{} {client}: {} Ok but the server saw {} requests",
                                s.id, sample.report.ok, sample.server.requests
                            ));
                        }
                        results.add(s, sample);
                    }
                    Err(e) => {
                        eprintln!("round {round} {} {client}: FAILED: {e}", s.id);
                        failures.push(format!("{} {client}: {e}", s.id));
                    }
                }
            }
            if s.wrk && wrk {
                match run::run_wrk(&bins, s, args.wrk_seconds) {
                    Ok(sample) => {
                        eprintln!(
                            "round {round} {} wrk: {} requests, as wall for {}: {:.3} s",
                            s.id, sample.report.n, s.n, sample.report.wall_s
                        );
                        results.add(s, sample);
                    }
                    Err(e) => failures.push(format!("{} wrk: {e}", s.id)),
                }
            }
        }
    }

    let chart_path = args.out.with_file_name("benchmarks.svg");
    if let Err(e) = chart::draw(&chart_path, &results, &scenarios) {
        failures.push(format!("chart: {e}"));
    }
    let section = render(&args, &results, &scenarios, &failures);
    write_section(&args.out, &section);
    eprintln!("wrote {} and {}", args.out.display(), chart_path.display());
    if !failures.is_empty() {
        eprintln!("{} run(s) failed:", failures.len());
        for f in &failures {
            eprintln!("  {f}");
        }
        std::process::exit(1);
    }
}

/// The generated part of BENCHMARKS.md.
fn render(
    args: &Args,
    results: &Results,
    scenarios: &[scenario::Scenario],
    failures: &[String],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Results of the last run\n\n{} on {}, {} core(s), {}; {} interleaved run(s){}.\n",
        today(),
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel(),
        args.runs,
        if args.quick {
            " of the **quick** (shrunk) scenarios: not figures to quote"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "### Goals\n\n{}", results.goals(scenarios));
    let _ = writeln!(
        out,
        "![CPU per request and RSS per in-flight request](benchmarks.svg)\n"
    );
    for s in scenarios {
        let _ = writeln!(out, "{}", results.table(s));
    }
    if !failures.is_empty() {
        let _ = writeln!(out, "### Runs that failed\n");
        for f in failures {
            let _ = writeln!(out, "- {f}");
        }
    }
    out
}

/// Replaces what lies between the markers, or appends the markers.
fn write_section(path: &std::path::Path, section: &str) {
    batch_fetch_harness::write_between(path, BEGIN, END, section);
}

fn today() -> String {
    std::process::Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "today".to_owned(), |s| s.trim().to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "an unknown CPU".to_owned())
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(
        |_| "unknown kernel".to_owned(),
        |s| format!("Linux {}", s.trim()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_between_the_markers_is_replaced_and_the_rest_kept() {
        let dir = std::env::temp_dir().join(format!("compare-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("BENCHMARKS.md");
        std::fs::write(&path, "# Title\n\nBy hand.\n").unwrap();
        write_section(&path, "first\n");
        let once = std::fs::read_to_string(&path).unwrap();
        assert!(once.starts_with("# Title\n\nBy hand.\n"), "{once}");
        assert!(once.contains(&format!("{BEGIN}\nfirst\n{END}")), "{once}");

        std::fs::write(
            &path,
            once.replace(END, &format!("{END}\n\n## After, by hand\n")),
        )
        .unwrap();
        write_section(&path, "second\n");
        let twice = std::fs::read_to_string(&path).unwrap();
        assert!(!twice.contains("first"), "{twice}");
        assert!(
            twice.contains(&format!("{BEGIN}\nsecond\n{END}")),
            "{twice}"
        );
        assert!(
            twice.contains(&format!("{END}\n\n## After, by hand")),
            "{twice}"
        );
        assert_eq!(twice.matches(BEGIN).count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
