//! The `failscope` binary: parses flags, sets up logging and signals, and hands over to the
//! library entry point of the chosen subcommand.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// CI failure telemetry: worker events in Kafka, a Parquet lake, and a diagnosis of failures
/// as infrastructure or user errors, by region and time.
#[derive(Debug, Parser)]
#[command(name = "failscope", version, long_version = failscope_analyze::LONG_VERSION, propagate_version = true)]
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
    /// Set up Kafka: the event topics, their dead-letter topics and the region health topic.
    #[command(subcommand)]
    Topics(failscope_kafka::TopicsCommand),
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
    /// Region health: the state of every region at an instant, or the state changes of a period.
    Health(failscope_analyze::cli::HealthArgs),
    /// The anomaly report of a past period: incidents, flagged targets, charts (md, html, json).
    Report(failscope_analyze::cli::ReportArgs),
    /// Replay the April 2022 incident (or another scenario) through the whole pipeline on an
    /// embedded broker, print the diagnosis and serve the API over the lake.
    Demo(failscope::demo::DemoArgs),
    /// Run simulated scenarios through the pipeline and score the analysis against their truth.
    Eval(failscope::eval::EvalArgs),
    /// Serve the SQL and named-query HTTP API over the lake.
    Serve(failscope_analyze::cli::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo and the evaluation run the ingest in-process: its per-flush lines would bury
    // what they print, so they log warnings only unless RUST_LOG says otherwise.
    let quiet = matches!(cli.command, Command::Demo(_) | Command::Eval(_));
    let progress = failscope::demo::progress();
    init_tracing(cli.log_format, if quiet { "warn" } else { "info,rdkafka=warn" }, progress.clone());
    if matches!(cli.command, Command::Ingest(_)) {
        map_large_allocations_apart();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = CancellationToken::new();
    {
        // Installed before the command starts, so that no signal finds the default action.
        let _entered = runtime.enter();
        runtime.spawn(cancel_on_signal(signals(), shutdown.clone()));
    }
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Topics(command) => failscope_kafka::run_topics(command, shutdown).await,
            Command::Emit(args) => failscope_emit::cli::run_emit(args, shutdown).await,
            Command::Ingest(args) => failscope_ingest::cli::run_ingest(args, shutdown).await,
            // The job wrapper handles signals itself: it forwards them to the job and still
            // emits the job's outcome.
            Command::Run(args) => failscope_emit::run_job(args).await,
            Command::Probe(args) => failscope_emit::run_probe(args, shutdown).await,
            Command::Simulate(args) => failscope_emit::run_simulate(args, shutdown).await,
            Command::Sql(args) => failscope_analyze::cli::run_sql(args, shutdown).await,
            Command::Query(args) => failscope_analyze::cli::run_query(args, shutdown).await,
            Command::Health(args) => failscope_analyze::cli::run_health(args, shutdown).await,
            Command::Report(args) => failscope_analyze::cli::run_report(args, shutdown).await,
            Command::Demo(args) => failscope::demo::run_demo(args, progress, shutdown).await,
            Command::Eval(args) => failscope::eval::run_eval(args, shutdown).await,
            Command::Serve(args) => failscope_analyze::cli::run_serve(args, shutdown).await,
        }
    });
    // A command stopped by a signal may leave a blocking task behind (a read of standard
    // input never returns); do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: LogFormat, default_filter: &str, progress: indicatif::MultiProgress) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // Colour only on a terminal: a log piped to a file or a test must be plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(failscope::demo::LogWriter(progress))
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// SIGINT and SIGTERM handlers, installed at once (inside the runtime's context).
#[cfg(unix)]
type Signals = Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>;

#[cfg(unix)]
fn signals() -> Signals {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
        (Ok(interrupt), Ok(terminate)) => Some((interrupt, terminate)),
        _ => None,
    }
}

#[cfg(not(unix))]
type Signals = ();

#[cfg(not(unix))]
fn signals() -> Signals {}

/// Cancels `shutdown` on the first SIGINT or SIGTERM.
async fn cancel_on_signal(signals: Signals, shutdown: CancellationToken) {
    #[cfg(unix)]
    match signals {
        Some((mut interrupt, mut terminate)) => {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
        None => {
            tracing::warn!("cannot install signal handlers; only Ctrl-C will stop the process");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    #[cfg(not(unix))]
    let () = signals;
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutdown requested");
    shutdown.cancel();
}

/// The ingest's Arrow builders grow by doubling and are dropped after every flush. glibc's
/// dynamic mmap threshold would soon serve such blocks from the heap and keep them resident
/// once freed; a fixed 128 KiB threshold maps each large block on its own, so it goes back to
/// the OS when freed. Measured with `benches/ingest_drain.rs` (d), 128 MiB budget: peak
/// resident memory 1.28 x the budget with it, 1.62 x without.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn map_large_allocations_apart() {
    // SAFETY: mallopt only tunes the allocator; it runs before the process starts any thread.
    let applied = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
    if applied != 1 {
        tracing::warn!("could not set the allocator's mmap threshold; resident memory may exceed the budget");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn map_large_allocations_apart() {}
