//! The simulator: byte-identical output per seed, contract-valid lines that `failscope emit`
//! accepts, three simulated days in seconds, and ground truth consistent with the events of
//! every scenario.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser;
use failscope_emit::simulate::{BAD_HOSTS, GroundTruth, SCENARIO_NAMES, SimEvent, SimulateArgs, simulate};
use failscope_emit::{Topics, emit_lines, run_simulate};
use failscope_schemas::{ConnectAttempt, ConnectOutcome, Event, JobOutcome, JobStatus, Timestamp, decode};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    simulate: SimulateArgs,
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("valid timestamp")
}

/// The decoded events of a run.
fn decoded(events: &[SimEvent]) -> (Vec<ConnectAttempt<'_>>, Vec<JobOutcome<'_>>) {
    let (mut connects, mut jobs) = (Vec::new(), Vec::new());
    for event in events {
        match decode(&event.json).expect("contract-valid event") {
            Event::ConnectAttempt(e) => connects.push(e),
            Event::JobOutcome(e) => jobs.push(e),
        }
    }
    (connects, jobs)
}

/// Share of `connects` matching `filter` that timed out, and how many matched.
fn timeout_share(connects: &[ConnectAttempt<'_>], filter: impl Fn(&ConnectAttempt<'_>) -> bool) -> (f64, usize) {
    let matching: Vec<_> = connects.iter().filter(|c| filter(c)).collect();
    let n_timeouts = matching.iter().filter(|c| c.outcome == ConnectOutcome::Timeout).count();
    (n_timeouts as f64 / matching.len().max(1) as f64, matching.len())
}

fn in_window(t: Timestamp, from: &str, to: &str) -> bool {
    t >= at(from) && t < at(to)
}

#[tokio::test]
async fn same_seed_same_bytes_and_emit_accepts_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut outputs = Vec::new();
    for (name, seed) in [("a", "7"), ("b", "7"), ("c", "8")] {
        let out = dir.path().join(format!("{name}.jsonl"));
        let out_arg = out.display().to_string();
        let args = Cli::try_parse_from(["simulate", "--scenario", "april-2022", "--seed", seed, "--out", &out_arg])
            .expect("valid flags")
            .simulate;
        let started = Instant::now();
        run_simulate(args, tokio_util::sync::CancellationToken::new()).await.expect("simulate");
        assert!(started.elapsed() < Duration::from_secs(60), "3.5 simulated days took {:?}", started.elapsed());
        let truth = std::fs::read(format!("{out_arg}.truth.json")).expect("truth sidecar");
        outputs.push((std::fs::read(&out).expect("events"), truth));
    }
    assert!(outputs[0] == outputs[1], "same seed, different bytes");
    assert!(outputs[0].0 != outputs[2].0, "different seeds, same events");
    let file = tokio::fs::File::open(dir.path().join("a.jsonl")).await.expect("open");
    let report = emit_lines(tokio::io::BufReader::new(file), None, &Topics::default()).await.expect("read");
    assert!(report.is_success() && report.n_valid > 10_000, "{} valid, {:?}", report.n_valid, report.invalid.first());
}

#[test]
fn every_scenario_has_truth_consistent_with_its_events() {
    for name in SCENARIO_NAMES {
        let (events, truth) = simulate(name, 3).expect("known scenario");
        let (connects, jobs) = decoded(&events);
        check_truth(name, &truth, &connects, &jobs);
    }
}

