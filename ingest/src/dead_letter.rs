//! The dead-letter topic: a message that is rejected (a contract violation, an event time out
//! of the window) is produced, with its original key, bytes and headers, to `<topic>.dlq`,
//! with headers naming the error and the source. An offset is committed only once its dead
//! letter is acknowledged.
//!
//! Nothing here waits on the consume thread: [`DeadLetters::settle`] looks at each letter's
//! delivery without blocking, re-sends failed letters after their own back-off, and says
//! whether the partition's letters are all acknowledged, still on their way, or failing. A
//! letter that cannot be written therefore holds back only its own partition's commits (and
//! `/healthz` reports that partition) while every other partition keeps flowing. A letter too
//! large for the producer or the broker is cut to fit, with the cut recorded in its headers;
//! errors that retrying cannot fix (no such topic, no permission) are logged as such and
//! retried only at the longest back-off, until an operator fixes the cause.
//!
//! Dead letters are delivered at least once, not exactly once: a crash after a dead letter is
//! acknowledged but before its offset is committed sends it again on restart, whatever the
//! producer does. So the producer is not idempotent (acks=all and retries only).

use std::time::{Duration, Instant};

use futures::FutureExt;
use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;

use crate::config::IngestConfig;

/// The largest message the dead-letter producer sends (librdkafka's default limit, set
/// explicitly so that letters can be cut to it before they are refused).
const MAX_MESSAGE_BYTES: usize = 1_000_000;
/// Room kept for the record's framing beside key, payload and headers.
const FRAMING_BYTES: usize = 512;
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(30);

/// A dead letter on its way to the dead-letter topic.
pub(crate) struct DeadLetter {
    pub(crate) topic: String,
    pub(crate) reason_kind: &'static str,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    headers: OwnedHeaders,
    delivery: Option<DeliveryFuture>,
    /// Failed deliveries so far, and when the next send may happen.
    n_failures: u32,
    retry_at: Option<Instant>,
}

impl std::fmt::Debug for DeadLetter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetter").field("topic", &self.topic).field("reason_kind", &self.reason_kind).finish()
    }
}

impl DeadLetter {
    /// Describes `message`, rejected with `reason` (of kind `reason_kind`), as a dead letter.
    pub(crate) fn of(message: &BorrowedMessage<'_>, reason_kind: &'static str, reason: &str) -> DeadLetter {
        let mut headers = OwnedHeaders::new();
        if let Some(original) = message.headers() {
            for h in original.iter() {
                headers = headers.insert(Header { key: h.key, value: h.value });
            }
        }
        let text = |s: &str| s.as_bytes().to_vec();
        for (key, value) in [
            ("failscope.error", text(reason)),
            ("failscope.error_kind", text(reason_kind)),
            ("failscope.source_topic", text(message.topic())),
            ("failscope.source_partition", text(&message.partition().to_string())),
            ("failscope.source_offset", text(&message.offset().to_string())),
        ] {
            headers = headers.insert(Header { key, value: Some(&value) });
        }
        let mut letter = DeadLetter {
            topic: IngestConfig::dead_letter_topic(message.topic()),
            reason_kind,
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().unwrap_or_default().to_vec(),
            headers,
            delivery: None,
            n_failures: 0,
            retry_at: None,
        };
        letter.cut_to(MAX_MESSAGE_BYTES);
        letter
    }

    fn n_bytes(&self) -> usize {
        let headers: usize = self.headers.iter().map(|h| h.key.len() + h.value.map_or(0, <[u8]>::len) + 8).sum();
        self.key.as_ref().map_or(0, Vec::len) + self.payload.len() + headers + FRAMING_BYTES
    }

    /// Cuts the payload so that the whole record takes at most `limit` bytes, and records the
    /// payload's original size in the `failscope.truncated_from_bytes` header (once).
    fn cut_to(&mut self, limit: usize) {
        let n_bytes = self.n_bytes();
        if n_bytes <= limit {
            return;
        }
        let original = self.payload.len();
        let already_cut = self.headers.iter().any(|h| h.key == "failscope.truncated_from_bytes");
        let header_bytes = if already_cut { 0 } else { 64 };
        let keep = original.saturating_sub(n_bytes - limit + header_bytes);
        self.payload.truncate(keep);
        if !already_cut {
            let value = original.to_string();
            let headers = std::mem::replace(&mut self.headers, OwnedHeaders::new());
            self.headers = headers.insert(Header { key: "failscope.truncated_from_bytes", value: Some(&value) });
        }
        tracing::warn!(topic = self.topic, original, kept = keep, "dead letter cut to fit the message size limit");
    }
}

