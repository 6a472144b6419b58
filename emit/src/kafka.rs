//! Kafka producer set-up shared by everything on the worker side: idempotent, `acks=all`,
//! compressed, keyed by worker. Topic names, the broker check and topic set-up live in
//! `failscope-kafka`, shared with the ingest.

use std::time::Duration;

use failscope_kafka::KafkaError;
use rdkafka::ClientConfig;
use rdkafka::producer::FutureProducer;

/// How the producer talks to Kafka.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// Comma-separated `host:port` list.
    pub brokers: String,
    /// How long one message may wait for acknowledgement, retries included.
    pub delivery_timeout: Duration,
}

/// An idempotent producer: retries never create a second copy of a message in the log,
/// so an `event_id` is written once per successful `send`.
pub fn new_producer(config: &ProducerConfig) -> Result<FutureProducer, KafkaError> {
    ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        .set("message.timeout.ms", config.delivery_timeout.as_millis().to_string())
        .set("log_level", "3")
        .create()
        .map_err(KafkaError::Config)
}
