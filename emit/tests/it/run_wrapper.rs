//! `failscope run` through its library entry point: exit codes and signal deaths preserved,
//! a fast and correct exit with no broker, and the outcome delivered when there is one.
//!
//! The wrapper installs handlers for SIGTERM, SIGHUP and SIGINT (to forward them to its job),
//! which stay for the life of the process: each test runs in a process of its own
//! ([`rerun_alone`]), so that the other tests of this binary keep the default dispositions.

use std::path::Path;
use std::time::{Duration, Instant};

use clap::Parser;
use failscope_emit::run::{OOM_REASON, RunArgs, run_wrapped};
use failscope_emit::{Delivery, create_topics};
use failscope_schemas::{Event, JobStatus, decode};
use failscope_test_support::kafka::{brokers, consume_payloads, unique};
use failscope_test_support::process::rerun_alone;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    run: RunArgs,
}

fn args(brokers: &str, topic: &str, spool: &Path, script: &str) -> RunArgs {
    let spool = spool.display().to_string();
    let argv = [
        "run",
        "--brokers",
        brokers,
        "--job-outcomes-topic",
        topic,
        "--spool-dir",
        &spool,
        "--delivery-timeout",
        "500ms",
        "--telemetry-timeout",
        "1s",
        "--worker-id",
        "w-run",
        "--region",
        "us-east-2",
        "--provider",
        "aws",
        "--project",
        "acme",
        "--job-kind",
        "test",
        "--",
        "sh",
        "-c",
        script,
    ];
    Cli::try_parse_from(argv).expect("valid flags").run
}

/// A loopback port nothing listens on.
fn closed_port_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    format!("127.0.0.1:{}", listener.local_addr().expect("addr").port())
}

/// Script, wrapper exit code, status, job exit code, signal, runner reason.
type Case = (&'static str, u8, JobStatus, Option<i32>, Option<i32>, Option<&'static str>);

#[tokio::test]
async fn exit_codes_and_signals_survive_an_unreachable_broker() {
    if rerun_alone(module_path!(), "exit_codes_and_signals_survive_an_unreachable_broker") {
        return;
    }
    let cases: [Case; 6] = [
        ("echo fine", 0, JobStatus::Passed, Some(0), None, None),
        ("echo broken >&2; exit 1", 1, JobStatus::Failed, Some(1), None, None),
        ("exit 3", 3, JobStatus::Failed, Some(3), None, None),
        ("exit 137", 137, JobStatus::Failed, Some(137), None, Some(OOM_REASON)),
        ("kill -KILL $$", 137, JobStatus::Failed, None, Some(9), Some(OOM_REASON)),
        ("kill -SEGV $$", 139, JobStatus::Failed, None, Some(11), Some("killed_by_signal")),
    ];
    let brokers = closed_port_address();
    for (script, want_code, want_status, want_exit, want_signal, want_reason) in cases {
        let spool = tempfile::tempdir().expect("temp dir");
        let started = Instant::now();
        let report = run_wrapped(args(&brokers, "unused", spool.path(), script)).await.expect("job ran");
        assert!(started.elapsed() < Duration::from_secs(5), "{script}: took {:?}", started.elapsed());
        assert_eq!(report.exit_code, want_code, "{script}");
        let outcome = &report.outcome;
        assert_eq!(outcome.status, want_status, "{script}");
        assert_eq!(outcome.exit_code, want_exit, "{script}");
        assert_eq!(outcome.signal, want_signal, "{script}");
        assert_eq!(outcome.runner_reason.as_deref(), want_reason, "{script}");
        assert_eq!(report.delivery, Some(Delivery::Spooled), "{script}: kept for later");
    }
}

#[tokio::test]
async fn a_missing_command_exits_127_and_is_reported() {
    if rerun_alone(module_path!(), "a_missing_command_exits_127_and_is_reported") {
        return;
    }
    let spool = tempfile::tempdir().expect("temp dir");
    let mut args = args(&closed_port_address(), "unused", spool.path(), "");
    args.command = vec!["/nonexistent/failscope-test-command".into()];
    let report = run_wrapped(args).await.expect("wrapper ran");
    assert_eq!(report.exit_code, 127);
    assert_eq!(report.outcome.status, JobStatus::Errored);
    assert!(report.outcome.log_tail.as_deref().is_some_and(|t| t.contains("cannot start")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outcome_reaches_the_broker_with_the_log_tail() {
    if rerun_alone(module_path!(), "the_outcome_reaches_the_broker_with_the_log_tail") {
        return;
    }
    let brokers = brokers();
    let topic = unique("run-outcomes");
    create_topics(&brokers, &[&topic], 1).await.expect("create topic");
    let spool = tempfile::tempdir().expect("temp dir");
    let mut args = args(&brokers, &topic, spool.path(), "echo compiling; echo 'error: boom' >&2; exit 2");
    args.telemetry_timeout = Duration::from_secs(20);
    args.emitter.delivery_timeout = Duration::from_secs(15);
    let report = run_wrapped(args).await.expect("job ran");
    assert_eq!(report.exit_code, 2);
    assert_eq!(report.delivery, Some(Delivery::Delivered));
    let payloads = tokio::task::spawn_blocking(move || consume_payloads(&brokers, &topic, 1, Duration::from_secs(30)))
        .await
        .expect("consumer thread");
    assert_eq!(payloads.len(), 1);
    let Event::JobOutcome(outcome) = decode(&payloads[0]).expect("contract event") else { panic!("wrong type") };
    assert_eq!(outcome.event_id, report.outcome.event_id);
    assert_eq!(outcome.exit_code, Some(2));
    let tail = outcome.log_tail.as_deref().expect("log tail");
    assert!(tail.contains("compiling") && tail.contains("error: boom"), "{tail:?}");
}
