//! The rows of one Kafka partition waiting to be published, one Arrow builder per event hour,
//! and what keeps a message out of them: a contract violation, or an event time outside the
//! window the ingest accepts (a burst of absurd timestamps would otherwise open a builder and
//! a file per distinct hour).

use std::collections::BTreeMap;
use std::time::Instant;

use arrow::array::RecordBatch;
use failscope_schemas::arrow::{ConnectAttemptsBuilder, JobOutcomesBuilder};
use failscope_schemas::{ConnectAttempt, ContractError, EventType, JobOutcome, Timestamp, TypedEvent, decode_as};

use crate::IngestError;
use crate::config::EventWindow;
use crate::layout::hour_of;

/// What an hour's builder costs before its first row: every column's builder starts with room
/// for 1,024 values (`one_hour_of_builders_fits_its_overhead` checks the figure). It counts
/// against the memory budget like message bytes, so that many distinct hours roll a flush.
pub(crate) const HOUR_OVERHEAD_BYTES: usize = 160 << 10;

/// Why a message is not a row: it goes to the dead-letter topic with this reason.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error(transparent)]
    Contract(#[from] ContractError),
    #[error("event time {event_time} is {reason}")]
    OutOfWindow { event_time: Timestamp, reason: String },
}

impl Rejection {
    /// A stable label: the contract error's kind, or `out_of_window`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Rejection::Contract(e) => e.kind(),
            Rejection::OutOfWindow { .. } => "out_of_window",
        }
    }
}

/// Rows of one table for one event hour, with the offsets they came from.
#[derive(Debug)]
pub struct HourRows {
    builder: TableBuilder,
    pub first_offset: i64,
    pub last_offset: i64,
}

#[derive(Debug)]
enum TableBuilder {
    ConnectAttempts(Box<ConnectAttemptsBuilder>),
    JobOutcomes(Box<JobOutcomesBuilder>),
}

impl HourRows {
    pub(crate) fn n_rows(&self) -> usize {
        match &self.builder {
            TableBuilder::ConnectAttempts(b) => b.len(),
            TableBuilder::JobOutcomes(b) => b.len(),
        }
    }

    pub fn finish(&mut self) -> Result<RecordBatch, IngestError> {
        Ok(match &mut self.builder {
            TableBuilder::ConnectAttempts(b) => b.finish()?,
            TableBuilder::JobOutcomes(b) => b.finish()?,
        })
    }
}

/// Everything buffered for one partition since its last flush.
#[derive(Debug)]
pub struct PartitionBuffer {
    pub(crate) event_type: EventType,
    /// Rows by event hour (hours since the Unix epoch).
    pub hours: BTreeMap<i64, HourRows>,
    /// The offset the current flush starts at: everything below is durable.
    pub(crate) flush_start: i64,
    /// The offset after the last message handled.
    pub next_offset: i64,
    pub(crate) n_rows: usize,
    /// Message bytes buffered, the measure of the memory budget.
    pub(crate) n_bytes: usize,
    /// When the oldest buffered message arrived; `None` when nothing is pending.
    pub(crate) pending_since: Option<Instant>,
}

impl PartitionBuffer {
    pub fn new(event_type: EventType, resume_offset: i64) -> Self {
        PartitionBuffer {
            event_type,
            hours: BTreeMap::new(),
            flush_start: resume_offset,
            next_offset: resume_offset,
            n_rows: 0,
            n_bytes: 0,
            pending_since: None,
        }
    }

    /// Decodes `payload` and buffers it as a row, or returns why it is rejected: a contract
    /// violation, or an event time outside `window` around `now`. Either way the offset
    /// counts as handled.
    pub fn push(&mut self, offset: i64, payload: &[u8], window: &EventWindow, now: Timestamp) -> Result<(), Rejection> {
        self.next_offset = offset + 1;
        self.pending_since.get_or_insert_with(Instant::now);
        self.n_bytes += payload.len();
        match self.event_type {
            EventType::ConnectAttempt => {
                let event = decode_as::<ConnectAttempt<'_>>(payload)?;
                check_window(event.event_time(), window, now)?;
                let rows = self.hour_rows(event.event_time(), offset, || TableBuilder::ConnectAttempts(Box::default()));
                if let TableBuilder::ConnectAttempts(b) = &mut rows.builder {
                    b.append(&event);
                }
            }
            EventType::JobOutcome => {
                let event = decode_as::<JobOutcome<'_>>(payload)?;
                check_window(event.event_time(), window, now)?;
                let rows = self.hour_rows(event.event_time(), offset, || TableBuilder::JobOutcomes(Box::default()));
                if let TableBuilder::JobOutcomes(b) = &mut rows.builder {
                    b.append(&event).map_err(|e| ContractError::Malformed { reason: e.to_string() })?;
                }
            }
        }
        self.n_rows += 1;
        Ok(())
    }

