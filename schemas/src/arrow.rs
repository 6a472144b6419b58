//! The Arrow schema each event type is stored with in the lake, and builders that turn decoded
//! events into record batches column by column.
//!
//! Timestamps are `Timestamp(Millisecond, "UTC")`; enums are stored as their wire strings so
//! that SQL reads naturally (`WHERE outcome = 'timeout'`). Parquet dictionary encoding makes the
//! repeated strings cheap on disk.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, Float64Builder, Int32Builder, MapBuilder, RecordBatch, StringBuilder, TimestampMillisecondBuilder,
    UInt32Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;

use crate::{ConnectAttempt, EventType, JobOutcome, TargetOwner};

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

fn common_fields() -> Vec<Field> {
    vec![
        Field::new("event_id", DataType::Utf8, false),
        Field::new("schema_version", DataType::UInt32, false),
        Field::new("worker_id", DataType::Utf8, false),
        Field::new("region", DataType::Utf8, false),
        Field::new("provider", DataType::Utf8, false),
        Field::new("zone", DataType::Utf8, true),
    ]
}

static CONNECT_ATTEMPTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = common_fields();
    fields.extend([
        Field::new("started_at", timestamp(), false),
        Field::new("duration_ms", DataType::Float64, false),
        Field::new("target_service", DataType::Utf8, false),
        Field::new("target_host", DataType::Utf8, false),
        Field::new("target_port", DataType::Int32, false),
        Field::new("target_addr", DataType::Utf8, true),
        Field::new("target_region", DataType::Utf8, true),
        Field::new("job_id", DataType::Utf8, true),
        Field::new("phase", DataType::Utf8, true),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("errno", DataType::Int32, true),
        Field::new("attempt", DataType::UInt32, false),
        Field::new("error", DataType::Utf8, true),
        // Added after version 1 shipped: files written before it lack the column and read as
        // NULL, which the analysis takes as `platform`.
        Field::new("target_owner", DataType::Utf8, true),
    ]);
    Arc::new(Schema::new(fields))
});

static JOB_OUTCOMES: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = common_fields();
    fields.extend([
        Field::new("job_id", DataType::Utf8, false),
        Field::new("run_attempt", DataType::UInt32, true),
        Field::new("project", DataType::Utf8, false),
        Field::new("job_kind", DataType::Utf8, false),
        Field::new("queued_at", timestamp(), true),
        Field::new("started_at", timestamp(), false),
        Field::new("finished_at", timestamp(), false),
        Field::new("status", DataType::Utf8, false),
        Field::new("exit_code", DataType::Int32, true),
        Field::new("signal", DataType::Int32, true),
        Field::new("failed_step", DataType::Utf8, true),
        Field::new("runner_reason", DataType::Utf8, true),
        Field::new("log_tail", DataType::Utf8, true),
        Field::new("labels", labels_type(), true),
    ]);
    Arc::new(Schema::new(fields))
});

fn labels_type() -> DataType {
    // Must match what `MapBuilder::new(None, ..)` produces.
    let entries = Field::new(
        "entries",
        DataType::Struct(
            vec![Field::new("keys", DataType::Utf8, false), Field::new("values", DataType::Utf8, true)].into(),
        ),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

/// The lake schema of `connect_attempts`.
pub fn connect_attempts_schema() -> SchemaRef {
    CONNECT_ATTEMPTS.clone()
}

/// The lake schema of `job_outcomes`.
pub fn job_outcomes_schema() -> SchemaRef {
    JOB_OUTCOMES.clone()
}

/// The lake schema of an event type's table.
pub fn schema_of(event_type: EventType) -> SchemaRef {
    match event_type {
        EventType::ConnectAttempt => connect_attempts_schema(),
        EventType::JobOutcome => job_outcomes_schema(),
    }
}

/// The columns shared by both tables.
#[derive(Debug, Default)]
struct CommonColumns {
    event_id: StringBuilder,
    schema_version: UInt32Builder,
    worker_id: StringBuilder,
    region: StringBuilder,
    provider: StringBuilder,
    zone: StringBuilder,
}

impl CommonColumns {
    fn append(
        &mut self,
        event_id: &str,
        version: u32,
        worker_id: &str,
        region: &str,
        provider: &str,
        zone: Option<&str>,
    ) {
        self.event_id.append_value(event_id);
        self.schema_version.append_value(version);
        self.worker_id.append_value(worker_id);
        self.region.append_value(region);
        self.provider.append_value(provider);
        self.zone.append_option(zone);
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.event_id.finish()),
            Arc::new(self.schema_version.finish()),
            Arc::new(self.worker_id.finish()),
            Arc::new(self.region.finish()),
            Arc::new(self.provider.finish()),
            Arc::new(self.zone.finish()),
        ]
    }
}

