//! The ingest's state between Kafka and the lake: one buffer per assigned partition, the
//! dead letters awaiting acknowledgement, and the flush that turns buffers into published
//! files and a committable offset.
//!
//! The order of a flush is the heart of effectively-once: dead letters acknowledged, then
//! every file published (each naming the whole flush in its footer), and only then is the
//! offset handed back to be committed. Taking a partition claims its next owner generation
//! before the lake is read ([`crate::fence`]); a flush that finds a newer owner drops the
//! partition.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use failscope_schemas::{EventType, Timestamp};
use prometheus_client::metrics::counter::Counter;
use rdkafka::message::{BorrowedMessage, Message};

use crate::buffer::PartitionBuffer;
use crate::config::{EventWindow, FlushPolicy};
use crate::dead_letter::{DeadLetter, DeadLetters, Settled};
use crate::fence;
use crate::flush::SealedFlush;
use crate::health::{Backoff, Health};
use crate::lake::Lake;
use crate::metrics::{DeadLetterLabels, Metrics, TopicLabel};
use crate::recovery::recover_partition;
use crate::{IngestConfig, IngestError};

/// The longest a revoke or a shutdown waits for dead letters in flight.
const DEAD_LETTER_DRAIN: Duration = Duration::from_secs(5);

/// A Kafka topic and partition.
pub(crate) type TopicPartition = (String, i32);

#[derive(Debug)]
struct PartitionState {
    buffer: PartitionBuffer,
    /// The owner generation this member claimed when it was assigned the partition.
    generation: u64,
    /// False until the first message when the partition starts from the log's beginning.
    started: bool,
    dead_letters: Vec<DeadLetter>,
    /// A flush taken out of the buffer whose files are not all published yet.
    sealed: Option<SealedFlush>,
    retry: Backoff,
    /// This topic's consumed-messages counter, looked up once rather than per message.
    consumed: Counter,
}

impl PartitionState {
    /// Message bytes held for this partition, sealed or still buffered.
    fn n_bytes(&self) -> usize {
        self.buffer.n_bytes + self.sealed.as_ref().map_or(0, |s| s.n_bytes)
    }

    /// When the oldest message not yet in the lake arrived.
    fn oldest_unpublished(&self) -> Option<Instant> {
        self.sealed.as_ref().and_then(|s| s.pending_since).or(self.buffer.pending_since)
    }
}

/// Logs a flush whose files are all published.
fn log_flushed(tp: &TopicPartition, sealed: &SealedFlush) {
    tracing::info!(
        topic = tp.0,
        partition = tp.1,
        n_rows = sealed.n_rows,
        n_files = sealed.n_files(),
        flush_start = sealed.flush_start,
        flush_end = sealed.flush_end,
        "flushed partition"
    );
}

/// Buffers, dead letters and flushes of every assigned partition.
#[derive(Debug)]
pub(crate) struct Pipeline {
    event_types: HashMap<String, EventType>,
    policy: FlushPolicy,
    window: EventWindow,
    lake: Lake,
    dead_letters: DeadLetters,
    partitions: HashMap<TopicPartition, PartitionState>,
    /// Assigned partitions whose recovery failed: the group's offset, and when to try again.
    unrecovered: HashMap<TopicPartition, (Option<i64>, Backoff)>,
    /// Partitions dropped because a newer owner claimed them, for the consumer to pause.
    fenced: Vec<TopicPartition>,
    metrics: Metrics,
    health: Health,
}

impl Pipeline {
    pub(crate) fn new(
        config: &IngestConfig,
        lake: Lake,
        dead_letters: DeadLetters,
        metrics: Metrics,
        health: Health,
    ) -> Self {
        let event_types = EventType::ALL.into_iter().map(|t| (config.topics.of(t).to_string(), t)).collect();
        Pipeline {
            event_types,
            policy: config.flush,
            window: config.window,
            lake,
            dead_letters,
            partitions: HashMap::new(),
            unrecovered: HashMap::new(),
            fenced: Vec::new(),
            metrics,
            health,
        }
    }

    /// Takes ownership of a partition: the lake decides where it resumes (`committed`, the
    /// group's Kafka offset, only matters past the lake's last file, for ranges that held
    /// only dead letters). Returns the offset to fetch from, `None` for the log's beginning.
    /// If the lake cannot be read, the partition waits for [`Self::retry_recoveries`] (it
    /// must not be fetched meanwhile) and `/healthz` reports it once that takes too long.
    pub(crate) fn assign(
        &mut self,
        topic: &str,
        partition: i32,
        committed: Option<i64>,
    ) -> Result<Option<i64>, IngestError> {
        let tp = (topic.to_string(), partition);
        match self.recover(&tp, committed) {
            Ok(resume) => Ok(resume),
            Err(e) => {
                self.metrics.recovery_errors.inc();
                let mut retry = Backoff::default();
                let retry_in = retry.failed(Instant::now());
                tracing::error!(
                    topic,
                    partition,
                    error = format!("{e:#}"),
                    ?retry_in,
                    "cannot recover partition; will retry"
                );
                self.health.pending_since(&tp, Instant::now());
                self.unrecovered.insert(tp, (committed, retry));
                Err(e)
            }
        }
    }

