//! What the demo prints: the health timeline, the diagnosis of each incident beside the
//! 13 hours it took people in April 2022, the failed jobs by region and the top causes.

use std::io::Write;

use arrow::array::{Array, RecordBatch};
use comfy_table::Table;
use datafusion::common::ParamValues;
use datafusion::scalar::ScalarValue;
use failscope_analyze::Analyzer;
use failscope_analyze::health::{HealthChange, Scope, Status};
use failscope_analyze::output::{Format, write_batches};
use failscope_emit::simulate::GroundTruth;
use failscope_schemas::Timestamp;

const FAILED_JOBS_SQL: &str = include_str!("../../../queries/demo/failed_jobs_by_region.sql");
const TOP_CAUSES_SQL: &str = include_str!("../../../queries/demo/top_causes.sql");
const FIRST_FAILED_CONNECT_SQL: &str = include_str!("../../../queries/demo/first_failed_connect.sql");

/// The query results the summary prints.
#[derive(Debug)]
pub(super) struct Tables {
    failed_jobs: Vec<RecordBatch>,
    top_causes: Vec<RecordBatch>,
    /// Per incident of a region: its first failed connect.
    first_failures: Vec<(String, Option<Timestamp>)>,
}

fn ts(t: Timestamp) -> ScalarValue {
    ScalarValue::TimestampMillisecond(Some(t.as_millis()), Some("UTC".into()))
}

/// Runs the summary's queries over `[since, until)`.
pub(super) async fn tables(analyzer: &Analyzer, truth: &GroundTruth) -> anyhow::Result<Tables> {
    let params = ParamValues::from(vec![("since", ts(truth.starts_at)), ("until", ts(truth.ends_at))]);
    let run = |sql: &'static str, params: ParamValues| async move {
        anyhow::Ok(analyzer.context().sql(sql).await?.with_param_values(params)?.collect().await?)
    };
    let mut first_failures = Vec::new();
    for incident in &truth.incidents {
        let Some(region) = incident.region else { continue };
        let params = ParamValues::from(vec![
            ("region", ScalarValue::Utf8(Some(region.to_string()))),
            ("since", ts(incident.starts_at)),
        ]);
        let batches = run(FIRST_FAILED_CONNECT_SQL, params).await?;
        let first = batches.first().and_then(|b| {
            let column = b.column(0).as_any().downcast_ref::<arrow::array::TimestampMillisecondArray>()?;
            (!column.is_empty() && column.is_valid(0)).then(|| Timestamp::from_millis(column.value(0)))
        });
        first_failures.push((incident.incident_id.clone(), first));
    }
    Ok(Tables {
        failed_jobs: run(FAILED_JOBS_SQL, params.clone()).await?,
        top_causes: run(TOP_CAUSES_SQL, params).await?,
        first_failures,
    })
}

/// Prints the summary.
pub(super) fn write(
    out: &mut impl Write,
    truth: &GroundTruth,
    changes: &[HealthChange],
    tables: &Tables,
) -> anyhow::Result<()> {
    writeln!(out, "\nHealth timeline (state changes the detector made, minute by minute of event time)")?;
    let mut timeline = Table::new();
    timeline.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    timeline.set_header(["at (UTC)", "scope", "name", "change", "kind", "weight", "evidence"]);
    for c in changes.iter().filter(|c| c.scope != Scope::Project || c.status != Status::Healthy) {
        let e = &c.evidence;
        let evidence = match c.scope {
            Scope::Region | Scope::Target | Scope::Worker => format!(
                "{} of {} connects failed ({:.1} %, baseline {:.1} %){}",
                e.n_failed,
                e.n_attempts,
                e.rate * 100.0,
                e.baseline_rate * 100.0,
                e.peer_rate.map_or(String::new(), |p| format!(", peers {:.1} %", p * 100.0))
            ),
            Scope::Project => e.note.clone().unwrap_or_default(),
        };
        timeline.add_row([
            short_time(c.at),
            format!("{:?}", c.scope).to_lowercase(),
            c.name.clone(),
            format!("{} → {}", c.previous.as_str(), c.status.as_str()),
            c.kind.map_or("", |k| k.as_str()).to_string(),
            c.weight.map_or(String::new(), |w| format!("{w:.2}")),
            evidence,
        ]);
    }
    writeln!(out, "{timeline}")?;

    writeln!(out, "\nDiagnosis")?;
    let mut any = false;
    for incident in &truth.incidents {
        let Some(region) = incident.region else { continue };
        let first_failure =
            tables.first_failures.iter().find(|(id, _)| *id == incident.incident_id).and_then(|(_, first)| *first);
        let unhealthy = changes.iter().find(|c| {
            c.scope == Scope::Region && c.name == region && c.status == Status::Unhealthy && c.at >= incident.starts_at
        });
        any = true;
        match (unhealthy, first_failure) {
            (Some(c), Some(first)) => writeln!(
                out,
                "  {region}: {} — unhealthy at {}, {} minutes after its first failed connect ({}){}",
                c.kind.map_or("?", |k| k.as_str()),
                short_time(c.at),
                (c.at.as_millis() - first.as_millis()).max(0) / 60_000,
                short_time(first),
                if truth.scenario == "april-2022" && region == "us-east-2" {
                    ". In April 2022 it took people about 13 hours."
                } else {
                    "."
                }
            )?,
            (Some(c), None) => writeln!(out, "  {region}: unhealthy at {}", short_time(c.at))?,
            (None, _) => writeln!(out, "  {region}: {} — not detected", incident.description)?,
        }
        if let Some(c) = unhealthy {
            let targets: Vec<&str> = c.evidence.targets.iter().take(4).map(|t| t.target.as_str()).collect();
            writeln!(
                out,
                "    failing: {} ({} timeouts, {} refused, {} DNS); steer jobs away, weight {:.2}",
                targets.join(", "),
                c.evidence.outcomes.timeout,
                c.evidence.outcomes.refused,
                c.evidence.outcomes.dns_error,
                c.weight.unwrap_or(1.0)
            )?;
        }
    }
    if !any {
        writeln!(out, "  no region-scoped incident in this scenario; see the timeline for targets, workers, projects")?;
    }

    writeln!(out, "\nFailed jobs by region, and whose fault they were")?;
    write_batches(Format::Table, &schema_of(&tables.failed_jobs), &tables.failed_jobs, &mut *out)?;
    writeln!(out, "\nTop causes")?;
    write_batches(Format::Table, &schema_of(&tables.top_causes), &tables.top_causes, &mut *out)?;
    Ok(())
}

fn schema_of(batches: &[RecordBatch]) -> arrow::datatypes::SchemaRef {
    batches.first().map_or_else(|| std::sync::Arc::new(arrow::datatypes::Schema::empty()), RecordBatch::schema)
}

/// `2022-04-05 23:33`.
fn short_time(t: Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%d %H:%M").to_string()
}
