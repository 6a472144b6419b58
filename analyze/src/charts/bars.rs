//! Horizontal bars: one labelled bar per item, its value written at its end.

use std::fmt::Write as _;

use super::svg::{escape, open, text};
use super::{PALETTE, WIDTH};

const LEFT: f64 = 340.0;
/// Longer labels are cut (the tooltip keeps them whole).
const MAX_LABEL_CHARS: usize = 48;
const RIGHT: f64 = 80.0;
const TOP: f64 = 30.0;
const ROW_HEIGHT: f64 = 24.0;

/// One bar.
#[derive(Debug, Clone)]
pub(crate) struct Bar {
    pub label: String,
    pub value: f64,
    /// Index into the palette, so related bars share a colour.
    pub colour: usize,
}

/// The bars, longest first as given; `x_title` names the values.
pub(crate) fn bars(label: &str, items: &[Bar], x_title: &str) -> String {
    let plot_width = WIDTH - LEFT - RIGHT;
    let max = items.iter().map(|b| b.value).fold(0.0f64, f64::max).max(1e-9);
    let height = TOP + ROW_HEIGHT * items.len().max(1) as f64 + 30.0;
    let mut out = String::new();
    open(&mut out, "bars", label, height);
    text(&mut out, 10.0, 16.0, "start", r#"font-weight="bold""#, label);
    for (i, b) in items.iter().enumerate() {
        let y = TOP + ROW_HEIGHT * i as f64;
        let width = b.value / max * plot_width;
        text(&mut out, LEFT - 8.0, y + ROW_HEIGHT / 2.0 + 4.0, "end", "", &shortened(&b.label));
        let _ = write!(
            out,
            r#"<rect x="{LEFT}" y="{:.1}" width="{width:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect>"#,
            y + 3.0,
            ROW_HEIGHT - 6.0,
            PALETTE[b.colour % PALETTE.len()],
            escape(&b.label),
            b.value
        );
        text(&mut out, LEFT + width + 6.0, y + ROW_HEIGHT / 2.0 + 4.0, "start", "", &format!("{}", b.value));
    }
    text(
        &mut out,
        LEFT + plot_width / 2.0,
        TOP + ROW_HEIGHT * items.len().max(1) as f64 + 20.0,
        "middle",
        r#"class="axis-title""#,
        x_title,
    );
    out.push_str("</svg>");
    out
}

fn shortened(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        return label.to_string();
    }
    let mut cut: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
    cut.push('…');
    cut
}
