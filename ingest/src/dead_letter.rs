//! The dead-letter topic: a message that is rejected (a contract violation, an event time out
//! of the window) is produced, with its original key, bytes and headers, to `<topic>.dlq`,
//! with headers naming the error and the source. An offset is committed only once its dead
//! letter is acknowledged; if the dead-letter topic cannot be written, the partition stops
//! progressing and keeps retrying.
//!
//! Dead letters are delivered at least once, not exactly once: a crash after a dead letter is
//! acknowledged but before its offset is committed sends it again on restart, whatever the
//! producer does. So the producer is not idempotent (acks=all and retries only), and each
//! failed round of retries starts from a new producer, so that a broken connection or
//! producer state cannot hold the partition back forever.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use tokio_util::sync::CancellationToken;

use crate::IngestError;
use crate::config::IngestConfig;

/// A dead letter on its way to the dead-letter topic.
pub struct DeadLetter {
    pub topic: String,
    pub reason_kind: &'static str,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    headers: OwnedHeaders,
    delivery: Option<DeliveryFuture>,
}

impl std::fmt::Debug for DeadLetter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetter").field("topic", &self.topic).field("reason_kind", &self.reason_kind).finish()
    }
}

impl DeadLetter {
    /// Describes `message`, rejected with `reason` (of kind `reason_kind`), as a dead letter.
    pub fn of(message: &BorrowedMessage<'_>, reason_kind: &'static str, reason: &str) -> DeadLetter {
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
        DeadLetter {
            topic: IngestConfig::dead_letter_topic(message.topic()),
            reason_kind,
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().unwrap_or_default().to_vec(),
            headers,
            delivery: None,
        }
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
        .set("log_level", "3")
        .create()
}

/// Produces dead letters and waits for their acknowledgement.
pub struct DeadLetters {
    brokers: String,
    producer: FutureProducer,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters").finish_non_exhaustive()
    }
}

impl DeadLetters {
    pub fn new(brokers: &str) -> Result<Self, KafkaError> {
        Ok(DeadLetters { brokers: brokers.to_string(), producer: producer(brokers)? })
    }

    /// Replaces the producer after a failed round; keeps the old one if a new one cannot be made.
    fn renew_producer(&mut self) {
        match producer(&self.brokers) {
            Ok(producer) => self.producer = producer,
            Err(e) => tracing::warn!(error = %e, "cannot create a new dead-letter producer"),
        }
    }

    /// Hands the dead letter to the producer; acknowledgement is awaited by [`Self::settle`].
    pub fn send(&self, letter: &mut DeadLetter) {
        let mut record = FutureRecord::to(&letter.topic).payload(&letter.payload).headers(letter.headers.clone());
        if let Some(key) = &letter.key {
            record = record.key(key);
        }
        loop {
            match self.producer.send_result(record) {
                Ok(delivery) => {
                    letter.delivery = Some(delivery);
                    return;
                }
                Err((rdkafka::error::KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => {
                    // Not queued: settle() sees no delivery and sends it again.
                    tracing::warn!(topic = letter.topic, error = %e, "cannot queue dead letter");
                    letter.delivery = None;
                    return;
                }
            }
        }
    }

    /// Blocks until every letter in `pending` is acknowledged, re-sending failures with
    /// backoff. Returns `Interrupted` if `shutdown` fires first.
    pub fn settle(&mut self, pending: &mut Vec<DeadLetter>, shutdown: &CancellationToken) -> Result<(), IngestError> {
        let mut backoff = Duration::from_millis(100);
        loop {
            let mut failed = Vec::new();
            let mut first_error: Option<KafkaError> = None;
            for mut letter in pending.drain(..) {
                let acknowledged = match letter.delivery.take() {
                    Some(delivery) => match futures::executor::block_on(delivery) {
                        Ok(Ok(_)) => true,
                        Ok(Err((e, _))) => {
                            first_error.get_or_insert(e);
                            false
                        }
                        Err(_) => false,
                    },
                    None => false,
                };
                if !acknowledged {
                    failed.push(letter);
                }
            }
            if failed.is_empty() {
                return Ok(());
            }
            tracing::warn!(
                n_failed = failed.len(),
                topic = failed[0].topic,
                error = first_error.map(|e| e.to_string()).unwrap_or_else(|| "not queued".to_string()),
                retry_in = ?backoff,
                "dead letters not acknowledged; retrying with a new producer"
            );
            if shutdown.is_cancelled() {
                *pending = failed;
                return Err(IngestError::Interrupted);
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(5));
            self.renew_producer();
            for letter in &mut failed {
                self.send(letter);
            }
            *pending = failed;
        }
    }
}
