//! `job_outcome`: how one CI job ended.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::non_empty;
use crate::{ContractError, EventType, Timestamp, TypedEvent};

/// Longest accepted `log_tail`, in characters (16 KiB of ASCII).
pub(crate) const MAX_LOG_TAIL_CHARS: usize = 16 * 1024;

/// The final status of a job as the CI system reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Passed,
    Failed,
    Errored,
    TimedOut,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Passed => "passed",
            JobStatus::Failed => "failed",
            JobStatus::Errored => "errored",
            JobStatus::TimedOut => "timed_out",
            JobStatus::Cancelled => "cancelled",
        }
    }
}

/// The outcome of one CI job run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobOutcome<'a> {
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

    #[serde(borrow)]
    pub job_id: Cow<'a, str>,
    /// 1-based number of this run of the job (re-runs increase it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_attempt: Option<u32>,
    #[serde(borrow)]
    pub project: Cow<'a, str>,
    /// e.g. `container_build`, `yocto_build`, `test`.
    #[serde(borrow)]
    pub job_kind: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<Timestamp>,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal number that ended the job's process, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// e.g. `setup`, `checkout`, `fetch`, `build`, `test`, `upload`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<Cow<'a, str>>,
    /// What the runner itself knows, e.g. `worker_lost`, `oom_killed`, `log_upload_failed`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub runner_reason: Option<Cow<'a, str>>,
    /// The last lines of the job's log, at most `MAX_LOG_TAIL_CHARS` (16,384) characters.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub log_tail: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
}

impl<'de: 'a, 'a> TypedEvent<'de> for JobOutcome<'a> {
    const EVENT_TYPE: EventType = EventType::JobOutcome;

    fn schema_version(&self) -> u32 {
        self.schema_version
    }
    fn declared_type(&self) -> EventType {
        self.event_type
    }
    /// A job outcome happens when the job finishes.
    fn event_time(&self) -> Timestamp {
        self.finished_at
    }

    fn check(&self) -> Result<(), ContractError> {
        non_empty("event_id", &self.event_id)?;
        non_empty("worker_id", &self.worker_id)?;
        non_empty("region", &self.region)?;
        non_empty("provider", &self.provider)?;
        non_empty("job_id", &self.job_id)?;
        non_empty("project", &self.project)?;
        non_empty("job_kind", &self.job_kind)?;
        if self.run_attempt == Some(0) {
            return Err(ContractError::invalid("run_attempt", "must be >= 1 (runs are 1-based)"));
        }
        if let Some(tail) = &self.log_tail
            && tail.len() > MAX_LOG_TAIL_CHARS
            && tail.chars().count() > MAX_LOG_TAIL_CHARS
        {
            return Err(ContractError::invalid(
                "log_tail",
                format!("longer than {MAX_LOG_TAIL_CHARS} characters; send only the last lines"),
            ));
        }
        Ok(())
    }
}
