//! The tracker on real strace 6.1 output (`emit/tests/fixtures/strace/`, recorded by its
//! `record.sh` with the flags the backend uses): each fixture gives the connects, in order,
//! with their outcome, port, errno and a duration range.

use failscope_schemas::ConnectOutcome::{self, Abandoned, DnsError, Ok, Refused, Timeout};

use super::parse::parse_line;
use super::track::ConnectTracker;
use crate::run::capture::record::CapturedConnect;

/// Outcome, port, errno, and bounds on the duration in milliseconds.
type Want = (ConnectOutcome, u16, Option<i32>, (i64, i64));

fn replay(name: &str) -> Vec<CapturedConnect> {
    let path = format!("{}/tests/fixtures/strace/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    let mut tracker = ConnectTracker::default();
    let mut out = Vec::new();
    let mut last_us = 0;
    for line in text.lines() {
        if let Some(parsed) = parse_line(line) {
            last_us = last_us.max(parsed.at_us);
            tracker.feed(&parsed, &mut out);
        }
    }
    tracker.finish(last_us, &mut out);
    out
}

#[test]
fn fixtures_give_the_connects_that_happened() {
    let cases: [(&str, &[Want]); 4] = [
        // curl: connected; refused (poll reports the error, getsockopt the errno); gave up
        // after --connect-timeout 1 and exited with the connect pending.
        (
            "curl.txt",
            &[(Ok, 47101, None, (0, 5)), (Refused, 47102, Some(111), (0, 5)), (Timeout, 47103, None, (990, 1100))],
        ),
        // python: blocking ok and refused; a 1 s socket timeout (the descriptor is reused by the
        // next socket, in a thread that shares the descriptor table); refused in that thread.
        (
            "python.txt",
            &[
                (Ok, 47101, None, (0, 5)),
                (Refused, 47102, Some(111), (0, 5)),
                (Timeout, 47103, None, (990, 1100)),
                (Refused, 47102, Some(111), (0, 5)),
            ],
        ),
        // A blocking connect into a full backlog, its process killed after 1 s.
        ("killed.txt", &[(Abandoned, 47103, None, (500, 1100))]),
        // getaddrinfo in a network namespace with no route: the resolver cannot reach its server.
        ("dns.txt", &[(DnsError, 53, Some(101), (0, 5)), (DnsError, 53, Some(101), (0, 5))]),
    ];
    for (fixture, want) in cases {
        let got = replay(fixture);
        let summary: Vec<_> = got.iter().map(|c| (c.outcome, c.port, c.errno, c.duration_us / 1000)).collect();
        assert_eq!(got.len(), want.len(), "{fixture}: {summary:?}");
        for (c, &(outcome, port, errno, (min_ms, max_ms))) in got.iter().zip(want) {
            assert_eq!((c.outcome, c.port, c.errno), (outcome, port, errno), "{fixture}: {summary:?}");
            let ms = c.duration_us / 1000;
            assert!((min_ms..=max_ms).contains(&ms), "{fixture}: {outcome:?} took {ms} ms: {summary:?}");
            assert!(c.started_at_us > 1_700_000_000_000_000, "{fixture}: epoch microseconds");
        }
    }
}

#[test]
fn a_job_ending_mid_connect_abandons_it_at_the_job_end() {
    let lines = [
        "100 1000.000000 socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK, IPPROTO_TCP) = 4 <0.000010>",
        r#"100 1000.000100 connect(4, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("192.0.2.9")}, 16) = -1 EINPROGRESS (Operation now in progress) <0.000020>"#,
        r#"101 1000.500000 connect(3, {sa_family=AF_INET6, sin6_port=htons(80), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28 <unfinished ...>"#,
    ];
    let mut tracker = ConnectTracker::default();
    let mut out = Vec::new();
    for line in lines {
        tracker.feed(&parse_line(line).expect("parses"), &mut out);
    }
    assert!(out.is_empty(), "{out:?}");
    tracker.finish(1_003_000_100, &mut out);
    let got: Vec<_> = out.iter().map(|c| (c.outcome, c.port, c.duration_us)).collect();
    assert_eq!(got, vec![(Abandoned, 80, 2_500_100), (Abandoned, 443, 3_000_000)]);
}