fn check_truth(name: &str, truth: &GroundTruth, connects: &[ConnectAttempt<'_>], jobs: &[JobOutcome<'_>]) {
    assert_eq!(truth.jobs.len(), jobs.len(), "{name}: one truth entry per job");
    let by_id: BTreeMap<&str, _> = truth.jobs.iter().map(|j| (j.job_id.as_str(), j)).collect();
    let mut failed_connects: BTreeMap<&str, usize> = BTreeMap::new();
    for c in connects.iter().filter(|c| c.outcome != ConnectOutcome::Ok) {
        *failed_connects.entry(c.job_id.as_deref().unwrap_or("")).or_default() += 1;
    }
    for job in jobs {
        let t = by_id[job.job_id.as_ref()];
        assert_eq!(t.status, job.status.as_str(), "{name} {}", job.job_id);
        assert_eq!(t.region, job.region, "{name} {}", job.job_id);
        assert_eq!(job.status == JobStatus::Passed, t.cause.is_none(), "{name} {}", job.job_id);
        if t.cause.is_some_and(|c| c.starts_with("connect_") || c == "dns_failure" || c == "bad_host") {
            assert!(failed_connects.get(job.job_id.as_ref()).is_some_and(|n| *n >= 3), "{name} {}", job.job_id);
        }
        if let Some(incident_id) = &t.incident_id {
            let incident = truth.incidents.iter().find(|i| &i.incident_id == incident_id).expect("known incident");
            assert!(incident.region.is_none_or(|r| r == job.region), "{name} {}: wrong region", job.job_id);
            assert!(t.finished_at >= incident.starts_at && t.started_at <= incident.ends_at, "{name} {}", job.job_id);
        }
    }
    let n_infra = truth
        .jobs
        .iter()
        .filter(|j| {
            j.incident_id.is_none()
                && j.cause.is_some_and(|c| c != "compile_error" && c != "test_failure" && c != "recipe_error")
        })
        .count();
    assert!((n_infra as f64) < 0.03 * jobs.len() as f64, "{name}: background infra noise {n_infra} of {}", jobs.len());
}

#[test]
fn april_2022_timeouts_rise_in_the_incident_window_only() {
    let (events, _) = simulate("april-2022", 1).expect("known scenario");
    let (connects, jobs) = decoded(&events);
    let backend =
        |c: &ConnectAttempt<'_>, region: &str| c.region == region && c.target_region.as_deref() == Some("us-central1");
    let cases = [
        ("us-east-2", "2022-04-05T00:00:00Z", "2022-04-05T23:00:00Z", 0.0, 0.01),
        ("us-east-2", "2022-04-06T11:00:00Z", "2022-04-07T04:00:00Z", 0.25, 0.45),
        ("us-east-2", "2022-04-08T06:00:00Z", "2022-04-08T12:00:00Z", 0.0, 0.01),
        ("us-east-1", "2022-04-05T00:00:00Z", "2022-04-07T01:00:00Z", 0.0, 0.01),
        ("us-east-1", "2022-04-07T03:00:00Z", "2022-04-07T06:00:00Z", 0.10, 0.25),
        ("us-west-1", "2022-04-05T00:00:00Z", "2022-04-08T12:00:00Z", 0.0, 0.01),
        ("fr-par", "2022-04-05T00:00:00Z", "2022-04-08T12:00:00Z", 0.0, 0.01),
    ];
    for (region, from, to, min, max) in cases {
        let (share, n) = timeout_share(&connects, |c| backend(c, region) && in_window(c.started_at, from, to));
        assert!(n > 50 && share >= min && share <= max, "{region} {from}..{to}: {share:.3} of {n}");
    }
    let moved = jobs
        .iter()
        .filter(|j| j.job_kind == "container_build" && j.queued_at.is_some_and(|q| q >= at("2022-04-06T21:00:00Z")));
    assert!(moved.clone().count() > 100);
    assert!(moved.clone().all(|j| j.region == "us-west-1" || j.region == "fr-par"), "container builds moved at 21:00");
}

