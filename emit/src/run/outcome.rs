//! Turns how a job ended into its `job_outcome` event and the wrapper's exit code.

use std::borrow::Cow;

use failscope_schemas::{CURRENT_SCHEMA_VERSION, EventType, JobOutcome, JobStatus, Timestamp};

use super::child::{ChildRun, Ending};
use crate::WorkerIdentity;

/// `runner_reason` of a job killed by SIGKILL or exiting 137: most often the OOM killer.
pub const OOM_REASON: &str = "oom_killed";

/// The job's facts the wrapper knows besides how it ended.
#[derive(Debug, Clone)]
pub(super) struct JobFacts {
    pub(crate) job_id: String,
    pub(crate) project: String,
    pub(crate) job_kind: String,
    pub(crate) run_attempt: Option<u32>,
    pub(crate) started_at: Timestamp,
    pub(crate) finished_at: Timestamp,
    pub(crate) log_tail: Option<String>,
}

/// The exit code the wrapper must exit with: the job's own, or 128 + the signal number
/// for a job killed by a signal, as a shell reports it.
pub(super) fn exit_code(ending: Ending) -> u8 {
    match ending {
        Ending::Exited(code) => u8::try_from(code & 0xff).expect("masked to a byte"),
        Ending::Signaled(signal) => u8::try_from((128 + signal) & 0xff).expect("masked to a byte"),
        Ending::NotStarted { exit_code } => exit_code,
    }
}

/// The `job_outcome` describing `run`.
pub(super) fn job_outcome(identity: &WorkerIdentity, facts: JobFacts, run: &ChildRun) -> JobOutcome<'static> {
    let (status, exit_code, signal, runner_reason, failed_step) = match run.ending {
        _ if run.cancelled => (JobStatus::Cancelled, None, None, Some("cancelled"), None),
        Ending::Exited(0) => (JobStatus::Passed, Some(0), None, None, None),
        Ending::Exited(137) => (JobStatus::Failed, Some(137), None, Some(OOM_REASON), None),
        Ending::Exited(code) => (JobStatus::Failed, Some(code), None, None, None),
        Ending::Signaled(9) => (JobStatus::Failed, None, Some(9), Some(OOM_REASON), None),
        Ending::Signaled(signal) => (JobStatus::Failed, None, Some(signal), Some("killed_by_signal"), None),
        Ending::NotStarted { exit_code } => {
            (JobStatus::Errored, Some(i32::from(exit_code)), None, Some("command_not_started"), Some("setup"))
        }
    };
    let (exit_code, signal) = match (run.cancelled, run.ending) {
        (true, Ending::Exited(code)) => (Some(code), None),
        (true, Ending::Signaled(signal)) => (None, Some(signal)),
        _ => (exit_code, signal),
    };
    JobOutcome {
        event_type: EventType::JobOutcome,
        schema_version: CURRENT_SCHEMA_VERSION,
        event_id: Cow::Owned(uuid::Uuid::now_v7().to_string()),
        worker_id: Cow::Owned(identity.worker_id.clone()),
        region: Cow::Owned(identity.region.clone()),
        provider: Cow::Owned(identity.provider.clone()),
        zone: identity.zone.clone().map(Cow::Owned),
        job_id: Cow::Owned(facts.job_id),
        run_attempt: facts.run_attempt,
        project: Cow::Owned(facts.project),
        job_kind: Cow::Owned(facts.job_kind),
        queued_at: None,
        started_at: facts.started_at,
        finished_at: facts.finished_at,
        status,
        exit_code,
        signal,
        failed_step: failed_step.map(Cow::Borrowed),
        runner_reason: runner_reason.map(Cow::Borrowed),
        log_tail: facts.log_tail.map(Cow::Owned),
        labels: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell() {
        let cases = [
            (Ending::Exited(0), 0),
            (Ending::Exited(1), 1),
            (Ending::Exited(3), 3),
            (Ending::Exited(137), 137),
            (Ending::Signaled(9), 137),
            (Ending::Signaled(15), 143),
            (Ending::NotStarted { exit_code: 127 }, 127),
        ];
        for (ending, want) in cases {
            assert_eq!(exit_code(ending), want, "{ending:?}");
        }
    }
}
