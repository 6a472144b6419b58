//! The failscope event contract, version 1.
//!
//! Workers publish JSON messages to Kafka, one topic per event type. This crate owns what those
//! messages may contain: the Rust types ([`ConnectAttempt`], [`JobOutcome`]), the JSON Schema
//! files next to this crate (`schemas/json/*.schema.json`, kept in agreement with the types by
//! tests), decoding with precise errors ([`decode`], [`decode_as`]), and the Arrow schema each
//! type is stored with in the lake ([`arrow`]).
//!
//! This crate does no I/O: it is shared by the worker side, the ingest and the analysis.

pub mod arrow;
mod connect_attempt;
mod decode;
mod error;
mod event;
mod job_outcome;
pub mod lake;
mod timestamp;

pub use connect_attempt::{ConnectAttempt, ConnectOutcome, TargetOwner};
pub use decode::{decode, decode_as};
pub use error::ContractError;
pub use event::{CURRENT_SCHEMA_VERSION, Event, EventType, TypedEvent};
pub use job_outcome::{JobOutcome, JobStatus};
pub use timestamp::Timestamp;

/// The JSON Schema of `connect_attempt` events, as committed in `schemas/json/`.
pub const CONNECT_ATTEMPT_JSON_SCHEMA: &str = include_str!("../json/connect_attempt.v1.schema.json");
/// The JSON Schema of `job_outcome` events, as committed in `schemas/json/`.
pub const JOB_OUTCOME_JSON_SCHEMA: &str = include_str!("../json/job_outcome.v1.schema.json");
