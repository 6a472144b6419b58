//! `failscope eval`: runs simulated scenarios through the real pipeline (simulator → Kafka →
//! ingest → lake → classification → detector) and scores the analysis against the
//! simulator's ground truth. Exits non-zero when a target is missed.

mod report;
mod score;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimestampMillisecondType};
use failscope_analyze::Analyzer;
use failscope_analyze::health::{DetectorConfig, replay};
use failscope_emit::simulate::SCENARIO_NAMES;
use failscope_schemas::Timestamp;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::scenario_run::{ScenarioRun, catalog, run_scenario};
pub(crate) use report::checks;
pub(crate) use score::{ClassificationCounts, IncidentScore, MinimumSample};

const CLASSIFICATIONS_SQL: &str = include_str!("../../../queries/eval/classifications.sql");
const FAILED_CONNECTS_SQL: &str = include_str!("../../../queries/eval/failed_connects.sql");

/// Score the analysis against simulated scenarios with ground truth.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// The scenario to run and score.
    #[arg(long, env = "FAILSCOPE_EVAL_SCENARIO", required_unless_present = "all", conflicts_with = "all",
          value_parser = clap::builder::PossibleValuesParser::new(SCENARIO_NAMES))]
    pub(crate) scenario: Option<String>,
    /// Run and score every scenario.
    #[arg(long, env = "FAILSCOPE_EVAL_ALL", default_value_t = false)]
    pub(crate) all: bool,
    /// Seed of the simulation.
    #[arg(long, env = "FAILSCOPE_EVAL_SEED", default_value_t = 1)]
    pub(crate) seed: u64,
    /// Kafka bootstrap servers to run through (each run on topics of its own); an embedded
    /// in-memory broker when absent.
    #[arg(long, env = "FAILSCOPE_EVAL_BROKERS")]
    pub(crate) brokers: Option<String>,
    /// Keep the lakes under this directory (one per scenario) instead of a temporary one.
    #[arg(long, env = "FAILSCOPE_EVAL_LAKES")]
    pub(crate) lakes: Option<PathBuf>,
    /// Score the lakes an earlier run left under --lakes (same seed) instead of running the
    /// pipeline again: for tuning the detector.
    #[arg(long, env = "FAILSCOPE_EVAL_REUSE", default_value_t = false, requires = "lakes")]
    pub(crate) reuse: bool,
    /// `table` for people, `json` for tools.
    #[arg(long, env = "FAILSCOPE_EVAL_FORMAT", value_enum, default_value_t = EvalFormat::Table)]
    pub(crate) format: EvalFormat,
}

/// How `failscope eval` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EvalFormat {
    Table,
    Json,
}

/// The score of one scenario.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScenarioScore {
    pub(crate) scenario: String,
    pub(crate) seed: u64,
    pub(crate) n_events: usize,
    pub(crate) n_jobs: usize,
    pub(crate) pipeline_seconds: f64,
    pub(crate) classification: ClassificationCounts,
    pub(crate) infra_precision: f64,
    pub(crate) infra_recall: f64,
    pub(crate) unknown_rate: f64,
    pub(crate) cause_accuracy: f64,
    pub(crate) incidents: Vec<IncidentScore>,
    pub(crate) false_alarm_region_hours: Vec<String>,
    pub(crate) n_health_changes: usize,
}

