//! Flags and entry point of `failscope ingest`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use failscope_kafka::{BrokersArgs, DEFAULT_PARTITIONS, TopicSpec, TopicsArgs, create_topic_specs};
use failscope_schemas::lake::LakeArg;
use prometheus_client::registry::Registry;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use crate::config::EventWindow;
use crate::consumer::{new_consumer, run_loop};
use crate::dead_letter::DeadLetters;
use crate::health::Health;
use crate::lake::Lake;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::{FlushPolicy, IngestConfig};

/// The smallest `--memory-budget` the process can keep within 1.5 × (measured: 1.33 × at
/// 128 MiB, 1.89 × at 64 MiB, where its own ~25 MiB dominate).
pub(crate) const MIN_MEMORY_BUDGET: usize = 128 << 20;

/// Consume events from Kafka into the Parquet lake, effectively once.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub(crate) brokers: BrokersArgs,
    /// Consumer group; processes in one group share the partitions.
    #[arg(long, env = "FAILSCOPE_GROUP", default_value = "failscope-ingest")]
    pub(crate) group: String,
    #[command(flatten)]
    pub(crate) topics: TopicsArgs,
    #[command(flatten)]
    pub(crate) lake: LakeArg,
    /// Roll a partition's files at this many buffered rows.
    #[arg(long, env = "FAILSCOPE_MAX_ROWS", default_value_t = 1_000_000)]
    pub(crate) max_rows: usize,
    /// Roll a partition's files at this many buffered message bytes.
    #[arg(long, env = "FAILSCOPE_MAX_BYTES", default_value_t = 128 << 20)]
    pub(crate) max_bytes: usize,
    /// Roll a partition's files when its oldest buffered row is this old.
    #[arg(long, env = "FAILSCOPE_MAX_AGE", default_value = "60s", value_parser = humantime::parse_duration)]
    pub(crate) max_age: Duration,
    /// Roll a partition's files when its rows span this many event hours (one file each).
    #[arg(long, env = "FAILSCOPE_MAX_HOURS", default_value_t = 100)]
    pub(crate) max_hours: usize,
    /// Dead-letter events whose time is further than this in the past (`out_of_window`).
    #[arg(long, env = "FAILSCOPE_MAX_EVENT_AGE", default_value = "3650days", value_parser = humantime::parse_duration)]
    pub(crate) max_event_age: Duration,
    /// Dead-letter events whose time is further than this in the future (`out_of_window`).
    #[arg(long, env = "FAILSCOPE_MAX_EVENT_LEAD", default_value = "1day", value_parser = humantime::parse_duration)]
    pub(crate) max_event_lead: Duration,
    /// Memory budget of the process in bytes: buffered rows may use half of it (counted as
    /// message bytes); over that, the largest partitions roll early, then fetching pauses.
    #[arg(long, env = "FAILSCOPE_MEMORY_BUDGET", default_value_t = 512 << 20)]
    pub(crate) memory_budget: usize,
    /// Kafka group session timeout: how soon a dead member's partitions move.
    #[arg(long, env = "FAILSCOPE_SESSION_TIMEOUT", default_value = "45s", value_parser = humantime::parse_duration)]
    pub(crate) session_timeout: Duration,
    /// On SIGINT/SIGTERM, how long to publish, commit and leave before giving up.
    #[arg(long, env = "FAILSCOPE_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) shutdown_timeout: Duration,
    /// Partitions of the source topics when the ingest has to create them (as `failscope
    /// topics create` would, with the broker's retention).
    #[arg(long, env = "FAILSCOPE_PARTITIONS", default_value = DEFAULT_PARTITIONS)]
    pub(crate) partitions: i32,
    /// `/healthz` answers 503 once a partition's oldest message not yet in the lake has waited
    /// this long beyond --max-age (a full disk, a failing object store, an unwritable
    /// dead-letter topic, a lake that cannot be read to recover the partition).
    #[arg(long, env = "FAILSCOPE_STALL_TIMEOUT", default_value = "5m", value_parser = humantime::parse_duration)]
    pub(crate) stall_timeout: Duration,
    /// Address of the `/metrics` and `/healthz` endpoints.
    #[arg(long, env = "FAILSCOPE_HTTP_ADDR", default_value = "127.0.0.1:9464")]
    pub(crate) http_addr: SocketAddr,
}

impl IngestArgs {
    fn config(&self) -> anyhow::Result<IngestConfig> {
        anyhow::ensure!(self.max_rows > 0, "--max-rows must be at least 1");
        anyhow::ensure!(self.max_bytes > 0, "--max-bytes must be at least 1");
        anyhow::ensure!(!self.max_age.is_zero(), "--max-age must be positive");
        anyhow::ensure!(self.max_hours > 0, "--max-hours must be at least 1");
        anyhow::ensure!(
            self.memory_budget >= MIN_MEMORY_BUDGET,
            "--memory-budget must be at least {} MiB: the process itself takes about 25 MiB, so a smaller budget could not be kept",
            MIN_MEMORY_BUDGET >> 20
        );
        anyhow::ensure!(
            self.memory_budget / 2 >= self.max_bytes,
            "--memory-budget must be at least twice --max-bytes (buffered rows may use half of it)"
        );
        let topics = self.topics.topics();
        anyhow::ensure!(topics.connect_attempts != topics.job_outcomes, "the two event types need distinct topics");
        Ok(IngestConfig {
            brokers: self.brokers.brokers.clone(),
            group: self.group.clone(),
            topics,
            lake: absolute_lake(&self.lake.path)?,
            flush: FlushPolicy {
                max_rows: self.max_rows,
                max_bytes: self.max_bytes,
                max_age: self.max_age,
                max_hours: self.max_hours,
                memory_budget: self.memory_budget,
            },
            window: EventWindow { max_age: self.max_event_age, max_lead: self.max_event_lead },
            session_timeout: self.session_timeout,
            shutdown_timeout: self.shutdown_timeout,
        })
    }
}

