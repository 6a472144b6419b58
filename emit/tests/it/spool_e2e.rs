//! The spool's promise end to end: with the broker stopped, a process emits events and is
//! killed with SIGKILL; after the broker is back, a new emitter delivers every event, each
//! `event_id` once, with its original timestamps.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use failscope_emit::{Emitter, EmitterConfig, create_topics};
use failscope_schemas::{ConnectAttempt, ConnectOutcome, Event, Timestamp, decode};
use failscope_test_support::kafka::{consume_payloads, unique};
use failscope_test_support::process::{test_binary, test_name};
use failscope_test_support::tansu::OwnBroker;

use crate::support::{connect_attempt, emitter_config};

const N_EVENTS: usize = 25;
const HELPER_ENV: &str = "FAILSCOPE_SPOOL_TEST_HELPER";

fn config(brokers: String, topic: &str, spool_dir: &Path) -> EmitterConfig {
    emitter_config(brokers, topic, spool_dir, "w-spool", Duration::from_millis(300))
}

fn attempt(run: &str, i: usize) -> ConnectAttempt<'static> {
    let mut attempt = connect_attempt(&format!("{run}-{i:03}"), "w-spool");
    attempt.started_at = attempt.started_at.add_millis(i as i64 * 1000);
    attempt.duration_ms = 3000.0;
    attempt.phase = Some(Cow::Borrowed("probe"));
    attempt.outcome = ConnectOutcome::Timeout;
    attempt.errno = Some(110);
    attempt
}

/// Runs only as the child process of `spool_survives_sigkill_and_broker_outage`: emits the
/// events against a stopped broker, then waits to be killed.
#[tokio::test]
async fn spool_helper_process() {
    let Ok(spec) = std::env::var(HELPER_ENV) else { return };
    let mut parts = spec.splitn(4, '|');
    let (brokers, topic, spool_dir, run) = (
        parts.next().expect("brokers").to_string(),
        parts.next().expect("topic").to_string(),
        parts.next().expect("spool dir").to_string(),
        parts.next().expect("run").to_string(),
    );
    let emitter = Emitter::open(config(brokers, &topic, Path::new(&spool_dir))).expect("open emitter");
    let events: Vec<Event<'static>> = (0..N_EVENTS).map(|i| Event::ConnectAttempt(attempt(&run, i))).collect();
    futures::future::join_all(events.iter().map(|e| emitter.emit(e))).await;
    println!("all events emitted");
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_survives_sigkill_and_broker_outage() {
    let dir = tempfile::tempdir().expect("temp dir");
    let broker_dir = dir.path().join("broker");
    std::fs::create_dir_all(&broker_dir).expect("broker dir");
    let spool_dir = dir.path().join("spool");
    let mut broker = OwnBroker::start(&broker_dir);
    let topic = unique("spool");
    create_topics(&broker.address(), &[&topic, &format!("{topic}-jobs")], 1).await.expect("create topics");
    broker.stop();

    let run = unique("run");
    let spec = format!("{}|{topic}|{}|{run}", broker.address(), spool_dir.display());
    let mut helper = test_binary(&test_name(module_path!(), "spool_helper_process"))
        .env(HELPER_ENV, spec)
        .stdout(Stdio::null())
        .spawn()
        .expect("start helper");
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_entries(&spool_dir) < N_EVENTS {
        assert!(Instant::now() < deadline, "helper spooled only {} events", count_entries(&spool_dir));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    helper.kill().expect("SIGKILL the helper");
    helper.wait().expect("reap helper");

    broker.restart();
    let emitter = Emitter::open(config(broker.address(), &topic, &spool_dir)).expect("reopen emitter");
    let deadline = Instant::now() + Duration::from_secs(60);
    while emitter.redeliver().await.expect("redeliver") > 0 {
        assert!(Instant::now() < deadline, "spool still holds {} events", emitter.stats().n_spooled);
    }
    let payloads = tokio::task::spawn_blocking({
        let (brokers, topic) = (broker.address(), topic.clone());
        move || consume_payloads(&brokers, &topic, N_EVENTS, Duration::from_secs(60))
    })
    .await
    .expect("consumer thread");

    let mut seen: BTreeMap<String, Timestamp> = BTreeMap::new();
    for payload in &payloads {
        let Event::ConnectAttempt(e) = decode(payload).expect("contract event") else { panic!("wrong type") };
        assert!(seen.insert(e.event_id.to_string(), e.started_at).is_none(), "duplicate {}", e.event_id);
    }
    let want: BTreeMap<String, Timestamp> =
        (0..N_EVENTS).map(|i| attempt(&run, i)).map(|e| (e.event_id.to_string(), e.started_at)).collect();
    assert_eq!(seen, want);
    assert_eq!(emitter.stats().n_spooled, 0);
}

/// Event entries under the spool root, whichever process directory holds them.
fn count_entries(root: &Path) -> usize {
    let Ok(dirs) = std::fs::read_dir(root) else { return 0 };
    dirs.flatten()
        .filter_map(|d| std::fs::read_dir(d.path()).ok())
        .flat_map(|files| files.flatten())
        .filter(|f| f.file_name().to_string_lossy().ends_with(".event"))
        .count()
}
