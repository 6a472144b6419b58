//! Benchmarks (b) and (d) of the ingest, against a real broker:
//!
//! - (b) drain: a topic pre-filled with N realistic events is drained by a count-only rdkafka
//!   consumer and by `failscope ingest` (until every row is published in the lake), alternately,
//!   each in a fresh consumer group; the figure is the ratio of their throughputs, median of the
//!   runs.
//! - (d) overload: `failscope ingest` with a memory budget B and no other reason to roll drains
//!   a backlog of 2 × B of JSON; the figure is its peak resident memory (VmHWM) ÷ B.
//!
//! `scripts/bench.sh` starts a broker and runs it; by hand:
//! `FAILSCOPE_BENCH_BROKERS=127.0.0.1:PORT cargo bench -p failscope --bench ingest_drain`.
//! Sizes: FAILSCOPE_BENCH_DRAIN_EVENTS (default 300000), FAILSCOPE_BENCH_DRAIN_RUNS (3),
//! FAILSCOPE_BENCH_BUDGET_MIB (128).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use failscope_test_support::bench::{env_or, median};
use failscope_test_support::events::connect_event;
use failscope_test_support::http::{free_port, metric};
use failscope_test_support::kafka::{producer, send};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::Producer;

const PARTITIONS: i32 = 6;
const ROWS_WRITTEN: &str = "failscope_ingest_rows_written_total";
const CONSUMED: &str = "failscope_ingest_messages_consumed_total";

struct Topics {
    connects: String,
    jobs: String,
}

fn create_topics(brokers: &str, tag: &str) -> Topics {
    let topics = Topics {
        connects: format!("bench-{tag}-connects-{}", uuid::Uuid::new_v4()),
        jobs: format!("bench-{tag}-jobs-{}", uuid::Uuid::new_v4()),
    };
    failscope_test_support::kafka::create_topics(brokers, &[&topics.connects, &topics.jobs], PARTITIONS);
    topics
}

/// Produces `n` events to `topic`, keyed by worker like real workers; returns the JSON bytes.
fn prefill(brokers: &str, topic: &str, n: usize) -> usize {
    let producer = producer(brokers);
    let started = Instant::now();
    let mut bytes = 0;
    for i in 0..n {
        let payload = connect_event(i);
        bytes += payload.len();
        send(&producer, topic, &format!("worker-{}", i % 300), payload.as_bytes());
    }
    producer.flush(Duration::from_secs(300)).expect("every event acknowledged");
    let secs = started.elapsed().as_secs_f64();
    println!("prefill: {n} events, {} MiB of JSON, in {secs:.1} s", bytes >> 20);
    bytes
}

/// Seconds for a consumer that only counts messages to read `n` from `topic`.
fn count_only_drain(brokers: &str, topic: &str, n: usize) -> f64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("bench-count-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    let started = Instant::now();
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut seen = 0;
    while seen < n {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => seen += 1,
            Some(Err(e)) => panic!("count-only consumer: {e}"),
            None => assert!(started.elapsed() < Duration::from_secs(600), "count-only consumer stalled at {seen}"),
        }
    }
    started.elapsed().as_secs_f64()
}

struct Ingest {
    child: Child,
    port: u16,
}

impl Ingest {
    fn spawn(brokers: &str, topics: &Topics, lake: &Path, extra: &[&str]) -> Ingest {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_failscope"))
            .args(["ingest", "--brokers", brokers, "--group"])
            .arg(format!("bench-ingest-{}", uuid::Uuid::new_v4()))
            .args(["--connect-attempts-topic", &topics.connects, "--job-outcomes-topic", &topics.jobs, "--lake"])
            .arg(lake)
            .args(["--http-addr", &format!("127.0.0.1:{port}")])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start failscope ingest");
        Ingest { child, port }
    }

