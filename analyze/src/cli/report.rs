//! `failscope report`: the anomaly report of a past period, in Markdown, HTML or JSON, on
//! standard output or written atomically to a file.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use failscope_schemas::Timestamp;
use tokio_util::sync::CancellationToken;

use super::{ReportArgs, parse_instant};
use crate::Analyzer;
use crate::report::{build, render, write_atomically};

/// Exit status of a command stopped by SIGINT or SIGTERM, as a shell reports it.
const INTERRUPTED: u8 = 130;

/// Runs `failscope report`; stops with status 130 when `shutdown` is cancelled.
pub async fn run_report(args: ReportArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    let now = Timestamp::now();
    let since = parse_instant(&args.since, now).map_err(anyhow::Error::msg).context("invalid --since")?;
    let until = parse_instant(&args.until, now).map_err(anyhow::Error::msg).context("invalid --until")?;
    anyhow::ensure!(since < until, "--since ({since}) must be before --until ({until})");
    let work = async {
        let analyzer = Analyzer::open(&args.lake.catalog_config()?).await.context("cannot open the lake")?;
        build(&analyzer, since, until, now).await.context("cannot build the report")
    };
    let report = tokio::select! {
        report = work => report?,
        () = shutdown.cancelled() => {
            eprintln!("interrupted");
            return Ok(ExitCode::from(INTERRUPTED));
        }
    };
    let text = render(&report, args.format);
    match &args.out {
        Some(path) => {
            write_atomically(path, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
            tracing::info!(path = %path.display(), n_incidents = report.incidents.len(), "report written");
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
