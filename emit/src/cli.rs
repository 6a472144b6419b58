//! Flags and entry point of `failscope emit`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufRead, BufReader};
use tokio_util::sync::CancellationToken;

use failscope_kafka::{BrokersArgs, missing_topics};

use crate::{ProducerConfig, TopicsArgs, emit_lines, new_producer};

/// How long `emit` and `simulate`, which have no spool, wait for a message's acknowledgement.
pub(crate) const EMIT_DELIVERY_TIMEOUT: &str = "60s";

/// Validate JSON-lines events and produce them to Kafka.
#[derive(Debug, clap::Args)]
pub struct EmitArgs {
    /// File of JSON lines, one event each; standard input when absent or `-`.
    pub(crate) file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) brokers: BrokersArgs,
    #[command(flatten)]
    pub(crate) topics: TopicsArgs,
    /// Only validate; produce nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// How long to wait for a broker to answer before giving up.
    #[arg(long, env = "FAILSCOPE_CONNECT_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub(crate) connect_timeout: Duration,
    /// How long a message may wait for acknowledgement, retries included; a line not
    /// acknowledged by then is reported undelivered (`emit` has no spool to keep it in).
    #[arg(long, env = "FAILSCOPE_EMIT_DELIVERY_TIMEOUT", default_value = EMIT_DELIVERY_TIMEOUT, value_parser = humantime::parse_duration)]
    pub(crate) delivery_timeout: Duration,
}

/// Runs `failscope emit`. Invalid lines are listed on standard error as `line N: reason`;
/// the exit status is 1 if any line was invalid or undeliverable. When `shutdown` fires, it
/// stops at once with an error: lines produced so far may or may not have been delivered.
pub async fn run_emit(args: EmitArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    tokio::select! {
        result = emit(args) => result,
        () = shutdown.cancelled() => {
            anyhow::bail!("interrupted by a signal; lines produced so far may or may not have been delivered")
        }
    }
}

async fn emit(args: EmitArgs) -> anyhow::Result<ExitCode> {
    tracing::debug!(file = ?args.file, dry_run = args.dry_run, "reading events");
    let input: Box<dyn AsyncBufRead + Unpin + Send> = match &args.file {
        Some(path) if path.as_os_str() != "-" => Box::new(BufReader::new(
            tokio::fs::File::open(path).await.with_context(|| format!("cannot open {}", path.display()))?,
        )),
        _ => Box::new(BufReader::new(tokio::io::stdin())),
    };
    let producer = if args.dry_run {
        None
    } else {
        let (brokers, timeout, topics) = (args.brokers.brokers.clone(), args.connect_timeout, args.topics.topics());
        let missing = tokio::task::spawn_blocking(move || missing_topics(&brokers, &topics.sources(), timeout))
            .await
            .context("broker check panicked")??;
        if !missing.is_empty() {
            // Said once, before any line is read, instead of once per undeliverable event.
            anyhow::bail!(
                "topic {} does not exist on {}; create the topics first: failscope topics create --brokers {}",
                missing.join(" and "),
                args.brokers.brokers,
                args.brokers.brokers
            );
        }
        let config = ProducerConfig { brokers: args.brokers.brokers.clone(), delivery_timeout: args.delivery_timeout };
        Some(new_producer(&config)?)
    };
    let report = emit_lines(input, producer.as_ref(), &args.topics.topics()).await.context("cannot read input")?;
    for line in &report.invalid {
        eprintln!("line {}: {}", line.line_number, line.reason);
    }
    for line in &report.undelivered {
        eprintln!("line {}: not delivered: {}", line.line_number, line.reason);
    }
    let verb = if args.dry_run { "valid" } else { "delivered" };
    let n_ok = if args.dry_run { report.n_valid } else { report.n_delivered };
    eprintln!(
        "{n_ok} {verb}, {} invalid, {} undelivered, of {} lines",
        report.invalid.len(),
        report.undelivered.len(),
        report.n_lines
    );
    Ok(if report.is_success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
