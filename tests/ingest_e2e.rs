//! `failscope ingest` against the real test broker: exactly once across SIGKILLs and a
//! rebalance, dead letters with reasons, a clean SIGTERM, and a lake DuckDB reads.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use failscope_test_support::events::event;
use failscope_test_support::http::{free_port, metric, samples};
use failscope_test_support::kafka::{brokers, consume_all, flush, send};
use failscope_test_support::wait::wait_until;
use rand::{Rng, SeedableRng};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::Offset;

use crate::support;
use crate::support::lake::{
    IngestSetup, all_files, assert_clean_exit, assert_exactly_once, assert_no_incomplete_flush, lake_ids, lake_rows,
    produce_events, signal, soak_events, spawn_patient, wait_exit, wait_for_rows,
};

const CONSUMED: &str = "failscope_ingest_messages_consumed_total";

/// Produces `n` events to the setup's topics, `per_burst` at a time with `pause` between
/// bursts. Returns every produced `event_id`.
fn produce(setup: &IngestSetup, n: usize, per_burst: usize, pause: Duration) -> HashMap<String, bool> {
    let producer = setup.producer();
    let mut ids = HashMap::with_capacity(n);
    for start in (0..n).step_by(per_burst) {
        produce_events(&producer, setup, start..(start + per_burst).min(n), per_worker, &mut ids);
        std::thread::sleep(pause);
    }
    ids
}

/// Keys events by worker, as workers do, over 97 workers.
fn per_worker(i: usize) -> String {
    format!("w-{}", i % 97)
}

/// Whether the ingest serving `/metrics` on `port` holds partitions: its series of consumed
/// messages of a topic appears when it is assigned a partition of that topic.
fn holds_partitions(port: u16) -> bool {
    samples(port, CONSUMED).is_some_and(|samples| !samples.is_empty())
}

/// Asserts that the lake holds only data files, besides the owner markers of `_owners/`.
fn assert_no_temporary_files(lake: &std::path::Path) {
    let leftovers: Vec<_> = all_files(lake)
        .into_iter()
        .filter(|p| !p.starts_with(lake.join("_owners")))
        .filter(|p| p.extension().is_none_or(|e| e != "parquet") || p.starts_with(lake.join("_staging")))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left in the lake: {leftovers:?}");
}

#[test]
fn sigkill_at_random_instants_loses_and_duplicates_nothing() {
    const N_KILLS: usize = 20;
    let dir = tempfile::tempdir().expect("temp dir");
    let lake = dir.path().join("lake");
    let log = dir.path().join("ingest.log");
    let setup = IngestSetup::new("crash", &lake, 6);
    let n_events = soak_events(20_000);
    let producer = setup.producer();
    let mut produced = HashMap::with_capacity(n_events);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let started = Instant::now();
    // Each run gets a burst of events and is killed at a random instant while it ingests them:
    // after it got its partitions (not while still joining the group), mid-consume, mid-write
    // or mid-commit. A kill "mid-write" is one during whose run the lake grew.
    let (mut n_kills_mid_write, mut rows) = (0, 0);
    let per_run = n_events.div_ceil(N_KILLS);
    for run in 0..N_KILLS {
        let port = free_port();
        let http = format!("127.0.0.1:{port}");
        let mut child = setup.spawn(&["--max-rows", &(n_events / 30).to_string(), "--http-addr", &http], &log);
        let spawned = Instant::now();
        while !holds_partitions(port) && spawned.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let range = run * per_run..((run + 1) * per_run).min(n_events);
        produce_events(&producer, &setup, range, per_worker, &mut produced);
        std::thread::sleep(Duration::from_millis(rng.random_range(0..1_500)));
        signal(&child, "KILL");
        wait_exit(&mut child, Duration::from_secs(10));
        let now = lake_rows(&lake);
        n_kills_mid_write += usize::from(now > rows);
        rows = now;
        // Restart once the dead member's session (6 s) has expired, as a supervisor with a
        // back-off would: tansu's group coordinator can stop answering a member that joins
        // while a dead one that held partitions is still in the group. A fixed back-off, not a
        // condition: tansu 0.6 answers neither ListGroups nor DescribeGroups, so the group's
        // members cannot be polled.
        std::thread::sleep(Duration::from_secs(7));
    }
    println!(
        "{N_KILLS} SIGKILLs in {:?}, {n_kills_mid_write} of them mid-write; lake at {rows} of {n_events} rows",
        started.elapsed()
    );
    let mut last = spawn_patient(&setup, &[], &log);
    wait_for_rows(&lake, n_events, Duration::from_secs(300), &[&log]);
    signal(&last, "TERM");
    assert_clean_exit(&mut last, Duration::from_secs(40), &log);
    assert!(n_kills_mid_write >= 5, "only {n_kills_mid_write} of {N_KILLS} kills hit an ingest that was writing");
    assert_exactly_once(&lake, &produced);
    assert_no_temporary_files(&lake);
    assert_no_incomplete_flush(&lake);
}

