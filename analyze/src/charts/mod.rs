//! Charts as hand-drawn inline SVG: a heatmap, a Gantt-like band chart, line charts over time
//! and horizontal bars. They take plain series (names, instants in milliseconds, numbers), know
//! nothing of reports or the lake, and return one `<svg>` element that needs no script, no
//! font and no network, so a report file works offline and a web console can reuse them.
//!
//! Every chart scales to its container (`viewBox`, `width="100%"`), names its axes, and
//! carries `<title>` tooltips with the exact numbers.

mod axis;
mod bars;
mod gantt;
mod heatmap;
mod lines;
mod svg;

pub(crate) use svg::escape;

pub(crate) use bars::{Bar, bars};
pub(crate) use gantt::{GanttRow, Span, gantt};
pub(crate) use heatmap::{HeatCell, Heatmap, heatmap};
pub(crate) use lines::{Series, ValueFormat, line_chart};

/// Width of every chart in SVG units; heights depend on the content.
pub(crate) const WIDTH: f64 = 960.0;

/// Colours of series in order: distinguishable, and readable on white.
pub(crate) const PALETTE: [&str; 8] =
    ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
