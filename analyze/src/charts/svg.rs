//! The few SVG pieces every chart writes: escaped text, the opening tag and a legend.

use std::fmt::Write as _;

use super::WIDTH;

/// Escapes text for an XML element or attribute.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Opens an `<svg>` of the charts' width and `height`, with a role and a label for readers.
pub(crate) fn open(out: &mut String, class: &str, label: &str, height: f64) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart {class}" role="img" aria-label="{}" viewBox="0 0 {WIDTH} {height}" width="100%" font-family="sans-serif" font-size="12">"#,
        escape(label)
    );
}

/// `<text>` at (`x`, `y`).
pub(crate) fn text(out: &mut String, x: f64, y: f64, anchor: &str, extra: &str, content: &str) {
    let _ = write!(out, r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" {extra}>{}</text>"#, escape(content));
}

/// A legend row of coloured squares and names, starting at (`x`, `y`).
pub(crate) fn legend(out: &mut String, x: f64, y: f64, entries: &[(&str, &str)]) {
    let mut at = x;
    for (name, colour) in entries {
        let _ = write!(
            out,
            r##"<g class="legend-entry"><rect x="{at:.1}" y="{:.1}" width="12" height="12" fill="{colour}" stroke="#555" stroke-width="0.5"/>"##,
            y - 10.0
        );
        text(out, at + 16.0, y, "start", "", name);
        out.push_str("</g>");
        at += 16.0 + 7.0 * name.chars().count() as f64 + 18.0;
    }
}
