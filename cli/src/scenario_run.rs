//! One simulated scenario through the real pipeline: the simulator's events produced to Kafka
//! (the embedded broker, or a real one), consumed by the ingest in this process, and published
//! into a lake; it returns once every event is in the lake.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use failscope_analyze::{Analyzer, CatalogConfig};
use failscope_emit::simulate::{GroundTruth, SCENARIO_NAMES, simulate, write_paced};
use failscope_emit::{ProducerConfig, Topics, TopicsArgs, create_topics, emit_lines, new_producer};
use failscope_ingest::cli::{IngestArgs, run_ingest};
use failscope_kafka::TopicSpec;
use indicatif::ProgressBar;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::embedded_broker::EmbeddedBroker;

/// Partitions of the connect-attempt topic: the embedded broker keeps about 100,000 message
/// sets per partition, far more than a scenario needs spread over six.
const CONNECT_PARTITIONS: i32 = 6;
const JOB_PARTITIONS: i32 = 3;
/// The longest a scenario may take to reach the lake once produced.
const INGEST_DEADLINE: Duration = Duration::from_secs(600);

/// What to run and where.
#[derive(Debug, Clone)]
pub struct ScenarioRun {
    pub scenario: String,
    pub seed: u64,
    /// A real Kafka; the embedded broker when `None`.
    pub brokers: Option<String>,
    pub lake: PathBuf,
    /// Simulated seconds per wall-clock second; 0 produces as fast as possible.
    pub speed: f64,
}

/// What the run produced.
#[derive(Debug)]
pub struct RunOutcome {
    pub truth: GroundTruth,
    pub n_events: usize,
    pub elapsed: Duration,
}

/// Runs the scenario into the lake. Stops early, with an error, when `shutdown` fires. When
/// given, `progress` counts the events that reached the lake.
pub async fn run_scenario(
    run: &ScenarioRun,
    progress: Option<&ProgressBar>,
    shutdown: &CancellationToken,
) -> anyhow::Result<RunOutcome> {
    let started = Instant::now();
    let (events, truth) = simulate(&run.scenario, run.seed)
        .with_context(|| format!("unknown scenario {:?}; known: {}", run.scenario, SCENARIO_NAMES.join(", ")))?;
    let n_events = events.len();
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let topics = match run.brokers {
        // A shared broker: topics of this run alone, so runs never read each other's events.
        Some(_) => Topics {
            connect_attempts: format!("failscope-run-{run_id}.connect_attempts"),
            job_outcomes: format!("failscope-run-{run_id}.job_outcomes"),
        },
        None => default_topics(),
    };
    let embedded = match &run.brokers {
        Some(_) => None,
        None => {
            // Every topic the ingest's set-up plan names (it cannot create them on this broker).
            let plan = TopicSpec::plan(&topics, CONNECT_PARTITIONS, 1, None);
            let specs: Vec<(&str, i32)> = plan
                .iter()
                .map(|s| (s.name.as_str(), if s.name == topics.job_outcomes { JOB_PARTITIONS } else { s.n_partitions }))
                .collect();
            Some(EmbeddedBroker::start(&specs)?)
        }
    };
    let brokers = match (&run.brokers, &embedded) {
        (Some(brokers), _) => brokers.clone(),
        (None, Some(broker)) => broker.bootstrap_servers(),
        (None, None) => unreachable!("an embedded broker is started when no brokers are given"),
    };
    create_topics(&brokers, &[&topics.connect_attempts, &topics.job_outcomes], CONNECT_PARTITIONS).await?;
    for table in ["connect_attempts", "job_outcomes"] {
        std::fs::create_dir_all(run.lake.join(table))
            .with_context(|| format!("cannot create the lake at {}", run.lake.display()))?;
    }

    let ingest_stop = shutdown.child_token();
    let ingest = run_ingest(ingest_args(&brokers, &topics, &run.lake, &run_id)?, ingest_stop.clone());
    let drive = async {
        produce(&events, truth.starts_at.as_millis(), run.speed, &brokers, &topics).await?;
        wait_for_rows(&run.lake, n_events as u64, progress, shutdown).await
    };
    tokio::pin!(ingest);
    tokio::select! {
        stopped = &mut ingest => {
            stopped.context("the ingest failed")?;
            anyhow::bail!("the ingest stopped before every event reached the lake");
        }
        driven = drive => driven?,
    }
    ingest_stop.cancel();
    ingest.await.context("the ingest failed while stopping")?;
    drop(embedded);
    Ok(RunOutcome { truth, n_events, elapsed: started.elapsed() })
}

