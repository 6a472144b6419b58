//! Kafka producer set-up shared by everything on the worker side: idempotent, `acks=all`,
//! compressed, keyed by worker, and a reachability check with a clear error.

use std::time::Duration;

use failscope_schemas::EventType;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::FutureProducer;

/// Why talking to Kafka failed.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("cannot reach Kafka brokers at {brokers} within {timeout:?}: {reason}")]
    Unreachable { brokers: String, timeout: Duration, reason: String },
    #[error("invalid Kafka client configuration")]
    Config(#[source] rdkafka::error::KafkaError),
    #[error("cannot create topic {topic}")]
    CreateTopic {
        topic: String,
        #[source]
        source: rdkafka::error::KafkaError,
    },
}

/// The topic each event type is produced to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub connect_attempts: String,
    pub job_outcomes: String,
}

impl Topics {
    pub fn of(&self, event_type: EventType) -> &str {
        match event_type {
            EventType::ConnectAttempt => &self.connect_attempts,
            EventType::JobOutcome => &self.job_outcomes,
        }
    }
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            connect_attempts: EventType::ConnectAttempt.default_topic().to_string(),
            job_outcomes: EventType::JobOutcome.default_topic().to_string(),
        }
    }
}

/// Topic flags shared by every command that produces or consumes events.
#[derive(Debug, Clone, clap::Args)]
pub struct TopicsArgs {
    /// Topic of `connect_attempt` events.
    #[arg(long, env = "FAILSCOPE_CONNECT_ATTEMPTS_TOPIC", default_value = "ci.connect_attempts")]
    pub connect_attempts_topic: String,
    /// Topic of `job_outcome` events.
    #[arg(long, env = "FAILSCOPE_JOB_OUTCOMES_TOPIC", default_value = "ci.job_outcomes")]
    pub job_outcomes_topic: String,
}

impl TopicsArgs {
    pub fn topics(&self) -> Topics {
        Topics { connect_attempts: self.connect_attempts_topic.clone(), job_outcomes: self.job_outcomes_topic.clone() }
    }
}

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

/// Fails with [`KafkaError::Unreachable`] unless a broker answers a metadata request within
/// `timeout`. Blocking: call it from a blocking context.
pub fn wait_for_brokers(brokers: &str, timeout: Duration) -> Result<(), KafkaError> {
    let admin = admin_client(brokers)?;
    admin.inner().fetch_metadata(None, timeout).map(|_| ()).map_err(|e| KafkaError::Unreachable {
        brokers: brokers.to_string(),
        timeout,
        reason: e.to_string(),
    })
}

/// Creates the topics that do not exist yet, with `n_partitions` each. Topics that exist
/// already are not asked for, so a broker without the CreateTopics API (the embedded one) or
/// an account without the right to create topics works once they are in place.
pub async fn create_topics(brokers: &str, names: &[&str], n_partitions: i32) -> Result<(), KafkaError> {
    let missing = missing_topics(brokers, names).await?;
    if missing.is_empty() {
        return Ok(());
    }
    let admin = admin_client(brokers)?;
    let new_topics: Vec<NewTopic<'_>> =
        missing.iter().map(|name| NewTopic::new(name, n_partitions, TopicReplication::Fixed(1))).collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(&new_topics, &options)
        .await
        .map_err(|source| KafkaError::CreateTopic { topic: names.join(","), source })?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::CreateTopic { topic, source: rdkafka::error::KafkaError::AdminOp(code) });
            }
        }
    }
    Ok(())
}

/// The names of `names` the cluster's metadata does not list (with at least one partition).
async fn missing_topics(brokers: &str, names: &[&str]) -> Result<Vec<String>, KafkaError> {
    let admin = admin_client(brokers)?;
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let timeout = Duration::from_secs(10);
    let unreachable = |reason: String| KafkaError::Unreachable { brokers: brokers.to_string(), timeout, reason };
    let metadata = tokio::task::spawn_blocking(move || admin.inner().fetch_metadata(None, timeout))
        .await
        .map_err(|e| unreachable(e.to_string()))?
        .map_err(|e| unreachable(e.to_string()))?;
    let present = |name: &str| metadata.topics().iter().any(|t| t.name() == name && !t.partitions().is_empty());
    Ok(names.into_iter().filter(|n| !present(n)).collect())
}

fn admin_client(brokers: &str) -> Result<AdminClient<DefaultClientContext>, KafkaError> {
    ClientConfig::new().set("bootstrap.servers", brokers).set("log_level", "3").create().map_err(KafkaError::Config)
}
