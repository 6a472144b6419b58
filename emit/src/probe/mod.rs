//! `failscope probe --config probe.toml`: a daemon that connects to each configured target
//! every interval and emits one `connect_attempt` per attempt, through the spool.
//!
//! Every attempt ends in an event: at its deadline as `timeout`, on shutdown as `abandoned`;
//! a hung `connect()` is never silently dropped.

mod attempt;
mod config;
mod tls;

use std::borrow::Cow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use failscope_schemas::{CURRENT_SCHEMA_VERSION, ConnectAttempt, Event, EventType};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub(crate) use attempt::outcome_of_io_error;
// `AttemptResult` and `TlsSetupError` are named by public signatures, so nameable too.
pub use attempt::{AttemptResult, attempt_connect};
pub(crate) use config::ProbeConfig;
pub use config::ProbeTarget;
pub use tls::{TlsClient, TlsSetupError};

use crate::{Emitter, EmitterArgs, WorkerIdentity};

/// How long spooled events may take to go out once the prober stopped.
const FINAL_DELIVERY: Duration = Duration::from_secs(5);

/// Probe configured targets and emit one `connect_attempt` per attempt.
#[derive(Debug, Clone, clap::Args)]
pub struct ProbeArgs {
    /// TOML file with `interval`, `connect_timeout` and `[[target]]` entries.
    #[arg(long, env = "FAILSCOPE_PROBE_CONFIG", default_value = "/etc/failscope/probe.toml")]
    pub(crate) config: PathBuf,
    #[command(flatten)]
    pub(crate) emitter: EmitterArgs,
}

/// Runs the prober until `shutdown` is cancelled; attempts in flight then end as `abandoned`.
pub async fn run_probe(args: ProbeArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    let config = ProbeConfig::load(&args.config)?;
    let identity = args.emitter.identity.resolve()?;
    let emitter = Emitter::open(args.emitter.config(identity)).context("cannot open the emitter")?;
    let tls = TlsClient::with_system_roots()?;
    tracing::info!(n_targets = config.targets.len(), interval = ?config.interval, "probing");
    probe_until_shutdown(&config, &emitter, &tls, &shutdown).await;
    let remaining = tokio::time::timeout(FINAL_DELIVERY, emitter.redeliver()).await;
    if let Ok(Ok(n_spooled)) = remaining
        && n_spooled > 0
    {
        tracing::warn!(n_spooled, "events stay spooled for the next start");
    }
    Ok(ExitCode::SUCCESS)
}

/// The probing loop: a round of attempts each interval, each attempt its own task, and the
/// spool drained in the background.
pub(crate) async fn probe_until_shutdown(
    config: &ProbeConfig,
    emitter: &Emitter,
    tls: &TlsClient,
    shutdown: &CancellationToken,
) {
    let tracker = TaskTracker::new();
    let mut ticks = tokio::time::interval(config.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let targets: Vec<Arc<ProbeTarget>> = config.targets.iter().cloned().map(Arc::new).collect();
    let mut redelivery: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        for target in &targets {
            let (target, emitter, tls, shutdown) = (target.clone(), emitter.clone(), tls.clone(), shutdown.clone());
            let timeout = config.connect_timeout;
            tracker.spawn(async move {
                let result = attempt_connect(&target, timeout, &tls, &shutdown).await;
                let event = connect_attempt_event(emitter.identity(), &target, &result);
                if let Err(e) = emitter.emit(&Event::ConnectAttempt(event)).await {
                    tracing::warn!(error = %format!("{:#}", anyhow::Error::from(e)), "cannot emit a connect attempt");
                }
            });
        }
        if redelivery.as_ref().is_none_or(tokio::task::JoinHandle::is_finished) {
            let emitter = emitter.clone();
            redelivery = Some(tracker.spawn(async move {
                if let Err(e) = emitter.redeliver().await {
                    tracing::warn!(error = %format!("{:#}", anyhow::Error::from(e)), "redelivery failed");
                }
            }));
        }
    }
    tracker.close();
    tracker.wait().await;
}

/// The `connect_attempt` event of one probe attempt.
pub(crate) fn connect_attempt_event(
    identity: &WorkerIdentity,
    target: &ProbeTarget,
    result: &AttemptResult,
) -> ConnectAttempt<'static> {
    ConnectAttempt {
        event_type: EventType::ConnectAttempt,
        schema_version: CURRENT_SCHEMA_VERSION,
        event_id: Cow::Owned(uuid::Uuid::now_v7().to_string()),
        worker_id: Cow::Owned(identity.worker_id.clone()),
        region: Cow::Owned(identity.region.clone()),
        provider: Cow::Owned(identity.provider.clone()),
        zone: identity.zone.clone().map(Cow::Owned),
        started_at: result.started_at,
        duration_ms: result.duration.as_secs_f64() * 1000.0,
        target_service: Cow::Owned(target.service.clone()),
        target_host: Cow::Owned(target.host.clone()),
        target_port: target.port,
        target_addr: result.target_addr.map(|a| Cow::Owned(a.ip().to_string())),
        target_region: target.target_region.clone().map(Cow::Owned),
        target_owner: Some(failscope_schemas::TargetOwner::Platform),
        job_id: None,
        phase: Some(Cow::Borrowed("probe")),
        outcome: result.outcome,
        errno: result.errno,
        attempt: 1,
        error: result.error.clone().map(Cow::Owned),
    }
}
