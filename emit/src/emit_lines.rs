//! `failscope emit`: validate JSON lines against the contract and produce the valid ones,
//! byte for byte, to the topic of their `event_type`.

use std::time::Duration;

use failscope_schemas::decode;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::Topics;

/// Messages handed to the producer and not yet acknowledged; bounds memory on huge inputs.
const MAX_IN_FLIGHT: usize = 10_000;

/// A line that is not a valid event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidLine {
    /// 1-based line number in the input.
    pub(crate) line_number: u64,
    pub(crate) reason: String,
}

/// What happened to the input.
#[derive(Debug, Default)]
pub struct EmitReport {
    pub(crate) n_lines: u64,
    pub n_valid: u64,
    pub(crate) n_delivered: u64,
    pub invalid: Vec<InvalidLine>,
    /// Valid lines the broker did not acknowledge, with the reason.
    pub undelivered: Vec<InvalidLine>,
}

impl EmitReport {
    pub fn is_success(&self) -> bool {
        self.invalid.is_empty() && self.undelivered.is_empty()
    }
}

/// Reads JSON lines from `input`, validates each, and (unless `producer` is `None`, a dry run)
/// produces each valid line unchanged to its topic, keyed by `worker_id`. Blank lines are
/// skipped. Returns once every produced message is acknowledged or has failed.
pub async fn emit_lines<R: AsyncBufRead + Unpin>(
    mut input: R,
    producer: Option<&FutureProducer>,
    topics: &Topics,
) -> std::io::Result<EmitReport> {
    let mut report = EmitReport::default();
    let mut in_flight = FuturesUnordered::new();
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).await? == 0 {
            break;
        }
        report.n_lines += 1;
        let line_number = report.n_lines;
        let payload = trim_line_end(&line);
        if payload.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let event = match decode(payload) {
            Ok(event) => event,
            Err(e) => {
                report.invalid.push(InvalidLine { line_number, reason: e.to_string() });
                continue;
            }
        };
        report.n_valid += 1;
        let Some(producer) = producer else { continue };
        let topic = topics.of(event.event_type()).to_string();
        let key = event.worker_id().to_string();
        let payload = payload.to_vec();
        in_flight.push(async move {
            let record = FutureRecord::to(&topic).key(&key).payload(&payload);
            let result = producer.send(record, Timeout::After(Duration::from_secs(60))).await;
            (line_number, result.map(|_| ()).map_err(|(e, _)| e.to_string()))
        });
        if in_flight.len() >= MAX_IN_FLIGHT
            && let Some(done) = in_flight.next().await
        {
            record_delivery(&mut report, done);
        }
    }
    while let Some(done) = in_flight.next().await {
        record_delivery(&mut report, done);
    }
    report.invalid.sort_by_key(|l| l.line_number);
    report.undelivered.sort_by_key(|l| l.line_number);
    Ok(report)
}

fn record_delivery(report: &mut EmitReport, (line_number, result): (u64, Result<(), String>)) {
    match result {
        Ok(()) => report.n_delivered += 1,
        Err(reason) => report.undelivered.push(InvalidLine { line_number, reason }),
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dry_run_reports_invalid_lines_with_numbers() {
        let valid = r#"{"event_type":"job_outcome","schema_version":1,"event_id":"e","worker_id":"w","region":"r","provider":"p","job_id":"j","project":"p","job_kind":"test","started_at":"2022-04-05T23:00:00Z","finished_at":"2022-04-05T23:01:00Z","status":"passed"}"#;
        let input =
            format!("{valid}\n\nnot json\r\n{valid}\r\n{{\"event_type\":\"job_outcome\",\"schema_version\":7}}\n");
        let report = emit_lines(input.as_bytes(), None, &Topics::default()).await.expect("in-memory read");
        assert_eq!(report.n_lines, 5);
        assert_eq!(report.n_valid, 2);
        let numbers: Vec<u64> = report.invalid.iter().map(|l| l.line_number).collect();
        assert_eq!(numbers, [3, 5]);
        assert!(report.invalid[0].reason.starts_with("malformed json"), "{:?}", report.invalid[0]);
        assert!(report.invalid[1].reason.contains("unsupported schema_version 7"), "{:?}", report.invalid[1]);
        assert!(!report.is_success());
    }
}
