//! The deduplicating scan: every event counts once in the `_unique` tables and the views over
//! them, however many files hold copies of it, whatever columns a query reads and filters on.

use std::borrow::Cow;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use failscope_analyze::{Analyzer, CatalogConfig};
use failscope_schemas::{ConnectAttempt, ConnectOutcome, JobStatus};

use crate::support::{self, MINUTE, T0, connect, job, write_lake};

/// Distinct events of one job: canonical UUIDs, ids of another form, and upper-case spellings
/// of some of the UUIDs, which are other ids and must stay apart from them.
fn events(n_uuid: u32, n_text: u32) -> Vec<ConnectAttempt<'static>> {
    let j = job("dedup", "us-east-2", T0, JobStatus::Failed);
    let mut events = Vec::new();
    for i in 0..n_uuid {
        let outcome = if i % 4 == 0 { ConnectOutcome::Timeout } else { ConnectOutcome::Ok };
        let mut c = connect(&j, i, "api", "checkin", outcome, i64::from(i % 50) * MINUTE);
        c.event_id = Cow::Owned(format!("0190a1b2-{:04x}-7000-8000-{:012x}", i % 3, u64::from(i) * 7_919));
        events.push(c);
    }
    for i in 0..n_text {
        let mut c = connect(&j, n_uuid + i, "cache", "fetch", ConnectOutcome::Ok, i64::from(i % 50) * MINUTE);
        c.event_id = Cow::Owned(format!("conn-{i}"));
        events.push(c);
    }
    for i in (0..n_uuid).step_by(10) {
        let mut c = events[i as usize].clone();
        c.event_id = Cow::Owned(c.event_id.to_uppercase());
        events.push(c);
    }
    events
}

