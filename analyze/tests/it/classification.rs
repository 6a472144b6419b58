//! Every rule of the classification's decision order, one fixture job per case, all in one
//! fixture lake read through `job_classifications`.

use std::borrow::Cow;
use std::collections::HashMap;

use arrow::array::AsArray;
use arrow::datatypes::{Float64Type, Int64Type};
use failscope_schemas::{ConnectAttempt, ConnectOutcome as C, JobOutcome, JobStatus, TargetOwner};

use crate::support::{self, MINUTE, T0, connect, job, probe, write_lake};

struct Case {
    name: &'static str,
    region: &'static str,
    status: JobStatus,
    exit_code: Option<i32>,
    failed_step: Option<&'static str>,
    runner_reason: Option<&'static str>,
    log_tail: Option<&'static str>,
    /// (target, phase, outcome, minutes after start)
    connects: &'static [(&'static str, &'static str, C, i64)],
    /// Who owns the targets of `connects`; absent as from the prober and the runner.
    owner: Option<TargetOwner>,
    want: (&'static str, &'static str, &'static str),
    want_anomaly: bool,
    /// Failed connects counted as evidence, when not every failed connect is.
    want_failed: Option<i64>,
}

const CARGO_TEST_FAILED: &str = "test api::retries ... FAILED\n\ntest result: FAILED. 41 passed; 1 failed";

fn case(name: &'static str, want: (&'static str, &'static str, &'static str)) -> Case {
    Case {
        name,
        region: "us-west-1",
        status: JobStatus::Failed,
        exit_code: Some(1),
        failed_step: None,
        runner_reason: None,
        log_tail: None,
        connects: &[],
        owner: None,
        want,
        want_anomaly: false,
        want_failed: None,
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            status: JobStatus::Errored,
            exit_code: None,
            runner_reason: Some("worker_lost"),
            ..case("runner reports a lost worker", ("infra", "infra.worker.lost", "runner_reason"))
        },
        Case {
            runner_reason: Some("oom_killed"),
            exit_code: None,
            log_tail: Some(CARGO_TEST_FAILED),
            ..case("host OOM kill beats a test-failure text", ("infra", "infra.worker.oom", "runner_reason"))
        },
        Case {
            exit_code: Some(0),
            runner_reason: Some("log_upload_failed"),
            ..case("trap: exit 0, failed, log upload failed", ("infra", "infra.platform", "runner_reason"))
        },
        Case {
            exit_code: Some(0),
            connects: &[
                ("api", "checkin", C::Ok, 1),
                ("logs", "log_upload", C::Timeout, 8),
                ("logs", "log_upload", C::Abandoned, 9),
            ],
            ..case(
                "trap: exit 0, failed upload connects only",
                ("infra", "infra.network.connect_timeout", "failed_connects"),
            )
        },
        Case {
            failed_step: Some("checkout"),
            ..case("platform step without connect evidence", ("infra", "infra.setup", "platform_step"))
        },
        Case {
            failed_step: Some("fetch"),
            connects: &[("git", "git_clone", C::DnsError, 1)],
            ..case("platform step refined by a DNS failure", ("infra", "infra.network.dns", "platform_step"))
        },
        Case {
            connects: &[("registry", "image_pull", C::Refused, 2), ("registry", "image_pull", C::Refused, 3)],
            ..case("unrecovered refused connects", ("infra", "infra.network.refused", "failed_connects"))
        },
        Case {
            failed_step: Some("test"),
            log_tail: Some(CARGO_TEST_FAILED),
            connects: &[("sstate-cache", "cache_restore", C::Timeout, 1), ("sstate-cache", "cache_restore", C::Ok, 2)],
            ..case(
                "a retried connect that worked is not evidence",
                ("user", "user.test", "signature:test-summary-cargo"),
            )
        },
        Case {
            log_tail: Some("cp: error writing 'out/rootfs.ext4': No space left on device"),
            ..case("infra signature", ("infra", "infra.worker.disk_full", "signature:worker-disk-full"))
        },
        Case {
            log_tail: Some(
                "ERROR: Task (/srv/oe/layers/meta-lmp/recipes-core/foo/foo_1.0.bb:do_compile) failed with exit code '1'",
            ),
            ..case("user signature: Yocto do_compile", ("user", "user.build", "signature:yocto-do-compile"))
        },
        Case {
            failed_step: Some("lint"),
            connects: &[("api", "checkin", C::Ok, 1)],
            ..case("lint failure with healthy connects", ("user", "user.build", "user_step"))
        },
        Case {
            status: JobStatus::TimedOut,
            exit_code: None,
            failed_step: Some("test"),
            ..case("user step timing out", ("user", "user.timeout", "user_step"))
        },
        Case {
            region: "us-east-2",
            failed_step: Some("test"),
            log_tail: Some(CARGO_TEST_FAILED),
            connects: &[("api", "checkin", C::Ok, 1), ("logs", "log_upload", C::Ok, 9)],
            want_anomaly: true,
            ..case(
                "clean test failure during a regional incident",
                ("user", "user.test", "signature:test-summary-cargo"),
            )
        },
        Case {
            exit_code: Some(2),
            failed_step: Some("build"),
            log_tail: Some("foo.c:3:1: error: expected ';' before '}' token\nmake: *** [Makefile:4: foo.o] Error 1"),
            connects: &[
                ("sstate-cache", "cache_restore", C::Timeout, 1),
                ("sstate-cache", "cache_restore", C::Timeout, 2),
            ],
            ..case("strong user and strong infra evidence", ("unknown", "unknown.conflicting", "conflicting_evidence"))
        },
        Case { ..case("nothing to go on", ("unknown", "unknown.no_evidence", "no_evidence")) },
        Case {
            exit_code: Some(0),
            ..case("exit 0 but failed, no other evidence", ("infra", "infra.platform", "exit_zero"))
        },
        Case {
            failed_step: Some("test"),
            connects: &[("local", "test", C::Refused, 1), ("local", "test", C::Refused, 2)],
            owner: Some(TargetOwner::Job),
            want_failed: Some(0),
            ..case("the job's own refused database is not infra", ("user", "user.test", "user_step"))
        },
        Case {
            connects: &[("pypi.org", "fetch", C::Timeout, 1)],
            owner: Some(TargetOwner::ThirdParty),
            want_failed: Some(0),
            ..case("a third party down everywhere is not infra", ("unknown", "unknown.no_evidence", "no_evidence"))
        },
        Case {
            connects: &[("files.pythonhosted.org", "fetch", C::Timeout, 1)],
            owner: Some(TargetOwner::ThirdParty),
            ..case(
                "a third party other regions reach is infra",
                ("infra", "infra.network.connect_timeout", "failed_connects"),
            )
        },
        Case {
            region: "us-east-2",
            connects: &[("mirror.example.org", "fetch", C::Refused, 1)],
            owner: Some(TargetOwner::ThirdParty),
            want_anomaly: true,
            want_failed: Some(0),
            ..case(
                "a third party failing during a regional anomaly is infra",
                ("infra", "infra.network.refused", "failed_connects"),
            )
        },
        // A user's configuration error in a platform-owned step, in several tools' words.
        Case {
            failed_step: Some("setup"),
            log_tail: Some("Error: yaml: line 14: mapping values are not allowed in this context"),
            ..case("YAML error in the setup step", ("user", "user.config", "config_error"))
        },
        Case {
            failed_step: Some("setup"),
            log_tail: Some("TOML parse error at line 3, column 7\n  |\n3 | name = \n  |       ^\ninvalid string"),
            ..case("TOML error in the setup step", ("user", "user.config", "config_error"))
        },
        Case {
            failed_step: Some("setup"),
            log_tail: Some("drivers/gpio/Kconfig:112: syntax error\ndrivers/gpio/Kconfig:111: invalid statement"),
            ..case("Kconfig error in the setup step", ("user", "user.config", "config_error"))
        },
        Case {
            failed_step: Some("setup"),
            log_tail: Some("ERROR: ParseError at /srv/oe/build/conf/local.conf:17: unparsed line: 'MACHINE ?= intel'"),
            ..case("bitbake local.conf error in the setup step", ("user", "user.config", "config_error"))
        },
        Case {
            failed_step: Some("setup"),
            log_tail: Some("ERROR: failed to solve: dockerfile parse error on line 5: unknown instruction: COPPY"),
            ..case("Dockerfile error in the setup step", ("user", "user.config", "config_error"))
        },
        Case {
            failed_step: Some("setup"),
            log_tail: Some("Error: yaml: line 14: mapping values are not allowed in this context"),
            connects: &[("api", "checkin", C::Timeout, 1), ("api", "checkin", C::Timeout, 2)],
            ..case(
                "a configuration error while the platform's connects hang",
                ("infra", "infra.network.connect_timeout", "platform_step"),
            )
        },
        Case {
            exit_code: Some(0),
            runner_reason: Some("log_upload_failed"),
            connects: &[("logs", "log_upload", C::Timeout, 8), ("logs", "log_upload", C::Timeout, 9)],
            ..case(
                "a failed log upload whose connects timed out",
                ("infra", "infra.network.connect_timeout", "runner_reason"),
            )
        },
        Case {
            failed_step: Some("checkout"),
            log_tail: Some("error: RPC failed; HTTP 503 curl 22 The requested URL returned error: 503"),
            ..case("a platform service answering 5xx", ("infra", "infra.dependency", "platform_step"))
        },
    ]
}