fn producer(brokers: &str) -> Result<FutureProducer, KafkaError> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "false")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        .set("message.max.bytes", MAX_MESSAGE_BYTES.to_string())
        .set("log_level", "3")
        .create()
}

/// Where a partition's dead letters stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Settled {
    /// Every letter is acknowledged: the offsets below them may be committed.
    All,
    /// Letters are on their way; nothing has failed.
    Waiting,
    /// A letter failed and waits for its retry; the reason of the first failure.
    Failing(String),
}

/// Produces dead letters and follows their acknowledgement.
pub(crate) struct DeadLetters {
    producer: FutureProducer,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters").finish_non_exhaustive()
    }
}

impl DeadLetters {
    pub(crate) fn new(brokers: &str) -> Result<Self, KafkaError> {
        Ok(DeadLetters { producer: producer(brokers)? })
    }

    /// Hands the dead letter to the producer without waiting; [`Self::settle`] follows it.
    pub(crate) fn send(&self, letter: &mut DeadLetter) {
        let mut record = FutureRecord::to(&letter.topic).payload(&letter.payload).headers(letter.headers.clone());
        if let Some(key) = &letter.key {
            record = record.key(key);
        }
        match self.producer.send_result(record) {
            Ok(delivery) => {
                letter.delivery = Some(delivery);
                letter.retry_at = None;
            }
            Err((e, _)) => {
                // Not queued (the local queue is full, or the letter is refused outright):
                // settle() sends it again once its back-off has passed.
                tracing::debug!(topic = letter.topic, error = %e, "cannot queue dead letter");
                letter.delivery = None;
                fail(letter, &e);
            }
        }
    }

    /// Without blocking: drops the acknowledged letters from `pending`, re-sends those whose
    /// retry is due, and says where the rest stand.
    pub(crate) fn settle(&self, pending: &mut Vec<DeadLetter>, now: Instant) -> Settled {
        let mut failing = None;
        pending.retain_mut(|letter| {
            if let Some(delivery) = &mut letter.delivery {
                match delivery.now_or_never() {
                    None => return true,
                    Some(Ok(Ok(_))) => return false,
                    Some(Ok(Err((e, _)))) => {
                        letter.delivery = None;
                        fail(letter, &e);
                    }
                    Some(Err(_canceled)) => {
                        letter.delivery = None;
                        letter.retry_at = Some(now);
                    }
                }
            }
            if letter.retry_at.is_none_or(|at| now >= at) {
                self.send(letter);
            }
            if letter.delivery.is_none() || letter.n_failures > 0 {
                failing.get_or_insert_with(|| format!("{} failed deliveries to {}", letter.n_failures, letter.topic));
            }
            true
        });
        match (pending.is_empty(), failing) {
            (true, _) => Settled::All,
            (false, Some(reason)) => Settled::Failing(reason),
            (false, None) => Settled::Waiting,
        }
    }

    /// Waits up to `timeout` for letters in flight: before partitions are given up or the
    /// process stops, when a short wait saves sending them again. Never on the hot path.
    pub(crate) fn drain(&self, timeout: Duration) {
        if let Err(e) = self.producer.flush(timeout) {
            tracing::warn!(error = %e, "dead letters still in flight");
        }
    }
}

/// Records a failed delivery of `letter`: cuts it if it was too large, and schedules its retry.
fn fail(letter: &mut DeadLetter, error: &KafkaError) {
    letter.n_failures += 1;
    let code = error.rdkafka_error_code();
    let wait = match code {
        Some(RDKafkaErrorCode::QueueFull) => Duration::from_millis(10),
        Some(RDKafkaErrorCode::MessageSizeTooLarge) => {
            // The broker's limit may be below ours: halve the letter until it fits.
            letter.cut_to(letter.n_bytes() / 2);
            Duration::ZERO
        }
        Some(
            RDKafkaErrorCode::UnknownTopicOrPartition
            | RDKafkaErrorCode::UnknownTopic
            | RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::ClusterAuthorizationFailed
            | RDKafkaErrorCode::InvalidTopic,
        ) => {
            tracing::error!(
                topic = letter.topic,
                error = %error,
                "the dead-letter topic cannot be written; its partition stalls until this is fixed"
            );
            MAX_RETRY
        }
        _ => {
            tracing::warn!(topic = letter.topic, error = %error, "dead letter not acknowledged; retrying");
            FIRST_RETRY.saturating_mul(1 << letter.n_failures.min(16)).min(MAX_RETRY)
        }
    };
    letter.retry_at = Some(Instant::now() + wait);
}