async fn count(analyzer: &Analyzer, sql: &str) -> Vec<i64> {
    let df = analyzer.sql(sql).await.expect("plans");
    let result = analyzer.collect(df).await.expect("runs");
    let batch = &result.batches[0];
    (0..batch.num_columns()).map(|i| batch.column(i).as_primitive::<Int64Type>().value(0)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_copy_counts_once_across_files_and_partitions() {
    let lake = tempfile::tempdir().expect("temp dir");
    let all = events(3_000, 1_000);
    let distinct = all.len() as i64;
    let timeouts = all.iter().filter(|c| c.outcome == ConnectOutcome::Timeout).count() as i64;
    // The first delivery, then re-deliveries of every third and every fifth event, in other
    // files of the same hour and in another order.
    write_lake(lake.path(), &[], &all, 0);
    let thirds: Vec<_> = all.iter().step_by(3).rev().cloned().collect();
    let fifths: Vec<_> = all.iter().step_by(5).cloned().collect();
    write_lake(lake.path(), &[], &thirds, 1);
    write_lake(lake.path(), &[], &fifths, 2);
    let copies = distinct + thirds.len() as i64 + fifths.len() as i64;

    let analyzer = support::open(lake.path()).await;
    assert_eq!(count(&analyzer, "SELECT COUNT(*) FROM connect_attempts_raw").await, [copies]);
    assert_eq!(
        count(&analyzer, "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM connect_attempts").await,
        [distinct, distinct],
    );
    // Queries that do not read the id: the scan adds it for the deduplication only.
    assert_eq!(count(&analyzer, "SELECT COUNT(*) FROM connect_attempts_unique").await, [distinct]);
    assert_eq!(
        count(&analyzer, "SELECT SUM(n) FROM (SELECT target_service, COUNT(*) AS n FROM connect_attempts GROUP BY 1)")
            .await,
        [distinct],
    );
    // Filters reach the scan below the deduplication, and every copy is filtered alike.
    assert_eq!(count(&analyzer, "SELECT COUNT(*) FROM connect_attempts WHERE outcome = 'timeout'").await, [timeouts]);
    assert_eq!(count(&analyzer, "SELECT COUNT(*) FROM connect_attempts WHERE hour = 23").await, [distinct]);
    assert_eq!(count(&analyzer, "SELECT COUNT(*) FROM connect_attempts WHERE hour = 5").await, [0]);
    let limited = analyzer.sql("SELECT event_id FROM connect_attempts LIMIT 7").await.expect("plans");
    assert_eq!(analyzer.collect(limited).await.expect("runs").n_rows(), 7);
    // A join reads the deduplicated table on its probe side (with the join's dynamic filter).
    assert_eq!(
        count(
            &analyzer,
            "SELECT COUNT(*) FROM (SELECT DISTINCT job_id FROM connect_attempts) j \
             JOIN connect_attempts c ON c.job_id = j.job_id",
        )
        .await,
        [distinct],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_beyond_the_memory_limit_fail_the_query_not_the_process() {
    let lake = tempfile::tempdir().expect("temp dir");
    write_lake(lake.path(), &[], &events(50_000, 0), 0);
    let config = CatalogConfig {
        lake: lake.path().into(),
        queries_dir: None,
        memory_limit_bytes: Some(256 * 1024),
        target_partitions: Some(2),
    };
    let analyzer = Analyzer::open(&config).await.expect("opens");
    let df = analyzer.sql("SELECT event_id FROM connect_attempts_unique").await.expect("plans");
    let err = analyzer.collect(df).await.expect_err("50,000 ids do not fit in 256 KiB");
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(e) = source {
        chain.push_str(&format!(": {e}"));
        source = e.source();
    }
    assert!(chain.contains("Resources exhausted") && chain.contains("DedupExec"), "{chain}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hour_filters_find_the_zero_padded_lake_directories() {
    let lake = tempfile::tempdir().expect("temp dir");
    let j = job("late", "eu-west-1", T0 + 6 * 60 * MINUTE, JobStatus::Failed);
    write_lake(lake.path(), std::slice::from_ref(&j), &[connect(&j, 1, "api", "checkin", ConnectOutcome::Ok, 0)], 0);
    let analyzer = support::open(lake.path()).await;
    assert_eq!(count(&analyzer, "SELECT CAST(hour AS BIGINT) FROM connect_attempts").await, [5]);
    assert_eq!(
        count(&analyzer, "SELECT COUNT(*) FROM job_outcomes WHERE hour = 5 AND region = 'eu-west-1'").await,
        [1]
    );
}

/// A scan over many hours empties the id set of each hour its partitions have left and reuses
/// it for a later hour, and still counts each event once, also when hours share ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_hours_pass_their_id_sets_on() {
    let lake = tempfile::tempdir().expect("temp dir");
    let j = job("hours", "us-east-2", T0, JobStatus::Failed);
    let hours = 12;
    // The same 500 ids in each of 12 hours: another hour, another event.
    let all: Vec<_> = (0..500 * hours)
        .map(|i| {
            let hour = i64::from(i / 500);
            let mut c = connect(&j, i, "api", "checkin", ConnectOutcome::Ok, hour * 60 * MINUTE + i64::from(i % 50));
            c.event_id = Cow::Owned(format!("0190a1b2-0000-7000-8000-{:012x}", i % 500));
            c
        })
        .collect();
    write_lake(lake.path(), &[], &all, 0);
    let halves: Vec<_> = all.iter().step_by(2).rev().cloned().collect();
    let thirds: Vec<_> = all.iter().step_by(3).cloned().collect();
    write_lake(lake.path(), &[], &halves, 1);
    write_lake(lake.path(), &[], &thirds, 2);
    let analyzer = support::open(lake.path()).await;
    let distinct = all.len() as i64;
    assert_eq!(
        count(&analyzer, "SELECT COUNT(*) FROM connect_attempts_raw").await,
        [distinct + halves.len() as i64 + thirds.len() as i64]
    );
    assert_eq!(
        count(&analyzer, "SELECT COUNT(*), COUNT(DISTINCT (event_id, date, hour)) FROM connect_attempts").await,
        [distinct, distinct],
    );
    let df = analyzer.sql("EXPLAIN ANALYZE SELECT COUNT(*) FROM connect_attempts").await.expect("plans");
    let explained = analyzer.collect(df).await.expect("runs");
    let plan: String = explained.batches[0].column(1).as_string::<i32>().iter().flatten().collect();
    let reused: u64 = plan
        .split("id_sets_reused=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no id_sets_reused metric in {plan}"));
    assert!(reused >= hours as u64 / 2, "{reused} sets reused over {hours} hours:\n{plan}");
}
