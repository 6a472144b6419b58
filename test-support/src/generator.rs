//! A deterministic lake generator for the analysis benchmarks: jobs in five regions over a
//! number of hours, each with its runner's connect attempts, a regional connect incident in
//! us-east-2, a mix of user and infra failures, and a few spool re-deliveries (duplicate event
//! ids).

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;

use failscope_schemas::arrow::{ConnectAttemptsBuilder, JobOutcomesBuilder};
use failscope_schemas::{ConnectOutcome, JobStatus};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::fixtures::{MINUTE, T0, connect, job};

const REGIONS: [&str; 5] = ["us-east-2", "us-east-1", "us-west-1", "eu-west-1", "online-par1"];
const TARGETS: [(&str, &str); 5] = [
    ("api", "checkin"),
    ("git", "git_clone"),
    ("sstate-cache", "cache_restore"),
    ("registry", "image_pull"),
    ("logs", "log_upload"),
];
const USER_TAILS: [(&str, &str); 3] = [
    ("build", "src/main.c:10:5: error: 'x' undeclared\nmake: *** [Makefile:12: main.o] Error 1"),
    ("test", "test tests::parses ... FAILED\ntest result: FAILED. 41 passed; 1 failed"),
    ("build", "ERROR: Task (/srv/meta-lmp/recipes/foo.bb:do_compile) failed with exit code '1'"),
];

/// How big a lake to generate.
#[derive(Debug, Clone, Copy)]
pub struct LakeSize {
    pub n_jobs: u64,
    pub connects_per_job: u32,
    pub hours: u32,
}

impl LakeSize {
    /// The analysis benchmark's lake, whose size the benchmarks that share it read from the
    /// environment: FAILSCOPE_BENCH_JOBS (default 200,000, or 5 M when `full`),
    /// FAILSCOPE_BENCH_CONNECTS_PER_JOB (10), FAILSCOPE_BENCH_HOURS (24, or 48 when `full`).
    pub fn analysis_benchmark(full: bool) -> LakeSize {
        use crate::bench::env_or;
        LakeSize {
            n_jobs: env_or::<u64>("FAILSCOPE_BENCH_JOBS", if full { 5_000_000 } else { 200_000 }),
            connects_per_job: env_or("FAILSCOPE_BENCH_CONNECTS_PER_JOB", 10),
            hours: env_or("FAILSCOPE_BENCH_HOURS", if full { 48 } else { 24 }),
        }
    }
}

/// SplitMix64: small, fast and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// The lake of `size` at `lake` (by default under the temp directory, named by its size),
/// generated on first use and reused after: a marker file says it is complete.
pub fn generated(size: LakeSize, lake: Option<std::path::PathBuf>) -> std::path::PathBuf {
    let lake = lake.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("failscope-bench-{}x{}-{}h", size.n_jobs, size.connects_per_job, size.hours))
    });
    let marker = lake.join("_generated");
    if !marker.exists() {
        let started = std::time::Instant::now();
        let _ = std::fs::remove_dir_all(&lake);
        generate(&lake, size, 2);
        std::fs::write(&marker, format!("{size:?}")).expect("write marker");
        println!("generated {} in {:.1}s", lake.display(), started.elapsed().as_secs_f64());
    }
    lake
}

/// Writes the lake; hours are spread over `n_threads` threads, one file per table and hour.
fn generate(lake: &Path, size: LakeSize, n_threads: u32) {
    std::thread::scope(|s| {
        for t in 0..n_threads {
            s.spawn(move || {
                for hour in (0..size.hours).filter(|h| h % n_threads == t) {
                    generate_hour(lake, size, hour);
                }
            });
        }
    });
}

fn writer(lake: &Path, table: &str, start_ms: i64, schema: arrow::datatypes::SchemaRef) -> ArrowWriter<File> {
    let (date, hour) = failscope_schemas::Timestamp::from_millis(start_ms).date_hour();
    let dir = lake.join(table).join(failscope_schemas::lake::partition_dir(&date, hour));
    std::fs::create_dir_all(&dir).expect("create partition dir");
    let file =
        File::create(dir.join(failscope_schemas::lake::file_name(&format!("ci.{table}"), 0, 0))).expect("create file");
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("valid level")))
        .set_max_row_group_row_count(Some(256 * 1024))
        .build();
    ArrowWriter::try_new(file, schema, Some(props)).expect("parquet writer")
}

/// An event id as the workers write it: a UUIDv7 (lowercase, hyphenated) whose first 48 bits
/// are the event time in milliseconds; `seq` (below 2^62) fills its random bits, so it is unique.
fn event_uuid(at_ms: i64, seq: u64) -> String {
    let mut random = [0u8; 10];
    random[2..].copy_from_slice(&seq.to_be_bytes());
    uuid::Builder::from_unix_timestamp_millis(at_ms.max(0) as u64, &random).into_uuid().to_string()
}

