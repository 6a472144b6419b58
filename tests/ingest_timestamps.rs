//! `failscope ingest` against a burst of absurd event times: events with distinct hours far in
//! the past and the future (2,000 in CI, `FAILSCOPE_SOAK_EVENTS` up to the issue's 10,000), and
//! 1,000 distinct hours inside the window. On a broker of its own, so that the burst of dead
//! letters (which keeps tansu busy, storing each letter's headers, for many seconds) never
//! slows the shared test broker under the end-to-end tests running beside it.

use std::collections::HashMap;
use std::time::Duration;

use failscope_test_support::http::{free_port, get, metric};
use failscope_test_support::kafka::{flush, send};
use failscope_test_support::tansu::OwnBroker;
use failscope_test_support::wait::wait_until;

use crate::support::lake::{
    IngestSetup, assert_clean_exit, assert_exactly_once, parquet_files, produce_range, signal, soak_events,
    spawn_patient, wait_for_rows,
};

/// A connect attempt at `started_at`, otherwise like the others.
fn connect_at(event_id: &str, started_at: &str) -> String {
    format!(
        r#"{{"event_type":"connect_attempt","schema_version":1,"event_id":"{event_id}","worker_id":"w-1","region":"us-east-2","provider":"aws","started_at":"{started_at}","duration_ms":12.5,"target_service":"api","target_host":"api.example.com","target_port":443,"outcome":"ok","attempt":1}}"#
    )
}

/// The end offset of partition 0 of `topic`.
fn high_watermark(brokers: &str, topic: &str) -> i64 {
    use rdkafka::consumer::Consumer;
    let consumer: rdkafka::consumer::BaseConsumer =
        rdkafka::ClientConfig::new().set("bootstrap.servers", brokers).create().expect("consumer");
    consumer.fetch_watermarks(topic, 0, Duration::from_secs(10)).map(|(_, high)| high).unwrap_or(-1)
}

/// The peak resident memory of a running process, from `/proc`.
fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    let kib = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).expect("VmHWM line");
    kib.trim().trim_end_matches("kB").trim().parse::<u64>().expect("VmHWM in kB") << 10
}

#[test]
fn a_burst_of_absurd_timestamps_is_dead_lettered_within_the_memory_budget() {
    const BUDGET: u64 = 128 << 20;
    const MAX_HOURS: usize = 100;
    let dir = tempfile::tempdir().expect("temp dir");
    let lake = dir.path().join("lake");
    let broker = OwnBroker::start(&dir.path().join("broker"));
    let setup = IngestSetup::on(&broker.address(), "timestamps", &lake, 1);
    let producer = setup.producer();
    // Distinct hours far in the future (from the year 2100) and the past (from the year 1,
    // three months each), all in one burst.
    let n_absurd = soak_events(2_000).min(10_000);
    let half = n_absurd / 2;
    for i in 0..n_absurd {
        let (year, month) = if i < half { (2_100 + i, 6) } else { (1 + (i - half) / 3, 1 + (i - half) % 3) };
        let line = connect_at(&uuid::Uuid::now_v7().to_string(), &format!("{year:04}-{month:02}-01T12:00:00Z"));
        send(&producer, &setup.connect_topic, "w", line.as_bytes());
    }
    flush(&producer);

    let log = dir.path().join("ingest.log");
    let budget = BUDGET.to_string();
    let max_hours = MAX_HOURS.to_string();
    let port = free_port();
    let http = format!("127.0.0.1:{port}");
    let args = ["--memory-budget", &budget, "--max-bytes", "33554432", "--max-hours", &max_hours, "--http-addr", &http];
    let mut child = spawn_patient(&setup, &args, &log);
    // Reading thousands of letters back through tansu is too slow for CI; the dead-letter e2e
    // test reads letters and their headers. Here: every one counted with its reason, and on
    // the topic.
    let dead_letter_topic = format!("{}.dlq", setup.connect_topic);
    wait_until("every dead letter on its topic", Duration::from_secs(120), &log, || {
        high_watermark(&setup.brokers, &dead_letter_topic) == n_absurd as i64
    });
    let counted = metric(port, "failscope_ingest_dead_letters_total").expect("metrics");
    let out_of_window = get(port, "/metrics").map(|(_, body)| body).unwrap_or_default();
    assert_eq!(counted, n_absurd as f64);
    assert!(out_of_window.contains(&format!("reason=\"out_of_window\"}} {n_absurd}\n")), "{out_of_window}");

    // Then 1,000 distinct hours inside the window (January and February 2022) and 500 ordinary
    // events: at most --max-hours files per flush. (While a partition's dead letters are still
    // unacknowledged its buffer cannot be sealed, and only the memory budget bounds its hours.)
    let mut produced = HashMap::new();
    for h in 0..1_000 {
        let id = uuid::Uuid::now_v7().to_string();
        let (month, day) = if h / 24 < 31 { (1, h / 24 + 1) } else { (2, h / 24 - 30) };
        let line = connect_at(&id, &format!("2022-{month:02}-{day:02}T{:02}:30:00Z", h % 24));
        send(&producer, &setup.connect_topic, "w", line.as_bytes());
        produced.insert(id, true);
    }
    flush(&producer);
    produce_range(&setup, 0..500, &mut produced);
    wait_for_rows(&lake, produced.len(), Duration::from_secs(240), &[&log]);
    let peak = peak_rss_bytes(child.0.id());
    println!("peak resident memory {} MiB, budget 128 MiB", peak >> 20);
    assert!(peak <= BUDGET * 3 / 2, "peak resident memory {} MiB over 1.5 x the 128 MiB budget", peak >> 20);
    assert!(child.0.try_wait().expect("try_wait").is_none(), "the ingest keeps running");
    signal(&child, "TERM");
    assert_clean_exit(&mut child, Duration::from_secs(40), &log);

    assert_exactly_once(&lake, &produced);
    for file in parquet_files(&lake) {
        let reader = std::fs::File::open(&file).expect("open parquet");
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(reader).expect("footer");
        let kvs = builder.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
        let n_files: usize = kvs
            .iter()
            .find(|kv| kv.key == "failscope.flush_files")
            .and_then(|kv| kv.value.as_deref()?.parse().ok())
            .expect("flush_files in the footer");
        assert!(n_files <= MAX_HOURS, "{}: a flush of {n_files} files", file.display());
    }
}
