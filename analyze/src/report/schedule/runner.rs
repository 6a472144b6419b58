//! Running the schedules: each one a task that sleeps until its next cron time, builds the
//! report of the period ending then, writes every format atomically, and announces it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use failscope_schemas::Timestamp;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info};

use super::config::Schedule;
use super::webhook::{RetryPolicy, WebhookMessage, deliver};
use crate::analyzer::Analyzer;
use crate::report::words::time;
use crate::report::{Report, build, render, write_atomically};

/// What "now" is for the schedules: the system clock, or an instant that advances with
/// tokio's clock (so a test with paused time can reach a cron time at once).
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Anchored { at: Timestamp, instant: tokio::time::Instant },
}

impl Clock {
    /// A clock that reads `at` now and advances with tokio's time.
    pub fn starting_at(at: Timestamp) -> Clock {
        Clock::Anchored { at, instant: tokio::time::Instant::now() }
    }

    fn now(self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Anchored { at, instant } => {
                at.add_millis(i64::try_from(instant.elapsed().as_millis()).unwrap_or(i64::MAX / 2))
            }
        }
    }
}

/// Starts one task per schedule; they stop when `shutdown` fires (wait on the tracker).
pub fn spawn_schedules(
    analyzer: Arc<Analyzer>,
    schedules: Vec<Schedule>,
    clock: Clock,
    policy: RetryPolicy,
    shutdown: CancellationToken,
) -> TaskTracker {
    let tracker = TaskTracker::new();
    for schedule in schedules {
        info!(schedule = %schedule.name, cron = %schedule.cron.pattern.to_string(), "report schedule");
        tracker.spawn(run_schedule(Arc::clone(&analyzer), schedule, clock, policy, shutdown.clone()));
    }
    tracker.close();
    tracker
}

async fn run_schedule(
    analyzer: Arc<Analyzer>,
    schedule: Schedule,
    clock: Clock,
    policy: RetryPolicy,
    shutdown: CancellationToken,
) {
    loop {
        let now = clock.now();
        let next = match schedule.cron.find_next_occurrence(&now.to_datetime(), false) {
            Ok(next) => next,
            Err(e) => {
                error!(schedule = %schedule.name, error = %e, "the cron expression has no next time; the schedule stops");
                return;
            }
        };
        let until = Timestamp::from_millis(next.timestamp_millis());
        let wait = Duration::from_millis(u64::try_from(until.as_millis() - now.as_millis()).unwrap_or(0));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => return,
        }
        let since = until.add_millis(-i64::try_from(schedule.period.as_millis()).unwrap_or(i64::MAX / 2));
        let made = tokio::select! {
            made = make(&analyzer, &schedule, since, until, clock.now()) => made,
            () = shutdown.cancelled() => return,
        };
        let (report, files) = match made {
            Ok(made) => made,
            Err(e) => {
                error!(schedule = %schedule.name, error = format!("{e:#}"), "scheduled report failed; next time it runs again");
                continue;
            }
        };
        info!(schedule = %schedule.name, %since, %until, files = ?files, "scheduled report written");
        if let Some(url) = &schedule.webhook {
            let message = message(&schedule, &report, &files);
            deliver(url, &message, policy, &shutdown).await;
        }
    }
}

/// Builds the report and writes each format; returns the paths written.
async fn make(
    analyzer: &Analyzer,
    schedule: &Schedule,
    since: Timestamp,
    until: Timestamp,
    now: Timestamp,
) -> anyhow::Result<(Report, Vec<PathBuf>)> {
    let report = build(analyzer, since, until, now).await?;
    std::fs::create_dir_all(&schedule.output_dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", schedule.output_dir.display()))?;
    let stamp = until.to_datetime().format("%Y%m%dT%H%MZ");
    let mut files = Vec::new();
    for format in &schedule.formats {
        let path = schedule.output_dir.join(format!("{}-{stamp}.{}", schedule.name, format.extension()));
        write_atomically(&path, render(&report, *format).as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        files.push(path);
    }
    Ok((report, files))
}

fn message(schedule: &Schedule, report: &Report, files: &[PathBuf]) -> WebhookMessage {
    let locate = |path: &PathBuf| match &schedule.link_base {
        Some(base) => format!(
            "{}/{}",
            base.trim_end_matches('/'),
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        ),
        None => path.display().to_string(),
    };
    let files: Vec<String> = files.iter().map(locate).collect();
    let report_at = files.first().cloned().unwrap_or_default();
    let incidents: Vec<String> = report
        .incidents
        .iter()
        .take(3)
        .map(|i| {
            format!(
                "{} {}{} from {}",
                i.name,
                i.status.as_str(),
                i.kind.map_or(String::new(), |k| format!(" ({})", k.as_str())),
                time(i.start)
            )
        })
        .collect();
    let more = report.incidents.len().saturating_sub(incidents.len());
    let text = format!(
        "failscope {} report, {} to {} UTC: {} incident{}{}{}; {} jobs failed by infrastructure, {} job-minutes lost. Full report: {report_at}",
        schedule.name,
        time(report.since),
        time(report.until),
        report.incidents.len(),
        if report.incidents.len() == 1 { "" } else { "s" },
        if incidents.is_empty() { String::new() } else { format!(" ({})", incidents.join("; ")) },
        if more > 0 { format!(" and {more} more") } else { String::new() },
        report.summary.n_infra,
        report.summary.infra_job_minutes
    );
    WebhookMessage {
        text,
        schedule: schedule.name.clone(),
        since: report.since.to_string(),
        until: report.until.to_string(),
        report: report_at,
        files,
    }
}
