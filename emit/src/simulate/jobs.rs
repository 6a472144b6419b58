//! One simulated CI job: its connects (check-in, clone, pull or cache fetch, uploads) with
//! retries, its build or test step, and a `job_outcome` consistent with what happened.

use std::borrow::Cow;

use failscope_schemas::{CURRENT_SCHEMA_VERSION, ConnectOutcome, EventType, JobOutcome, JobStatus, Timestamp};
use rand::Rng;

use super::fleet::{self, JobKind, Target};
use super::logs;
use super::network::Failure;
use super::scenario::IncidentKind;
use super::truth::{Attribution, JobTruth, incident_id};
use super::world::World;

/// Connect attempts per phase before the tool gives up.
const MAX_ATTEMPTS: u32 = 3;
const OOM_RATE: f64 = 0.003;
const DISK_FULL_RATE: f64 = 0.002;
/// Jobs whose own configuration (YAML, TOML, Dockerfile, Kconfig, local.conf) does not parse.
const CONFIG_ERROR_RATE: f64 = 0.01;
/// Jobs whose checkout a platform service answers with HTTP 5xx.
const DEPENDENCY_5XX_RATE: f64 = 0.004;

/// How a job ended, before it becomes an event.
struct Ending {
    status: JobStatus,
    exit_code: Option<i32>,
    signal: Option<i32>,
    failed_step: Option<&'static str>,
    runner_reason: Option<&'static str>,
    log_tail: String,
    attribution: Attribution,
    cause: Option<&'static str>,
    incident: Option<usize>,
}

