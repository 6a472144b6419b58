//! Scoring one scenario against its ground truth: the classification per attribution and
//! cause, and the detector per incident (detected, localized, how fast) and outside them
//! (false alarms). Pure functions of the truth and what the analysis answered.

use std::collections::{BTreeSet, HashMap};

use failscope_analyze::health::{HealthChange, Kind, Scope, Status};
use failscope_emit::simulate::{Attribution, GroundTruth, IncidentTruth};
use failscope_schemas::Timestamp;
use serde::Serialize;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
/// After an incident ends, its region may take this long to be `healthy` again (quiet, then
/// the recovery dwell with its back-off) without that counting as a false alarm.
const RECOVERY_ALLOWANCE_MS: i64 = 3 * HOUR_MS;
/// A detection later than this after the incident's end is not a detection of it.
const DETECTION_SLACK_MS: i64 = HOUR_MS;

/// One failed job as the classification saw it.
#[derive(Debug, Clone)]
pub(super) struct Classified {
    pub(crate) attribution: String,
    pub(crate) cause: String,
}

/// Counts behind the classification's scores; they add up over scenarios.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct ClassificationCounts {
    pub(crate) n_failed: u64,
    pub(crate) n_truth_infra: u64,
    pub(crate) n_truth_user: u64,
    pub(crate) n_said_infra: u64,
    pub(crate) n_said_user: u64,
    pub(crate) n_infra_right: u64,
    pub(crate) n_user_right: u64,
    pub(crate) n_unknown: u64,
    pub(crate) n_cause_right: u64,
    /// Failed jobs the classification did not list at all.
    pub(crate) n_missing: u64,
}

impl ClassificationCounts {
    pub(crate) fn add(&mut self, o: &ClassificationCounts) {
        self.n_failed += o.n_failed;
        self.n_truth_infra += o.n_truth_infra;
        self.n_truth_user += o.n_truth_user;
        self.n_said_infra += o.n_said_infra;
        self.n_said_user += o.n_said_user;
        self.n_infra_right += o.n_infra_right;
        self.n_user_right += o.n_user_right;
        self.n_unknown += o.n_unknown;
        self.n_cause_right += o.n_cause_right;
        self.n_missing += o.n_missing;
    }

    pub(crate) fn infra_precision(&self) -> f64 {
        ratio(self.n_infra_right, self.n_said_infra)
    }
    pub(crate) fn infra_recall(&self) -> f64 {
        ratio(self.n_infra_right, self.n_truth_infra)
    }
    pub(crate) fn unknown_rate(&self) -> f64 {
        if self.n_failed == 0 { 0.0 } else { self.n_unknown as f64 / self.n_failed as f64 }
    }
    pub(crate) fn cause_accuracy(&self) -> f64 {
        ratio(self.n_cause_right, self.n_failed)
    }
}

/// A ratio that is perfect when there was nothing to get right.
fn ratio(right: u64, of: u64) -> f64 {
    if of == 0 { 1.0 } else { right as f64 / of as f64 }
}

/// The classification's cause a job with the simulator's `cause` should get.
pub(super) fn expected_cause(truth_cause: &str) -> Option<&'static str> {
    Some(match truth_cause {
        "connect_timeout" | "bad_host" => "infra.network.connect_timeout",
        "connect_refused" => "infra.network.refused",
        "dns_failure" => "infra.network.dns",
        "oom_killed" => "infra.worker.oom",
        "disk_full" => "infra.worker.disk_full",
        "compile_error" | "recipe_error" => "user.build",
        "test_failure" => "user.test",
        "config_error" => "user.config",
        "dependency_5xx" => "infra.dependency",
        _ => return None,
    })
}

