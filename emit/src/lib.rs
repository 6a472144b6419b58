//! The worker side of failscope: a Kafka producer configured for the contract, and the
//! `failscope emit` command that validates JSON lines and produces them to their topics.

pub mod cli;
mod emit_lines;
mod kafka;

pub use emit_lines::{EmitReport, InvalidLine, emit_lines};
pub use kafka::{KafkaError, ProducerConfig, Topics, TopicsArgs, create_topics, new_producer, wait_for_brokers};
