//! Object-store lakes end to end: two `failscope ingest` instances in one consumer group write
//! one `s3://` lake on an S3-compatible server on loopback (moto) from the real test broker,
//! and `failscope sql` and `failscope query` over that lake count every event exactly once;
//! through a proxy that resets, loses the answer of, or never answers a third of the store's
//! requests, the ingest still writes every event exactly once.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use failscope_test_support::http::{free_port, samples};
use failscope_test_support::s3::S3Server;
use failscope_test_support::wait::{tail, wait_until};

use crate::support::failscope;
use crate::support::flaky_proxy::FlakyProxy;
use crate::support::lake::{IngestSetup, produce_events, spawn_patient};

const BUCKET: &str = "failscope-e2e";
const CONSUMED: &str = "failscope_ingest_messages_consumed_total";
const QUERIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../queries");

/// Runs `failscope` with `args` against the server, returns the CSV rows after the header.
fn csv(server_env: &[(&str, String)], args: &[&str]) -> Result<Vec<Vec<String>>, String> {
    let out = failscope()
        .args(args)
        .args(["--format", "csv", "--queries", QUERIES])
        .envs(server_env.iter().map(|(name, value)| (name, value)))
        .output()
        .expect("run failscope");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    Ok(text.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect())
}

fn sql(server_env: &[(&str, String)], lake: &str, query: &str) -> Vec<Vec<String>> {
    csv(server_env, &["sql", "--lake", lake, "-c", query]).unwrap_or_else(|stderr| panic!("failscope sql: {stderr}"))
}

