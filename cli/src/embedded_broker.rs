//! An in-process Kafka-protocol broker (librdkafka's mock cluster) for trying failscope and
//! scoring it without installing one. It keeps everything in memory and nothing after exit.
//!
//! The mock cluster has no CreateTopics API, so the topics are created through it here, before
//! any client asks; it keeps at most about 100,000 message sets per partition, so topics get
//! enough partitions for the scenario at hand.

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// A running embedded broker; dropping it stops it.
pub(crate) struct EmbeddedBroker {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker").field("bootstrap_servers", &self.cluster.bootstrap_servers()).finish()
    }
}

impl EmbeddedBroker {
    /// Starts a one-broker cluster on loopback holding `topics` (name, partitions).
    pub(crate) fn start(topics: &[(&str, i32)]) -> anyhow::Result<EmbeddedBroker> {
        let cluster = MockCluster::new(1).map_err(|e| anyhow::anyhow!("cannot start the embedded broker: {e}"))?;
        for (name, partitions) in topics {
            cluster
                .create_topic(name, *partitions, 1)
                .map_err(|e| anyhow::anyhow!("cannot create topic {name} on the embedded broker: {e}"))?;
        }
        Ok(EmbeddedBroker { cluster })
    }

    /// `host:port` of the broker, for `bootstrap.servers`.
    pub(crate) fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }
}
