//! `failscope ingest`: consumes contract events from Kafka and publishes them into a Parquet
//! lake, effectively once across crashes.
//!
//! The flow of one message: `consumer` polls it, `pipeline` decodes it into the `buffer` of
//! its partition (or sends it to the dead-letter topic, `dead_letter`); when the
//! `config::FlushPolicy` says so, the partition's buffers are encoded (`encode`) and published
//! to the `lake`, and only then is the Kafka offset committed. On every assignment, `recovery`
//! reads the lake to find where each partition resumes.
//!
//! The binary calls [`cli::run_ingest`]; the encoding benchmark reaches the buffer and the
//! encoder through the re-exports below. Nothing else is public.

mod buffer;
pub mod cli;
mod config;
mod consumer;
mod dead_letter;
mod encode;
mod error;
mod fence;
mod flush;
mod health;
mod http;
mod lake;
mod layout;
mod metrics;
mod pipeline;
mod recovery;

// For the encoding benchmark, with the types their signatures name.
pub use buffer::{HourRows, PartitionBuffer, Rejection};
pub use config::EventWindow;
pub(crate) use config::{FlushPolicy, IngestConfig};
pub use encode::{FileMeta, encode_file};
pub use error::IngestError;
