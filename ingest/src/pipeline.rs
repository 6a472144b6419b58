//! The ingest's state between Kafka and the lake: one buffer per assigned partition, the
//! dead letters awaiting acknowledgement, and the flush that turns buffers into published
//! files and a committable offset.
//!
//! The order of a flush is the heart of effectively-once: dead letters acknowledged, then
//! every file published (each naming the whole flush in its footer), and only then is the
//! offset handed back to be committed.

use std::collections::HashMap;
use std::time::Instant;

use failscope_schemas::{CURRENT_SCHEMA_VERSION, EventType};
use prometheus_client::metrics::counter::Counter;
use rdkafka::message::{BorrowedMessage, Message};
use tokio_util::sync::CancellationToken;

use crate::buffer::PartitionBuffer;
use crate::config::FlushPolicy;
use crate::dead_letter::{DeadLetter, DeadLetters};
use crate::encode::{FileMeta, encode_file};
use crate::lake::Lake;
use crate::layout::file_path;
use crate::metrics::{DeadLetterLabels, Metrics, TableLabel, TopicLabel};
use crate::recovery::recover_partition;
use crate::{IngestConfig, IngestError};

/// A Kafka topic and partition.
pub type TopicPartition = (String, i32);

#[derive(Debug)]
struct PartitionState {
    buffer: PartitionBuffer,
    /// False until the first message when the partition starts from the log's beginning.
    started: bool,
    dead_letters: Vec<DeadLetter>,
    /// This topic's consumed-messages counter, looked up once rather than per message.
    consumed: Counter,
}

/// Buffers, dead letters and flushes of every assigned partition.
#[derive(Debug)]
pub struct Pipeline {
    event_types: HashMap<String, EventType>,
    policy: FlushPolicy,
    lake: Lake,
    dead_letters: DeadLetters,
    partitions: HashMap<TopicPartition, PartitionState>,
    metrics: Metrics,
    shutdown: CancellationToken,
}

impl Pipeline {
    pub fn new(
        config: &IngestConfig,
        lake: Lake,
        dead_letters: DeadLetters,
        metrics: Metrics,
        shutdown: CancellationToken,
    ) -> Self {
        let event_types = EventType::ALL.into_iter().map(|t| (config.topics.of(t).to_string(), t)).collect();
        Pipeline {
            event_types,
            policy: config.flush,
            lake,
            dead_letters,
            partitions: HashMap::new(),
            metrics,
            shutdown,
        }
    }

    /// Takes ownership of a partition: the lake decides where it resumes (`committed`, the
    /// group's Kafka offset, only matters past the lake's last file, for ranges that held
    /// only dead letters). Returns the offset to fetch from, `None` for the log's beginning.
    pub fn assign(&mut self, topic: &str, partition: i32, committed: Option<i64>) -> Result<Option<i64>, IngestError> {
        let event_type = *self
            .event_types
            .get(topic)
            .ok_or_else(|| IngestError::Config(format!("assigned topic {topic} is not an ingested topic")))?;
        let recovered = recover_partition(&self.lake, event_type.table(), topic, partition)?;
        for path in &recovered.removed {
            tracing::warn!(topic, partition, path, "removed a file of an interrupted flush");
        }
        let resume = match (recovered.resume_offset, committed) {
            (Some(lake), Some(kafka)) => Some(lake.max(kafka)),
            (lake, kafka) => lake.or(kafka),
        };
        tracing::info!(topic, partition, resume_offset = resume, lake_offset = recovered.resume_offset, "assigned");
        let state = PartitionState {
            buffer: PartitionBuffer::new(event_type, resume.unwrap_or(0)),
            started: resume.is_some(),
            dead_letters: Vec::new(),
            consumed: self.metrics.messages_consumed.get_or_create(&TopicLabel { topic: topic.to_string() }).clone(),
        };
        self.partitions.insert((topic.to_string(), partition), state);
        Ok(resume)
    }

    /// Forgets a partition without flushing (its buffered rows will be consumed again by
    /// whoever owns it next).
    pub fn forget(&mut self, tp: &TopicPartition) {
        self.partitions.remove(tp);
        self.update_buffered_gauge();
    }

    pub fn assigned(&self) -> impl Iterator<Item = &TopicPartition> {
        self.partitions.keys()
    }

