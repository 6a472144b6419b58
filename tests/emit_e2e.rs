//! `failscope emit` against the real test broker: valid lines arrive byte for byte on their
//! type's topic, invalid ones are reported with line numbers and reasons.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::{Duration, Instant};

use failscope_test_support::http::free_port;
use failscope_test_support::kafka::{brokers, consume_all, create_topics, unique};
use serde_json::json;

use crate::support::failscope;

fn connect_line(i: usize) -> String {
    json!({
        "event_type": "connect_attempt", "schema_version": 1, "event_id": uuid::Uuid::now_v7().to_string(),
        "worker_id": format!("w-{}", i % 37), "region": "us-east-2", "provider": "aws",
        "started_at": "2022-04-05T23:04:00.250Z", "duration_ms": (i % 3000) as f64 + 0.5,
        "target_service": "api", "target_host": "api.example.com", "target_port": 443,
        "outcome": if i.is_multiple_of(5) { "timeout" } else { "ok" }, "attempt": 1, "phase": "checkin",
        "note": format!("producer extension {i}")
    })
    .to_string()
}

fn job_line(i: usize) -> String {
    json!({
        "event_type": "job_outcome", "schema_version": 1, "event_id": uuid::Uuid::now_v7().to_string(),
        "worker_id": format!("w-{}", i % 37), "region": "fr-par", "provider": "online.net",
        "job_id": format!("job-{i}"), "project": "lmp", "job_kind": "yocto_build",
        "started_at": "2022-04-05T22:00:00Z", "finished_at": "2022-04-05T23:00:00Z",
        "status": "failed", "exit_code": 1, "log_tail": "ERROR: Task do_compile failed\n\"quoted\"\n"
    })
    .to_string()
}

/// Invalid lines of several kinds, each with a fragment its reason must contain.
fn invalid_line(i: usize) -> (String, &'static str) {
    match i % 5 {
        0 => ("{\"event_type\": \"connect_attempt\", truncated".to_string(), "malformed json"),
        1 => (
            connect_line(i)
                .replace("\"outcome\":\"ok\"", "\"outcome\":\"hung\"")
                .replace("\"outcome\":\"timeout\"", "\"outcome\":\"hung\""),
            "outcome: unknown variant `hung`",
        ),
        2 => (job_line(i).replace("\"schema_version\":1", "\"schema_version\":2"), "unsupported schema_version 2"),
        3 => (job_line(i).replace("\"project\":\"lmp\",", ""), "project: missing required field"),
        _ => (connect_line(i).replace("\"target_port\":443", "\"target_port\":\"https\""), "target_port: invalid type"),
    }
}

