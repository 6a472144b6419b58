//! Running the real `failscope ingest` against a topic pair of a test's own, and reading the
//! lake back from Parquet.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use arrow::array::{Array, StringArray};
use failscope_test_support::bench::env_or;
use failscope_test_support::events::event;
use failscope_test_support::kafka::{brokers, create_topics, flush, producer, send, unique};
use failscope_test_support::wait::tail;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rdkafka::producer::{DefaultProducerContext, ThreadedProducer};

use super::failscope;

/// A topic pair and group for one test, on the shared test broker or one of the test's own.
#[derive(Debug, Clone)]
pub(crate) struct IngestSetup {
    pub(crate) brokers: String,
    pub(crate) connect_topic: String,
    pub(crate) job_topic: String,
    pub(crate) group: String,
    pub(crate) lake: PathBuf,
    /// Environment of every `failscope ingest` started (an object store's endpoint and keys).
    pub(crate) env: Vec<(&'static str, String)>,
}

impl IngestSetup {
    /// Topics of `n_partitions` on the shared test broker.
    pub(crate) fn new(name: &str, lake: &Path, n_partitions: i32) -> IngestSetup {
        IngestSetup::on(&brokers(), name, lake, n_partitions)
    }

    /// Topics of `n_partitions` on `brokers`.
    pub(crate) fn on(brokers: &str, name: &str, lake: &Path, n_partitions: i32) -> IngestSetup {
        let setup = IngestSetup {
            brokers: brokers.to_string(),
            connect_topic: unique(&format!("{name}-connect")),
            job_topic: unique(&format!("{name}-jobs")),
            group: unique(&format!("{name}-group")),
            lake: lake.to_path_buf(),
            env: Vec::new(),
        };
        create_topics(brokers, &[&setup.connect_topic, &setup.job_topic], n_partitions);
        setup
    }

    /// An idempotent producer to the setup's broker.
    pub(crate) fn producer(&self) -> ThreadedProducer<DefaultProducerContext> {
        producer(&self.brokers)
    }

    /// Starts `failscope ingest` with fast rolls; `extra` flags replace the test defaults.
    /// Standard error goes to `log`.
    pub(crate) fn spawn(&self, extra: &[&str], log: &Path) -> Ingest {
        self.spawn_under(&[], extra, log)
    }

    /// Starts `failscope ingest` as [`Self::spawn`] does, as the command of `wrapper` (a
    /// program and its arguments, such as a tracer) when there is one.
    pub(crate) fn spawn_under(&self, wrapper: &[&str], extra: &[&str], log: &Path) -> Ingest {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
        let defaults = [("--http-addr", "127.0.0.1:0"), ("--max-age", "500ms"), ("--session-timeout", "6s")];
        let defaults = defaults.iter().filter(|(flag, _)| !extra.contains(flag)).flat_map(|(f, v)| [*f, *v]);
        let binary = failscope();
        let mut command = match wrapper {
            [] => binary,
            [program, args @ ..] => {
                let mut command = std::process::Command::new(program);
                command.args(args).arg(binary.get_program());
                command
            }
        };
        command
            .args(["ingest", "--brokers", &self.brokers, "--group", &self.group])
            .args(["--connect-attempts-topic", &self.connect_topic, "--job-outcomes-topic", &self.job_topic])
            .args(["--lake", self.lake.to_str().expect("utf-8 path")])
            .args(defaults)
            .args(extra)
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map(Ingest)
            .expect("start failscope ingest")
    }
}

/// A running `failscope ingest`, killed if the test ends (or panics) before it exits.
#[derive(Debug)]
pub(crate) struct Ingest(pub(crate) Child);

impl Drop for Ingest {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The number of events a soak test produces: `FAILSCOPE_SOAK_EVENTS` or `default`. CI keeps
/// the default small; the benchmarks and manual runs go larger.
pub(crate) fn soak_events(default: usize) -> usize {
    env_or("FAILSCOPE_SOAK_EVENTS", default)
}

/// Every `event_id` in a table of the lake, with the `date=/hour=` folder it was found in.
pub(crate) fn lake_ids(lake: &Path, table: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for file in parquet_files(&lake.join(table)) {
        let partition = file.parent().and_then(|hour| {
            let date = hour.parent()?.file_name()?.to_str()?;
            Some(format!("{date}/{}", hour.file_name()?.to_str()?))
        });
        let partition = partition.expect("files live in date=/hour= folders");
        let reader = std::fs::File::open(&file).expect("open parquet");
        let builder = ParquetRecordBatchReaderBuilder::try_new(reader).expect("parquet footer");
        let mask = ProjectionMask::columns(builder.parquet_schema(), ["event_id"]);
        for batch in builder.with_projection(mask).build().expect("reader") {
            let batch = batch.expect("batch");
            let ids = batch.column(0).as_any().downcast_ref::<StringArray>().expect("event_id is utf8");
            out.extend((0..ids.len()).map(|i| (ids.value(i).to_string(), partition.clone())));
        }
    }
    out
}

/// Every file under `dir`, recursively, that ends in `.parquet`.
pub(crate) fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    all_files(dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "parquet")).collect()
}

