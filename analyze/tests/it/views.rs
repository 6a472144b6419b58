//! Snapshot tests of the region/time views through their named queries, over a small fixture
//! lake: two regions, two hours, a connect incident in us-east-2 during the second hour.

use std::borrow::Cow;

use failscope_analyze::output::{Format, write_batches};
use failscope_analyze::{Analyzer, QueryParams};
use failscope_schemas::{ConnectOutcome as C, JobStatus, Timestamp};

use crate::support::{self, MINUTE, T0, connect, job, probe, write_lake};

const HOUR: i64 = 60 * MINUTE;

async fn fixture_lake() -> tempfile::TempDir {
    let lake = tempfile::tempdir().expect("temp dir");
    let (mut jobs, mut connects) = (Vec::new(), Vec::new());
    for (region, hour) in [("us-east-2", 0), ("us-east-2", 1), ("us-west-1", 0), ("us-west-1", 1)] {
        let sick = region == "us-east-2" && hour == 1;
        for i in 0..4i64 {
            let status = if i == 0 || (sick && i < 3) { JobStatus::Failed } else { JobStatus::Passed };
            let mut j = job(&format!("{region}-{hour}-{i}"), region, T0 + hour * HOUR + i * 5 * MINUTE, status);
            for (n, target) in [(1, "api"), (2, "sstate-cache"), (3, "logs")] {
                let outcome = if sick && i > 0 && n != 2 { C::Timeout } else { C::Ok };
                let mut c = connect(&j, n, target, "checkin", outcome, i64::from(n) * MINUTE);
                c.duration_ms = if outcome == C::Ok { f64::from(n) * 10.0 + i as f64 } else { 30_000.0 };
                connects.push(c);
            }
            if i == 0 {
                j.failed_step = Some(Cow::Borrowed("test"));
                j.log_tail = Some(Cow::Borrowed("test result: FAILED. 1 passed; 1 failed"));
            }
            jobs.push(j);
        }
        if sick {
            connects.extend((0..20).map(|n| probe(region, n, T0 + HOUR + i64::from(n) * MINUTE, C::Timeout)));
        }
    }
    write_lake(lake.path(), &jobs, &connects, 0);
    lake
}

async fn csv(analyzer: &Analyzer, name: &str, region: Option<&str>) -> String {
    let params = QueryParams {
        since: Timestamp::from_millis(T0),
        until: Timestamp::from_millis(T0 + 2 * HOUR),
        region: region.map(str::to_string),
    };
    to_csv(analyzer, analyzer.named(name, &params).await.expect("plans")).await
}

/// The result of `sql` as CSV.
async fn sql_csv(analyzer: &Analyzer, sql: &str) -> String {
    to_csv(analyzer, analyzer.sql(sql).await.expect("plans")).await
}

async fn to_csv(analyzer: &Analyzer, df: datafusion::dataframe::DataFrame) -> String {
    let result = analyzer.collect(df).await.expect("runs");
    let mut out = Vec::new();
    write_batches(Format::Csv, &result.schema, &result.batches, &mut out).expect("encodes");
    String::from_utf8(out).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_by_region_hour() {
    let lake = fixture_lake().await;
    let analyzer = support::open(lake.path()).await;
    insta::assert_snapshot!(csv(&analyzer, "failures-by-region-hour", None).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_health_of_one_region() {
    let lake = fixture_lake().await;
    let analyzer = support::open(lake.path()).await;
    insta::assert_snapshot!(csv(&analyzer, "connect-health", Some("us-east-2")).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_causes() {
    let lake = fixture_lake().await;
    let analyzer = support::open(lake.path()).await;
    insta::assert_snapshot!(csv(&analyzer, "top-causes", None).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_and_region_filters_apply() {
    let lake = fixture_lake().await;
    let analyzer = support::open(lake.path()).await;
    let params = QueryParams {
        since: Timestamp::from_millis(T0 + HOUR),
        until: Timestamp::from_millis(T0 + 2 * HOUR),
        region: Some("us-west-1".to_string()),
    };
    let df = analyzer.named("failures-by-region-hour", &params).await.expect("plans");
    let result = analyzer.collect(df).await.expect("runs");
    assert_eq!(result.n_rows(), 1, "one region, one hour");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hour_filters_find_zero_padded_partitions() {
    let lake = fixture_lake().await;
    let analyzer = support::open(lake.path()).await;
    for table in ["connect_attempts", "job_outcomes"] {
        let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE date = DATE '2022-04-06' AND hour = 0");
        assert_ne!(sql_csv(&analyzer, &sql).await, "n\n0\n", "{table}: hour=00 must match hour = 0");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loss_markers_are_not_jobs_and_are_reported_apart() {
    let lake = tempfile::tempdir().expect("temp dir");
    let mut failed = job("real", "us-east-2", T0, JobStatus::Failed);
    failed.failed_step = Some(Cow::Borrowed("build"));
    // What a worker whose spool overflowed emits (failscope_emit::loss::loss_marker).
    let mut marker = job("telemetry-loss-1", "us-east-2", T0 + MINUTE, JobStatus::Errored);
    marker.job_kind = Cow::Borrowed("telemetry_loss");
    marker.runner_reason = Some(Cow::Borrowed("spool_full_dropped_events"));
    marker.labels = Some([(Cow::Borrowed("n_dropped"), Cow::Borrowed("42"))].into());
    write_lake(lake.path(), &[failed, marker], &[], 0);
    let analyzer = support::open(lake.path()).await;
    assert_eq!(sql_csv(&analyzer, "SELECT job_id FROM job_outcomes").await, "job_id\nreal\n");
    assert_eq!(sql_csv(&analyzer, "SELECT job_id FROM job_classifications").await, "job_id\nreal\n");
    assert_eq!(sql_csv(&analyzer, "SELECT jobs, failed FROM failures_by_region_hour").await, "jobs,failed\n1,1\n");
    assert_eq!(
        sql_csv(&analyzer, "SELECT region, n_dropped FROM telemetry_loss").await,
        "region,n_dropped\nus-east-2,42\n"
    );
}