    /// Tries again to recover the partitions whose recovery failed and whose back-off has
    /// passed. Returns those now recovered, with the offset to fetch from.
    pub(crate) fn retry_recoveries(&mut self, now: Instant) -> Vec<(TopicPartition, Option<i64>)> {
        let due: Vec<TopicPartition> = self
            .unrecovered
            .iter()
            .filter(|(_, (_, retry))| !retry.is_waiting(now))
            .map(|(tp, _)| tp.clone())
            .collect();
        let mut recovered = Vec::new();
        for tp in due {
            let Some((committed, mut retry)) = self.unrecovered.remove(&tp) else { continue };
            match self.recover(&tp, committed) {
                Ok(resume) => recovered.push((tp, resume)),
                Err(e) => {
                    self.metrics.recovery_errors.inc();
                    let retry_in = retry.failed(now);
                    tracing::warn!(
                        topic = tp.0,
                        partition = tp.1,
                        error = format!("{e:#}"),
                        ?retry_in,
                        "recovery failed again"
                    );
                    self.unrecovered.insert(tp, (committed, retry));
                }
            }
        }
        recovered
    }

    fn recover(&mut self, tp: &TopicPartition, committed: Option<i64>) -> Result<Option<i64>, IngestError> {
        let (topic, partition) = (tp.0.as_str(), tp.1);
        let event_type = *self
            .event_types
            .get(topic)
            .ok_or_else(|| IngestError::Config(format!("assigned topic {topic} is not an ingested topic")))?;
        // The claim comes first: from now on the previous owner publishes nothing more, so
        // the lake that recovery reads is the one this member continues.
        let generation = fence::claim(&self.lake, event_type.table(), topic, partition)?;
        let recovered = recover_partition(&self.lake, event_type.table(), topic, partition)?;
        for path in &recovered.removed {
            tracing::warn!(topic, partition, path, "removed a file of an interrupted flush");
        }
        for (path, reason) in &recovered.skipped {
            self.metrics.lake_files_skipped.inc();
            tracing::error!(
                topic,
                partition,
                path,
                reason,
                "skipped a file named like a data file whose footer cannot be read"
            );
        }
        let resume = match (recovered.resume_offset, committed) {
            (Some(lake), Some(kafka)) => Some(lake.max(kafka)),
            (lake, kafka) => lake.or(kafka),
        };
        tracing::info!(
            topic,
            partition,
            resume_offset = resume,
            lake_offset = recovered.resume_offset,
            owner_generation = generation,
            "assigned"
        );
        let state = PartitionState {
            buffer: PartitionBuffer::new(event_type, resume.unwrap_or(0)),
            generation,
            started: resume.is_some(),
            dead_letters: Vec::new(),
            sealed: None,
            retry: Backoff::default(),
            consumed: self.metrics.messages_consumed.get_or_create(&TopicLabel { topic: topic.to_string() }).clone(),
        };
        self.partitions.insert(tp.clone(), state);
        self.health.waiting_since(tp, None);
        Ok(resume)
    }

    /// Forgets a partition without flushing (its buffered rows will be consumed again by
    /// whoever owns it next).
    pub(crate) fn forget(&mut self, tp: &TopicPartition) {
        self.partitions.remove(tp);
        self.unrecovered.remove(tp);
        self.health.waiting_since(tp, None);
        self.update_buffered_gauge();
    }

    /// The partitions dropped since the last call because a newer owner claimed them.
    pub(crate) fn take_fenced(&mut self) -> Vec<TopicPartition> {
        std::mem::take(&mut self.fenced)
    }

    pub(crate) fn assigned(&self) -> impl Iterator<Item = &TopicPartition> {
        self.partitions.keys()
    }

    /// Buffers one message, or sends it to the dead-letter topic. Returns true when the
    /// partition reached its row, byte or hour limit and should be flushed.
    pub(crate) fn handle(&mut self, message: &BorrowedMessage<'_>) -> bool {
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
        if state.buffer.pending_since.is_none() {
            self.health.pending_since(&key, Instant::now());
        }
        let payload = message.payload().unwrap_or_default();
        let n_bytes_before = state.buffer.n_bytes;
        if let Err(error) = state.buffer.push(offset, payload, &self.window, Timestamp::now()) {
            let mut letter = DeadLetter::of(message, error.kind(), &error.to_string());
            self.dead_letters.send(&mut letter);
            self.metrics
                .dead_letters
                .get_or_create(&DeadLetterLabels { topic: key.0.clone(), reason: error.kind().to_string() })
                .inc();
            state.dead_letters.push(letter);
        }
        self.metrics.buffered_bytes.inc_by((state.buffer.n_bytes - n_bytes_before) as i64);
        let buffer = &state.buffer;
        buffer.n_rows >= self.policy.max_rows
            || buffer.n_bytes >= self.policy.max_bytes
            || buffer.hours.len() >= self.policy.max_hours
    }

