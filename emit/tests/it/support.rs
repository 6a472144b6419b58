//! What the worker side's tests share: an emitter's settings and a connect attempt to emit.

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use failscope_emit::{EmitterConfig, Topics, WorkerIdentity};
use failscope_schemas::{ConnectAttempt, ConnectOutcome, EventType, Timestamp};

/// An emitter of worker `worker_id` in us-east-2 sending connect attempts to `topic` (job
/// outcomes to `<topic>-jobs`), spooling up to 1 MiB into `spool_dir`, waiting
/// `delivery_timeout` for each delivery.
pub(crate) fn emitter_config(
    brokers: String,
    topic: &str,
    spool_dir: &Path,
    worker_id: &str,
    delivery_timeout: Duration,
) -> EmitterConfig {
    EmitterConfig {
        brokers,
        topics: Topics { connect_attempts: topic.to_string(), job_outcomes: format!("{topic}-jobs") },
        spool_dir: spool_dir.to_path_buf(),
        max_spool_bytes: 1024 * 1024,
        delivery_timeout,
        identity: WorkerIdentity {
            worker_id: worker_id.into(),
            region: "us-east-2".into(),
            provider: "aws".into(),
            zone: None,
        },
    }
}

/// A successful 3 ms connect of `worker_id` to api.example.com:443 at 2022-04-05T23:00:00Z,
/// outside any job; adjust fields after.
pub(crate) fn connect_attempt(event_id: &str, worker_id: &str) -> ConnectAttempt<'static> {
    ConnectAttempt {
        event_type: EventType::ConnectAttempt,
        schema_version: 1,
        event_id: Cow::Owned(event_id.to_string()),
        worker_id: Cow::Owned(worker_id.to_string()),
        region: Cow::Borrowed("us-east-2"),
        provider: Cow::Borrowed("aws"),
        zone: None,
        started_at: Timestamp::parse("2022-04-05T23:00:00Z").expect("valid"),
        duration_ms: 3.0,
        target_service: Cow::Borrowed("api"),
        target_host: Cow::Borrowed("api.example.com"),
        target_port: 443,
        target_addr: None,
        target_region: None,
        target_owner: None,
        job_id: None,
        phase: None,
        outcome: ConnectOutcome::Ok,
        errno: None,
        attempt: 1,
        error: None,
    }
}
