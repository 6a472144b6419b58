//! `failscope report` over a small fixture lake: three regions over six hours, one job a
//! minute in each, and a connect incident in us-east-2 for 50 minutes, after which it recovers. The report
//! is snapshot-tested in Markdown and JSON, and must be byte-identical between two runs but
//! for its generated-at line.

use crate::support;

use std::borrow::Cow;
use std::process::ExitCode;

use clap::Parser;
use failscope_analyze::cli::{ReportArgs, run_report};
use failscope_analyze::report::{Report, ReportFormat, build, render};
use failscope_schemas::{ConnectOutcome as C, JobStatus, Timestamp};
use support::{MINUTE, T0, connect, job, write_lake};
use tokio_util::sync::CancellationToken;

const HOUR: i64 = 60 * MINUTE;
const REGIONS: [&str; 3] = ["eu-west-1", "us-east-2", "us-west-1"];
/// The incident: us-east-2's connects to `api` and `git` time out.
const INCIDENT: (i64, i64) = (T0, T0 + 50 * MINUTE);

fn fixture_lake() -> tempfile::TempDir {
    let lake = tempfile::tempdir().expect("temp dir");
    let (mut jobs, mut connects) = (Vec::new(), Vec::new());
    for (r, region) in REGIONS.iter().enumerate() {
        for minute in -240..180i64 {
            let start = T0 + minute * MINUTE;
            let sick = *region == "us-east-2" && (INCIDENT.0..INCIDENT.1).contains(&start);
            // A user's failing test now and then, everywhere.
            let user_failure = (minute + r as i64 * 7).rem_euclid(23) == 0;
            let status = if sick || user_failure { JobStatus::Failed } else { JobStatus::Passed };
            let mut j = job(&format!("{region}-{minute}"), region, start, status);
            j.worker_id = Cow::Owned(format!("{region}-worker-{}", minute.rem_euclid(8)));
            for (n, target) in [(1, "api"), (2, "git"), (3, "logs")] {
                let outcome = if sick && n != 3 { C::Timeout } else { C::Ok };
                connects.push(connect(&j, n, target, "checkin", outcome, i64::from(n) * 1_000));
            }
            if sick {
                j.failed_step = Some(Cow::Borrowed("checkin"));
            } else if user_failure {
                j.failed_step = Some(Cow::Borrowed("test"));
                j.log_tail =
                    Some(Cow::Borrowed("test tests::parses ... FAILED\ntest result: FAILED. 41 passed; 1 failed"));
            }
            jobs.push(j);
        }
    }
    write_lake(lake.path(), &jobs, &connects, 0);
    lake
}

async fn report_of(lake: &std::path::Path, generated_at: i64) -> Report {
    let analyzer = support::open(lake).await;
    build(
        &analyzer,
        Timestamp::from_millis(T0 - 2 * HOUR),
        Timestamp::from_millis(T0 + 3 * HOUR),
        Timestamp::from_millis(generated_at),
    )
    .await
    .expect("the report builds")
}

#[tokio::test]
async fn the_report_names_the_incident_and_is_the_same_twice_but_for_its_date() {
    let lake = fixture_lake();
    let first = report_of(lake.path(), 1_700_000_000_000).await;
    let second = report_of(lake.path(), 1_800_000_000_000).await;

    let incident = first.incidents.iter().find(|i| i.name == "us-east-2").expect("us-east-2 is an incident");
    assert_eq!(incident.status.as_str(), "unhealthy");
    assert!(incident.start >= Timestamp::from_millis(INCIDENT.0), "{incident:?}");
    assert!(incident.affected_jobs > 0 && incident.wasted_job_minutes >= 10 * incident.affected_jobs, "{incident:?}");
    assert!(first.incidents.iter().all(|i| i.name != "us-west-1" && i.name != "eu-west-1"), "{:?}", first.incidents);
    let regions: Vec<&str> = first.timeline.iter().map(|t| t.region.as_str()).collect();
    assert_eq!(regions, REGIONS);

    for format in [ReportFormat::Md, ReportFormat::Html, ReportFormat::Json] {
        let (a, b) = (render(&first, format), render(&second, format));
        let differing: Vec<(&str, &str)> = a.lines().zip(b.lines()).filter(|(x, y)| x != y).collect();
        assert_eq!(a.lines().count(), b.lines().count(), "{format:?}");
        assert_eq!(differing.len(), 1, "{format:?}: only the generated-at line differs: {differing:?}");
        assert!(differing[0].0.contains("2023-11-14T22:13:20.000Z"), "{:?}", differing[0]);
    }
    insta::assert_snapshot!("report_md", render(&first, ReportFormat::Md));
    insta::assert_snapshot!("report_json", render(&first, ReportFormat::Json));
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: ReportArgs,
}

fn args(argv: &[&str]) -> ReportArgs {
    Cli::try_parse_from(std::iter::once("report").chain(argv.iter().copied())).expect("flags parse").args
}

#[tokio::test]
async fn the_command_writes_the_file_whole_and_refuses_an_empty_period() {
    let lake = fixture_lake();
    let out = tempfile::tempdir().expect("temp dir");
    let path = out.path().join("report.html");
    let lake_dir = lake.path().to_str().expect("utf-8");
    let code = run_report(
        args(&[
            "--lake",
            lake_dir,
            "--since",
            "2022-04-05T21:00:00Z",
            "--until",
            "2022-04-06T01:00:00Z",
            "--format",
            "html",
            "--out",
            path.to_str().expect("utf-8"),
        ]),
        CancellationToken::new(),
    )
    .await
    .expect("runs");
    assert_eq!(code, ExitCode::SUCCESS);
    let html = std::fs::read_to_string(&path).expect("written");
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for id in ["timeline", "heatmap", "connect-failures", "top-causes", "unknown-rate"] {
        assert!(html.contains(&format!("<figure id=\"{id}\">")), "{id} chart missing");
    }
    assert!(!html.contains("http://") || !html.contains("src=\"http"), "no remote resource");

    let error = run_report(
        args(&["--lake", lake_dir, "--since", "2022-04-06T01:00:00Z", "--until", "2022-04-05T21:00:00Z"]),
        CancellationToken::new(),
    )
    .await
    .expect_err("an empty period is refused");
    assert!(format!("{error:#}").contains("must be before --until"), "{error:#}");
    let error = run_report(args(&["--lake", lake_dir, "--since", "yesterday"]), CancellationToken::new())
        .await
        .expect_err("a bad instant is refused");
    assert_eq!(format!("{error:#}").lines().count(), 1, "{error:#}");
}