/// Runs `failscope eval`.
pub async fn run_eval(args: EvalArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    let scenarios: Vec<String> = match (&args.scenario, args.all) {
        (Some(name), _) => vec![name.clone()],
        (None, _) => SCENARIO_NAMES.iter().map(|s| s.to_string()).collect(),
    };
    let temp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let root = args.lakes.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let mut scores = Vec::new();
    for name in &scenarios {
        let lake = root.join(name);
        if lake.exists() && !args.reuse {
            std::fs::remove_dir_all(&lake).with_context(|| format!("cannot clear {}", lake.display()))?;
        }
        let run =
            ScenarioRun { scenario: name.clone(), seed: args.seed, brokers: args.brokers.clone(), lake, speed: 0.0 };
        let score = tokio::select! {
            score = score_scenario(&run, args.reuse, &shutdown) => score.with_context(|| format!("scenario {name}"))?,
            () = shutdown.cancelled() => {
                eprintln!("interrupted");
                return Ok(ExitCode::from(130));
            }
        };
        if args.format == EvalFormat::Table {
            eprintln!(
                "{name}: scored ({} events through the pipeline in {:.1} s)",
                score.n_events, score.pipeline_seconds
            );
        }
        scores.push(score);
    }
    let checks = checks(&scores);
    let mut stdout = std::io::stdout().lock();
    report::write(&mut stdout, args.format, &scores, &checks)?;
    Ok(if checks.iter().all(|c| c.passed) { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Runs one scenario into its lake and scores what the analysis says of it.
pub(crate) async fn score_scenario(
    run: &ScenarioRun,
    reuse: bool,
    shutdown: &CancellationToken,
) -> anyhow::Result<ScenarioScore> {
    let outcome = if reuse && run.lake.exists() { reuse_lake(run)? } else { run_scenario(run, None, shutdown).await? };
    let truth = &outcome.truth;
    let analyzer = Analyzer::open(&catalog(&run.lake)).await.context("cannot open the lake")?;
    let config = DetectorConfig::default();
    let sample = MinimumSample { failures: config.min_failures as usize, window_minutes: config.long_window_minutes };
    let replayed = replay(&analyzer, truth.starts_at, truth.ends_at, config).await.context("the detector failed")?;
    let said = classifications(&analyzer).await?;
    let failed = failed_connects(&analyzer).await?;
    let classification = score::score_classification(truth, &said);
    Ok(ScenarioScore {
        scenario: run.scenario.clone(),
        seed: run.seed,
        n_events: outcome.n_events,
        n_jobs: truth.jobs.len(),
        pipeline_seconds: outcome.elapsed.as_secs_f64(),
        infra_precision: classification.infra_precision(),
        infra_recall: classification.infra_recall(),
        unknown_rate: classification.unknown_rate(),
        cause_accuracy: classification.cause_accuracy(),
        classification,
        incidents: score::score_incidents(truth, &replayed.changes, &failed, sample),
        false_alarm_region_hours: score::false_alarm_hours(truth, &replayed.changes),
        n_health_changes: replayed.changes.len(),
    })
}

/// The outcome of an earlier run into `run.lake`: the simulation is deterministic, so its
/// truth is computed again rather than stored.
fn reuse_lake(run: &ScenarioRun) -> anyhow::Result<crate::scenario_run::RunOutcome> {
    let (events, truth) = failscope_emit::simulate::simulate(&run.scenario, run.seed).context("unknown scenario")?;
    Ok(crate::scenario_run::RunOutcome { truth, n_events: events.len(), elapsed: std::time::Duration::ZERO })
}

async fn classifications(analyzer: &Analyzer) -> anyhow::Result<HashMap<String, score::Classified>> {
    let batches = analyzer.context().sql(CLASSIFICATIONS_SQL).await?.collect().await?;
    let mut said = HashMap::new();
    for batch in &batches {
        let (ids, attributions, causes) = (strings(batch, 0)?, strings(batch, 1)?, strings(batch, 2)?);
        for ((id, attribution), cause) in ids.into_iter().zip(attributions).zip(causes) {
            said.insert(id, score::Classified { attribution, cause });
        }
    }
    Ok(said)
}

async fn failed_connects(analyzer: &Analyzer) -> anyhow::Result<HashMap<String, Vec<Timestamp>>> {
    let batches = analyzer.context().sql(FAILED_CONNECTS_SQL).await?.collect().await?;
    let mut failed: HashMap<String, Vec<Timestamp>> = HashMap::new();
    for batch in &batches {
        let regions = strings(batch, 0)?;
        let times =
            batch.column(1).as_primitive_opt::<TimestampMillisecondType>().context("started_at is a timestamp")?;
        for (row, region) in regions.into_iter().enumerate() {
            failed.entry(region).or_default().push(Timestamp::from_millis(times.value(row)));
        }
    }
    Ok(failed)
}

fn strings(batch: &RecordBatch, i: usize) -> anyhow::Result<Vec<String>> {
    let column = cast(batch.column(i), &DataType::Utf8)?;
    let column = column.as_string::<i32>();
    Ok((0..column.len()).map(|r| if column.is_null(r) { String::new() } else { column.value(r).to_string() }).collect())
}
