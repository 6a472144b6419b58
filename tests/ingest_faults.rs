//! `failscope ingest` under injected faults, against the real test broker: a lake whose disk
//! fills up mid-run, a dead letter larger than the producer may send, a lake that cannot be
//! read when a partition is assigned, a member paused past its session that resumes as a
//! zombie writer. Each test makes the
//! fault really happen (a full tmpfs, a real oversized message, not a mock) and checks that
//! nothing is lost or duplicated, and that nothing else stalls.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use failscope_test_support::events::event;
use failscope_test_support::fs::{Tmpfs, fill};
use failscope_test_support::http::{free_port, health, metric, samples};
use failscope_test_support::kafka::{brokers, consume_all, flush};
use failscope_test_support::wait::{tail, wait_until};

use crate::support::lake::{
    Ingest, IngestSetup, assert_clean_exit, assert_exactly_once, assert_no_incomplete_flush, lake_rows, parquet_files,
    produce_events, produce_range, signal, spawn_patient, wait_for_rows,
};

const CONSUMED: &str = "failscope_ingest_messages_consumed_total";
const FENCED: &str = "failscope_ingest_fenced_flushes_total";

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

/// A member paused past its session (SIGSTOP) in the middle of a flush is a zombie: the group
/// gives its partitions to the other member, which recovers them; resumed (SIGCONT), the
/// zombie carries on with its flush. It must find itself fenced by the newer owner's
/// generation and drop the flush rather than publish the rest.
///
/// The zombie runs under strace, which delays the return of each of its publishes (the link
/// into the lake) by two seconds: a slow disk, so that the pause lands mid-flush, right after
/// its first file. The other member holds its rows for 20 s, so that the zombie resumes after
/// the takeover but before the new owner publishes (otherwise the create-only publish alone
/// would refuse the zombie's files of the same names).
#[test]
fn a_zombie_member_resumed_after_a_takeover_is_fenced_before_it_publishes() {
    const N_EVENTS: usize = 2_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let lake = dir.path().join("lake");
    let setup = IngestSetup::new("zombie", &lake, 2);
    let (zombie_log, owner_log, trace) =
        (dir.path().join("zombie.log"), dir.path().join("owner.log"), dir.path().join("zombie.strace"));
    let ports = [free_port(), free_port()];
    let tracer = [
        "strace",
        "-f",
        "-qq",
        "--seccomp-bpf",
        "-e",
        "signal=none",
        "-e",
        "trace=linkat",
        "-e",
        "inject=linkat:delay_exit=2000000",
        "-o",
        trace.to_str().expect("utf-8 path"),
    ];
    let zombie_http = format!("127.0.0.1:{}", ports[0]);
    let zombie_args = ["--http-addr", &zombie_http, "--session-timeout", "6s", "--max-age", "3s"];
    let mut zombie = setup.spawn_under(&tracer, &zombie_args, &zombie_log);
    // tansu holds the whole group to the session of the member that formed it: the zombie's
    // short one, so that its pause evicts it. So it joins first.
    wait_until("the zombie-to-be forms the group", Duration::from_secs(120), &zombie_log, || {
        samples(ports[0], CONSUMED).is_some_and(|s| !s.is_empty())
    });
    let owner_http = format!("127.0.0.1:{}", ports[1]);
    let mut owner = spawn_patient(&setup, &["--http-addr", &owner_http, "--max-age", "20s"], &owner_log);
    wait_until("the other member holds partitions", Duration::from_secs(120), &owner_log, || {
        samples(ports[1], CONSUMED).is_some_and(|s| !s.is_empty())
    });
    // The zombie-to-be got all four partitions alone, then two of them back.
    wait_until("the zombie-to-be holds its share", Duration::from_secs(60), &zombie_log, || {
        assignments(&zombie_log) >= 6
    });
    let zombie_pid = traced_pid(&zombie);
    let mut produced = HashMap::new();
    produce_events(&setup.producer(), &setup, 0..N_EVENTS, |i| format!("w-{}", i % 97), &mut produced);

    wait_until("the zombie-to-be publishes its first file", Duration::from_secs(60), &zombie_log, || {
        !lake_links(&trace, 0).is_empty()
    });
    kill(zombie_pid, "STOP");
    let owner_assigned = assignments(&owner_log);
    wait_until("the other member recovers every partition", Duration::from_secs(120), &owner_log, || {
        assignments(&owner_log) >= owner_assigned + 4
    });
    let resumed_at = std::fs::metadata(&trace).map_or(0, |m| m.len());
    kill(zombie_pid, "CONT");
    wait_until("the zombie is fenced (or publishes)", Duration::from_secs(60), &zombie_log, || {
        metric(ports[0], FENCED).is_some_and(|n| n >= 1.0) || !lake_links(&trace, resumed_at).is_empty()
    });
    let late = lake_links(&trace, resumed_at);
    assert!(late.is_empty(), "the zombie published after the takeover: {late:?}\n{}", tail(&zombie_log, 30));
    assert!(tail(&zombie_log, 300).contains("fenced: a newer owner"), "the zombie logs that it was fenced");

    wait_for_rows(&lake, N_EVENTS, Duration::from_secs(180), &[&owner_log, &zombie_log]);
    kill(zombie_pid, "TERM");
    assert_clean_exit(&mut zombie, Duration::from_secs(60), &zombie_log);
    signal(&owner, "TERM");
    assert_clean_exit(&mut owner, Duration::from_secs(60), &owner_log);
    assert_exactly_once(&lake, &produced);
    assert_no_incomplete_flush(&lake);
}

/// The process a tracer runs: its only child.
fn traced_pid(tracer: &Ingest) -> u32 {
    let children = format!("/proc/{0}/task/{0}/children", tracer.0.id());
    let text = std::fs::read_to_string(&children).expect("the tracer's children");
    text.split_whitespace().next().and_then(|pid| pid.parse().ok()).expect("the tracer runs the ingest")
}

fn kill(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status();
    assert!(status.expect("run kill").success(), "kill -{signal} {pid}");
}

/// The lake paths the traced ingest linked successfully (its publishes), in the trace from
/// byte `from` on.
fn lake_links(trace: &Path, from: u64) -> Vec<String> {
    let text = std::fs::read(trace).unwrap_or_default();
    let text = String::from_utf8_lossy(text.get(usize::try_from(from).expect("small")..).unwrap_or_default());
    text.lines()
        .filter(|line| line.contains("linkat(") && line.contains(") = 0"))
        .filter_map(|line| line.split('"').nth(3).map(str::to_string))
        .filter(|target| target.ends_with(".parquet"))
        .collect()
}

/// How many partitions an ingest has been assigned so far, by its log.
fn assignments(log: &Path) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().lines().filter(|l| l.contains("pipeline: assigned")).count()
}
