//! `failscope demo`: the April 2022 diagnosis with one command and nothing to install. It
//! hosts an embedded Kafka-protocol broker (or uses `--brokers`), simulates the scenario,
//! ingests it into a lake, classifies the failed jobs, replays the region-health detector,
//! prints the timeline and the diagnosis, writes the HTML anomaly report, and serves the HTTP
//! API and the report over the lake until Ctrl-C (`--once` exits when done).

mod summary;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::response::Html;
use failscope_analyze::Analyzer;
use failscope_analyze::health::{DetectorConfig, PublishedHealth, decision_tag, replay};
use failscope_analyze::http::{ApiConfig, ApiState, router};
use failscope_analyze::report::{build_from_replay, html, write_atomically};
use failscope_emit::simulate::SCENARIO_NAMES;
use failscope_schemas::Timestamp;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::scenario_run::{ScenarioRun, catalog, run_scenario};

/// Try failscope: replay an incident through the whole pipeline and see the diagnosis.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// The scenario to replay.
    #[arg(long, env = "FAILSCOPE_DEMO_SCENARIO", default_value = "april-2022",
          value_parser = clap::builder::PossibleValuesParser::new(SCENARIO_NAMES))]
    pub(crate) scenario: String,
    /// Seed of the simulation.
    #[arg(long, env = "FAILSCOPE_DEMO_SEED", default_value_t = 1)]
    pub(crate) seed: u64,
    /// Kafka bootstrap servers to run through; an embedded in-memory broker when absent (it
    /// keeps nothing after exit: for trying failscope out, not for production).
    #[arg(long, env = "FAILSCOPE_DEMO_BROKERS")]
    pub(crate) brokers: Option<String>,
    /// Where to write the lake; it is emptied first, and kept afterwards for `failscope sql`.
    #[arg(long, env = "FAILSCOPE_DEMO_LAKE", default_value = ".failscope/demo/lake")]
    pub(crate) lake: PathBuf,
    /// Address of the HTTP API served over the lake once the demo is done.
    #[arg(long, env = "FAILSCOPE_DEMO_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: std::net::SocketAddr,
    /// Where to write the HTML anomaly report of the scenario (served at /report.html too).
    #[arg(long, env = "FAILSCOPE_DEMO_REPORT", default_value = ".failscope/demo/report.html")]
    pub(crate) report: PathBuf,
    /// Exit when the diagnosis is printed instead of serving the API.
    #[arg(long, env = "FAILSCOPE_DEMO_ONCE", default_value_t = false)]
    pub(crate) once: bool,
}

/// Runs `failscope demo`.
pub async fn run_demo(
    args: DemoArgs,
    progress: MultiProgress,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let lake = absolute(&args.lake)?;
    clear_lake(&lake)?;
    let broker = if args.brokers.is_some() { "Kafka" } else { "the embedded broker" };
    eprintln!("failscope demo: {} through {broker}, the ingest and a lake at {}", args.scenario, lake.display());
    let run = ScenarioRun {
        scenario: args.scenario.clone(),
        seed: args.seed,
        brokers: args.brokers.clone(),
        lake: lake.clone(),
        speed: 0.0,
    };
    let bar = progress.add(ProgressBar::new(0));
    bar.set_style(
        ProgressStyle::with_template("  {spinner} {msg:<28} [{bar:30}] {pos}/{len} events ({elapsed})")
            .map_err(|e| anyhow::anyhow!("progress template: {e}"))?
            .progress_chars("=> "),
    );
    bar.set_message("simulate, produce, ingest");
    bar.enable_steady_tick(Duration::from_millis(120));
    let outcome = tokio::select! {
        outcome = run_scenario(&run, Some(&bar), &shutdown) => outcome?,
        () = shutdown.cancelled() => return interrupted(&bar),
    };
    bar.finish_and_clear();
    eprintln!(
        "  ✓ {} events ({} jobs) simulated, produced and ingested in {:.1} s",
        outcome.n_events,
        outcome.truth.jobs.len(),
        outcome.elapsed.as_secs_f64()
    );

    let spinner = progress.add(ProgressBar::new_spinner());
    spinner.set_message("classifying failed jobs and replaying the detector");
    spinner.enable_steady_tick(Duration::from_millis(120));
    let analyzer = Arc::new(Analyzer::open(&catalog(&lake)).await.context("cannot open the lake")?);
    let truth = &outcome.truth;
    let analysed = async {
        let replayed = replay(&analyzer, truth.starts_at, truth.ends_at, DetectorConfig::default()).await?;
        let tables = summary::tables(&analyzer, truth).await?;
        let report = build_from_replay(&analyzer, &replayed, truth.starts_at, truth.ends_at, Timestamp::now()).await?;
        anyhow::Ok((replayed, tables, html(&report)))
    };
    let (replayed, tables, report) = tokio::select! {
        analysed = analysed => analysed.context("the analysis failed")?,
        () = shutdown.cancelled() => return interrupted(&spinner),
    };
    spinner.finish_and_clear();
    eprintln!("  ✓ classified and diagnosed; {:.1} s in all", started.elapsed().as_secs_f64());

    let mut stdout = std::io::stdout().lock();
    summary::write(&mut stdout, truth, &replayed.changes, &tables)?;
    drop(stdout);
    let report_path = absolute(&args.report)?;
    if let Some(dir) = report_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_atomically(&report_path, report.as_bytes())
        .with_context(|| format!("cannot write the report {}", report_path.display()))?;
    println!("\nThe anomaly report, with its charts: {}", report_path.display());
    if args.once {
        return Ok(ExitCode::SUCCESS);
    }
    serve(analyzer, replayed.snapshot, report, &args, shutdown).await
}