impl World {
    pub(super) fn simulate_job(&mut self, seq: usize, kind: JobKind, queued_at: Timestamp) {
        let project = self.pick_project();
        let worker = self.pick_worker(kind, project.yocto_region, queued_at);
        let job_id = format!("{}-{}-{seq:06}", project.name, kind.as_str().replace('_', "-"));
        let started_at = queued_at.add_millis(self.rng.random_range(2_000..90_000));
        let region = self.workers[worker].region;
        let mut before: Vec<(&'static str, Target)> =
            vec![("checkin", fleet::backend("api")), ("git_clone", fleet::backend("source"))];
        match kind {
            JobKind::YoctoBuild if region.has_cache => {
                let shard = self.rng.random_range(1..=fleet::N_CACHE_SHARDS);
                before.push(("cache_fetch", fleet::cache(region, shard)));
            }
            JobKind::YoctoBuild => {}
            _ => before.push(("container_pull", fleet::backend("registry"))),
        }
        let mut t = started_at.add_millis(800);
        let mut ending = None;
        for (phase, target) in &before {
            match self.connect_with_retries(worker, target, &mut t, &job_id, phase) {
                Ok(()) => t = t.add_millis(self.rng.random_range(3_000..40_000)),
                Err((failure, waited_ms)) => {
                    ending = Some(connect_ending(phase, target, failure, waited_ms, &self.scenario));
                    break;
                }
            }
        }
        let ending = match ending {
            Some(ending) => ending,
            None => self.work_and_upload(kind, project, worker, &job_id, &mut t),
        };
        let finished_at = t;
        let w = &self.workers[worker];
        let outcome = JobOutcome {
            event_type: EventType::JobOutcome,
            schema_version: CURRENT_SCHEMA_VERSION,
            event_id: Cow::Owned(String::new()),
            worker_id: Cow::Owned(w.worker_id.clone()),
            region: Cow::Borrowed(w.region.name),
            provider: Cow::Borrowed(w.region.provider),
            zone: Some(Cow::Borrowed(w.zone)),
            job_id: Cow::Owned(job_id.clone()),
            run_attempt: Some(1),
            project: Cow::Borrowed(project.name),
            job_kind: Cow::Borrowed(kind.as_str()),
            queued_at: Some(queued_at),
            started_at,
            finished_at,
            status: ending.status,
            exit_code: ending.exit_code,
            signal: ending.signal,
            failed_step: ending.failed_step.map(Cow::Borrowed),
            runner_reason: ending.runner_reason.map(Cow::Borrowed),
            log_tail: Some(Cow::Owned(ending.log_tail)),
            labels: None,
        };
        self.truth.jobs.push(JobTruth {
            job_id,
            project: project.name,
            job_kind: kind.as_str(),
            worker_id: w.worker_id.clone(),
            region: w.region.name,
            started_at,
            finished_at,
            status: ending.status.as_str(),
            attribution: ending.attribution,
            cause: ending.cause,
            incident_id: ending.incident.map(incident_id),
        });
        let event_id = self.event_id(finished_at);
        let outcome = JobOutcome { event_id: Cow::Owned(event_id.clone()), ..outcome };
        self.push(finished_at, event_id, &outcome);
    }

    fn work_and_upload(
        &mut self,
        kind: JobKind,
        project: &'static fleet::Project,
        worker: usize,
        job_id: &str,
        t: &mut Timestamp,
    ) -> Ending {
        let (min, max) = kind.work_minutes();
        let work_ms = (self.rng.random_range(min..max) * 60_000.0) as i64;
        let region = self.workers[worker].region.name;
        let storm = self.scenario.incidents.iter().enumerate().find(|(_, i)| {
            i.kind == IncidentKind::UserErrorStorm && i.project == Some(project.name) && i.region == Some(region)
        });
        let storm_rate = storm.map_or(0.0, |(_, i)| i.intensity(*t));
        let u: f64 = self.rng.random();
        let mut ending = if u < storm_rate.max(project.user_failure_rate) {
            *t = t.add_millis((work_ms as f64 * self.rng.random_range(0.1..0.9)) as i64);
            let failure = logs::user_failure(kind, project.name, &mut self.rng);
            let mut ending = self.plain_ending(JobStatus::Failed, failure.log_tail, Attribution::User);
            ending.exit_code = Some(failure.exit_code);
            ending.failed_step = Some(failure.failed_step);
            ending.cause = Some(failure.cause);
            ending.incident = storm.filter(|_| u < storm_rate).map(|(i, _)| i);
            ending
        } else if u < storm_rate.max(project.user_failure_rate) + OOM_RATE {
            *t = t.add_millis(work_ms / 2);
            let mut ending = self.plain_ending(JobStatus::Failed, logs::oom_killed(kind), Attribution::Infra);
            (ending.signal, ending.failed_step, ending.runner_reason) = (Some(9), Some("build"), Some("oom_killed"));
            ending.cause = Some("oom_killed");
            ending
        } else if u < storm_rate.max(project.user_failure_rate) + OOM_RATE + CONFIG_ERROR_RATE {
            // The job's own configuration does not parse; the runner fails it in setup.
            *t = t.add_millis(5_000);
            let log_tail = logs::config_error(kind, &mut self.rng);
            let mut ending = self.plain_ending(JobStatus::Failed, log_tail, Attribution::User);
            (ending.exit_code, ending.failed_step, ending.cause) = (Some(1), Some("setup"), Some("config_error"));
            ending
        } else if u < storm_rate.max(project.user_failure_rate) + OOM_RATE + CONFIG_ERROR_RATE + DEPENDENCY_5XX_RATE {
            // A platform service answers the checkout with a server error.
            *t = t.add_millis(3_000);
            let mut ending = self.plain_ending(JobStatus::Failed, logs::platform_5xx(), Attribution::Infra);
            (ending.exit_code, ending.failed_step, ending.cause) =
                (Some(128), Some("checkout"), Some("dependency_5xx"));
            ending
        } else if kind == JobKind::YoctoBuild && u > 1.0 - DISK_FULL_RATE {
            *t = t.add_millis(work_ms);
            let mut ending = self.plain_ending(JobStatus::Failed, logs::disk_full(), Attribution::Infra);
            (ending.exit_code, ending.failed_step, ending.cause) = (Some(1), Some("build"), Some("disk_full"));
            ending
        } else {
            *t = t.add_millis(work_ms);
            let mut ending = self.plain_ending(JobStatus::Passed, logs::success(kind), Attribution::None);
            ending.exit_code = Some(0);
            ending
        };
        let mut after = vec![("log_upload", fleet::backend("api"))];
        if ending.status == JobStatus::Passed && kind != JobKind::Test {
            after.insert(0, ("artifact_upload", fleet::backend("artifacts")));
        }
        for (phase, target) in &after {
            if let Err((failure, waited_ms)) = self.connect_with_retries(worker, target, t, job_id, phase)
                && ending.status == JobStatus::Passed
            {
                let previous = std::mem::take(&mut ending.log_tail);
                ending = connect_ending(phase, target, failure, waited_ms, &self.scenario);
                ending.log_tail = previous + &ending.log_tail;
                break;
            }
        }
        ending
    }

    fn plain_ending(&self, status: JobStatus, log_tail: String, attribution: Attribution) -> Ending {
        Ending {
            status,
            exit_code: None,
            signal: None,
            failed_step: None,
            runner_reason: None,
            log_tail,
            attribution,
            cause: None,
            incident: None,
        }
    }

    /// Up to [`MAX_ATTEMPTS`] connects with a growing back-off; `t` moves past them. On
    /// failure, the last attempt's failure and the total time waited.
    fn connect_with_retries(
        &mut self,
        worker: usize,
        target: &Target,
        t: &mut Timestamp,
        job_id: &str,
        phase: &'static str,
    ) -> Result<(), (Failure, u64)> {
        let mut waited_ms = 0.0;
        let mut attempt = 1;
        loop {
            let (fate, duration_ms) = self.connect(worker, target, *t, Some(job_id), phase, attempt);
            *t = t.add_millis(duration_ms.ceil() as i64);
            waited_ms += duration_ms;
            match fate {
                None => return Ok(()),
                Some(failure) if attempt == MAX_ATTEMPTS => return Err((failure, waited_ms as u64)),
                Some(_) => *t = t.add_millis(2_000 * i64::from(attempt)),
            }
            attempt += 1;
        }
    }
}

/// The ending of a job whose `phase` could not connect to `target`.
fn connect_ending(
    phase: &str,
    target: &Target,
    failure: Failure,
    waited_ms: u64,
    scenario: &super::scenario::Scenario,
) -> Ending {
    let (status, exit_code, failed_step, runner_reason) = match phase {
        "checkin" => (JobStatus::Errored, None, "setup", Some("checkin_failed")),
        "git_clone" => (JobStatus::Failed, Some(128), "checkout", None),
        "container_pull" => (JobStatus::Failed, Some(1), "setup", None),
        "cache_fetch" => (JobStatus::Failed, Some(1), "fetch", None),
        "artifact_upload" => (JobStatus::Failed, Some(1), "upload", Some("artifact_upload_failed")),
        _ => (JobStatus::Errored, None, "upload", Some("log_upload_failed")),
    };
    let incident_kind = failure.incident.map(|i| scenario.incidents[i].kind);
    let cause = match (incident_kind, failure.outcome) {
        (Some(IncidentKind::BadHost), _) => "bad_host",
        (_, ConnectOutcome::Refused) => "connect_refused",
        (_, ConnectOutcome::DnsError) => "dns_failure",
        _ => "connect_timeout",
    };
    Ending {
        status,
        exit_code,
        signal: None,
        failed_step: Some(failed_step),
        runner_reason,
        log_tail: logs::connect_failure(phase, target, failure.outcome, waited_ms / u64::from(MAX_ATTEMPTS)),
        attribution: Attribution::Infra,
        cause: Some(cause),
        incident: failure.incident,
    }
}
