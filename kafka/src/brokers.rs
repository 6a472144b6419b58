//! The `--brokers` flag every Kafka command shares, the errors of talking to Kafka, and a
//! reachability check with a clear error.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;

/// The brokers when `--brokers` is not given.
pub const DEFAULT_BROKERS: &str = "127.0.0.1:9092";

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

pub(crate) fn admin_client(brokers: &str) -> Result<AdminClient<DefaultClientContext>, KafkaError> {
    ClientConfig::new().set("bootstrap.servers", brokers).set("log_level", "3").create().map_err(KafkaError::Config)
}
