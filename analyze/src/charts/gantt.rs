//! A Gantt-like chart: one band per row, coloured by state over time.

use std::fmt::Write as _;

use super::WIDTH;
use super::axis::time_ticks;
use super::svg::{escape, legend, open, text};

const LEFT: f64 = 120.0;
const RIGHT: f64 = 40.0;
const TOP: f64 = 36.0;
const ROW_HEIGHT: f64 = 30.0;

/// One row (a region) and its spans.
#[derive(Debug, Clone)]
pub(crate) struct GanttRow {
    pub name: String,
    pub spans: Vec<Span>,
}

/// A state over `[from, until)` in milliseconds.
#[derive(Debug, Clone)]
pub(crate) struct Span {
    pub from: i64,
    pub until: i64,
    pub state: String,
}

/// The chart over `[from, until)`; `colours` names each state's colour, in legend order.
pub(crate) fn gantt(
    label: &str,
    rows: &[GanttRow],
    from: i64,
    until: i64,
    colours: &[(&str, &str)],
    x_title: &str,
) -> String {
    let plot_width = WIDTH - LEFT - RIGHT;
    let span = (until - from).max(1) as f64;
    let x_of = |t: i64| LEFT + (t.clamp(from, until) - from) as f64 / span * plot_width;
    let plot_height = ROW_HEIGHT * rows.len().max(1) as f64;
    let height = TOP + plot_height + 74.0;
    let mut out = String::new();
    open(&mut out, "timeline", label, height);
    text(&mut out, LEFT, 16.0, "start", r#"font-weight="bold""#, label);
    for (i, row) in rows.iter().enumerate() {
        let y = TOP + ROW_HEIGHT * i as f64;
        text(&mut out, LEFT - 8.0, y + ROW_HEIGHT / 2.0 + 4.0, "end", r#"class="row-name""#, &row.name);
        for s in &row.spans {
            let colour = colours.iter().find(|(state, _)| *state == s.state).map_or("#999", |(_, c)| c);
            let (x0, x1) = (x_of(s.from), x_of(s.until));
            let _ = write!(
                out,
                r#"<rect class="band" data-state="{}" x="{x0:.2}" y="{:.1}" width="{:.2}" height="{:.1}" fill="{colour}"><title>{}: {} from {} to {}</title></rect>"#,
                escape(&s.state),
                y + 4.0,
                (x1 - x0).max(0.5),
                ROW_HEIGHT - 8.0,
                escape(&row.name),
                escape(&s.state),
                super::axis::time_label(s.from, false),
                super::axis::time_label(s.until, false)
            );
        }
    }
    let axis_y = TOP + plot_height;
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" y1="{axis_y:.1}" x2="{:.1}" y2="{axis_y:.1}" stroke="#333"/>"##,
        LEFT + plot_width
    );
    for (t, tick) in time_ticks(from, until, 10) {
        let x = x_of(t);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#333" stroke-opacity="0.15"/>"##,
            axis_y + 5.0
        );
        text(&mut out, x, axis_y + 18.0, "middle", "", &tick);
    }
    text(&mut out, LEFT + plot_width / 2.0, axis_y + 36.0, "middle", r#"class="axis-title""#, x_title);
    legend(&mut out, LEFT, axis_y + 60.0, colours);
    out.push_str("</svg>");
    out
}
