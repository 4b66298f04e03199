//! The downloads part of BENCHMARKS.md: one row per case and client, the
//! ratios of batch-fetch to the best peer, and issue 19's goals.

use std::fmt::Write as _;

use batch_fetch_harness::Spread;

use crate::Row;
use crate::cases::show_size;
use crate::clients::{self, Client};
use crate::run::Sample;

pub const BEGIN: &str =
    "<!-- downloads:begin (written by `bash harness/downloads`; edits inside are lost) -->";
pub const END: &str = "<!-- downloads:end -->";

/// The median of one figure over a client's samples.
fn median(samples: &[Sample], figure: impl Fn(&Sample) -> f64) -> Option<f64> {
    Spread::of(samples.iter().map(figure).collect()).map(|s| s.median)
}

fn spread(samples: &[Sample], figure: impl Fn(&Sample) -> f64) -> Option<Spread> {
    Spread::of(samples.iter().map(figure).collect())
}

/// `3.24 s (2.84–3.94)`: the median with its unit, then the range.
fn show(spread: Option<Spread>, decimals: usize, unit: &str) -> String {
    match spread {
        None => "–".to_owned(),
        Some(s) if s.min == s.max => format!("{:.*}{unit}", decimals, s.median),
        Some(s) => format!(
            "{:.*}{unit} ({:.*}–{:.*})",
            decimals, s.median, decimals, s.min, decimals, s.max
        ),
    }
}

/// One figure of a sample.
type Figure = fn(&Sample) -> f64;

/// The figures compared between clients (lower is better).
const FIGURES: [(&str, Figure); 3] = [
    ("wall", |s| s.usage.wall_s),
    ("CPU per MiB", Sample::cpu_ms_per_mib),
    ("peak RSS", Sample::rss_mib),
];

/// batch-fetch's median of `figure` over the best (lowest) peer median,
/// with that peer's name.
fn ratio(row: &Row, figure: Figure) -> Option<(f64, &'static str)> {
    let ours = row
        .samples
        .iter()
        .find(|(c, _)| *c == Client::BatchFetch)
        .and_then(|(_, s)| median(s, figure))?;
    let (best, name) = row
        .samples
        .iter()
        .filter(|(c, _)| *c != Client::BatchFetch)
        .filter_map(|(c, s)| Some((median(s, figure)?, c.name())))
        .min_by(|a, b| a.0.total_cmp(&b.0))?;
    (best > 0.0).then(|| (ours / best, name))
}

fn ours(row: &Row) -> &[Sample] {
    row.samples
        .iter()
        .find(|(c, _)| *c == Client::BatchFetch)
        .map_or(&[], |(_, s)| s.as_slice())
}