/// A lake directory as an absolute path (logged), so that it does not silently depend on
/// where the command runs; URLs stay as they are.
fn absolute_lake(lake: &std::path::Path) -> anyhow::Result<String> {
    let lake = lake.to_str().with_context(|| format!("the lake path {} is not UTF-8", lake.display()))?;
    if lake.contains("://") {
        return Ok(lake.to_string());
    }
    let path = std::path::absolute(lake).with_context(|| format!("cannot resolve the lake path {lake}"))?;
    let path = path.to_str().with_context(|| format!("the lake path {} is not UTF-8", path.display()))?.to_string();
    tracing::info!(lake = path, "lake");
    Ok(path)
}

/// Runs `failscope ingest` until `shutdown` fires, then publishes, commits and exits.
pub async fn run_ingest(args: IngestArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    let lake =
        Lake::open(&config.lake, Handle::current()).with_context(|| format!("cannot open lake {}", config.lake))?;

    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry);
    let listener = tokio::net::TcpListener::bind(args.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.http_addr))?;
    tracing::info!(addr = %listener.local_addr()?, "serving /metrics and /healthz");
    let server_shutdown = shutdown.clone();
    // A healthy partition holds a message for up to --max-age before it is published.
    let health = Health::new(config.flush.max_age + args.stall_timeout);
    let router = crate::http::router(Arc::new(registry), health.clone());
    tokio::spawn(async move {
        let serve = axum::serve(listener, router).with_graceful_shutdown(server_shutdown.cancelled_owned());
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "http server failed");
        }
    });

    anyhow::ensure!(args.partitions > 0, "--partitions must be at least 1");
    if !ensure_topics(&config, args.partitions, &shutdown).await {
        // Nothing was consumed, so nothing is lost: a stop requested this early is still clean.
        tracing::info!(brokers = config.brokers, "stopped before the topics could be set up; nothing consumed");
        return Ok(ExitCode::SUCCESS);
    }
    let dead_letters = DeadLetters::new(&config.brokers).context("cannot create the dead-letter producer")?;
    let pipeline = Pipeline::new(&config, lake, dead_letters, metrics.clone(), health);
    let pipeline = Arc::new(Mutex::new(pipeline));
    let consumer = new_consumer(&config, Arc::clone(&pipeline), metrics).context("cannot create the Kafka consumer")?;

    let loop_shutdown = shutdown.clone();
    let loop_config = config.clone();
    let mut consume = tokio::task::spawn_blocking(move || run_loop(consumer, pipeline, &loop_config, &loop_shutdown));
    let joined = tokio::select! {
        joined = &mut consume => joined,
        () = shutdown.cancelled() => match tokio::time::timeout(config.shutdown_timeout, &mut consume).await {
            Ok(joined) => joined,
            Err(_) => anyhow::bail!("shutdown did not finish within {:?}; unpublished rows will be consumed again", config.shutdown_timeout),
        },
    };
    joined.context("the consume loop panicked")??;
    tracing::info!("ingest stopped cleanly");
    Ok(ExitCode::SUCCESS)
}

/// Creates the topics of `failscope topics create` that are missing (the source topics with
/// `n_partitions`, their dead-letter topics, the region health topic), retrying while the
/// broker is unreachable. Returns false if `shutdown` fired first.
async fn ensure_topics(config: &IngestConfig, n_partitions: i32, shutdown: &CancellationToken) -> bool {
    let plan = TopicSpec::plan(&config.topics, n_partitions, 1, None);
    let mut backoff = Duration::from_millis(500);
    loop {
        let created = create_topic_specs(&config.brokers, &plan);
        let created = tokio::select! {
            () = shutdown.cancelled() => return false,
            created = created => created,
        };
        match created {
            Ok(_) => return true,
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), brokers = config.brokers, "cannot reach Kafka; retrying")
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return false,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        ingest: IngestArgs,
    }

    fn config_error(args: &[&str]) -> String {
        let cli = Cli::try_parse_from(std::iter::once("ingest").chain(args.iter().copied())).expect("flags parse");
        cli.ingest.config().expect_err("must be refused").to_string()
    }

    #[test]
    fn budgets_that_cannot_be_kept_are_refused() {
        assert!(config_error(&["--memory-budget", "67108864"]).contains("at least 128 MiB"));
        assert!(
            config_error(&["--memory-budget", "268435456", "--max-bytes", "268435456"]).contains("twice --max-bytes")
        );
        let cli =
            Cli::try_parse_from(["ingest", "--memory-budget", "134217728", "--max-bytes", "67108864"]).expect("parse");
        assert!(cli.ingest.config().is_ok());
    }
}
