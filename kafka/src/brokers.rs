//! The `--brokers` flag every Kafka command shares and the errors of talking to Kafka (an
//! unreachable broker is one clear error; `missing_topics` is the check that finds it).

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;

/// The brokers when `--brokers` is not given.
pub(crate) const DEFAULT_BROKERS: &str = "127.0.0.1:9092";

/// Where Kafka is.
#[derive(Debug, Clone, clap::Args)]
pub struct BrokersArgs {
    /// Kafka bootstrap servers, comma-separated `host:port`.
    #[arg(long, env = "FAILSCOPE_BROKERS", default_value = DEFAULT_BROKERS)]
    pub brokers: String,
}

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

pub(crate) fn admin_client(brokers: &str) -> Result<AdminClient<DefaultClientContext>, KafkaError> {
    ClientConfig::new().set("bootstrap.servers", brokers).set("log_level", "3").create().map_err(KafkaError::Config)
}
