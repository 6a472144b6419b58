//! The `failscope` binary: parses flags, sets up logging and signals, and hands over to the
//! library entry point of the chosen subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// CI failure telemetry: worker events in Kafka, a Parquet lake, and a diagnosis of failures
/// as infrastructure or user errors, by region and time.
#[derive(Debug, Parser)]
#[command(name = "failscope", version, propagate_version = true)]
struct Cli {
    /// Log format on standard error.
    #[arg(long, global = true, env = "FAILSCOPE_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate JSON-lines events and produce them to Kafka, one topic per event type.
    Emit(failscope_emit::cli::EmitArgs),
    /// Consume events from Kafka into the Parquet lake, effectively once.
    Ingest(failscope_ingest::cli::IngestArgs),
    /// Run a CI job, passing its output through, and emit its job_outcome.
    Run(failscope_emit::RunArgs),
    /// Probe targets' TCP/TLS connectivity periodically and emit connect_attempt events.
    Probe(failscope_emit::ProbeArgs),
    /// Simulate a CI fleet and its incidents, with ground truth, deterministically.
    Simulate(failscope_emit::SimulateArgs),
    /// Run SQL over the lake: an interactive shell, `-c "..."` or `-f file.sql`.
    Sql(failscope_analyze::cli::SqlArgs),
    /// Run a named query from `queries/` (`--list` describes them).
    Query(failscope_analyze::cli::QueryArgs),
    /// Serve the SQL and named-query HTTP API over the lake.
    Serve(failscope_analyze::cli::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = CancellationToken::new();
    runtime.spawn(cancel_on_signal(shutdown.clone()));
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Emit(args) => failscope_emit::cli::run_emit(args).await,
            Command::Ingest(args) => failscope_ingest::cli::run_ingest(args, shutdown).await,
            Command::Run(args) => failscope_emit::run_job(args).await,
            Command::Probe(args) => failscope_emit::run_probe(args, shutdown).await,
            Command::Simulate(args) => failscope_emit::run_simulate(args).await,
            Command::Sql(args) => failscope_analyze::cli::run_sql(args).await,
            Command::Query(args) => failscope_analyze::cli::run_query(args).await,
            Command::Serve(args) => failscope_analyze::cli::run_serve(args, shutdown).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,rdkafka=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Cancels `shutdown` on the first SIGINT or SIGTERM.
async fn cancel_on_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            _ => {
                tracing::warn!("cannot install signal handlers; only Ctrl-C will stop the process");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutdown requested");
    shutdown.cancel();
}
