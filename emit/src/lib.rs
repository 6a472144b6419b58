//! The worker side of failscope: a Kafka producer configured for the contract, the
//! `failscope emit` command that validates JSON lines and produces them to their topics, and
//! the emitter with its durable spool that `run`, `probe` and `simulate` build on.

pub mod cli;
mod emit_lines;
mod emitter;
mod emitter_args;
mod identity;
mod kafka;
mod loss;
pub mod probe;
pub mod run;
pub mod simulate;
pub mod spool;

pub use emit_lines::{EmitReport, InvalidLine, emit_lines};
pub use emitter::{Delivery, EmitError, Emitter, EmitterConfig, EmitterStats};
pub use emitter_args::EmitterArgs;
pub(crate) use failscope_kafka::KafkaError;
pub use failscope_kafka::{Topics, TopicsArgs, create_topics};
pub(crate) use identity::IdentityArgs;
pub use identity::WorkerIdentity;
pub use kafka::{ProducerConfig, new_producer};
pub use loss::{LOSS_JOB_KIND, loss_marker};
pub use probe::{ProbeArgs, run_probe};
pub use run::{RunArgs, run_job};
pub use simulate::{SimulateArgs, run_simulate};
