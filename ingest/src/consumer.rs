//! The consume loop: polls Kafka on a dedicated thread, feeds the [`Pipeline`], flushes on the
//! roll policy, commits offsets after publication, and handles rebalances.
//!
//! Rebalances run inside `poll`, in [`IngestContext::rebalance`]: on revoke, the revoked
//! partitions are flushed and committed before they are given up; on assign, each partition's
//! fetch offset comes from the lake (see [`crate::recovery`]) rather than from Kafka alone.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaResult;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientConfig, ClientContext};
use tokio_util::sync::CancellationToken;

use crate::metrics::{Metrics, PartitionLabels};
use crate::pipeline::{Pipeline, TopicPartition};
use crate::{IngestConfig, IngestError};

/// How often the loop checks flush ages and the memory budget when no message arrives.
const TICK: Duration = Duration::from_millis(100);

/// Hooks librdkafka calls from inside `poll`.
pub(crate) struct IngestContext {
    pipeline: Arc<Mutex<Pipeline>>,
    metrics: Metrics,
}

impl std::fmt::Debug for IngestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestContext").finish_non_exhaustive()
    }
}

fn lock(pipeline: &Mutex<Pipeline>) -> MutexGuard<'_, Pipeline> {
    // A panic while holding the lock already aborts the ingest; the data is still consistent
    // because nothing is committed that is not published.
    pipeline.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ClientContext for IngestContext {
    fn stats(&self, statistics: Statistics) {
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                if *partition >= 0 && p.consumer_lag >= 0 {
                    let labels = PartitionLabels { topic: topic.clone(), partition: i64::from(*partition) };
                    self.metrics.consumer_lag.get_or_create(&labels).set(p.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for IngestContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let committed = consumer.committed_offsets(tpl.clone(), Duration::from_secs(10)).ok();
                let mut pipeline = lock(&self.pipeline);
                let mut assignment = TopicPartitionList::new();
                let mut recovered = TopicPartitionList::new();
                let mut unrecovered = TopicPartitionList::new();
                for element in tpl.elements() {
                    let (topic, partition) = (element.topic(), element.partition());
                    let kafka_offset = committed
                        .as_ref()
                        .and_then(|c| c.find_partition(topic, partition))
                        .and_then(|e| e.offset().to_raw())
                        .filter(|o| *o >= 0);
                    let offset = match pipeline.assign(topic, partition, kafka_offset) {
                        Ok(resume) => {
                            recovered.add_partition(topic, partition);
                            resume.map_or(Offset::Beginning, Offset::Offset)
                        }
                        Err(_) => {
                            // Without knowing the lake's state we must not fetch: the
                            // partition is assigned paused until the run loop recovers it.
                            unrecovered.add_partition(topic, partition);
                            Offset::Beginning
                        }
                    };
                    if let Err(e) = assignment.add_partition_offset(topic, partition, offset) {
                        tracing::error!(topic, partition, error = %e, "cannot build assignment");
                    }
                }
                if let Err(e) = consumer.assign(&assignment) {
                    tracing::error!(error = %e, "assign failed");
                }
                // A partition this member paused when it found itself fenced stays paused
                // across an unassign; owned again, it is fetched again.
                if recovered.count() > 0
                    && let Err(e) = consumer.resume(&recovered)
                {
                    tracing::error!(error = %e, "cannot resume the assigned partitions");
                }
                if unrecovered.count() > 0
                    && let Err(e) = consumer.pause(&unrecovered)
                {
                    tracing::error!(error = %e, "cannot pause the partitions waiting for recovery");
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let lost = consumer.assignment_lost();
                let mut pipeline = lock(&self.pipeline);
                let revoked: Vec<TopicPartition> =
                    tpl.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect();
                if !lost {
                    pipeline.drain_dead_letters();
                    let offsets = flush_partitions(consumer, &mut pipeline, &revoked, true);
                    commit(consumer, &offsets, CommitMode::Sync);
                }
                for tp in &revoked {
                    pipeline.forget(tp);
                }
                tracing::info!(n_partitions = revoked.len(), lost, "partitions revoked");
                if let Err(e) = consumer.unassign() {
                    tracing::error!(error = %e, "unassign failed");
                }
            }
            other => tracing::error!(error = ?other, "rebalance error"),
        }
    }
}

/// Flushes `partitions`, returning the offsets that may be committed. A failed flush keeps its
/// rows (the pipeline logs it and retries after a back-off, or the next owner consumes them
/// again); `ignore_backoff` tries once more anyway, before partitions are given up. A
/// partition found fenced (a newer owner claimed it) is dropped by the pipeline and paused
/// here, until the rebalance that follows this member's eviction takes it away.
fn flush_partitions(
    consumer: &BaseConsumer<IngestContext>,
    pipeline: &mut Pipeline,
    partitions: &[TopicPartition],
    ignore_backoff: bool,
) -> Vec<(TopicPartition, i64)> {
    let offsets = partitions
        .iter()
        .filter_map(|tp| match pipeline.flush(tp, ignore_backoff) {
            Ok(offset) => offset.map(|offset| (tp.clone(), offset)),
            Err(_) => None,
        })
        .collect();
    let fenced = pipeline.take_fenced();
    if !fenced.is_empty() {
        let mut tpl = TopicPartitionList::new();
        for (topic, partition) in &fenced {
            tpl.add_partition(topic, *partition);
        }
        if let Err(e) = consumer.pause(&tpl) {
            tracing::error!(error = %e, "cannot pause the fenced partitions");
        }
    }
    offsets
}

fn commit(consumer: &BaseConsumer<IngestContext>, offsets: &[(TopicPartition, i64)], mode: CommitMode) {
    if offsets.is_empty() {
        return;
    }
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), offset) in offsets {
        if let Err(e) = tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset)) {
            tracing::warn!(topic, partition, error = %e, "cannot build commit");
        }
    }
    // The lake is the source of truth; a failed commit only delays what Kafka tools show.
    if let Err(e) = consumer.commit(&tpl, mode) {
        tracing::warn!(error = %e, "offset commit failed");
    }
}

