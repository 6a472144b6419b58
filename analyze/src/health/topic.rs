//! The feed on Kafka: every region's state, keyed by region, on a compacted topic
//! (`ci.region_health` by default), so that a scheduler that reads the topic from the start
//! gets the latest state of every region and then each change as it happens.

use std::time::Duration;

use failscope_kafka::{TopicSpec, create_topic_specs};
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tracing::warn;

use super::feed::{HealthChange, HealthSnapshot, Scope};

/// How long one state may wait for the broker's acknowledgement.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the topic could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("invalid Kafka client configuration")]
    Config(#[source] rdkafka::error::KafkaError),
    #[error(transparent)]
    Create(#[from] failscope_kafka::KafkaError),
}

/// A producer of region states to one compacted topic.
pub struct HealthTopic {
    producer: FutureProducer,
    topic: String,
    /// The last publication failed: publish every region again at the next tick.
    behind: bool,
}

impl std::fmt::Debug for HealthTopic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthTopic").field("topic", &self.topic).field("behind", &self.behind).finish()
    }
}

impl HealthTopic {
    /// Creates the topic, compacted, if it does not exist, and the producer.
    pub async fn open(brokers: &str, topic: &str) -> Result<HealthTopic, TopicError> {
        let spec = TopicSpec {
            name: topic.to_string(),
            n_partitions: 1,
            replication: 1,
            config: vec![("cleanup.policy", "compact".to_string())],
        };
        create_topic_specs(brokers, &[spec]).await?;
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", DELIVERY_TIMEOUT.as_millis().to_string())
            .set("log_level", "3")
            .create()
            .map_err(TopicError::Config)?;
        // The first tick publishes every region: the topic then holds a state for each.
        Ok(HealthTopic { producer, topic: topic.to_string(), behind: true })
    }

    /// Publishes the state of every region that `changes` touched (every region when an
    /// earlier publication failed). A failure is logged and retried at the next tick.
    pub async fn publish(&mut self, snapshot: &HealthSnapshot, changes: &[HealthChange]) {
        let touched =
            |region: &str| self.behind || changes.iter().any(|c| c.scope == Scope::Region && c.name == region);
        let mut failed = false;
        for region in snapshot.regions.iter().filter(|r| touched(&r.region)) {
            let payload = match serde_json::to_vec(region) {
                Ok(payload) => payload,
                Err(e) => {
                    warn!(error = %e, region = %region.region, "cannot encode a region's state");
                    continue;
                }
            };
            let record = FutureRecord::to(&self.topic).key(region.region.as_bytes()).payload(&payload);
            if let Err((e, _)) = self.producer.send(record, DELIVERY_TIMEOUT).await {
                warn!(error = %e, region = %region.region, topic = %self.topic, "cannot publish a region's state; retrying at the next tick");
                failed = true;
            }
        }
        self.behind = failed;
    }
}