    fn hour_rows(
        &mut self,
        event_time: failscope_schemas::Timestamp,
        offset: i64,
        new_builder: impl FnOnce() -> TableBuilder,
    ) -> &mut HourRows {
        let rows = self.hours.entry(hour_of(event_time)).or_insert_with(|| {
            self.n_bytes += HOUR_OVERHEAD_BYTES;
            HourRows { builder: new_builder(), first_offset: offset, last_offset: offset }
        });
        rows.last_offset = offset;
        rows
    }

    /// True when messages were handled since the last flush (rows or dead letters).
    pub(crate) fn has_pending(&self) -> bool {
        self.next_offset > self.flush_start
    }

    /// Starts the next flush after a successful publish of everything up to `next_offset`.
    pub(crate) fn reset_after_flush(&mut self) {
        self.hours.clear();
        self.flush_start = self.next_offset;
        self.n_rows = 0;
        self.n_bytes = 0;
        self.pending_since = None;
    }
}

/// Refuses an event time more than the window's `max_age` before `now` or `max_lead` after.
fn check_window(event_time: Timestamp, window: &EventWindow, now: Timestamp) -> Result<(), Rejection> {
    let millis = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let reason = if event_time.as_millis() < now.as_millis().saturating_sub(millis(window.max_age)) {
        format!("more than {} before the ingest's clock", humantime::format_duration(window.max_age))
    } else if event_time.as_millis() > now.as_millis().saturating_add(millis(window.max_lead)) {
        format!("more than {} after the ingest's clock", humantime::format_duration(window.max_lead))
    } else {
        return Ok(());
    };
    Err(Rejection::OutOfWindow { event_time, reason })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use failscope_schemas::arrow::{ConnectAttemptsBuilder, JobOutcomesBuilder};

    use super::*;

    const WINDOW: EventWindow =
        EventWindow { max_age: Duration::from_secs(3650 * 86_400), max_lead: Duration::from_secs(86_400) };

    fn now() -> Timestamp {
        Timestamp::parse("2026-12-01T00:00:00Z").expect("valid")
    }

    fn connect(id: &str, at: &str) -> Vec<u8> {
        format!(
            r#"{{"event_type":"connect_attempt","schema_version":1,"event_id":"{id}","worker_id":"w","region":"r","provider":"p","started_at":"{at}","duration_ms":1,"target_service":"api","target_host":"h","target_port":1,"outcome":"ok","attempt":1}}"#
        )
        .into_bytes()
    }

    #[test]
    fn rows_go_to_the_hour_of_their_event_and_offsets_are_tracked() {
        let mut buffer = PartitionBuffer::new(EventType::ConnectAttempt, 100);
        buffer.push(100, &connect("a", "2022-04-05T23:10:00Z"), &WINDOW, now()).expect("valid");
        buffer.push(101, &connect("b", "2022-04-05T22:59:59Z"), &WINDOW, now()).expect("valid");
        assert!(buffer.push(102, b"garbage", &WINDOW, now()).is_err());
        buffer.push(103, &connect("c", "2022-04-05T23:50:00Z"), &WINDOW, now()).expect("valid");
        assert_eq!(buffer.n_rows, 3);
        assert_eq!(buffer.next_offset, 104);
        let spans: Vec<(usize, i64, i64)> =
            buffer.hours.values().map(|h| (h.n_rows(), h.first_offset, h.last_offset)).collect();
        assert_eq!(spans, [(1, 101, 101), (2, 100, 103)]);
        buffer.reset_after_flush();
        assert_eq!(buffer.flush_start, 104);
        assert!(!buffer.has_pending());
    }

    #[test]
    fn a_job_outcome_on_the_connect_topic_is_a_contract_violation() {
        let mut buffer = PartitionBuffer::new(EventType::ConnectAttempt, 0);
        let job = br#"{"event_type":"job_outcome","schema_version":1,"event_id":"e","worker_id":"w","region":"r","provider":"p","job_id":"j","project":"p","job_kind":"test","started_at":"2022-04-05T23:00:00Z","finished_at":"2022-04-05T23:01:00Z","status":"passed"}"#;
        assert_eq!(buffer.push(0, job, &WINDOW, now()).expect_err("wrong type").kind(), "wrong_event_type");
        assert!(buffer.has_pending(), "a dead-lettered offset still has to be committed");
    }

    #[test]
    fn event_times_outside_the_window_are_rejected_and_take_no_hour() {
        let mut buffer = PartitionBuffer::new(EventType::ConnectAttempt, 0);
        let cases = [
            ("0001-01-01T00:00:00Z", Some("before")),
            ("2016-11-30T00:00:00Z", Some("before")),
            ("2017-01-01T00:00:00Z", None),
            ("2026-12-01T23:59:59Z", None),
            ("2026-12-02T00:00:01Z", Some("after")),
            ("9999-12-31T23:59:59Z", Some("after")),
        ];
        for (offset, (at, rejected)) in cases.into_iter().enumerate() {
            let result = buffer.push(offset as i64, &connect("e", at), &WINDOW, now());
            match (rejected, result) {
                (None, Ok(())) => {}
                (Some(side), Err(e)) => {
                    assert_eq!(e.kind(), "out_of_window", "{at}");
                    assert!(e.to_string().contains(side), "{at}: {e}");
                }
                (want, got) => panic!("{at}: expected rejection {want:?}, got {got:?}"),
            }
        }
        assert_eq!(buffer.hours.len(), 2, "only the accepted events opened an hour");
        assert_eq!(buffer.n_rows, 2);
    }

    #[test]
    fn each_new_hour_counts_its_overhead_against_the_budget() {
        let mut buffer = PartitionBuffer::new(EventType::ConnectAttempt, 0);
        let (a, b) = (connect("a", "2022-04-05T23:10:00Z"), connect("b", "2022-04-05T23:20:00Z"));
        buffer.push(0, &a, &WINDOW, now()).expect("valid");
        buffer.push(1, &b, &WINDOW, now()).expect("valid");
        buffer.push(2, &connect("c", "2022-04-06T00:00:00Z"), &WINDOW, now()).expect("valid");
        assert_eq!(buffer.n_bytes, a.len() + b.len() + a.len() + 2 * HOUR_OVERHEAD_BYTES);
    }

    #[test]
    fn one_hour_of_builders_fits_its_overhead() {
        let mut connects = ConnectAttemptsBuilder::default();
        connects.append(&decode_as::<ConnectAttempt<'_>>(&connect("a", "2022-04-05T23:10:00Z")).expect("valid"));
        let connect_bytes = connects.finish().expect("batch").get_array_memory_size();
        let job = br#"{"event_type":"job_outcome","schema_version":1,"event_id":"e","worker_id":"w","region":"r","provider":"p","job_id":"j","project":"p","job_kind":"test","started_at":"2022-04-05T23:00:00Z","finished_at":"2022-04-05T23:01:00Z","status":"passed","labels":{"a":"b"}}"#;
        let mut jobs = JobOutcomesBuilder::default();
        jobs.append(&decode_as::<JobOutcome<'_>>(job).expect("valid")).expect("append");
        let job_bytes = jobs.finish().expect("batch").get_array_memory_size();
        for (table, bytes) in [("connect_attempts", connect_bytes), ("job_outcomes", job_bytes)] {
            assert!(bytes <= HOUR_OVERHEAD_BYTES, "{table}: one row's builders take {bytes} bytes");
            assert!(bytes >= HOUR_OVERHEAD_BYTES / 2, "{table}: {bytes} bytes, the overhead is overstated");
        }
    }
}
