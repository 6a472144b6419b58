//! `failscope run -- CMD ARGS…`: runs a CI job and reports its `job_outcome`. The job's
//! exit status is the wrapper's; telemetry trouble (no broker, no identity, a full disk)
//! is logged and never changes it. With `--capture-connects` (`capture/`), every TCP connect of
//! the job is emitted as a `connect_attempt` too.

pub(crate) mod capture;
mod child;
mod log_tail;
mod outcome;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use failscope_schemas::{Event, JobOutcome, Timestamp};

pub use outcome::OOM_REASON;

use crate::{Delivery, Emitter, EmitterArgs, WorkerIdentity};
use log_tail::LogTail;

/// Run a CI job, pass its output through, and emit its `job_outcome`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The job's id; a new UUID when absent.
    #[arg(long, env = "FAILSCOPE_JOB_ID")]
    pub(crate) job_id: Option<String>,
    /// The project the job belongs to.
    #[arg(long, env = "FAILSCOPE_PROJECT", default_value = "unknown")]
    pub(crate) project: String,
    /// The kind of job, e.g. `container_build`, `yocto_build`, `test`.
    #[arg(long, env = "FAILSCOPE_JOB_KIND", default_value = "job")]
    pub(crate) job_kind: String,
    /// 1-based number of this run of the job.
    #[arg(long, env = "FAILSCOPE_RUN_ATTEMPT")]
    pub(crate) run_attempt: Option<u32>,
    /// Most characters of the job's output to keep as its log tail (at most 16384).
    #[arg(long, env = "FAILSCOPE_LOG_TAIL_CHARS", default_value_t = 8192,
          value_parser = clap::value_parser!(u32).range(1..=16384))]
    pub(crate) log_tail_chars: u32,
    /// How long the wrapper may spend on telemetry after the job ended; what is not
    /// delivered by then stays in the spool for the next run.
    #[arg(long, env = "FAILSCOPE_TELEMETRY_TIMEOUT", default_value = "3s", value_parser = humantime::parse_duration)]
    pub telemetry_timeout: Duration,
    #[command(flatten)]
    pub emitter: EmitterArgs,
    #[command(flatten)]
    pub(crate) capture: capture::CaptureArgs,
    /// The job's command and its arguments, after `--`.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// What a wrapped job did and what became of its event.
#[derive(Debug)]
pub struct JobReport {
    /// The exit code the wrapper exits with.
    pub exit_code: u8,
    pub outcome: JobOutcome<'static>,
    /// `None` when telemetry was unavailable or timed out before the event was spooled.
    pub delivery: Option<Delivery>,
}

/// Runs `failscope run` and returns the job's exit code.
pub async fn run_job(args: RunArgs) -> anyhow::Result<ExitCode> {
    let report = run_wrapped(args).await?;
    Ok(ExitCode::from(report.exit_code))
}

/// Runs the job and emits its outcome; the part of [`run_job`] tests can inspect.
pub async fn run_wrapped(args: RunArgs) -> anyhow::Result<JobReport> {
    let started_at = Timestamp::now();
    let (identity, emitter) = open_emitter(&args.emitter);
    let redelivery = emitter.clone().map(|emitter| tokio::spawn(async move { emitter.redeliver().await }));
    let tail = Arc::new(Mutex::new(LogTail::new(64 * 1024)));
    let job_id = args.job_id.clone().unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let capture = capture::Capture::start(&args.capture, emitter.as_ref(), job_id.clone());
    let command = capture.as_ref().map_or_else(|| args.command.clone(), |c| c.wrap(&args.command));
    let env = capture.as_ref().map(capture::Capture::env).unwrap_or_default();
    let run = child::run_child(&command, &env, tail.clone()).await?;
    let job_end_us = micros_since_epoch(run.exited_at);
    let finished_at = Timestamp::now();
    let log_tail = tail.lock().unwrap_or_else(std::sync::PoisonError::into_inner).text(args.log_tail_chars as usize);
    let facts = outcome::JobFacts {
        job_id,
        project: args.project.clone(),
        job_kind: args.job_kind.clone(),
        run_attempt: args.run_attempt,
        started_at,
        finished_at,
        log_tail,
    };
    let outcome = outcome::job_outcome(&identity, facts, &run);
    let exit_code = outcome::exit_code(run.ending);
    let mut capture_report = None;
    let delivery = match emitter {
        Some(emitter) => {
            let event = Event::JobOutcome(outcome.clone());
            let sent = tokio::time::timeout(args.telemetry_timeout, async {
                // The outcome is spooled at once, while the capture ends its trace.
                let captured = async {
                    if let Some(capture) = capture {
                        capture_report = Some(capture.finish(job_end_us).await);
                    }
                };
                let (delivery, ()) = tokio::join!(emitter.emit(&event), captured);
                if let Some(redelivery) = redelivery {
                    let _ = redelivery.await;
                }
                delivery
            })
            .await;
            match sent {
                Ok(Ok(delivery)) => Some(delivery),
                Ok(Err(e)) => {
                    tracing::warn!(error = %format!("{e:#}"), "cannot emit the job outcome");
                    None
                }
                Err(_) => {
                    tracing::warn!(timeout = ?args.telemetry_timeout, "telemetry timed out; the outcome stays spooled");
                    Some(Delivery::Spooled)
                }
            }
        }
        None => None,
    };
    if let Some(report) = capture_report {
        tracing::debug!(?report, "captured connects");
    }
    Ok(JobReport { exit_code, outcome, delivery })
}

fn micros_since_epoch(at: std::time::SystemTime) -> i64 {
    let since_epoch = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX)
}

/// The identity and emitter, or a placeholder identity and no emitter when telemetry cannot
/// be set up: the job runs either way.
fn open_emitter(args: &EmitterArgs) -> (WorkerIdentity, Option<Emitter>) {
    let identity = match args.identity.resolve() {
        Ok(identity) => identity,
        Err(e) => {
            tracing::warn!(error = %e, "no worker identity; the job runs without telemetry");
            let unknown = WorkerIdentity {
                worker_id: "unknown".into(),
                region: "unknown".into(),
                provider: "unknown".into(),
                zone: None,
            };
            return (unknown, None);
        }
    };
    match Emitter::open(args.config(identity.clone())) {
        Ok(emitter) => (identity, Some(emitter)),
        Err(e) => {
            tracing::warn!(error = %format!("{:#}", anyhow::Error::from(e)), "telemetry unavailable; the job runs without it");
            (identity, None)
        }
    }
}
