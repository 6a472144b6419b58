//! `connect_attempt`: one TCP (or TLS, or DNS) connection attempt made by a worker.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::event::non_empty;
use crate::{ContractError, EventType, Timestamp, TypedEvent};

/// How a connection attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectOutcome {
    Ok,
    Timeout,
    Refused,
    Reset,
    Unreachable,
    DnsError,
    TlsError,
    /// Still in flight when the job or the worker stopped.
    Abandoned,
    Other,
}

impl ConnectOutcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ConnectOutcome::Ok => "ok",
            ConnectOutcome::Timeout => "timeout",
            ConnectOutcome::Refused => "refused",
            ConnectOutcome::Reset => "reset",
            ConnectOutcome::Unreachable => "unreachable",
            ConnectOutcome::DnsError => "dns_error",
            ConnectOutcome::TlsError => "tls_error",
            ConnectOutcome::Abandoned => "abandoned",
            ConnectOutcome::Other => "other",
        }
    }
}

/// Who a connection's target belongs to, which decides whether its failure says anything about
/// the infrastructure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetOwner {
    /// A service the CI platform runs or relies on (from the worker's service map).
    Platform,
    /// The job's own target: loopback or another local address, e.g. a test's database.
    Job,
    /// Anything else, e.g. a public package registry.
    ThirdParty,
}

impl TargetOwner {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TargetOwner::Platform => "platform",
            TargetOwner::Job => "job",
            TargetOwner::ThirdParty => "third_party",
        }
    }
}

/// One connection attempt from a worker to a target service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectAttempt<'a> {
    pub event_type: EventType,
    pub schema_version: u32,
    #[serde(borrow)]
    pub event_id: Cow<'a, str>,
    #[serde(borrow)]
    pub worker_id: Cow<'a, str>,
    #[serde(borrow)]
    pub region: Cow<'a, str>,
    #[serde(borrow)]
    pub provider: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<Cow<'a, str>>,

    pub started_at: Timestamp,
    /// Time until the outcome was known; for a timeout, the time waited.
    pub duration_ms: f64,
    /// Logical name of the target, e.g. `api`, `sstate-cache-3`, `registry`.
    #[serde(borrow)]
    pub target_service: Cow<'a, str>,
    #[serde(borrow)]
    pub target_host: Cow<'a, str>,
    pub target_port: u16,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub target_addr: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub target_region: Option<Cow<'a, str>>,
    /// Who the target belongs to; absent from producers that only connect to platform targets
    /// (the prober, the runner), which the analysis reads as `platform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_owner: Option<TargetOwner>,
    /// The job during which the attempt happened; absent for probes.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<Cow<'a, str>>,
    /// What the connection was for: `checkin`, `log_upload`, `git_clone`, `probe`...
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Cow<'a, str>>,
    pub outcome: ConnectOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
    /// 1-based retry number.
    pub attempt: u32,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> TypedEvent<'de> for ConnectAttempt<'a> {
    const EVENT_TYPE: EventType = EventType::ConnectAttempt;

    fn schema_version(&self) -> u32 {
        self.schema_version
    }
    fn declared_type(&self) -> EventType {
        self.event_type
    }
    fn event_time(&self) -> Timestamp {
        self.started_at
    }

    fn check(&self) -> Result<(), ContractError> {
        non_empty("event_id", &self.event_id)?;
        non_empty("worker_id", &self.worker_id)?;
        non_empty("region", &self.region)?;
        non_empty("provider", &self.provider)?;
        non_empty("target_service", &self.target_service)?;
        non_empty("target_host", &self.target_host)?;
        if !(self.duration_ms.is_finite() && self.duration_ms >= 0.0) {
            return Err(ContractError::invalid("duration_ms", "must be a finite number >= 0"));
        }
        if self.target_port == 0 {
            return Err(ContractError::invalid("target_port", "must be between 1 and 65535"));
        }
        if self.attempt == 0 {
            return Err(ContractError::invalid("attempt", "must be >= 1 (attempts are 1-based)"));
        }
        Ok(())
    }
}
