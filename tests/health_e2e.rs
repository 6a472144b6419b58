//! Region health end to end, with the real binary: `failscope eval` runs every scenario
//! through the embedded broker, the in-process ingest, a lake, the classification and the
//! detector, and must meet every target; the same against the real test broker for one
//! scenario; and `failscope health` prints the documented state-change contract.

use std::path::Path;
use std::process::Output;

use failscope_test_support::kafka::brokers;
use serde_json::Value;

use crate::support;

const QUERIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../queries");

fn eval(args: &[&str], lakes: &Path) -> (Output, Value) {
    let output = support::failscope()
        .args(["eval", "--format", "json", "--lakes"])
        .arg(lakes)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run failscope eval");
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("eval prints JSON ({e}); stderr: {}", String::from_utf8_lossy(&output.stderr)));
    (output, report)
}

fn failed_checks(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] != Value::Bool(true))
        .map(|c| format!("{}: {}", c["name"], c["detail"]))
        .collect()
}

#[test]
fn every_scenario_meets_its_targets_through_the_embedded_broker() {
    let lakes = tempfile::tempdir().expect("temp dir");
    let (output, report) = eval(&["--all"], lakes.path());
    assert_eq!(failed_checks(&report), Vec::<String>::new());
    assert!(output.status.success(), "exit status {:?} although every check passed", output.status);
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 10, "every scenario ran");
    let april = scenarios.iter().find(|s| s["scenario"] == "april-2022").expect("april-2022");
    let first = &april["incidents"][0];
    assert_eq!(first["region"], "us-east-2");
    assert!(first["minutes_after_min_sample"].as_f64().is_some_and(|m| m <= 15.0), "{first}");
    assert!(april["false_alarm_region_hours"].as_array().is_some_and(Vec::is_empty), "us-west-1 stays healthy");

    // The timeline of the April 2022 lake, as the documented JSON lines.
    let health = support::failscope()
        .args(["health", "--queries", QUERIES, "--lake"])
        .arg(lakes.path().join("april-2022"))
        .args(["--from", "2022-04-05T00:00:00Z", "--until", "2022-04-08T12:00:00Z", "--format", "json"])
        .output()
        .expect("run failscope health");
    assert!(health.status.success(), "{}", String::from_utf8_lossy(&health.stderr));
    let changes: Vec<Value> = String::from_utf8_lossy(&health.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    for change in &changes {
        for field in ["scope", "name", "status", "at", "kind", "evidence"] {
            assert!(change.get(field).is_some(), "{field} missing in {change}");
        }
    }
    let east2: Vec<&Value> = changes.iter().filter(|c| c["scope"] == "region" && c["name"] == "us-east-2").collect();
    assert_eq!(east2.first().map(|c| c["status"].clone()), Some(Value::from("degraded")), "{east2:?}");
    let unhealthy = east2.iter().find(|c| c["status"] == "unhealthy").expect("us-east-2 goes unhealthy");
    assert_eq!(unhealthy["kind"], "region_path");
    assert!(unhealthy["at"].as_str().is_some_and(|at| at.starts_with("2022-04-05T23:")), "{unhealthy}");
    assert!(!changes.iter().any(|c| c["name"] == "us-west-1"), "us-west-1 never leaves healthy");

    // The same timeline in SQL.
    let sql = support::failscope()
        .args(["sql", "--queries", QUERIES, "--format", "csv", "--lake"])
        .arg(lakes.path().join("april-2022"))
        .args(["-c", "SELECT name, status FROM health_changes('2022-04-05T00:00:00Z', '2022-04-08T12:00:00Z') WHERE scope = 'region' ORDER BY at LIMIT 2"])
        .output()
        .expect("run failscope sql");
    assert!(sql.status.success(), "{}", String::from_utf8_lossy(&sql.stderr));
    assert_eq!(String::from_utf8_lossy(&sql.stdout), "name,status\nus-east-2,degraded\nus-east-2,unhealthy\n");
}

#[test]
fn a_scenario_through_the_real_broker_meets_its_targets() {
    let lakes = tempfile::tempdir().expect("temp dir");
    let brokers = brokers();
    let (output, report) = eval(&["--scenario", "target-outage", "--brokers", &brokers], lakes.path());
    assert_eq!(failed_checks(&report), Vec::<String>::new());
    assert!(output.status.success());
    assert_eq!(report["scenarios"][0]["incidents"][0]["localized"], Value::Bool(true));
}

#[test]
fn the_demo_diagnoses_april_2022_without_a_broker() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = support::failscope()
        .current_dir(dir.path())
        .args(["demo", "--once"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run failscope demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let diagnosis = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("us-east-2: region_path"))
        .unwrap_or_else(|| panic!("no diagnosis of us-east-2 in:\n{stdout}"));
    assert!(diagnosis.contains("unhealthy at 2022-04-05 23:"), "{diagnosis}");
    assert!(
        diagnosis.contains("minutes after its first failed connect") && diagnosis.contains("13 hours"),
        "{diagnosis}"
    );
    assert!(stdout.contains("degraded → unhealthy"), "{stdout}");
    assert!(!stdout.contains("us-west-1   healthy →"), "us-west-1 stays healthy:\n{stdout}");
    assert!(dir.path().join(".failscope/demo/lake/connect_attempts").is_dir(), "the lake is kept");
    let report =
        std::fs::read_to_string(dir.path().join(".failscope/demo/report.html")).expect("the report is written");
    assert!(report.contains("class=\"chart heatmap\"") && report.contains("us-east-2"), "the report's heatmap");
    assert!(stdout.contains(".failscope/demo/report.html"), "the demo names its report:\n{stdout}");
}

/// The demo as the README runs it, without `--once`: once done it serves the report it wrote
/// at `/report.html`, the frozen region-health feed and the console, until Ctrl-C.
#[test]
fn the_running_demo_serves_its_report_until_interrupted() {
    use failscope_test_support::http::{free_port, get};
    use failscope_test_support::wait::wait_until;

    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let log = dir.path().join("demo.log");
    let mut demo = support::failscope()
        .current_dir(dir.path())
        .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .stdout(std::fs::File::create(&log).expect("log file"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run failscope demo");
    let mut served = None;
    wait_until("the demo serves /report.html", std::time::Duration::from_secs(600), &log, || {
        assert!(demo.try_wait().expect("the demo's status").is_none(), "the demo exited before serving");
        served = get(port, "/report.html").filter(|(status, _)| *status == 200);
        served.is_some()
    });
    let (_, page) = served.expect("served");
    let written = std::fs::read_to_string(dir.path().join(".failscope/demo/report.html")).expect("the report file");
    assert_eq!(page, written, "/report.html is the report the demo wrote");
    let (status, feed) = get(port, "/v1/regions/health").expect("the feed answers");
    assert_eq!(status, 200, "{feed}");
    let feed: Value = serde_json::from_str(&feed).expect("the feed is JSON");
    assert!(feed.to_string().contains("us-east-2"), "{feed}");
    assert_eq!(get(port, "/").map(|(status, _)| status), Some(200), "the console's page");

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(demo.id() as i32), nix::sys::signal::Signal::SIGINT)
        .expect("signal the demo");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = demo.try_wait().expect("the demo's status") {
            break status;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "the demo did not stop on Ctrl-C");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(status.success(), "Ctrl-C ends the demo's serving cleanly: {status:?}");
}
