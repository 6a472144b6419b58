//! `failscope ingest`: consumes contract events from Kafka and publishes them into a Parquet
//! lake, effectively once across crashes.
//!
//! The flow of one message: [`consumer`] polls it, [`pipeline`] decodes it into the
//! [`buffer`] of its partition (or sends it to the dead-letter topic, [`dead_letter`]); when
//! the [`config::FlushPolicy`] says so, the partition's buffers are encoded ([`encode`]) and
//! published to the [`lake`], and only then is the Kafka offset committed. On every
//! assignment, [`recovery`] reads the lake to find where each partition resumes.

pub mod buffer;
pub mod cli;
pub mod config;
pub mod consumer;
pub mod dead_letter;
pub mod encode;
pub mod error;
mod flush;
pub mod health;
mod http;
pub mod lake;
pub mod layout;
pub mod metrics;
pub mod pipeline;
pub mod recovery;

pub use config::{FlushPolicy, IngestConfig};
pub use error::IngestError;