    /// Waits until the counter `name` reaches `n`; returns the seconds since `started`.
    fn wait_for(&mut self, name: &str, n: u64, started: Instant) -> f64 {
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("failscope ingest exited early: {status}");
            }
            if metric(self.port, name) == Some(n as f64) {
                return started.elapsed().as_secs_f64();
            }
            assert!(started.elapsed() < Duration::from_secs(900), "ingest: {name} did not reach {n}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benchmarks; there is nothing to list.
    }
    let Some(brokers) =
        std::env::var("FAILSCOPE_BENCH_BROKERS").ok().or_else(|| std::env::var("FAILSCOPE_TEST_BROKERS").ok())
    else {
        eprintln!("ingest_drain: set FAILSCOPE_BENCH_BROKERS (scripts/bench.sh starts a broker)");
        std::process::exit(2);
    };
    let n: usize = env_or("FAILSCOPE_BENCH_DRAIN_EVENTS", 300_000);
    let runs: usize = env_or("FAILSCOPE_BENCH_DRAIN_RUNS", 3);
    let budget: usize = env_or("FAILSCOPE_BENCH_BUDGET_MIB", 128) << 20;
    let scratch = tempfile::tempdir().expect("scratch dir");

    // (d) first, so that the peak resident set of children is the overloaded ingest's: peak
    // memory under a 2x overload, a backlog twice the budget, nothing but the budget rolls.
    let topics = create_topics(&brokers, "overload");
    let per_event = connect_event(0).len();
    let n_overload = 2 * budget / per_event;
    prefill(&brokers, &topics.connects, n_overload);
    let budget_arg = budget.to_string();
    let max_bytes_arg = (budget / 2).to_string();
    let started = Instant::now();
    let mut process = Ingest::spawn(
        &brokers,
        &topics,
        &scratch.path().join("overload"),
        &["--memory-budget", &budget_arg, "--max-bytes", &max_bytes_arg, "--max-rows", "100000000", "--max-age", "1h"],
    );
    let secs = process.wait_for(CONSUMED, n_overload as u64, started);
    // The last rows sit under the budget until the shutdown publishes them.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(process.child.id() as i32), nix::sys::signal::SIGTERM)
        .expect("signal the ingest");
    let status = process.child.wait().expect("ingest exits");
    assert!(status.success(), "ingest exit status {status}");
    // The largest resident set of any waited-for child: (d) runs first, so it is this one.
    let peak = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage")
        .max_rss() as usize
        * 1024;
    println!(
        "(d) budget {} MiB, backlog {} MiB ({n_overload} events) drained in {secs:.1} s: peak RSS {} MiB = {:.2} x budget",
        budget >> 20,
        (n_overload * per_event) >> 20,
        peak >> 20,
        peak as f64 / budget as f64
    );

    // (b) drain ratio; FAILSCOPE_BENCH_DRAIN_RUNS=0 skips it.
    if runs == 0 {
        return;
    }
    let topics = create_topics(&brokers, "drain");
    let json_bytes = prefill(&brokers, &topics.connects, n);
    let (mut count_only, mut ingest) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let c = count_only_drain(&brokers, &topics.connects, n);
        let lake = scratch.path().join(format!("drain-{run}"));
        let started = Instant::now();
        let mut process = Ingest::spawn(&brokers, &topics, &lake, &["--max-age", "2s"]);
        let i = process.wait_for(ROWS_WRITTEN, n as u64, started);
        drop(process);
        println!(
            "run {run}: count-only {c:.2} s ({:.0} events/s), ingest {i:.2} s ({:.0} events/s)",
            n as f64 / c,
            n as f64 / i
        );
        count_only.push(n as f64 / c);
        ingest.push(n as f64 / i);
    }
    let (c, i) = (median(count_only), median(ingest));
    println!("(b) drain of {n} events ({} MiB of JSON), median of {runs}:", json_bytes >> 20);
    println!("    count-only consumer {c:.0} events/s, failscope ingest {i:.0} events/s, ratio {:.2}", i / c);
}
