//! A rows × hours heatmap: one cell per row and hour, shaded by its value, white to red, with
//! hours without data in grey. The shade follows the square root of the value, so that a few
//! per cent stay visible beside an hour at 100 %.

use std::fmt::Write as _;

use super::WIDTH;
use super::axis::time_ticks;
use super::svg::{escape, open, text};

const HOUR_MS: i64 = 3_600_000;
const LEFT: f64 = 120.0;
const RIGHT: f64 = 40.0;
const TOP: f64 = 36.0;
const ROW_HEIGHT: f64 = 26.0;

/// What to draw.
#[derive(Debug, Clone)]
pub(crate) struct Heatmap<'a> {
    /// The accessible name of the chart.
    pub label: &'a str,
    /// Row names, top to bottom.
    pub rows: Vec<String>,
    /// The hours shown: `[from, until)`, in milliseconds, cut to whole hours.
    pub from: i64,
    pub until: i64,
    pub cells: Vec<HeatCell>,
    /// What the shade means, for the legend (`infra-failure rate of jobs`).
    pub value_name: &'a str,
    /// The x axis title (`hour (UTC)`).
    pub x_title: &'a str,
}

/// One cell: its row's index, the hour's start, its value in `[0, 1]`, its tooltip.
#[derive(Debug, Clone)]
pub(crate) struct HeatCell {
    pub row: usize,
    pub hour: i64,
    pub value: f64,
    pub tooltip: String,
}

/// The heatmap as an `<svg>` element.
pub(crate) fn heatmap(h: &Heatmap<'_>) -> String {
    let first_hour = h.from.div_euclid(HOUR_MS) * HOUR_MS;
    let n_hours = ((h.until - first_hour + HOUR_MS - 1) / HOUR_MS).max(1);
    let cell_width = (WIDTH - LEFT - RIGHT) / n_hours as f64;
    let plot_height = ROW_HEIGHT * h.rows.len().max(1) as f64;
    let height = TOP + plot_height + 78.0;
    let max = h.cells.iter().map(|c| c.value).fold(0.0f64, f64::max).max(1e-9);
    let mut out = String::new();
    open(&mut out, "heatmap", h.label, height);
    text(&mut out, LEFT, 16.0, "start", r#"font-weight="bold""#, h.label);
    let _ = write!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{plot_height:.1}" fill="#e8e8e8"/>"##,
        WIDTH - LEFT - RIGHT
    );
    for (i, row) in h.rows.iter().enumerate() {
        let y = TOP + ROW_HEIGHT * i as f64;
        text(&mut out, LEFT - 8.0, y + ROW_HEIGHT / 2.0 + 4.0, "end", r#"class="row-name""#, row);
    }
    for c in &h.cells {
        let column = (c.hour - first_hour) / HOUR_MS;
        if c.row >= h.rows.len() || column < 0 || column >= n_hours {
            continue;
        }
        let _ = write!(
            out,
            r##"<rect x="{:.2}" y="{:.1}" width="{:.2}" height="{:.1}" fill="{}" stroke="#fff" stroke-width="0.5"><title>{}</title></rect>"##,
            LEFT + cell_width * column as f64,
            TOP + ROW_HEIGHT * c.row as f64,
            cell_width,
            ROW_HEIGHT,
            shade((c.value / max).sqrt()),
            escape(&c.tooltip)
        );
    }
    let axis_y = TOP + plot_height;
    for (t, label) in time_ticks(first_hour, first_hour + n_hours * HOUR_MS, 10) {
        let x = LEFT + (t - first_hour) as f64 / HOUR_MS as f64 * cell_width;
        let _ =
            write!(out, r##"<line x1="{x:.1}" y1="{axis_y:.1}" x2="{x:.1}" y2="{:.1}" stroke="#333"/>"##, axis_y + 5.0);
        text(&mut out, x, axis_y + 18.0, "middle", "", &label);
    }
    text(&mut out, LEFT + (WIDTH - LEFT - RIGHT) / 2.0, axis_y + 36.0, "middle", r#"class="axis-title""#, h.x_title);
    // The legend: the gradient from 0 to the largest value, and the grey of no data.
    let legend_y = axis_y + 52.0;
    out.push_str(r#"<defs><linearGradient id="heat-scale"><stop offset="0" stop-color="rgb(255,255,255)"/><stop offset="1" stop-color="rgb(178,24,43)"/></linearGradient></defs>"#);
    text(&mut out, LEFT, legend_y + 11.0, "start", "", &format!("{}: 0 %", h.value_name));
    let bar_x = LEFT + 8.0 + 7.0 * (h.value_name.chars().count() as f64 + 5.0);
    let _ = write!(
        out,
        r##"<rect x="{bar_x:.1}" y="{legend_y:.1}" width="160" height="14" fill="url(#heat-scale)" stroke="#555" stroke-width="0.5"/>"##
    );
    text(&mut out, bar_x + 166.0, legend_y + 11.0, "start", "", &format!("{:.1} % (square-root scale)", max * 100.0));
    let _ = write!(
        out,
        r##"<rect x="{:.1}" y="{legend_y:.1}" width="14" height="14" fill="#e8e8e8" stroke="#555" stroke-width="0.5"/>"##,
        bar_x + 330.0
    );
    text(&mut out, bar_x + 350.0, legend_y + 11.0, "start", "", "no jobs");
    out.push_str("</svg>");
    out
}

/// White (0) to dark red (1).
fn shade(fraction: f64) -> String {
    let f = fraction.clamp(0.0, 1.0);
    let mix = |from: f64, to: f64| (from + (to - from) * f).round() as u8;
    format!("rgb({},{},{})", mix(255.0, 178.0), mix(255.0, 24.0), mix(255.0, 43.0))
}