#[test]
fn outages_stay_where_the_scenario_puts_them() {
    let (events, _) = simulate("target-outage", 1).expect("known scenario");
    let (connects, _) = decoded(&events);
    let refused: Vec<_> = connects.iter().filter(|c| c.outcome == ConnectOutcome::Refused).collect();
    assert!(refused.iter().all(|c| c.target_service == "artifacts" && c.errno == Some(111)));
    assert!(refused.iter().all(|c| in_window(c.started_at, "2022-05-03T14:00:00Z", "2022-05-03T17:30:01Z")));
    let regions: std::collections::BTreeSet<&str> = refused.iter().map(|c| c.region.as_ref()).collect();
    assert!(regions.len() >= 3, "every region is refused, not one: {regions:?}");

    let (events, truth) = simulate("bad-host", 1).expect("known scenario");
    let (connects, _) = decoded(&events);
    assert!(truth.jobs.iter().filter(|j| j.incident_id.is_some()).all(|j| BAD_HOSTS.contains(&j.worker_id.as_str())));
    let window = |c: &ConnectAttempt<'_>| in_window(c.started_at, "2022-05-03T06:00:00Z", "2022-05-04T06:00:00Z");
    let (bad, _) = timeout_share(&connects, |c| window(c) && BAD_HOSTS.contains(&c.worker_id.as_ref()));
    let (good, n) = timeout_share(&connects, |c| {
        window(c) && c.region == "us-east-1" && !BAD_HOSTS.contains(&c.worker_id.as_ref())
    });
    assert!(bad > 0.8 && good < 0.01 && n > 100, "bad hosts {bad:.3}, other us-east-1 workers {good:.3} of {n}");

    let (events, truth) = simulate("dns-outage", 1).expect("known scenario");
    let (connects, _) = decoded(&events);
    let dns: Vec<_> = connects.iter().filter(|c| c.outcome == ConnectOutcome::DnsError).collect();
    assert!(dns.len() > 50 && dns.iter().all(|c| c.region == "us-east-1"));
    assert!(truth.jobs.iter().any(|j| j.cause == Some("dns_failure")));

    let (events, truth) = simulate("cache-outage", 1).expect("known scenario");
    let (connects, _) = decoded(&events);
    let window = |c: &ConnectAttempt<'_>| in_window(c.started_at, "2022-05-03T02:00:00Z", "2022-05-03T08:00:01Z");
    let par_cache = |c: &ConnectAttempt<'_>| c.target_service.starts_with("sstate-cache-par");
    let (inside, n_inside) = timeout_share(&connects, |c| par_cache(c) && window(c));
    let (outside, _) = timeout_share(&connects, |c| par_cache(c) && !window(c));
    let (other, _) = timeout_share(&connects, |c| !par_cache(c) && window(c));
    assert!(inside > 0.99 && n_inside > 50 && outside < 0.01 && other < 0.01, "{inside:.3} {outside:.3} {other:.3}");
    let hit: Vec<_> = truth.jobs.iter().filter(|j| j.incident_id.is_some()).collect();
    assert!(!hit.is_empty() && hit.iter().all(|j| j.job_kind == "yocto_build" && j.region == "fr-par"));
}

#[test]
fn a_user_error_storm_is_not_an_infrastructure_problem() {
    let (events, truth) = simulate("user-error-storm", 1).expect("known scenario");
    let (connects, jobs) = decoded(&events);
    let storm: Vec<_> = truth.jobs.iter().filter(|j| j.incident_id.is_some()).collect();
    assert!(storm.len() > 10, "{} storm failures", storm.len());
    assert!(storm.iter().all(|j| j.project == "acme-gateway"
        && j.region == "us-east-2"
        && j.cause == Some("compile_error")
        || j.cause == Some("test_failure")
        || j.cause == Some("recipe_error")));
    let (share, n) = timeout_share(&connects, |c| {
        c.region == "us-east-2" && in_window(c.started_at, "2022-05-03T09:00:00Z", "2022-05-03T16:00:00Z")
    });
    assert!(share < 0.01 && n > 100, "connects stay healthy: {share:.3} of {n}");
    assert!(
        jobs.iter()
            .filter(|j| j.status == JobStatus::Failed && j.project == "acme-gateway")
            .all(|j| j.log_tail.is_some())
    );
}
