//! Report schedules under paused time: a schedule fires at its cron time, writes its report,
//! and POSTs it to a loopback webhook receiver that fails twice and then accepts; the receiver
//! gets the report once.

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use failscope_analyze::report::schedule::{Clock, RetryPolicy, parse, spawn_schedules};
use failscope_schemas::{ConnectOutcome as C, JobStatus, Timestamp};
use support::{MINUTE, T0, connect, job, write_lake};
use tokio_util::sync::CancellationToken;

/// One request the receiver answered: its body and the status it got.
type Received = Arc<Mutex<Vec<(String, u16)>>>;

/// A webhook receiver on a loopback port, on its own thread (real time): it answers 500 to
/// the first `n_failures` requests and 200 after, and sends each accepted body on `accepted`.
fn receiver(n_failures: usize, accepted: tokio::sync::mpsc::UnboundedSender<String>) -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let received: Received = Arc::default();
    let log = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let (mut line, mut length) = (String::new(), 0usize);
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            if line.is_empty() && length == 0 {
                continue;
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let body = String::from_utf8_lossy(&body).into_owned();
            let mut log = log.lock().expect("lock");
            let status = if log.len() < n_failures { 500 } else { 200 };
            log.push((body.clone(), status));
            drop(log);
            let _ = stream
                .write_all(format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes());
            if status == 200 {
                let _ = accepted.send(body);
            }
        }
    });
    (url, received)
}

fn fixture_lake() -> tempfile::TempDir {
    let lake = tempfile::tempdir().expect("temp dir");
    let (mut jobs, mut connects) = (Vec::new(), Vec::new());
    for minute in 0..7 * 60 {
        let start = T0 + minute * MINUTE;
        let status = if minute % 17 == 0 { JobStatus::Failed } else { JobStatus::Passed };
        let j = job(&format!("j{minute}"), "us-east-2", start, status);
        connects.push(connect(&j, 1, "api", "checkin", C::Ok, 1_000));
        jobs.push(j);
    }
    write_lake(lake.path(), &jobs, &connects, 0);
    lake
}

#[tokio::test(start_paused = true)]
async fn a_schedule_fires_at_its_cron_time_and_its_webhook_is_retried_until_accepted() {
    let lake = fixture_lake();
    let out = tempfile::tempdir().expect("temp dir");
    let (accepted_tx, mut accepted) = tokio::sync::mpsc::unbounded_channel();
    let (url, received) = receiver(2, accepted_tx);
    let schedules = parse(&format!(
        r#"
        [[schedule]]
        name = "morning"
        cron = "0 6 * * *"
        period = "4h"
        formats = ["md", "json"]
        output_dir = "{}"
        webhook = "{url}"
        "#,
        out.path().display()
    ))
    .expect("a valid schedule");
    let analyzer = Arc::new(support::open(lake.path()).await);
    let started = tokio::time::Instant::now();
    // One minute before the cron time, in the lake's day.
    let clock = Clock::starting_at(Timestamp::parse("2022-04-06T05:59:00Z").expect("instant"));
    let policy = RetryPolicy {
        attempts: 5,
        first_delay: Duration::from_secs(2),
        max_delay: Duration::from_secs(30),
        request_timeout: Duration::from_secs(10),
    };
    let shutdown = CancellationToken::new();
    let tasks = spawn_schedules(analyzer, schedules, clock, policy, shutdown.clone());

    let body = accepted.recv().await.expect("the webhook accepted a report");
    let waited = started.elapsed();
    // The cron time is a minute away, and the two retries waited 2 s and 4 s.
    assert!(waited >= Duration::from_secs(66) && waited < Duration::from_secs(120), "fired after {waited:?}");
    let message: serde_json::Value = serde_json::from_str(&body).expect("a JSON body");
    assert_eq!(message["until"], "2022-04-06T06:00:00.000Z");
    assert_eq!(message["since"], "2022-04-06T02:00:00.000Z");
    let text = message["text"].as_str().expect("Slack's text field");
    assert!(
        text.starts_with("failscope morning report, 2022-04-06 02:00 to 2022-04-06 06:00 UTC: 0 incidents"),
        "{text}"
    );
    let md = out.path().join("morning-20220406T0600Z.md");
    assert!(text.ends_with(&format!("Full report: {}", md.display())), "{text}");
    let report = std::fs::read_to_string(&md).expect("the Markdown report is on disk");
    assert!(report.starts_with("# failscope anomaly report: 2022-04-06 02:00 to 2022-04-06 06:00 UTC"));
    assert!(out.path().join("morning-20220406T0600Z.json").exists());

    shutdown.cancel();
    tasks.wait().await;
    let received = received.lock().expect("lock").clone();
    let statuses: Vec<u16> = received.iter().map(|(_, status)| *status).collect();
    assert_eq!(statuses, [500, 500, 200], "two failures, then the report once");
    assert!(received.iter().all(|(b, _)| *b == body), "every attempt carried the same message");
}
