//! Turns captured connects into `connect_attempt` events and emits them through the spool while
//! the job runs, so a wrapper killed mid-job has already made the earlier ones durable.

use std::borrow::Cow;

use failscope_schemas::{
    CURRENT_SCHEMA_VERSION, ConnectAttempt, ConnectOutcome, Event, EventType, TargetOwner, Timestamp,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::JobContext;
use super::record::CapturedConnect;
use super::services::{ServiceMap, ServiceMatch};
use crate::{Delivery, Emitter};

/// How many captured events may be waiting for the spool and the broker at once.
const MAX_IN_FLIGHT: usize = 64;

/// What became of the captured connects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CaptureReport {
    pub(crate) n_captured: u64,
    pub(crate) n_delivered: u64,
    pub(crate) n_spooled: u64,
    /// Events neither delivered nor spooled (the spool failed); logged.
    pub(crate) n_failed: u64,
    /// Records the job's processes could not send because the wrapper was behind (preload).
    pub(crate) n_dropped: u64,
}

/// The task emitting captured connects, and the way to end it.
#[derive(Debug)]
pub(crate) struct CaptureEmitter {
    task: tokio::task::JoinHandle<CaptureReport>,
    finish: oneshot::Sender<Vec<CapturedConnect>>,
}

impl CaptureEmitter {
    /// Starts the task; backends send what they capture to the returned sender.
    pub(crate) fn spawn(
        emitter: Emitter,
        services: ServiceMap,
        job: JobContext,
    ) -> (mpsc::UnboundedSender<CapturedConnect>, CaptureEmitter) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let (finish, finished) = oneshot::channel();
        let task = tokio::spawn(emit_captured(emitter, services, job, receiver, finished));
        (sender, CaptureEmitter { task, finish })
    }

    /// Emits `last` (the connects the backend ended) after everything already captured, and
    /// waits for every event to be delivered or spooled.
    pub(crate) async fn finish(self, last: Vec<CapturedConnect>) -> CaptureReport {
        let _ = self.finish.send(last);
        match self.task.await {
            Ok(report) => report,
            Err(e) => {
                tracing::warn!(error = %e, "the capture emitter failed");
                CaptureReport::default()
            }
        }
    }
}

async fn emit_captured(
    emitter: Emitter,
    services: ServiceMap,
    job: JobContext,
    mut receiver: mpsc::UnboundedReceiver<CapturedConnect>,
    mut finished: oneshot::Receiver<Vec<CapturedConnect>>,
) -> CaptureReport {
    let mut report = CaptureReport::default();
    let mut in_flight = JoinSet::new();
    let emit_one = |record: CapturedConnect, in_flight: &mut JoinSet<_>, report: &mut CaptureReport| {
        report.n_captured += 1;
        let event = connect_attempt(&emitter, &services, &job, &record);
        let emitter = emitter.clone();
        in_flight.spawn(async move { emitter.emit(&Event::ConnectAttempt(event)).await });
    };
    let last = loop {
        tokio::select! {
            record = receiver.recv() => match record {
                Some(record) => emit_one(record, &mut in_flight, &mut report),
                None => break (&mut finished).await.unwrap_or_default(),
            },
            last = &mut finished => break last.unwrap_or_default(),
        }
        while in_flight.len() >= MAX_IN_FLIGHT {
            tally(in_flight.join_next().await, &mut report);
        }
    };
    while let Ok(record) = receiver.try_recv() {
        emit_one(record, &mut in_flight, &mut report);
    }
    for record in last {
        emit_one(record, &mut in_flight, &mut report);
    }
    while let Some(result) = in_flight.join_next().await {
        tally(Some(result), &mut report);
    }
    report
}

fn tally(
    result: Option<Result<Result<Delivery, crate::EmitError>, tokio::task::JoinError>>,
    report: &mut CaptureReport,
) {
    match result {
        Some(Ok(Ok(Delivery::Delivered))) => report.n_delivered += 1,
        Some(Ok(Ok(Delivery::Spooled))) => report.n_spooled += 1,
        // Neither spooled nor delivered: the emitter counts it in its loss marker.
        Some(Ok(Ok(Delivery::Lost))) => report.n_failed += 1,
        Some(Ok(Err(e))) => {
            report.n_failed += 1;
            tracing::warn!(error = %format!("{:#}", anyhow::Error::from(e)), "cannot emit a captured connect");
        }
        Some(Err(e)) => {
            report.n_failed += 1;
            tracing::warn!(error = %e, "a captured connect's emit failed");
        }
        None => {}
    }
}

/// The event describing one captured connect of the job.
fn connect_attempt(
    emitter: &Emitter,
    services: &ServiceMap,
    job: &JobContext,
    record: &CapturedConnect,
) -> ConnectAttempt<'static> {
    let identity = emitter.identity();
    let mut target = services.lookup(record.host.as_deref(), record.addr, record.port);
    if record.outcome == ConnectOutcome::DnsError && target.owner == TargetOwner::ThirdParty {
        // The worker's resolver is configured by the platform, not chosen by the job.
        target = ServiceMatch { service: "dns".into(), owner: TargetOwner::Platform };
    }
    let addr_text = record.addr.map(|a| a.to_string());
    let target_host = record.host.clone().or_else(|| addr_text.clone()).unwrap_or_else(|| "unknown".into());
    ConnectAttempt {
        event_type: EventType::ConnectAttempt,
        schema_version: CURRENT_SCHEMA_VERSION,
        event_id: Cow::Owned(uuid::Uuid::now_v7().to_string()),
        worker_id: Cow::Owned(identity.worker_id.clone()),
        region: Cow::Owned(identity.region.clone()),
        provider: Cow::Owned(identity.provider.clone()),
        zone: identity.zone.clone().map(Cow::Owned),
        started_at: Timestamp::from_millis(record.started_at_us.div_euclid(1000)),
        duration_ms: record.duration_us as f64 / 1000.0,
        target_service: Cow::Owned(target.service),
        target_host: Cow::Owned(target_host),
        // A name that did not resolve may have been asked without a port: the attempt that
        // failed was the one to the name service.
        target_port: if record.port == 0 { 53 } else { record.port },
        target_addr: addr_text.map(Cow::Owned),
        target_region: None,
        target_owner: Some(target.owner),
        job_id: Some(Cow::Owned(job.job_id.clone())),
        phase: record.phase.clone().or_else(|| job.phase.clone()).map(Cow::Owned),
        outcome: record.outcome,
        errno: record.errno,
        attempt: 1,
        error: record.note.map(Cow::Borrowed),
    }
}