/// The generated section.
pub fn render(
    runs: usize,
    quick: bool,
    load: (String, String),
    files_on: &str,
    rows: &[Row],
    missing: &[Client],
    failures: &[String],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Downloads: the last run\n\n\
         aria2 {}, curl {}; {runs} interleaved run(s){}; medians (min–max). \
         Files went under {files_on}. \
         Every file of every run was verified byte for byte. The machine's \
         load average (1 min) was {} before and {} after the run.\n",
        clients::version("aria2c"),
        clients::version("curl"),
        if quick {
            " of the **quick** (shrunk) cases: not figures to quote"
        } else {
            ""
        },
        load.0,
        load.1
    );
    let _ = writeln!(
        out,
        "| case | client | wall | CPU per MiB | peak RSS | requests | connections | re-sent |\n\
         |---|---|---|---|---|---|---|---|"
    );
    for row in rows {
        for (client, samples) in &row.samples {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                row.case.title(),
                client.name(),
                show(spread(samples, |s| s.usage.wall_s), 2, " s"),
                show(spread(samples, Sample::cpu_ms_per_mib), 2, " ms"),
                show(spread(samples, Sample::rss_mib), 1, " MiB"),
                show(spread(samples, |s| s.server.requests as f64), 0, ""),
                show(spread(samples, |s| s.server.connections as f64), 0, ""),
                show(spread(samples, Sample::resent_pct), 2, " %"),
            );
        }
    }

    let _ = writeln!(
        out,
        "\nbatch-fetch ÷ the best peer (below 1 is better; the peer named):\n\n\
         | case | wall | CPU per MiB | peak RSS |\n|---|---|---|---|"
    );
    for row in rows {
        let cells: Vec<String> = FIGURES
            .iter()
            .map(|(_, figure)| {
                ratio(row, *figure)
                    .map_or_else(|| "–".to_owned(), |(r, peer)| format!("{r:.2}× ({peer})"))
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", row.case.title(), cells.join(" | "));
    }

    let _ = writeln!(out, "\nIssue 19's goals for batch-fetch:\n");
    let met = |ok: bool| if ok { "met" } else { "**not met**" };
    for key in ["large", "small"] {
        let Some(row) = rows.iter().find(|r| r.case.key == key) else {
            continue;
        };
        let shown: Vec<String> = FIGURES
            .iter()
            .filter_map(|(name, figure)| {
                let (r, _) = ratio(row, *figure)?;
                // Wall and CPU: at most the best peer's; RSS: below it.
                let ok = if *name == "peak RSS" {
                    r < 1.0
                } else {
                    r <= 1.0
                };
                Some(format!("{name} {r:.2}× ({})", met(ok)))
            })
            .collect();
        if !shown.is_empty() {
            let _ = writeln!(out, "- {}: {}.", row.case.title(), shown.join(", "));
        }
    }
    let rss = |key: &str| {
        rows.iter()
            .find(|r| r.case.key == key)
            .and_then(|r| Some((r, median(ours(r), Sample::rss_mib)?)))
    };
    if let (Some((small, a)), Some((large, b))) = (rss("rss-small"), rss("rss-large")) {
        let growth = (b / a - 1.0) * 100.0;
        let _ = writeln!(
            out,
            "- Peak RSS independent of file size: {:.1} MiB with {} files, {:.1} MiB with {} files \
             ({} files, {} in flight): {growth:+.1} % (goal: within 10 %; {}).",
            a,
            show_size(small.case.size),
            b,
            show_size(large.case.size),
            large.case.n,
            large.case.c,
            met(growth.abs() <= 10.0)
        );
    }
    let cut = rows.iter().find(|r| r.case.cut);
    let worst = cut.and_then(|row| {
        ours(row)
            .iter()
            .map(Sample::resent_pct)
            .max_by(f64::total_cmp)
    });
    if let Some(worst) = worst {
        let _ = writeln!(
            out,
            "- Every transfer cut once: every file identical to the source; bytes re-sent at \
             most {worst:.2} % of the total (goal: at most 1 %; {}).",
            met(worst <= 1.0)
        );
    }

    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|c| c.name()).collect();
        let _ = writeln!(
            out,
            "\nNot installed, so not measured: {}.",
            names.join(", ")
        );
    }
    if !failures.is_empty() {
        let _ = writeln!(out, "\nRuns that FAILED (left out of the figures):\n");
        for f in failures {
            let _ = writeln!(out, "- {f}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use batch_fetch_harness::ChildUsage;

    use super::*;
    use crate::cases::Case;
    use crate::server::Stats;

    fn sample(wall_s: f64, cpu_s: f64, rss_mib: u64, body_bytes: u64) -> Sample {
        Sample {
            usage: ChildUsage {
                exit_code: Some(0),
                wall_s,
                user_s: cpu_s,
                max_rss_kib: rss_mib * 1024,
                ..ChildUsage::default()
            },
            server: Stats {
                requests: 10,
                body_bytes,
                connections: 5,
                ..Stats::default()
            },
            total_bytes: 10 << 20,
        }
    }

    /// The ratios name the best peer for each figure, and the goals read
    /// the RSS pair and the cut case.
    #[test]
    fn ratios_and_goals() {
        let case = |key, size, cut| Case {
            key,
            n: 10,
            size,
            c: 5,
            cut,
        };
        let total = 10 << 20;
        let rows = vec![
            Row {
                case: case("large", 1 << 20, false),
                samples: vec![
                    (Client::BatchFetch, vec![sample(1.0, 0.1, 10, total)]),
                    (Client::Aria2, vec![sample(4.0, 0.05, 30, total)]),
                    (Client::Curl, vec![sample(2.0, 0.2, 20, total)]),
                ],
            },
            Row {
                case: case("rss-small", 1 << 20, false),
                samples: vec![(Client::BatchFetch, vec![sample(1.0, 0.1, 10, total)])],
            },
            Row {
                case: case("rss-large", 1 << 20, false),
                samples: vec![(Client::BatchFetch, vec![sample(1.0, 0.1, 12, total)])],
            },
            Row {
                case: case("cut", 1 << 20, true),
                samples: vec![(
                    Client::BatchFetch,
                    vec![sample(1.0, 0.1, 10, total + total / 200)],
                )],
            },
        ];
        let text = render(
            1,
            true,
            ("1".into(), "2".into()),
            "/dev/shm (tmpfs)",
            &rows,
            &[],
            &[],
        );
        assert!(
            text.contains(
                "| 10 × 1 MiB, 5 in flight | 0.50× (curl) | 2.00× (aria2) | 0.50× (curl) |"
            ),
            "{text}"
        );
        assert!(
            text.contains("wall 0.50× (met), CPU per MiB 2.00× (**not met**)"),
            "{text}"
        );
        assert!(
            text.contains("+20.0 % (goal: within 10 %; **not met**)"),
            "{text}"
        );
        assert!(
            text.contains("at most 0.50 % of the total (goal: at most 1 %; met)"),
            "{text}"
        );
    }
}
