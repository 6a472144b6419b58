//! The loss marker: the event that makes events dropped by a full spool visible downstream.
//!
//! The contract has no event type of its own for telemetry loss, so the marker is a
//! `job_outcome` of the reserved job kind [`LOSS_JOB_KIND`], status `errored`, with the
//! number of dropped events in the `n_dropped` label and in the log tail.
//! Analyses must leave this job kind out of job counts.

use std::borrow::Cow;
use std::collections::BTreeMap;

use failscope_schemas::{CURRENT_SCHEMA_VERSION, EventType, JobOutcome, JobStatus, Timestamp};

use crate::WorkerIdentity;

/// `job_kind` of loss markers.
pub const LOSS_JOB_KIND: &str = "telemetry_loss";
/// `runner_reason` of loss markers.
pub(crate) const LOSS_RUNNER_REASON: &str = "spool_full_dropped_events";

/// A marker saying this worker dropped `n_dropped` events from its spool.
pub fn loss_marker(identity: &WorkerIdentity, n_dropped: u64) -> JobOutcome<'static> {
    let now = Timestamp::now();
    let event_id = uuid::Uuid::now_v7().to_string();
    let labels = BTreeMap::from([(Cow::Borrowed("n_dropped"), Cow::Owned(n_dropped.to_string()))]);
    JobOutcome {
        event_type: EventType::JobOutcome,
        schema_version: CURRENT_SCHEMA_VERSION,
        job_id: Cow::Owned(format!("telemetry-loss-{event_id}")),
        event_id: Cow::Owned(event_id),
        worker_id: Cow::Owned(identity.worker_id.clone()),
        region: Cow::Owned(identity.region.clone()),
        provider: Cow::Owned(identity.provider.clone()),
        zone: identity.zone.clone().map(Cow::Owned),
        run_attempt: None,
        project: Cow::Borrowed("failscope"),
        job_kind: Cow::Borrowed(LOSS_JOB_KIND),
        queued_at: None,
        started_at: now,
        finished_at: now,
        status: JobStatus::Errored,
        exit_code: None,
        signal: None,
        failed_step: None,
        runner_reason: Cow::Borrowed(LOSS_RUNNER_REASON).into(),
        log_tail: Some(Cow::Owned(format!("failscope spool full: dropped the {n_dropped} oldest events"))),
        labels: Some(labels),
    }
}