/// Accumulates `connect_attempt` rows.
#[derive(Debug, Default)]
pub struct ConnectAttemptsBuilder {
    common: CommonColumns,
    started_at: TimestampMillisecondBuilder,
    duration_ms: Float64Builder,
    target_service: StringBuilder,
    target_host: StringBuilder,
    target_port: Int32Builder,
    target_addr: StringBuilder,
    target_region: StringBuilder,
    job_id: StringBuilder,
    phase: StringBuilder,
    outcome: StringBuilder,
    errno: Int32Builder,
    attempt: UInt32Builder,
    error: StringBuilder,
    target_owner: StringBuilder,
    n_rows: usize,
}

impl ConnectAttemptsBuilder {
    pub fn append(&mut self, e: &ConnectAttempt<'_>) {
        self.common.append(&e.event_id, e.schema_version, &e.worker_id, &e.region, &e.provider, e.zone.as_deref());
        self.started_at.append_value(e.started_at.as_millis());
        self.duration_ms.append_value(e.duration_ms);
        self.target_service.append_value(&e.target_service);
        self.target_host.append_value(&e.target_host);
        self.target_port.append_value(i32::from(e.target_port));
        self.target_addr.append_option(e.target_addr.as_deref());
        self.target_region.append_option(e.target_region.as_deref());
        self.job_id.append_option(e.job_id.as_deref());
        self.phase.append_option(e.phase.as_deref());
        self.outcome.append_value(e.outcome.as_str());
        self.errno.append_option(e.errno);
        self.attempt.append_value(e.attempt);
        self.error.append_option(e.error.as_deref());
        self.target_owner.append_option(e.target_owner.map(TargetOwner::as_str));
        self.n_rows += 1;
    }

    pub fn len(&self) -> usize {
        self.n_rows
    }

    pub fn is_empty(&self) -> bool {
        self.n_rows == 0
    }

    /// Takes the accumulated rows as a batch and leaves the builder empty.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut columns = self.common.finish();
        columns.extend([
            Arc::new(self.started_at.finish().with_timezone("UTC")) as ArrayRef,
            Arc::new(self.duration_ms.finish()),
            Arc::new(self.target_service.finish()),
            Arc::new(self.target_host.finish()),
            Arc::new(self.target_port.finish()),
            Arc::new(self.target_addr.finish()),
            Arc::new(self.target_region.finish()),
            Arc::new(self.job_id.finish()),
            Arc::new(self.phase.finish()),
            Arc::new(self.outcome.finish()),
            Arc::new(self.errno.finish()),
            Arc::new(self.attempt.finish()),
            Arc::new(self.error.finish()),
            Arc::new(self.target_owner.finish()),
        ]);
        self.n_rows = 0;
        RecordBatch::try_new(connect_attempts_schema(), columns)
    }
}

/// Accumulates `job_outcome` rows.
#[derive(Debug)]
pub struct JobOutcomesBuilder {
    common: CommonColumns,
    job_id: StringBuilder,
    run_attempt: UInt32Builder,
    project: StringBuilder,
    job_kind: StringBuilder,
    queued_at: TimestampMillisecondBuilder,
    started_at: TimestampMillisecondBuilder,
    finished_at: TimestampMillisecondBuilder,
    status: StringBuilder,
    exit_code: Int32Builder,
    signal: Int32Builder,
    failed_step: StringBuilder,
    runner_reason: StringBuilder,
    log_tail: StringBuilder,
    labels: MapBuilder<StringBuilder, StringBuilder>,
    n_rows: usize,
}