/// Scores the classification of every failed job of `truth`.
pub(super) fn score_classification(truth: &GroundTruth, said: &HashMap<String, Classified>) -> ClassificationCounts {
    let mut c = ClassificationCounts::default();
    for job in truth.jobs.iter().filter(|j| j.attribution != Attribution::None) {
        c.n_failed += 1;
        let is_infra = job.attribution == Attribution::Infra;
        if is_infra {
            c.n_truth_infra += 1;
        } else {
            c.n_truth_user += 1;
        }
        let Some(s) = said.get(&job.job_id) else {
            c.n_missing += 1;
            continue;
        };
        match s.attribution.as_str() {
            "infra" => {
                c.n_said_infra += 1;
                c.n_infra_right += u64::from(is_infra);
            }
            "user" => {
                c.n_said_user += 1;
                c.n_user_right += u64::from(!is_infra);
            }
            _ => c.n_unknown += 1,
        }
        if job.cause.and_then(expected_cause).is_some_and(|want| want == s.cause) {
            c.n_cause_right += 1;
        }
    }
    c
}

/// How one incident was detected.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct IncidentScore {
    pub(crate) incident_id: String,
    pub(crate) kind: &'static str,
    pub(crate) region: Option<&'static str>,
    pub(crate) target: String,
    pub(crate) starts_at: Timestamp,
    pub(crate) ends_at: Timestamp,
    /// What the detector should say, in words.
    pub(crate) expected: String,
    /// The first failed connect of the incident's region within it.
    pub(crate) first_failure_at: Option<Timestamp>,
    /// When the region had the minimum sample: `min_failures` failed connects in one window.
    pub(crate) min_sample_at: Option<Timestamp>,
    /// When the detector acted: the region `unhealthy`, the target flagged, the workers
    /// quarantined; `None` when it did not.
    pub(crate) detected_at: Option<Timestamp>,
    pub(crate) minutes_from_first_failure: Option<f64>,
    pub(crate) minutes_after_min_sample: Option<f64>,
    /// Whether the detector put the fault in the right place and steered only where it helps.
    pub(crate) localized: bool,
    pub(crate) detail: String,
}

/// The minimum sample of the detector, for the "once the minimum sample is reached" clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MinimumSample {
    pub(crate) failures: usize,
    pub(crate) window_minutes: i64,
}

/// Scores every incident of `truth` from the detector's `changes` and each region's failed
/// connects (sorted by time).
pub(super) fn score_incidents(
    truth: &GroundTruth,
    changes: &[HealthChange],
    failed_connects: &HashMap<String, Vec<Timestamp>>,
    sample: MinimumSample,
) -> Vec<IncidentScore> {
    truth.incidents.iter().map(|i| score_incident(i, &truth.incidents, changes, failed_connects, sample)).collect()
}

