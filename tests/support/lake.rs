//! Helpers for tests of the ingest: realistic events, producing them, running the real
//! `failscope ingest`, and reading the lake back from Parquet.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use arrow::array::{Array, StringArray};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use super::{brokers, failscope};

/// A topic pair and group for one test.
#[derive(Debug, Clone)]
pub struct IngestSetup {
    pub connect_topic: String,
    pub job_topic: String,
    pub group: String,
    pub lake: PathBuf,
}

impl IngestSetup {
    pub fn new(name: &str, lake: &Path, n_partitions: i32) -> IngestSetup {
        let setup = IngestSetup {
            connect_topic: super::unique(&format!("{name}-connect")),
            job_topic: super::unique(&format!("{name}-jobs")),
            group: super::unique(&format!("{name}-group")),
            lake: lake.to_path_buf(),
        };
        super::create_topics(&[&setup.connect_topic, &setup.job_topic], n_partitions);
        setup
    }

    /// Starts `failscope ingest` with fast rolls; `extra` flags replace the test defaults.
    /// Standard error goes to `log`.
    pub fn spawn(&self, extra: &[&str], log: &Path) -> Ingest {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
        let defaults = [("--http-addr", "127.0.0.1:0"), ("--max-age", "500ms"), ("--session-timeout", "6s")];
        let defaults = defaults.iter().filter(|(flag, _)| !extra.contains(flag)).flat_map(|(f, v)| [*f, *v]);
        failscope()
            .args(["ingest", "--brokers", &brokers(), "--group", &self.group])
            .args(["--connect-attempts-topic", &self.connect_topic, "--job-outcomes-topic", &self.job_topic])
            .args(["--lake", self.lake.to_str().expect("utf-8 path")])
            .args(defaults)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map(Ingest)
            .expect("start failscope ingest")
    }
}

/// A running `failscope ingest`, killed if the test ends (or panics) before it exits.
#[derive(Debug)]
pub struct Ingest(pub Child);

impl Drop for Ingest {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The number of events a soak test produces: `FAILSCOPE_SOAK_EVENTS` or `default`. CI keeps
/// the default small; the benchmarks and manual runs go larger.
pub fn soak_events(default: usize) -> usize {
    std::env::var("FAILSCOPE_SOAK_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A valid event, about 350 bytes of JSON; `i` spreads events over three event hours.
pub fn event(i: usize, event_id: &str) -> (bool, String) {
    let hour = 21 + i % 3;
    if i.is_multiple_of(4) {
        let line = format!(
            r#"{{"event_type":"job_outcome","schema_version":1,"event_id":"{event_id}","worker_id":"w-{w}","region":"us-east-2","provider":"aws","zone":"us-east-2a","job_id":"job-{i}","project":"lmp","job_kind":"container_build","started_at":"2022-04-05T{hour}:01:00Z","finished_at":"2022-04-05T{hour}:{m:02}:00Z","status":"failed","exit_code":1,"failed_step":"build","log_tail":"error: build failed\n"}}"#,
            w = i % 97,
            m = i % 60
        );
        (false, line)
    } else {
        let line = format!(
            r#"{{"event_type":"connect_attempt","schema_version":1,"event_id":"{event_id}","worker_id":"w-{w}","region":"us-east-2","provider":"aws","zone":"us-east-2a","started_at":"2022-04-05T{hour}:{m:02}:{s:02}.{ms:03}Z","duration_ms":{d}.5,"target_service":"api","target_host":"api.example.com","target_port":443,"job_id":"job-{i}","phase":"log_upload","outcome":"{o}","attempt":1}}"#,
            w = i % 97,
            m = i % 60,
            s = (i / 7) % 60,
            ms = i % 1000,
            d = i % 30_000,
            o = if i.is_multiple_of(9) { "timeout" } else { "ok" }
        );
        (true, line)
    }
}

/// An idempotent producer for test data.
pub fn producer() -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("linger.ms", "20")
        .set("log_level", "3")
        .create()
        .expect("producer config is valid")
}

/// Sends one message, waiting while the local queue is full.
pub fn send(producer: &ThreadedProducer<DefaultProducerContext>, topic: &str, key: &str, payload: &[u8]) {
    let mut record = BaseRecord::to(topic).key(key).payload(payload);
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((_, back)) => {
                record = back;
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

pub fn flush(producer: &ThreadedProducer<DefaultProducerContext>) {
    producer.flush(Duration::from_secs(60)).expect("every test message acknowledged");
}

/// Every `event_id` in a table of the lake, with the `date=/hour=` folder it was found in.
pub fn lake_ids(lake: &Path, table: &str) -> Vec<(String, String)> {
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
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    all_files(dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "parquet")).collect()
}

pub fn all_files(dir: &Path) -> Vec<PathBuf> {
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
pub fn lake_rows(lake: &Path) -> usize {
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
pub fn wait_for_rows(lake: &Path, n: usize, deadline: Duration, logs: &[&Path]) {
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
pub fn assert_clean_exit(child: &mut Ingest, deadline: Duration, log: &Path) {
    let status = wait_exit(child, deadline);
    assert!(status.success(), "exit after SIGTERM: {status}\n--- last lines of {}:\n{}", log.display(), tail(log, 40));
}

/// The last `n` lines of a log file, or why it could not be read.
pub fn tail(log: &Path, n: usize) -> String {
    match std::fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(unreadable: {e})"),
    }
}

/// Asserts that every id in `produced` is in the lake exactly once, and nothing else is.
pub fn assert_exactly_once(lake: &Path, produced: &HashMap<String, bool>) {
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
pub fn signal(child: &Ingest, name: &str) {
    let status = std::process::Command::new("kill").args([&format!("-{name}"), &child.0.id().to_string()]).status();
    assert!(status.expect("run kill").success(), "kill -{name}");
}

/// Waits for a child to exit, panicking at `deadline`.
pub fn wait_exit(child: &mut Ingest, deadline: Duration) -> std::process::ExitStatus {
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
pub fn assert_no_incomplete_flush(lake: &Path) {
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
pub fn spawn_patient(setup: &IngestSetup, extra: &[&str], log: &Path) -> Ingest {
    let args: Vec<&str> = extra.iter().copied().chain(["--session-timeout", "45s"]).collect();
    setup.spawn(&args, log)
}

/// Produces events number `range`, waits until the broker has them, adds their ids.
pub fn produce_range(setup: &IngestSetup, range: std::ops::Range<usize>, ids: &mut HashMap<String, bool>) {
    let producer = producer();
    for i in range {
        let id = uuid::Uuid::now_v7().to_string();
        let (is_connect, line) = event(i, &id);
        send(&producer, if is_connect { &setup.connect_topic } else { &setup.job_topic }, "w", line.as_bytes());
        ids.insert(id, is_connect);
    }
    flush(&producer);
}

/// Polls `check` every 200 ms until it holds, panicking with `what` and the end of `log` at
/// `deadline`.
pub fn wait_until(what: &str, deadline: Duration, log: &Path, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < deadline,
            "not within {deadline:?}: {what}\n--- end of the log:\n{}",
            tail(log, 30)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