#[test]
fn a_member_killed_mid_stream_hands_over_its_partitions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lake = dir.path().join("lake");
    let setup = Arc::new(IngestSetup::new("rebalance", &lake, 6));
    let (first_log, second_log) = (dir.path().join("first.log"), dir.path().join("second.log"));
    let ports = [free_port(), free_port()];
    let spawn = |port: u16, log: &std::path::Path| {
        setup.spawn(&["--max-rows", "5000", "--http-addr", &format!("127.0.0.1:{port}")], log)
    };
    let mut first = spawn(ports[0], &first_log);
    let mut second = spawn(ports[1], &second_log);
    let producer_thread = {
        let setup = Arc::clone(&setup);
        std::thread::spawn(move || produce(&setup, soak_events(20_000), 1_000, Duration::from_millis(300)))
    };
    // Mid-stream means both members own partitions and consume them; a member killed while
    // still joining tests tansu's join path instead, which can leave the survivor waiting.
    for (port, log) in ports.iter().zip([&first_log, &second_log]) {
        wait_until("both members consume", Duration::from_secs(120), log, || {
            metric(*port, CONSUMED).is_some_and(|n| n > 0.0)
        });
    }
    signal(&first, "KILL");
    wait_exit(&mut first, Duration::from_secs(10));
    let produced = producer_thread.join().expect("producer thread");
    wait_for_rows(&lake, produced.len(), Duration::from_secs(300), &[&first_log, &second_log]);
    signal(&second, "TERM");
    assert_clean_exit(&mut second, Duration::from_secs(40), &second_log);
    assert_exactly_once(&lake, &produced);
}

#[test]
fn malformed_messages_go_to_the_dead_letter_topic_with_their_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lake = dir.path().join("lake");
    let setup = IngestSetup::new("dlq", &lake, 3);
    let producer = setup.producer();
    let mut produced = HashMap::new();
    let n_valid = soak_events(20_000);
    let n_bad = n_valid / 20;
    let mut bad_reasons = BTreeMap::new();
    for i in 0..n_valid + n_bad {
        if i % 21 == 20 && bad_reasons.values().sum::<usize>() < n_bad {
            let (payload, reason): (Vec<u8>, &str) = match (i / 21) % 4 {
                0 => (b"\xff\xfe not json".to_vec(), "malformed"),
                1 => (
                    event(i, "x").1.replace("\"schema_version\":1", "\"schema_version\":2").into_bytes(),
                    "unsupported_version",
                ),
                2 => (event(1, "x").1.replace("\"target_host\":\"api.example.com\",", "").into_bytes(), "invalid"),
                _ => (event(0, "x").1.into_bytes(), "wrong_event_type"),
            };
            // wrong_event_type: a job outcome on the connect topic.
            send(&producer, &setup.connect_topic, "bad", &payload);
            *bad_reasons.entry(reason).or_insert(0) += 1;
        } else {
            let id = uuid::Uuid::now_v7().to_string();
            let (is_connect, line) = event(i, &id);
            send(&producer, if is_connect { &setup.connect_topic } else { &setup.job_topic }, "w", line.as_bytes());
            produced.insert(id, is_connect);
        }
    }
    flush(&producer);
    assert_eq!((produced.len(), bad_reasons.values().sum::<usize>()), (n_valid, n_bad));
    let log = dir.path().join("ingest.log");
    let mut child = spawn_patient(&setup, &[], &log);
    wait_for_rows(&lake, n_valid, Duration::from_secs(240), &[&log]);
    let dead = consume_all(
        &brokers(),
        &format!("{}.dlq", setup.connect_topic),
        n_bad,
        Duration::from_secs(120),
        Duration::from_secs(2),
    );
    signal(&child, "TERM");
    assert_clean_exit(&mut child, Duration::from_secs(40), &log);
    assert_eq!(dead.len(), n_bad, "every malformed message dead-lettered once");
    let mut got_reasons = BTreeMap::new();
    for m in &dead {
        assert_eq!(m.headers["failscope.source_topic"], setup.connect_topic);
        assert!(m.headers["failscope.source_offset"].parse::<i64>().is_ok());
        assert!(!m.headers["failscope.error"].is_empty());
        *got_reasons.entry(m.headers["failscope.error_kind"].clone()).or_insert(0) += 1;
    }
    let want: BTreeMap<String, usize> = bad_reasons.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    assert_eq!(got_reasons, want);
    assert_exactly_once(&lake, &produced);
}