pub(crate) fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Rows in every Parquet file of the lake, from the footers alone.
pub(crate) fn lake_rows(lake: &Path) -> usize {
    parquet_files(lake)
        .iter()
        .filter_map(|file| {
            let reader = std::fs::File::open(file).ok()?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(reader).ok()?;
            usize::try_from(builder.metadata().file_metadata().num_rows()).ok()
        })
        .sum()
}

/// Polls until the lake holds at least `n` rows over both tables, or panics at `deadline`.
pub(crate) fn wait_for_rows(lake: &Path, n: usize, deadline: Duration, logs: &[&Path]) {
    let started = Instant::now();
    loop {
        let have = lake_rows(lake);
        if have >= n {
            return;
        }
        if started.elapsed() >= deadline {
            let tails: String =
                logs.iter().map(|log| format!("\n--- last lines of {}:\n{}", log.display(), tail(log, 40))).collect();
            panic!("lake holds {have} of {n} rows after {deadline:?}{tails}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Waits for `child` to exit after a SIGTERM and asserts it exited 0, showing its log if not.
pub(crate) fn assert_clean_exit(child: &mut Ingest, deadline: Duration, log: &Path) {
    let status = wait_exit(child, deadline);
    assert!(status.success(), "exit after SIGTERM: {status}\n--- last lines of {}:\n{}", log.display(), tail(log, 40));
}

/// Asserts that every id in `produced` is in the lake exactly once, and nothing else is.
pub(crate) fn assert_exactly_once(lake: &Path, produced: &HashMap<String, bool>) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for table in ["connect_attempts", "job_outcomes"] {
        for (id, _) in lake_ids(lake, table) {
            *seen.entry(id).or_default() += 1;
        }
    }
    let duplicated = seen.values().filter(|n| **n > 1).count();
    let missing = produced.keys().filter(|id| !seen.contains_key(*id)).count();
    let unexpected = seen.keys().filter(|id| !produced.contains_key(*id)).count();
    assert_eq!((missing, duplicated, unexpected), (0, 0, 0), "missing, duplicated, unexpected event ids");
}

/// Sends SIGTERM (or SIGKILL) to a running ingest.
pub(crate) fn signal(child: &Ingest, name: &str) {
    let status = std::process::Command::new("kill").args([&format!("-{name}"), &child.0.id().to_string()]).status();
    assert!(status.expect("run kill").success(), "kill -{name}");
}

/// Waits for a child to exit, panicking at `deadline`.
pub(crate) fn wait_exit(child: &mut Ingest, deadline: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().expect("try_wait") {
            return status;
        }
        assert!(started.elapsed() < deadline, "process did not exit within {deadline:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Asserts that every flush in the lake is complete: for each partition and `flush_start`,
/// as many files as their footers announce (`flush_files`). A crash mid-flush leaves fewer,
/// and recovery must have removed them.
pub(crate) fn assert_no_incomplete_flush(lake: &Path) {
    let mut flushes: HashMap<(String, String, String), (usize, usize)> = HashMap::new();
    for file in parquet_files(lake) {
        let reader = std::fs::File::open(&file).expect("open parquet");
        let builder = ParquetRecordBatchReaderBuilder::try_new(reader).expect("parquet footer");
        let kvs = builder.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
        let get = |key: &str| {
            kvs.iter()
                .find(|kv| kv.key == format!("failscope.{key}"))
                .and_then(|kv| kv.value.clone())
                .unwrap_or_else(|| panic!("{}: no failscope.{key} in the footer", file.display()))
        };
        let n_files: usize = get("flush_files").parse().expect("flush_files is a number");
        let entry = flushes.entry((get("topic"), get("partition"), get("flush_start"))).or_insert((n_files, 0));
        entry.1 += 1;
    }
    let incomplete: Vec<_> = flushes.iter().filter(|(_, (want, have))| want != have).collect();
    assert!(incomplete.is_empty(), "flushes with files missing or extra (announced, found): {incomplete:?}");
}

/// Starts the ingest with a session long enough to ride out tansu's stalls: storing thousands
/// of dead letters with their headers, tansu answers the group's heartbeats late, and these
/// fault tests (in parallel on one broker) are about the lake, not membership.
pub(crate) fn spawn_patient(setup: &IngestSetup, extra: &[&str], log: &Path) -> Ingest {
    let args: Vec<&str> = extra.iter().copied().chain(["--session-timeout", "45s"]).collect();
    setup.spawn(&args, log)
}

/// Produces events number `range` with `producer`, each keyed by `key(i)`, waits until the
/// broker has them all, and adds their ids.
pub(crate) fn produce_events(
    producer: &ThreadedProducer<DefaultProducerContext>,
    setup: &IngestSetup,
    range: std::ops::Range<usize>,
    key: impl Fn(usize) -> String,
    ids: &mut HashMap<String, bool>,
) {
    for i in range {
        let id = uuid::Uuid::now_v7().to_string();
        let (is_connect, line) = event(i, &id);
        send(producer, if is_connect { &setup.connect_topic } else { &setup.job_topic }, &key(i), line.as_bytes());
        ids.insert(id, is_connect);
    }
    flush(producer);
}

/// Produces events number `range`, all keyed `w`, waits until the broker has them, adds their
/// ids.
pub(crate) fn produce_range(setup: &IngestSetup, range: std::ops::Range<usize>, ids: &mut HashMap<String, bool>) {
    produce_events(&setup.producer(), setup, range, |_| "w".to_string(), ids);
}