#[test]
fn emit_delivers_every_valid_line_and_reports_every_invalid_one() {
    let (connect_topic, job_topic) = (unique("emit-connect"), unique("emit-jobs"));
    create_topics(&brokers(), &[&connect_topic, &job_topic], 3);

    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    let mut want: HashMap<&str, Vec<String>> = HashMap::new();
    let mut want_invalid: BTreeMap<usize, &'static str> = BTreeMap::new();
    let (n_valid, n_invalid) = (10_000, 100);
    let mut line_number = 0;
    for i in 0..n_valid + n_invalid {
        line_number += 1;
        let line = if i % 101 == 100 {
            let (line, reason) = invalid_line(i);
            want_invalid.insert(line_number, reason);
            line
        } else if i.is_multiple_of(3) {
            let line = job_line(i);
            want.entry("job").or_default().push(line.clone());
            line
        } else {
            let line = connect_line(i);
            want.entry("connect").or_default().push(line.clone());
            line
        };
        writeln!(file, "{line}").expect("write");
    }
    assert_eq!(want_invalid.len(), n_invalid);
    file.flush().expect("flush");

    let output = failscope()
        .args(["emit", "--brokers", &brokers(), "--connect-attempts-topic", &connect_topic])
        .args(["--job-outcomes-topic", &job_topic])
        .arg(file.path())
        .output()
        .expect("run failscope");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "invalid lines must fail the run: {stderr}");
    let reported: BTreeMap<usize, String> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("line "))
        .filter_map(|l| l.split_once(": "))
        .map(|(n, reason)| (n.parse().expect("line number"), reason.to_string()))
        .collect();
    assert_eq!(reported.keys().collect::<Vec<_>>(), want_invalid.keys().collect::<Vec<_>>());
    for (n, fragment) in &want_invalid {
        assert!(reported[n].contains(fragment), "line {n}: want {fragment:?} in {:?}", reported[n]);
    }

    for (topic, kind) in [(&connect_topic, "connect"), (&job_topic, "job")] {
        let expected = &want[kind];
        let got = consume_all(&brokers(), topic, expected.len(), Duration::from_secs(120), Duration::from_secs(2));
        let mut got_payloads: Vec<String> =
            got.iter().map(|m| String::from_utf8(m.payload.clone()).expect("utf-8")).collect();
        let mut expected = expected.clone();
        got_payloads.sort();
        expected.sort();
        assert_eq!(got_payloads.len(), expected.len(), "{topic}: none lost, none extra");
        assert!(got_payloads == expected, "{topic}: payloads must be byte-equal");
        for m in &got {
            let event: serde_json::Value = serde_json::from_slice(&m.payload).expect("json");
            assert_eq!(m.key.as_deref(), event["worker_id"].as_str().map(str::as_bytes), "key is worker_id");
        }
    }
}

#[test]
fn dry_run_validates_without_a_broker() {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    writeln!(file, "{}\n{}\n{{}}", connect_line(1), job_line(2)).expect("write");
    let output = failscope()
        .args(["emit", "--dry-run", "--brokers", "127.0.0.1:1"])
        .arg(file.path())
        .output()
        .expect("run failscope");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("line 3: event_type: missing required field"), "{stderr}");
    assert!(stderr.contains("2 valid, 1 invalid"), "{stderr}");
}

#[test]
fn unreachable_broker_is_a_one_line_error() {
    let port = free_port();
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    writeln!(file, "{}", connect_line(1)).expect("write");
    let started = Instant::now();
    let output = failscope()
        .args(["emit", "--brokers", &format!("127.0.0.1:{port}"), "--connect-timeout", "2s"])
        .arg(file.path())
        .output()
        .expect("run failscope");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(started.elapsed() < Duration::from_secs(15), "gave up in time");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains(&format!("cannot reach Kafka brokers at 127.0.0.1:{port}")), "{stderr}");
}

/// A broker without the topics: one line saying how to create them, not one per event; after
/// `failscope topics create` the same input is delivered.
#[test]
fn emit_without_the_topics_says_once_to_create_them() {
    let (connect_topic, job_topic) = (unique("notopic-connect"), unique("notopic-jobs"));
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    for i in 0..500 {
        writeln!(file, "{}", if i % 2 == 0 { connect_line(i) } else { job_line(i) }).expect("write");
    }
    let topic_flags =
        ["--brokers", &brokers(), "--connect-attempts-topic", &connect_topic, "--job-outcomes-topic", &job_topic];
    let emit = || failscope().arg("emit").args(topic_flags).arg(file.path()).output().expect("run failscope");

    let output = emit();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(&connect_topic) || l.starts_with("line ")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("failscope topics create"), "{stderr}");

    let create = || {
        let out = failscope().args(["topics", "create", "--partitions", "2"]).args(topic_flags).output().expect("runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let first = create();
    assert!(first.contains(&format!("created {connect_topic} (partitions 2, replication 1, retention.ms=")), "{first}");
    assert!(first.contains(&format!("created {job_topic}.dlq (partitions 1")), "{first}");
    assert!(first.contains("ci.region_health (partitions 1, replication 1, cleanup.policy=compact)"), "{first}");
    assert!(create().contains(&format!("exists  {connect_topic} ")), "a second run leaves the topics as they are");

    let output = emit();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("500 delivered, 0 invalid, 0 undelivered"), "{stderr}");
}
