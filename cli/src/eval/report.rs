//! The targets `failscope eval` holds the analysis to, and how it prints the scores.

use std::io::Write;

use comfy_table::Table;
use serde::Serialize;

use super::score::ClassificationCounts;
use super::{EvalFormat, ScenarioScore};

/// The longest from the minimum sample to `unhealthy` for a region's incident.
const MAX_DETECTION_MINUTES: f64 = 15.0;
/// The same for `slow-burn`, whose minimum sample is reached while its rate is still within
/// the noise (0.2 % rising by 2.5 points an hour): an hour, while the rate is under 3 %.
const MAX_SLOW_BURN_DETECTION_MINUTES: f64 = 60.0;

/// One target and whether it was met.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Check {
    pub(crate) name: String,
    pub(crate) passed: bool,
    pub(crate) detail: String,
}

/// Every target over `scores`: the classification pooled over the scenarios, the detector
/// per incident and per scenario.
pub(crate) fn checks(scores: &[ScenarioScore]) -> Vec<Check> {
    let mut pooled = ClassificationCounts::default();
    for s in scores {
        pooled.add(&s.classification);
    }
    let mut checks = vec![
        at_least("infra precision", pooled.infra_precision(), 0.95),
        at_least("infra recall", pooled.infra_recall(), 0.85),
        Check {
            name: "unknown rate ≤ 0.10".into(),
            passed: pooled.unknown_rate() <= 0.10,
            detail: format!("{:.3} of {} failed jobs", pooled.unknown_rate(), pooled.n_failed),
        },
        at_least("right cause", pooled.cause_accuracy(), 0.95),
    ];
    for s in scores {
        for i in &s.incidents {
            checks.push(Check {
                name: format!("{} {}: {}", s.scenario, i.incident_id, i.expected),
                passed: i.localized,
                detail: i.detail.clone(),
            });
            if i.region.is_some() && matches!(i.kind, "connect_timeout" | "dns_failure") {
                let minutes = i.minutes_after_min_sample;
                let max =
                    if s.scenario == "slow-burn" { MAX_SLOW_BURN_DETECTION_MINUTES } else { MAX_DETECTION_MINUTES };
                checks.push(Check {
                    name: format!("{} {}: unhealthy ≤ {max} min after the minimum sample", s.scenario, i.incident_id),
                    passed: minutes.is_some_and(|m| m <= max),
                    detail: minutes.map_or("not detected".into(), |m| {
                        format!(
                            "{m:.0} min (from the first failure: {:.0} min)",
                            i.minutes_from_first_failure.unwrap_or(f64::NAN)
                        )
                    }),
                });
            }
        }
        checks.push(Check {
            name: format!("{}: no false alarm", s.scenario),
            passed: s.false_alarm_region_hours.is_empty(),
            detail: if s.false_alarm_region_hours.is_empty() {
                "0 region-hours flagged outside incidents".into()
            } else {
                format!("{} region-hours: {}", s.false_alarm_region_hours.len(), s.false_alarm_region_hours.join(", "))
            },
        });
    }
    checks
}

fn at_least(name: &str, value: f64, target: f64) -> Check {
    Check { name: format!("{name} ≥ {target}"), passed: value >= target, detail: format!("{value:.3}") }
}

/// Prints the scores and the checks.
pub(super) fn write(
    out: &mut impl Write,
    format: EvalFormat,
    scores: &[ScenarioScore],
    checks: &[Check],
) -> anyhow::Result<()> {
    if format == EvalFormat::Json {
        let passed = checks.iter().all(|c| c.passed);
        serde_json::to_writer_pretty(
            &mut *out,
            &serde_json::json!({ "passed": passed, "scenarios": scores, "checks": checks }),
        )?;
        writeln!(out)?;
        return Ok(());
    }
    let mut summary = Table::new();
    summary.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    summary.set_header([
        "scenario",
        "events",
        "failed jobs",
        "infra precision",
        "infra recall",
        "unknown",
        "right cause",
        "state changes",
        "false alarm h",
    ]);
    for s in scores {
        summary.add_row([
            s.scenario.clone(),
            s.n_events.to_string(),
            s.classification.n_failed.to_string(),
            format!("{:.3}", s.infra_precision),
            format!("{:.3}", s.infra_recall),
            format!("{:.3}", s.unknown_rate),
            format!("{:.3}", s.cause_accuracy),
            s.n_health_changes.to_string(),
            s.false_alarm_region_hours.len().to_string(),
        ]);
    }
    writeln!(out, "{summary}")?;
    let mut incidents = Table::new();
    incidents.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    incidents.set_header([
        "scenario",
        "incident",
        "kind",
        "where",
        "starts",
        "detected",
        "min from 1st failure",
        "min after min. sample",
        "localized",
        "detail",
    ]);
    for s in scores {
        for i in &s.incidents {
            incidents.add_row([
                s.scenario.clone(),
                i.incident_id.clone(),
                i.kind.to_string(),
                format!("{} → {}", i.region.unwrap_or("all"), i.target),
                i.starts_at.to_string(),
                i.detected_at.map_or("no".into(), |t| t.to_string()),
                i.minutes_from_first_failure.map_or(String::new(), |m| format!("{m:.0}")),
                i.minutes_after_min_sample.map_or(String::new(), |m| format!("{m:.0}")),
                if i.localized { "yes" } else { "NO" }.to_string(),
                i.detail.clone(),
            ]);
        }
    }
    writeln!(out, "{incidents}")?;
    for c in checks {
        writeln!(out, "{} {}: {}", if c.passed { "✓" } else { "✗" }, c.name, c.detail)?;
    }
    let failed = checks.iter().filter(|c| !c.passed).count();
    writeln!(out, "{}", if failed == 0 { "all targets met".to_string() } else { format!("{failed} targets missed") })?;
    Ok(())
}
