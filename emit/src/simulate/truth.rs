//! The ground truth written beside the events: what really happened to each job and when
//! and where each incident was, so the analysis can be scored against it.

use failscope_schemas::Timestamp;
use serde::Serialize;

use super::scenario::Scenario;

/// The whole sidecar file.
#[derive(Debug, Clone, Serialize)]
pub struct GroundTruth {
    pub scenario: &'static str,
    pub(crate) seed: u64,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub incidents: Vec<IncidentTruth>,
    pub jobs: Vec<JobTruth>,
}

/// One incident window.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentTruth {
    pub incident_id: String,
    pub kind: &'static str,
    /// `None` when every region is affected.
    pub region: Option<&'static str>,
    pub target: String,
    pub workers: Vec<&'static str>,
    pub(crate) project: Option<&'static str>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub(crate) peak_rate: f64,
    pub description: &'static str,
}

/// Who is to blame for a job's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// The job passed.
    None,
    Infra,
    User,
}

/// What really happened to one job.
#[derive(Debug, Clone, Serialize)]
pub struct JobTruth {
    pub job_id: String,
    pub project: &'static str,
    pub job_kind: &'static str,
    pub worker_id: String,
    pub region: &'static str,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub status: &'static str,
    pub attribution: Attribution,
    /// e.g. `connect_timeout`, `connect_refused`, `dns_failure`, `oom_killed`, `compile_error`.
    pub cause: Option<&'static str>,
    pub incident_id: Option<String>,
}

pub(super) fn incident_id(index: usize) -> String {
    format!("incident-{}", index + 1)
}

impl GroundTruth {
    pub(crate) fn new(scenario: &Scenario, seed: u64) -> GroundTruth {
        let incidents = scenario
            .incidents
            .iter()
            .enumerate()
            .map(|(i, incident)| IncidentTruth {
                incident_id: incident_id(i),
                kind: incident.kind.as_str(),
                region: incident.region,
                target: incident.target.label(),
                workers: incident.workers.to_vec(),
                project: incident.project,
                starts_at: incident.starts_at(),
                ends_at: incident.ends_at(),
                peak_rate: incident.curve.iter().map(|p| p.1).fold(0.0, f64::max),
                description: incident.description,
            })
            .collect();
        GroundTruth {
            scenario: scenario.name,
            seed,
            starts_at: scenario.starts_at(),
            ends_at: scenario.ends_at(),
            incidents,
            jobs: Vec::new(),
        }
    }
}
