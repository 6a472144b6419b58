//! The report in Markdown, for chat and issues: the same content as the HTML, with tables in
//! place of charts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::model::{Incident, Report};
use super::words::{end, evidence, percent, scope, time};
use crate::health::Scope;

/// The report as Markdown. Only the `Generated at` line depends on when it was made.
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# failscope anomaly report: {} to {} UTC\n", time(r.since), time(r.until));
    let _ = writeln!(out, "Generated at {}\n", r.generated_at);
    let s = &r.summary;
    let _ = writeln!(out, "## Summary\n");
    let _ = writeln!(
        out,
        "{} jobs finished; {} did not pass: {} infrastructure, {} user, {} unknown. Jobs failed by infrastructure ran {} job-minutes for nothing.\n",
        s.n_jobs, s.n_failed, s.n_infra, s.n_user, s.n_unknown, s.infra_job_minutes
    );

    let _ = writeln!(out, "## Incidents\n");
    if r.incidents.is_empty() {
        let _ = writeln!(out, "None opened in the period.\n");
    } else {
        let _ = writeln!(
            out,
            "| scope | name | state | kind | start | end | affected jobs | wasted job-minutes | evidence |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---:|---:|---|");
        for i in &r.incidents {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                scope(i.scope),
                i.name,
                i.status.as_str(),
                i.kind.map_or("", |k| k.as_str()),
                time(i.start),
                end(i),
                i.affected_jobs,
                i.wasted_job_minutes,
                evidence(i.scope, &i.evidence).replace('|', "/")
            );
        }
        let _ = writeln!(out);
    }
    if r.n_degraded_only > 0 {
        let _ = writeln!(out, "{} region episodes stayed `degraded` and never became an alarm.\n", r.n_degraded_only);
    }
    for (title, wanted) in
        [("Flagged targets", Scope::Target), ("Quarantined workers", Scope::Worker), ("User storms", Scope::Project)]
    {
        let names: Vec<String> = flagged(&r.incidents, wanted);
        let _ =
            writeln!(out, "**{title}:** {}\n", if names.is_empty() { "none".to_string() } else { names.join(", ") });
    }

    let _ = writeln!(out, "## Health timeline\n");
    let _ = writeln!(out, "| region | states (UTC) |");
    let _ = writeln!(out, "|---|---|");
    for t in &r.timeline {
        let states: Vec<String> =
            t.bands.iter().map(|b| format!("{} {}–{}", b.status.as_str(), time(b.from), time(b.until))).collect();
        let _ = writeln!(out, "| {} | {} |", t.region, states.join("; "));
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "## Infrastructure failures by region\n");
    let _ = writeln!(out, "| region | jobs | infra failures | rate | worst hour | its rate |");
    let _ = writeln!(out, "|---|---:|---:|---:|---|---:|");
    let mut regions: BTreeMap<&str, Totals<f64>> = BTreeMap::new();
    for h in &r.infra_rate_by_region_hour {
        let entry = regions.entry(h.region.as_str()).or_insert((0, 0, None));
        entry.0 += h.jobs;
        entry.1 += h.infra;
        if entry.2.is_none_or(|(rate, _)| h.infra_failure_rate > rate) {
            entry.2 = Some((h.infra_failure_rate, h.hour.as_millis()));
        }
    }
    for (region, (jobs, infra, worst)) in &regions {
        let worst = match worst {
            Some((rate, hour)) if *rate > 0.0 => {
                format!("{} | {}", time(failscope_schemas::Timestamp::from_millis(*hour)), percent(*rate))
            }
            _ => "— | —".to_string(),
        };
        let _ = writeln!(
            out,
            "| {region} | {jobs} | {infra} | {} | {worst} |",
            percent(*infra as f64 / (*jobs).max(1) as f64)
        );
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "## Connect failures by target\n");
    let _ = writeln!(out, "| target | attempts | failures | rate | worst hour | its failures |");
    let _ = writeln!(out, "|---|---:|---:|---:|---|---:|");
    let mut targets: BTreeMap<&str, Totals<i64>> = BTreeMap::new();
    for h in &r.connect_failures_by_target_hour {
        let entry = targets.entry(h.target.as_str()).or_insert((0, 0, None));
        entry.0 += h.attempts;
        entry.1 += h.failures;
        if entry.2.is_none_or(|(failures, _)| h.failures > failures) {
            entry.2 = Some((h.failures, h.hour.as_millis()));
        }
    }
    for (target, (attempts, failures, worst)) in &targets {
        let worst = match worst {
            Some((n, hour)) if *n > 0 => format!("{} | {n}", time(failscope_schemas::Timestamp::from_millis(*hour))),
            _ => "— | —".to_string(),
        };
        let _ = writeln!(
            out,
            "| {target} | {attempts} | {failures} | {} | {worst} |",
            percent(*failures as f64 / (*attempts).max(1) as f64)
        );
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "## Top causes\n");
    let _ = writeln!(out, "| cause | attribution | jobs |");
    let _ = writeln!(out, "|---|---|---:|");
    for c in &r.top_causes {
        let _ = writeln!(out, "| {} | {} | {} |", c.cause, c.attribution, c.jobs);
    }
    let _ = writeln!(out, "\n## Top signatures\n");
    if r.top_signatures.is_empty() {
        let _ = writeln!(out, "No known signature matched.");
    } else {
        let _ = writeln!(out, "| signature | cause | jobs |");
        let _ = writeln!(out, "|---|---|---:|");
        for s in &r.top_signatures {
            let _ = writeln!(out, "| {} | {} | {} |", s.signature, s.cause, s.jobs);
        }
    }

    let _ = writeln!(out, "\n## Classifier coverage\n");
    let (failed, unknown) = r.unknown_rate_by_hour.iter().fold((0, 0), |(f, u), h| (f + h.failed, u + h.unknown));
    let worst = r
        .unknown_rate_by_hour
        .iter()
        .filter(|h| h.unknown > 0)
        .max_by(|a, b| a.unknown_rate.total_cmp(&b.unknown_rate).then(b.hour.cmp(&a.hour)));
    let _ = writeln!(
        out,
        "{unknown} of {failed} failed jobs left unknown ({}){}.",
        percent(unknown as f64 / failed.max(1) as f64),
        worst.map_or(String::new(), |h| format!("; worst hour {} at {}", time(h.hour), percent(h.unknown_rate)))
    );
    out
}

/// Two sums over a row's hours, and its worst hour: (value, hour start in milliseconds).
type Totals<W> = (i64, i64, Option<(W, i64)>);

/// `name (start – end)` of the incidents of one scope.
fn flagged(incidents: &[Incident], wanted: Scope) -> Vec<String> {
    incidents
        .iter()
        .filter(|i| i.scope == wanted)
        .map(|i| format!("{} ({} – {})", i.name, time(i.start), end(i)))
        .collect()
}