fn score_incident(
    incident: &IncidentTruth,
    truth_incidents: &[IncidentTruth],
    changes: &[HealthChange],
    failed_connects: &HashMap<String, Vec<Timestamp>>,
    sample: MinimumSample,
) -> IncidentScore {
    let (start, end) = (incident.starts_at, incident.ends_at);
    let during = |c: &&HealthChange| c.at >= start && c.at.as_millis() <= end.as_millis() + DETECTION_SLACK_MS;
    let steered: Vec<&HealthChange> = changes
        .iter()
        .filter(during)
        .filter(|c| c.scope == Scope::Region && c.status == Status::Unhealthy && c.kind.is_some_and(Kind::steers))
        .collect();
    let mut score = IncidentScore {
        incident_id: incident.incident_id.clone(),
        kind: incident.kind,
        region: incident.region,
        target: incident.target.clone(),
        starts_at: start,
        ends_at: end,
        expected: String::new(),
        first_failure_at: None,
        min_sample_at: None,
        detected_at: None,
        minutes_from_first_failure: None,
        minutes_after_min_sample: None,
        localized: false,
        detail: String::new(),
    };
    match (incident.kind, incident.region) {
        ("connect_timeout" | "dns_failure", Some(region)) => {
            let want: &[Kind] = match (incident.kind, incident.target.starts_with("sstate-cache")) {
                ("dns_failure", _) => &[Kind::Dns],
                (_, true) => &[Kind::RegionalDependency, Kind::RegionPath],
                _ => &[Kind::RegionPath],
            };
            score.expected = format!("{region} unhealthy, kind {}", want[0].as_str());
            let failures: Vec<Timestamp> = failed_connects
                .get(region)
                .map(|f| f.iter().copied().filter(|t| *t >= start && *t <= end).collect())
                .unwrap_or_default();
            score.first_failure_at = failures.first().copied();
            score.min_sample_at = min_sample_at(&failures, sample);
            let hit = steered.iter().find(|c| c.name == region);
            if let Some(hit) = hit {
                score.detected_at = Some(hit.at);
                score.minutes_from_first_failure = score.first_failure_at.map(|f| minutes(f, hit.at));
                score.minutes_after_min_sample = score.min_sample_at.map(|m| minutes(m.max(start), hit.at).max(0.0));
                score.localized = hit.kind.is_some_and(|k| want.contains(&k));
                score.detail = format!("{} at {}", hit.kind.map_or("?", Kind::as_str), hit.at);
            } else {
                score.detail = "the region was never unhealthy".into();
            }
            // Steering another region is wrong unless that region has an incident of its own.
            let others: BTreeSet<&str> = steered
                .iter()
                .filter(|c| c.name != region && !own_incident(truth_incidents, &c.name, c.at))
                .map(|c| c.name.as_str())
                .collect();
            if !others.is_empty() {
                score.localized = false;
                score.detail +=
                    &format!("; also steered away from {}", others.into_iter().collect::<Vec<_>>().join(", "));
            }
        }
        ("service_down", _) => {
            let target = incident.target.as_str();
            score.expected = format!("target {target} flagged, no region steered");
            let flagged = changes
                .iter()
                .filter(during)
                .find(|c| c.scope == Scope::Target && c.name == target && c.status == Status::Unhealthy);
            score.detected_at = flagged.map(|c| c.at);
            score.minutes_from_first_failure = flagged.map(|c| minutes(start, c.at));
            score.localized = flagged.is_some() && steered.is_empty();
            score.detail = steered_detail(flagged.is_some(), &steered, "target flagged");
        }
        ("bad_host", _) => {
            let want: BTreeSet<&str> = incident.workers.iter().copied().collect();
            score.expected = format!(
                "workers {} quarantined, no region steered",
                want.iter().copied().collect::<Vec<_>>().join(", ")
            );
            let quarantined: Vec<&HealthChange> = changes
                .iter()
                .filter(during)
                .filter(|c| c.scope == Scope::Worker && c.status == Status::Quarantined)
                .collect();
            let named: BTreeSet<&str> = quarantined.iter().map(|c| c.name.as_str()).collect();
            score.detected_at = quarantined.iter().filter(|c| want.contains(c.name.as_str())).map(|c| c.at).max();
            score.minutes_from_first_failure = score.detected_at.map(|d| minutes(start, d));
            score.localized = named == want && steered.is_empty();
            score.detail = format!(
                "quarantined {}; {}",
                if named.is_empty() { "none".to_string() } else { named.into_iter().collect::<Vec<_>>().join(", ") },
                steered_detail(true, &steered, "")
            );
        }
        ("user_error_storm", _) => {
            score.expected = "no infra alarm".into();
            let alarms: Vec<&HealthChange> = changes
                .iter()
                .filter(during)
                .filter(|c| c.scope == Scope::Region && c.status != Status::Healthy)
                .collect();
            score.localized = alarms.is_empty();
            score.detected_at = changes
                .iter()
                .filter(during)
                .find(|c| c.scope == Scope::Project && c.status == Status::Flagged)
                .map(|c| c.at);
            score.detail = if alarms.is_empty() {
                format!(
                    "no region alarm; storm flagged: {}",
                    score.detected_at.map_or("no".to_string(), |t| t.to_string())
                )
            } else {
                format!("{} region alarms", alarms.len())
            };
        }
        _ => {
            score.expected = "unscored kind".into();
            score.localized = true;
        }
    }
    score
}

/// Whether `region` has a region-scoped incident at `at` (or recovering from one).
fn own_incident(incidents: &[IncidentTruth], region: &str, at: Timestamp) -> bool {
    incidents.iter().any(|i| {
        matches!(i.kind, "connect_timeout" | "dns_failure")
            && i.region == Some(region)
            && at >= i.starts_at
            && at.as_millis() < i.ends_at.as_millis() + RECOVERY_ALLOWANCE_MS
    })
}