    /// Publishes everything buffered for `tp`: first a flush sealed earlier whose publish
    /// failed, then the buffer. Returns the offset that may now be committed, or `None` if
    /// nothing was pending or the partition is backing off after a failure (unless
    /// `ignore_backoff`, for a last try before the partition is given up).
    pub(crate) fn flush(&mut self, tp: &TopicPartition, ignore_backoff: bool) -> Result<Option<i64>, IngestError> {
        let Some(state) = self.partitions.get_mut(tp) else { return Ok(None) };
        let now = Instant::now();
        if !ignore_backoff && state.retry.is_waiting(now) {
            return Ok(None);
        }
        let started = Instant::now();
        let mut committable = None;
        let mut result = Ok(());
        if let Some(sealed) = &mut state.sealed {
            result = sealed.publish(&self.lake, &self.metrics);
            if result.is_ok() {
                committable = Some(sealed.flush_end);
                log_flushed(tp, sealed);
                state.sealed = None;
            }
        }
        if result.is_ok() && state.buffer.has_pending() {
            // The buffer's dead letters first: its offsets are committable only once they are
            // acknowledged. While they are on their way, the next tick looks again.
            result = match self.dead_letters.settle(&mut state.dead_letters, now) {
                Settled::Waiting => Ok(()),
                Settled::Failing(reason) => {
                    Err(IngestError::DeadLetter { topic: IngestConfig::dead_letter_topic(&tp.0), reason })
                }
                Settled::All => SealedFlush::seal(tp, state.generation, &mut state.buffer).and_then(|sealed| {
                    let sealed = state.sealed.insert(sealed);
                    sealed.publish(&self.lake, &self.metrics)?;
                    committable = Some(sealed.flush_end);
                    log_flushed(tp, sealed);
                    state.sealed = None;
                    Ok(())
                }),
            };
        }
        self.health.waiting_since(tp, state.oldest_unpublished());
        let result = match result {
            Ok(()) => {
                state.retry.succeeded();
                if committable.is_some() {
                    self.metrics.publish_seconds.observe(started.elapsed().as_secs_f64());
                }
                Ok(committable)
            }
            Err(e @ IngestError::Fenced { .. }) => {
                // Its rows belong to the newer owner, who consumes them again: keeping them
                // or retrying could only duplicate them.
                self.metrics.fenced_flushes.inc();
                tracing::warn!(
                    topic = tp.0,
                    partition = tp.1,
                    owner_generation = state.generation,
                    n_rows = state.buffer.n_rows + state.sealed.as_ref().map_or(0, |s| s.n_rows),
                    "fenced: a newer owner claimed the partition; dropping its unpublished rows"
                );
                self.forget(tp);
                self.fenced.push(tp.clone());
                return Err(e);
            }
            Err(e) => {
                self.metrics.flush_errors.inc();
                let retry_in = state.retry.failed(now);
                tracing::error!(
                    topic = tp.0,
                    partition = tp.1,
                    error = format!("{e:#}"),
                    ?retry_in,
                    "flush failed; its rows are kept and it will be retried"
                );
                // What was published before the failure is durable all the same.
                match committable {
                    Some(offset) => Ok(Some(offset)),
                    None => Err(e),
                }
            }
        };
        self.update_buffered_gauge();
        result
    }

    /// Partitions that must flush now: their oldest row reached the age limit, or, largest
    /// first, enough of them to bring the buffered bytes to half of the rows budget
    /// ([`crate::FlushPolicy::rows_budget`]).
    pub(crate) fn due(&self, now: Instant) -> Vec<TopicPartition> {
        let buffers = self.partitions.iter().map(|(tp, s)| (tp, s.oldest_unpublished(), s.n_bytes()));
        self.policy.due(now, buffers).into_iter().cloned().collect()
    }

    /// Gives dead letters in flight up to a few seconds to be acknowledged, so that partitions
    /// about to be given up (a revoke, a shutdown) can commit them rather than send them again.
    pub(crate) fn drain_dead_letters(&self) {
        if self.partitions.values().any(|s| !s.dead_letters.is_empty()) {
            self.dead_letters.drain(DEAD_LETTER_DRAIN);
        }
    }

    /// Bytes buffered over all partitions.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.partitions.values().map(PartitionState::n_bytes).sum()
    }

    pub(crate) fn rows_budget(&self) -> usize {
        self.policy.rows_budget()
    }

    fn update_buffered_gauge(&self) {
        self.metrics.buffered_bytes.set(self.buffered_bytes() as i64);
    }
}
