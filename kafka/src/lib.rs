//! What both sides of Kafka share, so that neither depends on the other: the topic of each
//! event type and their dead-letter topics (`topics.rs`: [`Topics`], [`dead_letter_topic`]),
//! the `--brokers` flag and the errors of talking to Kafka (`brokers.rs`: [`BrokersArgs`],
//! [`KafkaError`]), and topic set-up with partitions, replication and retention (`setup.rs`:
//! [`create_topic_specs`], [`run_topics`]; [`missing_topics`] is also the reachability check),
//! which `failscope topics create`, the ingest and the simulator run.

mod brokers;
mod setup;
mod topics;

pub use brokers::{BrokersArgs, KafkaError};
pub use setup::{
    DEFAULT_PARTITIONS, TopicSpec, TopicsCommand, TopicsCreateArgs, create_topic_specs, create_topics, missing_topics,
    run_topics,
};
pub use topics::{REGION_HEALTH_TOPIC, Topics, TopicsArgs, dead_letter_topic};
