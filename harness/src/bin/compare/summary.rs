//! Medians and ranges of the samples, the Markdown tables, and the goals of
//! issue 6 checked against them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::run::Sample;
use crate::scenario::Scenario;

/// The client the others are compared with.
pub const OURS: &str = "batch-fetch";

pub use batch_fetch_harness::Spread;

/// Every sample, by scenario id and client, in the order they ran.
#[derive(Debug, Default)]
pub struct Results {
    pub samples: BTreeMap<(String, String), Vec<Sample>>,
}

/// The figures derived from one sample.
pub fn requests_per_s(s: &Sample) -> f64 {
    s.report.n as f64 / s.report.wall_s
}

/// Client CPU (user + system) per request, µs.
pub fn cpu_us_per_request(s: &Sample) -> f64 {
    s.report.work_cpu_s * 1e6 / s.report.n as f64
}

/// Growth of RSS from just before the first request to the peak, per
/// request in flight, KB (1000 bytes).
pub fn rss_per_in_flight_kb(s: &Sample, c: usize) -> f64 {
    let grown = s
        .report
        .peak_rss_kib
        .saturating_sub(s.report.rss_before_kib);
    grown as f64 * 1024.0 / c as f64 / 1000.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl Results {
    pub fn add(&mut self, scenario: &Scenario, sample: Sample) {
        self.samples
            .entry((scenario.id.to_owned(), sample.report.client.clone()))
            .or_default()
            .push(sample);
    }

    pub fn clients(&self, scenario: &Scenario) -> Vec<String> {
        let mut names: Vec<String> = self
            .samples
            .keys()
            .filter(|(id, _)| id == scenario.id)
            .map(|(_, c)| c.clone())
            .collect();
        // Ours first, then the peers, then load generators.
        names.sort_by_key(|c| match c.as_str() {
            OURS => 0,
            "hyper-util" => 1,
            "reqwest" => 2,
            _ => 3,
        });
        names
    }

    /// The median and range of one figure over a client's runs of a scenario.
    pub fn spread(
        &self,
        scenario: &Scenario,
        client: &str,
        figure: impl Fn(&Sample) -> f64,
    ) -> Option<Spread> {
        let samples = self
            .samples
            .get(&(scenario.id.to_owned(), client.to_owned()))?;
        Spread::of(samples.iter().map(figure).collect())
    }

    fn sum(&self, scenario: &Scenario, client: &str, part: impl Fn(&Sample) -> usize) -> usize {
        self.samples
            .get(&(scenario.id.to_owned(), client.to_owned()))
            .map_or(0, |v| v.iter().map(part).sum())
    }

    /// Ours divided by a peer's, on medians.
    pub fn ratio(
        &self,
        scenario: &Scenario,
        peer: &str,
        figure: impl Fn(&Sample) -> f64 + Copy,
    ) -> Option<f64> {
        let ours = self.spread(scenario, OURS, figure)?.median;
        let theirs = self.spread(scenario, peer, figure)?.median;
        Some(ours / theirs)
    }

    /// One Markdown table for a scenario.
    pub fn table(&self, scenario: &Scenario) -> String {
        let mut out = String::new();
        let runs = self
            .samples
            .get(&(scenario.id.to_owned(), OURS.to_owned()))
            .map_or(0, Vec::len);
        let _ = writeln!(
            out,
            "### {}: {}\n\nMedian (min–max) of {runs} interleaved run(s), each client its own process against a fresh server.\n",
            scenario.id, scenario.title
        );
        let with_ideal = scenario.ideal_s.is_some();
        let mut head = "| client | ok / n | wall s | req/s | CPU µs/request | ours ÷ this (CPU) | peak RSS MiB ".to_owned();
        let mut rule = "|---|---|---|---|---|---|---".to_owned();
        if with_ideal {
            head += "| wall × ideal ";
            rule += "|---";
        }
        if scenario.c >= 1000 {
            head += "| RSS KB per in-flight ";
            rule += "|---";
        }
        if scenario.rss_at.is_some() {
            head += &format!("| peak RSS MiB after {} ", scenario.rss_at.unwrap_or(0));
            rule += "|---";
        }
        head += "| server: connections opened | server: peak open | server: peak in flight |";
        rule += "|---|---|---|";
        let _ = writeln!(out, "{head}\n{rule}");
        for client in self.clients(scenario) {
            let show = |f: &dyn Fn(&Sample) -> f64, d: usize| {
                self.spread(scenario, &client, f)
                    .map_or_else(|| "–".to_owned(), |s| s.show(d))
            };
            let ok = self.sum(scenario, &client, |s| s.report.ok);
            let n = self.sum(scenario, &client, |s| s.report.n);
            let mut row = format!(
                "| {client} | {ok} / {n} | {} | {} | {} | {} | {} ",
                show(&|s| s.report.wall_s, 3),
                show(&requests_per_s, 0),
                show(&cpu_us_per_request, 1),
                if client == OURS || client == "wrk" {
                    "–".to_owned()
                } else {
                    self.ratio(scenario, &client, cpu_us_per_request)
                        .map_or_else(|| "–".to_owned(), |r| format!("{r:.2}×"))
                },
                if client == "wrk" {
                    "–".to_owned()
                } else {
                    show(&|s| mib(s.report.peak_rss_kib), 1)
                },
            );
            if let Some(ideal) = scenario.ideal_s {
                row += &format!("| {} ", show(&|s| s.report.wall_s / ideal, 3));
            }
            if scenario.c >= 1000 {
                row += &format!("| {} ", show(&|s| rss_per_in_flight_kb(s, scenario.c), 1));
            }
            if scenario.rss_at.is_some() {
                row += &format!(
                    "| {} ",
                    show(&|s| s.report.peak_rss_at_kib.map_or(f64::NAN, mib), 1)
                );
            }
            row += &format!(
                "| {} | {} | {} |",
                show(&|s| s.server.connections_total as f64, 0),
                show(&|s| s.server.connections_peak as f64, 0),
                show(&|s| s.server.in_flight_peak as f64, 0)
            );
            let _ = writeln!(out, "{row}");
        }
        if scenario.wrk {
            let _ = writeln!(
                out,
                "\nwrk runs for a duration, not a count: its row is the wall time {} requests take at the rate it sustained (over 5 s by default) with the same number of connections: its ramp-up weighs less than the clients' does, so the comparison is against us.",
                scenario.n
            );
        }
        out
    }

    /// The goals of issue 6, each with the figure that decides it.
    pub fn goals(&self, scenarios: &[Scenario]) -> String {
        let find = |id: &str| scenarios.iter().find(|s| s.id == id);
        let verdict = |ok: bool| if ok { "**met**" } else { "**not met**" };
        let mut out = String::from("| goal | measured (medians) | |\n|---|---|---|\n");
        for id in ["S1-64", "S1-256"] {
            let Some(s) = find(id) else { continue };
            for (peer, goal) in [("hyper-util", 0.9), ("reqwest", 0.7), ("wrk", 2.0)] {
                if let Some(r) = self.ratio(s, peer, cpu_us_per_request) {
                    let _ = writeln!(
                        out,
                        "| {id}: client CPU per request ≤ {goal}× {peer}'s | {r:.2}× | {} |",
                        verdict(r <= goal)
                    );
                }
            }
            if let Some(opened) = self.spread(s, OURS, |x| x.server.connections_total as f64) {
                let _ = writeln!(
                    out,
                    "| {id}: connections opened ≤ C ({}) | {:.0} (most {:.0}) | {} |",
                    s.c,
                    opened.median,
                    opened.max,
                    verdict(opened.max <= s.c as f64)
                );
            }
        }
        if let Some(s) = find("S4")
            && let Some(r) = self.ratio(s, "hyper-util", cpu_us_per_request)
        {
            let _ = writeln!(
                out,
                "| S4: client CPU per request ≤ 1.0× hyper-util's | {r:.2}× | {} |",
                verdict(r <= 1.0)
            );
        }
        if let Some(s) = find("S2")
            && let Some(r) = self.ratio(s, "wrk", |s| s.report.wall_s)
        {
            let _ = writeln!(
                out,
                "| S2: wall within 5 % of wrk's | {r:.3}× | {} |",
                verdict(r <= 1.05)
            );
        }
        if let Some(s) = find("S3") {
            let ok = self.sum(s, OURS, |x| x.report.ok);
            let n = self.sum(s, OURS, |x| x.report.n);
            let _ = writeln!(
                out,
                "| S3: every request Ok | {ok} / {n} | {} |",
                verdict(ok == n && n > 0)
            );
            if let Some(kb) = self.spread(s, OURS, |x| rss_per_in_flight_kb(x, s.c)) {
                let _ = writeln!(
                    out,
                    "| S3: RSS per in-flight request ≤ 12 KB | {:.1} KB | {} |",
                    kb.median,
                    verdict(kb.median <= 12.0)
                );
            }
        }
        if let Some(s) = find("S5")
            && let (Some(early), Some(end)) = (
                self.spread(s, OURS, |x| x.report.peak_rss_at_kib.map_or(f64::NAN, mib)),
                self.spread(s, OURS, |x| mib(x.report.peak_rss_kib)),
            )
        {
            let growth = end.median / early.median;
            let _ = writeln!(
                out,
                "| S5: peak RSS after {} within 10 % of after {} | {:.1} → {:.1} MiB ({:+.1} %) | {} |",
                s.n,
                s.rss_at.unwrap_or(0),
                early.median,
                end.median,
                (growth - 1.0) * 100.0,
                verdict(growth <= 1.10)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_range() {
        let s = Spread::of(vec![3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        let even = Spread::of(vec![4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(even.median, 2.5);
        // Figures a sample does not have (NaN) are left out.
        let partial = Spread::of(vec![f64::NAN, 5.0]).unwrap();
        assert_eq!(partial.median, 5.0);
        assert!(Spread::of(vec![f64::NAN]).is_none());
        assert_eq!(s.show(1), "2.0 (1.0–3.0)");
        assert_eq!(Spread::of(vec![7.0]).unwrap().show(0), "7");
    }

    #[test]
    fn rss_per_in_flight_counts_growth_only() {
        let sample = Sample {
            report: batch_fetch_harness::Report {
                rss_before_kib: 1000,
                peak_rss_kib: 1000 + 100,
                ..Default::default()
            },
            server: Default::default(),
        };
        // 100 KiB over 10 requests in flight: 10.24 KB each.
        assert!((rss_per_in_flight_kb(&sample, 10) - 10.24).abs() < 1e-9);
    }
}
