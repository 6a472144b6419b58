//! A line chart over time: one polyline per series, a value axis from zero, a legend.

use std::fmt::Write as _;

use super::axis::{time_ticks, value_scale};
use super::svg::{escape, legend, open, text};
use super::{PALETTE, WIDTH};

const LEFT: f64 = 120.0;
const RIGHT: f64 = 40.0;
const TOP: f64 = 36.0;
const PLOT_HEIGHT: f64 = 220.0;

/// One named series of (instant in milliseconds, value) points, in time order.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub name: String,
    pub points: Vec<(i64, f64)>,
}

/// How values are written on the axis and in tooltips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueFormat {
    /// A share, `0.25` written `25 %`.
    Percent,
    /// A count.
    Count,
}

impl ValueFormat {
    fn write(self, value: f64) -> String {
        match self {
            ValueFormat::Percent => format!("{:.1} %", value * 100.0),
            ValueFormat::Count => format!("{value:.0}"),
        }
    }
}

/// The chart over `[from, until)`, with `y_title` naming the values.
pub(crate) fn line_chart(
    label: &str,
    series: &[Series],
    from: i64,
    until: i64,
    y_title: &str,
    format: ValueFormat,
    x_title: &str,
) -> String {
    let plot_width = WIDTH - LEFT - RIGHT;
    let max = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0f64, f64::max);
    let (y_max, y_step) = value_scale(max);
    let span = (until - from).max(1) as f64;
    let x_of = |t: i64| LEFT + (t.clamp(from, until) - from) as f64 / span * plot_width;
    let y_of = |v: f64| TOP + PLOT_HEIGHT - v / y_max * PLOT_HEIGHT;
    let legend_rows = series.len().div_ceil(6).max(1);
    let height = TOP + PLOT_HEIGHT + 56.0 + 20.0 * legend_rows as f64;
    let mut out = String::new();
    open(&mut out, "lines", label, height);
    text(&mut out, LEFT, 16.0, "start", r#"font-weight="bold""#, label);
    let mut v = 0.0;
    while v <= y_max * 1.000_001 {
        let y = y_of(v);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#333" stroke-opacity="0.15"/>"##,
            LEFT + plot_width
        );
        text(&mut out, LEFT - 6.0, y + 4.0, "end", "", &format.write(v));
        v += y_step;
    }
    let _ = write!(
        out,
        r#"<text class="axis-title" transform="translate(24,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + PLOT_HEIGHT / 2.0,
        escape(y_title)
    );
    let axis_y = TOP + PLOT_HEIGHT;
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" y1="{axis_y:.1}" x2="{:.1}" y2="{axis_y:.1}" stroke="#333"/>"##,
        LEFT + plot_width
    );
    for (t, tick) in time_ticks(from, until, 10) {
        let x = x_of(t);
        let _ =
            write!(out, r##"<line x1="{x:.1}" y1="{axis_y:.1}" x2="{x:.1}" y2="{:.1}" stroke="#333"/>"##, axis_y + 5.0);
        text(&mut out, x, axis_y + 18.0, "middle", "", &tick);
    }
    text(&mut out, LEFT + plot_width / 2.0, axis_y + 36.0, "middle", r#"class="axis-title""#, x_title);
    let mut entries = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        entries.push((s.name.as_str(), colour));
        let points: Vec<String> = s.points.iter().map(|(t, v)| format!("{:.1},{:.1}", x_of(*t), y_of(*v))).collect();
        let _ = write!(
            out,
            r#"<polyline class="series" fill="none" stroke="{colour}" stroke-width="1.8" points="{}"><title>{}</title></polyline>"#,
            points.join(" "),
            escape(&s.name)
        );
        for (t, v) in &s.points {
            let _ = write!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2" fill="{colour}"><title>{}, {}: {}</title></circle>"#,
                x_of(*t),
                y_of(*v),
                escape(&s.name),
                super::axis::time_label(*t, false),
                format.write(*v)
            );
        }
    }
    for (row, chunk) in entries.chunks(6).enumerate() {
        legend(&mut out, LEFT, axis_y + 62.0 + 20.0 * row as f64, chunk);
    }
    out.push_str("</svg>");
    out
}
