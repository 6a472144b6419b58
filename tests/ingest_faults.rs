//! `failscope ingest` under injected faults, against the real test broker: a lake whose disk
//! fills up mid-run, a dead letter larger than the producer may send, a lake that cannot be
//! read when a partition is assigned. Each test makes the
//! fault really happen (a full tmpfs, a real oversized message, not a mock) and checks that
//! nothing is lost or duplicated, and that nothing else stalls.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use failscope_test_support::events::event;
use failscope_test_support::fs::{Tmpfs, fill};
use failscope_test_support::http::{free_port, health, metric};
use failscope_test_support::kafka::{brokers, consume_all, flush};
use failscope_test_support::wait::wait_until;

use crate::support::lake::{
    IngestSetup, assert_clean_exit, assert_exactly_once, lake_rows, parquet_files, produce_range, signal,
    spawn_patient, wait_for_rows,
};

fn rows_in(file: &Path) -> i64 {
    let reader = std::fs::File::open(file).expect("open parquet");
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(reader).expect("footer");
    builder.metadata().file_metadata().num_rows()
}

#[test]
fn a_full_disk_stalls_the_ingest_and_loses_nothing_once_freed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lake = dir.path().join("lake");
    let _disk = Tmpfs::mount(&lake, "16m");
    let setup = IngestSetup::new("enospc", &lake, 3);
    let log = dir.path().join("ingest.log");
    let port = free_port();
    let http = format!("127.0.0.1:{port}");
    let mut child = spawn_patient(&setup, &["--http-addr", &http, "--stall-timeout", "2s"], &log);
    let mut produced = HashMap::new();

    produce_range(&setup, 0..2_000, &mut produced);
    wait_for_rows(&lake, 2_000, Duration::from_secs(120), &[&log]);
    assert_eq!(health(port), Some(200), "healthy while flushes succeed");

    let filler = lake.join("filler");
    fill(&filler);
    produce_range(&setup, 2_000..5_000, &mut produced);
    wait_until("a failed flush is counted", Duration::from_secs(60), &log, || {
        metric(port, "failscope_ingest_flush_errors_total").is_some_and(|n| n >= 1.0)
    });
    wait_until("/healthz reports the stalled partitions", Duration::from_secs(30), &log, || health(port) == Some(503));
    assert!(lake_rows(&lake) < 5_000, "the disk was full, yet everything was published");

    std::fs::remove_file(&filler).expect("free the disk");
    wait_for_rows(&lake, 5_000, Duration::from_secs(120), &[&log]);
    wait_until("/healthz healthy again", Duration::from_secs(30), &log, || health(port) == Some(200));
    signal(&child, "TERM");
    assert_clean_exit(&mut child, Duration::from_secs(40), &log);

    assert_exactly_once(&lake, &produced);
    let empty: Vec<_> = parquet_files(&lake).into_iter().filter(|f| rows_in(f) == 0).collect();
    assert!(empty.is_empty(), "empty files published: {empty:?}");
}

#[test]
fn a_dead_letter_too_large_to_produce_is_cut_and_stalls_nothing() {
    const N_VALID: usize = 3_000;
    const BIG: usize = 1_500_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let lake = dir.path().join("lake");
    let setup = IngestSetup::new("dlq-size", &lake, 3);
    // The source topic takes the big message: only the dead-letter producer's limit is hit.
    let big_producer: rdkafka::producer::ThreadedProducer<rdkafka::producer::DefaultProducerContext> =
        rdkafka::ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .set("message.max.bytes", "4000000")
            .set("log_level", "3")
            .create()
            .expect("producer");
    let big = vec![b'x'; BIG];
    let record = rdkafka::producer::BaseRecord::to(&setup.connect_topic).key("big").payload(&big).partition(0);
    big_producer.send(record).map_err(|(e, _)| e).expect("queue the big message");
    flush(&big_producer);
    let producer = setup.producer();
    let mut produced = HashMap::new();
    for i in 0..N_VALID {
        let id = uuid::Uuid::now_v7().to_string();
        let (is_connect, line) = event(i, &id);
        let topic = if is_connect { &setup.connect_topic } else { &setup.job_topic };
        let partition = i32::try_from(i % 3).expect("small");
        let record = rdkafka::producer::BaseRecord::to(topic).key("w").payload(line.as_bytes()).partition(partition);
        producer.send(record).map_err(|(e, _)| e).expect("queue an event");
        produced.insert(id, is_connect);
    }
    flush(&producer);

    let log = dir.path().join("ingest.log");
    let mut child = spawn_patient(&setup, &[], &log);
    wait_for_rows(&lake, N_VALID, Duration::from_secs(120), &[&log]);
    let dead = consume_all(
        &brokers(),
        &format!("{}.dlq", setup.connect_topic),
        1,
        Duration::from_secs(60),
        Duration::from_secs(2),
    );
    signal(&child, "TERM");
    assert_clean_exit(&mut child, Duration::from_secs(40), &log);

    assert_eq!(dead.len(), 1, "the big message dead-lettered once");
    let letter = &dead[0];
    assert_eq!(letter.headers["failscope.error_kind"], "malformed");
    assert_eq!(letter.headers["failscope.truncated_from_bytes"], BIG.to_string());
    assert!(letter.payload.len() < 1_000_000 && letter.payload.len() > 900_000, "{}", letter.payload.len());
    assert!(big.starts_with(&letter.payload), "the cut keeps the start of the message");
    assert_exactly_once(&lake, &produced);
}

#[test]
fn a_recovery_that_fails_is_retried_until_the_lake_is_readable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lake = dir.path().join("lake");
    let setup = IngestSetup::new("recovery", &lake, 2);
    // A file where the table's date directories are: listing the table fails (ENOTDIR), so
    // recovery of every connect partition fails until the file is removed.
    let blocker = lake.join("connect_attempts/date=2022-04-05");
    std::fs::create_dir_all(blocker.parent().expect("parent")).expect("table dir");
    std::fs::write(&blocker, b"in the way").expect("blocker");
    let mut produced = HashMap::new();
    produce_range(&setup, 0..1_000, &mut produced);
    let n_jobs = produced.values().filter(|is_connect| !**is_connect).count();

    let log = dir.path().join("ingest.log");
    let port = free_port();
    let http = format!("127.0.0.1:{port}");
    let mut child = spawn_patient(&setup, &["--http-addr", &http, "--stall-timeout", "2s"], &log);
    wait_until("a failed recovery is counted", Duration::from_secs(60), &log, || {
        metric(port, "failscope_ingest_recovery_errors_total").is_some_and(|n| n >= 1.0)
    });
    wait_until("/healthz reports the unrecovered partitions", Duration::from_secs(30), &log, || {
        health(port) == Some(503)
    });
    wait_for_rows(&lake, n_jobs, Duration::from_secs(60), &[&log]);
    assert_eq!(lake_rows(&lake), n_jobs, "the job outcomes flow; no connect attempt is consumed unrecovered");

    std::fs::remove_file(&blocker).expect("remove the blocker");
    wait_for_rows(&lake, produced.len(), Duration::from_secs(120), &[&log]);
    wait_until("/healthz healthy again", Duration::from_secs(30), &log, || health(port) == Some(200));
    signal(&child, "TERM");
    assert_clean_exit(&mut child, Duration::from_secs(40), &log);
    assert_exactly_once(&lake, &produced);
}