#[test]
fn sigterm_publishes_commits_and_duckdb_reads_the_lake() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lake = dir.path().join("lake");
    let setup = IngestSetup::new("sigterm", &lake, 3);
    let produced = produce(&setup, 20_000, 20_000, Duration::ZERO);
    let port = free_port();
    let http = format!("127.0.0.1:{port}");
    // A max age of an hour: nothing is published before the shutdown.
    let log = dir.path().join("ingest.log");
    let mut child = spawn_patient(&setup, &["--max-age", "1h", "--http-addr", &http], &log);
    let started = Instant::now();
    while metric(port, CONSUMED) != Some(20_000.0) {
        assert!(started.elapsed() < Duration::from_secs(300), "ingest did not consume everything");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(lake_ids(&lake, "connect_attempts").is_empty(), "nothing published before shutdown");
    let stopping = Instant::now();
    signal(&child, "TERM");
    assert_clean_exit(&mut child, Duration::from_secs(35), &log);
    assert!(stopping.elapsed() < Duration::from_secs(30), "within the default deadline");
    assert_exactly_once(&lake, &produced);
    assert_no_temporary_files(&lake);

    // Offsets were committed up to the end of every partition.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", &setup.group)
        .create()
        .expect("consumer");
    for topic in [&setup.connect_topic, &setup.job_topic] {
        let mut tpl = rdkafka::TopicPartitionList::new();
        for p in 0..3 {
            tpl.add_partition(topic, p);
        }
        let committed = consumer.committed_offsets(tpl, Duration::from_secs(10)).expect("committed offsets");
        for e in committed.elements() {
            let (_, high) =
                consumer.fetch_watermarks(topic, e.partition(), Duration::from_secs(10)).expect("watermarks");
            assert_eq!(e.offset(), Offset::Offset(high), "{topic}/{} committed to the end", e.partition());
        }
    }

    // DuckDB reads the lake with hive partitioning and counts the same rows per table and hour.
    let python = std::env::var("FAILSCOPE_TEST_PYTHON").unwrap_or_else(|_| "python3".to_string());
    for table in ["connect_attempts", "job_outcomes"] {
        let mut ours: BTreeMap<String, usize> = BTreeMap::new();
        for (_, partition) in lake_ids(&lake, table) {
            *ours.entry(partition.replace('/', " ")).or_default() += 1;
        }
        let script = format!(
            "import duckdb\nfor d, h, n in duckdb.sql(\"SELECT date, hour, count(*) FROM read_parquet('{}/**/*.parquet', hive_partitioning=true, hive_types_autocast=false) GROUP BY ALL ORDER BY ALL\").fetchall(): print(f'date={{d}} hour={{h}} {{n}}')",
            lake.join(table).display()
        );
        let out = Command::new(&python).args(["-c", &script]).output().expect("run python with duckdb");
        assert!(out.status.success(), "duckdb: {}", String::from_utf8_lossy(&out.stderr));
        let theirs: BTreeMap<String, usize> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.rsplit_once(' '))
            .map(|(k, n)| (k.to_string(), n.parse().expect("count")))
            .collect();
        assert_eq!(theirs, ours, "{table}");
        assert_eq!(ours.len(), 3, "{table}: events spread over three hours");

        // `failscope sql` reads the same lake through its catalog and views.
        let sql = format!("SELECT date, hour, count(*) AS n FROM {table} GROUP BY date, hour ORDER BY date, hour");
        let by_sql: BTreeMap<String, usize> = support::sql(&lake, &sql)
            .iter()
            .map(|r| (format!("date={} hour={:02}", r[0], parse(&r[1])), parse(&r[2])))
            .collect();
        assert_eq!(by_sql, ours, "failscope sql over {table}");
    }

    // Every test job failed a build step with exit code 1 and no connect trouble of its own: the
    // classification calls each one a user failure, even though the region's connects time out.
    let n_jobs = produced.values().filter(|is_connect| !**is_connect).count();
    let attribution =
        support::sql(&lake, "SELECT attribution, rule_id, count(*) FROM job_classifications GROUP BY 1, 2");
    assert_eq!(attribution, [vec!["user".to_string(), "user_step".to_string(), n_jobs.to_string()]]);
}

fn parse(n: &str) -> usize {
    n.parse().unwrap_or_else(|e| panic!("{n:?}: {e}"))
}
