//! The two event types of the contract and what they have in common.

use std::fmt;

use serde::Deserialize;

use crate::{ConnectAttempt, ContractError, JobOutcome, Timestamp};

/// The newest contract version this build understands. Messages with a higher
/// `schema_version` are rejected rather than half-read.
pub const CURRENT_SCHEMA_VERSION: u32 = 1;

/// The value of the `event_type` field, which also decides the Kafka topic and the lake table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    ConnectAttempt,
    JobOutcome,
}

impl EventType {
    pub const ALL: [EventType; 2] = [EventType::ConnectAttempt, EventType::JobOutcome];

    /// The wire name, as in the `event_type` field.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EventType::ConnectAttempt => "connect_attempt",
            EventType::JobOutcome => "job_outcome",
        }
    }

    pub(crate) fn from_wire(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decoded event of either type. String fields borrow from the input where they can.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    ConnectAttempt(ConnectAttempt<'a>),
    JobOutcome(JobOutcome<'a>),
}

impl Event<'_> {
    pub fn event_type(&self) -> EventType {
        match self {
            Event::ConnectAttempt(_) => EventType::ConnectAttempt,
            Event::JobOutcome(_) => EventType::JobOutcome,
        }
    }

    pub fn worker_id(&self) -> &str {
        match self {
            Event::ConnectAttempt(e) => &e.worker_id,
            Event::JobOutcome(e) => &e.worker_id,
        }
    }

    /// The instant the event describes, which decides its lake partition.
    pub fn event_time(&self) -> Timestamp {
        match self {
            Event::ConnectAttempt(e) => e.event_time(),
            Event::JobOutcome(e) => e.event_time(),
        }
    }
}

/// What both event types provide to the generic parts of the pipeline.
pub trait TypedEvent<'de>: Deserialize<'de> {
    const EVENT_TYPE: EventType;

    fn schema_version(&self) -> u32;
    /// The wire value of `event_type` as it was decoded.
    fn declared_type(&self) -> EventType;
    /// The instant the event describes, which decides its lake partition.
    fn event_time(&self) -> Timestamp;
    /// Rules the type system does not express (ranges, lengths). Field paths in errors
    /// follow the JSON names.
    fn check(&self) -> Result<(), ContractError>;
}

pub(crate) fn non_empty(field: &'static str, value: &str) -> Result<(), ContractError> {
    if value.is_empty() { Err(ContractError::invalid(field, "must not be empty")) } else { Ok(()) }
}
