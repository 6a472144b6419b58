//! `failscope simulate`: a deterministic CI fleet with incident scenarios, written as
//! contract JSON lines to a file or produced to Kafka, with the ground truth beside them.
//!
//! Time is simulated: a seed and a scenario always give byte-identical output, and three
//! simulated days take seconds. `--speed` paces the output against the wall clock instead.

mod catalog;
mod fleet;
mod jobs;
mod logs;
mod network;
mod scenario;
mod truth;
mod world;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use failscope_kafka::BrokersArgs;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

pub(crate) use catalog::scenario;
pub use catalog::{BAD_HOSTS, SCENARIO_NAMES};
pub use truth::{Attribution, GroundTruth, IncidentTruth, JobTruth};
pub use world::SimEvent;

use crate::{ProducerConfig, TopicsArgs, create_topics, emit_lines, new_producer};

/// Simulate a CI fleet and its incidents.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The scenario: quiet-week, april-2022, target-outage, bad-host, user-error-storm,
    /// dns-outage, cache-outage, slow-burn, small-region or two-regions.
    #[arg(long, env = "FAILSCOPE_SCENARIO", default_value = "quiet-week", value_parser = clap::builder::PossibleValuesParser::new(SCENARIO_NAMES))]
    pub(crate) scenario: String,
    /// Seed of the random choices; the same seed gives byte-identical output.
    #[arg(long, env = "FAILSCOPE_SEED", default_value_t = 1)]
    pub(crate) seed: u64,
    /// Simulated seconds per wall-clock second; 0 replays as fast as possible.
    #[arg(long, env = "FAILSCOPE_SPEED", default_value_t = 0.0)]
    pub(crate) speed: f64,
    /// Write JSON lines to this file instead of producing them to Kafka.
    #[arg(long, env = "FAILSCOPE_SIMULATE_OUT")]
    pub(crate) out: Option<PathBuf>,
    /// The brokers to produce to, when `--out` is not given.
    #[command(flatten)]
    pub(crate) brokers: BrokersArgs,
    #[command(flatten)]
    pub(crate) topics: TopicsArgs,
    /// Where to write the ground truth; `<out>.truth.json`, or `simulate-truth.json` when
    /// producing to Kafka, by default.
    #[arg(long, env = "FAILSCOPE_TRUTH_OUT")]
    pub(crate) truth: Option<PathBuf>,
}

/// Runs the named scenario with `seed`: the events in time order and the ground truth.
pub fn simulate(scenario_name: &str, seed: u64) -> Option<(Vec<SimEvent>, GroundTruth)> {
    scenario(scenario_name).map(|s| world::World::new(s, seed).run())
}

/// Runs `failscope simulate`; when `shutdown` fires, it stops at once with an error.
pub async fn run_simulate(args: SimulateArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    tokio::select! {
        result = simulate_to_output(args) => result,
        () = shutdown.cancelled() => anyhow::bail!("interrupted by a signal; the output is incomplete"),
    }
}

async fn simulate_to_output(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (events, truth) = simulate(&args.scenario, args.seed)
        .with_context(|| format!("unknown scenario {:?}; known: {}", args.scenario, SCENARIO_NAMES.join(", ")))?;
    let truth_path = args.truth.clone().unwrap_or_else(|| match &args.out {
        Some(out) => PathBuf::from(format!("{}.truth.json", out.display())),
        None => PathBuf::from("simulate-truth.json"),
    });
    let truth_json = serde_json::to_vec_pretty(&truth).context("cannot serialize the ground truth")?;
    tokio::fs::write(&truth_path, truth_json)
        .await
        .with_context(|| format!("cannot write {}", truth_path.display()))?;
    let n_events = events.len();
    let start = truth.starts_at;
    match &args.out {
        Some(out) => {
            let file =
                tokio::fs::File::create(out).await.with_context(|| format!("cannot create {}", out.display()))?;
            let mut writer = tokio::io::BufWriter::new(file);
            write_paced(&events, start.as_millis(), args.speed, &mut writer).await.context("cannot write events")?;
            writer.flush().await.context("cannot write events")?;
        }
        None => {
            let topics = args.topics.topics();
            create_topics(&args.brokers.brokers, &topics.sources(), 1).await?;
            let producer = new_producer(&ProducerConfig {
                brokers: args.brokers.brokers.clone(),
                delivery_timeout: humantime::parse_duration(crate::cli::EMIT_DELIVERY_TIMEOUT)
                    .expect("the default is a valid duration"),
            })?;
            let (mut writer, reader) = tokio::io::duplex(1 << 20);
            let speed = args.speed;
            let writing = tokio::spawn(async move {
                write_paced(&events, start.as_millis(), speed, &mut writer).await?;
                writer.shutdown().await
            });
            let report = emit_lines(BufReader::new(reader), Some(&producer), &topics).await?;
            writing.await.context("writer task panicked")?.context("cannot stream events")?;
            if !report.is_success() {
                anyhow::bail!("{} of {} events were not delivered", report.undelivered.len(), report.n_valid);
            }
        }
    }
    eprintln!(
        "{n_events} events, {} jobs, {} incidents in {:.1?}; ground truth in {}",
        truth.jobs.len(),
        truth.incidents.len(),
        started.elapsed(),
        truth_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the events as JSON lines; with `speed > 0`, each one no earlier than its
/// simulated time divided by `speed` after the start.
pub async fn write_paced<W: AsyncWrite + Unpin>(
    events: &[SimEvent],
    start_millis: i64,
    speed: f64,
    out: &mut W,
) -> std::io::Result<()> {
    let clock = tokio::time::Instant::now();
    for event in events {
        if speed > 0.0 {
            let offset_ms = (event.at.as_millis() - start_millis).max(0) as f64 / speed;
            tokio::time::sleep_until(clock + Duration::from_secs_f64(offset_ms / 1000.0)).await;
        }
        out.write_all(&event.json).await?;
        out.write_all(b"\n").await?;
    }
    Ok(())
}