impl Default for JobOutcomesBuilder {
    fn default() -> Self {
        JobOutcomesBuilder {
            common: CommonColumns::default(),
            job_id: StringBuilder::new(),
            run_attempt: UInt32Builder::new(),
            project: StringBuilder::new(),
            job_kind: StringBuilder::new(),
            queued_at: TimestampMillisecondBuilder::new(),
            started_at: TimestampMillisecondBuilder::new(),
            finished_at: TimestampMillisecondBuilder::new(),
            status: StringBuilder::new(),
            exit_code: Int32Builder::new(),
            signal: Int32Builder::new(),
            failed_step: StringBuilder::new(),
            runner_reason: StringBuilder::new(),
            log_tail: StringBuilder::new(),
            labels: MapBuilder::new(None, StringBuilder::new(), StringBuilder::new()),
            n_rows: 0,
        }
    }
}

impl JobOutcomesBuilder {
    pub fn append(&mut self, e: &JobOutcome<'_>) -> Result<(), ArrowError> {
        self.common.append(&e.event_id, e.schema_version, &e.worker_id, &e.region, &e.provider, e.zone.as_deref());
        self.job_id.append_value(&e.job_id);
        self.run_attempt.append_option(e.run_attempt);
        self.project.append_value(&e.project);
        self.job_kind.append_value(&e.job_kind);
        self.queued_at.append_option(e.queued_at.map(|t| t.as_millis()));
        self.started_at.append_value(e.started_at.as_millis());
        self.finished_at.append_value(e.finished_at.as_millis());
        self.status.append_value(e.status.as_str());
        self.exit_code.append_option(e.exit_code);
        self.signal.append_option(e.signal);
        self.failed_step.append_option(e.failed_step.as_deref());
        self.runner_reason.append_option(e.runner_reason.as_deref());
        self.log_tail.append_option(e.log_tail.as_deref());
        match &e.labels {
            Some(labels) => {
                for (k, v) in labels {
                    self.labels.keys().append_value(k);
                    self.labels.values().append_value(v);
                }
                self.labels.append(true)?;
            }
            None => self.labels.append(false)?,
        }
        self.n_rows += 1;
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.n_rows
    }

    pub fn is_empty(&self) -> bool {
        self.n_rows == 0
    }

    /// Takes the accumulated rows as a batch and leaves the builder empty.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut columns = self.common.finish();
        columns.extend([
            Arc::new(self.job_id.finish()) as ArrayRef,
            Arc::new(self.run_attempt.finish()),
            Arc::new(self.project.finish()),
            Arc::new(self.job_kind.finish()),
            Arc::new(self.queued_at.finish().with_timezone("UTC")),
            Arc::new(self.started_at.finish().with_timezone("UTC")),
            Arc::new(self.finished_at.finish().with_timezone("UTC")),
            Arc::new(self.status.finish()),
            Arc::new(self.exit_code.finish()),
            Arc::new(self.signal.finish()),
            Arc::new(self.failed_step.finish()),
            Arc::new(self.runner_reason.finish()),
            Arc::new(self.log_tail.finish()),
            Arc::new(self.labels.finish()),
        ]);
        self.n_rows = 0;
        RecordBatch::try_new(job_outcomes_schema(), columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode_as;

    #[test]
    fn builders_produce_batches_of_the_declared_schema() {
        let connect = br#"{"event_type":"connect_attempt","schema_version":1,"event_id":"e1","worker_id":"w","region":"us-east-2","provider":"aws","started_at":"2022-04-05T23:04:00Z","duration_ms":1.5,"target_service":"api","target_host":"h","target_port":443,"outcome":"ok","attempt":1}"#;
        let mut b = ConnectAttemptsBuilder::default();
        b.append(&decode_as::<ConnectAttempt<'_>>(connect).expect("valid"));
        let batch = b.finish().expect("batch");
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.schema(), connect_attempts_schema());

        let job = br#"{"event_type":"job_outcome","schema_version":1,"event_id":"e2","worker_id":"w","region":"us-east-2","provider":"aws","job_id":"j","project":"p","job_kind":"test","started_at":"2022-04-05T23:04:00Z","finished_at":"2022-04-05T23:05:00Z","status":"failed","exit_code":0,"labels":{"branch":"main"}}"#;
        let mut b = JobOutcomesBuilder::default();
        b.append(&decode_as::<JobOutcome<'_>>(job).expect("valid")).expect("append");
        let batch = b.finish().expect("batch");
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.schema(), job_outcomes_schema());
    }
}
