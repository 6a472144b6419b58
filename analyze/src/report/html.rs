//! The report as one self-contained HTML file: inline CSS and inline SVG charts, no script,
//! no font and no request, so it opens offline and from a mail attachment alike.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::figures::{X_TITLE, heatmap_chart, timeline_chart};
use super::model::Report;
use super::words::{end, evidence, scope, time};
use crate::charts::{Bar, Series, ValueFormat, bars, line_chart};
use crate::health::Scope;

/// The connect-failure chart shows the targets with most failures, at most this many.
const MAX_TARGET_SERIES: usize = 8;

const STYLE: &str = "body{font-family:sans-serif;margin:0 auto;max-width:1100px;padding:16px 24px;color:#222;line-height:1.4}\
h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.2em;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}\
.meta{color:#666;font-size:.9em}table{border-collapse:collapse;width:100%;font-size:.9em;margin:8px 0}\
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f4f4f4}\
td.n{text-align:right}figure{margin:12px 0}.summary{font-size:1.05em}";

/// The report as an HTML document. Only the `Generated at` line depends on when it was made.
pub fn html(r: &Report) -> String {
    let title = format!("failscope anomaly report: {} to {} UTC", time(r.since), time(r.until));
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"data:,\"><title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(&title)
    );
    let _ = writeln!(out, "<h1>{}</h1>", esc(&title));
    let _ = writeln!(out, "<p class=\"meta\">Generated at {}</p>", r.generated_at);
    let s = &r.summary;
    let _ = writeln!(
        out,
        "<p class=\"summary\" id=\"summary\">{} jobs finished; {} did not pass: <b>{} infrastructure</b>, {} user, {} unknown. Jobs failed by infrastructure ran <b>{} job-minutes</b> for nothing.</p>",
        s.n_jobs, s.n_failed, s.n_infra, s.n_user, s.n_unknown, s.infra_job_minutes
    );

    out.push_str("<h2>Incidents</h2>\n<section id=\"incidents\">");
    if r.incidents.is_empty() {
        out.push_str("<p>None opened in the period.</p>");
    } else {
        out.push_str("<table><thead><tr><th>scope</th><th>name</th><th>state</th><th>kind</th><th>start (UTC)</th><th>end (UTC)</th><th>affected jobs</th><th>wasted job-minutes</th><th>evidence</th></tr></thead><tbody>");
        for i in &r.incidents {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                scope(i.scope),
                esc(&i.name),
                i.status.as_str(),
                i.kind.map_or("", |k| k.as_str()),
                time(i.start),
                end(i),
                i.affected_jobs,
                i.wasted_job_minutes,
                esc(&evidence(i.scope, &i.evidence))
            );
        }
        out.push_str("</tbody></table>");
    }
    if r.n_degraded_only > 0 {
        let _ = write!(
            out,
            "<p>{} region episodes stayed <i>degraded</i> and never became an alarm.</p>",
            r.n_degraded_only
        );
    }
    for (label, wanted) in
        [("Flagged targets", Scope::Target), ("Quarantined workers", Scope::Worker), ("User storms", Scope::Project)]
    {
        let names: Vec<String> = r.incidents.iter().filter(|i| i.scope == wanted).map(|i| esc(&i.name)).collect();
        let _ = write!(
            out,
            "<p><b>{label}:</b> {}</p>",
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        );
    }
    out.push_str("</section>\n");

    let (from, until) = (r.since.as_millis(), r.until.as_millis());
    figure(&mut out, "timeline", "Health timeline", timeline_chart(r));
    figure(&mut out, "heatmap", "Infrastructure failures by region and hour", heatmap_chart(r));

    let mut by_target: BTreeMap<&str, TargetSeries> = BTreeMap::new();
    for h in &r.connect_failures_by_target_hour {
        let entry = by_target.entry(h.target.as_str()).or_default();
        entry.0 += h.failures;
        entry.1.push((h.hour.as_millis() + 1_800_000, h.failures as f64));
    }
    let mut targets: Vec<(&str, TargetSeries)> = by_target.into_iter().filter(|(_, (n, _))| *n > 0).collect();
    targets.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    let series: Vec<Series> = targets
        .into_iter()
        .take(MAX_TARGET_SERIES)
        .map(|(name, (_, points))| Series { name: name.to_string(), points })
        .collect();
    figure(
        &mut out,
        "connect-failures",
        "Connect failures per target",
        line_chart(
            &format!("Failed connects per hour, the {} targets with most failures", series.len()),
            &series,
            from,
            until,
            "failed connects per hour",
            ValueFormat::Count,
            X_TITLE,
        ),
    );

    let causes: Vec<Bar> = r
        .top_causes
        .iter()
        .map(|c| Bar {
            label: c.cause.clone(),
            value: c.jobs as f64,
            colour: match c.attribution.as_str() {
                "infra" => 1,
                "user" => 0,
                _ => 4,
            },
        })
        .collect();
    figure(
        &mut out,
        "top-causes",
        "Top causes",
        bars("Failed jobs by cause (red: infrastructure, blue: user, purple: unknown)", &causes, "failed jobs"),
    );
    if r.top_signatures.is_empty() {
        out.push_str("<h2>Top signatures</h2><p id=\"top-signatures\">No known signature matched.</p>\n");
    } else {
        let signatures: Vec<Bar> = r
            .top_signatures
            .iter()
            .map(|s| Bar { label: format!("{} ({})", s.signature, s.cause), value: s.jobs as f64, colour: 2 })
            .collect();
        figure(
            &mut out,
            "top-signatures",
            "Top signatures",
            bars("Failed jobs by matched log signature", &signatures, "failed jobs"),
        );
    }

    let unknown = Series {
        name: "unknown share of failed jobs".to_string(),
        points: r.unknown_rate_by_hour.iter().map(|h| (h.hour.as_millis() + 1_800_000, h.unknown_rate)).collect(),
    };
    figure(
        &mut out,
        "unknown-rate",
        "Classifier coverage",
        line_chart(
            "Share of failed jobs left unknown, per hour",
            &[unknown],
            from,
            until,
            "unknown share",
            ValueFormat::Percent,
            X_TITLE,
        ),
    );
    out.push_str("</body></html>\n");
    out
}

/// A target's failures in all, and per hour (the middle of the hour, failures).
type TargetSeries = (i64, Vec<(i64, f64)>);

fn figure(out: &mut String, id: &str, heading: &str, svg: String) {
    let _ = writeln!(out, "<h2>{}</h2>\n<figure id=\"{id}\">{svg}</figure>", esc(heading));
}

fn esc(text: &str) -> String {
    crate::charts::escape(text)
}
