//! The chart in BENCHMARKS.md: CPU per request (S1) and RSS per in-flight
//! request (S3) for each client, medians with min–max whiskers.

use std::path::Path;

use plotters::prelude::*;

use crate::run::Sample;
use crate::scenario::Scenario;
use crate::summary::{Results, Spread, cpu_us_per_request, rss_per_in_flight_kb};

const CLIENTS: [&str; 3] = ["batch-fetch", "hyper-util", "reqwest"];
const COLOURS: [RGBColor; 3] = [
    RGBColor(31, 119, 180),
    RGBColor(127, 127, 127),
    RGBColor(255, 127, 14),
];

/// One panel: a group of bars per scenario, a bar per client.
struct Panel<'a> {
    title: &'a str,
    unit: &'a str,
    groups: Vec<(String, Vec<Option<Spread>>)>,
}

pub fn draw(path: &Path, results: &Results, scenarios: &[Scenario]) -> Result<(), String> {
    let cpu = Panel {
        title: "Client CPU per request (lower is better)",
        unit: "µs",
        groups: scenarios
            .iter()
            .filter(|s| s.id.starts_with("S1") || s.id == "S4")
            .map(|s| {
                let label = format!("{} (C={}{})", s.id, s.c, if s.h2c { ", h2c" } else { "" });
                (label, spreads(results, s, &cpu_us_per_request))
            })
            .collect(),
    };
    let rss = Panel {
        title: "RSS per in-flight request (lower is better)",
        unit: "KB",
        groups: scenarios
            .iter()
            .filter(|s| s.id == "S3")
            .map(|s| {
                let c = s.c;
                let label = format!("{} (C={c})", s.id);
                (
                    label,
                    spreads(results, s, &move |x: &Sample| rss_per_in_flight_kb(x, c)),
                )
            })
            .collect(),
    };
    let root = SVGBackend::new(path, (960, 400)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (left, right) = root.split_horizontally(600);
    panel(&left, &cpu).map_err(|e| e.to_string())?;
    panel(&right, &rss).map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

fn spreads(
    results: &Results,
    s: &Scenario,
    figure: &dyn Fn(&Sample) -> f64,
) -> Vec<Option<Spread>> {
    CLIENTS
        .iter()
        .map(|c| results.spread(s, c, figure))
        .collect()
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    p: &Panel,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let top = p
        .groups
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().map(|s| s.max))
        .fold(0.0_f64, f64::max)
        .max(1.0)
        // Room above the bars for the legend.
        * 1.4;
    let groups = p.groups.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(p.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..groups as f64, 0.0..top)?;
    let labels: Vec<String> = p.groups.iter().map(|(l, _)| l.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups * 2 + 1)
        .x_label_formatter(&|x| {
            // Label each group at its centre only.
            let i = (x - 0.5).round();
            if (x - 0.5 - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(p.unit)
        .draw()?;
    let width = 0.8 / CLIENTS.len() as f64;
    for (g, (_, spreads)) in p.groups.iter().enumerate() {
        for (k, spread) in spreads.iter().enumerate() {
            let Some(s) = spread else { continue };
            let x0 = g as f64 + 0.1 + k as f64 * width;
            let x1 = x0 + width * 0.9;
            let mid = (x0 + x1) / 2.0;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, 0.0), (x1, s.median)],
                COLOURS[k].filled(),
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(mid, s.min), (mid, s.max)],
                BLACK.stroke_width(1),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("{:.1}", s.median),
                (x0, s.max + top * 0.02),
                ("sans-serif", 12),
            )))?;
        }
    }
    for (k, name) in CLIENTS.iter().enumerate() {
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
            .label(*name)
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 10, y + 5)], COLOURS[k].filled())
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
