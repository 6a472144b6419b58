//! What both sides of Kafka share, so that neither depends on the other: the topic of each
//! event type and their dead-letter topics ([`topics`]), the `--brokers` flag and the
//! reachability check ([`brokers`]), and topic set-up with partitions, replication and
//! retention ([`setup`]), which `failscope topics create`, the ingest and the simulator run.

pub mod brokers;
pub mod setup;
pub mod topics;

pub use brokers::{BrokersArgs, DEFAULT_BROKERS, KafkaError, wait_for_brokers};
pub use setup::{
    DEFAULT_PARTITIONS, TopicSpec, TopicsCommand, TopicsCreateArgs, create_topic_specs, create_topics, missing_topics,
    run_topics, run_topics_create,
};
pub use topics::{REGION_HEALTH_TOPIC, Topics, TopicsArgs, dead_letter_topic};