fn generate_hour(lake: &Path, size: LakeSize, hour: u32) {
    let mut rng = Rng(u64::from(hour) * 0x1234_5678_9ABC_DEF1 + 7);
    let hour_ms = T0 + i64::from(hour) * 60 * MINUTE;
    let n_jobs = size.n_jobs / u64::from(size.hours) + u64::from(u64::from(hour) < size.n_jobs % u64::from(size.hours));
    // The incident: us-east-2 cannot connect reliably during the middle third of the run.
    let incident = hour >= size.hours / 3 && hour < 2 * size.hours / 3;
    let mut jobs_out = writer(lake, "job_outcomes", hour_ms, failscope_schemas::arrow::job_outcomes_schema());
    let mut conns_out = writer(lake, "connect_attempts", hour_ms, failscope_schemas::arrow::connect_attempts_schema());
    let (mut jobs, mut conns) = (JobOutcomesBuilder::default(), ConnectAttemptsBuilder::default());
    for i in 0..n_jobs {
        let region = REGIONS[rng.below(REGIONS.len() as u64) as usize];
        let start = hour_ms + rng.below(50 * MINUTE as u64) as i64;
        let mut j = job(&format!("{hour}-{i}"), region, start, JobStatus::Passed);
        let job_seq = (u64::from(hour) << 40) | (i << 8);
        j.event_id = Cow::Owned(event_uuid(start, job_seq));
        j.finished_at = j.started_at.add_millis(2 * MINUTE + rng.below(8 * MINUTE as u64) as i64);
        let sick = incident && region == "us-east-2";
        let mut failed_connects = 0;
        for n in 1..=size.connects_per_job {
            let (target, phase) = TARGETS[(n as usize) % TARGETS.len()];
            let outcome = match rng.below(1000) {
                x if sick && x < 120 => ConnectOutcome::Timeout,
                x if sick && x < 160 => ConnectOutcome::Abandoned,
                x if x < 3 => ConnectOutcome::Reset,
                _ => ConnectOutcome::Ok,
            };
            failed_connects += u32::from(outcome != ConnectOutcome::Ok);
            let span = (j.finished_at.as_millis() - j.started_at.as_millis()) as u64;
            let offset = (span * u64::from(n) / u64::from(size.connects_per_job + 1)) as i64;
            let mut c = connect(&j, n, target, phase, outcome, offset);
            c.event_id = Cow::Owned(event_uuid(c.started_at.as_millis(), job_seq | u64::from(n)));
            c.duration_ms = if outcome == ConnectOutcome::Ok { 5.0 + rng.below(200) as f64 } else { 30_000.0 };
            conns.append(&c);
            if rng.chance(1) {
                conns.append(&c); // a spool re-delivery
            }
        }
        match rng.below(1000) {
            _ if failed_connects >= 2 => {
                j.status = JobStatus::Failed;
                j.exit_code = Some(if rng.chance(300) { 0 } else { 1 });
                j.log_tail = Some(Cow::Borrowed("curl: (28) Failed to connect to api port 443: Connection timed out"));
                if j.exit_code == Some(0) {
                    j.runner_reason = Some(Cow::Borrowed("log_upload_failed"));
                }
            }
            x if x < 60 => {
                let (step, tail) = USER_TAILS[rng.below(USER_TAILS.len() as u64) as usize];
                j.status = JobStatus::Failed;
                j.exit_code = Some(2);
                j.failed_step = Some(Cow::Borrowed(step));
                j.log_tail = Some(Cow::Borrowed(tail));
            }
            x if x < 65 => {
                j.status = JobStatus::Errored;
                j.exit_code = None;
                j.runner_reason = Some(Cow::Borrowed("worker_lost"));
            }
            x if x < 70 => {
                j.status = JobStatus::Failed;
                j.exit_code = Some(1);
            }
            _ => {}
        }
        jobs.append(&j).expect("append job");
        if jobs.len() >= 16 * 1024 {
            jobs_out.write(&jobs.finish().expect("job batch")).expect("write jobs");
        }
        if conns.len() >= 64 * 1024 {
            conns_out.write(&conns.finish().expect("connect batch")).expect("write connects");
        }
    }
    jobs_out.write(&jobs.finish().expect("job batch")).expect("write jobs");
    conns_out.write(&conns.finish().expect("connect batch")).expect("write connects");
    jobs_out.close().expect("close jobs file");
    conns_out.close().expect("close connects file");
}
