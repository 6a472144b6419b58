//! The rows of one Kafka partition waiting to be published, one Arrow builder per event hour.

use std::collections::BTreeMap;
use std::time::Instant;

use arrow::array::RecordBatch;
use failscope_schemas::arrow::{ConnectAttemptsBuilder, JobOutcomesBuilder};
use failscope_schemas::{ConnectAttempt, ContractError, EventType, JobOutcome, TypedEvent, decode_as};

use crate::IngestError;
use crate::layout::hour_of;

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
    pub fn n_rows(&self) -> usize {
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
    pub event_type: EventType,
    /// Rows by event hour (hours since the Unix epoch).
    pub hours: BTreeMap<i64, HourRows>,
    /// The offset the current flush starts at: everything below is durable.
    pub flush_start: i64,
    /// The offset after the last message handled.
    pub next_offset: i64,
    pub n_rows: usize,
    /// Message bytes buffered, the measure of the memory budget.
    pub n_bytes: usize,
    /// When the oldest buffered message arrived; `None` when nothing is pending.
    pub pending_since: Option<Instant>,
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

    /// Decodes `payload` and buffers it as a row, or returns why it violates the contract.
    /// Either way the offset counts as handled.
    pub fn push(&mut self, offset: i64, payload: &[u8]) -> Result<(), ContractError> {
        self.next_offset = offset + 1;
        self.pending_since.get_or_insert_with(Instant::now);
        self.n_bytes += payload.len();
        match self.event_type {
            EventType::ConnectAttempt => {
                let event = decode_as::<ConnectAttempt<'_>>(payload)?;
                let rows = self.hour_rows(event.event_time(), offset, || TableBuilder::ConnectAttempts(Box::default()));
                if let TableBuilder::ConnectAttempts(b) = &mut rows.builder {
                    b.append(&event);
                }
            }
            EventType::JobOutcome => {
                let event = decode_as::<JobOutcome<'_>>(payload)?;
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
        let rows = self.hours.entry(hour_of(event_time)).or_insert_with(|| HourRows {
            builder: new_builder(),
            first_offset: offset,
            last_offset: offset,
        });
        rows.last_offset = offset;
        rows
    }

    /// True when messages were handled since the last flush (rows or dead letters).
    pub fn has_pending(&self) -> bool {
        self.next_offset > self.flush_start
    }

    /// Starts the next flush after a successful publish of everything up to `next_offset`.
    pub fn reset_after_flush(&mut self) {
        self.hours.clear();
        self.flush_start = self.next_offset;
        self.n_rows = 0;
        self.n_bytes = 0;
        self.pending_since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(id: &str, at: &str) -> Vec<u8> {
        format!(
            r#"{{"event_type":"connect_attempt","schema_version":1,"event_id":"{id}","worker_id":"w","region":"r","provider":"p","started_at":"{at}","duration_ms":1,"target_service":"api","target_host":"h","target_port":1,"outcome":"ok","attempt":1}}"#
        )
        .into_bytes()
    }

    #[test]
    fn rows_go_to_the_hour_of_their_event_and_offsets_are_tracked() {
        let mut buffer = PartitionBuffer::new(EventType::ConnectAttempt, 100);
        buffer.push(100, &connect("a", "2022-04-05T23:10:00Z")).expect("valid");
        buffer.push(101, &connect("b", "2022-04-05T22:59:59Z")).expect("valid");
        assert!(buffer.push(102, b"garbage").is_err());
        buffer.push(103, &connect("c", "2022-04-05T23:50:00Z")).expect("valid");
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
        assert_eq!(buffer.push(0, job).expect_err("wrong type").kind(), "wrong_event_type");
        assert!(buffer.has_pending(), "a dead-lettered offset still has to be committed");
    }
}