/// Serves the API over the demo's lake, with the feed frozen at the end of the scenario.
async fn serve(
    analyzer: Arc<Analyzer>,
    snapshot: failscope_analyze::health::HealthSnapshot,
    report: String,
    args: &DemoArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let body = bytes::Bytes::from(serde_json::to_vec(&snapshot)?);
    let etag = decision_tag(&snapshot);
    let published = PublishedHealth { snapshot: Arc::new(snapshot), body, etag };
    let (_keep, feed) = tokio::sync::watch::channel(Some(published));
    let config = ApiConfig {
        token: None,
        statement_timeout: Duration::from_secs(30),
        row_cap: 100_000,
        max_result_bytes: 64 << 20,
        max_concurrent_statements: 4,
        queue_timeout: Duration::from_secs(10),
    };
    let state = ApiState::new(analyzer, config).with_health(feed);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (choose another with --listen)", args.listen))?;
    let base = format!("http://{}", listener.local_addr()?);
    println!("\nServing the lake until Ctrl-C (no token: loopback only):");
    println!("  {base}/ (the web console, in a browser)");
    println!("  {base}/report.html (the anomaly report, in a browser)");
    println!("  curl {base}/v1/regions/health");
    println!(
        "  curl -H 'content-type: application/json' -d '{{\"sql\": \"SELECT * FROM failures_by_region_hour LIMIT 5\"}}' {base}/v1/sql"
    );
    println!("  failscope sql --lake {}", args.lake.display());
    // The report is the demo's own page, beside the API's routes.
    let page = axum::Router::new().route("/report.html", axum::routing::get(move || async move { Html(report) }));
    axum::serve(listener, router(state).merge(page)).with_graceful_shutdown(shutdown.cancelled_owned()).await?;
    Ok(ExitCode::SUCCESS)
}

fn interrupted(bar: &ProgressBar) -> anyhow::Result<ExitCode> {
    bar.abandon_with_message("interrupted");
    Ok(ExitCode::from(130))
}

fn absolute(path: &std::path::Path) -> anyhow::Result<PathBuf> {
    Ok(if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir()?.join(path) })
}

/// Empties the demo's lake, refusing a directory that holds anything but a lake.
fn clear_lake(lake: &std::path::Path) -> anyhow::Result<()> {
    if !lake.exists() {
        return Ok(());
    }
    let foreign = std::fs::read_dir(lake)
        .with_context(|| format!("cannot read {}", lake.display()))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|name| !matches!(name.as_str(), "connect_attempts" | "job_outcomes" | "_staging" | "_owners"));
    if let Some(name) = foreign {
        anyhow::bail!("{} holds {name:?}, which is not part of a lake; choose another --lake", lake.display());
    }
    std::fs::remove_dir_all(lake).with_context(|| format!("cannot clear {}", lake.display()))
}

/// Progress bars draw on standard error when it is a terminal, and nowhere otherwise.
pub fn progress() -> MultiProgress {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        MultiProgress::new()
    } else {
        MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
    }
}

/// Log lines on standard error that clear the progress bars while they are written and draw
/// them again after, so that logs never break the bars.
#[derive(Debug, Clone)]
pub struct LogWriter(pub MultiProgress);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.suspend(|| std::io::stderr().write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
