//! The simulated network: for a connect from a worker to a target at an instant, whether it
//! fails, how, and because of which incident; and how long it takes.

use failscope_schemas::ConnectOutcome;
use failscope_schemas::Timestamp;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::fleet::{Target, Worker};
use super::scenario::{IncidentKind, Scenario, TargetSel};

/// Probability that any connect times out for no reason worth an incident.
pub(super) const NOISE_TIMEOUT_RATE: f64 = 0.0015;

/// How long a job's tools wait for a TCP connect before giving up, in milliseconds.
pub(super) const CONNECT_TIMEOUT_MS: f64 = 30_000.0;

/// A connect that failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Failure {
    pub(crate) outcome: ConnectOutcome,
    /// Index of the incident that caused it; `None` for background noise.
    pub(crate) incident: Option<usize>,
}

/// The fate of one connect, drawing one number from `rng`.
pub(super) fn connect_fate(
    scenario: &Scenario,
    worker: &Worker,
    target: &Target,
    t: Timestamp,
    rng: &mut ChaCha8Rng,
) -> Option<Failure> {
    let mut worst: Option<(usize, f64)> = None;
    for (i, incident) in scenario.incidents.iter().enumerate() {
        let applies = incident.kind != IncidentKind::UserErrorStorm
            && incident.region.is_none_or(|r| r == worker.region.name)
            && (incident.workers.is_empty() || incident.workers.contains(&worker.worker_id.as_str()))
            && match incident.target {
                TargetSel::Backend => target.is_backend,
                TargetSel::Service(name) => target.is_backend && target.service == name,
                TargetSel::Cache(region) => !target.is_backend && target.region == region,
                TargetSel::Any => true,
            };
        let p = if applies { incident.intensity(t) } else { 0.0 };
        if p > 0.0 && worst.is_none_or(|(_, q)| p > q) {
            worst = Some((i, p));
        }
    }
    let u: f64 = rng.random();
    match worst {
        Some((i, p)) if u < p => Some(Failure { outcome: scenario.incidents[i].kind.outcome(), incident: Some(i) }),
        _ if u > 1.0 - NOISE_TIMEOUT_RATE => Some(Failure { outcome: ConnectOutcome::Timeout, incident: None }),
        _ => None,
    }
}

/// The errno a worker's `connect()` reports for `outcome`.
pub(super) fn errno_of(outcome: ConnectOutcome) -> Option<i32> {
    match outcome {
        ConnectOutcome::Timeout => Some(110),
        ConnectOutcome::Refused => Some(111),
        _ => None,
    }
}

/// How long a connect with `outcome` took, in milliseconds.
pub(super) fn duration_ms(
    worker: &Worker,
    target: &Target,
    outcome: Option<ConnectOutcome>,
    rng: &mut ChaCha8Rng,
) -> f64 {
    let rtt_ms = if worker.region.name == target.region {
        0.6
    } else {
        match worker.region.name {
            "us-east-2" => 31.0,
            "us-east-1" => 34.0,
            "us-west-1" => 52.0,
            "fr-par" => 108.0,
            _ => 20.0,
        }
    };
    let jitter: f64 = rng.random_range(1.0..1.6);
    let ms = match outcome {
        None | Some(ConnectOutcome::Refused) => rtt_ms * jitter,
        Some(ConnectOutcome::DnsError) => 5000.0 * jitter,
        Some(_) => CONNECT_TIMEOUT_MS,
    };
    (ms * 1000.0).round() / 1000.0
}