    /// Buffers one message, or sends it to the dead-letter topic. Returns true when the
    /// partition reached its row or byte limit and should be flushed.
    pub fn handle(&mut self, message: &BorrowedMessage<'_>) -> bool {
        let key = (message.topic().to_string(), message.partition());
        let Some(state) = self.partitions.get_mut(&key) else {
            tracing::debug!(
                topic = message.topic(),
                partition = message.partition(),
                "message of an unassigned partition"
            );
            return false;
        };
        let offset = message.offset();
        if !state.started {
            state.buffer = PartitionBuffer::new(state.buffer.event_type, offset);
            state.started = true;
        }
        if offset < state.buffer.next_offset {
            return false;
        }
        state.consumed.inc();
        let payload = message.payload().unwrap_or_default();
        if let Err(error) = state.buffer.push(offset, payload) {
            let mut letter = DeadLetter::of(message, &error);
            self.dead_letters.send(&mut letter);
            self.metrics
                .dead_letters
                .get_or_create(&DeadLetterLabels { topic: key.0.clone(), reason: error.kind().to_string() })
                .inc();
            state.dead_letters.push(letter);
        }
        self.metrics.buffered_bytes.inc_by(payload.len() as i64);
        state.buffer.n_rows >= self.policy.max_rows || state.buffer.n_bytes >= self.policy.max_bytes
    }

    /// Publishes everything buffered for `tp`. Returns the offset that may now be committed,
    /// or `None` if nothing was pending.
    pub fn flush(&mut self, tp: &TopicPartition) -> Result<Option<i64>, IngestError> {
        let Some(state) = self.partitions.get_mut(tp) else { return Ok(None) };
        if !state.buffer.has_pending() {
            return Ok(None);
        }
        let started = Instant::now();
        self.dead_letters.settle(&mut state.dead_letters, &self.shutdown)?;
        let buffer = &mut state.buffer;
        let table = buffer.event_type.table();
        let time_column = buffer.event_type.time_column();
        let flush_files = u32::try_from(buffer.hours.len()).expect("fewer than 2^32 hours buffered");
        let mut encoded = Vec::with_capacity(buffer.hours.len());
        for (hour, rows) in &mut buffer.hours {
            let meta = FileMeta {
                topic: tp.0.clone(),
                partition: tp.1,
                first_offset: rows.first_offset,
                last_offset: rows.last_offset,
                flush_start: buffer.flush_start,
                flush_end: buffer.next_offset,
                flush_files,
                schema_version: CURRENT_SCHEMA_VERSION,
            };
            let n_rows = rows.n_rows();
            let batch = rows.finish()?;
            let bytes = encode_file(&batch, time_column, &meta)?;
            encoded.push((file_path(table, *hour, &tp.0, tp.1, rows.first_offset), bytes, n_rows));
        }
        for (path, bytes, n_rows) in encoded {
            let n_bytes = bytes.len() as u64;
            self.lake.publish(&path, bytes)?;
            let label = TableLabel { table: table.to_string() };
            self.metrics.files_written.get_or_create(&label).inc();
            self.metrics.rows_written.get_or_create(&label).inc_by(n_rows as u64);
            self.metrics.bytes_written.get_or_create(&label).inc_by(n_bytes);
            tracing::debug!(table, topic = tp.0, partition = tp.1, n_rows, n_bytes, path, "published parquet file");
        }
        let committable = buffer.next_offset;
        self.metrics.buffered_bytes.dec_by(buffer.n_bytes as i64);
        tracing::info!(
            topic = tp.0,
            partition = tp.1,
            n_rows = buffer.n_rows,
            n_files = flush_files,
            flush_start = buffer.flush_start,
            flush_end = committable,
            "flushed partition"
        );
        buffer.reset_after_flush();
        self.metrics.publish_seconds.observe(started.elapsed().as_secs_f64());
        Ok(Some(committable))
    }

    /// Partitions that must flush now: their oldest row reached the age limit, or, largest
    /// first, enough of them to bring the buffered bytes to half of the rows budget
    /// ([`crate::FlushPolicy::rows_budget`]).
    pub fn due(&self, now: Instant) -> Vec<TopicPartition> {
        let buffers = self.partitions.iter().map(|(tp, s)| (tp, s.buffer.pending_since, s.buffer.n_bytes));
        self.policy.due(now, buffers).into_iter().cloned().collect()
    }

    /// Bytes buffered over all partitions.
    pub fn buffered_bytes(&self) -> usize {
        self.partitions.values().map(|s| s.buffer.n_bytes).sum()
    }

    pub fn rows_budget(&self) -> usize {
        self.policy.rows_budget()
    }

    fn update_buffered_gauge(&self) {
        self.metrics.buffered_bytes.set(self.buffered_bytes() as i64);
    }
}