fn build(i: usize, c: &Case) -> (JobOutcome<'static>, Vec<ConnectAttempt<'static>>) {
    let mut j = job(&format!("case{i:02}"), c.region, T0 + 2 * MINUTE * i as i64, c.status);
    j.exit_code = c.exit_code;
    j.failed_step = c.failed_step.map(Cow::Borrowed);
    j.runner_reason = c.runner_reason.map(Cow::Borrowed);
    j.log_tail = c.log_tail.map(Cow::Borrowed);
    let connects = c
        .connects
        .iter()
        .enumerate()
        .map(|(n, &(target, phase, outcome, minutes))| {
            let mut attempt = connect(&j, n as u32 + 1, target, phase, outcome, minutes * MINUTE);
            attempt.target_owner = c.owner;
            attempt
        })
        .collect();
    (j, connects)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_decides_its_case() {
    let lake = tempfile::tempdir().expect("temp dir");
    let cases = cases();
    let (mut jobs, mut connects) = (Vec::new(), Vec::new());
    for (i, c) in cases.iter().enumerate() {
        let (j, cs) = build(i, c);
        jobs.push(j);
        connects.extend(cs);
    }
    // A passing job gets no row; an incident in us-east-2 seen by the region's probes.
    jobs.push(job("passed", "us-west-1", T0, JobStatus::Passed));
    // Another region reaches one third party the cases fail to reach.
    let elsewhere = job("elsewhere", "eu-west-1", T0, JobStatus::Passed);
    let mut reached = connect(&elsewhere, 1, "files.pythonhosted.org", "fetch", C::Ok, 20 * MINUTE);
    reached.target_owner = Some(TargetOwner::ThirdParty);
    connects.push(reached);
    jobs.push(elsewhere);
    connects.extend(
        (0..30).map(|n| {
            probe("us-east-2", n, T0 + n as i64 * MINUTE, if n.is_multiple_of(2) { C::Timeout } else { C::Ok })
        }),
    );
    write_lake(lake.path(), &jobs, &connects, 0);
    // A spool re-delivers one job outcome and every connect attempt: each must count once.
    write_lake(lake.path(), &jobs[13..14], &connects[..], 1);

    let analyzer = support::open(lake.path()).await;
    let df = analyzer
        .sql("SELECT job_id, attribution, cause, rule_id, region_anomaly, confidence, n_failed_connects FROM job_classifications")
        .await
        .expect("plans");
    let result = analyzer.collect(df).await.expect("runs");
    let mut rows = HashMap::new();
    for batch in &result.batches {
        let s = |i: usize| batch.column(i).as_string::<i32>().clone();
        let (ids, attr, cause, rule) = (s(0), s(1), s(2), s(3));
        let anomaly = batch.column(4).as_boolean().clone();
        let confidence = batch.column(5).as_primitive::<Float64Type>().clone();
        let n_failed = batch.column(6).as_primitive::<Int64Type>().clone();
        for r in 0..batch.num_rows() {
            let key = ids.value(r).to_string();
            let row = (attr.value(r).to_string(), cause.value(r).to_string(), rule.value(r).to_string());
            assert!(rows.insert(key, (row, anomaly.value(r), confidence.value(r), n_failed.value(r))).is_none());
        }
    }
    assert_eq!(rows.len(), cases.len(), "one row per non-passing job, duplicates counted once");
    for (i, c) in cases.iter().enumerate() {
        let (got, anomaly, confidence, n_failed) = &rows[&format!("case{i:02}")];
        let want = (c.want.0.to_string(), c.want.1.to_string(), c.want.2.to_string());
        assert_eq!(got, &want, "case {i}: {}", c.name);
        assert_eq!(*anomaly, c.want_anomaly, "case {i}: {} (region anomaly)", c.name);
        assert!((0.0..=1.0).contains(confidence), "case {i}: confidence {confidence}");
        let all_failed = c.connects.iter().filter(|(_, _, o, _)| *o != C::Ok).count() as i64;
        let want_failed = c.want_failed.unwrap_or(all_failed);
        assert_eq!(*n_failed, want_failed, "case {i}: {} (failed connects)", c.name);
    }
    // Rule 6: the anomaly lowered the confidence of the user attribution, nothing else.
    assert!(rows["case12"].2 < rows["case07"].2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_count_each_event_once() {
    let lake = tempfile::tempdir().expect("temp dir");
    let j = job("dup", "us-east-2", T0, JobStatus::Failed);
    let c = connect(&j, 1, "api", "checkin", C::Timeout, MINUTE);
    write_lake(lake.path(), std::slice::from_ref(&j), std::slice::from_ref(&c), 0);
    write_lake(lake.path(), &[j], &[c], 7);
    let analyzer = support::open(lake.path()).await;
    for (table, want) in
        [("job_outcomes_raw", 2), ("job_outcomes", 1), ("connect_attempts_raw", 2), ("connect_attempts", 1)]
    {
        let df = analyzer.sql(&format!("SELECT COUNT(*) FROM {table}")).await.expect("plans");
        let result = analyzer.collect(df).await.expect("runs");
        let n = result.batches[0].column(0).as_primitive::<Int64Type>().value(0);
        assert_eq!(n, want, "{table}");
    }
    // The region health counts distinct events on the raw table: the copy counts once there too.
    let df = analyzer.sql("SELECT n_connects, n_failed_connects FROM region_hour_health").await.expect("plans");
    let result = analyzer.collect(df).await.expect("runs");
    let counts = |i: usize| result.batches[0].column(i).as_primitive::<Int64Type>().value(0);
    assert_eq!((result.batches[0].num_rows(), counts(0), counts(1)), (1, 1, 1), "region_hour_health");
}

/// `failscope serve` keeps one session for its lifetime: files the ingest publishes later (new
/// hours, and new files in an hour already read) must show up in the next query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_published_after_the_session_opened_are_read() {
    let lake = tempfile::tempdir().expect("temp dir");
    let first = job("early", "us-east-2", T0, JobStatus::Failed);
    write_lake(lake.path(), std::slice::from_ref(&first), &[], 0);
    let analyzer = support::open(lake.path()).await;
    let count = || async {
        let df = analyzer.sql("SELECT COUNT(*) FROM job_outcomes").await.expect("plans");
        let result = analyzer.collect(df).await.expect("runs");
        result.batches[0].column(0).as_primitive::<Int64Type>().value(0)
    };
    assert_eq!(count().await, 1);
    let same_hour = job("same-hour", "us-east-2", T0 + MINUTE, JobStatus::Failed);
    write_lake(lake.path(), &[same_hour], &[], 1);
    assert_eq!(count().await, 2, "a new file in an hour already read");
    let later = job("later", "us-east-2", T0 + 5 * 60 * MINUTE, JobStatus::Failed);
    write_lake(lake.path(), &[later], &[], 2);
    assert_eq!(count().await, 3, "a new hour");
}
