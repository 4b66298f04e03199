//! The report page: HTML with inline CSS and SVG, drawn here, so it shows
//! in any browser with nothing fetched from anywhere (its
//! Content-Security-Policy forbids that too). Every piece of text from the
//! run (URLs, error messages, the command line) is escaped.
//!
//! The one script only counts the rows and bars the browser laid out, into
//! attributes of `<body>`: the page reads the same without it.

use std::fmt::Write;

use base64::Engine;
use batch_fetch::BatchStats;

use super::histogram::Class;
use super::trail::Phase;
use super::{Collected, Listed, Row, ms};

/// Width of the charts' plotting area, in pixels.
const PLOT_WIDTH: f64 = 1000.0;
/// Room left of the plots, for axis labels (and the waterfall's URLs).
const GUTTER: f64 = 64.0;
const LABELLED_GUTTER: f64 = 300.0;
/// Room above a chart for its top label.
const TOP_PAD: f64 = 12.0;
/// The waterfall's width, labels included: as wide as the page allows.
const WATERFALL_WIDTH: f64 = 1320.0;
/// Rows up to which the waterfall is drawn tall enough to label each.
const LABELLED_ROWS: usize = 300;

const STYLE: &str = r#"
:root{--queued:#c5cbd3;--connect:#f0a33a;--waiting:#8fbce8;--receiving:#1f6fc5;--hop:#9b7ad8;--retried:#ec9a9a;--backoff:#f2d45c;--failed:#c8312f;--ok:#3a9a5b;--c4xx:#e0a030;--c5xx:#d0543c;--err:#7a1d1d}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;padding:20px 28px;max-width:1440px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#5b6472;margin:0}.meta code{font-size:12px;background:#f2f4f7;padding:1px 4px;border-radius:3px;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}
.card{border:1px solid #e1e5ea;border-radius:6px;padding:6px 12px;min-width:92px}
.card b{display:block;font-size:18px;font-variant-numeric:tabular-nums}.card span{color:#5b6472;font-size:12px}
.card.bad b{color:var(--failed)}
.grid{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:28px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
td,th{padding:3px 10px 3px 0;text-align:left;vertical-align:top}th{color:#5b6472;font-weight:600;border-bottom:1px solid #e1e5ea}
td.n{text-align:right}td.url{max-width:560px;overflow-wrap:anywhere;font-size:12px}
.share{display:inline-block;height:10px;border-radius:2px;vertical-align:middle}
.note{color:#5b6472;margin:4px 0 8px}
.cut{background:#fdecea;border:1px solid #f3b8b2;color:#7a1f17;border-radius:6px;padding:8px 12px;margin:0 0 14px}
.legend{display:flex;flex-wrap:wrap;gap:14px;margin:6px 0;font-size:12px;color:#39414d}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-2px}
.wf{max-height:80vh;overflow:auto;border:1px solid #e1e5ea;border-radius:6px}
.wf .axis{position:sticky;top:0;background:#fffe;display:block}
svg{display:block}svg text{font-size:11px;fill:#5b6472}
.grid-lines{stroke:#e8ebef;stroke-width:1}
.row .hit{fill:transparent}.row:hover .hit{fill:#0000000f}
.bar:hover rect,.bin:hover rect{opacity:.8}
.queued{fill:var(--queued)}.connect{fill:var(--connect)}.waiting{fill:var(--waiting)}.receiving{fill:var(--receiving)}
.hop{fill:var(--hop)}.retried{fill:var(--retried)}.backoff{fill:var(--backoff)}.failed{fill:var(--failed)}
.ok{fill:var(--ok);background:var(--ok)}.c4xx{fill:var(--c4xx);background:var(--c4xx)}.c5xx{fill:var(--c5xx);background:var(--c5xx)}.err{fill:var(--err);background:var(--err)}
.inflight{fill:none;stroke:#1d2330;stroke-width:1.5}
.legend i.queued{background:var(--queued)}.legend i.connect{background:var(--connect)}.legend i.waiting{background:var(--waiting)}.legend i.receiving{background:var(--receiving)}
.legend i.hop{background:var(--hop)}.legend i.retried{background:var(--retried)}.legend i.backoff{background:var(--backoff)}.legend i.failed{background:var(--failed)}
.legend i.line{background:none;border-top:2px solid #1d2330;height:0;border-radius:0}
footer{margin-top:32px;color:#8a93a0;font-size:12px}
"#;

/// Counts what the browser laid out: a row or bar with a box of non-zero
/// size. Its hash is in the page's Content-Security-Policy, so no other
/// script can run there.
const SCRIPT: &str = "(function(){var n=function(s){var k=0;document.querySelectorAll(s).forEach(function(e){var b=e.getBBox();if(b.width>0&&b.height>0)k++});return k};var b=document.body;b.setAttribute('data-drawn-rows',n('#waterfall g.row'));b.setAttribute('data-drawn-bars',n('#histogram g.bar'));b.setAttribute('data-drawn-bins',n('#timeline g.bin'))})();";

pub(super) fn page(
    c: &mut Collected,
    stats: &BatchStats,
    started: &str,
    command: &str,
    cut_short: Option<&str>,
) -> String {
    let seen = c.rows.seen();
    let mut rows = c.rows.take_kept();
    rows.sort_by(|a, b| {
        let begin = |r: &Row| r.segments.first().map_or(0.0, |s| s.from);
        begin(a).total_cmp(&begin(b)).then(a.index.cmp(&b.index))
    });

    let mut out = String::with_capacity(64 * 1024 + rows.len() * 400);
    let script_hash = base64::engine::general_purpose::STANDARD
        .encode(ring::digest::digest(&ring::digest::SHA256, SCRIPT.as_bytes()).as_ref());
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>batch-fetch report: {} inputs</title><style>{STYLE}</style></head>\n<body data-rows=\"{}\">\n",
        c.inputs,
        rows.len()
    );
    let _ = writeln!(
        out,
        "<header><h1>batch-fetch report</h1><p class=\"meta\">Started {}. <code>{}</code></p></header>",
        esc(started),
        esc(command)
    );
    if let Some(why) = cut_short {
        let _ = writeln!(out, "<p class=\"cut\">{}.</p>", esc(why));
    }
    cards(&mut out, c, stats);

    out.push_str("<div class=\"grid\"><section><h2>Latency</h2>");
    let _ = write!(
        out,
        "<p class=\"note\">Time from when the batch started an input to its result, all attempts included; {} inputs, logarithmic buckets.</p>",
        count(stats.count())
    );
    histogram(&mut out, c);
    out.push_str("</section><section><h2>Statuses and errors</h2>");
    breakdown(&mut out, stats);
    out.push_str("</section></div>\n");

    out.push_str("<section><h2>Over time</h2>");
    let _ = write!(
        out,
        "<p class=\"note\">Inputs finished per second (bins of {}), and the inputs under way: begun and not finished, those waiting for permits or a retry included.</p>",
        duration(c.timeline.width_ms())
    );
    timeline(&mut out, c);
    out.push_str("</section>\n");

    out.push_str("<section><h2>Waterfall</h2>");
    if seen as usize > rows.len() {
        let _ = write!(
            out,
            "<p class=\"note\"><strong>A uniform random sample of {} of the {} inputs</strong> \
             (<code>--report-rows</code>); the other charts and the tables count all of them.</p>",
            count(rows.len() as u64),
            count(seen)
        );
    } else {
        let _ = write!(
            out,
            "<p class=\"note\">Every input ({}), by start time. Hover a row for its details.</p>",
            count(seen)
        );
    }
    waterfall(&mut out, &rows, c.end_ms);
    out.push_str("</section>\n");

    listed(
        &mut out,
        "Slowest inputs",
        &c.slowest,
        "No input finished.",
        false,
    );
    listed(
        &mut out,
        &format!(
            "Failed inputs (the first {} of {})",
            c.failures.len(),
            count(c.failed)
        ),
        &c.failures,
        "No input failed.",
        true,
    );
    let _ = write!(
        out,
        "<footer>batch-fetch {}. The waterfall splits only the last attempt of an input into connect, waiting and receiving; earlier attempts are drawn whole.</footer>\n<script>{SCRIPT}</script>\n</body></html>\n",
        env!("CARGO_PKG_VERSION")
    );
    out
}

fn cards(out: &mut String, c: &Collected, stats: &BatchStats) {
    let ok = c.inputs.saturating_sub(c.failed);
    out.push_str("<section class=\"cards\">");
    let mut card = |value: String, label: &str, bad: bool| {
        let _ = write!(
            out,
            "<div class=\"card{}\"><b>{}</b><span>{}</span></div>",
            if bad { " bad" } else { "" },
            esc(&value),
            label
        );
    };
    card(count(c.inputs), "inputs", false);
    card(count(ok), "ok", false);
    card(count(c.failed), "failed", c.failed > 0);
    card(count(stats.retries()), "retries", false);
    card(bytes(stats.bytes()), "received", false);
    card(duration(ms(stats.elapsed())), "elapsed", false);
    card(format!("{:.0}/s", stats.throughput()), "throughput", false);
    for (q, label) in [(0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (1.0, "max")] {
        card(duration(ms(stats.latency(q))), label, false);
    }
    out.push_str("</section>\n");
}

fn breakdown(out: &mut String, stats: &BatchStats) {
    let total = stats.count().max(1) as f64;
    out.push_str("<table><tr><th>outcome</th><th></th><th>inputs</th><th>share</th></tr>");
    let mut line = |name: String, reason: &str, n: u64, class: Class| {
        let share = n as f64 / total;
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td><span class=\"share {}\" style=\"width:{:.0}px\"></span> {:.1}%</td></tr>",
            esc(&name),
            esc(reason),
            count(n),
            class.css(),
            (share * 160.0).max(1.0),
            share * 100.0
        );
    };
    for (status, n) in stats.by_status() {
        let class = Class::of(Some(status.as_u16()));
        line(
            status.as_u16().to_string(),
            status.canonical_reason().unwrap_or(""),
            n,
            class,
        );
    }
    for (kind, n) in stats.by_kind() {
        line(super::kind_name(kind).to_owned(), "error", n, Class::Error);
    }
    out.push_str("</table>");
    if stats.count() == 0 {
        out.push_str("<p class=\"note\">No input finished.</p>");
    }
}

fn histogram(out: &mut String, c: &Collected) {
    let used = c.latency.used();
    let height = 180.0;
    let width = GUTTER + PLOT_WIDTH * 0.6 + 10.0;
    let plot = PLOT_WIDTH * 0.6;
    let top = used
        .iter()
        .map(|(_, n)| n.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let _ = write!(
        out,
        "<svg id=\"histogram\" width=\"{width:.0}\" height=\"{:.0}\" role=\"img\" aria-label=\"latency histogram\"><g transform=\"translate(0,{TOP_PAD})\">",
        height + 36.0 + TOP_PAD
    );
    y_axis(out, GUTTER, height, top as f64, "");
    let step = plot / used.len().max(1) as f64;
    for (i, ((low, high), counts)) in used.iter().enumerate() {
        let x = GUTTER + i as f64 * step;
        let sum: u64 = counts.iter().sum();
        let _ = write!(
            out,
            "<g class=\"bar\"><title>{} – {}: {}",
            duration(*low),
            if high.is_finite() {
                duration(*high)
            } else {
                "longer".to_owned()
            },
            count(sum)
        );
        for class in Class::ALL {
            let n = counts[class as usize];
            if n > 0 {
                let _ = write!(out, "\n{} {}", class.label(), count(n));
            }
        }
        out.push_str("</title>");
        let mut y = height;
        for class in Class::ALL {
            let n = counts[class as usize];
            if n == 0 {
                continue;
            }
            let h = n as f64 / top as f64 * height;
            y -= h;
            let _ = write!(
                out,
                "<rect class=\"{}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>",
                class.css(),
                (step - 1.0).max(1.0),
                h.max(0.5)
            );
        }
        if sum == 0 {
            // An empty bucket between filled ones: a hover target only.
            let _ = write!(
                out,
                "<rect fill=\"transparent\" x=\"{x:.1}\" y=\"0\" width=\"{step:.1}\" height=\"{height}\"/>"
            );
        }
        out.push_str("</g>");
        // A label at each decade.
        if (low.log10() - low.log10().round()).abs() < 1e-6 && *low > 0.0 {
            let _ = write!(
                out,
                "<text x=\"{x:.1}\" y=\"{:.0}\" text-anchor=\"middle\">{}</text>",
                height + 16.0,
                duration(*low)
            );
        }
    }
    out.push_str("</g></svg>");
    legend(out, Class::ALL.into_iter().map(|c| (c.css(), c.label())));
}

fn timeline(out: &mut String, c: &Collected) {
    let bins = c.timeline.bins();
    let height = 160.0;
    let width = GUTTER * 2.5 + PLOT_WIDTH;
    let per_second = 1000.0 / c.timeline.width_ms();
    let top = bins
        .iter()
        .map(|b| (b.ok + b.failed) as f64 * per_second)
        .fold(0.0, f64::max)
        .max(1.0);
    let mut in_flight = Vec::with_capacity(bins.len());
    let mut running = 0i64;
    for b in bins {
        running += b.began as i64 - (b.ok + b.failed) as i64;
        in_flight.push(running.max(0) as f64);
    }
    let top_flight = in_flight.iter().copied().fold(0.0, f64::max).max(1.0);
    let _ = write!(
        out,
        "<svg id=\"timeline\" width=\"{width:.0}\" height=\"{:.0}\" role=\"img\" aria-label=\"inputs finished over time\"><g transform=\"translate(0,{TOP_PAD})\">",
        height + 36.0 + TOP_PAD
    );
    y_axis(out, GUTTER, height, top, "/s");
    let span_ms = (bins.len() as f64 * c.timeline.width_ms()).max(1.0);
    let step = PLOT_WIDTH / bins.len().max(1) as f64;
    for (i, b) in bins.iter().enumerate() {
        let x = GUTTER + i as f64 * step;
        let from = i as f64 * c.timeline.width_ms();
        let _ = write!(
            out,
            "<g class=\"bin\"><title>{} – {}\nfinished {} ok, {} failed\nbegun {}, retries {}\nunder way {}</title>",
            duration(from),
            duration(from + c.timeline.width_ms()),
            count(b.ok),
            count(b.failed),
            count(b.began),
            count(b.retries),
            in_flight[i]
        );
        let mut y = height;
        for (n, class) in [(b.ok, "ok"), (b.failed, "failed")] {
            if n == 0 {
                continue;
            }
            let h = n as f64 * per_second / top * height;
            y -= h;
            let _ = write!(
                out,
                "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>",
                (step - 0.5).max(0.5),
                h.max(0.5)
            );
        }
        let _ = write!(
            out,
            "<rect fill=\"transparent\" x=\"{x:.1}\" y=\"0\" width=\"{step:.1}\" height=\"{height}\"/></g>"
        );
    }
    // In flight, on the right-hand scale.
    out.push_str("<polyline class=\"inflight\" points=\"");
    for (i, n) in in_flight.iter().enumerate() {
        let x = GUTTER + (i as f64 + 0.5) * step;
        let y = height - n / top_flight * height;
        let _ = write!(out, "{x:.1},{y:.1} ");
    }
    out.push_str("\"/>");
    let _ = write!(
        out,
        "<text x=\"{:.0}\" y=\"4\">{} under way</text><text x=\"{:.0}\" y=\"{height}\">0</text>",
        GUTTER + PLOT_WIDTH + 6.0,
        top_flight,
        GUTTER + PLOT_WIDTH + 6.0
    );
    time_ticks(out, span_ms, GUTTER, PLOT_WIDTH, height + 16.0, None);
    out.push_str("</g></svg>");
    legend(
        out,
        [
            ("ok", "finished ok"),
            ("failed", "finished failed"),
            ("line", "under way (begun, not finished)"),
        ]
        .into_iter(),
    );
}

fn waterfall(out: &mut String, rows: &[Row], end_ms: f64) {
    let labelled = rows.len() <= LABELLED_ROWS;
    let gutter = if labelled { LABELLED_GUTTER } else { 8.0 };
    let row_h = match rows.len() {
        0..=300 => 16.0,
        301..=1000 => 8.0,
        _ => 5.0,
    };
    let bar_h = if row_h > 8.0 {
        row_h - 4.0
    } else {
        row_h - 1.0
    };
    let span = end_ms.max(1.0);
    let plot = WATERFALL_WIDTH - gutter - 24.0;
    let width = WATERFALL_WIDTH;
    let height = (rows.len() as f64 * row_h).max(row_h);
    let x = |t: f64| gutter + t / span * plot;

    legend(out, Phase::ALL.into_iter().map(|p| (p.class(), p.label())));
    out.push_str("<div class=\"wf\">");
    let _ = write!(
        out,
        "<svg class=\"axis\" width=\"{width:.0}\" height=\"22\">"
    );
    time_ticks(out, span, gutter, plot, 15.0, None);
    out.push_str("</svg>");
    let _ = write!(
        out,
        "<svg id=\"waterfall\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"waterfall of requests\">"
    );
    time_ticks(out, span, gutter, plot, 0.0, Some(height));
    for (i, row) in rows.iter().enumerate() {
        let y = i as f64 * row_h;
        let _ = write!(out, "<g class=\"row\"><title>");
        row_title(out, row);
        let _ = write!(
            out,
            "</title><rect class=\"hit\" x=\"0\" y=\"{y:.0}\" width=\"{width:.0}\" height=\"{row_h}\"/>"
        );
        if labelled {
            let _ = write!(
                out,
                "<text x=\"4\" y=\"{:.1}\">#{} {}</text>",
                y + row_h - 4.0,
                row.index,
                esc(&short(&row.url, 44))
            );
        }
        let bar_y = y + (row_h - bar_h) / 2.0;
        for seg in &row.segments {
            let (from, to) = (x(seg.from), x(seg.to));
            // Thin phases stay visible at the scale of a long run.
            let w = (to - from).max(0.6);
            let (seg_y, seg_h) = if seg.phase == Phase::Backoff {
                (bar_y + bar_h * 0.3, bar_h * 0.4)
            } else {
                (bar_y, bar_h)
            };
            let _ = write!(
                out,
                "<rect class=\"{}\" x=\"{from:.1}\" y=\"{seg_y:.1}\" width=\"{w:.1}\" height=\"{seg_h:.1}\"/>",
                seg.phase.class()
            );
        }
        if row.segments.is_empty() {
            // Ended where it began (a bad line): a tick.
            let _ = write!(
                out,
                "<rect class=\"failed\" x=\"{:.1}\" y=\"{bar_y:.1}\" width=\"1\" height=\"{bar_h:.1}\"/>",
                x(0.0)
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg></div>");
}

/// A row's tooltip: what it was, how it ended, and where its time went.
fn row_title(out: &mut String, row: &Row) {
    let _ = write!(
        out,
        "#{} (line {}) {}\n{} in {}",
        row.index,
        row.line,
        esc(&row.url),
        esc(&row.outcome),
        duration(row.total_ms)
    );
    if row.bytes > 0 {
        let _ = write!(out, ", {}", bytes(row.bytes));
    }
    let _ = write!(
        out,
        ", {} attempt{}",
        row.attempts,
        if row.attempts == 1 { "" } else { "s" }
    );
    if !row.retried.is_empty() {
        out.push_str(" (retried after ");
        for (i, cause) in row.retried.iter().enumerate() {
            let _ = write!(out, "{}{cause}", if i > 0 { ", " } else { "" });
        }
        out.push(')');
    }
    if let Some([queued, connect, waiting, receiving]) = row.breakdown {
        let _ = write!(
            out,
            "\nqueued {} · connect {} · waiting {} · receiving {}",
            duration(queued),
            duration(connect),
            duration(waiting),
            duration(receiving)
        );
    }
}

fn listed(out: &mut String, title: &str, items: &[Listed], empty: &str, reasons: bool) {
    let _ = write!(out, "<section><h2>{}</h2>", esc(title));
    if items.is_empty() {
        let _ = writeln!(out, "<p class=\"note\">{empty}</p></section>");
        return;
    }
    out.push_str("<table><tr><th>#</th><th>line</th><th>url</th><th>outcome</th><th>time</th><th>attempts</th>");
    if reasons {
        out.push_str("<th>why</th>");
    }
    out.push_str("</tr>");
    for item in items {
        let _ = write!(
            out,
            "<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"url\">{}</td><td><span class=\"share {}\" style=\"width:8px\"></span> {}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
            item.index,
            item.line,
            esc(&item.url),
            item.class.css(),
            esc(&item.outcome),
            duration(item.total_ms),
            item.attempts
        );
        if reasons {
            let _ = write!(
                out,
                "<td class=\"url\">{}</td>",
                esc(item.reason.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</table></section>\n");
}

/// A row of swatches, each a CSS class and what it stands for.
fn legend<'a>(out: &mut String, items: impl Iterator<Item = (&'a str, &'a str)>) {
    out.push_str("<div class=\"legend\">");
    for (class, label) in items {
        let _ = write!(out, "<span><i class=\"{class}\"></i>{label}</span>");
    }
    out.push_str("</div>");
}

/// A left-hand scale from 0 to `top`, with light grid lines.
fn y_axis(out: &mut String, left: f64, height: f64, top: f64, unit: &str) {
    let step = nice_step(top / 4.0);
    let mut v = 0.0;
    while v <= top * 1.0001 {
        let y = height - v / top * height;
        let _ = write!(
            out,
            "<line class=\"grid-lines\" x1=\"{left}\" x2=\"{:.0}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{}{unit}</text>",
            left + PLOT_WIDTH,
            left - 6.0,
            y + 4.0,
            short_number(v)
        );
        v += step;
    }
}

/// Time ticks across a plot of `span` milliseconds: labels at `label_y`,
/// or (with `lines`) grid lines of that height and no labels.
fn time_ticks(
    out: &mut String,
    span: f64,
    left: f64,
    width: f64,
    label_y: f64,
    lines: Option<f64>,
) {
    let step = nice_step(span / 8.0);
    let mut t = 0.0;
    if lines.is_some() {
        out.push_str("<path class=\"grid-lines\" d=\"");
    }
    while t <= span * 1.0001 {
        let x = left + t / span * width;
        match lines {
            Some(h) => {
                let _ = write!(out, "M{x:.1} 0V{h:.0}");
            }
            None => {
                let _ = write!(
                    out,
                    "<text x=\"{x:.1}\" y=\"{label_y:.0}\" text-anchor=\"{}\">{}</text>",
                    if t == 0.0 { "start" } else { "middle" },
                    duration(t)
                );
            }
        }
        t += step;
    }
    if lines.is_some() {
        out.push_str("\"/>");
    }
}

/// 1, 2 or 5 times a power of ten, at least `rough`.
fn nice_step(rough: f64) -> f64 {
    if rough.is_nan() || rough <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&s| s >= rough)
        .unwrap_or(10.0 * power)
}

/// `&`, `<`, `>`, `"` and `'` as character references.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters have no place in a page (and some are
            // not allowed in one).
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The end of a long URL, which tells inputs apart better than its start.
fn short(url: &str, max: usize) -> String {
    let chars = url.chars().count();
    if chars <= max {
        return url.to_owned();
    }
    let tail: String = url.chars().skip(chars - (max - 1)).collect();
    format!("…{tail}")
}

/// 12,345,678.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// 1.5k, 20k, 3M: for axis labels.
fn short_number(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", trim_to(v / 1e6, 1))
    } else if v >= 1e3 {
        format!("{}k", trim_to(v / 1e3, 1))
    } else {
        trim_to(v, 1)
    }
}

/// A duration given in milliseconds: 850 µs, 12.3 ms, 1.25 s, 2 min 5 s.
fn duration(ms: f64) -> String {
    if !ms.is_finite() {
        return "∞".to_owned();
    }
    if ms == 0.0 {
        "0".to_owned()
    } else if ms < 1.0 {
        format!("{:.0} µs", ms * 1000.0)
    } else if ms < 10.0 {
        format!("{} ms", trim_to(ms, 2))
    } else if ms < 1000.0 {
        format!("{} ms", trim_to(ms, if ms < 100.0 { 1 } else { 0 }))
    } else if ms < 60_000.0 {
        format!("{} s", trim_to(ms / 1000.0, 2))
    } else {
        let s = (ms / 1000.0).round() as u64;
        format!("{} min {} s", s / 60, s % 60)
    }
}

/// `v` with at most `decimals` decimals, trailing zeros dropped.
fn trim_to(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// 1.2 MB (decimal units, as throughput is usually told).
fn bytes(n: u64) -> String {
    let v = n as f64;
    if v >= 1e9 {
        format!("{} GB", trim_to(v / 1e9, 2))
    } else if v >= 1e6 {
        format!("{} MB", trim_to(v / 1e6, 2))
    } else if v >= 1e3 {
        format!("{} kB", trim_to(v / 1e3, 1))
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            esc("a<b>&\"c'\u{7}\nd"),
            "a&lt;b&gt;&amp;&quot;c&#39;\u{fffd}\nd"
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(12_345_678), "12,345,678");
        assert_eq!(duration(0.25), "250 µs");
        assert_eq!(duration(2.5), "2.5 ms");
        assert_eq!(duration(12.34), "12.3 ms");
        assert_eq!(duration(250.0), "250 ms");
        assert_eq!(duration(1250.0), "1.25 s");
        assert_eq!(duration(125_000.0), "2 min 5 s");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1_500_000), "1.5 MB");
        assert_eq!(short_number(1500.0), "1.5k");
        assert_eq!(short_number(20.0), "20");
    }

    #[test]
    fn steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(12.0), 20.0);
        assert_eq!(nice_step(100.0), 100.0);
        assert_eq!(nice_step(0.07), 0.1);
    }

    #[test]
    fn a_long_url_keeps_its_end() {
        assert_eq!(short("http://a/b", 44), "http://a/b");
        let long = format!("http://example.test/{}", "x".repeat(60));
        let cut = short(&long, 20);
        assert_eq!(cut.chars().count(), 20);
        assert!(cut.starts_with('…') && cut.ends_with('x'));
    }
}