/// Builds the group consumer. Auto-commit and auto offset store are off: offsets are
/// committed only after publication.
pub(crate) fn new_consumer(
    config: &IngestConfig,
    pipeline: Arc<Mutex<Pipeline>>,
    metrics: Metrics,
) -> KafkaResult<BaseConsumer<IngestContext>> {
    // librdkafka's own buffers count against the memory budget too: its prefetch queue and
    // the fetch responses it is decoding. A sixteenth each keeps them small beside the rows.
    let fetch_bytes = (config.flush.memory_budget / 16).clamp(1 << 20, 50 << 20);
    let queue_kb = (config.flush.memory_budget / 16 / 1024).clamp(1024, 65_536);
    ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", &config.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", config.session_timeout.as_millis().to_string())
        // Also the rebalance timeout: how long a rebalance waits for a member that died
        // without leaving. Our loop polls every 100 ms; flushes are the only long pauses.
        .set("max.poll.interval.ms", (config.session_timeout * 2).max(Duration::from_secs(30)).as_millis().to_string())
        .set("partition.assignment.strategy", "range")
        .set("queued.max.messages.kbytes", queue_kb.to_string())
        .set("fetch.max.bytes", fetch_bytes.to_string())
        .set("max.partition.fetch.bytes", fetch_bytes.min(1 << 20).to_string())
        .set("receive.message.max.bytes", (fetch_bytes + (1 << 20)).to_string())
        .set("statistics.interval.ms", "5000")
        .set("log_level", "3")
        .create_with_context(IngestContext { pipeline, metrics })
}

/// Runs the consume loop until `shutdown`, then flushes, commits and leaves the group.
pub(crate) fn run_loop(
    consumer: BaseConsumer<IngestContext>,
    pipeline: Arc<Mutex<Pipeline>>,
    config: &IngestConfig,
    shutdown: &CancellationToken,
) -> Result<(), IngestError> {
    let topics = [config.topics.connect_attempts.as_str(), config.topics.job_outcomes.as_str()];
    consumer.subscribe(&topics)?;
    let mut paused = false;
    let mut next_tick = Instant::now() + TICK;
    while !shutdown.is_cancelled() {
        let full = match consumer.poll(TICK) {
            Some(Ok(message)) => {
                lock(&pipeline).handle(&message).then(|| (message.topic().to_string(), message.partition()))
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "kafka error; the client retries");
                None
            }
            None => None,
        };
        if let Some(tp) = full {
            let offsets = flush_partitions(&consumer, &mut lock(&pipeline), &[tp], false);
            commit(&consumer, &offsets, CommitMode::Async);
        }
        let now = Instant::now();
        if now >= next_tick {
            next_tick = now + TICK;
            let mut p = lock(&pipeline);
            for ((topic, partition), resume) in p.retry_recoveries(now) {
                start_fetching(&consumer, &topic, partition, resume);
            }
            let due = p.due(now);
            let offsets = flush_partitions(&consumer, &mut p, &due, false);
            commit(&consumer, &offsets, CommitMode::Async);
            // Flushes failing while messages keep arriving would grow memory without bound:
            // stop fetching (while still polling, so we stay in the group) until they succeed.
            let over = p.buffered_bytes() > p.rows_budget();
            if over != paused {
                let assigned = p.assigned().cloned().collect::<Vec<_>>();
                drop(p);
                set_paused(&consumer, &assigned, over);
                paused = over;
            }
        }
    }
    tracing::info!("shutting down: publishing open files");
    let offsets = {
        let mut p = lock(&pipeline);
        p.drain_dead_letters();
        let assigned: Vec<TopicPartition> = p.assigned().cloned().collect();
        flush_partitions(&consumer, &mut p, &assigned, true)
    };
    commit(&consumer, &offsets, CommitMode::Sync);
    consumer.unsubscribe();
    // Poll once so that the revoke of leaving the group runs on this thread.
    let _ = consumer.poll(Duration::from_millis(100));
    drop(consumer);
    tracing::info!("left the consumer group");
    Ok(())
}

/// Positions a partition recovered late (it was assigned paused) and resumes its fetching.
fn start_fetching(consumer: &BaseConsumer<IngestContext>, topic: &str, partition: i32, resume: Option<i64>) {
    let offset = resume.map_or(Offset::Beginning, Offset::Offset);
    if let Err(e) = consumer.seek(topic, partition, offset, Duration::from_secs(5)) {
        tracing::error!(topic, partition, error = %e, "cannot position a recovered partition");
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    match consumer.resume(&tpl) {
        Ok(()) => tracing::info!(topic, partition, resume_offset = resume, "recovered after a retry; fetching"),
        Err(e) => tracing::error!(topic, partition, error = %e, "cannot resume a recovered partition"),
    }
}

fn set_paused(consumer: &BaseConsumer<IngestContext>, partitions: &[TopicPartition], pause: bool) {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition) in partitions {
        tpl.add_partition(topic, *partition);
    }
    let result = if pause { consumer.pause(&tpl) } else { consumer.resume(&tpl) };
    match result {
        Ok(()) => {
            tracing::warn!(paused = pause, "memory budget: fetching {}", if pause { "paused" } else { "resumed" })
        }
        Err(e) => tracing::error!(error = %e, "cannot pause or resume fetching"),
    }
}