/// The topics `failscope emit` and `ingest` use unless told otherwise.
fn default_topics() -> Topics {
    use clap::{Args, FromArgMatches};
    let matches = TopicsArgs::augment_args(clap::Command::new("topics")).get_matches_from(["topics"]);
    TopicsArgs::from_arg_matches(&matches).map(|t| t.topics()).unwrap_or_else(|_| Topics {
        connect_attempts: "ci.connect_attempts".into(),
        job_outcomes: "ci.job_outcomes".into(),
    })
}

/// The in-process ingest, with the command's own defaults but for what a scenario run needs:
/// files roll every second so the lake follows the production closely, and no fixed port.
fn ingest_args(brokers: &str, topics: &Topics, lake: &Path, run_id: &str) -> anyhow::Result<IngestArgs> {
    use clap::{Args, FromArgMatches};
    let group = format!("failscope-run-{run_id}");
    let lake = lake.display().to_string();
    let argv = [
        "ingest",
        "--brokers",
        brokers,
        "--group",
        &group,
        "--connect-attempts-topic",
        &topics.connect_attempts,
        "--job-outcomes-topic",
        &topics.job_outcomes,
        "--lake",
        &lake,
        "--max-age",
        "1s",
        "--session-timeout",
        "10s",
        "--http-addr",
        "127.0.0.1:0",
    ];
    let matches = IngestArgs::augment_args(clap::Command::new("ingest")).try_get_matches_from(argv)?;
    Ok(IngestArgs::from_arg_matches(&matches)?)
}

async fn produce(
    events: &[failscope_emit::simulate::SimEvent],
    start_millis: i64,
    speed: f64,
    brokers: &str,
    topics: &Topics,
) -> anyhow::Result<()> {
    let producer =
        new_producer(&ProducerConfig { brokers: brokers.to_string(), delivery_timeout: Duration::from_secs(60) })?;
    let (mut writer, reader) = tokio::io::duplex(1 << 20);
    let writing = async move {
        write_paced(events, start_millis, speed, &mut writer).await?;
        writer.shutdown().await
    };
    let (written, report) = tokio::join!(writing, emit_lines(BufReader::new(reader), Some(&producer), topics));
    written.context("cannot stream the events")?;
    let report = report?;
    anyhow::ensure!(
        report.is_success(),
        "{} of {} events were not delivered, {} invalid",
        report.undelivered.len(),
        report.n_valid,
        report.invalid.len()
    );
    Ok(())
}

/// Polls the lake until it holds `n_rows` rows over both tables.
async fn wait_for_rows(
    lake: &Path,
    n_rows: u64,
    progress: Option<&ProgressBar>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let analyzer = Analyzer::open(&catalog(lake)).await.context("cannot open the lake")?;
    let deadline = Instant::now() + INGEST_DEADLINE;
    if let Some(bar) = progress {
        bar.set_length(n_rows);
    }
    loop {
        let n = count_rows(&analyzer).await?;
        if let Some(bar) = progress {
            bar.set_position(n.min(n_rows));
        }
        if n >= n_rows {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {n} of {n_rows} events reached the lake in {INGEST_DEADLINE:?}"
        );
        tokio::select! {
            () = shutdown.cancelled() => anyhow::bail!("interrupted"),
            () = tokio::time::sleep(Duration::from_millis(300)) => {}
        }
    }
}

async fn count_rows(analyzer: &Analyzer) -> anyhow::Result<u64> {
    let sql = "SELECT (SELECT COUNT(*) FROM connect_attempts_raw) + (SELECT COUNT(*) FROM job_outcomes_raw) AS n";
    let batches = analyzer.context().sql(sql).await?.collect().await?;
    let n = batches
        .first()
        .and_then(|b| b.column(0).as_any().downcast_ref::<arrow::array::Int64Array>().map(|a| a.value(0)))
        .unwrap_or(0);
    Ok(n.max(0) as u64)
}

/// The catalog over a lake written by this process.
pub(crate) fn catalog(lake: &Path) -> CatalogConfig {
    CatalogConfig {
        lake: lake.into(),
        // The query set built into the binary.
        queries_dir: None,
        memory_limit_bytes: Some(4 << 30),
        target_partitions: None,
    }
}
