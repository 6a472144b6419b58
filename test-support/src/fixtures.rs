//! Fixture lakes for the analysis: events built with the contract's types, written with the
//! schemas' Arrow builders and the parquet crate in the lake's layout (`failscope_schemas::lake`),
//! as the ingest writes them.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use failscope_schemas::arrow::{ConnectAttemptsBuilder, JobOutcomesBuilder};
use failscope_schemas::{ConnectAttempt, ConnectOutcome, EventType, JobOutcome, JobStatus, Timestamp};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// 2022-04-05T23:00:00Z, the first failure of the incident.
pub const T0: i64 = 1_649_199_600_000;
pub const MINUTE: i64 = 60_000;

/// A job that started at `start_ms` and ran ten minutes, in `region`; adjust fields after.
pub fn job(job_id: &str, region: &str, start_ms: i64, status: JobStatus) -> JobOutcome<'static> {
    JobOutcome {
        event_type: EventType::JobOutcome,
        schema_version: 1,
        event_id: Cow::Owned(format!("job-{job_id}")),
        worker_id: Cow::Owned(format!("worker-{job_id}")),
        region: Cow::Owned(region.to_string()),
        provider: Cow::Borrowed("aws"),
        zone: None,
        job_id: Cow::Owned(job_id.to_string()),
        run_attempt: Some(1),
        project: Cow::Borrowed("lmp"),
        job_kind: Cow::Borrowed("container_build"),
        queued_at: None,
        started_at: Timestamp::from_millis(start_ms),
        finished_at: Timestamp::from_millis(start_ms + 10 * MINUTE),
        status,
        exit_code: if status == JobStatus::Passed { Some(0) } else { Some(1) },
        signal: None,
        failed_step: None,
        runner_reason: None,
        log_tail: None,
        labels: Some(BTreeMap::from([(Cow::Borrowed("branch"), Cow::Borrowed("main"))])),
    }
}

/// A connect attempt made during `job`, `offset_ms` after it started.
pub fn connect(
    job: &JobOutcome<'_>,
    n: u32,
    target: &str,
    phase: &str,
    outcome: ConnectOutcome,
    offset_ms: i64,
) -> ConnectAttempt<'static> {
    ConnectAttempt {
        event_type: EventType::ConnectAttempt,
        schema_version: 1,
        event_id: Cow::Owned(format!("conn-{}-{n}", job.job_id)),
        worker_id: Cow::Owned(job.worker_id.to_string()),
        region: Cow::Owned(job.region.to_string()),
        provider: Cow::Owned(job.provider.to_string()),
        zone: None,
        started_at: Timestamp::from_millis(job.started_at.as_millis() + offset_ms),
        duration_ms: if outcome == ConnectOutcome::Ok { 12.0 } else { 30_000.0 },
        target_service: Cow::Owned(target.to_string()),
        target_host: Cow::Owned(format!("{target}.backend.example")),
        target_port: 443,
        target_addr: None,
        target_region: Some(Cow::Borrowed("gcp-us-central1")),
        target_owner: None,
        job_id: Some(Cow::Owned(job.job_id.to_string())),
        phase: Some(Cow::Owned(phase.to_string())),
        outcome,
        errno: None,
        attempt: n,
        error: None,
    }
}

/// A probe from `region` at `at_ms`, outside any job.
pub fn probe(region: &str, n: u32, at_ms: i64, outcome: ConnectOutcome) -> ConnectAttempt<'static> {
    let mut j = job(&format!("probe-{region}"), region, at_ms, JobStatus::Passed);
    j.worker_id = Cow::Owned(format!("prober-{region}"));
    let mut c = connect(&j, n, "api", "probe", outcome, 0);
    c.event_id = Cow::Owned(format!("probe-{region}-{n}"));
    c.job_id = None;
    c
}

/// The events of one partition hour: job outcomes and connect attempts.
type HourEvents<'r, 'e> = (Vec<&'r JobOutcome<'e>>, Vec<&'r ConnectAttempt<'e>>);

/// Writes events into `lake` in the ingest's layout, one file per table, date and hour.
/// `file_index` distinguishes files of the same hour (as Kafka offsets do).
pub fn write_lake(lake: &Path, jobs: &[JobOutcome<'_>], connects: &[ConnectAttempt<'_>], file_index: u64) {
    let mut by_hour: BTreeMap<(String, u32), HourEvents<'_, '_>> = BTreeMap::new();
    for j in jobs {
        by_hour.entry(j.finished_at.date_hour()).or_default().0.push(j);
    }
    for c in connects {
        by_hour.entry(c.started_at.date_hour()).or_default().1.push(c);
    }
    for ((date, hour), (jobs, connects)) in by_hour {
        if !jobs.is_empty() {
            let mut b = JobOutcomesBuilder::default();
            jobs.iter().for_each(|j| b.append(j).expect("append job"));
            let batch = b.finish().expect("job batch");
            write_file(lake, "job_outcomes", &date, hour, file_index, &batch);
        }
        if !connects.is_empty() {
            let mut b = ConnectAttemptsBuilder::default();
            connects.iter().for_each(|c| b.append(c));
            let batch = b.finish().expect("connect batch");
            write_file(lake, "connect_attempts", &date, hour, file_index, &batch);
        }
    }
}

fn write_file(lake: &Path, table: &str, date: &str, hour: u32, file_index: u64, batch: &arrow::array::RecordBatch) {
    let dir = lake.join(table).join(failscope_schemas::lake::partition_dir(date, hour));
    std::fs::create_dir_all(&dir).expect("create partition dir");
    let file_index = i64::try_from(file_index).expect("a small index");
    let path = dir.join(failscope_schemas::lake::file_name(&format!("ci.{table}"), 0, file_index));
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("valid level")))
        .build();
    let mut writer = ArrowWriter::try_new(File::create(&path).expect("create file"), batch.schema(), Some(props))
        .expect("parquet writer");
    writer.write(batch).expect("write batch");
    writer.close().expect("close parquet");
}

/// The repository's `queries/`, the statements built into the binary.
pub fn queries_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../queries")
}