fn steered_detail(found: bool, steered: &[&HealthChange], found_text: &str) -> String {
    let mut parts = Vec::new();
    if found && !found_text.is_empty() {
        parts.push(found_text.to_string());
    } else if !found {
        parts.push("not detected".to_string());
    }
    let regions: BTreeSet<&str> = steered.iter().map(|c| c.name.as_str()).collect();
    parts.push(if regions.is_empty() {
        "no region steered".to_string()
    } else {
        format!("steered away from {}", regions.into_iter().collect::<Vec<_>>().join(", "))
    });
    parts.join("; ")
}

/// The first instant at which `failures` (sorted) hold the minimum sample within one window.
pub(super) fn min_sample_at(failures: &[Timestamp], sample: MinimumSample) -> Option<Timestamp> {
    let n = sample.failures.max(1);
    failures
        .windows(n)
        .find(|w| w[n - 1].as_millis() - w[0].as_millis() < sample.window_minutes * MINUTE_MS)
        .map(|w| w[n - 1])
}

fn minutes(from: Timestamp, to: Timestamp) -> f64 {
    (to.as_millis() - from.as_millis()) as f64 / MINUTE_MS as f64
}

/// Region-hours in which a region was not `healthy` outside the windows where it should be
/// (the incidents of that region, until `RECOVERY_ALLOWANCE_MS` after each ends).
pub(super) fn false_alarm_hours(truth: &GroundTruth, changes: &[HealthChange]) -> Vec<String> {
    let end = truth.ends_at.as_millis();
    let mut open: HashMap<&str, i64> = HashMap::new();
    let mut intervals: Vec<(&str, i64, i64)> = Vec::new();
    for c in changes.iter().filter(|c| c.scope == Scope::Region) {
        if c.status == Status::Healthy {
            if let Some(from) = open.remove(c.name.as_str()) {
                intervals.push((&c.name, from, c.at.as_millis()));
            }
        } else {
            open.entry(&c.name).or_insert(c.at.as_millis());
        }
    }
    intervals.extend(open.into_iter().map(|(name, from)| (name, from, end)));
    let allowed = |region: &str, t: i64| {
        truth.incidents.iter().any(|i| {
            matches!(i.kind, "connect_timeout" | "dns_failure")
                && i.region == Some(region)
                && t >= i.starts_at.as_millis()
                && t < i.ends_at.as_millis() + RECOVERY_ALLOWANCE_MS
        })
    };
    let mut hours = BTreeSet::new();
    for (region, from, to) in intervals {
        let mut t = from;
        while t < to.max(from + 1) {
            if !allowed(region, t) {
                hours.insert((region.to_string(), t.div_euclid(HOUR_MS) * HOUR_MS));
            }
            t += MINUTE_MS;
        }
    }
    hours.into_iter().map(|(region, hour)| format!("{region}@{}", Timestamp::from_millis(hour))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(minute: i64) -> Timestamp {
        Timestamp::from_millis(minute * MINUTE_MS)
    }

    #[test]
    fn the_minimum_sample_is_the_first_window_holding_enough_failures() {
        let sample = MinimumSample { failures: 3, window_minutes: 10 };
        let failures = [ts(0), ts(20), ts(25), ts(40), ts(41), ts(42)];
        assert_eq!(min_sample_at(&failures, sample), Some(ts(42)));
        assert_eq!(min_sample_at(&failures[..4], sample), None);
        assert_eq!(min_sample_at(&[ts(1), ts(5), ts(9)], sample), Some(ts(9)));
    }

    #[test]
    fn causes_map_to_the_classification_s_names() {
        assert_eq!(expected_cause("connect_timeout"), Some("infra.network.connect_timeout"));
        assert_eq!(expected_cause("bad_host"), Some("infra.network.connect_timeout"));
        assert_eq!(expected_cause("test_failure"), Some("user.test"));
        assert_eq!(expected_cause("no_such_cause"), None);
    }
}