/// Polls `failscope sql` until the lake holds `n` rows over both tables, panicking with the
/// ingests' logs at `deadline`.
fn wait_for_rows(server_env: &[(&str, String)], lake: &str, n: usize, deadline: Duration, logs: &[&Path]) {
    const ROWS: &str = "SELECT (SELECT COUNT(*) FROM connect_attempts_raw) + (SELECT COUNT(*) FROM job_outcomes_raw)";
    let started = Instant::now();
    loop {
        let have: usize = sql(server_env, lake, ROWS)[0][0].parse().expect("a count");
        if have >= n {
            return;
        }
        if started.elapsed() >= deadline {
            let tails: String =
                logs.iter().map(|log| format!("\n--- last lines of {}:\n{}", log.display(), tail(log, 40))).collect();
            panic!("the lake holds {have} of {n} rows after {deadline:?}{tails}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Every produced id in exactly one row of the lake, and nothing else.
fn assert_exactly_once(server_env: &[(&str, String)], lake: &str, produced: &HashMap<String, bool>) {
    let ids = sql(
        server_env,
        lake,
        "SELECT event_id FROM connect_attempts_raw UNION ALL SELECT event_id FROM job_outcomes_raw",
    );
    let ids: Vec<&str> = ids.iter().map(|row| row[0].as_str()).collect();
    let distinct: HashSet<&str> = ids.iter().copied().collect();
    let expected: HashSet<&str> = produced.keys().map(String::as_str).collect();
    assert_eq!((ids.len(), &distinct), (produced.len(), &expected), "rows and ids in the lake");
}

#[test]
fn two_ingests_write_one_s3_lake_and_sql_and_query_count_every_event_once() {
    const N_EVENTS: usize = 400;
    let dir = tempfile::tempdir().expect("temp dir");
    let server = S3Server::start(&dir.path().join("moto.log"));
    server.create_bucket(BUCKET);
    let env = server.env(None);
    let lake = format!("s3://{BUCKET}/lake");
    let setup = IngestSetup { env: env.clone(), ..IngestSetup::new("s3", Path::new(&lake), 4) };

    let (log_a, log_b) = (dir.path().join("ingest-a.log"), dir.path().join("ingest-b.log"));
    let (port_a, port_b) = (free_port(), free_port());
    let _a = spawn_patient(&setup, &["--http-addr", &format!("127.0.0.1:{port_a}")], &log_a);
    let _b = spawn_patient(&setup, &["--http-addr", &format!("127.0.0.1:{port_b}")], &log_b);
    // Both members hold partitions before anything is produced, so both write the lake.
    for (port, log) in [(port_a, &log_a), (port_b, &log_b)] {
        wait_until("both ingests hold partitions", Duration::from_secs(120), log, || {
            samples(port, CONSUMED).is_some_and(|samples| !samples.is_empty())
        });
    }
    let mut produced = HashMap::new();
    produce_events(&setup.producer(), &setup, 0..N_EVENTS, |i| format!("w-{}", i % 97), &mut produced);
    wait_for_rows(&env, &lake, N_EVENTS, Duration::from_secs(180), &[&log_a, &log_b]);
    for (port, name) in [(port_a, "a"), (port_b, "b")] {
        let consumed: f64 = samples(port, CONSUMED).unwrap_or_default().iter().sum();
        assert!(consumed > 0.0, "ingest {name} consumed nothing: the lake was written by one member");
    }

    assert_exactly_once(&env, &lake, &produced);

    // The analysis over the same lake: the deduplicated views and a named query.
    let n_jobs = produced.values().filter(|is_connect| !**is_connect).count();
    let counts = sql(
        &env,
        &lake,
        "SELECT (SELECT COUNT(*) FROM connect_attempts) AS attempts, (SELECT COUNT(*) FROM job_outcomes) AS jobs",
    );
    assert_eq!(counts, [[(N_EVENTS - n_jobs).to_string(), n_jobs.to_string()]], "views over the s3 lake");
    let args = ["query", "failures-by-region-hour", "--lake", &lake];
    let period = ["--since", "2022-04-05T00:00:00Z", "--until", "2022-04-06T00:00:00Z"];
    let rows =
        csv(&env, &[&args[..], &period[..]].concat()).unwrap_or_else(|stderr| panic!("failscope query: {stderr}"));
    let jobs: usize = rows.iter().map(|row| row[2].parse::<usize>().expect("jobs is a number")).sum();
    let failed: usize = rows.iter().map(|row| row[3].parse::<usize>().expect("failed is a number")).sum();
    assert_eq!((rows.len(), jobs, failed), (3, n_jobs, n_jobs), "failures-by-region-hour over the s3 lake: {rows:?}");
}

#[test]
fn an_unreachable_bucket_fails_sql_with_the_stores_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = S3Server::start(&dir.path().join("moto.log"));
    let stderr = csv(&server.env(None), &["sql", "--lake", "s3://no-such-bucket/lake", "-c", "SELECT 1"])
        .expect_err("a missing bucket fails");
    assert!(stderr.contains("cannot read the lake at s3://no-such-bucket/lake"), "{stderr}");
}

#[test]
fn a_store_that_fails_a_third_of_its_requests_loses_and_duplicates_nothing() {
    const N_EVENTS: usize = 300;
    let dir = tempfile::tempdir().expect("temp dir");
    let server = S3Server::start(&dir.path().join("moto.log"));
    server.create_bucket(BUCKET);
    let proxy = FlakyProxy::start(server.port());
    let lake = format!("s3://{BUCKET}/flaky");
    // The ingest talks to the store through the proxy, and gives up on an answer after 2 s;
    // the checks below read the store directly.
    let mut ingest_env = server.env(Some(&proxy.endpoint()));
    ingest_env.push(("AWS_TIMEOUT", "2s".to_string()));
    let setup = IngestSetup { env: ingest_env, ..IngestSetup::new("s3-flaky", Path::new(&lake), 2) };
    let log = dir.path().join("ingest.log");
    let port = free_port();
    let _ingest = spawn_patient(&setup, &["--http-addr", &format!("127.0.0.1:{port}")], &log);

    let mut produced = HashMap::new();
    let producer = setup.producer();
    // Several bursts, so that several flushes (and their puts) meet the faults.
    for burst in 0..3 {
        let range = burst * N_EVENTS / 3..(burst + 1) * N_EVENTS / 3;
        produce_events(&producer, &setup, range, |i| format!("w-{}", i % 97), &mut produced);
        wait_for_rows(&server.env(None), &lake, (burst + 1) * N_EVENTS / 3, Duration::from_secs(240), &[&log]);
    }
    assert_exactly_once(&server.env(None), &lake, &produced);

    let faults = &proxy.faults;
    let seen = [&faults.reset, &faults.answer_lost, &faults.hung].map(|n| n.load(Ordering::SeqCst));
    assert!(seen.iter().all(|n| *n > 0), "every kind of fault happened (reset, answer lost, hung): {seen:?}");
    // Whether a fault reaches the ingest as a failed publish, or is absorbed by the store
    // client's own retries, depends on which requests it meets (the fence's checks and claims
    // are requests too): the promise is the exactly-once lake above, whichever it was.
    let flush_errors: f64 = samples(port, "failscope_ingest_flush_errors_total").unwrap_or_default().iter().sum();
    eprintln!("faults (reset, answer lost, hung): {seen:?}; publishes the ingest saw fail: {flush_errors}");
}
